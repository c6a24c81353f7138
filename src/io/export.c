/*
 * export.c - write a model in the shapes other tools read: BigQuery ML's
 * ML.WEIGHTS rows (NDJSON and the unnested long CSV) and numpy arrays.
 * Every shape loads back with the loaders in factors.h, bit for bit: floats
 * are printed with 9 significant digits, the global bias with 17.
 */
#include "io/export.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "io/factors.h"
#include "mfkv.h"

size_t mfkv_csv_field(char *dst, const char *s, size_t len)
{
    if (!memchr(s, ',', len) && !memchr(s, '"', len) && !memchr(s, '\n', len) &&
        !memchr(s, '\r', len)) {
        memcpy(dst, s, len);
        return len;
    }
    size_t n = 0;
    dst[n++] = '"';
    for (size_t j = 0; j < len; j++) {
        if (s[j] == '"') dst[n++] = '"';
        dst[n++] = s[j];
    }
    dst[n++] = '"';
    return n;
}

/* One ML.WEIGHTS row of a user or an item: MFKV_OK, MFKV_NOMEM (jansson
 * could not build it) or MFKV_IO. */
static int put_ndjson_row(FILE *f, const char *side, const char *id, float bias,
                          const float *factors, uint32_t nf)
{
    json_t *fw = json_array();
    for (uint32_t j = nf; j >= 1; j--)
        json_array_append_new(fw, json_pack("{s:i, s:f}", "factor", (int)j, "weight",
                                            (double)factors[j - 1]));
    json_t *row = json_pack("{s:s, s:s, s:o, s:f}", "processed_input", side, "feature", id,
                            "factor_weights", fw, "intercept", (double)bias);
    /* 9 significant digits give back the float exactly. */
    if (!row) return MFKV_NOMEM;
    int rc = json_dumpf(row, f, JSON_REAL_PRECISION(9));
    json_decref(row);
    return rc != 0 || fputc('\n', f) == EOF ? MFKV_IO : MFKV_OK;
}

static int ndjson_fail(int rc, const char *name, mfkv_diag *d)
{
    return rc == MFKV_NOMEM ? mfkv_fail(d, rc, "%s: out of memory", name)
                            : mfkv_fail_errno(d, "%s: write failed", name);
}

int mfkv_export_ndjson(FILE *f, const char *name, const mfkv_model *m, mfkv_diag *d)
{
    json_t *global = json_pack("{s:n, s:s, s:n, s:f}", "processed_input", "feature",
                               "global__INTERCEPT__", "factor_weights", "intercept",
                               m->global_bias);
    if (!global) return ndjson_fail(MFKV_NOMEM, name, d);
    int rc = json_dumpf(global, f, JSON_REAL_PRECISION(17));
    json_decref(global);
    if (rc != 0 || fputc('\n', f) == EOF) return ndjson_fail(MFKV_IO, name, d);
    const mfkv_idtab *ids[2] = {&m->user_ids, &m->item_ids};
    const float *factors[2] = {m->user_factors, m->item_factors};
    const float *bias[2] = {m->user_bias, m->item_bias};
    const char *side[2] = {"user_id", "item_id"};
    for (int s = 0; s < 2; s++)
        for (uint32_t i = 0; i < ids[s]->n; i++)
            if ((rc = put_ndjson_row(f, side[s], mfkv_idtab_str(ids[s], i, NULL), bias[s][i],
                                     factors[s] + (size_t)i * m->n_factors, m->n_factors)))
                return ndjson_fail(rc, name, d);
    return MFKV_OK;
}

static FILE *open_in(const char *dir, const char *name, mfkv_diag *d)
{
    char path[4096];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    FILE *f = fopen(path, "w");
    if (!f) mfkv_fail_errno(d, "%s", path);
    return f;
}

static int close_checked(FILE *f, const char *dir, const char *name, int failed, mfkv_diag *d)
{
    int err = failed || ferror(f);
    if (fclose(f) != 0) err = 1;
    return err ? mfkv_fail_errno(d, "%s/%s: write failed", dir, name) : MFKV_OK;
}

/* users.csv or items.csv: id,bias,factor,weight with factors F..1. */
static int write_long_csv(const char *dir, const char *name, const char *id_col,
                          const mfkv_idtab *ids, const float *factors, const float *bias,
                          uint32_t nf, mfkv_diag *d)
{
    FILE *f = open_in(dir, name, d);
    if (!f) return MFKV_IO;
    fprintf(f, "%s,bias,factor,weight\n", id_col);
    char *field = malloc(2 * ids->pool_len + 2);
    int failed = !field;
    for (uint32_t i = 0; i < ids->n && !failed; i++) {
        size_t len;
        const char *s = mfkv_idtab_str(ids, i, &len);
        size_t n = mfkv_csv_field(field, s, len);
        for (uint32_t j = nf; j >= 1; j--) {
            fwrite(field, 1, n, f);
            fprintf(f, ",%.9g,%u,%.9g\n", (double)bias[i], j,
                    (double)factors[(size_t)i * nf + j - 1]);
        }
    }
    free(field);
    return close_checked(f, dir, name, failed, d);
}

static int write_ids(const char *dir, const char *name, const mfkv_idtab *ids, mfkv_diag *d)
{
    FILE *f = open_in(dir, name, d);
    if (!f) return MFKV_IO;
    for (uint32_t i = 0; i < ids->n; i++) {
        size_t len;
        const char *s = mfkv_idtab_str(ids, i, &len);
        if (memchr(s, '\n', len) || memchr(s, '\r', len)) {
            fclose(f);
            return mfkv_fail(d, MFKV_INVAL, "%s/%s: id %u holds a line break, which a text "
                             "id list cannot hold; use --format ndjson", dir, name, i);
        }
        fwrite(s, 1, len, f);
        fputc('\n', f);
    }
    return close_checked(f, dir, name, 0, d);
}

int mfkv_export_npy_dir(const char *dir, const mfkv_model *m, mfkv_diag *d)
{
    char path[4096];
    uint64_t nu = m->user_ids.n, ni = m->item_ids.n, nf = m->n_factors;
    struct { const char *name; const float *data; uint64_t rows, cols; } arrays[] = {
        {MFKV_NPY_USER_FACTORS, m->user_factors, nu, nf},
        {MFKV_NPY_ITEM_FACTORS, m->item_factors, ni, nf},
        {MFKV_NPY_USER_BIAS, m->user_bias, nu, 0},
        {MFKV_NPY_ITEM_BIAS, m->item_bias, ni, 0},
    };
    for (size_t a = 0; a < sizeof arrays / sizeof arrays[0]; a++) {
        snprintf(path, sizeof path, "%s/%s", dir, arrays[a].name);
        int rc = mfkv_npy_write(path, arrays[a].data, arrays[a].rows, arrays[a].cols, d);
        if (rc) return rc;
    }
    int rc;
    if ((rc = write_ids(dir, MFKV_NPY_USER_IDS, &m->user_ids, d)) ||
        (rc = write_ids(dir, MFKV_NPY_ITEM_IDS, &m->item_ids, d)))
        return rc;
    FILE *f = open_in(dir, MFKV_NPY_GLOBAL_BIAS, d);
    if (!f) return MFKV_IO;
    fprintf(f, "%.17g\n", m->global_bias);
    return close_checked(f, dir, MFKV_NPY_GLOBAL_BIAS, 0, d);
}

int mfkv_export_long_csv(const char *dir, const mfkv_model *m, mfkv_diag *d)
{
    int rc = write_long_csv(dir, "users.csv", "user_id", &m->user_ids, m->user_factors, m->user_bias,
                            m->n_factors, d);
    return rc ? rc
              : write_long_csv(dir, "items.csv", "item_id", &m->item_ids, m->item_factors, m->item_bias,
                               m->n_factors, d);
}
