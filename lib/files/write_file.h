/* Replacing a file only when all of it was written (GGUF files, session
 * snapshots). */
#ifndef LFM_WRITE_FILE_H
#define LFM_WRITE_FILE_H

#include <stdio.h>

/* Write a file through `body` into "<path>.part" and rename it to `path` only
 * if everything succeeded (the partial file is removed otherwise), so a
 * failed or cancelled write never leaves a truncated file behind. */
int gw_write_file(const char *path, int (*body)(FILE *f, void *ctx), void *ctx);

#endif
