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
    double dot = 0;
    for (uint32_t f = 0; f < m->n_factors; f++) dot += (double)u[f] * (double)v[f];
    return m->global_bias + (double)m->user_bias[user] + (double)m->item_bias[item] + dot;
}
