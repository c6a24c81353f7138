/*
 * model.h - a matrix-factorization model in memory.
 *
 *   predicted(u, i) = global_bias + user_bias[u] + item_bias[i]
 *                     + dot(user_factors[u], item_factors[i])
 *
 * Every loader (BigQuery ML NDJSON / long CSV, .npy, the mfkv model file)
 * produces one, the builder and trainer consume one.  Row u of user_factors
 * belongs to the id user_ids[u]; likewise for items.
 */
#ifndef MFKV_MODEL_H
#define MFKV_MODEL_H

#include <stdint.h>

#include "idtab.h"

typedef struct mfkv_model {
    uint32_t n_factors;
    double global_bias;
    mfkv_idtab user_ids, item_ids; /* n_users = user_ids.n, n_items = item_ids.n */
    float *user_factors;           /* n_users x n_factors, row-major */
    float *item_factors;           /* n_items x n_factors, row-major */
    float *user_bias;              /* n_users */
    float *item_bias;              /* n_items */
} mfkv_model;

/* Zero a model before loading into it. */
void mfkv_model_init(mfkv_model *m);
/* Release everything; the struct is left zeroed. NULL-safe. */
void mfkv_model_free(mfkv_model *m);

/* Allocate factor and bias arrays for the current id counts (zero-filled). */
int mfkv_model_alloc(mfkv_model *m);

/* Reorder the items into id order (mfkv_id_compare), so that item index
 * order is id order: the store's tie-break.  MFKV_OK or MFKV_NOMEM. */
int mfkv_model_sort_items(mfkv_model *m);

/*
 * THE SCORE's dot product: products of floats in double (exact), summed in
 * factor order in one chain.  This order defines the score a store ranks
 * by; the top-K (builder/topk.c, exact_scores) sums in this same order,
 * LANES items side by side, so its scores are bit-identical.  Other dot
 * products in mfkv sum differently on purpose and never decide a stored
 * ranking: ALS's training loss (train/als.c, four chains), and the float
 * BLAS of `recommend` and the top-K's candidate pass, whose candidates are
 * re-scored here before they are ranked.
 */
static inline double mfkv_score_dot(const float *u, const float *v, uint32_t n_factors)
{
    double dot = 0;
    for (uint32_t f = 0; f < n_factors; f++) dot += (double)u[f] * (double)v[f];
    return dot;
}

/* Exact predicted rating in double precision: global + user bias + item
 * bias + mfkv_score_dot, added in that order. */
double mfkv_model_predict(const mfkv_model *m, uint32_t user, uint32_t item);

#endif
