#include <getopt.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "io/ratings.h"
#include "model_io.h"
#include "train/eval.h"

static void usage(FILE *out)
{
    fprintf(out,
            "usage: mfkv eval MODEL RATINGS [-k N] [--threshold X] [--format table|json]\n\n"
            "Evaluate a model on ratings: ML.EVALUATE's six regression metrics\n"
            "(mean_absolute_error, mean_squared_error, mean_squared_log_error,\n"
            "median_absolute_error, r2_score, explained_variance) and ranking metrics at k\n"
            "(precision, recall, NDCG, MAP) where an item is relevant when rated >= the\n"
            "threshold, each user's list ranking every item not rated in training.\n"
            "Those lists are the ones a store built from MODEL serves: the predicted rating\n"
            "with every bias, exact (as mfkv build ranks), ties by item id.\n\n"
            "When RATINGS is the very file the model was trained on with --holdout, only\n"
            "its held-out ratings are evaluated and its training ratings are left out of\n"
            "the lists.  Any other file is evaluated whole, as new data, and no item is\n"
            "left out.  Ratings of users or items the model lacks are predicted from the\n"
            "parts it has (global and known bias) and counted as unknown.\n\n"
            "options:\n"
            "  -k, --k N                 list length of the ranking metrics (default %d)\n"
            "      --threshold X         relevance threshold (default %.1f)\n"
            "      --format table|json   output format (default table)\n"
            "      --skip-invalid        leave out bad lines of RATINGS\n"
            "  -h, --help                this help\n\n"
            "examples:\n"
            "  mfkv eval model.mfkvm ratings.csv\n"
            "  mfkv eval model.mfkvm test.csv -k 20 --format json\n\n"
            "exit codes: 0 success, 2 usage error, 3 bad input, 4 MODEL is corrupt, not a\n"
            "model file (a store, say) or newer (see mfkv --help)\n",
            MFKV_EVAL_DEFAULT_K, MFKV_EVAL_DEFAULT_THRESHOLD);
}

static void print_table(const mfkv_eval_result *e, const char *split)
{
    const mfkv_regression_metrics *g = &e->regression;
    printf("%-24s %s\n", "split", split);
    printf("%-24s %llu\n", "ratings", (unsigned long long)e->n);
    printf("%-24s %llu\n", "unknown", (unsigned long long)e->n_unknown);
    printf("%-24s %.6f\n", "mean_absolute_error", g->mean_absolute_error);
    printf("%-24s %.6f\n", "mean_squared_error", g->mean_squared_error);
    printf("%-24s %.6f\n", "mean_squared_log_error", g->mean_squared_log_error);
    printf("%-24s %.6f\n", "median_absolute_error", g->median_absolute_error);
    printf("%-24s %.6f\n", "r2_score", g->r2_score);
    printf("%-24s %.6f\n", "explained_variance", g->explained_variance);
    printf("%-24s %llu (rating >= %g)\n", "ranked_users", (unsigned long long)e->n_ranked_users,
           e->relevance_threshold);
    printf("precision_at_%-11u %.6f\n", e->k, e->ranking.precision_at_k);
    printf("recall_at_%-14u %.6f\n", e->k, e->ranking.recall_at_k);
    printf("ndcg_at_%-16u %.6f\n", e->k, e->ranking.ndcg_at_k);
    printf("map_at_%-17u %.6f\n", e->k, e->ranking.map_at_k);
}

static int print_json(const mfkv_eval_result *e, const char *split)
{
    const mfkv_regression_metrics *g = &e->regression;
    /* NaN (no ranked user) has no JSON spelling: it becomes null. */
    json_t *o = json_pack("{s:s, s:I, s:I, s:f, s:f, s:f, s:f, s:f, s:f, s:i, s:f, s:I}",
                          "split", split, "ratings", (json_int_t)e->n, "unknown",
                          (json_int_t)e->n_unknown, "mean_absolute_error",
                          g->mean_absolute_error, "mean_squared_error", g->mean_squared_error,
                          "mean_squared_log_error", g->mean_squared_log_error,
                          "median_absolute_error", g->median_absolute_error, "r2_score",
                          g->r2_score, "explained_variance", g->explained_variance, "k",
                          (int)e->k, "relevance_threshold", e->relevance_threshold,
                          "ranked_users", (json_int_t)e->n_ranked_users);
    if (!o) return -1;
    const char *names[] = {"precision_at_k", "recall_at_k", "ndcg_at_k", "map_at_k"};
    const double values[] = {e->ranking.precision_at_k, e->ranking.recall_at_k,
                             e->ranking.ndcg_at_k, e->ranking.map_at_k};
    for (int j = 0; j < 4; j++)
        json_object_set_new(o, names[j], e->n_ranked_users ? json_real(values[j]) : json_null());
    int rc = json_dumpf(o, stdout, JSON_INDENT(2) | JSON_REAL_PRECISION(10));
    fputc('\n', stdout);
    json_decref(o);
    return rc;
}

enum { OPT_K = 256, OPT_THRESHOLD, OPT_FORMAT, OPT_SKIP };

int cmd_eval(int argc, char **argv)
{
    static const struct option longopts[] = {
        {"k", required_argument, NULL, OPT_K},
        {"threshold", required_argument, NULL, OPT_THRESHOLD},
        {"format", required_argument, NULL, OPT_FORMAT},
        {"skip-invalid", no_argument, NULL, OPT_SKIP},
        {"help", no_argument, NULL, 'h'},
        {0},
    };
    uint32_t k = MFKV_EVAL_DEFAULT_K;
    double threshold = MFKV_EVAL_DEFAULT_THRESHOLD;
    int json = 0, c;
    mfkv_ratings_opts ropts = {0};
    optind = 1;
    while ((c = getopt_long(argc, argv, "k:h", longopts, NULL)) != -1) {
        int bad = 0;
        switch (c) {
        case 'h': usage(stdout); return MFKV_EXIT_OK;
        case 'k': case OPT_K: bad = cli_parse_u32("-k", optarg, 1, 100000, &k); break;
        case OPT_THRESHOLD: bad = cli_parse_double("--threshold", optarg, &threshold); break;
        case OPT_FORMAT:
            if (!strcmp(optarg, "json")) json = 1;
            else if (!strcmp(optarg, "table")) json = 0;
            else {
                cli_error("--format: expected table or json, got '%s'", optarg);
                bad = 1;
            }
            break;
        case OPT_SKIP: ropts.skip_invalid = 1; break;
        default: usage(stderr); return MFKV_EXIT_USAGE;
        }
        if (bad) return MFKV_EXIT_USAGE;
    }
    if (optind + 2 != argc) {
        cli_error("eval: need MODEL and RATINGS (see mfkv eval --help)");
        return MFKV_EXIT_USAGE;
    }
    mfkv_model m;
    mfkv_train_info info;
    int ec = cli_read_model(argv[optind], &m, &info);
    if (ec) return cli_exit_for(ec);
    mfkv_diag d = {0};
    mfkv_ratings r = {0};
    /* Item index order = id order: the lists tie as a store's do. */
    int rc = mfkv_model_sort_items(&m);
    if (rc) mfkv_fail(&d, rc, "out of memory sorting the model's items");
    if (!rc) rc = mfkv_ratings_load(argv[optind + 1], &ropts, &r, &d);
    uint8_t *is_test = NULL;
    const char *split = "all";
    if (!rc && info.opts.holdout > 0 && info.n_ratings == r.n &&
        info.ratings_hash == mfkv_ratings_fingerprint(&r)) {
        is_test = malloc(r.n + 1);
        if (!is_test) rc = mfkv_fail(&d, MFKV_NOMEM, "out of memory");
        else mfkv_holdout_split(r.n, info.opts.holdout, info.opts.seed, is_test);
        split = "holdout";
    }
    if (!rc) cli_report_skipped(argv[optind + 1], r.skipped);
    mfkv_eval_result e;
    if (!rc) rc = mfkv_eval(&m, &r, is_test, k, threshold, &e, &d);
    if (rc) {
        cli_error("%s", d.msg);
        ec = cli_exit_for(rc);
    } else if (json) {
        if (print_json(&e, split) != 0) {
            cli_error("eval: cannot format JSON");
            ec = MFKV_EXIT_INPUT;
        }
    } else {
        print_table(&e, split);
    }
    free(is_test);
    mfkv_ratings_free(&r);
    mfkv_model_free(&m);
    mfkv_train_info_free(&info);
    return ec;
}
