#include <getopt.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "common/atomic_file.h"
#include "io/factors.h"
#include "model_io.h"

static void usage(FILE *out)
{
    fprintf(out,
            "usage: mfkv weights MODEL --format ndjson|csv|npy -o PATH\n\n"
            "Export a model's weights in the shapes other tools read:\n"
            "  ndjson  PATH is a file: BigQuery ML's `SELECT * FROM ML.WEIGHTS(MODEL m)` as\n"
            "          newline-delimited JSON: a global row (feature global__INTERCEPT__,\n"
            "          intercept = global bias), then one row per user (processed_input\n"
            "          \"user_id\") and per item (\"item_id\") with feature = the id,\n"
            "          intercept = its bias and factor_weights listed K..1\n"
            "  csv     PATH is a folder: users.csv and items.csv in the unnested long form\n"
            "          user_id,bias,factor,weight (item_id,... for items), one row per\n"
            "          (id, factor); the global bias is not in them\n"
            "  npy     PATH is a folder: " MFKV_NPY_USER_FACTORS ", " MFKV_NPY_ITEM_FACTORS ",\n"
            "          " MFKV_NPY_USER_BIAS ", " MFKV_NPY_ITEM_BIAS " (float32), " MFKV_NPY_USER_IDS ",\n"
            "          " MFKV_NPY_ITEM_IDS " (one id a line), " MFKV_NPY_GLOBAL_BIAS "\n"
            "Every format loads back with mfkv build.  A file is replaced atomically; a\n"
            "folder must not exist or be empty, and appears complete or not at all.\n\n"
            "options:\n"
            "      --format F      ndjson, csv or npy (required)\n"
            "  -o, --output PATH   file or folder to write (required)\n"
            "  -h, --help          this help\n\n"
            "examples:\n"
            "  mfkv weights model.mfkvm --format ndjson -o weights.ndjson\n"
            "  mfkv weights model.mfkvm --format npy -o model-npy/\n\n"
            "exit codes: 0 success, 2 usage error, 3 write error or bad input,\n"
            "4 model file corrupt\n");
}

/* One ML.WEIGHTS row of a user or an item. */
static int put_ndjson_row(FILE *f, const char *side, const char *id, float bias,
                          const float *factors, uint32_t k)
{
    json_t *fw = json_array();
    for (uint32_t j = k; j >= 1; j--)
        json_array_append_new(fw, json_pack("{s:i, s:f}", "factor", (int)j, "weight",
                                            (double)factors[j - 1]));
    json_t *row = json_pack("{s:s, s:s, s:o, s:f}", "processed_input", side, "feature", id,
                            "factor_weights", fw, "intercept", (double)bias);
    /* 9 significant digits give back the float exactly. */
    int rc = row ? json_dumpf(row, f, JSON_REAL_PRECISION(9)) : -1;
    json_decref(row);
    return rc != 0 || fputc('\n', f) == EOF ? -1 : 0;
}

static int write_ndjson(FILE *f, const mfkv_model *m)
{
    json_t *global = json_pack("{s:n, s:s, s:n, s:f}", "processed_input", "feature",
                               "global__INTERCEPT__", "factor_weights", "intercept",
                               m->global_bias);
    int rc = global ? json_dumpf(global, f, JSON_REAL_PRECISION(17)) : -1;
    json_decref(global);
    if (rc != 0 || fputc('\n', f) == EOF) return -1;
    const mfkv_idtab *ids[2] = {&m->user_ids, &m->item_ids};
    const float *factors[2] = {m->user_factors, m->item_factors};
    const float *bias[2] = {m->user_bias, m->item_bias};
    const char *side[2] = {"user_id", "item_id"};
    for (int s = 0; s < 2; s++)
        for (uint32_t i = 0; i < ids[s]->n; i++)
            if (put_ndjson_row(f, side[s], mfkv_idtab_str(ids[s], i, NULL), bias[s][i],
                               factors[s] + (size_t)i * m->n_factors, m->n_factors))
                return -1;
    return 0;
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

/* users.csv or items.csv: id,bias,factor,weight with factors K..1. */
static int write_long_csv(const char *dir, const char *name, const char *id_col,
                          const mfkv_idtab *ids, const float *factors, const float *bias,
                          uint32_t k, mfkv_diag *d)
{
    FILE *f = open_in(dir, name, d);
    if (!f) return MFKV_IO;
    fprintf(f, "%s,bias,factor,weight\n", id_col);
    char *field = malloc(2 * ids->pool_len + 2);
    int failed = !field;
    for (uint32_t i = 0; i < ids->n && !failed; i++) {
        size_t len;
        const char *s = mfkv_idtab_str(ids, i, &len);
        size_t n = cli_csv_field(field, s, len);
        for (uint32_t j = k; j >= 1; j--) {
            fwrite(field, 1, n, f);
            fprintf(f, ",%.9g,%u,%.9g\n", (double)bias[i], j,
                    (double)factors[(size_t)i * k + j - 1]);
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

static int write_npy_dir(const char *dir, const mfkv_model *m, mfkv_diag *d)
{
    char path[4096];
    uint64_t nu = m->user_ids.n, ni = m->item_ids.n, k = m->n_factors;
    struct { const char *name; const float *data; uint64_t rows, cols; } arrays[] = {
        {MFKV_NPY_USER_FACTORS, m->user_factors, nu, k},
        {MFKV_NPY_ITEM_FACTORS, m->item_factors, ni, k},
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

static int write_folder(const char *path, const mfkv_model *m, int npy, mfkv_diag *d)
{
    mfkv_atomic_dir dir;
    int rc = mfkv_atomic_dir_open(&dir, path, d);
    if (rc) return rc;
    if (npy)
        rc = write_npy_dir(dir.tmp, m, d);
    else if (!(rc = write_long_csv(dir.tmp, "users.csv", "user_id", &m->user_ids,
                                   m->user_factors, m->user_bias, m->n_factors, d)))
        rc = write_long_csv(dir.tmp, "items.csv", "item_id", &m->item_ids, m->item_factors,
                            m->item_bias, m->n_factors, d);
    if (rc) {
        mfkv_atomic_dir_abort(&dir);
        return rc;
    }
    return mfkv_atomic_dir_commit(&dir, d);
}

static int write_file(const char *path, const mfkv_model *m, mfkv_diag *d)
{
    mfkv_atomic_file file;
    int rc = mfkv_atomic_open(&file, path, d);
    if (rc) return rc;
    if (write_ndjson(file.f, m) != 0) {
        rc = mfkv_fail_errno(d, "%s: write failed", path);
        mfkv_atomic_abort(&file);
        return rc;
    }
    return mfkv_atomic_commit(&file, d);
}

int cmd_weights(int argc, char **argv)
{
    static const struct option longopts[] = {
        {"format", required_argument, NULL, 'f'},
        {"output", required_argument, NULL, 'o'},
        {"help", no_argument, NULL, 'h'},
        {0},
    };
    const char *format = NULL, *output = NULL;
    int c;
    optind = 1;
    while ((c = getopt_long(argc, argv, "f:o:h", longopts, NULL)) != -1) {
        switch (c) {
        case 'f': format = optarg; break;
        case 'o': output = optarg; break;
        case 'h': usage(stdout); return MFKV_EXIT_OK;
        default: usage(stderr); return MFKV_EXIT_USAGE;
        }
    }
    if (optind + 1 != argc || !format || !output) {
        cli_error("weights: need MODEL, --format and -o (see mfkv weights --help)");
        return MFKV_EXIT_USAGE;
    }
    int ndjson = !strcmp(format, "ndjson"), csv = !strcmp(format, "csv"),
        npy = !strcmp(format, "npy");
    if (!ndjson && !csv && !npy) {
        cli_error("--format: expected ndjson, csv or npy, got '%s'", format);
        return MFKV_EXIT_USAGE;
    }
    mfkv_model m;
    int ec = cli_read_model(argv[optind], &m, NULL);
    if (ec) return ec;
    mfkv_diag d = {0};
    int rc = ndjson ? write_file(output, &m, &d) : write_folder(output, &m, npy, &d);
    mfkv_model_free(&m);
    if (rc) {
        cli_error("%s", d.msg);
        return rc == MFKV_INVAL ? MFKV_EXIT_INPUT : cli_exit_for(rc);
    }
    return MFKV_EXIT_OK;
}
