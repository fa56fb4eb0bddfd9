/* Runtime CPU feature detection.
 *
 * x86: cpuid says what the core implements, xgetbv (XCR0) whether the OS
 * saves the wider register state; a feature counts only with both (an
 * AVX-512 core under an OS that does not save zmm registers faults).
 * aarch64 Linux: the kernel's HWCAP bits (NEON is architectural). */
#include <string.h>

#include "dispatch.h"

#if defined(__x86_64__) || defined(__i386__)
#include <cpuid.h>

static uint64_t xgetbv0(void) {
    uint32_t lo, hi;
    /* xgetbv with ecx = 0 (XCR0); encoded as bytes so no -mxsave is needed */
    __asm__ volatile(".byte 0x0f, 0x01, 0xd0" : "=a"(lo), "=d"(hi) : "c"(0));
    return (uint64_t)hi << 32 | lo;
}

void lfm_cpu_detect(lfm_cpu_features *f) {
    memset(f, 0, sizeof *f);
    unsigned a, b, c, d;
    if (!__get_cpuid(1, &a, &b, &c, &d)) return;
    const int osxsave = (c >> 27) & 1, fma = (c >> 12) & 1, f16c = (c >> 29) & 1;
    const int avx = (c >> 28) & 1;
    if (!osxsave || !avx) return;
    const uint64_t xcr0 = xgetbv0();
    const int ymm_os = (xcr0 & 0x6) == 0x6;   /* SSE + AVX state */
    const int zmm_os = (xcr0 & 0xe6) == 0xe6; /* + opmask, zmm hi256, hi16 zmm */
    if (!ymm_os) return;
    unsigned a7, b7, c7, d7;
    if (!__get_cpuid_count(7, 0, &a7, &b7, &c7, &d7)) return;
    f->fma = fma;
    f->f16c = f16c;
    f->avx2 = (b7 >> 5) & 1;
    if (zmm_os) {
        f->avx512f = (b7 >> 16) & 1;
        f->avx512bw = (b7 >> 30) & 1;
        f->avx512vl = (b7 >> 31) & 1;
        f->avx512vnni = (c7 >> 11) & 1;
        unsigned a71 = 0, b71 = 0, c71 = 0, d71 = 0;
        if (a7 >= 1 && __get_cpuid_count(7, 1, &a71, &b71, &c71, &d71))
            f->avx512bf16 = (a71 >> 5) & 1;
    }
}

#elif defined(__aarch64__) && defined(__linux__)
#include <sys/auxv.h>

void lfm_cpu_detect(lfm_cpu_features *f) {
    memset(f, 0, sizeof *f);
    const unsigned long hw = getauxval(AT_HWCAP), hw2 = getauxval(AT_HWCAP2);
    f->neon = 1;
    f->dotprod = (hw >> 20) & 1; /* HWCAP_ASIMDDP */
    f->i8mm = (hw2 >> 13) & 1;   /* HWCAP2_I8MM */
}

#else

void lfm_cpu_detect(lfm_cpu_features *f) {
    memset(f, 0, sizeof *f);
#if defined(__aarch64__)
    f->neon = 1;
#endif
}

#endif
