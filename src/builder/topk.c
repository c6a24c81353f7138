/*
 * topk.c - exact per-user top-K with blocked single-precision GEMM.
 *
 * Scores are produced a block at a time: C = U'[users] * V'[items]^T where
 * U' = [user factors, 1] and V' = [item factors, item bias], so the item bias
 * rides along in the GEMM and the full users x items matrix never exists.
 * Items are visited in descending-bias order, so the first block of scores
 * holds most of a user's best items: a provable lower bound on the final
 * threshold is taken from it before the scan (first_threshold), and most of
 * every later row is rejected by one vector compare per 16 scores.  Scores
 * above the threshold are appended to a per-user pool (no heap: an append is
 * a store, where a heap insert is a dozen unpredictable branches); when the
 * pool fills, a quickselect keeps the best candidates and raises the
 * threshold to the weakest of them.  Excluded items are set to -inf in the
 * score rows, so they never enter.  Global and user bias do not change a
 * user's ranking and are added only to the kept scores.
 *
 * Exactness.  float GEMM scores differ from the exact ones by at most
 * err_u = gamma * ||u'|| * max_j ||v'_j|| (the usual dot-product rounding
 * bound, gamma ~ (F+2) * 2^-24, doubled for margin).  Each pool keeps
 * K + EXTRA candidates.  If the weakest kept float score is below the K-th
 * best by more than 2 * err_u, no item outside the pool can belong to the
 * true top-K, so re-scoring the candidates in double and sorting them gives
 * exactly the double brute force.  When that margin is not there (near-ties
 * at the boundary, huge magnitudes), that user alone is brute-forced in
 * double (an exact recheck, counted in exact_rechecks; "fallback" names
 * only the list for unknown users).  The per-user test makes the result exact on every input while the
 * common case costs at most K + EXTRA double dot products per user (fewer:
 * candidates that far below the K-th are skipped too), computed LANES
 * items side by side (each one still summed in factor order, so they are
 * bit-identical to mfkv_model_predict).
 *
 * Threads take user blocks from an atomic counter and write only their own
 * users' rows, so the output does not depend on scheduling.
 */
#include "builder/topk.h"

#include <cblas.h>
#if defined(__AVX__)
#include <immintrin.h>
#endif
#include <math.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "builder/blas_kernel.h"
#include "builder/blas_threads.h"
#include "format.h"
#include "mfkv.h"

enum {
    EXTRA = 8,          /* candidates kept beyond K to prove exactness */
    BLOCK_USERS = MFKV_TOPK_BLOCK_USERS,
    BLOCK_ITEMS = MFKV_TOPK_BLOCK_ITEMS,
    SCAN_CHUNK = 64,    /* scores compared against the threshold per branch */
    LANES = 8,          /* items re-scored in double side by side */
    RANK_SORT_MAX = 512, /* longest candidate list sorted by counting ranks */
    BISECT_STEPS = 12,  /* a first threshold within ~2^-12 of the maxima's key range */
};

/* A candidate is one integer that orders like (float score, earlier visit):
 * the score's bits made monotonic in the high half, the complement of the
 * visit position in the low half.  Larger is stronger, every candidate is
 * distinct, and selection compares one word instead of two fields. */
typedef uint64_t cand;

/* A float's bits made monotonic: a < b as floats iff key(a) < key(b), for
 * all but NaN (-0 and +0 are made equal first). */
static inline uint32_t score_key(float s)
{
    uint32_t b;
    s += 0.0f; /* -0 becomes +0: equal floats must make equal keys */
    memcpy(&b, &s, sizeof b);
    return b & 0x80000000u ? ~b : b | 0x80000000u;
}

static inline float key_score(uint32_t b)
{
    b = b & 0x80000000u ? b & 0x7fffffffu : ~b;
    float s;
    memcpy(&s, &b, sizeof s);
    return s;
}

static inline cand cand_make(float s, uint32_t pos) { return (uint64_t)score_key(s) << 32 | (uint32_t)~pos; }

static inline float cand_score(cand c) { return key_score((uint32_t)(c >> 32)); }

static inline uint32_t cand_pos(cand c) { return ~(uint32_t)c; }

typedef struct ranked {
    double s;     /* exact predicted rating */
    uint32_t idx; /* model item index */
} ranked;

typedef struct shared {
    const mfkv_model *m;
    const mfkv_topk_opts *opts;
    mfkv_topk_result *out;
    uint32_t fp;            /* augmented factor count F + 1 */
    uint32_t keep;      /* min(K + EXTRA, n_items): candidates kept per user */
    uint32_t pool_cap;      /* pool slots per user: keep plus room to append */
    uint32_t groups;        /* groups of a first row for its threshold, keep..pool_cap */
    float *v_aug;           /* n_items x fp, visit order */
    uint32_t *visit;        /* visit position -> model item index */
    double v_norm_max;      /* max ||v'_j|| */
    double gamma;
    uint64_t *excl_off;     /* exclusions as sorted visit positions, CSR */
    uint32_t *excl_pos;
    atomic_uint_fast32_t next_block;
    atomic_uint_fast64_t users_done;
    atomic_uint_fast64_t exact_rechecks;
} shared;

typedef struct worker {
    shared *sh;
    float *c;      /* BLOCK_USERS x BLOCK_ITEMS */
    float *u_aug;  /* BLOCK_USERS x fp */
    cand *pool;    /* BLOCK_USERS x pool_cap */
    cand *scratch; /* pool_cap, for selection */
    uint32_t *pool_n;
    float *thr;    /* BLOCK_USERS: a score must beat this to enter the pool */
    float *gmax;   /* groups: group maxima of a first row */
    uint32_t *gkey; /* groups: their score_key */
    ranked *all;   /* n_items, for the double brute force and re-scoring */
    uint32_t *pos; /* n_items: visit positions of the items being re-scored */
} worker;

/* Reorder a[0..n) so that a[0..keep) are the keep strongest candidates and
 * a[keep - 1] is the weakest of them.  Quickselect with a branch-free
 * partition (tmp holds n scratch slots): candidates arrive in no useful
 * order, so a branching partition would mispredict half its compares.
 * Keys are distinct, so exactly one element equals the pivot. */
static void select_strongest(cand *a, uint32_t n, uint32_t keep, cand *tmp)
{
    uint32_t lo = 0, hi = n, k = keep - 1;
    while (hi - lo > 1) {
        cand x = a[lo], y = a[lo + (hi - lo) / 2], z = a[hi - 1];
        cand p = x < y ? (y < z ? y : (x < z ? z : x)) : (x < z ? x : (y < z ? z : y));
        uint32_t l = lo, r = 0;
        for (uint32_t i = lo; i < hi; i++) {
            cand v = a[i];
            a[l] = v;
            tmp[r] = v;
            l += v > p;
            r += v < p;
        }
        a[l] = p;
        memcpy(a + l + 1, tmp, r * sizeof *tmp);
        if (k == l) return;
        if (k < l) hi = l;
        else lo = l + 1;
    }
}

static int stronger_first(const void *pa, const void *pb)
{
    cand a = *(const cand *)pa, b = *(const cand *)pb;
    return (a < b) - (a > b);
}

/* Sort a[0..n) strongest first (tmp holds n scratch slots).  Keys are
 * distinct, so a key's place is the number of stronger keys: for the few
 * dozen candidates of a usual K, those n^2 compares vectorise and never
 * branch, where any n log n sort mispredicts about every other compare. */
static void sort_strongest_first(cand *a, uint32_t n, cand *tmp)
{
    if (n > RANK_SORT_MAX) {
        qsort(a, n, sizeof *a, stronger_first);
        return;
    }
    memcpy(tmp, a, n * sizeof *a);
    for (uint32_t i = 0; i < n; i++) {
        uint32_t place = 0;
        for (uint32_t j = 0; j < n; j++) place += tmp[j] > tmp[i];
        a[place] = tmp[i];
    }
}

/* Index of the first of the sorted pos[0..n) that is >= p. */
static uint64_t lower_bound(const uint32_t *pos, uint64_t n, uint32_t p)
{
    uint64_t lo = 0, hi = n;
    while (lo < hi) {
        uint64_t mid = (lo + hi) / 2;
        if (pos[mid] < p) lo = mid + 1;
        else hi = mid;
    }
    return lo;
}

static int is_excluded(const uint32_t *pos, uint64_t n, uint32_t p)
{
    uint64_t i = lower_bound(pos, n, p);
    return i < n && pos[i] == p;
}

/* Make a user's excluded items in one row of scores (visit positions
 * base..base+n) -inf, which never beats a threshold: the scan then needs no
 * per-candidate lookup, and every finite score left is an eligible item. */
static void mask_excluded(float *c, uint32_t n, uint32_t base, const uint32_t *excl, uint64_t n_excl)
{
    for (uint64_t e = lower_bound(excl, n_excl, base); e < n_excl && excl[e] < base + n; e++)
        c[excl[e] - base] = -INFINITY;
}

/* Bit j set when c[j] beats the threshold, j < n <= SCAN_CHUNK. */
static inline uint64_t beats(const float *c, uint32_t n, float thr)
{
    uint64_t mask = 0;
    for (uint32_t j = 0; j < n; j++) mask |= (uint64_t)(c[j] > thr) << j;
    return mask;
}

/* The same for a whole chunk, with vector compares where the target has them
 * (the compiler does not find this form on its own). */
static inline uint64_t beats_chunk(const float *c, float thr)
{
    uint64_t mask = 0;
#if defined(__AVX512F__)
    __m512 t = _mm512_set1_ps(thr);
    for (uint32_t j = 0; j < SCAN_CHUNK; j += 16)
        mask |= (uint64_t)_mm512_cmp_ps_mask(_mm512_loadu_ps(c + j), t, _CMP_GT_OQ) << j;
#elif defined(__AVX__)
    __m256 t = _mm256_set1_ps(thr);
    for (uint32_t j = 0; j < SCAN_CHUNK; j += 8)
        mask |= (uint64_t)_mm256_movemask_ps(_mm256_cmp_ps(_mm256_loadu_ps(c + j), t, _CMP_GT_OQ)) << j;
#else
    mask = beats(c, SCAN_CHUNK, thr);
#endif
    return mask;
}

/* Offer scores c[0..n) of items at visit positions base.. to one user's pool. */
static void scan_row(const shared *sh, cand *pool, uint32_t *pn, float *pthr, cand *scratch, const float *c,
                     uint32_t n, uint32_t base)
{
    float thr = *pthr;
    uint32_t m = *pn;
    for (uint32_t j = 0; j < n; j += SCAN_CHUNK) {
        uint64_t mask = n - j >= SCAN_CHUNK ? beats_chunk(c + j, thr) : beats(c + j, n - j, thr);
        for (; mask; mask &= mask - 1) {
            uint32_t t = j + (uint32_t)__builtin_ctzll(mask);
            /* The threshold may have risen since the mask was taken. */
            if (!(c[t] > thr)) continue;
            pool[m++] = cand_make(c[t], base + t);
            if (m == sh->pool_cap) {
                select_strongest(pool, m, sh->keep, scratch);
                m = sh->keep;
                thr = cand_score(pool[m - 1]);
            }
        }
    }
    *pn = m;
    *pthr = thr;
}

static uint32_t count_at_least(const uint32_t *key, uint32_t n, uint32_t t)
{
    uint32_t count = 0;
    for (uint32_t j = 0; j < n; j++) count += key[j] >= t;
    return count;
}

/* A threshold for a user's first row of scores (the highest-bias items)
 * that provably lets enough items through, so the pool need not climb to it
 * from -inf one selection at a time (at the medium shape that climb appended
 * ~340 candidates per user and ran ~3 selections).  The row is cut into
 * strided groups; if at least keep group maxima are >= T, at least keep
 * distinct items score >= T, so no item below T can be among the keep
 * strongest.  T is found by bisecting on that count over the maxima's
 * monotonic keys (integers: no infinities or rounding to care about, and
 * every step is a few vector compares, cheaper than selecting); with about
 * 2 * keep groups, about 1.4 * keep items of the row pass.  A group of
 * excluded items only has maximum -inf, which never raises T.  Returns the
 * largest float below T: a score beats it iff it is >= T. */
static float first_threshold(const float *c, uint32_t n, uint32_t keep, uint32_t groups, float *gmax, uint32_t *key)
{
    for (uint32_t j = 0; j < groups; j++) gmax[j] = -INFINITY;
    for (uint32_t r = 0; r + groups <= n; r += groups)
        for (uint32_t j = 0; j < groups; j++) gmax[j] = c[r + j] > gmax[j] ? c[r + j] : gmax[j]; /* NaN never wins */
    uint32_t lo = UINT32_MAX, hi = 0;
    for (uint32_t j = 0; j < groups; j++) {
        key[j] = score_key(gmax[j]);
        lo = key[j] < lo ? key[j] : lo;
        hi = key[j] > hi ? key[j] : hi;
    }
    /* Invariant: at least keep keys are >= lo (all of them, at the start). */
    for (int step = 0; step < BISECT_STEPS && hi - lo > 1; step++) {
        uint32_t mid = lo + (hi - lo) / 2;
        if (count_at_least(key, groups, mid) >= keep) lo = mid;
        else hi = mid;
    }
    return nextafterf(key_score(lo), -INFINITY);
}

static int by_exact_rank(const void *pa, const void *pb)
{
    const ranked *a = pa, *b = pb;
    if (a->s != b->s) return a->s > b->s ? -1 : 1;
    return (a->idx > b->idx) - (a->idx < b->idx);
}

/* Write the best min(n, k) of n exact scores, already in rank order, as the
 * user's list. */
static void emit(const shared *sh, uint32_t user, const ranked *r, uint32_t n)
{
    const mfkv_topk_result *out = sh->out;
    uint32_t k = n < out->k ? n : out->k;
    uint32_t *item = out->item + (size_t)user * out->k;
    float *score = out->score + (size_t)user * out->k;
    for (uint32_t i = 0; i < k; i++) {
        item[i] = r[i].idx;
        score[i] = (float)r[i].s;
    }
    out->count[user] = k;
}

/* acc[b] = sum over i < f of u[i] * v[b][i] in double, summed in factor
 * order, for LANES rows at once: mfkv_score_dot (common/model.h), which
 * defines the score, vectorised across rows and not within one, so each
 * row's sum is the same chain of additions. */
static void dots_in_factor_order(const float *u, const float *const v[LANES], uint32_t f, double acc[LANES])
{
    uint32_t i = 0;
#if defined(__AVX512F__)
    /* One vector holds factor i of all eight rows.  The compiler gathers it
     * (a gather per factor, the bulk of this function's time); loading eight
     * factors of each row and transposing the 8 x 8 block in registers takes
     * a third of the instructions. */
    _Static_assert(LANES == 8, "one vector of doubles per factor");
    const __m512i pair_lo = _mm512_setr_epi64(0, 1, 8, 9, 4, 5, 12, 13);
    const __m512i pair_hi = _mm512_setr_epi64(2, 3, 10, 11, 6, 7, 14, 15);
    const __m512i half_lo = _mm512_setr_epi64(0, 1, 2, 3, 8, 9, 10, 11);
    const __m512i half_hi = _mm512_setr_epi64(4, 5, 6, 7, 12, 13, 14, 15);
    __m512d sum = _mm512_setzero_pd();
    for (; i + 8 <= f; i += 8) {
        __m512d r[8], t[8], q[8];
        for (int b = 0; b < 8; b++) r[b] = _mm512_cvtps_pd(_mm256_loadu_ps(v[b] + i));
        /* t[2p], t[2p+1]: rows 2p and 2p+1 interleaved, even / odd factors. */
        for (int p = 0; p < 4; p++) {
            t[2 * p] = _mm512_unpacklo_pd(r[2 * p], r[2 * p + 1]);
            t[2 * p + 1] = _mm512_unpackhi_pd(r[2 * p], r[2 * p + 1]);
        }
        /* q[h*4 + j]: rows 4h..4h+3 of factors j and j + 4. */
        for (int h = 0; h < 2; h++) {
            q[4 * h + 0] = _mm512_permutex2var_pd(t[4 * h], pair_lo, t[4 * h + 2]);
            q[4 * h + 1] = _mm512_permutex2var_pd(t[4 * h + 1], pair_lo, t[4 * h + 3]);
            q[4 * h + 2] = _mm512_permutex2var_pd(t[4 * h], pair_hi, t[4 * h + 2]);
            q[4 * h + 3] = _mm512_permutex2var_pd(t[4 * h + 1], pair_hi, t[4 * h + 3]);
        }
        for (int j = 0; j < 4; j++)
            sum = _mm512_fmadd_pd(_mm512_set1_pd(u[i + j]), _mm512_permutex2var_pd(q[j], half_lo, q[4 + j]), sum);
        for (int j = 0; j < 4; j++)
            sum = _mm512_fmadd_pd(_mm512_set1_pd(u[i + 4 + j]), _mm512_permutex2var_pd(q[j], half_hi, q[4 + j]),
                                  sum);
    }
    _mm512_storeu_pd(acc, sum);
#endif
    for (; i < f; i++) {
        double ui = u[i];
        for (uint32_t b = 0; b < LANES; b++) acc[b] += ui * (double)v[b][i];
    }
}

/* Exact predicted ratings of the items at visit positions pos[0..n) into
 * out, as mfkv_model_predict computes them: each dot product is summed in
 * factor order (products of floats are exact in double, so fused or not the
 * sums agree bit for bit), LANES items at a time so the additions overlap.
 * The factors are read from v_aug, not the model: they are the same floats,
 * and candidates crowd into the first (highest-bias) visit positions, so
 * their rows share a few hundred KiB that stay cached from user to user where
 * the model's item order scatters them over the whole matrix. */
static void exact_scores(const shared *sh, uint32_t user, const uint32_t *pos, uint32_t n, ranked *out)
{
    const mfkv_model *m = sh->m;
    uint32_t f = m->n_factors, fp = sh->fp;
    const float *u = m->user_factors + (size_t)user * f;
    double base = m->global_bias + (double)m->user_bias[user];
    for (uint32_t j0 = 0; j0 < n; j0 += LANES) {
        uint32_t lanes = n - j0 < LANES ? n - j0 : LANES;
        const float *v[LANES];
        double acc[LANES] = {0};
        for (uint32_t b = 0; b < LANES; b++) v[b] = sh->v_aug + (size_t)pos[j0 + (b < lanes ? b : 0)] * fp;
        /* Start fetching the next group's rows while this one is summed. */
        for (uint32_t b = j0 + LANES; b < n && b < j0 + 2 * LANES; b++)
            for (uint32_t i = 0; i < fp; i += 16) __builtin_prefetch(sh->v_aug + (size_t)pos[b] * fp + i);
        dots_in_factor_order(u, v, f, acc);
        /* v_aug's last column is the item bias. */
        for (uint32_t b = 0; b < lanes; b++)
            out[j0 + b] = (ranked){base + (double)v[b][f] + acc[b], sh->visit[pos[j0 + b]]};
    }
}

static void brute_force(worker *w, uint32_t user, const uint32_t *excl, uint64_t n_excl)
{
    const shared *sh = w->sh;
    uint32_t n = 0;
    for (uint32_t pos = 0; pos < sh->m->item_ids.n; pos++)
        if (!n_excl || !is_excluded(excl, n_excl, pos)) w->pos[n++] = pos;
    exact_scores(sh, user, w->pos, n, w->all);
    qsort(w->all, n, sizeof *w->all, by_exact_rank);
    emit(sh, user, w->all, n);
}

/* Insertion sort by exact rank: the candidates arrive in float order, which
 * differs from the exact one only among near-ties, so this is about linear. */
static void sort_nearly_ranked(ranked *r, uint32_t n)
{
    for (uint32_t i = 1; i < n; i++) {
        ranked x = r[i];
        uint32_t j = i;
        for (; j > 0 && by_exact_rank(&x, &r[j - 1]) < 0; j--) r[j] = r[j - 1];
        r[j] = x;
    }
}

static void finish_user(worker *w, uint32_t user, cand *h, uint32_t hn, const uint32_t *excl,
                        uint64_t n_excl, float *u_aug)
{
    shared *sh = w->sh;
    uint32_t k = sh->out->k;
    uint64_t eligible = sh->m->item_ids.n - n_excl;
    if (hn > sh->keep) {
        select_strongest(h, hn, sh->keep, w->scratch);
        hn = sh->keep;
    }
    sort_strongest_first(h, hn, w->scratch);
    if (hn == sh->keep && eligible > hn) {
        /* Items were dropped: prove none of them could make the top K. */
        float weakest = cand_score(h[hn - 1]);
        double err = 2.0 * sh->gamma * sqrt(mfkv_score_dot(u_aug, u_aug, sh->fp)) * sh->v_norm_max;
        double kth = cand_score(h[(k < hn ? k : hn) - 1]);
        if (!(isfinite(err) && isfinite(kth) && (double)weakest < kth - 2.0 * err)) {
            atomic_fetch_add(&sh->exact_rechecks, 1);
            brute_force(w, user, excl, n_excl);
            return;
        }
        /* The same bound rules out kept candidates that far below the K-th:
         * only the rest need an exact score. */
        while (hn > k && (double)cand_score(h[hn - 1]) < kth - 2.0 * err) hn--;
    }
    for (uint32_t i = 0; i < hn; i++) w->pos[i] = cand_pos(h[i]);
    exact_scores(sh, user, w->pos, hn, w->all);
    sort_nearly_ranked(w->all, hn);
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
    uint32_t f = m->n_factors, fp = sh->fp, cap = sh->pool_cap;
    uint32_t u0 = block * BLOCK_USERS;
    uint32_t nu = m->user_ids.n - u0 < BLOCK_USERS ? m->user_ids.n - u0 : BLOCK_USERS;
    uint32_t n_items = m->item_ids.n;

    for (uint32_t r = 0; r < nu; r++) {
        memcpy(w->u_aug + (size_t)r * fp, m->user_factors + (size_t)(u0 + r) * f, f * sizeof(float));
        w->u_aug[(size_t)r * fp + f] = 1.0f;
        w->pool_n[r] = 0;
        w->thr[r] = -INFINITY;
    }
    for (uint32_t i0 = 0; i0 < n_items; i0 += BLOCK_ITEMS) {
        uint32_t ni = n_items - i0 < BLOCK_ITEMS ? n_items - i0 : BLOCK_ITEMS;
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (int)nu, (int)ni, (int)fp, 1.0f, w->u_aug,
                    (int)fp, sh->v_aug + (size_t)i0 * fp, (int)fp, 0.0f, w->c, (int)ni);
        for (uint32_t r = 0; r < nu; r++) {
            float *row = w->c + (size_t)r * ni;
            cand *pool = w->pool + (size_t)r * cap;
            uint64_t n_excl;
            const uint32_t *excl = user_exclusions(sh, u0 + r, &n_excl);
            if (n_excl) mask_excluded(row, ni, i0, excl, n_excl);
            if (i0 == 0 && ni >= 2 * sh->groups)
                w->thr[r] = first_threshold(row, ni, sh->keep, sh->groups, w->gmax, w->gkey);
            scan_row(sh, pool, &w->pool_n[r], &w->thr[r], w->scratch, row, ni, i0);
        }
    }
    for (uint32_t r = 0; r < nu; r++) {
        uint64_t n_excl;
        const uint32_t *excl = user_exclusions(sh, u0 + r, &n_excl);
        finish_user(w, u0 + r, w->pool + (size_t)r * cap, w->pool_n[r], excl, n_excl, w->u_aug + (size_t)r * fp);
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
    free(w->pool);
    free(w->scratch);
    free(w->pool_n);
    free(w->thr);
    free(w->gmax);
    free(w->gkey);
    free(w->all);
    free(w->pos);
}

static int worker_init(worker *w, shared *sh)
{
    memset(w, 0, sizeof *w);
    w->sh = sh;
    w->c = malloc((size_t)BLOCK_USERS * BLOCK_ITEMS * sizeof(float));
    w->u_aug = malloc((size_t)BLOCK_USERS * sh->fp * sizeof(float));
    w->pool = malloc((size_t)BLOCK_USERS * sh->pool_cap * sizeof(cand) + 1);
    w->scratch = malloc((size_t)sh->pool_cap * sizeof(cand));
    w->pool_n = malloc(BLOCK_USERS * sizeof(uint32_t));
    w->thr = malloc(BLOCK_USERS * sizeof(float));
    w->gmax = malloc(sh->groups * sizeof(float));
    w->gkey = malloc(sh->groups * sizeof(uint32_t));
    w->all = malloc((size_t)sh->m->item_ids.n * sizeof(ranked) + 1);
    w->pos = malloc((size_t)sh->m->item_ids.n * sizeof(uint32_t) + 1);
    if (!w->c || !w->u_aug || !w->pool || !w->scratch || !w->pool_n || !w->thr || !w->gmax || !w->gkey || !w->all || !w->pos) {
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
        double norm = sqrt(mfkv_score_dot(row, row, fp));
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
    mfkv_blas_kernel(); /* before any thread calls sgemm */
    uint32_t nu = m->user_ids.n, k = opts->k;
    out->k = k;
    out->n_users = nu;
    out->count = calloc(nu, sizeof *out->count);
    out->item = malloc((size_t)nu * k * sizeof *out->item);
    out->score = malloc((size_t)nu * k * sizeof *out->score);

    shared sh = {.m = m, .opts = opts, .out = out, .fp = m->n_factors + 1};
    sh.keep = k + EXTRA < m->item_ids.n ? k + EXTRA : m->item_ids.n;
    /* Room to append about half a list between selections: each selection
     * is linear in the pool, so appends stay amortised O(1). */
    sh.pool_cap = sh.keep + sh.keep / 2 + 64;
    /* A multiple of 16 (whole vectors) that is at least keep. */
    sh.groups = sh.pool_cap & ~15u;
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
        mfkv_blas_single_threaded();
        unsigned spawned = 1;
        for (unsigned t = 1; t < nthreads; t++, spawned++)
            if (pthread_create(&tids[t], NULL, worker_main, &workers[t])) break;
        take_blocks(&workers[0], opts->progress != NULL);
        for (unsigned t = 1; t < spawned; t++) pthread_join(tids[t], NULL);
        if (opts->progress) opts->progress(opts->progress_ctx, nu, nu);
        out->exact_rechecks = atomic_load(&sh.exact_rechecks);
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
