/* mfkv merge - join the shard stores of one build into one store. */
#include <getopt.h>
#include <stdio.h>

#include "builder/merge.h"
#include "cli.h"
#include "common/clock.h"
#include "progress.h"

static void usage(FILE *out)
{
    fputs("usage: mfkv merge -o STORE SHARD...\n"
          "\n"
          "Join the shard stores of one build (`mfkv build --shard I/N`, or the Spark job\n"
          "of the Python package) into the store the unsharded build writes: record for\n"
          "record, and byte for byte when the shards were built with SOURCE_DATE_EPOCH.\n"
          "Users are streamed in key order (memory holds one list per shard and the item\n"
          "table) and every record is checksum-verified on the way. Refuses, naming the\n"
          "files, shards of different models, inputs or options, a missing or duplicate\n"
          "shard. STORE is published atomically: on failure it is left untouched.\n"
          "\n"
          "options:\n"
          "  -o, --output STORE    where to publish (required)\n"
          "  -q, --quiet           no progress bar or summary\n"
          "  -h, --help            this text\n"
          "\n"
          "example:\n"
          "  for i in 0 1 2; do mfkv build --npy model --shard $i/3 -o s$i.mfkv; done\n"
          "  mfkv merge -o recs.mfkv s0.mfkv s1.mfkv s2.mfkv\n"
          "\n"
          "exit codes: 0 merged, 2 usage, 3 shards that do not belong together or an I/O\n"
          "error, 4 a corrupt, foreign or newer shard\n",
          out);
}

int cmd_merge(int argc, char **argv)
{
    static const struct option opts[] = {
        {"output", required_argument, 0, 'o'}, {"quiet", no_argument, 0, 'q'},
        {"help", no_argument, 0, 'h'},         {0, 0, 0, 0},
    };
    const char *output = NULL;
    int quiet = 0, c;
    while ((c = getopt_long(argc, argv, "o:qh", opts, NULL)) != -1) {
        switch (c) {
        case 'o': output = optarg; break;
        case 'q': quiet = 1; break;
        case 'h': usage(stdout); return MFKV_EXIT_OK;
        default: usage(stderr); return MFKV_EXIT_USAGE;
        }
    }
    if (!output || optind >= argc) {
        cli_error("merge: give -o STORE and at least one shard store (see mfkv merge --help)");
        return MFKV_EXIT_USAGE;
    }
    cli_remove_partial_on_signals();
    double t0 = mfkv_now();
    cli_progress bar;
    cli_progress_init(&bar, "users", quiet);
    mfkv_diag d = {0};
    mfkv_merge_summary sum;
    int rc = mfkv_merge_stores(output, (const char *const *)argv + optind, (size_t)(argc - optind),
                               cli_progress_update, &bar, &sum, &d);
    cli_progress_done(&bar);
    if (rc) {
        cli_error("%s", d.msg);
        return rc == MFKV_INVAL ? MFKV_EXIT_INPUT : cli_exit_for(rc);
    }
    if (!quiet)
        fprintf(stderr, "mfkv: merged %u shards into %s: %u users x %u items, k=%u, %.2f s\n", sum.shards, output,
                sum.users, sum.items, sum.k, mfkv_now() - t0);
    return MFKV_EXIT_OK;
}
