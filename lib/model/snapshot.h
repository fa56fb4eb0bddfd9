/* Session snapshots (snapshot.c; format in docs/session-format.md). */
#ifndef LFM_SNAPSHOT_H
#define LFM_SNAPSHOT_H

#include <stddef.h>
#include <stdint.h>

/* A snapshot ends with this checksum of all the bytes before it (8 bytes,
 * little-endian).  Exposed so tests and the fuzzer can forge inputs that
 * pass it and reach the checks behind it. */
uint64_t lfm_snapshot_checksum(const void *data, size_t len);

#endif
