/* Scalar reference of the attention tile (attention.h), one (token, head)
 * row at a time, for each cache type; the cache stores; and the attention
 * entries of the dispatch table. */
#include "attention.h"

#include <math.h>
#include <string.h>

#include "dispatch.h"
#include "lfm2moe.h"
#include "lfm_types.h"
#include "quant_blocks.h"

/* Q8_0 key block: the scales, then the codes (attention.h). */
static const uint16_t *q8_key_scales(const void *kc, int64_t p, int32_t D) {
    return (const uint16_t *)((const uint8_t *)kc +
                              p / LFM_ATTN_KBLK * lfm_kv_kblock_bytes(LFM_KV_Q8_0, D));
}
static const int8_t *q8_key_codes(const void *kc, int64_t p, int32_t D) {
    return (const int8_t *)(q8_key_scales(kc, p, D) + D / LFM_KV_Q8_GROUP * LFM_ATTN_KBLK);
}

/* inlined into each reference tile, where kv_type is a constant */
#define KV_INLINE static inline __attribute__((always_inline))

KV_INLINE float kv_key(int kv_type, const void *kc, int64_t p, int32_t i, int32_t D) {
    const int64_t r = p % LFM_ATTN_KBLK;
    switch (kv_type) {
    case LFM_KV_F16: return lfm_fp16_to_f32(((const uint16_t *)kc)[lfm_attn_kidx(p, i, D)]);
    case LFM_KV_Q8_0:
        return (float)q8_key_codes(kc, p, D)[i * LFM_ATTN_KBLK + r] *
               lfm_fp16_to_f32(q8_key_scales(kc, p, D)[i / LFM_KV_Q8_GROUP * LFM_ATTN_KBLK + r]);
    default: return ((const float *)kc)[lfm_attn_kidx(p, i, D)];
    }
}

KV_INLINE float kv_value(int kv_type, const void *vc, int64_t p, int32_t i, int32_t D) {
    const uint8_t *row = (const uint8_t *)vc + p * lfm_kv_vrow_bytes(kv_type, D);
    switch (kv_type) {
    case LFM_KV_F16: return lfm_fp16_to_f32(((const uint16_t *)row)[i]);
    case LFM_KV_Q8_0: {
        const block_q8_0 *b = (const block_q8_0 *)row + i / LFM_KV_Q8_GROUP;
        return (float)b->qs[i % LFM_KV_Q8_GROUP] * lfm_fp16_to_f32(b->d);
    }
    default: return ((const float *)row)[i];
    }
}

float lfm_kv_key(int kv_type, const void *kc, int64_t p, int32_t i, int32_t D) {
    return kv_key(kv_type, kc, p, i, D);
}

float lfm_kv_value(int kv_type, const void *vc, int64_t p, int32_t i, int32_t D) {
    return kv_value(kv_type, vc, p, i, D);
}

void lfm_kv_store(int kv_type, void *kc, void *vc, int64_t p, const float *key, const float *value,
                  int32_t D) {
    const int64_t r = p % LFM_ATTN_KBLK;
    uint8_t *vrow = (uint8_t *)vc + p * lfm_kv_vrow_bytes(kv_type, D);
    switch (kv_type) {
    case LFM_KV_F16:
        for (int32_t i = 0; i < D; i++) {
            ((uint16_t *)kc)[lfm_attn_kidx(p, i, D)] = lfm_f32_to_fp16(key[i]);
            ((uint16_t *)vrow)[i] = lfm_f32_to_fp16(value[i]);
        }
        break;
    case LFM_KV_Q8_0: {
        /* the activation encoder's Q8_0 blocks, the key's scattered into
         * the transposed block */
        uint16_t *scales = (uint16_t *)q8_key_scales(kc, p, D);
        int8_t *codes = (int8_t *)q8_key_codes(kc, p, D);
        for (int32_t g = 0; g < D / LFM_KV_Q8_GROUP; g++) {
            block_q8_0 b;
            lfm_act_q8_0(key + g * LFM_KV_Q8_GROUP, &b, LFM_KV_Q8_GROUP);
            scales[g * LFM_ATTN_KBLK + r] = b.d;
            for (int32_t j = 0; j < LFM_KV_Q8_GROUP; j++)
                codes[(g * LFM_KV_Q8_GROUP + j) * LFM_ATTN_KBLK + r] = b.qs[j];
        }
        lfm_act_q8_0(value, vrow, D);
        break;
    }
    default:
        for (int32_t i = 0; i < D; i++)
            ((float *)kc)[lfm_attn_kidx(p, i, D)] = key[i];
        memcpy(vrow, value, (size_t)D * sizeof(float));
        break;
    }
}

KV_INLINE void tile_ref(const lfm_attn_tile *a, int kv_type) {
    const int32_t D = a->D;
    float *sc = a->scratch; /* [pos - lo + 1] scores, then weights */
    for (int32_t t = 0; t < a->n; t++) {
        const int64_t pos = a->pos0 + t;
        /* the first position the token sees */
        const int64_t lo = a->window > 0 && pos - a->window + 1 > 0 ? pos - a->window + 1 : 0;
        for (int32_t j = 0; j < a->G; j++) {
            const float *q = a->q + t * a->q_stride + (int64_t)j * D; /* [D] */
            float *out = a->out + t * a->out_stride + (int64_t)j * D; /* [D] */
            float maxv = -INFINITY;
            for (int64_t p = lo; p <= pos; p++) {
                const int64_t slot = lfm_attn_slot(p, a->ring);
                float s = 0.0f;
                for (int32_t i = 0; i < D; i++)
                    s += q[i] * kv_key(kv_type, a->k, slot, i, D);
                s *= a->scale;
                sc[p - lo] = s;
                if (s > maxv) maxv = s;
            }
            double sum = 0.0;
            for (int64_t p = 0; p <= pos - lo; p++) {
                float e = expf(sc[p] - maxv);
                sc[p] = e;
                sum += e;
            }
            const float inv = (float)(1.0 / sum);
            for (int32_t i = 0; i < D; i++)
                out[i] = 0.0f;
            for (int64_t p = lo; p <= pos; p++) {
                const int64_t slot = lfm_attn_slot(p, a->ring);
                const float w = sc[p - lo] * inv;
                for (int32_t i = 0; i < D; i++)
                    out[i] += w * kv_value(kv_type, a->v, slot, i, D);
            }
        }
    }
}

void lfm_attention_tile(const lfm_attn_tile *a) {
    tile_ref(a, LFM_KV_F32);
}

void lfm_attention_tile_f16(const lfm_attn_tile *a) {
    tile_ref(a, LFM_KV_F16);
}

void lfm_attention_tile_q8_0(const lfm_attn_tile *a) {
    tile_ref(a, LFM_KV_Q8_0);
}

void lfm_attention_dsp_init(lfm_kernels *k, int isa) {
    switch (isa) {
    case LFM2MOE_ISA_SCALAR:
        k->attn[LFM_KV_F32] = lfm_attention_tile;
        k->attn[LFM_KV_F16] = lfm_attention_tile_f16;
        k->attn[LFM_KV_Q8_0] = lfm_attention_tile_q8_0;
        break;
#ifdef LFM_HAVE_X86_SIMD
    case LFM2MOE_ISA_AVX2: lfm_attention_tiles_avx2(k->attn); break;
    case LFM2MOE_ISA_AVX512: /* 512-bit tiles measured faster */
        lfm_attention_tiles_avx512(k->attn);
        break;
#endif
#ifdef LFM_HAVE_ARM_NEON
    case LFM2MOE_ISA_NEON: lfm_attention_tiles_neon(k->attn); break;
#endif
    default: break;
    }
}
