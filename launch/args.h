// Parsing of command-line values shared by the subcommands. Each returns 0, or -1 when the text is
// not a complete, in-range value (the caller prints the message that names the option).
#pragma once
#include <stddef.h>

int vs_arg_int(const char *s, long lo, long hi, int *out);  // decimal integer in [lo, hi]
int vs_arg_double(const char *s, double *out);                // finite number
int vs_arg_size(const char *s, int *width, int *height);      // "832x480" or "832*480"
int vs_is_file(const char *path);                             // 1: a regular file
int vs_is_dir(const char *path);                              // 1: a directory
