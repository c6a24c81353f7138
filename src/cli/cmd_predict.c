#include <getopt.h>
#include <stdio.h>
#include <string.h>

#include "cli.h"
#include "model_io.h"

static void usage(FILE *out)
{
    fprintf(out,
            "usage: mfkv predict MODEL USER ITEM\n\n"
            "Print the model's predicted rating of ITEM by USER (ids as in the ratings)\n"
            "and its parts: predicted = global + user_bias + item_bias + dot.\n\n"
            "options:\n"
            "  -h, --help   this help\n\n"
            "example:\n"
            "  mfkv predict model.mfkvm 1 3382\n\n"
            "exit codes: 0 success, 1 user or item not in the model, 2 usage error,\n"
            "3 bad input, 4 model file corrupt\n");
}

static int find(const mfkv_idtab *ids, const char *what, const char *id, uint32_t *index)
{
    if (mfkv_idtab_find(ids, id, strlen(id), index) == MFKV_OK) return 0;
    cli_error("predict: %s '%s' is not in the model", what, id);
    return -1;
}

int cmd_predict(int argc, char **argv)
{
    static const struct option longopts[] = {{"help", no_argument, NULL, 'h'}, {0}};
    int c;
    optind = 1;
    while ((c = getopt_long(argc, argv, "h", longopts, NULL)) != -1) {
        if (c == 'h') {
            usage(stdout);
            return MFKV_EXIT_OK;
        }
        usage(stderr);
        return MFKV_EXIT_USAGE;
    }
    if (optind + 3 != argc) {
        cli_error("predict: need MODEL USER ITEM (see mfkv predict --help)");
        return MFKV_EXIT_USAGE;
    }
    mfkv_model m;
    int st = cli_read_model(argv[optind], &m, NULL);
    if (st) return cli_exit_for(st);
    uint32_t u, i;
    if (find(&m.user_ids, "user", argv[optind + 1], &u) ||
        find(&m.item_ids, "item", argv[optind + 2], &i)) {
        mfkv_model_free(&m);
        return MFKV_EXIT_NOTFOUND;
    }
    /* The parts and the sum of mfkv_model_predict, the score a store ranks by. */
    double bu = m.user_bias[u], bi = m.item_bias[i];
    double dot = mfkv_score_dot(m.user_factors + (size_t)u * m.n_factors,
                                m.item_factors + (size_t)i * m.n_factors, m.n_factors);
    printf("predicted_rating %.9g\n", mfkv_model_predict(&m, u, i));
    printf("global_bias      %.9g\n", m.global_bias);
    printf("user_bias        %.9g\n", bu);
    printf("item_bias        %.9g\n", bi);
    printf("dot              %.9g\n", dot);
    mfkv_model_free(&m);
    return MFKV_EXIT_OK;
}
