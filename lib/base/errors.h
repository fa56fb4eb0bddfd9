/* Failure reporting: every failing internal or public call records a detail
 * message in a thread-local buffer (read by lfm2moe_last_error) and returns
 * its status, so `return lfm_fail(ST, "...", ...)` is the one idiom. */
#ifndef LFM_ERRORS_H
#define LFM_ERRORS_H

#include "lfm2moe.h"

#if defined(__GNUC__) || defined(__clang__)
#define LFM_PRINTF(a, b) __attribute__((format(printf, a, b)))
#else
#define LFM_PRINTF(a, b)
#endif

/* Record the message and return `status`. */
int lfm_fail(int status, const char *fmt, ...) LFM_PRINTF(2, 3);

#endif
