/*
 * topk.h - exact top-K items per user of a matrix-factorization model.
 *
 * "Exact" means: the list equals what a double-precision brute force over
 * every item gives, ordered by predicted rating descending and ties broken by
 * item index ascending.  Callers that want ties broken by item id sort the
 * model's items by id first (mfkv_model_sort_items).
 */
#ifndef MFKV_TOPK_H
#define MFKV_TOPK_H

#include <stdint.h>

#include "common/diag.h"
#include "common/model.h"

/* Items a user must not be recommended (already rated), in CSR form:
 * the items of user u are item[offset[u] .. offset[u+1]), any order. */
typedef struct mfkv_exclusions {
    const uint64_t *offset; /* n_users + 1 entries */
    const uint32_t *item;
} mfkv_exclusions;

/* Score blocks: users x items per GEMM call (tools/bench/gemm_floor times
 * the same blocks without selection, as the floor of this design). */
#define MFKV_TOPK_BLOCK_USERS 256u
#define MFKV_TOPK_BLOCK_ITEMS 2048u

typedef void (*mfkv_progress_fn)(void *ctx, uint64_t done, uint64_t total);

typedef struct mfkv_topk_opts {
    uint32_t k;                        /* 1..MFKV_MAX_K */
    unsigned threads;                  /* 0 = number of online CPUs */
    const mfkv_exclusions *exclude;    /* may be NULL */
    mfkv_progress_fn progress;         /* may be NULL; called from one thread */
    void *progress_ctx;
} mfkv_topk_opts;

typedef struct mfkv_topk_result {
    uint32_t k, n_users;
    uint32_t *count;  /* n_users: list length of each user (< k when few items) */
    uint32_t *item;   /* n_users x k, best first */
    float *score;     /* n_users x k: the predicted rating rounded to float */
    uint64_t exact_rechecks; /* users whose near-ties needed the double brute force */
} mfkv_topk_result;

/* Compute every user's list.  Returns MFKV_OK, MFKV_NOMEM or MFKV_INVAL. */
int mfkv_topk_compute(const mfkv_model *m, const mfkv_topk_opts *opts, mfkv_topk_result *out,
                      mfkv_diag *d);
void mfkv_topk_free(mfkv_topk_result *r);

/* The list for unknown users: top-k by global + item bias (double, ties by
 * index).  item/score hold k entries; *count receives min(k, n_items).
 * Returns MFKV_OK or MFKV_NOMEM. */
int mfkv_topk_fallback(const mfkv_model *m, uint32_t k, uint32_t *item, float *score, uint32_t *count);

#endif
