/*
 * test_blas.c - the BLAS kernels chosen for this CPU are not a generic
 * fallback.  The CPU's features are read here from /proc/cpuinfo, not
 * through the CPUID code under test.
 */
#include <cblas.h>

#include "builder/blas_kernel.h"
#include "testutil.h"

/* Whether /proc/cpuinfo's first "flags" line lists @p flag; -1 when it cannot be read. */
static int cpu_has(const char *flag)
{
    FILE *f = fopen("/proc/cpuinfo", "r");
    if (!f) return -1;
    char line[8192];
    int found = -1;
    while (fgets(line, sizeof line, f)) {
        if (strncmp(line, "flags", 5)) continue;
        found = 0;
        for (char *tok = strtok(strchr(line, ':') + 1, " \n"); tok; tok = strtok(NULL, " \n"))
            if (!strcmp(tok, flag)) found = 1;
        break;
    }
    fclose(f);
    return found;
}

/* OpenBLAS's kernel sets for CPUs without AVX2 + FMA (dynamic.c's core names). */
static const char *const pre_avx2[] = {
    "Unknown", "Katmai", "Coppermine", "Northwood", "Prescott", "Banias", "Atom", "Core2", "Penryn",
    "Dunnington", "Nehalem", "Sandybridge", "Athlon", "Opteron", "Opteron_SSE3", "Barcelona", "Bobcat",
    "Bulldozer", "Piledriver", "Steamroller", "Excavator", "Nano", "generic",
};

static void avx2_cpu_gets_avx2_kernels(void **state)
{
    const char *config = mfkv_blas_kernel();
    const char *core = openblas_get_corename();
    /* What --timings and the provenance print names the kernels that run. */
    assert_non_null(strstr(config, core));
    if (cpu_has("avx2") != 1 || cpu_has("fma") != 1 || getenv("OPENBLAS_CORETYPE")) skip();
    for (size_t i = 0; i < sizeof pre_avx2 / sizeof *pre_avx2; i++)
        if (!strcasecmp(core, pre_avx2[i])) fail_msg("AVX2 CPU runs the generic OpenBLAS kernels '%s'", core);
}

static void sgemm_is_right_after_the_switch(void **state)
{
    mfkv_blas_kernel();
    /* 3x5 * (4x5)^T with small integers: exact in float whatever the kernel. */
    float a[15], b[20], c[12];
    for (int i = 0; i < 15; i++) a[i] = (float)(i % 7 - 3);
    for (int i = 0; i < 20; i++) b[i] = (float)(i % 5 - 2);
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, 3, 4, 5, 1.0f, a, 5, b, 5, 0.0f, c, 4);
    for (int i = 0; i < 3; i++)
        for (int j = 0; j < 4; j++) {
            float want = 0;
            for (int p = 0; p < 5; p++) want += a[i * 5 + p] * b[j * 5 + p];
            assert_true(c[i * 4 + j] == want);
        }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(avx2_cpu_gets_avx2_kernels),
        cmocka_unit_test(sgemm_is_right_after_the_switch),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
