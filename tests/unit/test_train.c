/* Tests of the trainer: ALS, evaluation metrics and the model file. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <dirent.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <xxhash.h>

#include "common/bytes.h"
#include "mfkv.h"
#include "train/als.h"
#include "train/eval.h"
#include "train/modelfile.h"

/* ---- fixtures -------------------------------------------------------------- */

static uint64_t lcg(uint64_t *s)
{
    *s = *s * 6364136223846793005ull + 1442695040888963407ull;
    return *s >> 33;
}

/* A small ratings set: @p nu users x @p ni items, about @p density of the
 * pairs rated, ratings 1..5 from a rank-2 pattern plus noise. */
static void make_ratings(mfkv_ratings *r, uint32_t nu, uint32_t ni, double density)
{
    memset(r, 0, sizeof *r);
    size_t cap = (size_t)nu * ni;
    r->user = malloc(cap * sizeof *r->user);
    r->item = malloc(cap * sizeof *r->item);
    r->rating = malloc(cap * sizeof *r->rating);
    char id[32];
    uint32_t index;
    for (uint32_t u = 0; u < nu; u++) {
        int n = snprintf(id, sizeof id, "u%u", u);
        assert_int_equal(mfkv_idtab_intern(&r->users, id, (size_t)n, &index, NULL), MFKV_OK);
    }
    for (uint32_t i = 0; i < ni; i++) {
        int n = snprintf(id, sizeof id, "%u", 100 + i);
        assert_int_equal(mfkv_idtab_intern(&r->items, id, (size_t)n, &index, NULL), MFKV_OK);
    }
    uint64_t s = 12345;
    for (uint32_t u = 0; u < nu; u++) {
        for (uint32_t i = 0; i < ni; i++) {
            if ((double)(lcg(&s) % 1000) >= density * 1000) continue;
            double a = (double)(u % 3) - 1, b = (double)(i % 4) - 1.5;
            double v = 3.2 + 0.8 * a * b + 0.3 * (double)((u + i) % 2) +
                       ((double)(lcg(&s) % 100) - 50) / 100.0;
            v = round(v < 1 ? 1 : v > 5 ? 5 : v);
            r->user[r->n] = u;
            r->item[r->n] = i;
            r->rating[r->n] = (float)v;
            r->n++;
        }
    }
}

static void free_ratings(mfkv_ratings *r)
{
    free(r->user);
    free(r->item);
    free(r->rating);
    mfkv_idtab_free(&r->users);
    mfkv_idtab_free(&r->items);
}

static mfkv_als_opts small_opts(void)
{
    mfkv_als_opts o;
    mfkv_als_opts_default(&o);
    o.factors = 3;
    o.l2 = 0.7;
    o.iterations = 8;
    o.early_stop = 0;
    o.seed = 9;
    return o;
}

static char *temp_dir(void)
{
    char *dir = strdup("/tmp/mfkv-test-train-XXXXXX");
    assert_non_null(mkdtemp(dir));
    return dir;
}

static void remove_dir(char *dir)
{
    DIR *d = opendir(dir);
    if (d) {
        for (struct dirent *e; (e = readdir(d));) {
            if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, "..")) continue;
            char path[512];
            snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
            unlink(path);
        }
        closedir(d);
    }
    rmdir(dir);
    free(dir);
}

static size_t count_entries(const char *dir)
{
    size_t n = 0;
    DIR *d = opendir(dir);
    assert_non_null(d);
    for (struct dirent *e; (e = readdir(d));)
        if (strcmp(e->d_name, ".") && strcmp(e->d_name, "..")) n++;
    closedir(d);
    return n;
}

/* ---- metrics against hand-computed values ----------------------------------- */

static void regression_metrics_match_hand_values(void **state)
{
    (void)state;
    /* errors y - p = 0.5, 0, 1, -1; mean y 3.5; mean error 0.125 */
    const double y[] = {3, 4, 5, 2}, p[] = {2.5, 4, 4, 3};
    mfkv_regression_metrics m;
    assert_int_equal(mfkv_regression_eval(y, p, 4, &m), MFKV_OK);
    assert_float_equal(m.mean_absolute_error, 2.5 / 4, 1e-12);
    assert_float_equal(m.mean_squared_error, 2.25 / 4, 1e-12);
    assert_float_equal(m.median_absolute_error, 0.75, 1e-12);      /* (0.5 + 1) / 2 */
    assert_float_equal(m.r2_score, 1 - 2.25 / 5.0, 1e-12);         /* SS_tot = 5 */
    assert_float_equal(m.explained_variance, 1 - 2.1875 / 5.0, 1e-12);
    double msle = (pow(log(4.0 / 3.5), 2) + 0 + pow(log(6.0 / 5.0), 2) + pow(log(3.0 / 4.0), 2)) / 4;
    assert_float_equal(m.mean_squared_log_error, msle, 1e-12);

    const double odd_y[] = {1, 2, 3}, odd_p[] = {1, 4, 3.5};
    assert_int_equal(mfkv_regression_eval(odd_y, odd_p, 3, &m), MFKV_OK);
    assert_float_equal(m.median_absolute_error, 0.5, 1e-12);

    const double flat[] = {2, 2}, exact[] = {2, 2}, off[] = {1, 3};
    assert_int_equal(mfkv_regression_eval(flat, exact, 2, &m), MFKV_OK);
    assert_float_equal(m.r2_score, 1, 0);
    assert_int_equal(mfkv_regression_eval(flat, off, 2, &m), MFKV_OK);
    assert_float_equal(m.r2_score, 0, 0);
}

static void ranking_metrics_match_hand_values(void **state)
{
    (void)state;
    /* hits at ranks 1 and 4 out of 3 relevant items */
    const uint32_t ranked[] = {5, 3, 9, 1}, relevant[] = {1, 5, 7};
    mfkv_ranking_metrics m;
    mfkv_ranking_eval(ranked, 4, 4, relevant, 3, &m);
    assert_float_equal(m.precision_at_k, 0.5, 1e-12);
    assert_float_equal(m.recall_at_k, 2.0 / 3, 1e-12);
    double dcg = 1 + 1 / log2(5), idcg = 1 + 1 / log2(3) + 0.5;
    assert_float_equal(m.ndcg_at_k, dcg / idcg, 1e-12);
    assert_float_equal(m.map_at_k, (1.0 + 2.0 / 4) / 3, 1e-12);

    /* k = 2 cuts the list: one hit; min(R, k) = 2 */
    mfkv_ranking_eval(ranked, 4, 2, relevant, 3, &m);
    assert_float_equal(m.precision_at_k, 0.5, 1e-12);
    assert_float_equal(m.ndcg_at_k, 1 / (1 + 1 / log2(3)), 1e-12);
    assert_float_equal(m.map_at_k, 0.5, 1e-12);
}

/* A hand-built model: ranking excludes training items and ranks by
 * item bias + dot; regression on the test rows only. */
static void eval_uses_split_and_excludes_training_items(void **state)
{
    (void)state;
    mfkv_ratings r;
    make_ratings(&r, 2, 4, 1.0); /* every pair rated, in order u0 i0..3, u1 i0..3 */
    mfkv_model m;
    mfkv_model_init(&m);
    m.n_factors = 1;
    m.global_bias = 3;
    uint32_t ix;
    for (uint32_t u = 0; u < 2; u++) {
        size_t len;
        const char *s = mfkv_idtab_str(&r.users, u, &len);
        mfkv_idtab_intern(&m.user_ids, s, len, &ix, NULL);
    }
    for (uint32_t i = 0; i < 4; i++) {
        size_t len;
        const char *s = mfkv_idtab_str(&r.items, i, &len);
        mfkv_idtab_intern(&m.item_ids, s, len, &ix, NULL);
    }
    assert_int_equal(mfkv_model_alloc(&m), MFKV_OK);
    m.user_factors[0] = 1;
    m.user_factors[1] = -1;
    const float q[4] = {0.4f, 0.3f, 0.2f, 0.1f};
    memcpy(m.item_factors, q, sizeof q);
    /* u0 scores items 0.4, 0.3, 0.2, 0.1; u1 the reverse order */
    for (size_t j = 0; j < r.n; j++) r.rating[j] = 4.5f;
    r.rating[2] = 2; /* u0 i2: not relevant */
    uint8_t is_test[8] = {0, 1, 1, 1, 0, 0, 0, 1}; /* u0 trained on i0, u1 on i0..i2 */
    mfkv_eval_result e;
    mfkv_diag d = {0};
    assert_int_equal(mfkv_eval(&m, &r, is_test, 2, 4.0, &e, &d), MFKV_OK);
    assert_int_equal(e.n, 4);
    assert_int_equal(e.n_ranked_users, 2);
    /* u0: list i1, i2 (i0 excluded); relevant {i1, i3}: hit at 1.
     * u1: list i3 only (others excluded); relevant {i3}: hit at 1. */
    assert_float_equal(e.ranking.precision_at_k, (0.5 + 0.5) / 2, 1e-12);
    assert_float_equal(e.ranking.recall_at_k, (0.5 + 1) / 2, 1e-12);
    assert_float_equal(e.ranking.ndcg_at_k, (1 / (1 + 1 / log2(3)) + 1) / 2, 1e-12);
    assert_float_equal(e.ranking.map_at_k, (0.5 + 1) / 2, 1e-12);
    /* predictions of the four test rows: 3 + dot */
    double y[4] = {4.5, 2, 4.5, 4.5}, p[4] = {3.3, 3.2, 3.1, 2.9};
    mfkv_regression_metrics want;
    assert_int_equal(mfkv_regression_eval(y, p, 4, &want), MFKV_OK);
    assert_float_equal(e.regression.mean_squared_error, want.mean_squared_error, 1e-6);
    assert_float_equal(e.regression.r2_score, want.r2_score, 1e-6);
    mfkv_model_free(&m);
    free_ratings(&r);
}

/* ---- ALS ---------------------------------------------------------------- */

/* Solve the (n x n) symmetric positive definite system A x = b in double
 * by Gaussian elimination (independent of the LAPACK path under test). */
static void solve_dense(double *a, double *b, int n)
{
    for (int c = 0; c < n; c++) {
        for (int r = c + 1; r < n; r++) {
            double f = a[r * n + c] / a[c * n + c];
            for (int k = c; k < n; k++) a[r * n + k] -= f * a[c * n + k];
            b[r] -= f * b[c];
        }
    }
    for (int c = n - 1; c >= 0; c--) {
        for (int k = c + 1; k < n; k++) b[c] -= a[c * n + k] * b[k];
        b[c] /= a[c * n + c];
    }
}

/* Assert that every row of one side (rows `own` of the ratings, against
 * columns `other`) holds the ridge solution of its own least-squares
 * problem given the other side's factors and biases, with the penalty
 * l2 + l2_per_rating * (its ratings), computed here in double by
 * solve_dense. */
static void assert_rows_are_ridge(const mfkv_ratings *r, int by_item, uint32_t n_rows,
                                  const float *own_f, const float *own_b, const float *other_f,
                                  const float *other_b, double global, int k,
                                  const mfkv_als_opts *o)
{
    const int dim = k + 1;
    double *a = malloc((size_t)dim * dim * sizeof *a), *b = malloc((size_t)dim * sizeof *b);
    double *x = malloc((size_t)dim * sizeof *x);
    for (uint32_t row = 0; row < n_rows; row++) {
        memset(a, 0, (size_t)dim * dim * sizeof *a);
        memset(b, 0, (size_t)dim * sizeof *b);
        size_t n = 0;
        for (size_t j = 0; j < r->n; j++) {
            if ((by_item ? r->item[j] : r->user[j]) != row) continue;
            n++;
            uint32_t c = by_item ? r->user[j] : r->item[j];
            for (int f = 0; f < k; f++) x[f] = other_f[(size_t)c * k + f];
            x[k] = 1;
            double t = r->rating[j] - global - other_b[c];
            for (int p = 0; p < dim; p++) {
                b[p] += x[p] * t;
                for (int q = 0; q < dim; q++) a[p * dim + q] += x[p] * x[q];
            }
        }
        for (int p = 0; p < dim; p++) a[p * dim + p] += o->l2 + o->l2_per_rating * (double)n;
        solve_dense(a, b, dim);
        for (int f = 0; f < k; f++) assert_float_equal(own_f[(size_t)row * k + f], b[f], 2e-4);
        assert_float_equal(own_b[row], b[k], 2e-4);
    }
    free(a);
    free(b);
    free(x);
}

/* The last half-step of every iteration solves the items with the users
 * fixed, so each item's factors and bias must be the ridge solution of its
 * own least-squares problem given the final user side. */
static void als_items_are_the_ridge_solution_given_users(void **state)
{
    (void)state;
    mfkv_ratings r;
    make_ratings(&r, 25, 12, 0.6);
    mfkv_als_opts o = small_opts();
    mfkv_model m;
    mfkv_train_info info;
    mfkv_diag d = {0};
    assert_int_equal(mfkv_als_train(&r, &o, NULL, NULL, &m, &info, &d), MFKV_OK);
    assert_rows_are_ridge(&r, 1, m.item_ids.n, m.item_factors, m.item_bias, m.user_factors,
                          m.user_bias, m.global_bias, (int)m.n_factors, &o);
    /* the global bias is the mean training rating */
    double sum = 0;
    for (size_t j = 0; j < r.n; j++) sum += r.rating[j];
    assert_float_equal(m.global_bias, sum / (double)r.n, 1e-9);
    mfkv_model_free(&m);
    mfkv_train_info_free(&info);
    free_ratings(&r);
}

/* Per iteration: users are solved given the previous iteration's items,
 * then items given those users; both checked against the double ridge
 * solution. */
typedef struct ridge_check {
    const mfkv_ratings *r;
    const mfkv_als_opts *o;
    float *prev_item_f, *prev_item_b;
    int checked;
} ridge_check;

static void check_both_sides(const mfkv_train_row *row, const mfkv_model *m, void *ctx)
{
    ridge_check *c = ctx;
    const int k = (int)m->n_factors;
    size_t nf = (size_t)m->item_ids.n * (size_t)k;
    if (row->iteration > 0) {
        assert_rows_are_ridge(c->r, 0, m->user_ids.n, m->user_factors, m->user_bias,
                              c->prev_item_f, c->prev_item_b, m->global_bias, k, c->o);
        c->checked++;
    }
    assert_rows_are_ridge(c->r, 1, m->item_ids.n, m->item_factors, m->item_bias, m->user_factors,
                          m->user_bias, m->global_bias, k, c->o);
    memcpy(c->prev_item_f, m->item_factors, nf * sizeof(float));
    memcpy(c->prev_item_b, m->item_bias, m->item_ids.n * sizeof(float));
}

/* A row with fewer ratings than factors + 1 is solved in the dual form,
 * one with more in the primal form; both must give the ridge solution.
 * 12 users x 60 items, 8 factors (9 unknowns per row): items 0-3 are
 * rated by every user (12 > 9), the rest by a few (< 9); users 0-5 rate
 * about 20 items, users 6-11 only the four popular ones.  The item side's
 * many small rows also cross the point where their dual kernels are read
 * from the users' Gram matrix; the user side's do not. */
static void als_dual_and_primal_rows_are_the_ridge_solution(void **state)
{
    (void)state;
    mfkv_ratings r;
    make_ratings(&r, 12, 60, 1.0);
    size_t kept = 0;
    uint64_t s = 777;
    uint32_t per_user[12] = {0}, per_item[60] = {0};
    for (size_t j = 0; j < r.n; j++) {
        uint32_t u = r.user[j], i = r.item[j];
        int keep = i < 4 || (u < 6 && lcg(&s) % 100 < 30) || (u >= 6 && i == 4 + u);
        if (!keep) continue;
        r.user[kept] = u;
        r.item[kept] = i;
        r.rating[kept] = r.rating[j];
        per_user[u]++;
        per_item[i]++;
        kept++;
    }
    r.n = kept;
    int small_users = 0, big_users = 0, small_items = 0, big_items = 0;
    for (int u = 0; u < 12; u++) {
        small_users += per_user[u] < 9;
        big_users += per_user[u] > 9;
    }
    for (int i = 0; i < 60; i++) {
        small_items += per_item[i] > 0 && per_item[i] < 9;
        big_items += per_item[i] > 9;
    }
    assert_true(small_users > 0 && big_users > 0 && small_items > 0 && big_items > 0);

    mfkv_als_opts o = small_opts();
    o.factors = 8;
    o.l2 = 0.9;
    o.iterations = 3;
    ridge_check c = {.r = &r, .o = &o};
    c.prev_item_f = malloc(60 * 8 * sizeof(float));
    c.prev_item_b = malloc(60 * sizeof(float));
    mfkv_model m;
    mfkv_train_info info;
    mfkv_diag d = {0};
    assert_int_equal(mfkv_als_train(&r, &o, check_both_sides, &c, &m, &info, &d), MFKV_OK);
    assert_int_equal(c.checked, 2);
    free(c.prev_item_f);
    free(c.prev_item_b);
    mfkv_model_free(&m);
    mfkv_train_info_free(&info);
    free_ratings(&r);
}

typedef struct objective_log {
    const mfkv_ratings *r;
    const mfkv_als_opts *o;
    double objective[32], loss[32];
    int n;
} objective_log;

/* (l2 + l2_per_rating * n) * (|factors|^2 + bias^2) summed over the
 * rows of one side, n[row] counting the row's ratings. */
static double side_penalty(const float *f, const float *b, uint32_t rows, size_t k,
                           const size_t *n, const mfkv_als_opts *o)
{
    double total = 0;
    for (uint32_t x = 0; x < rows; x++) {
        double sq = pow(b[x], 2);
        for (size_t c = 0; c < k; c++) sq += pow(f[x * k + c], 2);
        total += (o->l2 + o->l2_per_rating * (double)n[x]) * sq;
    }
    return total;
}

/* Recompute the objective ALS minimises, in double, from the model. */
static void log_objective(const mfkv_train_row *row, const mfkv_model *m, void *ctx)
{
    objective_log *log = ctx;
    double sse = 0;
    size_t *n_user = calloc(m->user_ids.n, sizeof *n_user);
    size_t *n_item = calloc(m->item_ids.n, sizeof *n_item);
    for (size_t j = 0; j < log->r->n; j++) {
        double e = log->r->rating[j] - mfkv_model_predict(m, log->r->user[j], log->r->item[j]);
        sse += e * e;
        n_user[log->r->user[j]]++;
        n_item[log->r->item[j]]++;
    }
    size_t k = m->n_factors;
    double penalty =
        side_penalty(m->user_factors, m->user_bias, m->user_ids.n, k, n_user, log->o) +
        side_penalty(m->item_factors, m->item_bias, m->item_ids.n, k, n_item, log->o);
    free(n_user);
    free(n_item);
    assert_float_equal(row->loss, sse / (double)log->r->n, 1e-9);
    log->objective[log->n] = sse + penalty;
    log->loss[log->n] = row->loss;
    log->n++;
}

/* ALS decreases the regularised objective at every half-step (each is an
 * exact minimisation over one side), so that never increases.  The
 * reported loss is the plain training MSE, which can rise slightly late in
 * training as the penalty trades fit for smaller weights: it is checked to
 * be the MSE, and to never rise above its first value. */
static void als_objective_never_increases(void **state)
{
    (void)state;
    mfkv_ratings r;
    make_ratings(&r, 30, 20, 0.5);
    mfkv_als_opts o = small_opts();
    o.iterations = 15;
    objective_log log = {.r = &r, .o = &o};
    mfkv_model m;
    mfkv_train_info info;
    mfkv_diag d = {0};
    assert_int_equal(mfkv_als_train(&r, &o, log_objective, &log, &m, &info, &d), MFKV_OK);
    assert_int_equal(log.n, 15);
    assert_int_equal(info.n_rows, 15);
    for (int it = 1; it < log.n; it++) {
        assert_true(log.objective[it] <= log.objective[it - 1] * (1 + 1e-6));
        assert_true(log.loss[it] <= log.loss[0]);
        assert_float_equal(info.rows[it].loss, log.loss[it], 0);
        assert_int_equal(info.rows[it].iteration, it);
        assert_true(isnan(info.rows[it].eval_loss));
    }
    mfkv_model_free(&m);
    mfkv_train_info_free(&info);
    free_ratings(&r);
}

static void als_early_stop_and_holdout(void **state)
{
    (void)state;
    mfkv_ratings r;
    make_ratings(&r, 30, 20, 0.6);
    mfkv_als_opts o = small_opts();
    o.iterations = 50;
    o.early_stop = 1;
    o.min_rel_progress = 0.01;
    o.holdout = 0.25;
    mfkv_model m;
    mfkv_train_info info;
    mfkv_diag d = {0};
    assert_int_equal(mfkv_als_train(&r, &o, NULL, NULL, &m, &info, &d), MFKV_OK);
    assert_true(info.n_rows >= 2 && info.n_rows < 50);
    const mfkv_train_row *last = &info.rows[info.n_rows - 1], *prev = last - 1;
    assert_true((prev->loss - last->loss) / prev->loss < 0.01);
    assert_int_equal(info.n_train + info.n_holdout, r.n);
    assert_true(info.n_holdout > 0);
    /* the split the model recorded is the one mfkv_holdout_split gives */
    uint8_t *split = malloc(r.n);
    mfkv_holdout_split(r.n, o.holdout, o.seed, split);
    size_t held = 0;
    double sse = 0;
    for (size_t j = 0; j < r.n; j++) {
        if (!split[j]) continue;
        held++;
        double e = r.rating[j] - mfkv_model_predict(&m, r.user[j], r.item[j]);
        sse += e * e;
    }
    assert_int_equal(held, info.n_holdout);
    assert_float_equal(last->eval_loss, sse / (double)held, 1e-9);
    free(split);
    mfkv_model_free(&m);
    mfkv_train_info_free(&info);
    free_ratings(&r);
}

static void als_is_deterministic(void **state)
{
    (void)state;
    mfkv_ratings r;
    make_ratings(&r, 40, 25, 0.5);
    mfkv_als_opts o = small_opts();
    mfkv_model a, b, c;
    mfkv_train_info ia, ib, ic;
    mfkv_diag d = {0};
    o.threads = 2;
    assert_int_equal(mfkv_als_train(&r, &o, NULL, NULL, &a, &ia, &d), MFKV_OK);
    assert_int_equal(mfkv_als_train(&r, &o, NULL, NULL, &b, &ib, &d), MFKV_OK);
    o.threads = 1;
    assert_int_equal(mfkv_als_train(&r, &o, NULL, NULL, &c, &ic, &d), MFKV_OK);
    size_t uf = (size_t)a.user_ids.n * a.n_factors * sizeof(float);
    size_t itf = (size_t)a.item_ids.n * a.n_factors * sizeof(float);
    const mfkv_model *others[] = {&b, &c};
    for (int x = 0; x < 2; x++) {
        assert_memory_equal(a.user_factors, others[x]->user_factors, uf);
        assert_memory_equal(a.item_factors, others[x]->item_factors, itf);
        assert_memory_equal(a.user_bias, others[x]->user_bias, a.user_ids.n * sizeof(float));
        assert_memory_equal(a.item_bias, others[x]->item_bias, a.item_ids.n * sizeof(float));
    }
    /* another seed starts elsewhere */
    mfkv_model e;
    mfkv_train_info ie;
    o.seed = 10;
    assert_int_equal(mfkv_als_train(&r, &o, NULL, NULL, &e, &ie, &d), MFKV_OK);
    assert_memory_not_equal(a.item_factors, e.item_factors, itf);
    mfkv_model *all[] = {&a, &b, &c, &e};
    mfkv_train_info *infos[] = {&ia, &ib, &ic, &ie};
    for (int x = 0; x < 4; x++) {
        mfkv_model_free(all[x]);
        mfkv_train_info_free(infos[x]);
    }
    free_ratings(&r);
}

static void als_rejects_bad_options(void **state)
{
    (void)state;
    mfkv_ratings r;
    make_ratings(&r, 5, 5, 0.8);
    mfkv_model m;
    mfkv_train_info info;
    mfkv_diag d = {0};
    mfkv_als_opts o = small_opts();
    o.l2 = 0;
    assert_int_equal(mfkv_als_train(&r, &o, NULL, NULL, &m, &info, &d), MFKV_INVAL);
    assert_non_null(strstr(d.msg, "l2"));
    o = small_opts();
    o.holdout = 1;
    assert_int_equal(mfkv_als_train(&r, &o, NULL, NULL, &m, &info, &d), MFKV_INVAL);
    o = small_opts();
    o.threads = 0;
    assert_int_equal(mfkv_als_train(&r, &o, NULL, NULL, &m, &info, &d), MFKV_INVAL);
    assert_null(m.user_factors);
    free_ratings(&r);
}

/* ---- model file --------------------------------------------------------- */

typedef struct trained {
    mfkv_ratings r;
    mfkv_model m;
    mfkv_train_info info;
    char *dir;
    char path[512];
} trained;

static int setup_trained(void **state)
{
    trained *t = calloc(1, sizeof *t);
    make_ratings(&t->r, 12, 9, 0.7);
    mfkv_als_opts o = small_opts();
    o.holdout = 0.2;
    mfkv_diag d = {0};
    if (mfkv_als_train(&t->r, &o, NULL, NULL, &t->m, &t->info, &d) != MFKV_OK) return -1;
    t->dir = temp_dir();
    snprintf(t->path, sizeof t->path, "%s/model.mfkvm", t->dir);
    *state = t;
    return 0;
}

static int teardown_trained(void **state)
{
    trained *t = *state;
    mfkv_model_free(&t->m);
    mfkv_train_info_free(&t->info);
    free_ratings(&t->r);
    remove_dir(t->dir);
    free(t);
    return 0;
}

static void assert_models_equal(const mfkv_model *a, const mfkv_model *b)
{
    assert_int_equal(a->n_factors, b->n_factors);
    assert_memory_equal(&a->global_bias, &b->global_bias, sizeof a->global_bias);
    assert_int_equal(a->user_ids.n, b->user_ids.n);
    assert_int_equal(a->item_ids.n, b->item_ids.n);
    for (uint32_t u = 0; u < a->user_ids.n; u++)
        assert_string_equal(mfkv_idtab_str(&a->user_ids, u, NULL),
                            mfkv_idtab_str(&b->user_ids, u, NULL));
    for (uint32_t i = 0; i < a->item_ids.n; i++)
        assert_string_equal(mfkv_idtab_str(&a->item_ids, i, NULL),
                            mfkv_idtab_str(&b->item_ids, i, NULL));
    size_t k = a->n_factors;
    assert_memory_equal(a->user_factors, b->user_factors, a->user_ids.n * k * sizeof(float));
    assert_memory_equal(a->item_factors, b->item_factors, a->item_ids.n * k * sizeof(float));
    assert_memory_equal(a->user_bias, b->user_bias, a->user_ids.n * sizeof(float));
    assert_memory_equal(a->item_bias, b->item_bias, a->item_ids.n * sizeof(float));
}

static void modelfile_round_trip(void **state)
{
    trained *t = *state;
    mfkv_diag d = {0};
    assert_int_equal(mfkv_modelfile_write(t->path, &t->m, &t->info, &d), MFKV_OK);
    assert_int_equal(count_entries(t->dir), 1); /* no temporary left */
    mfkv_model m;
    mfkv_train_info info;
    assert_int_equal(mfkv_modelfile_read(t->path, &m, &info, &d), MFKV_OK);
    assert_models_equal(&t->m, &m);
    assert_memory_equal(&info.opts, &t->info.opts, sizeof info.opts);
    assert_int_equal(info.n_ratings, t->info.n_ratings);
    assert_int_equal(info.n_train, t->info.n_train);
    assert_int_equal(info.n_holdout, t->info.n_holdout);
    assert_int_equal(info.ratings_hash, mfkv_ratings_fingerprint(&t->r));
    assert_int_equal(info.n_rows, t->info.n_rows);
    assert_memory_equal(info.rows, t->info.rows, info.n_rows * sizeof *info.rows);
    mfkv_model_free(&m);
    mfkv_train_info_free(&info);

    /* without a training record, and read without asking for one */
    assert_int_equal(mfkv_modelfile_write(t->path, &t->m, NULL, &d), MFKV_OK);
    assert_int_equal(mfkv_modelfile_read(t->path, &m, NULL, &d), MFKV_OK);
    assert_models_equal(&t->m, &m);
    mfkv_model_free(&m);
}

static unsigned char *read_all(const char *path, size_t *size)
{
    FILE *f = fopen(path, "rb");
    assert_non_null(f);
    fseek(f, 0, SEEK_END);
    *size = (size_t)ftell(f);
    rewind(f);
    unsigned char *data = malloc(*size);
    assert_int_equal(fread(data, 1, *size, f), *size);
    fclose(f);
    return data;
}

static void write_all(const char *path, const unsigned char *data, size_t size)
{
    FILE *f = fopen(path, "wb");
    assert_non_null(f);
    assert_int_equal(fwrite(data, 1, size, f), size);
    fclose(f);
}

/* Write @p data to @p path and read it as a model: the status, after
 * checking that a refused read leaves the model empty. */
static int read_damaged(const char *path, const unsigned char *data, size_t size)
{
    write_all(path, data, size);
    mfkv_model m;
    mfkv_diag d = {0};
    int rc = mfkv_modelfile_read(path, &m, NULL, &d);
    if (rc != MFKV_OK) assert_null(m.user_factors);
    mfkv_model_free(&m);
    return rc;
}

static void modelfile_refuses_any_flipped_byte(void **state)
{
    trained *t = *state;
    mfkv_diag d = {0};
    assert_int_equal(mfkv_modelfile_write(t->path, &t->m, &t->info, &d), MFKV_OK);
    size_t size;
    unsigned char *good = read_all(t->path, &size);
    char bad_path[600];
    snprintf(bad_path, sizeof bad_path, "%s/flipped", t->dir);
    for (size_t at = 0; at < size; at++) {
        good[at] ^= 0x10;
        /* the magic identifies the format; every byte after it is checked */
        int rc = read_damaged(bad_path, good, size);
        good[at] ^= 0x10;
        assert_int_equal(rc, at < 8 ? MFKV_FORMAT : MFKV_CORRUPT);
    }
    free(good);
    unlink(bad_path);
}

/* A version-1 file is a version-2 file without the f64 l2_per_rating
 * after l2 (offset 72: header 32, four u32 counts, f64 global bias,
 * u32 has_info, u32 factors, f64 l2); it reads with l2_per_rating 0. */
static void modelfile_reads_version_1(void **state)
{
    trained *t = *state;
    mfkv_diag d = {0};
    assert_int_equal(mfkv_modelfile_write(t->path, &t->m, &t->info, &d), MFKV_OK);
    size_t size;
    unsigned char *v2 = read_all(t->path, &size);
    double stored;
    memcpy(&stored, v2 + 72, sizeof stored);
    assert_float_equal(stored, t->info.opts.l2_per_rating, 0);
    unsigned char *v1 = malloc(size - 8);
    memcpy(v1, v2, 72);
    memcpy(v1 + 72, v2 + 80, size - 80);
    mfkv_put_u32(v1 + 8, 1);
    mfkv_put_u64(v1 + 16, size - 8);
    mfkv_put_u64(v1 + size - 16, XXH3_64bits(v1, size - 16));
    write_all(t->path, v1, size - 8);
    mfkv_model m;
    mfkv_train_info info;
    assert_int_equal(mfkv_modelfile_read(t->path, &m, &info, &d), MFKV_OK);
    assert_models_equal(&t->m, &m);
    mfkv_als_opts want = t->info.opts;
    want.l2_per_rating = 0;
    assert_memory_equal(&info.opts, &want, sizeof want);
    assert_int_equal(info.n_rows, t->info.n_rows);
    mfkv_model_free(&m);
    mfkv_train_info_free(&info);
    free(v1);
    free(v2);
}

static void modelfile_refuses_truncation(void **state)
{
    trained *t = *state;
    mfkv_diag d = {0};
    assert_int_equal(mfkv_modelfile_write(t->path, &t->m, &t->info, &d), MFKV_OK);
    size_t size;
    unsigned char *good = read_all(t->path, &size);
    char cut_path[600];
    snprintf(cut_path, sizeof cut_path, "%s/cut", t->dir);
    const size_t lengths[] = {0, 5, 8, 39, size / 2, size - 8, size - 1};
    for (size_t x = 0; x < sizeof lengths / sizeof lengths[0]; x++) {
        int rc = read_damaged(cut_path, good, lengths[x]);
        assert_true(rc == MFKV_FORMAT || rc == MFKV_CORRUPT);
    }
    free(good);
    unlink(cut_path);
    mfkv_model m;
    assert_int_equal(mfkv_modelfile_read(cut_path, &m, NULL, &d), MFKV_IO);
}

static void modelfile_write_failure_leaves_nothing(void **state)
{
    trained *t = *state;
    mfkv_diag d = {0};
    /* the target is a folder: the rename fails after the data was written */
    char target[600];
    snprintf(target, sizeof target, "%s/taken", t->dir);
    assert_int_equal(mkdir(target, 0755), 0);
    assert_int_not_equal(mfkv_modelfile_write(target, &t->m, &t->info, &d), MFKV_OK);
    assert_int_equal(count_entries(t->dir), 1);
    struct stat st;
    assert_int_equal(stat(target, &st), 0);
    assert_true(S_ISDIR(st.st_mode));
    rmdir(target);
    /* a missing folder: nothing can be created */
    snprintf(target, sizeof target, "%s/missing/model", t->dir);
    assert_int_equal(mfkv_modelfile_write(target, &t->m, &t->info, &d), MFKV_IO);
    assert_int_equal(count_entries(t->dir), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(regression_metrics_match_hand_values),
        cmocka_unit_test(ranking_metrics_match_hand_values),
        cmocka_unit_test(eval_uses_split_and_excludes_training_items),
        cmocka_unit_test(als_items_are_the_ridge_solution_given_users),
        cmocka_unit_test(als_dual_and_primal_rows_are_the_ridge_solution),
        cmocka_unit_test(als_objective_never_increases),
        cmocka_unit_test(als_early_stop_and_holdout),
        cmocka_unit_test(als_is_deterministic),
        cmocka_unit_test(als_rejects_bad_options),
        cmocka_unit_test_setup_teardown(modelfile_round_trip, setup_trained, teardown_trained),
        cmocka_unit_test_setup_teardown(modelfile_refuses_any_flipped_byte, setup_trained,
                                        teardown_trained),
        cmocka_unit_test_setup_teardown(modelfile_reads_version_1, setup_trained, teardown_trained),
        cmocka_unit_test_setup_teardown(modelfile_refuses_truncation, setup_trained,
                                        teardown_trained),
        cmocka_unit_test_setup_teardown(modelfile_write_failure_leaves_nothing, setup_trained,
                                        teardown_trained),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
