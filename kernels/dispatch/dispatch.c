/* The per-level kernel tables and the active-level switch (dispatch.h). */
#include "dispatch.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <strings.h>

#include "elementwise.h"
#include "quant_blocks.h"
#include "r16.h"
#include "rope.h"
#include "shortconv.h"

#define N_LEVELS 14 /* tables indexed by the lfm2moe_isa value */

static lfm_kernels tables[N_LEVELS];
static int available[N_LEVELS]; /* 1: CPU and build can run the level */
static int detected;            /* best available level */
static _Atomic(const lfm_kernels *) active;
static pthread_once_t once = PTHREAD_ONCE_INIT;

static const char *const names[N_LEVELS] = {
    [0] = "scalar", [1] = "avx2", [2] = "avx512", [3] = "avx512_vnni",
    [11] = "neon", [12] = "neon_dotprod", [13] = "neon_i8mm",
};

const char *lfm_isa_name(int isa) {
    return isa >= 0 && isa < N_LEVELS ? names[isa] : NULL;
}

int lfm_isa_parse(const char *name) {
    for (int i = 0; i < N_LEVELS; i++)
        if (names[i] && strcasecmp(name, names[i]) == 0)
            return i;
    return -1;
}

static void fill_scalar(lfm_kernels *k) {
    k->isa = 0;
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
    k->act[LFM_TYPE_F32] = lfm_act_f32;
    k->act[LFM_TYPE_F16] = lfm_act_f16;
    k->act[LFM_TYPE_BF16] = lfm_act_bf16;
    k->act[LFM_TYPE_Q8_0] = lfm_act_q8_0;
    k->act[LFM_TYPE_Q8_1] = lfm_act_q8_1;
    k->act[LFM_TYPE_Q8_K] = lfm_act_q8_K;
    k->rmsnorm = lfm_rmsnorm_ref;
    k->silu_mul = lfm_silu_mul_ref;
    k->axpy = lfm_axpy_ref;
    k->rope_neox = lfm_rope_neox_ref;
    k->shortconv = lfm_shortconv_ref;
    k->attn[LFM_KV_F32] = lfm_attention_tile;
    k->attn[LFM_KV_F16] = lfm_attention_tile_f16;
    k->attn[LFM_KV_Q8_0] = lfm_attention_tile_q8_0;
}

#ifdef LFM_HAVE_X86_SIMD
static void fill_avx2(lfm_kernels *k) {
    lfm_kernels_fill_avx2(k);
    lfm_ops_fill_avx2(k);
}
static void fill_avx512(lfm_kernels *k) {
    lfm_ops_fill_avx512(k);
    lfm_attention_tiles_avx512(k->attn); /* 512-bit tiles measured faster */
}
#endif
#ifdef LFM_HAVE_ARM_NEON
static void fill_neon(lfm_kernels *k) {
    lfm_kernels_fill_neon(k);
    lfm_ops_fill_neon(k);
}
#endif

#if defined(LFM_HAVE_X86_SIMD) || defined(LFM_HAVE_ARM_NEON)
/* Level `isa` = copy of level `below` + its own overrides (fill NULL: none). */
static void derive(int isa, int below, void (*fill)(lfm_kernels *)) {
    tables[isa] = tables[below];
    tables[isa].isa = isa;
    if (fill)
        fill(&tables[isa]);
    available[isa] = 1;
    detected = isa;
}
#endif

/* Highest available level <= cap on this machine's ladder.  A cap from the
 * other architecture's ladder is "more than the CPU has": the best level. */
static int capped(int cap) {
    int best = 0;
    for (int i = 0; i < N_LEVELS; i++)
        /* SCALAR (0) is on both ladders: a cap of 0 is always scalar */
        if (available[i] && (i <= cap || (cap != 0 && (cap < 11) != (i < 11))))
            best = i;
    return best;
}

static void init(void) {
    fill_scalar(&tables[0]);
    available[0] = 1;
    detected = 0;
    lfm_cpu_features f;
    lfm_cpu_detect(&f);
#ifdef LFM_HAVE_X86_SIMD
    if (f.avx2 && f.fma && f.f16c) {
        derive(1, 0, fill_avx2);
        if (f.avx512f && f.avx512bw && f.avx512vl) {
            /* 512-bit quant kernels measured slower than AVX2
             * (x86_avx512_vnni.c); the element-wise ops gain (ops_avx512.c) */
            derive(2, 1, fill_avx512);
            if (f.avx512vnni)
                derive(3, 2, lfm_kernels_fill_avx512_vnni);
        }
    }
#elif defined(LFM_HAVE_ARM_NEON)
    if (f.neon) {
        derive(11, 0, fill_neon);
        if (f.dotprod)
            derive(12, 11, lfm_kernels_fill_neon_dotprod);
    }
#else
    (void)f;
#endif
    int level = detected;
    const char *env = getenv("LFM2MOE_MAX_ISA");
    if (env && *env) {
        int cap = lfm_isa_parse(env);
        /* an unknown name caps nothing (the library never prints) */
        if (cap >= 0)
            level = capped(cap);
    }
    atomic_store(&active, &tables[level]);
}

static void ensure_init(void) {
    pthread_once(&once, init);
}

const lfm_kernels *lfm_kernels_active(void) {
    const lfm_kernels *k = atomic_load_explicit(&active, memory_order_acquire);
    if (k)
        return k;
    ensure_init();
    return atomic_load(&active);
}

const lfm_kernels *lfm_kernels_at(int isa) {
    ensure_init();
    return isa >= 0 && isa < N_LEVELS && available[isa] ? &tables[isa] : NULL;
}

int lfm_kernels_prefer_r16(const lfm_kernels *k, uint32_t type) {
    ensure_init();
    return type < LFM_TYPE_COUNT && k->mm_r16[type] && k->mm_r16[type] != tables[0].mm_r16[type];
}

int lfm_isa_detected(void) {
    ensure_init();
    return detected;
}

int lfm_isa_active(void) {
    return lfm_kernels_active()->isa;
}

int lfm_isa_set_max(int isa) {
    if (!lfm_isa_name(isa))
        return -1;
    ensure_init();
    int level = capped(isa);
    atomic_store(&active, &tables[level]);
    return level;
}
