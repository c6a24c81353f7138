/* mfkv build - load a model, compute every user's top-K, publish a store. */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "builder/blas_kernel.h"
#include "builder/build.h"
#include "format.h"
#include "cli.h"
#include "io/factors.h"
#include "io/ratings.h"
#include "common/clock.h"
#include "progress.h"
#include "train/modelfile.h"

static void usage(FILE *out)
{
    fputs("usage: mfkv build INPUT [options]\n"
          "\n"
          "Compute every user's exact top-K items by predicted rating\n"
          "  global_bias + user_bias + item_bias + dot(user_factors, item_factors)\n"
          "(ties broken by item id) and publish them atomically as one store file.\n"
          "\n"
          "INPUT, exactly one of:\n"
          "  --weights FILE        BigQuery ML `SELECT * FROM ML.WEIGHTS(MODEL m)` as NDJSON\n"
          "    --user-column NAME  processed_input of the user side (default: the name\n"
          "                        containing \"user\")\n"
          "  --users FILE --items FILE --global-bias X\n"
          "                        the unnested long CSV form (id,bias,factor,weight);\n"
          "                        X is the global intercept (the global__INTERCEPT__\n"
          "                        row of ML.WEIGHTS), which those files do not carry:\n"
          "                        required, since without it every stored score would\n"
          "                        be off by it (give 0 if the model has none)\n"
          "  --npy DIR             user_factors.npy, item_factors.npy, [user_bias.npy,\n"
          "                        item_bias.npy], user_ids.txt, item_ids.txt, [global_bias.txt]\n"
          "  --model FILE          a model written by `mfkv train`\n"
          "\n"
          "options:\n"
          "  -o, --output STORE    where to publish (default: -s, $MFKV_STORE, ./" MFKV_DEFAULT_STORE ")\n"
          "  -s, --store STORE     same as --output\n"
          "  -k, --k N             list length per user, 1..100000 (default 50)\n"
          "  --titles FILE         movies.dat or movies.csv: titles and genres for display\n"
          "  --exclude-seen FILE   ratings (ratings.dat, ratings.csv, or CSV/TSV with a header):\n"
          "                        never recommend an item the user already rated\n"
          "  --skip-invalid        with --exclude-seen: skip and count bad lines\n"
          "  --no-fallback         do not store the list for unknown users (top-K by\n"
          "                        global + item bias, served by `mfkv get --fallback`)\n"
          "  --shard I/N           keep only the users of shard I of N (0 <= I < N): a hash\n"
          "                        of the user id (src/format.h); lists, items and fallback\n"
          "                        are exactly the full build's. `mfkv merge` joins shards\n"
          "  --threads N           worker threads (default: all online CPUs)\n"
          "  --timings             print seconds spent loading, preparing, computing the\n"
          "                        lists and writing, and the BLAS kernels used, on\n"
          "                        stderr (also with --quiet)\n"
          "  -q, --quiet           no progress bar or summary\n"
          "  -h, --help            this text\n"
          "\n"
          "The build time recorded is $SOURCE_DATE_EPOCH when set, so identical inputs and\n"
          "options give a byte-identical store. A failed or interrupted build leaves the\n"
          "file at STORE untouched.\n"
          "\n"
          "examples:\n"
          "  mfkv build --weights weights.ndjson -o recs.mfkv\n"
          "  mfkv build --users users.csv --items items.csv --global-bias 3.58 -k 100\n"
          "  mfkv build --model model.mfkvm --titles movies.csv --exclude-seen ratings.csv\n"
          "\n"
          "exit codes: 0 built, 2 usage, 3 bad input or I/O error, 4 a --model file that\n"
          "is corrupt, not a model file (a store, say) or newer (see mfkv --help)\n",
          out);
}

static int build_time(int64_t *out)
{
    const char *sde = getenv("SOURCE_DATE_EPOCH");
    if (!sde || !*sde) {
        *out = (int64_t)time(NULL);
        return 0;
    }
    char *end;
    errno = 0;
    long long v = strtoll(sde, &end, 10);
    if (errno || *end || v < 0) {
        cli_error("SOURCE_DATE_EPOCH: expected seconds since the epoch, got '%s'", sde);
        return -1;
    }
    *out = v;
    return 0;
}

typedef struct build_args {
    const char *weights, *user_column, *users, *items, *npy, *model, *output;
    const char *titles, *exclude, *global_bias_text;
    double global_bias;
    uint32_t k, threads, shard_index, shard_count;
    int skip_invalid, no_fallback, quiet, timings;
} build_args;

static int load_model(const build_args *a, mfkv_model *m, mfkv_diag *d)
{
    if (a->weights) return mfkv_load_bqml_ndjson(a->weights, a->user_column, m, d);
    if (a->users) return mfkv_load_bqml_csv(a->users, a->items, a->global_bias, a->threads, m, d);
    if (a->npy) return mfkv_load_npy_dir(a->npy, m, d);
    return mfkv_modelfile_read(a->model, m, NULL, d);
}

static const char *base_name(const char *p)
{
    const char *s = strrchr(p, '/');
    return s ? s + 1 : p;
}

static int parse_shard(const char *s, build_args *a)
{
    unsigned i, n;
    int used = 0;
    if (sscanf(s, "%u/%u%n", &i, &n, &used) != 2 || s[used] || n < 1 || n > MFKV_MAX_SHARDS || i >= n) {
        cli_error("--shard: expected I/N with 0 <= I < N <= %u, got '%s'", MFKV_MAX_SHARDS, s);
        return -1;
    }
    a->shard_index = i;
    a->shard_count = n;
    return 0;
}

static cli_parsed parse_args(int argc, char **argv, build_args *a)
{
    enum { O_WEIGHTS = 256, O_USERCOL, O_USERS, O_ITEMS, O_GB, O_NPY, O_MODEL, O_TITLES, O_EXCL, O_SKIP, O_NOFB, O_THREADS, O_TIMINGS, O_SHARD };
    static const struct option opts[] = {
        {"weights", required_argument, 0, O_WEIGHTS}, {"user-column", required_argument, 0, O_USERCOL},
        {"users", required_argument, 0, O_USERS},     {"items", required_argument, 0, O_ITEMS},
        {"global-bias", required_argument, 0, O_GB},  {"npy", required_argument, 0, O_NPY},
        {"model", required_argument, 0, O_MODEL},     {"output", required_argument, 0, 'o'},
        {"store", required_argument, 0, 's'},         {"titles", required_argument, 0, O_TITLES},
        {"exclude-seen", required_argument, 0, O_EXCL}, {"skip-invalid", no_argument, 0, O_SKIP},
        {"no-fallback", no_argument, 0, O_NOFB},      {"threads", required_argument, 0, O_THREADS},
        {"timings", no_argument, 0, O_TIMINGS},       {"quiet", no_argument, 0, 'q'},
        {"shard", required_argument, 0, O_SHARD},     {"k", required_argument, 0, 'k'},
        {"user-col", required_argument, 0, O_USERCOL}, /* hidden: train's old spelling */
        {"help", no_argument, 0, 'h'},
        {0, 0, 0, 0},
    };
    int c;
    while ((c = getopt_long(argc, argv, "o:s:k:qh", opts, NULL)) != -1) {
        switch (c) {
        case O_WEIGHTS: a->weights = optarg; break;
        case O_USERCOL: a->user_column = optarg; break;
        case O_USERS: a->users = optarg; break;
        case O_ITEMS: a->items = optarg; break;
        case O_GB:
            a->global_bias_text = optarg;
            if (cli_parse_double("--global-bias", optarg, &a->global_bias)) return CLI_PARSED_USAGE;
            break;
        case O_NPY: a->npy = optarg; break;
        case O_MODEL: a->model = optarg; break;
        case 'o': case 's': a->output = optarg; break;
        case 'k': if (cli_parse_u32("-k", optarg, 1, 100000, &a->k)) return CLI_PARSED_USAGE; break;
        case O_TITLES: a->titles = optarg; break;
        case O_EXCL: a->exclude = optarg; break;
        case O_SKIP: a->skip_invalid = 1; break;
        case O_NOFB: a->no_fallback = 1; break;
        case O_THREADS: if (cli_parse_u32("--threads", optarg, 1, 1024, &a->threads)) return CLI_PARSED_USAGE; break;
        case O_TIMINGS: a->timings = 1; break;
        case O_SHARD: if (parse_shard(optarg, a)) return CLI_PARSED_USAGE; break;
        case 'q': a->quiet = 1; break;
        case 'h': usage(stdout); return CLI_PARSED_HELP;
        default: usage(stderr); return CLI_PARSED_USAGE;
        }
    }
    if (optind < argc) {
        cli_error("build: unexpected argument '%s' (inputs are given with --weights, --users/--items, --npy or --model)", argv[optind]);
        return CLI_PARSED_USAGE;
    }
    int inputs = !!a->weights + !!a->users + !!a->npy + !!a->model;
    if (inputs != 1 || !!a->users != !!a->items) {
        cli_error("build: give exactly one input: --weights FILE, --users FILE --items FILE, --npy DIR or --model FILE");
        return CLI_PARSED_USAGE;
    }
    if (a->user_column && !a->weights) {
        cli_error("build: --user-column only applies to --weights");
        return CLI_PARSED_USAGE;
    }
    if (a->users && !a->global_bias_text) {
        cli_error("build: --users/--items need --global-bias X: the long CSV form carries no global\n"
                  "  intercept, so without it every stored score would be off by it (BigQuery ML:\n"
                  "  the global__INTERCEPT__ row of ML.WEIGHTS; give --global-bias 0 if there is none)");
        return CLI_PARSED_USAGE;
    }
    if (a->global_bias_text && !a->users) {
        cli_error("build: --global-bias only applies to --users/--items (the other inputs carry it)");
        return CLI_PARSED_USAGE;
    }
    if (a->skip_invalid && !a->exclude) {
        cli_error("build: --skip-invalid only applies to --exclude-seen");
        return CLI_PARSED_USAGE;
    }
    return CLI_PARSED_RUN;
}

int cmd_build(int argc, char **argv)
{
    build_args a = {.k = 50};
    cli_parsed pr = parse_args(argc, argv, &a);
    if (pr != CLI_PARSED_RUN) return pr == CLI_PARSED_HELP ? MFKV_EXIT_OK : MFKV_EXIT_USAGE;
    const char *output = cli_store_path(a.output);
    int64_t when;
    if (build_time(&when)) return MFKV_EXIT_USAGE;
    if (cli_check_output(output)) return MFKV_EXIT_INPUT;

    cli_remove_partial_on_signals();

    double t0 = mfkv_now();
    mfkv_diag d = {0};
    mfkv_model m;
    mfkv_model_init(&m);
    mfkv_ratings seen = {0};
    mfkv_movies movies = {0};
    int rc = load_model(&a, &m, &d);
    mfkv_ratings_opts ropts = {.skip_invalid = a.skip_invalid};
    if (!rc && a.exclude) rc = mfkv_ratings_load(a.exclude, &ropts, &seen, &d);
    if (!rc && a.titles) rc = mfkv_movies_load(a.titles, &movies, &d);
    if (rc) {
        cli_error("%s", d.msg);
        goto out;
    }
    double loaded = mfkv_now();
    cli_report_skipped(a.exclude, seen.skipped);

    /* Every input file is digested into the provenance; an npy folder by its files. */
    static const char *const npy_names[] = {MFKV_NPY_USER_FACTORS, MFKV_NPY_ITEM_FACTORS, MFKV_NPY_USER_BIAS,
                                            MFKV_NPY_ITEM_BIAS, MFKV_NPY_USER_IDS, MFKV_NPY_ITEM_IDS,
                                            MFKV_NPY_GLOBAL_BIAS};
    enum { N_NPY = sizeof npy_names / sizeof *npy_names };
    char npy_paths[N_NPY][4096];
    const char *inputs[6 + N_NPY];
    size_t n_inputs = 0;
    const char *in_files[] = {a.weights, a.users, a.items, a.model, a.exclude, a.titles};
    for (size_t i = 0; i < sizeof in_files / sizeof *in_files; i++)
        if (in_files[i]) inputs[n_inputs++] = in_files[i];
    for (size_t i = 0; a.npy && i < N_NPY; i++) {
        snprintf(npy_paths[i], sizeof npy_paths[i], "%s/%s", a.npy, npy_names[i]);
        if (access(npy_paths[i], F_OK) == 0) inputs[n_inputs++] = npy_paths[i];
    }
    char options[1024];
    snprintf(options, sizeof options, "k=%u fallback=%s%s%s%s%s input=%s", a.k, a.no_fallback ? "no" : "yes",
             a.exclude ? " exclude_seen=" : "", a.exclude ? base_name(a.exclude) : "",
             a.titles ? " titles=" : "", a.titles ? base_name(a.titles) : "",
             a.weights ? "bqml-ndjson" : a.users ? "bqml-csv" : a.npy ? "npy" : "mfkv-model");

    cli_progress bar;
    cli_progress_init(&bar, "users", a.quiet);
    mfkv_build_request req = {
        .model = &m, .k = a.k, .threads = a.threads, .exclude_seen = a.exclude ? &seen : NULL,
        .titles = a.titles ? &movies : NULL, .fallback = !a.no_fallback, .inputs = inputs,
        .n_inputs = n_inputs, .options = options, .build_time = when,
        .shard_index = a.shard_index, .shard_count = a.shard_count,
        .progress = cli_progress_update, .progress_ctx = &bar,
    };
    mfkv_build_summary sum;
    rc = mfkv_build_store(output, &req, &sum, &d);
    cli_progress_done(&bar);
    if (rc) {
        cli_error("%s", d.msg);
        goto out;
    }
    if (a.timings) {
        fprintf(stderr, "mfkv: timings: load %.4f s, prepare %.4f s, topk %.4f s, write %.4f s, total %.4f s\n",
                loaded - t0, sum.prepare_seconds, sum.topk_seconds, sum.write_seconds, mfkv_now() - t0);
        fprintf(stderr, "mfkv: blas: %s\n", mfkv_blas_kernel());
    }
    if (!a.quiet) {
        double secs = mfkv_now() - t0;
        fprintf(stderr, "mfkv: built %s: %u users x %u items, k=%u, %.2f s (%.0f users/s)", output, sum.users,
                sum.items, sum.k, secs, secs > 0 ? sum.users / secs : 0.0);
        if (a.exclude) fprintf(stderr, ", %llu seen pairs excluded", (unsigned long long)sum.excluded_pairs);
        if (a.titles) fprintf(stderr, ", %u/%u items titled", sum.titled_items, sum.items);
        fputc('\n', stderr);
    }
out:
    mfkv_model_free(&m);
    if (a.exclude) mfkv_ratings_free(&seen);
    if (a.titles) mfkv_movies_free(&movies);
    return cli_exit_for(rc);
}
