/*
 * factor_rows.h - collecting one side (users or items) of a model from rows
 * that name an id, its bias, and factors by number, as BigQuery ML's exports
 * do, and checking it is complete before it becomes an mfkv_model.
 *
 * The factor count K is not written anywhere in those exports.  It is the
 * highest factor number of the first id read; the user and item sides of a
 * load share it through one mfkv_factor_k.  Until a second id appears the
 * first id's row simply grows, so factors may come in any order.
 */
#ifndef MFKV_IO_FACTOR_ROWS_H
#define MFKV_IO_FACTOR_ROWS_H

#include <stdint.h>

#include "../common/idtab.h"
#include "../common/model.h"
#include "fields.h"

typedef struct mfkv_factor_k {
    uint32_t k;    /* highest factor number so far, final once fixed */
    int fixed;
    mfkv_where origin; /* where the id that set K starts */
} mfkv_factor_k;

typedef struct mfkv_factor_rows {
    mfkv_factor_k *k;
    const char *side;         /* "user" or "item", for messages */
    const char *factor_field; /* the input's name for factor numbers */
    mfkv_idtab ids;
    uint32_t cap, stride;
    float *weights;           /* cap x stride; factor f of id i at [i * stride + f - 1] */
    uint8_t *seen;            /* like weights: 1 once that factor was given */
    float *bias;
    size_t *line;             /* the line each id first appears on */
} mfkv_factor_rows;

void mfkv_factor_rows_init(mfkv_factor_rows *r, mfkv_factor_k *k, const char *side,
                           const char *factor_field);
void mfkv_factor_rows_free(mfkv_factor_rows *r);

/* Find or add the id at @p w (checked with mfkv_check_id).  A new id gets
 * @p bias; *added says whether it was new. */
int mfkv_factor_rows_id(mfkv_factor_rows *r, const mfkv_where *w, const char *id, size_t len,
                        float bias, uint32_t *index, int *added, mfkv_diag *d);

/* Factor number @p factor (1..MFKV_MAX_FACTORS) of id @p index. */
int mfkv_factor_rows_put(mfkv_factor_rows *r, const mfkv_where *w, uint32_t index,
                         uint32_t factor, float weight, mfkv_diag *d);

/* Fix K at its current value (a side finished, or a row gave K outright). */
void mfkv_factor_k_fix(mfkv_factor_k *k, uint32_t value, const mfkv_where *origin);

/* Check the side has ids and every id has all factors 1..K; @p end is the
 * input's last line, where "no ids" is reported. */
int mfkv_factor_rows_check(const mfkv_factor_rows *r, const mfkv_where *end, mfkv_diag *d);

/* Move checked sides into @p out (initialised here; empty on failure). */
int mfkv_factor_rows_to_model(mfkv_factor_rows *users, mfkv_factor_rows *items,
                              double global_bias, mfkv_model *out, mfkv_diag *d);

#endif
