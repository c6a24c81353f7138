#include "factor_rows.h"

#include <stdlib.h>
#include <string.h>

#include "factors.h"
#include "mfkv.h"

void mfkv_factor_rows_init(mfkv_factor_rows *r, mfkv_factor_k *k, const char *side,
                           const char *factor_field)
{
    memset(r, 0, sizeof *r);
    r->k = k;
    r->side = side;
    r->factor_field = factor_field;
}

void mfkv_factor_rows_free(mfkv_factor_rows *r)
{
    mfkv_idtab_free(&r->ids);
    free(r->weights);
    free(r->seen);
    free(r->bias);
    free(r->line);
    memset(r, 0, sizeof *r);
}

void mfkv_factor_k_fix(mfkv_factor_k *k, uint32_t value, const mfkv_where *origin)
{
    if (k->fixed) return;
    k->k = value;
    k->fixed = 1;
    if (origin) k->origin = *origin;
}

/* Rows past ids.n are unused, so changing the stride only moves data when
 * there is at most one id, whose row starts at 0 either way. */
static int resize(mfkv_factor_rows *r, uint32_t cap, uint32_t stride)
{
    size_t cells = (size_t)cap * stride + 1;
    float *w = realloc(r->weights, cells * sizeof *w);
    if (w) r->weights = w;
    uint8_t *s = realloc(r->seen, cells);
    if (s) r->seen = s;
    float *b = realloc(r->bias, (size_t)cap * sizeof *b);
    if (b) r->bias = b;
    size_t *l = realloc(r->line, (size_t)cap * sizeof *l);
    if (l) r->line = l;
    if (!w || !s || !b || !l) return MFKV_NOMEM;
    if (r->ids.n == 1 && stride > r->stride)
        memset(r->seen + r->stride, 0, stride - r->stride);
    r->cap = cap;
    r->stride = stride;
    return MFKV_OK;
}

int mfkv_factor_rows_id(mfkv_factor_rows *r, const mfkv_where *w, const char *id, size_t len,
                        float bias, uint32_t *index, int *added, mfkv_diag *d)
{
    int rc = mfkv_check_id(w, id, len, d);
    if (rc) return rc;
    uint32_t i;
    if ((rc = mfkv_add_id(w, &r->ids, id, len, &i, added, d))) return rc;
    *index = i;
    if (!*added) return MFKV_OK;
    if (i == 0 && !r->k->fixed && r->k->k == 0) r->k->origin = *w;
    if (i == 1) mfkv_factor_k_fix(r->k, r->k->k, NULL);
    uint32_t stride = r->k->fixed ? r->k->k : r->stride;
    if (i >= r->cap || stride != r->stride) {
        if ((rc = resize(r, i >= r->cap ? (r->cap ? r->cap * 2 : 64) : r->cap, stride)))
            return mfkv_fail(d, rc, "%s:%zu: out of memory", w->path, w->line);
    }
    memset(r->seen + (size_t)i * r->stride, 0, r->stride);
    r->bias[i] = bias;
    r->line[i] = w->line;
    return MFKV_OK;
}

static const char *id_text(const mfkv_factor_rows *r, uint32_t i, char q[MFKV_QUOTE_LEN])
{
    size_t len;
    const char *s = mfkv_idtab_str(&r->ids, i, &len);
    return mfkv_quote(q, s, len);
}

int mfkv_factor_rows_put(mfkv_factor_rows *r, const mfkv_where *w, uint32_t index,
                         uint32_t factor, float weight, mfkv_diag *d)
{
    char q[MFKV_QUOTE_LEN];
    mfkv_factor_k *k = r->k;
    if (factor > k->k) {
        if (k->fixed)
            return mfkv_fail_at(d, w, "%s \"%s\" has factor %u, but K = %u (from the first id, %s:%zu)",
                                r->side, id_text(r, index, q), factor, k->k, k->origin.path,
                                k->origin.line);
        k->k = factor;
    }
    if (factor > r->stride) {
        int rc = resize(r, r->cap, factor);
        if (rc) return mfkv_fail(d, rc, "%s:%zu: out of memory", w->path, w->line);
    }
    size_t cell = (size_t)index * r->stride + factor - 1;
    if (r->seen[cell])
        return mfkv_fail_at(d, w, "%s \"%s\" has factor %u twice", r->side, id_text(r, index, q),
                            factor);
    r->seen[cell] = 1;
    r->weights[cell] = weight;
    return MFKV_OK;
}

int mfkv_factor_rows_check(const mfkv_factor_rows *r, const mfkv_where *end, mfkv_diag *d)
{
    char q[MFKV_QUOTE_LEN];
    if (r->ids.n == 0) return mfkv_fail_at(d, end, "no %ss in the input", r->side);
    for (uint32_t i = 0; i < r->ids.n; i++) {
        const uint8_t *seen = r->seen + (size_t)i * r->stride;
        for (uint32_t f = 0; f < r->k->k; f++) {
            if (f < r->stride && seen[f]) continue;
            mfkv_where at = {end->path, r->line[i], r->factor_field};
            return mfkv_fail_at(d, &at, "%s \"%s\" lacks factor %u of 1..%u (K from the first id, %s:%zu)",
                                r->side, id_text(r, i, q), f + 1, r->k->k, r->k->origin.path,
                                r->k->origin.line);
        }
    }
    return MFKV_OK;
}

/* Rows are copied one by one: a side may still have the stride it grew to
 * while K was open, which is K itself once the side checked out. */
static void copy_side(const mfkv_factor_rows *r, uint32_t k, float *factors, float *bias)
{
    for (uint32_t i = 0; i < r->ids.n; i++)
        memcpy(factors + (size_t)i * k, r->weights + (size_t)i * r->stride, k * sizeof *factors);
    memcpy(bias, r->bias, (size_t)r->ids.n * sizeof *bias);
}

int mfkv_factor_rows_to_model(mfkv_factor_rows *users, mfkv_factor_rows *items,
                              double global_bias, mfkv_model *out, mfkv_diag *d)
{
    mfkv_model_init(out);
    out->n_factors = users->k->k;
    out->global_bias = global_bias;
    out->user_ids = users->ids;
    out->item_ids = items->ids;
    int rc = mfkv_model_alloc(out);
    if (rc) {
        mfkv_idtab_init(&out->user_ids); /* the id tables still belong to the sides */
        mfkv_idtab_init(&out->item_ids);
        mfkv_model_free(out);
        return mfkv_fail(d, rc, "out of memory for the model");
    }
    copy_side(users, out->n_factors, out->user_factors, out->user_bias);
    copy_side(items, out->n_factors, out->item_factors, out->item_bias);
    mfkv_idtab_init(&users->ids);
    mfkv_idtab_init(&items->ids);
    return MFKV_OK;
}
