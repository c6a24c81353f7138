#include "eval.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "builder/topk.h"
#include "format.h"
#include "mfkv.h"

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static int cmp_u32(const void *a, const void *b)
{
    uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
    return (x > y) - (x < y);
}

/* 1 - residual / total, scikit-learn's answer when y is constant. */
static double one_minus_ratio(double residual, double total)
{
    if (total > 0) return 1.0 - residual / total;
    return residual == 0 ? 1.0 : 0.0;
}

int mfkv_regression_eval(const double *y, const double *p, size_t n, mfkv_regression_metrics *out)
{
    double *abs_err = malloc(n * sizeof *abs_err);
    if (!abs_err) return MFKV_NOMEM;
    double sum_y = 0, sum_e = 0;
    for (size_t j = 0; j < n; j++) {
        sum_y += y[j];
        sum_e += y[j] - p[j];
    }
    double mean_y = sum_y / (double)n, mean_e = sum_e / (double)n;
    double sae = 0, sse = 0, ssle = 0, ss_tot = 0, ss_e = 0;
    for (size_t j = 0; j < n; j++) {
        double e = y[j] - p[j];
        double le = log1p(fmax(y[j], 0)) - log1p(fmax(p[j], 0));
        abs_err[j] = fabs(e);
        sae += fabs(e);
        sse += e * e;
        ssle += le * le;
        ss_tot += (y[j] - mean_y) * (y[j] - mean_y);
        ss_e += (e - mean_e) * (e - mean_e);
    }
    qsort(abs_err, n, sizeof *abs_err, cmp_double);
    out->median_absolute_error =
        n % 2 ? abs_err[n / 2] : (abs_err[n / 2 - 1] + abs_err[n / 2]) / 2;
    free(abs_err);
    out->mean_absolute_error = sae / (double)n;
    out->mean_squared_error = sse / (double)n;
    out->mean_squared_log_error = ssle / (double)n;
    out->r2_score = one_minus_ratio(sse, ss_tot);
    out->explained_variance = one_minus_ratio(ss_e, ss_tot);
    return MFKV_OK;
}

void mfkv_ranking_eval(const uint32_t *ranked, uint32_t n_ranked, uint32_t k,
                       const uint32_t *relevant, size_t n_relevant, mfkv_ranking_metrics *out)
{
    uint32_t n = n_ranked < k ? n_ranked : k, hits = 0;
    double dcg = 0, idcg = 0, ap = 0;
    for (uint32_t j = 0; j < n; j++) {
        if (!bsearch(&ranked[j], relevant, n_relevant, sizeof *relevant, cmp_u32)) continue;
        hits++;
        dcg += 1.0 / log2((double)j + 2);
        ap += (double)hits / (double)(j + 1);
    }
    size_t ideal = n_relevant < k ? n_relevant : k;
    for (size_t j = 0; j < ideal; j++) idcg += 1.0 / log2((double)j + 2);
    out->precision_at_k = (double)hits / (double)k;
    out->recall_at_k = (double)hits / (double)n_relevant;
    out->ndcg_at_k = dcg / idcg;
    out->map_at_k = ap / (double)ideal;
}

/* Per model user, a list of model item indices (counting-sort layout). */
typedef struct user_lists {
    uint64_t *start; /* n_users + 1: the CSR offsets mfkv_exclusions takes */
    uint32_t *item;
} user_lists;

/* Ratings j with want(j) true and both sides known, grouped by user. */
static int group_by_user(user_lists *g, uint32_t n_users, const uint32_t *user_of,
                         const uint32_t *item_of, const mfkv_ratings *r, const uint8_t *is_test,
                         int test, double threshold)
{
    g->start = calloc((size_t)n_users + 1, sizeof *g->start);
    if (!g->start) return MFKV_NOMEM;
    /* Pass 0 counts into start[u + 1], then prefix sums make start[u] the
     * beginning of user u; pass 1 fills, advancing start[u] to its end,
     * which is the beginning of u + 1: one shift restores the starts. */
    for (int pass = 0; pass < 2; pass++) {
        for (size_t j = 0; j < r->n; j++) {
            uint32_t u = user_of[r->user[j]], i = item_of[r->item[j]];
            int in_test = is_test ? is_test[j] != 0 : 1;
            if (u == UINT32_MAX || i == UINT32_MAX || in_test != test) continue;
            if (test && !(r->rating[j] >= threshold)) continue;
            if (pass == 0)
                g->start[u + 1]++;
            else
                g->item[g->start[u]++] = i;
        }
        if (pass == 0) {
            for (uint32_t u = 0; u < n_users; u++) g->start[u + 1] += g->start[u];
            g->item = malloc((g->start[n_users] + 1) * sizeof *g->item);
            if (!g->item) return MFKV_NOMEM;
        }
    }
    memmove(g->start + 1, g->start, (size_t)n_users * sizeof *g->start);
    g->start[0] = 0;
    return MFKV_OK;
}

/* Each user's list is the one the builder computes (mfkv_topk_compute):
 * every bias in, the exact double-precision score deciding near-ties, the
 * training items left out, ties to the lower item index - so the metrics
 * describe the lists a store built from this model serves. */
static int rank_users(const mfkv_model *m, const user_lists *relevant, const user_lists *seen,
                      uint32_t k, mfkv_eval_result *out, mfkv_diag *d)
{
    mfkv_exclusions exclude = {seen->start, seen->item};
    mfkv_topk_opts opts = {.k = k, .exclude = &exclude};
    mfkv_topk_result lists;
    int rc = mfkv_topk_compute(m, &opts, &lists, d);
    if (rc) return rc;
    mfkv_ranking_metrics sum = {0};
    for (uint32_t u = 0; u < m->user_ids.n; u++) {
        uint32_t *rel = relevant->item + relevant->start[u];
        size_t n_rel = relevant->start[u + 1] - relevant->start[u];
        if (n_rel == 0) continue;
        qsort(rel, n_rel, sizeof *rel, cmp_u32);
        mfkv_ranking_metrics one;
        mfkv_ranking_eval(lists.item + (size_t)u * k, lists.count[u], k, rel, n_rel, &one);
        sum.precision_at_k += one.precision_at_k;
        sum.recall_at_k += one.recall_at_k;
        sum.ndcg_at_k += one.ndcg_at_k;
        sum.map_at_k += one.map_at_k;
        out->n_ranked_users++;
    }
    double users = out->n_ranked_users ? (double)out->n_ranked_users : NAN;
    out->ranking.precision_at_k = sum.precision_at_k / users;
    out->ranking.recall_at_k = sum.recall_at_k / users;
    out->ranking.ndcg_at_k = sum.ndcg_at_k / users;
    out->ranking.map_at_k = sum.map_at_k / users;
    mfkv_topk_free(&lists);
    return MFKV_OK;
}

/* Model index of every id of @p ids, UINT32_MAX where the model lacks it. */
static uint32_t *map_ids(const mfkv_idtab *ids, const mfkv_idtab *model_ids)
{
    uint32_t *map = malloc(((size_t)ids->n + 1) * sizeof *map);
    if (!map) return NULL;
    for (uint32_t j = 0; j < ids->n; j++) {
        size_t len;
        const char *s = mfkv_idtab_str(ids, j, &len);
        if (mfkv_idtab_find(model_ids, s, len, &map[j]) != MFKV_OK) map[j] = UINT32_MAX;
    }
    return map;
}

static double predict_known(const mfkv_model *m, uint32_t u, uint32_t i)
{
    if (u != UINT32_MAX && i != UINT32_MAX) return mfkv_model_predict(m, u, i);
    return m->global_bias + (u != UINT32_MAX ? (double)m->user_bias[u] : 0) +
           (i != UINT32_MAX ? (double)m->item_bias[i] : 0);
}

int mfkv_eval(const mfkv_model *m, const mfkv_ratings *r, const uint8_t *is_test, uint32_t k,
              double relevance_threshold, mfkv_eval_result *out, mfkv_diag *d)
{
    memset(out, 0, sizeof *out);
    out->k = k;
    out->relevance_threshold = relevance_threshold;
    if (k == 0 || k > MFKV_MAX_K) return mfkv_fail(d, MFKV_INVAL, "k: must be from 1 to %u", MFKV_MAX_K);
    uint32_t *user_of = map_ids(&r->users, &m->user_ids);
    uint32_t *item_of = map_ids(&r->items, &m->item_ids);
    double *y = malloc((r->n + 1) * sizeof *y), *p = malloc((r->n + 1) * sizeof *p);
    user_lists relevant = {0}, seen = {0};
    int rc = MFKV_NOMEM;
    if (!user_of || !item_of || !y || !p) goto done;
    for (size_t j = 0; j < r->n; j++) {
        if (is_test && !is_test[j]) continue;
        uint32_t u = user_of[r->user[j]], i = item_of[r->item[j]];
        y[out->n] = r->rating[j];
        p[out->n] = predict_known(m, u, i);
        out->n++;
        out->n_unknown += u == UINT32_MAX || i == UINT32_MAX;
    }
    if (out->n == 0) {
        rc = mfkv_fail(d, MFKV_INVAL, "no test ratings to evaluate");
        goto done;
    }
    if ((rc = mfkv_regression_eval(y, p, out->n, &out->regression)) ||
        (rc = group_by_user(&relevant, m->user_ids.n, user_of, item_of, r, is_test, 1,
                            relevance_threshold)) ||
        (rc = group_by_user(&seen, m->user_ids.n, user_of, item_of, r, is_test, 0, 0)) ||
        (rc = rank_users(m, &relevant, &seen, k, out, d)))
        goto done;
done:
    if (rc == MFKV_NOMEM) mfkv_fail(d, rc, "out of memory evaluating %zu ratings", r->n);
    free(user_of);
    free(item_of);
    free(y);
    free(p);
    free(relevant.start);
    free(relevant.item);
    free(seen.start);
    free(seen.item);
    return rc;
}
