#include "als.h"

#include <cblas.h>
#include <math.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <xxhash.h>

#include "builder/blas_kernel.h"
#include "builder/blas_threads.h"
#include "common/splitmix.h"
#include "common/clock.h"
#include "mfkv.h"

/* LAPACK's Fortran entry points (OpenBLAS exports them; no lapacke here). */
void spotrf_(const char *uplo, const int *n, float *a, const int *lda, int *info);

/*
 * The Gram matrix of a row is built by gathering its feature rows into a
 * block and calling cblas_ssyrk on the block.  Measured on the ML-1M-sized
 * synthetic set (60 factors, 2 threads, one user + item sweep): ssyrk
 * 112 ms, sgemm of the block with itself 135 ms, a cblas_ssyr rank-1 update
 * per rating 930 ms (BLAS-2 calls on a 61 x 61 matrix are call overhead).
 * GATHER_ROWS ratings per call bounds a thread's buffer while keeping each
 * call large enough to run at kernel speed.
 */
#define GATHER_ROWS 2048

void mfkv_als_opts_default(mfkv_als_opts *o)
{
    memset(o, 0, sizeof *o);
    o->l2 = MFKV_ALS_DEFAULT_L2;
    o->l2_per_rating = MFKV_ALS_DEFAULT_L2_PER_RATING;
    o->iterations = MFKV_ALS_DEFAULT_ITERATIONS;
    o->early_stop = 1;
    o->min_rel_progress = MFKV_ALS_DEFAULT_MIN_REL_PROGRESS;
    o->threads = MFKV_ALS_DEFAULT_THREADS;
}

void mfkv_train_info_init(mfkv_train_info *info) { memset(info, 0, sizeof *info); }

void mfkv_train_info_free(mfkv_train_info *info)
{
    if (!info) return;
    free(info->rows);
    memset(info, 0, sizeof *info);
}

void mfkv_holdout_split(size_t n, double fraction, uint64_t seed, uint8_t *is_holdout)
{
    /* Compare the top 53 bits as a double in [0, 1). */
    uint64_t key = mfkv_splitmix64(seed ^ 0x5EEDull);
    for (size_t j = 0; j < n; j++) {
        double u = (double)(mfkv_splitmix64(key + j) >> 11) * 0x1p-53;
        is_holdout[j] = u < fraction;
    }
}

uint64_t mfkv_ratings_fingerprint(const mfkv_ratings *r)
{
    XXH3_state_t *st = XXH3_createState();
    if (!st) return 0;
    XXH3_64bits_reset(st);
    uint64_t n = r->n;
    XXH3_64bits_update(st, &n, sizeof n);
    XXH3_64bits_update(st, r->user, r->n * sizeof *r->user);
    XXH3_64bits_update(st, r->item, r->n * sizeof *r->item);
    XXH3_64bits_update(st, r->rating, r->n * sizeof *r->rating);
    /* Indices are assigned in order of first appearance, so the pools of id
     * strings complete the identity of the data. */
    XXH3_64bits_update(st, r->users.pool, r->users.pool_len);
    XXH3_64bits_update(st, r->items.pool, r->items.pool_len);
    uint64_t h = XXH3_64bits_digest(st);
    XXH3_freeState(st);
    return h;
}

/* Compressed rows: the training ratings of row `r` are
 * col[start[r] .. start[r+1]) with values val[...]. */
typedef struct csr {
    uint32_t n_rows;
    size_t *start;
    uint32_t *col;
    float *val;
} csr;

static void csr_free(csr *c)
{
    free(c->start);
    free(c->col);
    free(c->val);
}

/* Build the row-major index of the selected ratings (keep[j] == want),
 * rows taken from @p rows, columns from @p cols.  Counting sort, so the
 * order within a row is input order: deterministic. */
static int csr_build(csr *c, uint32_t n_rows, const uint32_t *rows, const uint32_t *cols,
                     const float *vals, size_t n, const uint8_t *keep, uint8_t want)
{
    c->n_rows = n_rows;
    c->start = calloc((size_t)n_rows + 1, sizeof *c->start);
    if (!c->start) return MFKV_NOMEM;
    for (size_t j = 0; j < n; j++)
        if (keep[j] == want) c->start[rows[j] + 1]++;
    for (uint32_t r = 0; r < n_rows; r++) c->start[r + 1] += c->start[r];
    size_t nnz = c->start[n_rows];
    c->col = malloc((nnz + 1) * sizeof *c->col);
    c->val = malloc((nnz + 1) * sizeof *c->val);
    size_t *fill = malloc(((size_t)n_rows + 1) * sizeof *fill);
    if (!c->col || !c->val || !fill) {
        free(fill);
        return MFKV_NOMEM;
    }
    memcpy(fill, c->start, ((size_t)n_rows + 1) * sizeof *fill);
    for (size_t j = 0; j < n; j++) {
        if (keep[j] != want) continue;
        size_t at = fill[rows[j]]++;
        c->col[at] = cols[j];
        c->val[at] = vals[j];
    }
    free(fill);
    return MFKV_OK;
}

/* One half-iteration: solve every row of one side with the other fixed. */
typedef struct side {
    const csr *ratings;     /* this side's training ratings */
    float *factors, *bias;  /* solved: n_rows x F and n_rows */
    const float *other_factors, *other_bias;
    /* NULL, or the n_other-square Gram matrix of other_factors (row-major,
     * upper triangle): the dual kernels of this side's rows are read from
     * it instead of being multiplied out row by row. */
    float *other_gram;
    uint32_t n_other;
} side;

typedef struct solver {
    uint32_t nf;      /* factors */
    float global;
    double l2, l2_per_rating;
    const side *s;
    uint32_t row_begin, row_end;
    /* scratch, per thread */
    float *gather;    /* GATHER_ROWS x (nf + 1) */
    float *target;    /* GATHER_ROWS */
    float *gram;      /* (nf + 1) x (nf + 1) */
    int status;
    uint32_t failed_row;
    /* scoring: the squared errors of rows [row_begin, row_end) of
     * scored[j] into row_sse[j][row] */
    const mfkv_model *m;
    const csr *scored[2];
    double *row_sse[2];
} solver;

/*
 * Row r's least-squares problem in the augmented form.
 *
 * The bias is folded into the factor vector: the unknowns are x = [p, b]
 * and each rating contributes a feature row [q_i, 1] with target
 * rating - global - other_bias.  One Cholesky solve then gives factors and
 * bias jointly, exactly minimising the objective for this row.  Solving
 * the bias separately (first the bias, then the factors) would be a block
 * coordinate step that needs several rounds to reach the same point, and
 * every round costs as much as the joint solve.  The bias coordinate gets
 * the same penalty as the factors: a user with three ratings should not be
 * allowed a bias far from zero (leaving it unpenalised, or at a tenth of
 * l2, raised the held-out RMSE on MovieLens latest-small from 0.852 to
 * 0.855-0.873), and it keeps every system positive definite.  The penalty
 * of the row, l2 + l2_per_rating * n, is one multiple of the identity.
 *
 * With A the n x (F+1) feature rows and t the targets, the ridge solution
 * has two exact forms:
 *   primal  x = (A^T A + l2 I)^-1 A^T t   a (F+1)-square system,
 *   dual    x = A^T (A A^T + l2 I)^-1 t   an n-square system,
 * equal because A^T (A A^T + l2 I) = (A^T A + l2 I) A^T for any scalar
 * penalty l2 of the row.  The dual costs
 * about n^2 (F+1) / 2 + n^3 / 3 flops against n (F+1)^2 / 2 + (F+1)^3 / 3,
 * so it is the cheaper one exactly when n < F + 1: most items of a
 * MovieLens set (97% of those of latest-small at 60 factors) and many
 * users.  The dual form needs the penalty to be a multiple of the
 * identity, which it is: the same for every coordinate of a row.
 */
static int use_dual(size_t n, int dim) { return n < (size_t)dim && n <= GATHER_ROWS; }

/* Flops of row r's solve in the form use_dual picks. */
static double solve_cost(size_t n, int dim)
{
    double nn = (double)n, d = dim;
    return use_dual(n, dim) ? nn * nn * d / 2 + nn * nn * nn / 3 : nn * d * d / 2 + d * d * d / 3;
}

/* Copy ratings [at, at + rows) of row r's side into w->gather as feature
 * rows [q, 1] and their targets into w->target. */
static void gather(solver *w, size_t at, int rows)
{
    const side *s = w->s;
    const size_t nf = w->nf, dim = nf + 1;
    for (int j = 0; j < rows; j++) {
        uint32_t c = s->ratings->col[at + (size_t)j];
        float *row = w->gather + (size_t)j * dim;
        memcpy(row, s->other_factors + (size_t)c * nf, nf * sizeof *row);
        row[nf] = 1.0f;
        w->target[j] = s->ratings->val[at + (size_t)j] - w->global - s->other_bias[c];
    }
}

/* Cholesky-solve the n-square system in w->gram (its lower triangle in
 * LAPACK's column-major view) for @p rhs, after adding @p penalty to the
 * diagonal.
 * Two triangular solves rather than spotrs_: for one right-hand side they
 * are BLAS-2 calls, which skip the buffer allocation (a lock shared by
 * all threads) of spotrs_'s strsm; that lock is felt on the many small
 * systems of the dual form. */
static int ridge_solve(solver *w, int n, double penalty, float *rhs)
{
    for (int d = 0; d < n; d++) w->gram[(size_t)d * (size_t)n + (size_t)d] += (float)penalty;
    int info = 0;
    spotrf_("L", &n, w->gram, &n, &info);
    if (info != 0) return MFKV_INTERNAL;
    cblas_strsv(CblasColMajor, CblasLower, CblasNoTrans, CblasNonUnit, n, w->gram, n, rhs, 1);
    cblas_strsv(CblasColMajor, CblasLower, CblasTrans, CblasNonUnit, n, w->gram, n, rhs, 1);
    return MFKV_OK;
}

/* The penalty of a row with @p n training ratings. */
static double row_penalty(const solver *w, size_t n) { return w->l2 + w->l2_per_rating * (double)n; }

/* Primal form into x[0..dim), the ratings gathered GATHER_ROWS at a time. */
static int solve_primal(solver *w, size_t begin, size_t end, float *x)
{
    const int dim = (int)w->nf + 1;
    memset(x, 0, (size_t)dim * sizeof *x);
    for (size_t at = begin; at < end; at += GATHER_ROWS) {
        int rows = (int)(end - at < GATHER_ROWS ? end - at : GATHER_ROWS);
        gather(w, at, rows);
        /* Row-major upper triangle of G (+)= A^T A, which is the lower
         * triangle in LAPACK's column-major view. */
        cblas_ssyrk(CblasRowMajor, CblasUpper, CblasTrans, dim, rows, 1.0f, w->gather, dim,
                    at == begin ? 0.0f : 1.0f, w->gram, dim);
        cblas_sgemv(CblasRowMajor, CblasTrans, rows, dim, 1.0f, w->gather, dim, w->target, 1, 1.0f,
                    x, 1);
    }
    return ridge_solve(w, dim, row_penalty(w, end - begin), x);
}

/* Dual form into x[0..dim); n <= GATHER_ROWS, so one gather holds every
 * rating, and n < dim, so the n-square kernel fits in the Gram buffer. */
static int solve_dual(solver *w, size_t begin, int n, float *x)
{
    const side *s = w->s;
    const int dim = (int)w->nf + 1;
    gather(w, begin, n);
    if (s->other_gram) {
        /* Upper triangle of A A^T: entry (j, l) is q_j . q_l + 1. */
        const uint32_t *col = s->ratings->col + begin;
        for (int j = 0; j < n; j++) {
            for (int l = j; l < n; l++) {
                uint32_t a = col[j] < col[l] ? col[j] : col[l], b = col[j] ^ col[l] ^ a;
                w->gram[(size_t)j * (size_t)n + (size_t)l] =
                    s->other_gram[(size_t)a * s->n_other + b] + 1.0f;
            }
        }
    } else {
        cblas_ssyrk(CblasRowMajor, CblasUpper, CblasNoTrans, n, dim, 1.0f, w->gather, dim, 0.0f,
                    w->gram, n);
    }
    int rc = ridge_solve(w, n, row_penalty(w, (size_t)n), w->target);
    if (rc) return rc;
    cblas_sgemv(CblasRowMajor, CblasTrans, n, dim, 1.0f, w->gather, dim, w->target, 1, 0.0f, x, 1);
    return MFKV_OK;
}

static int solve_row(solver *w, uint32_t r)
{
    const side *s = w->s;
    const int nf = (int)w->nf, dim = nf + 1;
    size_t begin = s->ratings->start[r], end = s->ratings->start[r + 1];
    float *x = w->gram + (size_t)dim * (size_t)dim; /* dim floats after the Gram matrix */
    if (begin == end) {
        memset(x, 0, (size_t)dim * sizeof *x);
    } else {
        int rc = use_dual(end - begin, dim) ? solve_dual(w, begin, (int)(end - begin), x)
                                            : solve_primal(w, begin, end, x);
        if (rc) return rc;
    }
    memcpy(s->factors + (size_t)r * (size_t)nf, x, (size_t)nf * sizeof *x);
    s->bias[r] = x[nf];
    return MFKV_OK;
}

static void *solve_rows(void *arg)
{
    solver *w = arg;
    for (uint32_t r = w->row_begin; r < w->row_end; r++) {
        if (solve_row(w, r) != MFKV_OK) {
            w->status = MFKV_INTERNAL;
            w->failed_row = r;
            break;
        }
    }
    return NULL;
}

/* Thread t solves rows [bounds[t], bounds[t+1]), chosen so that every
 * thread gets about the same flops (solve_cost).  A function of the data
 * only: deterministic. */
static void partition(const csr *c, uint32_t nf, uint32_t threads, uint32_t *bounds)
{
    double total = 0;
    for (uint32_t r = 0; r < c->n_rows; r++)
        total += solve_cost(c->start[r + 1] - c->start[r], (int)nf + 1);
    bounds[0] = 0;
    double acc = 0;
    uint32_t t = 1, r = 0;
    for (; r < c->n_rows && t < threads; r++) {
        acc += solve_cost(c->start[r + 1] - c->start[r], (int)nf + 1);
        while (t < threads && acc >= total * t / threads) bounds[t++] = r + 1;
    }
    while (t <= threads) bounds[t++] = c->n_rows;
}

typedef struct training {
    uint8_t *is_holdout;
    csr by_user, by_item, holdout_by_user;
    solver *workers;
    uint32_t *user_bounds, *item_bounds;
    double *row_sse; /* 2 x users: training, held-out */
    float *user_gram, *item_gram; /* side.other_gram of the item / user side, or NULL */
} training;

/* Run @p fn on every worker, worker t on rows [bounds[t], bounds[t+1]). */
static void run_workers(solver *workers, uint32_t threads, const uint32_t *bounds,
                        void *(*fn)(void *))
{
    pthread_t tid[threads];
    int joined[threads];
    for (uint32_t t = 0; t < threads; t++) {
        workers[t].row_begin = bounds[t];
        workers[t].row_end = bounds[t + 1];
        joined[t] = 0;
    }
    for (uint32_t t = 1; t < threads; t++) {
        joined[t] = pthread_create(&tid[t], NULL, fn, &workers[t]) == 0;
        if (!joined[t]) fn(&workers[t]); /* no thread to be had: work here */
    }
    fn(&workers[0]);
    for (uint32_t t = 1; t < threads; t++)
        if (joined[t]) pthread_join(tid[t], NULL);
}

/* Solve one side on all workers; returns the first failure. */
static int run_side(solver *workers, uint32_t threads, const side *s, const uint32_t *bounds,
                    uint32_t *failed_row)
{
    for (uint32_t t = 0; t < threads; t++) {
        workers[t].s = s;
        workers[t].status = MFKV_OK;
    }
    run_workers(workers, threads, bounds, solve_rows);
    for (uint32_t t = 0; t < threads; t++) {
        if (workers[t].status != MFKV_OK) {
            *failed_row = workers[t].failed_row;
            return workers[t].status;
        }
    }
    return MFKV_OK;
}

/* mfkv_score_dot's terms, summed in four independent chains: one chain is
 * a dependent add per factor, which made scoring the training ratings an
 * eighth of the training time.  The different order is fine because this
 * only measures the training loss; it never ranks anything. */
static double dot_f64(const float *a, const float *b, uint32_t n)
{
    double s[4] = {0, 0, 0, 0};
    uint32_t f = 0;
    for (; f + 4 <= n; f += 4)
        for (int l = 0; l < 4; l++) s[l] += (double)a[f + (uint32_t)l] * (double)b[f + (uint32_t)l];
    for (; f < n; f++) s[0] += (double)a[f] * (double)b[f];
    return (s[0] + s[1]) + (s[2] + s[3]);
}

static void *score_rows(void *arg)
{
    solver *w = arg;
    const mfkv_model *m = w->m;
    const size_t nf = m->n_factors;
    for (int j = 0; j < 2; j++) {
        const csr *c = w->scored[j];
        for (uint32_t u = w->row_begin; u < w->row_end; u++) {
            const float *p = m->user_factors + u * nf;
            double base = m->global_bias + (double)m->user_bias[u], sse = 0;
            for (size_t at = c->start[u]; at < c->start[u + 1]; at++) {
                uint32_t i = c->col[at];
                double e = (double)c->val[at] - (base + (double)m->item_bias[i] +
                                                 dot_f64(p, m->item_factors + i * nf, m->n_factors));
                sse += e * e;
            }
            w->row_sse[j][u] = sse;
        }
    }
    return NULL;
}

/* Sums of squared errors over the training and the held-out ratings, the
 * rows scored in parallel and their sums added in row order, so the
 * result never depends on the thread count. */
static void squared_errors(training *t, uint32_t threads, const mfkv_model *m, double sse[2])
{
    for (uint32_t w = 0; w < threads; w++) {
        t->workers[w].m = m;
        t->workers[w].scored[0] = &t->by_user;
        t->workers[w].scored[1] = &t->holdout_by_user;
        t->workers[w].row_sse[0] = t->row_sse;
        t->workers[w].row_sse[1] = t->row_sse + t->by_user.n_rows;
    }
    run_workers(t->workers, threads, t->user_bounds, score_rows);
    for (int j = 0; j < 2; j++) {
        const double *row_sse = t->row_sse + (size_t)j * t->by_user.n_rows;
        sse[j] = 0;
        for (uint32_t u = 0; u < t->by_user.n_rows; u++) sse[j] += row_sse[u];
    }
}

static int copy_ids(mfkv_idtab *dst, const mfkv_idtab *src)
{
    for (uint32_t i = 0; i < src->n; i++) {
        size_t len;
        const char *s = mfkv_idtab_str(src, i, &len);
        uint32_t index;
        int rc = mfkv_idtab_intern(dst, s, len, &index, NULL);
        if (rc) return rc;
    }
    return MFKV_OK;
}

int mfkv_als_check_opts(const mfkv_als_opts *o, mfkv_diag *d)
{
    if (!(o->l2 > 0) || !isfinite(o->l2))
        return mfkv_fail(d, MFKV_INVAL, "l2: must be a positive number, got %g", o->l2);
    if (!(o->l2_per_rating >= 0) || !isfinite(o->l2_per_rating))
        return mfkv_fail(d, MFKV_INVAL, "l2_per_rating: must be >= 0, got %g", o->l2_per_rating);
    if (o->iterations < 1 || o->iterations > 100000)
        return mfkv_fail(d, MFKV_INVAL, "iterations: must be 1..100000, got %u", o->iterations);
    if (!(o->min_rel_progress >= 0) || !isfinite(o->min_rel_progress))
        return mfkv_fail(d, MFKV_INVAL, "min_rel_progress: must be >= 0, got %g",
                         o->min_rel_progress);
    if (!(o->holdout >= 0 && o->holdout < 1))
        return mfkv_fail(d, MFKV_INVAL, "holdout: must be in [0, 1), got %g", o->holdout);
    if (o->threads < 1 || o->threads > 1024)
        return mfkv_fail(d, MFKV_INVAL, "threads: must be 1..1024, got %u", o->threads);
    if (o->factors > 4096)
        return mfkv_fail(d, MFKV_INVAL, "factors: at most 4096, got %u", o->factors);
    return MFKV_OK;
}

/* Item factors start uniform with variance 1/F (|q| about 1): small enough
 * to be neutral, large enough that the first user solve is not swamped by
 * the penalty, which would pull both sides towards the all-zero fixed point. */
static void init_factors(float *f, size_t n, uint32_t nf, uint64_t seed)
{
    double a = sqrt(3.0 / (double)nf);
    uint64_t key = mfkv_splitmix64(seed ^ 0x1417ull);
    for (size_t j = 0; j < n; j++) {
        double u = (double)(mfkv_splitmix64(key + j) >> 11) * 0x1p-53;
        f[j] = (float)((2 * u - 1) * a);
    }
}


static void training_free(training *t, uint32_t threads)
{
    free(t->is_holdout);
    csr_free(&t->by_user);
    csr_free(&t->by_item);
    csr_free(&t->holdout_by_user);
    if (t->workers) {
        for (uint32_t w = 0; w < threads; w++) {
            free(t->workers[w].gather);
            free(t->workers[w].target);
            free(t->workers[w].gram);
        }
    }
    free(t->workers);
    free(t->user_bounds);
    free(t->item_bounds);
    free(t->row_sse);
    free(t->user_gram);
    free(t->item_gram);
}

/*
 * Whether solving the rows of @p c should read its dual kernels from the
 * Gram matrix of the n_other rows on the other side.  Multiplying that out
 * costs n_other^2 F / 2 flops in one call at full BLAS speed; the kernels
 * multiplied out row by row cost sum n^2 (F + 1) / 2 over the dual rows, in
 * small calls that run at a fraction of it.  Worth it when the second is
 * at least as many flops and the matrix is at most OTHER_GRAM_MAX floats
 * (on MovieLens latest-small, the 610 users' 1.5 MB for the item side).
 */
#define OTHER_GRAM_MAX ((size_t)16 << 20)
static int wants_other_gram(const csr *c, uint32_t n_other, int dim)
{
    double square = (double)n_other * n_other, kernels = 0;
    if (square > (double)OTHER_GRAM_MAX) return 0;
    for (uint32_t r = 0; r < c->n_rows; r++) {
        size_t n = c->start[r + 1] - c->start[r];
        if (use_dual(n, dim)) kernels += (double)n * (double)n;
    }
    return kernels >= square;
}

static int prepare(training *t, const mfkv_ratings *r, const mfkv_als_opts *o, uint32_t nf)
{
    uint32_t nu = r->users.n, ni = r->items.n, dim = nf + 1;
    int rc;
    if ((rc = csr_build(&t->by_user, nu, r->user, r->item, r->rating, r->n, t->is_holdout, 0)) ||
        (rc = csr_build(&t->by_item, ni, r->item, r->user, r->rating, r->n, t->is_holdout, 0)) ||
        (rc = csr_build(&t->holdout_by_user, nu, r->user, r->item, r->rating, r->n,
                        t->is_holdout, 1)))
        return rc;
    t->workers = calloc(o->threads, sizeof *t->workers);
    t->user_bounds = malloc(((size_t)o->threads + 1) * sizeof *t->user_bounds);
    t->item_bounds = malloc(((size_t)o->threads + 1) * sizeof *t->item_bounds);
    t->row_sse = malloc(2 * ((size_t)nu + 1) * sizeof *t->row_sse);
    if (!t->workers || !t->user_bounds || !t->item_bounds || !t->row_sse) return MFKV_NOMEM;
    for (uint32_t w = 0; w < o->threads; w++) {
        solver *s = &t->workers[w];
        s->gather = malloc((size_t)GATHER_ROWS * dim * sizeof(float));
        s->target = malloc((size_t)GATHER_ROWS * sizeof(float));
        s->gram = malloc(((size_t)dim * dim + dim) * sizeof(float));
        if (!s->gather || !s->target || !s->gram) return MFKV_NOMEM;
    }
    if (wants_other_gram(&t->by_item, nu, (int)dim) &&
        !(t->user_gram = malloc((size_t)nu * nu * sizeof *t->user_gram)))
        return MFKV_NOMEM;
    if (wants_other_gram(&t->by_user, ni, (int)dim) &&
        !(t->item_gram = malloc((size_t)ni * ni * sizeof *t->item_gram)))
        return MFKV_NOMEM;
    partition(&t->by_user, nf, o->threads, t->user_bounds);
    partition(&t->by_item, nf, o->threads, t->item_bounds);
    return MFKV_OK;
}

/* Recompute s->other_gram, if it has one, from the other side as it stands:
 * one call, so the same numbers whatever the thread count. */
static void refresh_other_gram(const side *s, uint32_t nf)
{
    if (s->other_gram)
        cblas_ssyrk(CblasRowMajor, CblasUpper, CblasNoTrans, (int)s->n_other, (int)nf, 1.0f,
                    s->other_factors, (int)nf, 0.0f, s->other_gram, (int)s->n_other);
}

static int iterate(training *t, const mfkv_als_opts *o, mfkv_model *m, mfkv_train_info *info,
                   mfkv_als_progress_fn progress, void *ctx, mfkv_diag *d)
{
    side users = {&t->by_user, m->user_factors, m->user_bias, m->item_factors, m->item_bias,
                  t->item_gram, m->item_ids.n};
    side items = {&t->by_item, m->item_factors, m->item_bias, m->user_factors, m->user_bias,
                  t->user_gram, m->user_ids.n};
    for (uint32_t w = 0; w < o->threads; w++) {
        t->workers[w].nf = m->n_factors;
        t->workers[w].global = (float)m->global_bias;
        t->workers[w].l2 = o->l2;
        t->workers[w].l2_per_rating = o->l2_per_rating;
    }
    for (uint32_t it = 0; it < o->iterations; it++) {
        double t0 = (mfkv_now() * 1e3);
        uint32_t bad = 0;
        refresh_other_gram(&users, m->n_factors);
        if (run_side(t->workers, o->threads, &users, t->user_bounds, &bad) != MFKV_OK)
            return mfkv_fail(d, MFKV_INTERNAL, "iteration %u: user %s: Cholesky factorisation "
                             "failed (normal equations not positive definite)", it + 1,
                             mfkv_idtab_str(&m->user_ids, bad, NULL));
        refresh_other_gram(&items, m->n_factors);
        if (run_side(t->workers, o->threads, &items, t->item_bounds, &bad) != MFKV_OK)
            return mfkv_fail(d, MFKV_INTERNAL, "iteration %u: item %s: Cholesky factorisation "
                             "failed (normal equations not positive definite)", it + 1,
                             mfkv_idtab_str(&m->item_ids, bad, NULL));
        mfkv_train_row *row = &info->rows[info->n_rows++];
        row->training_run = 0;
        row->iteration = it;
        double sse[2];
        squared_errors(t, o->threads, m, sse);
        row->loss = sse[0] / (double)info->n_train;
        row->eval_loss = info->n_holdout ? sse[1] / (double)info->n_holdout : NAN;
        row->duration_ms = (mfkv_now() * 1e3) - t0;
        if (progress) progress(row, m, ctx);
        if (o->early_stop && it > 0) {
            double prev = info->rows[info->n_rows - 2].loss;
            if (prev <= 0 || (prev - row->loss) / prev < o->min_rel_progress) break;
        }
    }
    return MFKV_OK;
}

int mfkv_als_train(const mfkv_ratings *r, const mfkv_als_opts *opts, mfkv_als_progress_fn progress,
                   void *ctx, mfkv_model *out, mfkv_train_info *info, mfkv_diag *d)
{
    mfkv_model_init(out);
    mfkv_train_info_init(info);
    int rc = mfkv_als_check_opts(opts, d);
    if (rc) return rc;
    if (r->n == 0) return mfkv_fail(d, MFKV_INVAL, "no ratings to train on");

    training t = {0};
    mfkv_als_opts o = *opts;
    info->n_ratings = r->n;
    info->ratings_hash = mfkv_ratings_fingerprint(r);
    t.is_holdout = calloc(r->n, 1);
    if (!t.is_holdout) goto nomem;
    if (o.holdout > 0) mfkv_holdout_split(r->n, o.holdout, o.seed, t.is_holdout);
    double sum = 0;
    for (size_t j = 0; j < r->n; j++) {
        if (t.is_holdout[j]) {
            info->n_holdout++;
        } else {
            info->n_train++;
            sum += r->rating[j];
        }
    }
    if (info->n_train == 0) {
        training_free(&t, o.threads);
        return mfkv_fail(d, MFKV_INVAL, "holdout %g leaves no training rating", o.holdout);
    }
    if (o.factors == 0) {
        double auto_f = round(log2((double)info->n_train));
        o.factors = auto_f < 1 ? 1 : (uint32_t)auto_f;
    }
    info->opts = o;

    out->n_factors = o.factors;
    out->global_bias = sum / (double)info->n_train;
    info->rows = calloc(o.iterations, sizeof *info->rows);
    if (!info->rows || (rc = copy_ids(&out->user_ids, &r->users)) ||
        (rc = copy_ids(&out->item_ids, &r->items)) || (rc = mfkv_model_alloc(out)) ||
        (rc = prepare(&t, r, &o, o.factors)))
        goto nomem;
    init_factors(out->item_factors, (size_t)out->item_ids.n * o.factors, o.factors, o.seed);

    mfkv_blas_kernel();
    mfkv_blas_single_threaded(); /* the workers split the rows; see blas_threads.h */
    rc = iterate(&t, &o, out, info, progress, ctx, d);
    training_free(&t, o.threads);
    if (rc) {
        mfkv_model_free(out);
        mfkv_train_info_free(info);
    }
    return rc;

nomem:
    training_free(&t, o.threads);
    mfkv_model_free(out);
    mfkv_train_info_free(info);
    return mfkv_fail(d, rc == MFKV_LIMIT ? MFKV_LIMIT : MFKV_NOMEM,
                     "out of memory preparing %zu ratings for training", r->n);
}
