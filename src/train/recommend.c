/*
 * recommend.c - every user x item predicted rating as CSV, like BigQuery
 * ML's ML.RECOMMEND: 22.4 million rows for MovieLens 1M, so the dot products
 * come from blocked sgemm and the text is formatted by hand into one buffer.
 */
#include "train/recommend.h"

#include <cblas.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "builder/blas_kernel.h"
#include "io/export.h"
#include "mfkv.h"

/* "%.6f" without printf, which is most of the time of this command: the
 * digits of rint(v * 1e6).  They are printf's except when v lies within a
 * rounding error of a tie (a half-millionth); large or non-finite values
 * fall back to snprintf. */
static size_t format_fixed6(char *dst, double v)
{
    double scaled = v * 1e6;
    if (!(fabs(scaled) < 9e15)) return (size_t)snprintf(dst, 64, "%.6f", v);
    long long n = (long long)rint(scaled);
    char *p = dst;
    if (n < 0 || (n == 0 && signbit(v))) *p++ = '-';
    unsigned long long a = n < 0 ? (unsigned long long)-n : (unsigned long long)n;
    unsigned long long whole = a / 1000000, frac = a % 1000000;
    char tmp[24];
    int len = 0;
    do {
        tmp[len++] = (char)('0' + whole % 10);
        whole /= 10;
    } while (whole);
    while (len) *p++ = tmp[--len];
    *p++ = '.';
    for (int d = 5; d >= 0; d--) {
        p[d] = (char)('0' + frac % 10);
        frac /= 10;
    }
    return (size_t)(p + 6 - dst);
}

/* Every item's ",<id>\n" tail, pre-quoted, one after another. */
typedef struct item_tails {
    char *text;
    size_t *start; /* n + 1 offsets */
    size_t longest;
} item_tails;

static int make_tails(const mfkv_idtab *ids, item_tails *t)
{
    t->start = malloc(((size_t)ids->n + 1) * sizeof *t->start);
    t->text = malloc(2 * ids->pool_len + 3 * (size_t)ids->n + 1);
    t->longest = 0;
    if (!t->start || !t->text) return MFKV_NOMEM;
    size_t at = 0;
    for (uint32_t i = 0; i < ids->n; i++) {
        size_t len;
        const char *s = mfkv_idtab_str(ids, i, &len);
        t->start[i] = at;
        t->text[at++] = ',';
        at += mfkv_csv_field(t->text + at, s, len);
        t->text[at++] = '\n';
        if (at - t->start[i] > t->longest) t->longest = at - t->start[i];
    }
    t->start[ids->n] = at;
    return MFKV_OK;
}

#define OUT_BUFFER (1u << 20)
#define SCORES_PER_BLOCK (1u << 22)

int mfkv_recommend_csv(const mfkv_model *m, FILE *out, const char *name, int header, mfkv_diag *d)
{
    uint32_t nu = m->user_ids.n, ni = m->item_ids.n, nf = m->n_factors;
    mfkv_blas_kernel();
    item_tails tails = {0};
    uint32_t block = ni ? SCORES_PER_BLOCK / ni : 1;
    block = block < 1 ? 1 : block > nu ? (nu ? nu : 1) : block;
    float *scores = malloc((size_t)block * ni * sizeof *scores + 1);
    char *buf = malloc(OUT_BUFFER), *user_field = NULL;
    size_t user_max = 0;
    for (uint32_t u = 0; u < nu; u++) {
        size_t len;
        mfkv_idtab_str(&m->user_ids, u, &len);
        if (len > user_max) user_max = len;
    }
    user_field = malloc(2 * user_max + 3);
    int rc = MFKV_NOMEM;
    if (!scores || !buf || !user_field || make_tails(&m->item_ids, &tails)) goto done;
    size_t used = 0, row_max = 64 + 2 * user_max + 3 + tails.longest;
    rc = row_max > OUT_BUFFER ? MFKV_LIMIT : MFKV_IO; /* ids of 255 bytes at most always fit */
    if (rc == MFKV_LIMIT) goto done;
    if (header) fputs("predicted_rating,user_id,item_id\n", out);
    for (uint32_t u0 = 0; u0 < nu; u0 += block) {
        uint32_t rows = nu - u0 < block ? nu - u0 : block;
        if (nf)
            cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (int)rows, (int)ni, (int)nf, 1.0f,
                        m->user_factors + (size_t)u0 * nf, (int)nf, m->item_factors, (int)nf, 0.0f,
                        scores, (int)ni);
        else
            memset(scores, 0, (size_t)rows * ni * sizeof *scores);
        for (uint32_t r = 0; r < rows; r++) {
            uint32_t u = u0 + r;
            size_t len;
            const char *id = mfkv_idtab_str(&m->user_ids, u, &len);
            user_field[0] = ',';
            size_t user_len = 1 + mfkv_csv_field(user_field + 1, id, len);
            double base = m->global_bias + (double)m->user_bias[u];
            const float *row = scores + (size_t)r * ni;
            for (uint32_t i = 0; i < ni; i++) {
                if (OUT_BUFFER - used < row_max) {
                    if (fwrite(buf, 1, used, out) != used) goto done;
                    used = 0;
                }
                used += format_fixed6(buf + used, base + (double)m->item_bias[i] + (double)row[i]);
                memcpy(buf + used, user_field, user_len);
                used += user_len;
                size_t tail = tails.start[i + 1] - tails.start[i];
                memcpy(buf + used, tails.text + tails.start[i], tail);
                used += tail;
            }
        }
    }
    rc = fwrite(buf, 1, used, out) == used ? MFKV_OK : MFKV_IO;
done:
    free(scores);
    free(buf);
    free(user_field);
    free(tails.text);
    free(tails.start);
    if (rc == MFKV_NOMEM) return mfkv_fail(d, rc, "%s: out of memory", name);
    if (rc == MFKV_LIMIT) return mfkv_fail(d, rc, "%s: an id is too long for a row", name);
    return rc ? mfkv_fail_errno(d, "%s: write failed", name) : MFKV_OK;
}

