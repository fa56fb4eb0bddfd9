/* Element types of GGUF tensors (the ggml type ids, which are part of the
 * file format) and the float conversions every kernel needs. */
#ifndef LFM_TYPES_H
#define LFM_TYPES_H

#include <stdint.h>
#include <string.h>

enum lfm_type {
    LFM_TYPE_F32 = 0,
    LFM_TYPE_F16 = 1,
    LFM_TYPE_Q4_0 = 2,
    LFM_TYPE_Q4_1 = 3,
    LFM_TYPE_Q5_0 = 6,
    LFM_TYPE_Q5_1 = 7,
    LFM_TYPE_Q8_0 = 8,
    LFM_TYPE_Q8_1 = 9,
    LFM_TYPE_Q2_K = 10,
    LFM_TYPE_Q3_K = 11,
    LFM_TYPE_Q4_K = 12,
    LFM_TYPE_Q5_K = 13,
    LFM_TYPE_Q6_K = 14,
    LFM_TYPE_Q8_K = 15,
    LFM_TYPE_IQ2_XXS = 16,
    LFM_TYPE_IQ2_XS = 17,
    LFM_TYPE_IQ3_XXS = 18,
    LFM_TYPE_IQ1_S = 19,
    LFM_TYPE_IQ4_NL = 20,
    LFM_TYPE_IQ3_S = 21,
    LFM_TYPE_IQ2_S = 22,
    LFM_TYPE_IQ4_XS = 23,
    LFM_TYPE_I8 = 24,
    LFM_TYPE_I16 = 25,
    LFM_TYPE_I32 = 26,
    LFM_TYPE_I64 = 27,
    LFM_TYPE_F64 = 28,
    LFM_TYPE_IQ1_M = 29,
    LFM_TYPE_BF16 = 30,
    LFM_TYPE_TQ1_0 = 34,
    LFM_TYPE_TQ2_0 = 35,
    LFM_TYPE_MXFP4 = 39,
    LFM_TYPE_COUNT = 40,
    /* This library's own ids, outside ggml's range: Q4_0, Q8_0, Q4_K, Q5_K
     * and Q6_K matrices in the 16-row interleaved layout (kernels/quant/r16.h), as written by
     * lfm2moe_model_quantize with LFM2MOE_QUANTIZE_REPACK.  Readers that
     * know only ggml's types refuse such files (an unknown type id). */
    LFM_TYPE_R16_FLAG = 0x4000,
    LFM_TYPE_Q4_0_R16 = LFM_TYPE_R16_FLAG | LFM_TYPE_Q4_0,
    LFM_TYPE_Q8_0_R16 = LFM_TYPE_R16_FLAG | LFM_TYPE_Q8_0,
    LFM_TYPE_Q4_K_R16 = LFM_TYPE_R16_FLAG | LFM_TYPE_Q4_K,
    LFM_TYPE_Q5_K_R16 = LFM_TYPE_R16_FLAG | LFM_TYPE_Q5_K,
    LFM_TYPE_Q6_K_R16 = LFM_TYPE_R16_FLAG | LFM_TYPE_Q6_K
};

/* 1 for the R16 ids; their element type is type & ~LFM_TYPE_R16_FLAG. */
static inline int lfm_type_is_r16(uint32_t type) {
    return type == LFM_TYPE_Q4_0_R16 || type == LFM_TYPE_Q8_0_R16 || type == LFM_TYPE_Q4_K_R16 ||
           type == LFM_TYPE_Q5_K_R16 || type == LFM_TYPE_Q6_K_R16;
}

/* Storage layout of a type: `block_size` elements take `type_size` bytes. */
typedef struct lfm_type_layout {
    const char *name; /* NULL: id unknown to the file format */
    int block_size;
    int type_size;
} lfm_type_layout;

/* Layout of a type id, or NULL if the id is not a known GGUF type. */
const lfm_type_layout *lfm_type_layout_get(uint32_t type);

/* Name for messages: the type's name, or "unknown". */
const char *lfm_type_name(uint32_t type);

/* IEEE half -> float, exact (subnormals, inf, nan included). */
static inline float lfm_fp16_to_f32(uint16_t h) {
    uint32_t sign = (uint32_t)(h & 0x8000u) << 16;
    uint32_t exp = (h >> 10) & 0x1fu;
    uint32_t man = h & 0x3ffu;
    uint32_t bits;
    if (exp == 0) {
        if (man == 0) {
            bits = sign;
        } else { /* subnormal: renormalise */
            int e = -1;
            do {
                e++;
                man <<= 1;
            } while ((man & 0x400u) == 0);
            bits = sign | ((uint32_t)(127 - 15 - e) << 23) | ((man & 0x3ffu) << 13);
        }
    } else if (exp == 0x1f) {
        bits = sign | 0x7f800000u | (man << 13);
    } else {
        bits = sign | ((exp + 127 - 15) << 23) | (man << 13);
    }
    float f;
    memcpy(&f, &bits, sizeof f);
    return f;
}

/* float -> IEEE half, round to nearest even (as ggml / F16C do). */
static inline uint16_t lfm_f32_to_fp16(float f) {
    uint32_t x;
    memcpy(&x, &f, sizeof x);
    uint32_t sign = (x >> 16) & 0x8000u;
    uint32_t absx = x & 0x7fffffffu;
    if (absx >= 0x7f800000u) /* inf or nan */
        return (uint16_t)(sign | 0x7c00u | (absx > 0x7f800000u ? 0x200u : 0));
    if (absx >= 0x477ff000u) /* rounds to >= 65520: overflow to inf */
        return (uint16_t)(sign | 0x7c00u);
    if (absx < 0x38800000u) {   /* below the smallest normal half: subnormal */
        if (absx < 0x33000000u) /* < 2^-25 rounds to zero */
            return (uint16_t)sign;
        uint32_t man = (absx & 0x7fffffu) | 0x800000u;
        int shift = 126 - (int)(absx >> 23); /* 14 + (113 - e) */
        uint32_t half = man >> shift;
        uint32_t rem = man & ((1u << shift) - 1);
        uint32_t mid = 1u << (shift - 1);
        if (rem > mid || (rem == mid && (half & 1))) half++;
        return (uint16_t)(sign | half);
    }
    uint32_t h = ((absx >> 13) - ((127u - 15u) << 10));
    uint32_t rem = absx & 0x1fffu;
    if (rem > 0x1000u || (rem == 0x1000u && (h & 1))) h++;
    return (uint16_t)(sign | h);
}

static inline float lfm_bf16_to_f32(uint16_t b) {
    uint32_t bits = (uint32_t)b << 16;
    float f;
    memcpy(&f, &bits, sizeof f);
    return f;
}

/* float -> bfloat16, round to nearest even; nan stays nan. */
static inline uint16_t lfm_f32_to_bf16(float f) {
    uint32_t x;
    memcpy(&x, &f, sizeof x);
    if ((x & 0x7fffffffu) > 0x7f800000u) return (uint16_t)((x >> 16) | 64);
    return (uint16_t)((x + (0x7fffu + ((x >> 16) & 1))) >> 16);
}

#endif
