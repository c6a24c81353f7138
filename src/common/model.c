#include "model.h"

#include <stdlib.h>
#include <string.h>

#include "mfkv.h"

void mfkv_model_init(mfkv_model *m) { memset(m, 0, sizeof *m); }

void mfkv_model_free(mfkv_model *m)
{
    if (!m) return;
    mfkv_idtab_free(&m->user_ids);
    mfkv_idtab_free(&m->item_ids);
    free(m->user_factors);
    free(m->item_factors);
    free(m->user_bias);
    free(m->item_bias);
    memset(m, 0, sizeof *m);
}

int mfkv_model_alloc(mfkv_model *m)
{
    size_t nu = m->user_ids.n, ni = m->item_ids.n, f = m->n_factors;
    /* calloc(0) may return NULL; ask for at least one element. */
    m->user_factors = calloc(nu * f + 1, sizeof(float));
    m->item_factors = calloc(ni * f + 1, sizeof(float));
    m->user_bias = calloc(nu + 1, sizeof(float));
    m->item_bias = calloc(ni + 1, sizeof(float));
    if (!m->user_factors || !m->item_factors || !m->user_bias || !m->item_bias) return MFKV_NOMEM;
    return MFKV_OK;
}

double mfkv_model_predict(const mfkv_model *m, uint32_t user, uint32_t item)
{
    const float *u = m->user_factors + (size_t)user * m->n_factors;
    const float *v = m->item_factors + (size_t)item * m->n_factors;
    return m->global_bias + (double)m->user_bias[user] + (double)m->item_bias[item] +
           mfkv_score_dot(u, v, m->n_factors);
}

static int by_id(const void *pa, const void *pb, void *ctx)
{
    const mfkv_idtab *ids = ctx;
    size_t la, lb;
    const char *a = mfkv_idtab_str(ids, *(const uint32_t *)pa, &la);
    const char *b = mfkv_idtab_str(ids, *(const uint32_t *)pb, &lb);
    return mfkv_id_compare(a, la, b, lb);
}

int mfkv_model_sort_items(mfkv_model *m)
{
    uint32_t n = m->item_ids.n, f = m->n_factors;
    uint32_t *order = malloc((size_t)n * sizeof *order + 1);
    float *factors = malloc((size_t)n * f * sizeof *factors + 1);
    float *bias = malloc((size_t)n * sizeof *bias + 1);
    mfkv_idtab ids;
    mfkv_idtab_init(&ids);
    int rc = order && factors && bias ? MFKV_OK : MFKV_NOMEM;
    if (!rc) {
        for (uint32_t i = 0; i < n; i++) order[i] = i;
        qsort_r(order, n, sizeof *order, by_id, &m->item_ids);
    }
    for (uint32_t i = 0; i < n && !rc; i++) {
        size_t len;
        const char *id = mfkv_idtab_str(&m->item_ids, order[i], &len);
        uint32_t at;
        rc = mfkv_idtab_intern(&ids, id, len, &at, NULL);
        memcpy(factors + (size_t)i * f, m->item_factors + (size_t)order[i] * f, f * sizeof *factors);
        bias[i] = m->item_bias[order[i]];
    }
    free(order);
    if (rc) {
        free(factors);
        free(bias);
        mfkv_idtab_free(&ids);
        return rc;
    }
    mfkv_idtab_free(&m->item_ids);
    free(m->item_factors);
    free(m->item_bias);
    m->item_ids = ids;
    m->item_factors = factors;
    m->item_bias = bias;
    return MFKV_OK;
}
