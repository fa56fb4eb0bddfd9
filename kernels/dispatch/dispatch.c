/* The per-level kernel tables and the active-level switch (dispatch.h). */
#include "dispatch.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <strings.h>

#define N_LEVELS 14 /* tables indexed by the lfm2moe_isa value */

static lfm_kernels tables[N_LEVELS];
static int available[N_LEVELS]; /* 1: CPU and build can run the level */
static int detected;            /* best available level */
static _Atomic(const lfm_kernels *) active;
static pthread_once_t once = PTHREAD_ONCE_INIT;

static const char *const names[N_LEVELS] = {
    [0] = "scalar", [1] = "avx2",          [2] = "avx512",     [3] = "avx512_vnni",
    [11] = "neon",  [12] = "neon_dotprod", [13] = "neon_i8mm",
};

const char *lfm_isa_name(int isa) {
    return isa >= 0 && isa < N_LEVELS ? names[isa] : NULL;
}

int lfm_isa_parse(const char *name) {
    for (int i = 0; i < N_LEVELS; i++)
        if (names[i] && strcasecmp(name, names[i]) == 0) return i;
    return -1;
}

/* Level `isa`'s entries, each module filling its own part (as dav1d's
 * *_dsp_init do): SCALAR sets every entry, a higher level overrides those
 * it accelerates. */
static void fill(lfm_kernels *k, int isa) {
    k->isa = isa;
    lfm_quant_dsp_init(k, isa);
    lfm_elementwise_dsp_init(k, isa);
    lfm_attention_dsp_init(k, isa);
}

#if defined(LFM_HAVE_X86_SIMD) || defined(LFM_HAVE_ARM_NEON)
/* Level `isa` = copy of level `below` + its own overrides. */
static void derive(int isa, int below) {
    tables[isa] = tables[below];
    fill(&tables[isa], isa);
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
        if (available[i] && (i <= cap || (cap != 0 && (cap < 11) != (i < 11)))) best = i;
    return best;
}

static void init(void) {
    fill(&tables[0], 0);
    available[0] = 1;
    detected = 0;
    lfm_cpu_features f;
    lfm_cpu_detect(&f);
#ifdef LFM_HAVE_X86_SIMD
    if (f.avx2 && f.fma && f.f16c) {
        derive(1, 0);
        if (f.avx512f && f.avx512bw && f.avx512vl) {
            /* 512-bit quant kernels measured slower than AVX2
             * (x86_avx512_vnni.c); the element-wise ops and attention gain */
            derive(2, 1);
            if (f.avx512vnni) derive(3, 2);
        }
    }
#elif defined(LFM_HAVE_ARM_NEON)
    if (f.neon) {
        derive(11, 0);
        if (f.dotprod) derive(12, 11);
    }
#else
    (void)f;
#endif
    int level = detected;
    const char *env = getenv("LFM2MOE_MAX_ISA");
    if (env && *env) {
        int cap = lfm_isa_parse(env);
        /* an unknown name caps nothing (the library never prints) */
        if (cap >= 0) level = capped(cap);
    }
    atomic_store(&active, &tables[level]);
}

static void ensure_init(void) {
    pthread_once(&once, init);
}

const lfm_kernels *lfm_kernels_active(void) {
    const lfm_kernels *k = atomic_load_explicit(&active, memory_order_acquire);
    if (k) return k;
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
    if (!lfm_isa_name(isa)) return -1;
    ensure_init();
    int level = capped(isa);
    atomic_store(&active, &tables[level]);
    return level;
}
