#include <getopt.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>

#include "cli.h"
#include "io/ratings.h"
#include "model_io.h"
#include "train/als.h"
#include "train/modelfile.h"

static void usage(FILE *out)
{
    fprintf(out,
            "usage: mfkv train RATINGS -o MODEL [options]\n\n"
            "Train an explicit-feedback matrix-factorization model by alternating least\n"
            "squares, like BigQuery ML's CREATE MODEL ... MODEL_TYPE='MATRIX_FACTORIZATION':\n"
            "rating ~ global + user_bias + item_bias + dot(user_factors, item_factors).\n"
            "RATINGS: MovieLens ratings.dat / ratings.csv, or CSV/TSV with a header naming\n"
            "user, item and rating columns.  Prints one progress line per iteration on\n"
            "stderr and the training-info table on stdout.\n\n"
            "options:\n"
            "  -o, --output MODEL        model file to write (replaced atomically)\n"
            "      --factors N           NUM_FACTORS (default: round(log2(training ratings)))\n"
            "      --l2 X                L2_REG: penalty on a row's factors and bias, constant\n"
            "                            part (default %g)\n"
            "      --l2-per-rating X     penalty added per training rating of the row\n"
            "                            (ALS-WR's weighted lambda; default %g, 0 = off)\n"
            "      --iterations N        MAX_ITERATIONS (default %d)\n"
            "      --no-early-stop       EARLY_STOP = FALSE: always run every iteration\n"
            "      --min-rel-progress X  MIN_REL_PROGRESS: stop once the training loss improves\n"
            "                            by less than this fraction (default %g)\n"
            "      --holdout F           hold out this fraction of the ratings at random\n"
            "                            (DATA_SPLIT_METHOD='RANDOM'); eval_loss is their MSE\n"
            "                            (default 0: no eval split)\n"
            "      --seed S              seed of the split and initialisation (default 0)\n"
            "      --threads N           worker threads (default: all online CPUs; the model\n"
            "                            does not depend on it)\n"
            "      --user-column NAME, --item-column NAME, --rating-column NAME\n"
            "                            column names of a generic CSV/TSV\n"
            "      --skip-invalid        leave out bad lines (counted) instead of failing\n"
            "  -q, --quiet               no progress lines\n"
            "  -h, --help                this help\n\n"
            "examples:\n"
            "  mfkv train ml-1m/ratings.dat -o ml1m.mfkvm --factors 60 --holdout 0.1 --seed 1\n"
            "  mfkv train ratings.csv -o model.mfkvm --l2 5 --l2-per-rating 0.04 --no-early-stop\n\n"
            "Early stop: training ends after the first iteration whose training loss\n"
            "improves on the previous one by less than --min-rel-progress (patience 1);\n"
            "the held-out eval_loss is reported, never used to stop.  The line that ends\n"
            "training says which rule ended it.\n\n"
            "exit codes: 0 trained and written, 2 usage error, 3 bad input or failure\n",
            MFKV_ALS_DEFAULT_L2, MFKV_ALS_DEFAULT_L2_PER_RATING, MFKV_ALS_DEFAULT_ITERATIONS, MFKV_ALS_DEFAULT_MIN_REL_PROGRESS);
}

static void print_progress(const mfkv_train_row *row, const mfkv_model *m, void *ctx)
{
    (void)m;
    const mfkv_als_opts *o = ctx;
    fprintf(stderr, "iteration %u/%u: loss %.6f", row->iteration + 1, o->iterations, row->loss);
    if (!isnan(row->eval_loss)) fprintf(stderr, " eval_loss %.6f", row->eval_loss);
    fprintf(stderr, " (%.0f ms)\n", row->duration_ms);
}

/* Which rule ended training: the iteration limit, or the early stop (the
 * last iteration's relative improvement of the training loss). */
static void print_stop_reason(const mfkv_train_info *info)
{
    const mfkv_als_opts *o = &info->opts;
    size_t n = info->n_rows;
    if (n >= o->iterations || !o->early_stop || n < 2) {
        fprintf(stderr, "mfkv: stopped after %zu of %u iterations: the iteration limit (--iterations)\n", n,
                o->iterations);
        return;
    }
    double prev = info->rows[n - 2].loss, loss = info->rows[n - 1].loss;
    fprintf(stderr,
            "mfkv: stopped early after %zu of %u iterations: the training loss improved by %.4g%% "
            "(%.6f -> %.6f), less than --min-rel-progress %g%% (patience 1; --no-early-stop runs them all)\n",
            n, o->iterations, prev > 0 ? 100 * (prev - loss) / prev : 0.0, prev, loss, 100 * o->min_rel_progress);
}

enum { OPT_FACTORS = 256, OPT_L2, OPT_L2_PER_RATING, OPT_ITER, OPT_NO_EARLY, OPT_MRP, OPT_HOLDOUT, OPT_SEED,
       OPT_THREADS, OPT_SKIP, OPT_UCOL, OPT_ICOL, OPT_RCOL };

int cmd_train(int argc, char **argv)
{
    static const struct option longopts[] = {
        {"output", required_argument, NULL, 'o'},
        {"factors", required_argument, NULL, OPT_FACTORS},
        {"l2", required_argument, NULL, OPT_L2},
        {"l2-per-rating", required_argument, NULL, OPT_L2_PER_RATING},
        {"iterations", required_argument, NULL, OPT_ITER},
        {"no-early-stop", no_argument, NULL, OPT_NO_EARLY},
        {"min-rel-progress", required_argument, NULL, OPT_MRP},
        {"holdout", required_argument, NULL, OPT_HOLDOUT},
        {"seed", required_argument, NULL, OPT_SEED},
        {"threads", required_argument, NULL, OPT_THREADS},
        {"skip-invalid", no_argument, NULL, OPT_SKIP},
        {"user-column", required_argument, NULL, OPT_UCOL},
        {"item-column", required_argument, NULL, OPT_ICOL},
        {"rating-column", required_argument, NULL, OPT_RCOL},
        /* Hidden: the old spellings, still accepted. */
        {"user-col", required_argument, NULL, OPT_UCOL},
        {"item-col", required_argument, NULL, OPT_ICOL},
        {"rating-col", required_argument, NULL, OPT_RCOL},
        {"quiet", no_argument, NULL, 'q'},
        {"help", no_argument, NULL, 'h'},
        {0},
    };
    mfkv_als_opts o;
    mfkv_als_opts_default(&o);
    o.threads = cli_online_cpus();
    mfkv_ratings_opts ropts = {0};
    const char *output = NULL;
    int quiet = 0, c;
    uint32_t seed = 0;
    optind = 1;
    while ((c = getopt_long(argc, argv, "o:qh", longopts, NULL)) != -1) {
        int bad = 0;
        switch (c) {
        case 'o': output = optarg; break;
        case 'q': quiet = 1; break;
        case 'h': usage(stdout); return MFKV_EXIT_OK;
        case OPT_FACTORS: bad = cli_parse_u32("--factors", optarg, 1, 4096, &o.factors); break;
        case OPT_L2: bad = cli_parse_double("--l2", optarg, &o.l2); break;
        case OPT_L2_PER_RATING:
            bad = cli_parse_double("--l2-per-rating", optarg, &o.l2_per_rating);
            break;
        case OPT_ITER: bad = cli_parse_u32("--iterations", optarg, 1, 100000, &o.iterations); break;
        case OPT_NO_EARLY: o.early_stop = 0; break;
        case OPT_MRP: bad = cli_parse_double("--min-rel-progress", optarg, &o.min_rel_progress); break;
        case OPT_HOLDOUT: bad = cli_parse_double("--holdout", optarg, &o.holdout); break;
        case OPT_SEED: bad = cli_parse_u32("--seed", optarg, 0, UINT32_MAX, &seed); break;
        case OPT_THREADS: bad = cli_parse_u32("--threads", optarg, 1, 1024, &o.threads); break;
        case OPT_SKIP: ropts.skip_invalid = 1; break;
        case OPT_UCOL: ropts.user_col = optarg; break;
        case OPT_ICOL: ropts.item_col = optarg; break;
        case OPT_RCOL: ropts.rating_col = optarg; break;
        default: usage(stderr); return MFKV_EXIT_USAGE;
        }
        if (bad) return MFKV_EXIT_USAGE;
    }
    o.seed = seed;
    if (optind + 1 != argc || !output) {
        cli_error("train: need one RATINGS file and -o MODEL (see mfkv train --help)");
        return MFKV_EXIT_USAGE;
    }
    mfkv_diag d = {0};
    if (mfkv_als_check_opts(&o, &d)) {
        cli_error("train: %s", d.msg);
        return MFKV_EXIT_USAGE;
    }
    if (cli_check_output(output)) return MFKV_EXIT_INPUT;
    cli_remove_partial_on_signals();
    mfkv_ratings r = {0};
    int rc = mfkv_ratings_load(argv[optind], &ropts, &r, &d);
    if (rc) {
        cli_error("%s", d.msg);
        return cli_exit_for(rc);
    }
    cli_report_skipped(argv[optind], r.skipped);
    if (!quiet)
        fprintf(stderr, "mfkv: %zu ratings, %u users, %u items\n", r.n, r.users.n, r.items.n);
    mfkv_model m;
    mfkv_train_info info;
    mfkv_als_opts shown = o;
    rc = mfkv_als_train(&r, &o, quiet ? NULL : print_progress, &shown, &m, &info, &d);
    mfkv_ratings_free(&r);
    if (rc) {
        cli_error("train: %s", d.msg);
        return cli_exit_for(rc);
    }
    rc = mfkv_modelfile_write(output, &m, &info, &d);
    if (rc) {
        cli_error("%s", d.msg);
    } else {
        cli_print_training_info(&info);
        if (!quiet) print_stop_reason(&info);
        if (!quiet)
            fprintf(stderr, "mfkv: wrote %s (%u factors, l2 %g + %g per rating, %zu iterations)\n",
                    output, info.opts.factors, info.opts.l2, info.opts.l2_per_rating, info.n_rows);
    }
    mfkv_model_free(&m);
    mfkv_train_info_free(&info);
    return rc ? cli_exit_for(rc) : MFKV_EXIT_OK;
}
