/*
 * blas_kernel.c - see blas_kernel.h.
 *
 * Why.  Debian 12's OpenBLAS (0.3.21, built with DYNAMIC_ARCH) picks its
 * kernels from a table of CPU models.  A CPU newer than the table (Intel
 * Sapphire Rapids, AMD Zen 4) gets a fallback: `Core: Prescott` (SSE3) on a
 * Sapphire Rapids Xeon, 3x slower for the top-K GEMM than its AVX-512
 * kernels; Zen 4 gets the AVX2 `Zen` kernels.  Users do not set
 * OPENBLAS_CORETYPE and should not have to.
 *
 * How.  The kernel set follows from CPU features rather than models:
 * AVX-512 (F, BW, DQ, VL, with the OS saving ZMM state) -> SkylakeX; AVX2 +
 * FMA -> Haswell (Zen on AMD).  Not Cooperlake: its single-precision kernels
 * are SkylakeX's (it adds bf16 ones), and 0.3.21 cannot force it
 * ("Core not found: Cooperlake").  OpenBLAS's own choice is kept unless it is of a lower tier than the
 * features allow, so a CPU it knows keeps its tuned kernels, and a user's
 * OPENBLAS_CORETYPE is never overridden.  OpenBLAS reads OPENBLAS_CORETYPE
 * only in gotoblas_dynamic_init, run by its load-time constructor; the
 * DYNAMIC_ARCH build exports that function and gotoblas_dynamic_quit (they
 * are how OpenBLAS itself (re)selects), so setting the variable and running
 * quit + init switches the kernel table.  That is safe before the first BLAS
 * call: the per-call buffers are sized for the largest kernel at build time,
 * and blocking parameters are read from the table at each call.
 *
 * Weighed against: the scipy-openblas32 wheel (OpenBLAS 0.3.31, current CPU
 * tables) would make the installed binary depend on a library inside .venv
 * through an rpath, and copy that into every runtime image; its sgemm is the
 * same kernel code as 0.3.21's SkylakeX/Haswell ones for these shapes
 * (measured: tools/bench_build.py, tools/BENCHMARKS.md).  BLIS would replace
 * the OpenBLAS thread handling in blas_threads.c and still be a second BLAS
 * for LAPACK-style calls.  Re-exec'ing with the variable set costs a process
 * start for every command.
 *
 * Exactness does not depend on this: topk.c's rounding bound holds for any
 * summation order and with or without FMA, so every kernel set gives the same
 * lists.
 */
#include "builder/blas_kernel.h"

#include <cblas.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#if defined(__x86_64__) || defined(__i386__)
#include <cpuid.h>
#endif

extern void gotoblas_dynamic_init(void) __attribute__((weak));
extern void gotoblas_dynamic_quit(void) __attribute__((weak));

enum { TIER_OTHER = 0, TIER_AVX2 = 1, TIER_AVX512 = 2 };

/* OpenBLAS core names (gotoblas_corename) of the AVX2 and AVX-512 kernel
 * sets, including those newer OpenBLAS versions add. */
static int core_tier(const char *name)
{
    static const char *const avx512[] = {"SkylakeX", "Cooperlake", "SapphireRapids"};
    static const char *const avx2[] = {"Haswell", "Zen", "Zen4"};
    for (size_t i = 0; i < sizeof avx512 / sizeof *avx512; i++)
        if (!strcmp(name, avx512[i])) return TIER_AVX512;
    for (size_t i = 0; i < sizeof avx2 / sizeof *avx2; i++)
        if (!strcmp(name, avx2[i])) return TIER_AVX2;
    return TIER_OTHER;
}

#if defined(__x86_64__) || defined(__i386__)
/* The best OpenBLAS core name for this CPU's features, or NULL. */
static const char *wanted_core(int *tier)
{
    unsigned a, b, c, d;
    *tier = TIER_OTHER;
    if (!__get_cpuid(0, &a, &b, &c, &d) || a < 7) return NULL;
    int amd = b == 0x68747541; /* "Auth"enticAMD */
    __get_cpuid(1, &a, &b, &c, &d);
    int fma = (c >> 12) & 1, osxsave = (c >> 27) & 1, avx = (c >> 28) & 1;
    if (!osxsave || !avx || !fma) return NULL;
    unsigned xcr0_lo, xcr0_hi;
    __asm__("xgetbv" : "=a"(xcr0_lo), "=d"(xcr0_hi) : "c"(0));
    if ((xcr0_lo & 0x6) != 0x6) return NULL; /* the OS does not save YMM state */
    unsigned b7, c7, d7, a7;
    __cpuid_count(7, 0, a7, b7, c7, d7);
    int avx2 = (b7 >> 5) & 1;
    int avx512 = ((b7 >> 16) & 1) && ((b7 >> 17) & 1) && ((b7 >> 30) & 1) && ((b7 >> 31) & 1); /* F DQ BW VL */
    int zmm = (xcr0_lo & 0xe0) == 0xe0;
    if (avx512 && zmm) {
        *tier = TIER_AVX512;
        return "SkylakeX";
    }
    if (avx2) {
        *tier = TIER_AVX2;
        return amd ? "Zen" : "Haswell";
    }
    return NULL;
}
#else
static const char *wanted_core(int *tier)
{
    *tier = TIER_OTHER;
    return NULL;
}
#endif

static void select_kernel(void)
{
    if (getenv("OPENBLAS_CORETYPE") || !gotoblas_dynamic_init || !gotoblas_dynamic_quit) return;
    int tier;
    const char *want = wanted_core(&tier);
    if (!want || core_tier(openblas_get_corename()) >= tier) return;
    /* Set only for the switch: child processes choose for themselves. */
    setenv("OPENBLAS_CORETYPE", want, 1);
    gotoblas_dynamic_quit();
    gotoblas_dynamic_init();
    unsetenv("OPENBLAS_CORETYPE");
}

const char *mfkv_blas_kernel(void)
{
    static pthread_once_t once = PTHREAD_ONCE_INIT;
    pthread_once(&once, select_kernel);
    return openblas_get_config();
}
