// Benchmarks behind `vidsparse bench`. Each prints the formula of every figure it reports.
#pragma once

int vs_bench_attention(int argc, char **argv);  // launch/bench_attention.c
