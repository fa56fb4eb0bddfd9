#include "files/write_file.h"

#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "base/errors.h"

int gw_write_file(const char *path, int (*body)(FILE *f, void *ctx), void *ctx) {
    size_t tl = strlen(path) + 8;
    char *tmp = malloc(tl);
    if (!tmp) return lfm_fail(LFM2MOE_ERR_OUT_OF_MEMORY, "out of memory");
    snprintf(tmp, tl, "%s.part", path);
    int st;
    FILE *f = fopen(tmp, "wb");
    if (!f) {
        st = lfm_fail(LFM2MOE_ERR_IO, "cannot create '%s'", tmp);
    } else {
        st = body(f, ctx);
        if (fclose(f) != 0 && !st) st = lfm_fail(LFM2MOE_ERR_IO, "cannot write '%s'", tmp);
        if (!st && rename(tmp, path) != 0)
            st = lfm_fail(LFM2MOE_ERR_IO, "cannot rename '%s' to '%s'", tmp, path);
        if (st) unlink(tmp);
    }
    free(tmp);
    return st;
}
