/* Kernel selection by instruction set.
 *
 * Every op with SIMD versions is reached through a table of function
 * pointers, one table per ISA level (the lfm2moe_isa values of the public
 * header), filled by the kernel modules (lfm_*_dsp_init below).  The SCALAR
 * table holds the C references; each higher level starts as a copy of the
 * level below and overrides the entries it accelerates, so a table is always
 * complete:
 *
 *   SCALAR -> AVX2 -> AVX512 -> AVX512_VNNI        (x86_64; AVX512 adds only
 *                                                   the element-wise ops and
 *                                                   attention: 512-bit quant
 *                                                   kernels measured slower
 *                                                   on Zen 4)
 *   SCALAR -> NEON -> NEON_DOTPROD                 (aarch64; NEON_I8MM has no
 *                                                   kernels, never available)
 *
 * The active table is the best level the CPU has (and this build compiled
 * kernels for), capped by LFM2MOE_MAX_ISA at first use or lfm_isa_set_max.
 * Tables are built once (pthread_once); switching levels is one atomic
 * pointer store, so callers read the table pointer once per operation.
 *
 * Numerics every entry must keep (tests/test_simd.c checks them):
 *   act[]  byte-identical to the scalar reference (nearest-even rounding);
 *   dot[]  integer block sums exact; only the order of the float sum over
 *          blocks (or elements, for float types) may differ;
 *   mm[]   each output equal to what dot[] gives for that row pair, up to
 *          the same reordering;
 *   attn   the scalar tile up to float summation order and a polynomial
 *          exp (kernels/gqa/attn_tile_tmpl.h states the bound);
 *   rmsnorm, silu_mul, axpy, rope_neox, shortconv: see
 *          simd_*_tmpl.h (axpy, rope, shortconv bit-identical;
 *          rmsnorm <= 1 ulp; silu_mul a few ulp). */
#ifndef LFM_DISPATCH_H
#define LFM_DISPATCH_H

#include <stddef.h>
#include <stdint.h>

#include "attention.h"
#include "lfm_types.h"

/* *out-less dot of one weight row (type t) with one encoded activation row
 * (lfm_quant_act_type(t)), n elements. */
typedef float (*lfm_dot_fn)(int64_t n, const void *w, const void *a);
/* Encode src[0..n) as an activation row of the table slot's type. */
typedef void (*lfm_act_fn)(const float *src, void *dst, int64_t n);
/* Tile product, n columns:
 *   y[t * y_stride + r] = dot(w + r * w_stride, a + t * a_stride)
 *   for r in [0, nr), t in [0, nt).
 * Lets a kernel decode a weight block once for several activation rows and
 * keep activations in registers across weight rows. */
typedef void (*lfm_mm_fn)(int64_t n, const void *w, size_t w_stride, int64_t nr, const void *a,
                          size_t a_stride, int64_t nt, float *y, int64_t y_stride);
/* The element-wise ops (signatures and contracts: elementwise.h, rope.h,
 * shortconv.h; SIMD numerics: simd_*_tmpl.h). */
typedef void (*lfm_rmsnorm_fn)(float *y, const float *x, const float *w, int64_t n, float eps);
typedef void (*lfm_silu_mul_fn)(float *out, const float *gate, const float *up, int64_t n);
typedef void (*lfm_axpy_fn)(float *y, float a, const float *x, int64_t n);
typedef void (*lfm_rope_fn)(float *x, int32_t n_heads, int32_t d, int64_t pos, float freq_base);
typedef void (*lfm_shortconv_fn)(float *y, const float *bcx, float *state, const float *w,
                                 int64_t n, int64_t C, int32_t L);

typedef struct lfm_kernels {
    int isa;                          /* the lfm2moe_isa level of this table */
    lfm_dot_fn dot[LFM_TYPE_COUNT];   /* by weight type; NULL: not computable */
    lfm_act_fn act[LFM_TYPE_COUNT];   /* by activation type */
    lfm_mm_fn mm[LFM_TYPE_COUNT];     /* by weight type; NULL: loop over dot */
    lfm_mm_fn mm_r16[LFM_TYPE_COUNT]; /* R16 layout (r16.h): scalar references at every
                                       * level, replaced where a level streams it faster */
    lfm_attn_fn attn[LFM_KV_COUNT];   /* causal attention tile by cache type (attention.h) */
    lfm_rmsnorm_fn rmsnorm;           /* element-wise ops: never NULL */
    lfm_silu_mul_fn silu_mul;
    lfm_axpy_fn axpy;
    lfm_rope_fn rope_neox;
    lfm_shortconv_fn shortconv;
} lfm_kernels;

/* The table in use (never NULL). */
const lfm_kernels *lfm_kernels_active(void);
/* The table of a level, or NULL if this CPU/build cannot run it.  For the
 * tests and benchmarks, which compare levels side by side. */
const lfm_kernels *lfm_kernels_at(int isa);

/* 1 if the table has its own (faster than the reference) R16 kernel for
 * `type`: the model loader then rewrites such matrices (lib/model/repack.c). */
int lfm_kernels_prefer_r16(const lfm_kernels *k, uint32_t type);

/* Best level this CPU has and this build has kernels for. */
int lfm_isa_detected(void);
int lfm_isa_active(void);
/* Cap the active level (see lfm2moe_isa_set_max); returns the new active
 * level, or -1 if isa is not a level. */
int lfm_isa_set_max(int isa);
/* "scalar", "avx2", ...; NULL for a value that is not a level. */
const char *lfm_isa_name(int isa);
/* Level of a name as LFM2MOE_MAX_ISA spells it (case-insensitive), or -1. */
int lfm_isa_parse(const char *name);

/* Raw CPU features (cpu.c), whatever kernels were built. */
typedef struct lfm_cpu_features {
    int avx2, fma, f16c;             /* x86 (with OS support for the ymm state) */
    int avx512f, avx512bw, avx512vl; /* with OS support for the zmm state */
    int avx512vnni, avx512bf16;
    int neon, dotprod, i8mm; /* aarch64 */
} lfm_cpu_features;
void lfm_cpu_detect(lfm_cpu_features *f);

/* Each kernel module's part of a level's table (as dav1d's *_dsp_init):
 * for isa SCALAR it sets its references (mm stays NULL: matmul loops over
 * dot); for a higher level (called only when the CPU has it, on a copy of
 * the level below) it overrides the entries that level accelerates, and
 * leaves the rest.
 *   quant.c        dot, act, mm, mm_r16
 *   elementwise.c  rmsnorm, silu_mul, axpy, rope_neox, shortconv
 *   attention.c    attn */
void lfm_quant_dsp_init(lfm_kernels *k, int isa);
void lfm_elementwise_dsp_init(lfm_kernels *k, int isa);
void lfm_attention_dsp_init(lfm_kernels *k, int isa);

#endif
