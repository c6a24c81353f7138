/* mfkv - command-line entry point: dispatch to one subcommand. */
#include <stdio.h>
#include <string.h>

#include "cli.h"

static const struct command {
    const char *name;
    int (*run)(int argc, char **argv);
    const char *summary;
} commands[] = {
    {"build", cmd_build, "compute every user's top-K and write a store"},
    {"merge", cmd_merge, "join shard stores into the store the full build writes"},
    {"get", cmd_get, "print the recommendations of one or more users"},
    {"info", cmd_info, "print a store's metadata and provenance"},
    {"verify", cmd_verify, "check every record and the whole-store digest"},
    {"dump", cmd_dump, "stream every user's list as TSV"},
    {"train", cmd_train, "train a matrix-factorization model (ALS) from ratings"},
    {"eval", cmd_eval, "evaluate a model on ratings (ML.EVALUATE + ranking metrics)"},
    {"weights", cmd_weights, "export a model's weights (BigQuery ML shapes, .npy)"},
    {"predict", cmd_predict, "one predicted rating with its parts"},
    {"recommend", cmd_recommend, "stream every user x item predicted rating as CSV"},
    {"serve", cmd_serve, "HTTP endpoint compatible with TF Serving's REST API"},
};

static void usage(FILE *out)
{
    fprintf(out,
            "usage: mfkv <command> [options]   (mfkv <command> --help for details)\n\n"
            "Precomputed matrix-factorization recommendations, served from one file.\n\n"
            "commands:\n");
    for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++)
        fprintf(out, "  %-10s %s\n", commands[i].name, commands[i].summary);
    fprintf(out,
            "\nstore path: -s/--store, else $MFKV_STORE, else ./" MFKV_DEFAULT_STORE "\n"
            "\nexit codes (every command):\n" MFKV_EXIT_CODES_HELP);
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        usage(stderr);
        return MFKV_EXIT_USAGE;
    }
    if (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h") || !strcmp(argv[1], "help")) {
        usage(stdout);
        return MFKV_EXIT_OK;
    }
    if (!strcmp(argv[1], "--version") || !strcmp(argv[1], "-V")) {
        printf("mfkv %s\n", mfkv_version());
        return MFKV_EXIT_OK;
    }
    for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++)
        if (!strcmp(argv[1], commands[i].name)) return commands[i].run(argc - 1, argv + 1);
    cli_error("unknown command '%s' (see mfkv --help)", argv[1]);
    return MFKV_EXIT_USAGE;
}
