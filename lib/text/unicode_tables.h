/* Codepoint classes for the tokenizer's pre-tokenizer split, generated into
 * unicode_tables.c by tools/gen_unicode_tables.py.  Range i covers
 * [lfm_uc_range_start[i], lfm_uc_range_start[i+1]) (the last one runs to
 * U+10FFFF) and has class lfm_uc_range_class[i]. */
#ifndef LFM_UNICODE_TABLES_H
#define LFM_UNICODE_TABLES_H

#include <stddef.h>
#include <stdint.h>

enum {
    LFM_UC_OTHER = 0,  /* anything else, unassigned codepoints included */
    LFM_UC_LETTER = 1, /* \p{L} */
    LFM_UC_NUMBER = 2, /* \p{N} */
    LFM_UC_SPACE = 3   /* White_Space, \s */
};

extern const size_t lfm_uc_n_ranges;
extern const uint32_t lfm_uc_range_start[];
extern const uint8_t lfm_uc_range_class[];

#endif
