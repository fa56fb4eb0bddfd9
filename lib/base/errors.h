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
/* lfm_fail(LFM2MOE_ERR_INVALID_ARGUMENT, "<fn>: <fmt>", ...) */
int lfm_fail_arg(const char *fn, const char *fmt, ...) LFM_PRINTF(2, 3);

/* Argument checks at the top of a function: unless `cond` holds, return
 * LFM2MOE_ERR_INVALID_ARGUMENT with the message "<function>: <fmt>".  The
 * _IN form names the function explicitly (a helper checking for its
 * caller); LFM_CHECK_ARGS is the plain "NULL argument" case. */
#define LFM_CHECK_ARG_IN(fn, cond, ...)                                                            \
    do {                                                                                           \
        if (!(cond)) return lfm_fail_arg((fn), __VA_ARGS__);                                       \
    } while (0)
#define LFM_CHECK_ARG(cond, ...) LFM_CHECK_ARG_IN(__func__, cond, __VA_ARGS__)
#define LFM_CHECK_ARGS(cond) LFM_CHECK_ARG(cond, "NULL argument")

#endif
