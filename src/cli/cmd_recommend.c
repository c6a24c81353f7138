#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "common/atomic_file.h"
#include "model_io.h"
#include "train/recommend.h"

static void usage(FILE *out)
{
    fprintf(out,
            "usage: mfkv recommend MODEL [-o FILE] [--no-header]\n\n"
            "Stream the predicted rating of every user x item pair as CSV, like BigQuery\n"
            "ML's ML.RECOMMEND without input data: predicted_rating,user_id,item_id, users\n"
            "and items in model order, ratings with 6 decimals (the dot product in float,\n"
            "the sum of the parts in double).\n"
            "A 6,040 x 3,706 model gives 22.4 million rows.\n\n"
            "options:\n"
            "  -o, --output FILE   write there (atomically) instead of stdout\n"
            "      --no-header     leave out the header line\n"
            "  -h, --help          this help\n\n"
            "examples:\n"
            "  mfkv recommend model.mfkvm | head\n"
            "  mfkv recommend model.mfkvm -o all.csv\n\n"
            "exit codes: 0 success, 2 usage error, 3 bad input or write error,\n"
            "4 model file corrupt\n");
}

int cmd_recommend(int argc, char **argv)
{
    static const struct option longopts[] = {
        {"output", required_argument, NULL, 'o'},
        {"no-header", no_argument, NULL, 'H'},
        {"help", no_argument, NULL, 'h'},
        {0},
    };
    const char *output = NULL;
    int header = 1, c;
    optind = 1;
    while ((c = getopt_long(argc, argv, "o:h", longopts, NULL)) != -1) {
        switch (c) {
        case 'o': output = optarg; break;
        case 'H': header = 0; break;
        case 'h': usage(stdout); return MFKV_EXIT_OK;
        default: usage(stderr); return MFKV_EXIT_USAGE;
        }
    }
    if (optind + 1 != argc) {
        cli_error("recommend: need one MODEL (see mfkv recommend --help)");
        return MFKV_EXIT_USAGE;
    }
    if (output && cli_check_output(output)) return MFKV_EXIT_INPUT;
    if (output) cli_remove_partial_on_signals();

    mfkv_model m;
    int st = cli_read_model(argv[optind], &m, NULL);
    if (st) return cli_exit_for(st);
    mfkv_diag d = {0};
    mfkv_atomic_file file = {0};
    FILE *out = stdout;
    int rc = output ? mfkv_atomic_open(&file, output, &d) : MFKV_OK;
    if (output && !rc) out = file.f;
    if (!rc && (rc = mfkv_recommend_csv(&m, out, output ? output : "stdout", header, &d))) {
        mfkv_atomic_abort(&file);
    } else if (!rc) {
        rc = output ? mfkv_atomic_commit(&file, &d)
                    : fflush(stdout) != 0 || ferror(stdout)
                          ? mfkv_fail_errno(&d, "recommend: stdout: write failed")
                          : MFKV_OK;
    }
    if (rc) cli_error("%s", d.msg);
    mfkv_model_free(&m);
    return rc ? cli_exit_for(rc) : MFKV_EXIT_OK;
}
