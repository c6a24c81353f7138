/*
 * als.h - train an explicit-feedback matrix-factorization model by
 * alternating least squares, the algorithm of BigQuery ML's
 * MODEL_TYPE = 'MATRIX_FACTORIZATION', FEEDBACK_TYPE = 'EXPLICIT'.
 *
 *   rating(u, i) ~ global + user_bias[u] + item_bias[i] + dot(p_u, q_i)
 *
 * minimising, over the training ratings R,
 *
 *   sum_{(u,i) in R} (rating - prediction)^2
 *     + sum_u (l2 + l2_per_rating * n_u) (|p_u|^2 + user_bias[u]^2)
 *     + sum_i (l2 + l2_per_rating * n_i) (|q_i|^2 + item_bias[i]^2)
 *
 * where n_u, n_i count the training ratings of a row: a constant penalty
 * (plain lambda) plus one that grows with the row's ratings (the "weighted
 * lambda" of ALS-WR).  Each alone tops out at a held-out RMSE of about
 * 0.8315 on MovieLens latest-small (90/10 random split, seed 42, 60
 * factors, 20 iterations; tools/TRAINING.md): plain lambda 0.8328 at l2 10,
 * 0.8318 at 11, 0.8317 at 12; weighted lambda 0.8328 at 0.1 per rating.
 * Together they reach 0.8241-0.8255 over l2 3-5 and 0.04-0.06 per rating
 * (0.8243 at the defaults, 4 and 0.05): a row with few ratings is held
 * near zero by the constant, one with many is kept from overfitting by
 * the per-rating part.  l2 is not BigQuery ML's 1.0 default scaling: a
 * plain lambda of 1.0 overfits (held-out RMSE above 0.93 there).  The
 * global bias is the mean training rating and is not learned.
 *
 * The library never prints: pass a progress callback to watch iterations.
 */
#ifndef MFKV_TRAIN_ALS_H
#define MFKV_TRAIN_ALS_H

#include <stddef.h>
#include <stdint.h>

#include "common/diag.h"
#include "common/model.h"
#include "io/ratings.h"

/* Options, named after their BigQuery ML counterparts. */
typedef struct mfkv_als_opts {
    uint32_t factors;        /* NUM_FACTORS; 0 = auto: round(log2(training ratings)) */
    double l2;               /* L2_REG, > 0: the constant part of a row's penalty */
    double l2_per_rating;    /* >= 0: the part per training rating of the row */
    uint32_t iterations;     /* MAX_ITERATIONS, >= 1 */
    int early_stop;          /* EARLY_STOP */
    double min_rel_progress; /* MIN_REL_PROGRESS, on the training loss */
    double holdout;          /* DATA_SPLIT_EVAL_FRACTION of a RANDOM split, [0, 1) */
    uint64_t seed;           /* split and initialisation */
    uint32_t threads;        /* worker threads, >= 1 */
} mfkv_als_opts;

#define MFKV_ALS_DEFAULT_L2 4.0
#define MFKV_ALS_DEFAULT_L2_PER_RATING 0.05
#define MFKV_ALS_DEFAULT_ITERATIONS 20
#define MFKV_ALS_DEFAULT_MIN_REL_PROGRESS 0.01
#define MFKV_ALS_DEFAULT_THREADS 2

/* Fill @p o with the defaults above (early stop on, no holdout, seed 0). */
void mfkv_als_opts_default(mfkv_als_opts *o);

/* One row of the training-info table (ML.TRAINING_INFO). */
typedef struct mfkv_train_row {
    uint32_t training_run; /* always 0: one run per model */
    uint32_t iteration;    /* 0-based */
    double loss;           /* MSE on the training ratings after this iteration */
    double eval_loss;      /* MSE on the held-out ratings; NAN without holdout */
    double duration_ms;
} mfkv_train_row;

/* Everything about how a model was trained; saved in the model file. */
typedef struct mfkv_train_info {
    mfkv_als_opts opts;    /* as used: factors resolved from auto */
    uint64_t n_ratings;    /* rows of the input */
    uint64_t n_train, n_holdout;
    uint64_t ratings_hash; /* mfkv_ratings_fingerprint of the input */
    size_t n_rows;
    mfkv_train_row *rows;
} mfkv_train_info;

void mfkv_train_info_init(mfkv_train_info *info);
void mfkv_train_info_free(mfkv_train_info *info);

/* Called after every iteration with its row and the model as it stands. */
typedef void (*mfkv_als_progress_fn)(const mfkv_train_row *row, const mfkv_model *m, void *ctx);

/* MFKV_OK, or MFKV_INVAL naming the first option out of range: what
 * mfkv_als_train checks first, for callers that check before loading. */
int mfkv_als_check_opts(const mfkv_als_opts *o, mfkv_diag *d);

/*
 * Train on @p r.  Every user and item of @p r gets a row in @p out, in the
 * order of r->users / r->items; one with no training rating (all of its
 * ratings held out) has zero factors and bias.  The result depends only on
 * the ratings, the options and the seed, not on the thread count.
 * OpenBLAS is switched to one thread for the duration (the parallelism is
 * over rows) and restored afterwards.
 * Returns MFKV_OK, MFKV_INVAL (bad option, message names it), MFKV_NOMEM,
 * MFKV_INTERNAL (LAPACK failed).
 */
int mfkv_als_train(const mfkv_ratings *r, const mfkv_als_opts *opts, mfkv_als_progress_fn progress,
                   void *ctx, mfkv_model *out, mfkv_train_info *info, mfkv_diag *d);

/*
 * The RANDOM split: rating j is held out when a hash of (seed, j) falls
 * below @p fraction of its range, so the split of a row never depends on
 * the others.  Writes 1 (held out) or 0 into is_holdout[0..n).
 */
void mfkv_holdout_split(size_t n, double fraction, uint64_t seed, uint8_t *is_holdout);

/* XXH3-64 of the ratings' ids and values in input order: lets `mfkv eval`
 * recognise the very data a model was trained on and reuse its split. */
uint64_t mfkv_ratings_fingerprint(const mfkv_ratings *r);

#endif
