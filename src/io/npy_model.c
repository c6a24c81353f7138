/*
 * A model from numpy arrays: factor matrices and optional bias vectors as
 * .npy files, ids as text files with one id per line (row r of a matrix
 * belongs to the id on line r + 1).
 */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "factors.h"
#include "fields.h"
#include "lines.h"
#include "mfkv.h"

static int on_id(void *ctx, const mfkv_lines *in, const char *s, size_t len, mfkv_diag *d)
{
    mfkv_idtab *ids = ctx;
    mfkv_where w = {in->path, in->line, "id"};
    uint32_t index;
    int added;
    int rc = mfkv_check_id(&w, s, len, d);
    if (rc) return rc;
    if ((rc = mfkv_add_id(&w, ids, s, len, &index, &added, d))) return rc;
    if (!added) {
        char q[MFKV_QUOTE_LEN];
        /* no line is skipped, so index i came from line i + 1 */
        return mfkv_fail_at(d, &w, "duplicate id \"%s\" (first on line %u)", mfkv_quote(q, s, len),
                            index + 1);
    }
    return MFKV_OK;
}

static int read_ids(const char *path, mfkv_idtab *ids, mfkv_diag *d)
{
    size_t n_lines;
    int rc = mfkv_lines_each(path, on_id, ids, &n_lines, d);
    if (!rc && ids->n == 0) rc = mfkv_fail(d, MFKV_PARSE, "%s:1: no ids (the file is empty)", path);
    return rc;
}

typedef struct npy_array {
    float *data;
    uint64_t rows, cols;
} npy_array;

/* A matrix (@p ndim 2) or vector (1) with one row per id of @p ids_path. */
static int read_array(const char *path, int ndim, const char *ids_path, uint32_t n, npy_array *a,
                      mfkv_diag *d)
{
    int got;
    int rc = mfkv_npy_read_nd(path, &a->data, &a->rows, &a->cols, &got, d);
    if (rc) return rc;
    if (got != ndim)
        return mfkv_fail(d, MFKV_PARSE, "%s: a %d-D array, expected %s", path, got,
                         ndim == 2 ? "a 2-D matrix (ids x factors)" : "a 1-D vector (one bias per id)");
    if (a->rows != n)
        return mfkv_fail(d, MFKV_PARSE, "%s: %llu rows, but %s has %u ids", path,
                         (unsigned long long)a->rows, ids_path, n);
    return MFKV_OK;
}

typedef struct npy_side {
    npy_array factors, bias;
} npy_side;

static int read_side(const char *factors, const char *bias, const char *ids_path, mfkv_idtab *ids,
                     npy_side *s, mfkv_diag *d)
{
    int rc = read_ids(ids_path, ids, d);
    if (!rc) rc = read_array(factors, 2, ids_path, ids->n, &s->factors, d);
    if (!rc && bias) rc = read_array(bias, 1, ids_path, ids->n, &s->bias, d);
    return rc;
}

static void copy_side(const npy_side *s, uint32_t n, uint32_t k, float *factors, float *bias)
{
    memcpy(factors, s->factors.data, (size_t)n * k * sizeof *factors);
    if (s->bias.data) memcpy(bias, s->bias.data, (size_t)n * sizeof *bias);
}

int mfkv_load_npy_model(const mfkv_npy_paths *paths, mfkv_model *out, mfkv_diag *d)
{
    mfkv_model_init(out);
    if (!isfinite(paths->global_bias))
        return mfkv_fail(d, MFKV_INVAL, "the global bias %g is not a finite number", paths->global_bias);
    npy_side users = {0}, items = {0};
    int rc = read_side(paths->user_factors, paths->user_bias, paths->user_ids, &out->user_ids,
                       &users, d);
    if (!rc)
        rc = read_side(paths->item_factors, paths->item_bias, paths->item_ids, &out->item_ids,
                       &items, d);
    if (!rc && users.factors.cols != items.factors.cols)
        rc = mfkv_fail(d, MFKV_PARSE, "%s: %llu factors per row, but %s has %llu",
                       paths->item_factors, (unsigned long long)items.factors.cols,
                       paths->user_factors, (unsigned long long)users.factors.cols);
    if (!rc && (users.factors.cols == 0 || users.factors.cols > MFKV_MAX_FACTORS))
        rc = mfkv_fail(d, MFKV_PARSE, "%s: %llu factors per row, expected 1..%u",
                       paths->user_factors, (unsigned long long)users.factors.cols, MFKV_MAX_FACTORS);
    if (!rc) {
        out->n_factors = (uint32_t)users.factors.cols;
        out->global_bias = paths->global_bias;
        if ((rc = mfkv_model_alloc(out))) rc = mfkv_fail(d, rc, "out of memory for the model");
    }
    if (!rc) {
        copy_side(&users, out->user_ids.n, out->n_factors, out->user_factors, out->user_bias);
        copy_side(&items, out->item_ids.n, out->n_factors, out->item_factors, out->item_bias);
    }
    free(users.factors.data);
    free(users.bias.data);
    free(items.factors.data);
    free(items.bias.data);
    if (rc) mfkv_model_free(out);
    return rc;
}

/* "dir/name", or NULL with a diag when it does not fit. */
static const char *join(char buf[4096], const char *dir, const char *name, mfkv_diag *d)
{
    if (snprintf(buf, 4096, "%s/%s", dir, name) >= 4096) {
        mfkv_fail(d, MFKV_INVAL, "%s: path too long", dir);
        return NULL;
    }
    return buf;
}

/* Only a missing file counts as absent; any other trouble is for open()
 * to report. */
static int exists(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0 || errno != ENOENT;
}

/* global_bias.txt: one number on one line. */
static int read_global_bias(const char *path, double *out, mfkv_diag *d)
{
    mfkv_lines in;
    int rc = mfkv_lines_open(&in, path, d);
    if (rc) return rc;
    const char *s;
    size_t len;
    mfkv_where w = {path, 1, "global_bias"};
    rc = mfkv_lines_next(&in, &s, &len, d);
    if (rc == MFKV_NOTFOUND) rc = mfkv_fail_at(d, &w, "the file is empty");
    else if (!rc) rc = mfkv_parse_finite(&w, s, len, out, d);
    if (!rc && (rc = mfkv_lines_next(&in, &s, &len, d)) == MFKV_OK) {
        w.line = in.line;
        rc = mfkv_fail_at(d, &w, "expected one number on one line");
    }
    if (rc == MFKV_NOTFOUND) rc = MFKV_OK;
    mfkv_lines_close(&in);
    return rc;
}

int mfkv_load_npy_dir(const char *dir, mfkv_model *out, mfkv_diag *d)
{
    mfkv_model_init(out);
    char uf[4096], itf[4096], ub[4096], ib[4096], ui[4096], ii[4096], gb[4096];
    mfkv_npy_paths p = {
        .user_factors = join(uf, dir, MFKV_NPY_USER_FACTORS, d),
        .item_factors = join(itf, dir, MFKV_NPY_ITEM_FACTORS, d),
        .user_bias = join(ub, dir, MFKV_NPY_USER_BIAS, d),
        .item_bias = join(ib, dir, MFKV_NPY_ITEM_BIAS, d),
        .user_ids = join(ui, dir, MFKV_NPY_USER_IDS, d),
        .item_ids = join(ii, dir, MFKV_NPY_ITEM_IDS, d),
    };
    const char *global = join(gb, dir, MFKV_NPY_GLOBAL_BIAS, d);
    if (!p.user_factors || !p.item_factors || !p.user_bias || !p.item_bias || !p.user_ids ||
        !p.item_ids || !global)
        return MFKV_INVAL;
    if (!exists(p.user_bias)) p.user_bias = NULL;
    if (!exists(p.item_bias)) p.item_bias = NULL;
    if (exists(global)) {
        int rc = read_global_bias(global, &p.global_bias, d);
        if (rc) return rc;
    }
    return mfkv_load_npy_model(&p, out, d);
}
