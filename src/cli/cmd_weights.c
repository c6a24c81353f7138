#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "common/atomic_file.h"
#include "io/export.h"
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

static int write_folder(const char *path, const mfkv_model *m, int npy, mfkv_diag *d)
{
    mfkv_atomic_dir dir;
    int rc = mfkv_atomic_dir_open(&dir, path, d);
    if (rc) return rc;
    rc = npy ? mfkv_export_npy_dir(dir.tmp, m, d) : mfkv_export_long_csv(dir.tmp, m, d);
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
    if ((rc = mfkv_export_ndjson(file.f, path, m, d))) {
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
    if (cli_check_output(output)) return MFKV_EXIT_INPUT;
    cli_remove_partial_on_signals();
    mfkv_model m;
    int st = cli_read_model(argv[optind], &m, NULL);
    if (st) return cli_exit_for(st);
    mfkv_diag d = {0};
    int rc = ndjson ? write_file(output, &m, &d) : write_folder(output, &m, npy, &d);
    mfkv_model_free(&m);
    if (rc) {
        cli_error("%s", d.msg);
        return rc == MFKV_INVAL ? MFKV_EXIT_INPUT : cli_exit_for(rc);
    }
    return MFKV_EXIT_OK;
}
