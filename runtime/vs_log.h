// Rank-aware logging: levels, rank-0-only by default, timestamps relative to start.
#pragma once
#include "runtime/vs_check.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef enum { VS_LOG_ERROR = 0, VS_LOG_WARN = 1, VS_LOG_INFO = 2, VS_LOG_DEBUG = 3 } vs_log_level;

void vs_log_set_level(vs_log_level level);
vs_log_level vs_log_get_level(void);
// Every rank logs when set (default: rank 0 only, errors and warnings from every rank).
void vs_log_set_all_ranks(int all_ranks);
void vs_log(vs_log_level level, const char *fmt, ...) VS_PRINTF(2, 3);
double vs_now_seconds(void);  // monotonic clock

#define VS_INFO(...) vs_log(VS_LOG_INFO, __VA_ARGS__)
#define VS_WARN(...) vs_log(VS_LOG_WARN, __VA_ARGS__)
#define VS_DEBUG(...) vs_log(VS_LOG_DEBUG, __VA_ARGS__)

#ifdef __cplusplus
}
#endif
