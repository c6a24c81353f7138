/* libmfkvbuild: include/mfkv_build.h over the builder (src/builder). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "builder/build.h"
#include "builder/merge.h"
#include "builder/shard.h"
#include "format.h"
#include "io/fields.h"
#include "io/factors.h"
#include "mfkv_build.h"

static int report(mfkv_build_error *err, const mfkv_diag *d, int rc)
{
    if (err) {
        err->status = rc;
        snprintf(err->message, sizeof err->message, "%s", d->msg[0] ? d->msg : mfkv_strerror(rc));
    }
    return rc;
}

static int finite_all(const float *v, size_t n, const char *what, uint32_t cols, const mfkv_idtab *ids,
                      mfkv_diag *d)
{
    for (size_t i = 0; i < n; i++)
        if (!isfinite(v[i])) {
            size_t row = i / cols, len;
            const char *id = mfkv_idtab_str(ids, (uint32_t)row, &len);
            char q[MFKV_QUOTE_LEN];
            return mfkv_fail(d, MFKV_PARSE, "%s[%zu][%zu] (id \"%s\") is %s, not a finite number", what, row,
                             i % cols, mfkv_quote(q, id, len), isnan(v[i]) ? "NaN" : "infinite");
        }
    return MFKV_OK;
}

/* Copy one side into @p ids, @p factors, @p bias, checking it on the way. */
static int load_side(const mfkv_build_side *s, uint32_t f, const char *name, int may_be_empty, mfkv_idtab *ids,
                     float **factors, float **bias, mfkv_diag *d)
{
    char where[32];
    snprintf(where, sizeof where, "%s_ids", name);
    if (s->n == 0 && !may_be_empty) return mfkv_fail(d, MFKV_PARSE, "%s: no ids", where);
    if (s->n && (!s->ids || !s->offsets || !s->factors || s->offsets[0] != 0))
        return mfkv_fail(d, MFKV_INVAL, "%s: ids, offsets (from 0) and factors are required", where);
    for (uint32_t r = 0; r < s->n; r++) {
        if (s->offsets[r + 1] < s->offsets[r]) return mfkv_fail(d, MFKV_INVAL, "%s: offsets decrease at %u", where, r);
        const char *id = s->ids + s->offsets[r];
        size_t len = (size_t)(s->offsets[r + 1] - s->offsets[r]);
        mfkv_where w = {where, r, "id"};
        uint32_t at;
        int added, rc = mfkv_check_id(&w, id, len, d);
        if (!rc) rc = mfkv_add_id(&w, ids, id, len, &at, &added, d);
        if (rc) return rc;
        char q[MFKV_QUOTE_LEN];
        if (!added)
            return mfkv_fail(d, MFKV_PARSE, "%s: duplicate id \"%s\" at rows %u and %u", where, mfkv_quote(q, id, len),
                             at, r);
    }
    size_t cells = (size_t)s->n * f;
    *factors = malloc(cells * sizeof **factors + 1);
    *bias = calloc((size_t)s->n + 1, sizeof **bias);
    if (!*factors || !*bias) return mfkv_fail(d, MFKV_NOMEM, "out of memory");
    if (cells) memcpy(*factors, s->factors, cells * sizeof **factors);
    if (s->bias) memcpy(*bias, s->bias, (size_t)s->n * sizeof **bias);
    snprintf(where, sizeof where, "%s_factors", name);
    int rc = finite_all(*factors, cells, where, f, ids, d);
    snprintf(where, sizeof where, "%s_bias", name);
    if (!rc) rc = finite_all(*bias, s->n, where, 1, ids, d);
    return rc;
}

mfkv_status mfkv_build_arrays(const char *path, const mfkv_build_params *p, mfkv_build_error *err)
{
    mfkv_diag d = {0};
    if (!path || !p) return report(err, &d, mfkv_fail(&d, MFKV_INVAL, "path and parameters are required"));
    if (p->n_factors < 1 || p->n_factors > MFKV_MAX_FACTORS)
        return report(err, &d, mfkv_fail(&d, MFKV_INVAL, "n_factors: %u, expected 1..%u", p->n_factors, MFKV_MAX_FACTORS));
    if (p->k < 1 || p->k > MFKV_MAX_K)
        return report(err, &d, mfkv_fail(&d, MFKV_INVAL, "k: %u, expected 1..%u", p->k, MFKV_MAX_K));
    if (p->shard_count > MFKV_MAX_SHARDS || (p->shard_count && p->shard_index >= p->shard_count))
        return report(err, &d, mfkv_fail(&d, MFKV_INVAL, "shard %u/%u: expected I/N with 0 <= I < N <= %u",
                                         p->shard_index, p->shard_count, MFKV_MAX_SHARDS));
    if (!isfinite(p->global_bias))
        return report(err, &d, mfkv_fail(&d, MFKV_PARSE, "global_bias is not a finite number"));
    mfkv_model m;
    mfkv_model_init(&m);
    m.n_factors = p->n_factors;
    m.global_bias = p->global_bias;
    int rc = load_side(&p->users, p->n_factors, "user", p->shard_count > 0, &m.user_ids, &m.user_factors, &m.user_bias, &d);
    if (!rc) rc = load_side(&p->items, p->n_factors, "item", 0, &m.item_ids, &m.item_factors, &m.item_bias, &d);
    if (!rc) {
        mfkv_build_request req = {.model = &m, .k = p->k, .threads = p->threads, .fallback = p->fallback,
                                  .options = p->options, .build_time = p->build_time,
                                  .shard_index = p->shard_index, .shard_count = p->shard_count};
        mfkv_build_summary sum;
        rc = mfkv_build_store(path, &req, &sum, &d);
    }
    mfkv_model_free(&m);
    return rc ? report(err, &d, rc) : MFKV_OK;
}

mfkv_status mfkv_merge(const char *path, const char *const *shards, size_t n_shards, mfkv_build_error *err)
{
    mfkv_diag d = {0};
    mfkv_merge_summary sum;
    int rc = mfkv_merge_stores(path, shards, n_shards, NULL, NULL, &sum, &d);
    return rc ? report(err, &d, rc) : MFKV_OK;
}

mfkv_status mfkv_shard_assign(const char *ids, const uint64_t *offsets, size_t n, uint32_t n_shards, uint32_t *out)
{
    if (n_shards == 0 || (n && (!ids || !offsets || !out))) return MFKV_INVAL;
    for (size_t i = 0; i < n; i++)
        out[i] = mfkv_shard_of(ids + offsets[i], (size_t)(offsets[i + 1] - offsets[i]), n_shards);
    return MFKV_OK;
}
