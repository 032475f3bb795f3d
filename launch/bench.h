// Benchmarks behind `vidsparse bench`. Each prints the formula of every figure it reports.
#pragma once

int vs_bench_attention(int argc, char **argv);  // launch/bench_attention.c
int vs_bench_comm(int argc, char **argv);       // launch/bench_comm.c
int vs_bench_step(int argc, char **argv);       // launch/bench_step.c
int vs_bench_decode(int argc, char **argv);     // launch/bench_decode.c
