/* Handing built text to a caller's buffer, the convention of the API's
 * string-returning calls: the full length is always reported, the buffer
 * gets a NUL-terminated prefix of what fits. */
#ifndef LFM_OUTPUT_H
#define LFM_OUTPUT_H

#include <stddef.h>

#include "base/strbuf.h"

/* Copy b's text to buf[0..buf_size) (NUL-terminated when buf_size > 0) and
 * its full length, without the NUL, to *needed (may be NULL).  Returns
 * LFM2MOE_OK, LFM2MOE_ERR_BUFFER_TOO_SMALL if text and NUL did not fit (no
 * message recorded: the caller says what did not fit), or
 * LFM2MOE_ERR_OUT_OF_MEMORY (recorded) if building b ran out of memory. */
int lfm_output_text(const strbuf *b, char *buf, size_t buf_size, size_t *needed);

#endif
