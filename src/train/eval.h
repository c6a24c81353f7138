/*
 * eval.h - how good a model is on a set of ratings.
 *
 * Regression metrics are ML.EVALUATE's six for explicit-feedback matrix
 * factorization, with y the rating and p the prediction, over n ratings:
 *
 *   mean_absolute_error     mean |y - p|
 *   mean_squared_error      mean (y - p)^2
 *   mean_squared_log_error  mean (log(1 + y) - log(1 + p))^2, with y and p
 *                           clamped at 0 first so the log is defined
 *   median_absolute_error   median |y - p| (mean of the two middle values
 *                           when n is even)
 *   r2_score                1 - sum (y - p)^2 / sum (y - mean y)^2
 *   explained_variance      1 - var(y - p) / var(y)   (population variances)
 *
 * r2_score and explained_variance are 1 when y is constant and predicted
 * exactly, 0 when y is constant and not (scikit-learn's convention).
 *
 * Ranking metrics at k, per user who has at least one relevant test rating
 * (rating >= the relevance threshold, on an item the model knows), then
 * averaged over those users.  The user's list is the model's top k among
 * all items the model knows except those the user rated in training, as the
 * builder computes it (builder/topk.h: the predicted rating with every bias,
 * exact in double precision, ties to the lower item index), so that the
 * metrics describe the lists a store built from the model serves; the
 * caller sorts the items by id first (mfkv_model_sort_items) for the store's
 * tie order, as `mfkv eval` does.  With h(j) = 1 when the j-th entry
 * (1-based) is relevant and R the number of relevant items:
 *
 *   precision@k  sum h / k
 *   recall@k     sum h / R
 *   NDCG@k       sum h(j) / log2(j + 1)  over  sum_{j <= min(R, k)} 1 / log2(j + 1)
 *   MAP@k        sum_j h(j) * precision@j  /  min(R, k)
 */
#ifndef MFKV_TRAIN_EVAL_H
#define MFKV_TRAIN_EVAL_H

#include <stddef.h>
#include <stdint.h>

#include "common/diag.h"
#include "common/model.h"
#include "io/ratings.h"

#define MFKV_EVAL_DEFAULT_K 10
#define MFKV_EVAL_DEFAULT_THRESHOLD 4.0

typedef struct mfkv_regression_metrics {
    double mean_absolute_error, mean_squared_error, mean_squared_log_error;
    double median_absolute_error, r2_score, explained_variance;
} mfkv_regression_metrics;

typedef struct mfkv_ranking_metrics {
    double precision_at_k, recall_at_k, ndcg_at_k, map_at_k;
} mfkv_ranking_metrics;

typedef struct mfkv_eval_result {
    uint64_t n;         /* test ratings evaluated */
    uint64_t n_unknown; /* of which the user or the item is not in the model:
                           predicted from the parts the model has (global,
                           and the known side's bias) */
    mfkv_regression_metrics regression;
    uint32_t k;
    double relevance_threshold;
    uint64_t n_ranked_users; /* users the ranking metrics average over */
    mfkv_ranking_metrics ranking;
} mfkv_eval_result;

/*
 * Evaluate @p m on the ratings @p r.  With @p is_test NULL every rating is
 * a test rating and no item is excluded from the lists; otherwise the test
 * ratings are those with is_test[j] != 0 and the others are the training
 * ratings whose items each user's list leaves out (ML.EVALUATE on a model's
 * own evaluation split).  Returns MFKV_OK, MFKV_INVAL (no test rating, k not
 * 1..MFKV_MAX_K)
 * or MFKV_NOMEM.
 */
int mfkv_eval(const mfkv_model *m, const mfkv_ratings *r, const uint8_t *is_test, uint32_t k,
              double relevance_threshold, mfkv_eval_result *out, mfkv_diag *d);

/* The regression metrics of n > 0 pairs.  MFKV_OK or MFKV_NOMEM. */
int mfkv_regression_eval(const double *y, const double *p, size_t n, mfkv_regression_metrics *out);

/* The ranking metrics of one list of @p n_ranked item indices (best first,
 * at most k used) against @p n_relevant > 0 relevant items, sorted
 * ascending. */
void mfkv_ranking_eval(const uint32_t *ranked, uint32_t n_ranked, uint32_t k,
                       const uint32_t *relevant, size_t n_relevant, mfkv_ranking_metrics *out);

#endif
