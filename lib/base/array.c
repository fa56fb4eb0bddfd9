#include "base/array.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

size_t lfm_grow_cap(size_t cap, size_t need, size_t elem) {
    if (!elem || need > SIZE_MAX / elem) return 0;
    size_t c = cap ? cap : 8;
    while (c < need)
        c = c > SIZE_MAX / elem / 2 ? need : 2 * c;
    return c;
}

void *lfm_realloc_array(void *p, size_t n, size_t elem) {
    if (elem && n > SIZE_MAX / elem) return NULL;
    const size_t bytes = n * elem;
    return realloc(p, bytes ? bytes : 1); /* realloc(p, 0) may free p */
}

int lfm_reserve(void *arrp, size_t *cap, size_t need, size_t elem) {
    if (need <= *cap) return 0;
    const size_t c = lfm_grow_cap(*cap, need, elem);
    if (!c) return -1;
    void *p; /* *arrp is a T*, copied as bytes: no T** to void** cast */
    memcpy(&p, arrp, sizeof p);
    p = lfm_realloc_array(p, c, elem);
    if (!p) return -1;
    memcpy(arrp, &p, sizeof p);
    *cap = c;
    return 0;
}
