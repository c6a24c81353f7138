/*
 * gemm_floor - the floor of mfkv's top-K builder: the same blocked
 * cblas_sgemm over augmented factors (U' = [u, 1], V' = [v, item bias]),
 * same block sizes, same threading (one OpenBLAS thread per worker, workers
 * take user blocks), but no selection.  mfkv build can approach this time,
 * never beat it.
 *
 * usage: gemm_floor NPY_DIR [THREADS]   prints TSV: threads, users, items,
 * factors, block users, block items, seconds of GEMM, OpenBLAS core name.
 */
#include <cblas.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "builder/blas_kernel.h"
#include "builder/blas_threads.h"
#include "builder/topk.h"
#include "common/clock.h"
#include "io/factors.h"

typedef struct job {
    const float *u_aug, *v_aug;
    uint32_t n_users, n_items, fp;
    atomic_uint next_block;
} job;

static void *work(void *arg)
{
    job *j = arg;
    float *c = malloc((size_t)MFKV_TOPK_BLOCK_USERS * MFKV_TOPK_BLOCK_ITEMS * sizeof *c);
    if (!c) return (void *)1;
    for (;;) {
        uint32_t u0 = atomic_fetch_add(&j->next_block, 1) * MFKV_TOPK_BLOCK_USERS;
        if (u0 >= j->n_users) break;
        uint32_t nu = j->n_users - u0 < MFKV_TOPK_BLOCK_USERS ? j->n_users - u0 : MFKV_TOPK_BLOCK_USERS;
        for (uint32_t i0 = 0; i0 < j->n_items; i0 += MFKV_TOPK_BLOCK_ITEMS) {
            uint32_t ni = j->n_items - i0 < MFKV_TOPK_BLOCK_ITEMS ? j->n_items - i0 : MFKV_TOPK_BLOCK_ITEMS;
            cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (int)nu, (int)ni, (int)j->fp, 1.0f,
                        j->u_aug + (size_t)u0 * j->fp, (int)j->fp, j->v_aug + (size_t)i0 * j->fp, (int)j->fp,
                        0.0f, c, (int)ni);
        }
    }
    free(c);
    return NULL;
}

/* rows x f factors and a bias column -> rows x (f + 1). */
static float *augment(const float *x, const float *bias, uint32_t rows, uint32_t f)
{
    float *out = malloc((size_t)rows * (f + 1) * sizeof *out + 1);
    if (!out) return NULL;
    for (uint32_t r = 0; r < rows; r++) {
        memcpy(out + (size_t)r * (f + 1), x + (size_t)r * f, f * sizeof *out);
        out[(size_t)r * (f + 1) + f] = bias ? bias[r] : 1.0f;
    }
    return out;
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        fprintf(stderr, "usage: gemm_floor NPY_DIR [THREADS]\n");
        return 2;
    }
    unsigned threads = argc > 2 ? (unsigned)atoi(argv[2]) : 2;
    if (threads < 1 || threads > 64) threads = 2;
    mfkv_model m;
    mfkv_model_init(&m);
    mfkv_diag d = {0};
    if (mfkv_load_npy_dir(argv[1], &m, &d)) {
        fprintf(stderr, "gemm_floor: %s\n", d.msg);
        return 1;
    }
    uint32_t f = m.n_factors;
    job j = {.n_users = m.user_ids.n, .n_items = m.item_ids.n, .fp = f + 1};
    float *u_aug = augment(m.user_factors, NULL, j.n_users, f);
    float *v_aug = augment(m.item_factors, m.item_bias, j.n_items, f);
    if (!u_aug || !v_aug) {
        fprintf(stderr, "gemm_floor: out of memory\n");
        return 1;
    }
    j.u_aug = u_aug;
    j.v_aug = v_aug;
    mfkv_blas_kernel();          /* the kernels mfkv's top-K runs */
    mfkv_blas_single_threaded(); /* as mfkv's top-K does */
    pthread_t tid[64];
    double t0 = mfkv_now();
    for (unsigned t = 1; t < threads; t++) pthread_create(&tid[t], NULL, work, &j);
    int failed = work(&j) != NULL;
    for (unsigned t = 1; t < threads; t++) {
        void *r;
        pthread_join(tid[t], &r);
        failed |= r != NULL;
    }
    double secs = mfkv_now() - t0;
    if (failed) {
        fprintf(stderr, "gemm_floor: out of memory\n");
        return 1;
    }
    printf("threads\tusers\titems\tfactors\tblock_users\tblock_items\tgemm_seconds\tcore\n");
    printf("%u\t%u\t%u\t%u\t%u\t%u\t%.4f\t%s\n", threads, j.n_users, j.n_items, f, MFKV_TOPK_BLOCK_USERS,
           MFKV_TOPK_BLOCK_ITEMS, secs, openblas_get_corename());
    free(u_aug);
    free(v_aug);
    mfkv_model_free(&m);
    return 0;
}
