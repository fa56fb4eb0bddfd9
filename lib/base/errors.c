#include "base/errors.h"

#include <stdarg.h>
#include <stdio.h>

static _Thread_local char last_error[512];

int lfm_fail(int status, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(last_error, sizeof last_error, fmt, ap);
    va_end(ap);
    return status;
}

int lfm_fail_arg(const char *fn, const char *fmt, ...) {
    int k = snprintf(last_error, sizeof last_error, "%s: ", fn);
    if (k >= 0 && (size_t)k < sizeof last_error) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(last_error + k, sizeof last_error - (size_t)k, fmt, ap);
        va_end(ap);
    }
    return LFM2MOE_ERR_INVALID_ARGUMENT;
}

LFM2MOE_API const char *lfm2moe_last_error(void) {
    return last_error;
}

LFM2MOE_API const char *lfm2moe_status_string(int status) {
    switch (status) {
    case LFM2MOE_OK: return "ok";
    case LFM2MOE_ERR_INVALID_ARGUMENT: return "invalid argument";
    case LFM2MOE_ERR_OUT_OF_MEMORY: return "out of memory";
    case LFM2MOE_ERR_IO: return "input/output error";
    case LFM2MOE_ERR_BAD_FORMAT: return "malformed GGUF file";
    case LFM2MOE_ERR_UNSUPPORTED_ARCH: return "unsupported model architecture";
    case LFM2MOE_ERR_UNSUPPORTED_TYPE: return "unsupported tensor type";
    case LFM2MOE_ERR_BAD_MODEL: return "invalid model";
    case LFM2MOE_ERR_CONTEXT_FULL: return "context full";
    case LFM2MOE_ERR_TOKEN_OUT_OF_RANGE: return "token id out of range";
    case LFM2MOE_ERR_BUFFER_TOO_SMALL: return "buffer too small";
    case LFM2MOE_ERR_NOT_FOUND: return "not found";
    case LFM2MOE_ERR_CANCELLED: return "cancelled";
    case LFM2MOE_ERR_UNSUPPORTED_TEMPLATE: return "unsupported chat template";
    case LFM2MOE_ERR_PARSE: return "parse error";
    case LFM2MOE_ERR_LIMIT: return "resource limit exceeded";
    case LFM2MOE_ERR_INTERNAL: return "internal error";
    default: return "unknown status";
    }
}

LFM2MOE_API unsigned lfm2moe_version(void) {
    return LFM2MOE_VERSION_NUMBER;
}

#define LFM_STR2(x) #x
#define LFM_STR(x) LFM_STR2(x)
LFM2MOE_API const char *lfm2moe_version_string(void) {
    return LFM_STR(LFM2MOE_VERSION_MAJOR) "." LFM_STR(LFM2MOE_VERSION_MINOR) "." LFM_STR(
        LFM2MOE_VERSION_PATCH);
}
