// The subcommands of `vidsparse`. Each lives in its own launch/cmd_*.c file, parses its own
// arguments (checking them all before any long work) and returns the process exit code.
#pragma once

typedef struct {
    const char *name;
    const char *summary;
    int (*run)(int argc, char **argv);  // argv[0] is the subcommand name
} vs_command;


int cmd_generate(int argc, char **argv);  // launch/cmd_generate.c
int cmd_decode(int argc, char **argv);    // launch/cmd_decode.c
int vs_cmd_bench(int argc, char **argv);  // launch/cmd_bench.c
