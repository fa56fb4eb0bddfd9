/* Per-type dispatch, the scalar reference of the float weight types, and
 * the quant entries of the dispatch table (lfm_quant_dsp_init).  The
 * quantized block formats live in quant_legacy.c (32-element blocks) and
 * quant_k.c (256-element k-quants). */
#include "quant.h"

#include "dispatch.h"
#include "lfm2moe.h"
#include "quant_blocks.h"
#include "r16.h"

/* One row of routines per computable weight type. */
typedef struct quant_ops {
    uint32_t act_type; /* encoding of the activations its dot product reads */
    void (*dequant)(const void *src, float *dst, int64_t n);
    void (*quant)(const float *src, void *dst, int64_t n); /* NULL: none */
} quant_ops; /* the dot products are the dispatch table's (fill_scalar below) */

/* Activation formats, as llama.cpp's CPU backend pairs them (its
 * vec_dot_type): the 32-element types with Q8_0 blocks of the same size,
 * the offset types (Q4_1, Q5_1) with Q8_1, which carries the block sum their
 * offset needs, and the k-quants with Q8_K super-blocks, whose per-16 sums
 * serve their mins.  The inner loops are then integer multiply-adds giving
 * the reference engine's numbers, not float products. */
static const quant_ops *ops_of(uint32_t type) {
    static const quant_ops q4_0 = {LFM_TYPE_Q8_0, lfm_dequant_q4_0, lfm_quant_q4_0};
    static const quant_ops q4_1 = {LFM_TYPE_Q8_1, lfm_dequant_q4_1, lfm_quant_q4_1};
    static const quant_ops q5_0 = {LFM_TYPE_Q8_0, lfm_dequant_q5_0, lfm_quant_q5_0};
    static const quant_ops q5_1 = {LFM_TYPE_Q8_1, lfm_dequant_q5_1, lfm_quant_q5_1};
    static const quant_ops q8_0 = {LFM_TYPE_Q8_0, lfm_dequant_q8_0, lfm_quant_q8_0};
    static const quant_ops q2_k = {LFM_TYPE_Q8_K, lfm_dequant_q2_K, lfm_quant_q2_K};
    static const quant_ops q3_k = {LFM_TYPE_Q8_K, lfm_dequant_q3_K, lfm_quant_q3_K};
    static const quant_ops q4_k = {LFM_TYPE_Q8_K, lfm_dequant_q4_K, lfm_quant_q4_K};
    static const quant_ops q5_k = {LFM_TYPE_Q8_K, lfm_dequant_q5_K, lfm_quant_q5_K};
    static const quant_ops q6_k = {LFM_TYPE_Q8_K, lfm_dequant_q6_K, lfm_quant_q6_K};
    switch (type) {
    case LFM_TYPE_Q4_0: return &q4_0;
    case LFM_TYPE_Q4_1: return &q4_1;
    case LFM_TYPE_Q5_0: return &q5_0;
    case LFM_TYPE_Q5_1: return &q5_1;
    case LFM_TYPE_Q8_0: return &q8_0;
    case LFM_TYPE_Q2_K: return &q2_k;
    case LFM_TYPE_Q3_K: return &q3_k;
    case LFM_TYPE_Q4_K: return &q4_k;
    case LFM_TYPE_Q5_K: return &q5_k;
    case LFM_TYPE_Q6_K: return &q6_k;
    default: return NULL;
    }
}

/* Q8_1 and Q8_K are activation encodings only (never tensor types in
 * GGUF files), and IQ*, TQ*, MXFP4 are not implemented: all unsupported. */
int lfm_quant_supported(uint32_t type) {
    switch (type) {
    case LFM_TYPE_F32:
    case LFM_TYPE_F16:
    case LFM_TYPE_BF16: return 1;
    default: return ops_of(type) != NULL;
    }
}

uint32_t lfm_quant_act_type(uint32_t wtype) {
    const quant_ops *ops = ops_of(wtype);
    if (ops) return ops->act_type;
    switch (wtype) {
    case LFM_TYPE_F16: return LFM_TYPE_F16;
    case LFM_TYPE_BF16: return LFM_TYPE_BF16;
    default: return LFM_TYPE_F32;
    }
}

size_t lfm_row_bytes(uint32_t type, int64_t n) {
    const lfm_type_layout *l = lfm_type_layout_get(type);
    if (!l) return 0;
    return (size_t)(n / l->block_size) * (size_t)l->type_size;
}

void lfm_dequantize_row(uint32_t type, const void *src, float *dst, int64_t n) {
    const quant_ops *ops = ops_of(type);
    if (ops) {
        ops->dequant(src, dst, n);
        return;
    }
    switch (type) {
    case LFM_TYPE_F32: memcpy(dst, src, (size_t)n * sizeof(float)); break;
    case LFM_TYPE_F16: {
        const uint16_t *s = src;
        for (int64_t i = 0; i < n; i++)
            dst[i] = lfm_fp16_to_f32(s[i]);
        break;
    }
    case LFM_TYPE_BF16: {
        const uint16_t *s = src;
        for (int64_t i = 0; i < n; i++)
            dst[i] = lfm_bf16_to_f32(s[i]);
        break;
    }
    /* activation encodings, decoded for tests and debugging */
    case LFM_TYPE_Q8_1: lfm_dequant_q8_1(src, dst, n); break;
    case LFM_TYPE_Q8_K: lfm_dequant_q8_K(src, dst, n); break;
    default: break;
    }
}

/* Scalar references of the float activation encodings (dispatch table
 * entries of the SCALAR level). */
void lfm_act_f32(const float *src, void *dst, int64_t n) {
    memcpy(dst, src, (size_t)n * sizeof(float));
}

void lfm_act_f16(const float *src, void *dst, int64_t n) {
    uint16_t *d = dst;
    for (int64_t i = 0; i < n; i++)
        d[i] = lfm_f32_to_fp16(src[i]);
}

void lfm_act_bf16(const float *src, void *dst, int64_t n) {
    uint16_t *d = dst;
    for (int64_t i = 0; i < n; i++)
        d[i] = lfm_f32_to_bf16(src[i]);
}

/* Through the active ISA level's table (kernels/dispatch). */
void lfm_quantize_act_row(uint32_t act_type, const float *src, void *dst, int64_t n) {
    if (act_type >= LFM_TYPE_COUNT) return;
    lfm_act_fn f = lfm_kernels_active()->act[act_type];
    if (f) f(src, dst, n);
}

/* Float types: a plain float sum in element order.  The reference engine's
 * SIMD sums in another order; the difference is far inside the golden
 * tolerances and SIMD versions may reorder freely. */
float lfm_dot_f32(int64_t n, const void *w, const void *a) {
    const float *x = w, *y = a;
    float sum = 0.0f;
    for (int64_t i = 0; i < n; i++)
        sum += x[i] * y[i];
    return sum;
}

float lfm_dot_f16(int64_t n, const void *w, const void *a) {
    const uint16_t *x = w, *y = a;
    float sum = 0.0f;
    for (int64_t i = 0; i < n; i++)
        sum += lfm_fp16_to_f32(x[i]) * lfm_fp16_to_f32(y[i]);
    return sum;
}

float lfm_dot_bf16(int64_t n, const void *w, const void *a) {
    const uint16_t *x = w, *y = a;
    float sum = 0.0f;
    for (int64_t i = 0; i < n; i++)
        sum += lfm_bf16_to_f32(x[i]) * lfm_bf16_to_f32(y[i]);
    return sum;
}

/* Through the active ISA level's table (kernels/dispatch). */
void lfm_vec_dot(uint32_t wtype, int64_t n, const void *w, const void *a, float *out) {
    lfm_dot_fn f = wtype < LFM_TYPE_COUNT ? lfm_kernels_active()->dot[wtype] : NULL;
    *out = f ? f(n, w, a) : 0.0f;
}

int lfm_quant_can_quantize(uint32_t type) {
    const quant_ops *ops = ops_of(type);
    if (ops) return ops->quant != NULL;
    return type == LFM_TYPE_F32 || type == LFM_TYPE_F16 || type == LFM_TYPE_BF16;
}

void lfm_quantize_row(uint32_t type, const float *src, void *dst, int64_t n) {
    const quant_ops *ops = ops_of(type);
    if (ops) {
        if (ops->quant) ops->quant(src, dst, n);
        return;
    }
    switch (type) {
    case LFM_TYPE_F32:
    case LFM_TYPE_F16:
    case LFM_TYPE_BF16:
        /* the float types store exactly what their activations do */
        lfm_quantize_act_row(type, src, dst, n);
        break;
    default: break;
    }
}

/* The SCALAR level's references; the SIMD levels' own files override. */
static void fill_scalar(lfm_kernels *k) {
    k->dot[LFM_TYPE_F32] = lfm_dot_f32;
    k->dot[LFM_TYPE_F16] = lfm_dot_f16;
    k->dot[LFM_TYPE_BF16] = lfm_dot_bf16;
    k->dot[LFM_TYPE_Q4_0] = lfm_dot_q4_0;
    k->dot[LFM_TYPE_Q4_1] = lfm_dot_q4_1;
    k->dot[LFM_TYPE_Q5_0] = lfm_dot_q5_0;
    k->dot[LFM_TYPE_Q5_1] = lfm_dot_q5_1;
    k->dot[LFM_TYPE_Q8_0] = lfm_dot_q8_0;
    k->dot[LFM_TYPE_Q2_K] = lfm_dot_q2_K;
    k->dot[LFM_TYPE_Q3_K] = lfm_dot_q3_K;
    k->dot[LFM_TYPE_Q4_K] = lfm_dot_q4_K;
    k->dot[LFM_TYPE_Q5_K] = lfm_dot_q5_K;
    k->dot[LFM_TYPE_Q6_K] = lfm_dot_q6_K;
    k->mm_r16[LFM_TYPE_Q4_0] = lfm_mm_r16_q4_0_ref;
    k->mm_r16[LFM_TYPE_Q8_0] = lfm_mm_r16_q8_0_ref;
    k->mm_r16[LFM_TYPE_Q4_K] = lfm_mm_r16_q4_K_ref;
    k->mm_r16[LFM_TYPE_Q5_K] = lfm_mm_r16_q5_K_ref;
    k->mm_r16[LFM_TYPE_Q6_K] = lfm_mm_r16_q6_K_ref;
    k->act[LFM_TYPE_F32] = lfm_act_f32;
    k->act[LFM_TYPE_F16] = lfm_act_f16;
    k->act[LFM_TYPE_BF16] = lfm_act_bf16;
    k->act[LFM_TYPE_Q8_0] = lfm_act_q8_0;
    k->act[LFM_TYPE_Q8_1] = lfm_act_q8_1;
    k->act[LFM_TYPE_Q8_K] = lfm_act_q8_K;
}

void lfm_quant_dsp_init(lfm_kernels *k, int isa) {
    switch (isa) {
    case LFM2MOE_ISA_SCALAR: fill_scalar(k); break;
#ifdef LFM_HAVE_X86_SIMD
    case LFM2MOE_ISA_AVX2: lfm_quant_fill_avx2(k); break;
    /* LFM2MOE_ISA_AVX512 keeps the AVX2 kernels: see x86_avx512_vnni.c */
    case LFM2MOE_ISA_AVX512_VNNI: lfm_quant_fill_avx512_vnni(k); break;
#endif
#ifdef LFM_HAVE_ARM_NEON
    case LFM2MOE_ISA_NEON: lfm_quant_fill_neon(k); break;
    case LFM2MOE_ISA_NEON_DOTPROD: lfm_quant_fill_neon_dotprod(k); break;
#endif
    default: break;
    }
}
