/* Growing arrays: the capacity doubles (from 8) and every size is checked
 * for overflow, so `if (LFM_RESERVE(a, cap, n + 1)) return OOM;` is the
 * one idiom for "room for one more".  Arrays growing side by side with one
 * capacity use lfm_grow_cap once and lfm_realloc_array for each. */
#ifndef LFM_ARRAY_H
#define LFM_ARRAY_H

#include <stddef.h>

/* The capacity to grow `cap` to so that it holds `need` (> cap) elements of
 * `elem` bytes: doubled until it does; 0 if that many bytes cannot be
 * addressed. */
size_t lfm_grow_cap(size_t cap, size_t need, size_t elem);

/* realloc(p, n * elem), NULL on overflow or failure (p is then untouched). */
void *lfm_realloc_array(void *p, size_t n, size_t elem);

/* Room for `need` elements in the array *arrp (a pointer variable of any
 * object type) holding *cap.  0, or -1 with *arrp and *cap unchanged. */
int lfm_reserve(void *arrp, size_t *cap, size_t need, size_t elem);
#define LFM_RESERVE(arr, cap, need) lfm_reserve(&(arr), &(cap), (need), sizeof *(arr))

#endif
