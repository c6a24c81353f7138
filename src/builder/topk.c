/*
 * topk.c - exact per-user top-K with blocked single-precision GEMM.
 *
 * Scores are produced a block at a time: C = U'[users] * V'[items]^T where
 * U' = [user factors, 1] and V' = [item factors, item bias], so the item bias
 * rides along in the GEMM and the full users x items matrix never exists.
 * Items are visited in descending-bias order, which makes each user's heap
 * threshold rise early, so most of a row is rejected by one vector compare
 * per 16 scores.  Global and user bias do not change a user's ranking and
 * are added only to the kept scores.
 *
 * Exactness.  float GEMM scores differ from the exact ones by at most
 * err_u = gamma * ||u'|| * max_j ||v'_j|| (the usual dot-product rounding
 * bound, gamma ~ (F+2) * 2^-24, doubled for margin).  Each heap keeps
 * K + EXTRA candidates.  If the weakest kept float score is below the K-th
 * best by more than 2 * err_u, no item outside the heap can belong to the
 * true top-K, so re-scoring the candidates in double and sorting them gives
 * exactly the double brute force.  When that margin is not there (near-ties
 * at the boundary, huge magnitudes), that user alone is brute-forced in
 * double.  The per-user test makes the result exact on every input while the
 * common case costs K + EXTRA double dot products per user.
 *
 * Threads take user blocks from an atomic counter and write only their own
 * users' rows, so the output does not depend on scheduling.
 */
#include "builder/topk.h"

#include <cblas.h>
#include <math.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "format.h"
#include "mfkv.h"

enum {
    EXTRA = 8,          /* candidates kept beyond K to prove exactness */
    BLOCK_USERS = 256,  /* users per GEMM block */
    BLOCK_ITEMS = 2048, /* items per GEMM block: C block = 2 MiB, stays in cache */
    SCAN_CHUNK = 16,    /* scores compared against the threshold at once */
};

typedef struct cand {
    float s;      /* float score from the GEMM (item bias included) */
    uint32_t pos; /* visit position of the item */
} cand;

typedef struct ranked {
    double s;     /* exact predicted rating */
    uint32_t idx; /* model item index */
} ranked;

typedef struct shared {
    const mfkv_model *m;
    const mfkv_topk_opts *opts;
    mfkv_topk_result *out;
    uint32_t fp;            /* augmented factor count F + 1 */
    uint32_t heap_cap;      /* min(K + EXTRA, n_items) */
    float *v_aug;           /* n_items x fp, visit order */
    uint32_t *visit;        /* visit position -> model item index */
    double v_norm_max;      /* max ||v'_j|| */
    double gamma;
    uint64_t *excl_off;     /* exclusions as sorted visit positions, CSR */
    uint32_t *excl_pos;
    atomic_uint_fast32_t next_block;
    atomic_uint_fast64_t users_done;
    atomic_uint_fast64_t exact_fallbacks;
    atomic_int failed;
} shared;

typedef struct worker {
    shared *sh;
    float *c;      /* BLOCK_USERS x BLOCK_ITEMS */
    float *u_aug;  /* BLOCK_USERS x fp */
    cand *heap;    /* BLOCK_USERS x heap_cap */
    uint32_t *heap_n;
    ranked *all;   /* n_items, for the double brute force and re-scoring */
} worker;

/* Min-heap order: the root is the weakest candidate; among equal float
 * scores the later-visited one is weaker, so the outcome is deterministic. */
static inline int weaker(cand a, cand b) { return a.s < b.s || (a.s == b.s && a.pos > b.pos); }

static void sift_down(cand *h, uint32_t n, uint32_t i)
{
    cand x = h[i];
    for (;;) {
        uint32_t l = 2 * i + 1;
        if (l >= n) break;
        uint32_t c = (l + 1 < n && weaker(h[l + 1], h[l])) ? l + 1 : l;
        if (!weaker(h[c], x)) break;
        h[i] = h[c];
        i = c;
    }
    h[i] = x;
}

static void sift_up(cand *h, uint32_t i)
{
    cand x = h[i];
    while (i > 0) {
        uint32_t p = (i - 1) / 2;
        if (!weaker(x, h[p])) break;
        h[i] = h[p];
        i = p;
    }
    h[i] = x;
}

static int is_excluded(const uint32_t *pos, uint64_t n, uint32_t p)
{
    uint64_t lo = 0, hi = n;
    while (lo < hi) {
        uint64_t mid = (lo + hi) / 2;
        if (pos[mid] < p) lo = mid + 1;
        else hi = mid;
    }
    return lo < n && pos[lo] == p;
}

/* Offer scores c[0..n) of items at visit positions base.. to one user's heap. */
static void scan_row(cand *h, uint32_t *hn, uint32_t cap, const float *c, uint32_t n, uint32_t base,
                     const uint32_t *excl, uint64_t n_excl)
{
    float thr = *hn == cap ? h[0].s : -INFINITY;
    for (uint32_t j = 0; j < n; j += SCAN_CHUNK) {
        uint32_t end = j + SCAN_CHUNK < n ? j + SCAN_CHUNK : n;
        if (end - j == SCAN_CHUNK) {
            int any = 0;
            for (uint32_t t = 0; t < SCAN_CHUNK; t++) any |= c[j + t] > thr;
            if (!any) continue;
        }
        for (uint32_t t = j; t < end; t++) {
            if (!(c[t] > thr)) continue;
            uint32_t pos = base + t;
            if (n_excl && is_excluded(excl, n_excl, pos)) continue;
            cand x = {c[t], pos};
            if (*hn < cap) {
                h[*hn] = x;
                sift_up(h, (*hn)++);
            } else {
                h[0] = x;
                sift_down(h, cap, 0);
            }
            if (*hn == cap) thr = h[0].s;
        }
    }
}

static double dot_double(const float *a, const float *b, uint32_t n)
{
    double s = 0;
    for (uint32_t i = 0; i < n; i++) s += (double)a[i] * (double)b[i];
    return s;
}

static int by_exact_rank(const void *pa, const void *pb)
{
    const ranked *a = pa, *b = pb;
    if (a->s != b->s) return a->s > b->s ? -1 : 1;
    return (a->idx > b->idx) - (a->idx < b->idx);
}

static int by_float_desc(const void *pa, const void *pb)
{
    const cand *a = pa, *b = pb;
    return (a->s < b->s) - (a->s > b->s);
}

/* Sort n exact scores and write the best min(n, k) as the user's list. */
static void emit(const shared *sh, uint32_t user, ranked *r, uint32_t n)
{
    const mfkv_topk_result *out = sh->out;
    qsort(r, n, sizeof *r, by_exact_rank);
    uint32_t k = n < out->k ? n : out->k;
    uint32_t *item = out->item + (size_t)user * out->k;
    float *score = out->score + (size_t)user * out->k;
    for (uint32_t i = 0; i < k; i++) {
        item[i] = r[i].idx;
        score[i] = (float)r[i].s;
    }
    out->count[user] = k;
}

static double exact_score(const shared *sh, uint32_t user, uint32_t item)
{
    return mfkv_model_predict(sh->m, user, item);
}

static void brute_force(worker *w, uint32_t user, const uint32_t *excl, uint64_t n_excl)
{
    const shared *sh = w->sh;
    uint32_t n = 0;
    for (uint32_t pos = 0; pos < sh->m->item_ids.n; pos++) {
        if (n_excl && is_excluded(excl, n_excl, pos)) continue;
        uint32_t idx = sh->visit[pos];
        w->all[n++] = (ranked){exact_score(sh, user, idx), idx};
    }
    emit(sh, user, w->all, n);
}

static void finish_user(worker *w, uint32_t user, cand *h, uint32_t hn, const uint32_t *excl,
                        uint64_t n_excl, float *u_aug)
{
    shared *sh = w->sh;
    uint32_t k = sh->out->k;
    uint64_t eligible = sh->m->item_ids.n - n_excl;
    if (hn == sh->heap_cap && eligible > hn) {
        /* Items were dropped: prove none of them could make the top K. */
        float weakest = h[0].s;
        qsort(h, hn, sizeof *h, by_float_desc);
        double err = 2.0 * sh->gamma * sqrt(dot_double(u_aug, u_aug, sh->fp)) * sh->v_norm_max;
        double kth = h[(k < hn ? k : hn) - 1].s;
        if (!(isfinite(err) && isfinite(kth) && (double)weakest < kth - 2.0 * err)) {
            atomic_fetch_add(&sh->exact_fallbacks, 1);
            brute_force(w, user, excl, n_excl);
            return;
        }
    }
    for (uint32_t i = 0; i < hn; i++) {
        uint32_t idx = sh->visit[h[i].pos];
        w->all[i] = (ranked){exact_score(sh, user, idx), idx};
    }
    emit(sh, user, w->all, hn);
}

/* User @p u's excluded visit positions; none (NULL, 0) when the build
 * excludes nothing: no offset is ever added to the NULL array. */
static const uint32_t *user_exclusions(const shared *sh, uint32_t u, uint64_t *n)
{
    if (!sh->excl_off) {
        *n = 0;
        return NULL;
    }
    *n = sh->excl_off[u + 1] - sh->excl_off[u];
    return sh->excl_pos + sh->excl_off[u];
}

static void run_block(worker *w, uint32_t block)
{
    shared *sh = w->sh;
    const mfkv_model *m = sh->m;
    uint32_t f = m->n_factors, fp = sh->fp, cap = sh->heap_cap;
    uint32_t u0 = block * BLOCK_USERS;
    uint32_t nu = m->user_ids.n - u0 < BLOCK_USERS ? m->user_ids.n - u0 : BLOCK_USERS;
    uint32_t n_items = m->item_ids.n;

    for (uint32_t r = 0; r < nu; r++) {
        memcpy(w->u_aug + (size_t)r * fp, m->user_factors + (size_t)(u0 + r) * f, f * sizeof(float));
        w->u_aug[(size_t)r * fp + f] = 1.0f;
        w->heap_n[r] = 0;
    }
    for (uint32_t i0 = 0; i0 < n_items; i0 += BLOCK_ITEMS) {
        uint32_t ni = n_items - i0 < BLOCK_ITEMS ? n_items - i0 : BLOCK_ITEMS;
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (int)nu, (int)ni, (int)fp, 1.0f, w->u_aug,
                    (int)fp, sh->v_aug + (size_t)i0 * fp, (int)fp, 0.0f, w->c, (int)ni);
        for (uint32_t r = 0; r < nu; r++) {
            uint64_t n_excl;
            const uint32_t *excl = user_exclusions(sh, u0 + r, &n_excl);
            scan_row(w->heap + (size_t)r * cap, &w->heap_n[r], cap, w->c + (size_t)r * ni, ni, i0, excl, n_excl);
        }
    }
    for (uint32_t r = 0; r < nu; r++) {
        uint64_t n_excl;
        const uint32_t *excl = user_exclusions(sh, u0 + r, &n_excl);
        finish_user(w, u0 + r, w->heap + (size_t)r * cap, w->heap_n[r], excl, n_excl, w->u_aug + (size_t)r * fp);
    }
}

/* Take user blocks until none are left; the thread that reports progress
 * calls the callback between its blocks. */
static void take_blocks(worker *w, int reports)
{
    shared *sh = w->sh;
    uint32_t nu = sh->m->user_ids.n;
    uint32_t n_blocks = (nu + BLOCK_USERS - 1) / BLOCK_USERS;
    for (;;) {
        uint32_t b = (uint32_t)atomic_fetch_add(&sh->next_block, 1);
        if (b >= n_blocks) break;
        run_block(w, b);
        uint32_t users = nu - b * BLOCK_USERS < BLOCK_USERS ? nu - b * BLOCK_USERS : BLOCK_USERS;
        uint64_t done = atomic_fetch_add(&sh->users_done, users) + users;
        if (reports) sh->opts->progress(sh->opts->progress_ctx, done, nu);
    }
}

static void *worker_main(void *arg)
{
    take_blocks(arg, 0);
    return NULL;
}

static void worker_free(worker *w)
{
    free(w->c);
    free(w->u_aug);
    free(w->heap);
    free(w->heap_n);
    free(w->all);
}

static int worker_init(worker *w, shared *sh)
{
    memset(w, 0, sizeof *w);
    w->sh = sh;
    w->c = malloc((size_t)BLOCK_USERS * BLOCK_ITEMS * sizeof(float));
    w->u_aug = malloc((size_t)BLOCK_USERS * sh->fp * sizeof(float));
    w->heap = malloc((size_t)BLOCK_USERS * sh->heap_cap * sizeof(cand) + 1);
    w->heap_n = malloc(BLOCK_USERS * sizeof(uint32_t));
    w->all = malloc((size_t)sh->m->item_ids.n * sizeof(ranked) + 1);
    if (!w->c || !w->u_aug || !w->heap || !w->heap_n || !w->all) {
        worker_free(w);
        return MFKV_NOMEM;
    }
    return MFKV_OK;
}

/* Visit order: item bias descending, then index. */
static int by_bias_desc(const void *pa, const void *pb, void *ctx)
{
    const float *bias = ctx;
    uint32_t a = *(const uint32_t *)pa, b = *(const uint32_t *)pb;
    if (bias[a] != bias[b]) return bias[a] > bias[b] ? -1 : 1;
    return (a > b) - (a < b);
}

static int cmp_u32(const void *pa, const void *pb)
{
    uint32_t a = *(const uint32_t *)pa, b = *(const uint32_t *)pb;
    return (a > b) - (a < b);
}

static int prepare(shared *sh)
{
    const mfkv_model *m = sh->m;
    uint32_t n = m->item_ids.n, f = m->n_factors, fp = sh->fp;
    sh->visit = malloc((size_t)n * sizeof *sh->visit + 1);
    sh->v_aug = malloc((size_t)n * fp * sizeof(float) + 1);
    if (!sh->visit || !sh->v_aug) return MFKV_NOMEM;
    for (uint32_t i = 0; i < n; i++) sh->visit[i] = i;
    qsort_r(sh->visit, n, sizeof *sh->visit, by_bias_desc, m->item_bias);
    sh->v_norm_max = 0;
    for (uint32_t p = 0; p < n; p++) {
        float *row = sh->v_aug + (size_t)p * fp;
        memcpy(row, m->item_factors + (size_t)sh->visit[p] * f, f * sizeof(float));
        row[f] = m->item_bias[sh->visit[p]];
        double norm = sqrt(dot_double(row, row, fp));
        if (norm > sh->v_norm_max) sh->v_norm_max = norm;
    }
    sh->gamma = 2.0 * (fp + 2) * ldexp(1.0, -24);

    const mfkv_exclusions *ex = sh->opts->exclude;
    if (!ex) return MFKV_OK;
    uint32_t nu = m->user_ids.n;
    uint64_t total = ex->offset[nu];
    uint32_t *pos_of = malloc((size_t)n * sizeof *pos_of + 1);
    sh->excl_off = malloc(((size_t)nu + 1) * sizeof *sh->excl_off);
    sh->excl_pos = malloc(total * sizeof *sh->excl_pos + 1);
    if (!pos_of || !sh->excl_off || !sh->excl_pos) {
        free(pos_of);
        return MFKV_NOMEM;
    }
    for (uint32_t p = 0; p < n; p++) pos_of[sh->visit[p]] = p;
    /* Sorted and de-duplicated visit positions per user, for binary search. */
    uint64_t w = 0;
    for (uint32_t u = 0; u < nu; u++) {
        sh->excl_off[u] = w;
        uint64_t start = w;
        for (uint64_t e = ex->offset[u]; e < ex->offset[u + 1]; e++)
            if (ex->item[e] < n) sh->excl_pos[w++] = pos_of[ex->item[e]];
        qsort(sh->excl_pos + start, w - start, sizeof *sh->excl_pos, cmp_u32);
        uint64_t uniq = start;
        for (uint64_t e = start; e < w; e++)
            if (uniq == start || sh->excl_pos[uniq - 1] != sh->excl_pos[e]) sh->excl_pos[uniq++] = sh->excl_pos[e];
        w = uniq;
    }
    sh->excl_off[nu] = w;
    free(pos_of);
    return MFKV_OK;
}

void mfkv_topk_free(mfkv_topk_result *r)
{
    if (!r) return;
    free(r->count);
    free(r->item);
    free(r->score);
    memset(r, 0, sizeof *r);
}

int mfkv_topk_compute(const mfkv_model *m, const mfkv_topk_opts *opts, mfkv_topk_result *out, mfkv_diag *d)
{
    memset(out, 0, sizeof *out);
    if (opts->k == 0 || opts->k > MFKV_MAX_K)
        return mfkv_fail(d, MFKV_INVAL, "k must be from 1 to %u", MFKV_MAX_K);
    if (m->item_ids.n == 0 || m->user_ids.n == 0)
        return mfkv_fail(d, MFKV_INVAL, "the model has no %s", m->item_ids.n ? "users" : "items");
    uint32_t nu = m->user_ids.n, k = opts->k;
    out->k = k;
    out->n_users = nu;
    out->count = calloc(nu, sizeof *out->count);
    out->item = malloc((size_t)nu * k * sizeof *out->item);
    out->score = malloc((size_t)nu * k * sizeof *out->score);

    shared sh = {.m = m, .opts = opts, .out = out, .fp = m->n_factors + 1};
    sh.heap_cap = k + EXTRA < m->item_ids.n ? k + EXTRA : m->item_ids.n;
    int rc = out->count && out->item && out->score ? prepare(&sh) : MFKV_NOMEM;

    unsigned nthreads = opts->threads;
    if (nthreads == 0) {
        long online = sysconf(_SC_NPROCESSORS_ONLN);
        nthreads = online > 0 ? (unsigned)online : 1;
    }
    uint32_t n_blocks = (nu + BLOCK_USERS - 1) / BLOCK_USERS;
    if (nthreads > n_blocks) nthreads = n_blocks;
    worker *workers = rc ? NULL : calloc(nthreads, sizeof *workers);
    pthread_t *tids = rc ? NULL : calloc(nthreads, sizeof *tids);
    if (!rc && (!workers || !tids)) rc = MFKV_NOMEM;
    unsigned started = 0;
    for (unsigned t = 0; !rc && t < nthreads; t++) {
        rc = worker_init(&workers[t], &sh);
        if (!rc) started = t + 1;
    }
    if (!rc) {
        /* We parallelise over user blocks; BLAS threads would only contend. */
        openblas_set_num_threads(1);
        unsigned spawned = 1;
        for (unsigned t = 1; t < nthreads; t++, spawned++)
            if (pthread_create(&tids[t], NULL, worker_main, &workers[t])) break;
        take_blocks(&workers[0], opts->progress != NULL);
        for (unsigned t = 1; t < spawned; t++) pthread_join(tids[t], NULL);
        if (opts->progress) opts->progress(opts->progress_ctx, nu, nu);
        out->exact_fallbacks = atomic_load(&sh.exact_fallbacks);
    }
    for (unsigned t = 0; t < started; t++) worker_free(&workers[t]);
    free(workers);
    free(tids);
    free(sh.visit);
    free(sh.v_aug);
    free(sh.excl_off);
    free(sh.excl_pos);
    if (rc) {
        mfkv_topk_free(out);
        return mfkv_fail(d, rc, "top-k: %s", mfkv_strerror(rc));
    }
    return MFKV_OK;
}

int mfkv_topk_fallback(const mfkv_model *m, uint32_t k, uint32_t *item, float *score, uint32_t *count)
{
    uint32_t n = m->item_ids.n;
    ranked *r = malloc((size_t)n * sizeof *r + 1);
    if (!r) return MFKV_NOMEM;
    for (uint32_t i = 0; i < n; i++) r[i] = (ranked){m->global_bias + (double)m->item_bias[i], i};
    qsort(r, n, sizeof *r, by_exact_rank);
    *count = n < k ? n : k;
    for (uint32_t i = 0; i < *count; i++) {
        item[i] = r[i].idx;
        score[i] = (float)r[i].s;
    }
    free(r);
    return MFKV_OK;
}
