#include "base/output.h"

#include <string.h>

#include "base/errors.h"

int lfm_output_text(const strbuf *b, char *buf, size_t buf_size, size_t *needed) {
    if (b->oom) return lfm_fail(LFM2MOE_ERR_OUT_OF_MEMORY, "out of memory building text");
    if (needed) *needed = b->len;
    if (buf_size) {
        size_t k = b->len < buf_size - 1 ? b->len : buf_size - 1;
        if (k) memcpy(buf, b->data, k);
        buf[k] = '\0';
    }
    return b->len < buf_size ? LFM2MOE_OK : LFM2MOE_ERR_BUFFER_TOO_SMALL;
}
