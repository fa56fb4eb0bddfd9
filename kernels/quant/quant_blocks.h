/* Block layouts of ggml's quantized types (byte for byte as in GGUF files)
 * and the per-type scalar routines behind the dispatch in quant.c.
 *
 * Internal to kernels/quant (and its tests).  A "half" is an IEEE binary16
 * stored as uint16_t, decoded with lfm_fp16_to_f32.  Every block size is
 * even and Q8_K's is a multiple of 4, so rows that start 2-byte aligned (4
 * for Q8_K) keep every field naturally aligned. */
#ifndef LFM_QUANT_BLOCKS_H
#define LFM_QUANT_BLOCKS_H

#include <stdint.h>
#include <string.h>

#include "lfm_types.h"

#define QK_LEGACY 32 /* elements per block of Q4_0 .. Q8_1 */
#define QK_K 256     /* elements per super-block of the k-quants */

/* ---- legacy 32-element blocks ----------------------------------------- */

/* x = d * (q - 8), q 4-bit: element j in the low nibble of qs[j],
 * element j+16 in the high nibble. */
typedef struct {
    uint16_t d;
    uint8_t qs[QK_LEGACY / 2];
} block_q4_0;

/* x = d * q + m, q 4-bit, nibbles as Q4_0. */
typedef struct {
    uint16_t d;
    uint16_t m;
    uint8_t qs[QK_LEGACY / 2];
} block_q4_1;

/* x = d * (q - 16), q 5-bit: low 4 bits as Q4_0, bit 4 of element j is bit
 * j of the little-endian u32 qh. */
typedef struct {
    uint16_t d;
    uint8_t qh[4];
    uint8_t qs[QK_LEGACY / 2];
} block_q5_0;

/* x = d * q + m, q 5-bit packed as Q5_0. */
typedef struct {
    uint16_t d;
    uint16_t m;
    uint8_t qh[4];
    uint8_t qs[QK_LEGACY / 2];
} block_q5_1;

/* x = d * q, q int8. */
typedef struct {
    uint16_t d;
    int8_t qs[QK_LEGACY];
} block_q8_0;

/* Q8_0 plus s = d * sum(qs) (as a half), the term Q4_1/Q5_1 dot products
 * need for their offset m. */
typedef struct {
    uint16_t d;
    uint16_t s;
    int8_t qs[QK_LEGACY];
} block_q8_1;

/* ---- k-quants: 256-element super-blocks -------------------------------- */

/* 16 sub-blocks of 16: x = d*(sc&15)*q - dmin*(sc>>4), q 2-bit.
 * qs: in each 128-element half, byte l (0..31) holds elements l, l+32, l+64,
 * l+96 in bits 0-1, 2-3, 4-5, 6-7. */
typedef struct {
    uint8_t scales[QK_K / 16];
    uint8_t qs[QK_K / 4];
    uint16_t d;
    uint16_t dmin;
} block_q2_K;

/* 16 sub-blocks of 16: x = d*(s-32)*(q-4), s 6-bit (12-byte packing, see
 * q3k_unpack_scales), q 3-bit: low 2 bits packed as Q2_K, high bit of element
 * i in hmask[i % 32] bit (i / 32); the stored bit set means "no -4". */
typedef struct {
    uint8_t hmask[QK_K / 8];
    uint8_t qs[QK_K / 4];
    uint8_t scales[12];
    uint16_t d;
} block_q3_K;

/* 8 sub-blocks of 32: x = d*sc*q - dmin*m, sc and m 6-bit (get_scale_min_k4),
 * q 4-bit: in each 64-element chunk, byte l (0..31) holds element l in the
 * low nibble and element l+32 in the high nibble. */
typedef struct {
    uint16_t d;
    uint16_t dmin;
    uint8_t scales[12];
    uint8_t qs[QK_K / 2];
} block_q4_K;

/* Q4_K plus a high bit per element: element 64c + l (l < 32) has its bit 4 in
 * qh[l] bit 2c, element 64c + 32 + l in qh[l] bit 2c+1. */
typedef struct {
    uint16_t d;
    uint16_t dmin;
    uint8_t scales[12];
    uint8_t qh[QK_K / 8];
    uint8_t qs[QK_K / 2];
} block_q5_K;

/* 16 sub-blocks of 16: x = d*scales[s]*(q-32), q 6-bit.  In each 128-element
 * half: ql[l] low nibble = element l, ql[l+32] low = l+32, ql[l] high = l+64,
 * ql[l+32] high = l+96 (l < 32); qh[l] bits 0-1,2-3,4-5,6-7 are the top two
 * bits of elements l, l+32, l+64, l+96. */
typedef struct {
    uint8_t ql[QK_K / 2];
    uint8_t qh[QK_K / 4];
    int8_t scales[QK_K / 16];
    uint16_t d;
} block_q6_K;

/* Activations of the k-quant dot products: x = d*q, plus the sums of each
 * 16 consecutive q (the k-quant mins multiply them). */
typedef struct {
    float d;
    int8_t qs[QK_K];
    int16_t bsums[QK_K / 16];
} block_q8_K;

_Static_assert(sizeof(block_q4_0) == 18, "Q4_0 block");
_Static_assert(sizeof(block_q4_1) == 20, "Q4_1 block");
_Static_assert(sizeof(block_q5_0) == 22, "Q5_0 block");
_Static_assert(sizeof(block_q5_1) == 24, "Q5_1 block");
_Static_assert(sizeof(block_q8_0) == 34, "Q8_0 block");
_Static_assert(sizeof(block_q8_1) == 36, "Q8_1 block");
_Static_assert(sizeof(block_q2_K) == 84, "Q2_K block");
_Static_assert(sizeof(block_q3_K) == 110, "Q3_K block");
_Static_assert(sizeof(block_q4_K) == 144, "Q4_K block");
_Static_assert(sizeof(block_q5_K) == 176, "Q5_K block");
_Static_assert(sizeof(block_q6_K) == 210, "Q6_K block");
_Static_assert(sizeof(block_q8_K) == 292, "Q8_K block");

/* ---- shared helpers ---------------------------------------------------- */

/* Round to nearest, ties to even, for |f| < 2^22, exactly as ggml's
 * nearest_int: adding 1.5*2^23 leaves the rounded integer in the low mantissa
 * bits.  Used by every k-quant (and Q8_K) rounding so ties go the same way. */
static inline int lfm_nearest_int(float f) {
    float v = f + 12582912.f;
    int32_t i;
    memcpy(&i, &v, sizeof i);
    return (i & 0x007fffff) - 0x00400000;
}

/* 6-bit scale and min of sub-block j (0..7) of Q4_K/Q5_K: sub-blocks 0-3 keep
 * theirs in the low 6 bits of bytes j (scale) and j+4 (min); sub-blocks 4-7
 * keep their low 4 bits in byte j+4 and their top 2 bits in the top bits of
 * bytes j-4 (scale) and j (min). */
static inline void lfm_scale_min_k4(int j, const uint8_t *q, uint8_t *sc, uint8_t *m) {
    if (j < 4) {
        *sc = q[j] & 63;
        *m = q[j + 4] & 63;
    } else {
        *sc = (uint8_t)((q[j + 4] & 0xF) | ((q[j - 4] >> 6) << 4));
        *m = (uint8_t)((q[j + 4] >> 4) | ((q[j] >> 6) << 4));
    }
}

/* All 8 scales and mins of a Q4_K/Q5_K block at once, the bytes
 * lfm_scale_min_k4 gives, four to a word: sc[0] holds sub-blocks 0-3,
 * sc[1] 4-7 (little-endian byte order), mn likewise.  Shared by the SIMD
 * decoders of every ISA. */
static inline void lfm_scale_min_k4_x8(const uint8_t *scales, uint32_t sc[2], uint32_t mn[2]) {
    uint32_t u[3];
    memcpy(u, scales, 12);
    const uint32_t m6 = 0x3f3f3f3f, m4 = 0x0f0f0f0f, m2 = 0x03030303;
    sc[0] = u[0] & m6;
    sc[1] = (u[2] & m4) | (((u[0] >> 6) & m2) << 4);
    mn[0] = u[1] & m6;
    mn[1] = ((u[2] >> 4) & m4) | (((u[1] >> 6) & m2) << 4);
}

/* The 16 signed 6-bit scales (still offset by 32) of a Q3_K block: bytes 0-7
 * hold the low nibbles (sub-blocks 0-7 low, 8-15 high nibble), bytes 8-11
 * the top 2 bits (sub-block j at byte 8 + j%4, bits 2*(j/4)). */
static inline void lfm_q3k_scales(const uint8_t *s, int out[16]) {
    for (int j = 0; j < 16; j++) {
        int lo = j < 8 ? (s[j] & 0xF) : (s[j - 8] >> 4);
        int hi = (s[8 + j % 4] >> (2 * (j / 4))) & 3;
        out[j] = (lo | (hi << 4)) - 32;
    }
}

/* Exact integer block sums of a weight block with a Q8_0 activation block:
 * the inner loops of the scalar dots. */
static inline int lfm_isum_q4_0(const block_q4_0 *x, const block_q8_0 *y) {
    int isum = 0;
    for (int j = 0; j < QK_LEGACY / 2; j++) {
        isum += ((x->qs[j] & 0xF) - 8) * y->qs[j];
        isum += ((x->qs[j] >> 4) - 8) * y->qs[j + QK_LEGACY / 2];
    }
    return isum;
}

static inline int lfm_isum_q8_0(const block_q8_0 *x, const block_q8_0 *y) {
    int isum = 0;
    for (int j = 0; j < QK_LEGACY; j++)
        isum += x->qs[j] * y->qs[j];
    return isum;
}

/* ---- per-type routines (n a multiple of the block size) ---------------- */

/* quant.c: the float types (scalar references) */
void lfm_act_f32(const float *src, void *dst, int64_t n);
void lfm_act_f16(const float *src, void *dst, int64_t n);
void lfm_act_bf16(const float *src, void *dst, int64_t n);
float lfm_dot_f32(int64_t n, const void *w, const void *a);
float lfm_dot_f16(int64_t n, const void *w, const void *a);
float lfm_dot_bf16(int64_t n, const void *w, const void *a);

/* quant_legacy.c */
void lfm_dequant_q4_0(const void *src, float *dst, int64_t n);
void lfm_dequant_q4_1(const void *src, float *dst, int64_t n);
void lfm_dequant_q5_0(const void *src, float *dst, int64_t n);
void lfm_dequant_q5_1(const void *src, float *dst, int64_t n);
void lfm_dequant_q8_0(const void *src, float *dst, int64_t n);
void lfm_dequant_q8_1(const void *src, float *dst, int64_t n);

void lfm_quant_q4_0(const float *src, void *dst, int64_t n);
void lfm_quant_q4_1(const float *src, void *dst, int64_t n);
void lfm_quant_q5_0(const float *src, void *dst, int64_t n);
void lfm_quant_q5_1(const float *src, void *dst, int64_t n);
void lfm_quant_q8_0(const float *src, void *dst, int64_t n);

void lfm_act_q8_0(const float *src, void *dst, int64_t n);
void lfm_act_q8_1(const float *src, void *dst, int64_t n);

float lfm_dot_q4_0(int64_t n, const void *w, const void *a);
float lfm_dot_q4_1(int64_t n, const void *w, const void *a);
float lfm_dot_q5_0(int64_t n, const void *w, const void *a);
float lfm_dot_q5_1(int64_t n, const void *w, const void *a);
float lfm_dot_q8_0(int64_t n, const void *w, const void *a);

/* quant_k.c */
void lfm_dequant_q2_K(const void *src, float *dst, int64_t n);
void lfm_dequant_q3_K(const void *src, float *dst, int64_t n);
void lfm_dequant_q4_K(const void *src, float *dst, int64_t n);
void lfm_dequant_q5_K(const void *src, float *dst, int64_t n);
void lfm_dequant_q6_K(const void *src, float *dst, int64_t n);
void lfm_dequant_q8_K(const void *src, float *dst, int64_t n);

void lfm_quant_q2_K(const float *src, void *dst, int64_t n);
void lfm_quant_q3_K(const float *src, void *dst, int64_t n);
void lfm_quant_q4_K(const float *src, void *dst, int64_t n);
void lfm_quant_q5_K(const float *src, void *dst, int64_t n);
void lfm_quant_q6_K(const float *src, void *dst, int64_t n);

void lfm_act_q8_K(const float *src, void *dst, int64_t n);

float lfm_dot_q2_K(int64_t n, const void *w, const void *a);
float lfm_dot_q3_K(int64_t n, const void *w, const void *a);
float lfm_dot_q4_K(int64_t n, const void *w, const void *a);
float lfm_dot_q5_K(int64_t n, const void *w, const void *a);
float lfm_dot_q6_K(int64_t n, const void *w, const void *a);

/* ---- SIMD levels (built only for their architecture) ------------------- */

/* Override the entries a level accelerates in a table holding the level
 * below; called by lfm_quant_dsp_init (quant.c) after the CPU check. */
struct lfm_kernels;
void lfm_quant_fill_avx2(struct lfm_kernels *k);         /* x86_avx2.c */
void lfm_quant_fill_avx512_vnni(struct lfm_kernels *k);  /* x86_avx512_vnni.c */
void lfm_quant_fill_neon(struct lfm_kernels *k);         /* arm_neon.c */
void lfm_quant_fill_neon_dotprod(struct lfm_kernels *k); /* arm_dotprod.c */

#endif
