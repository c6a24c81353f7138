/* mfkv dump - stream every user's list as TSV, for loading elsewhere. */
#include <getopt.h>
#include <stdio.h>

#include "cli.h"
#include "output.h"

int cmd_dump(int argc, char **argv)
{
    static const struct option opts[] = {
        {"store", required_argument, 0, 's'}, {"count", required_argument, 0, 'n'},
        {"titles", no_argument, 0, 't'},      {"help", no_argument, 0, 'h'}, {0, 0, 0, 0}};
    const char *store = NULL;
    uint32_t n = UINT32_MAX;
    int titles = 0, c;
    while ((c = getopt_long(argc, argv, "s:n:th", opts, NULL)) != -1) {
        if (c == 's') store = optarg;
        else if (c == 'n') {
            if (cli_parse_u32("--count", optarg, 1, UINT32_MAX, &n)) return MFKV_EXIT_USAGE;
        } else if (c == 't') titles = 1;
        else if (c == 'h') {
            puts("usage: mfkv dump [-s STORE] [-n N] [--titles] [STORE]\n\n"
                 "Write every user's list to stdout as TSV with a header line:\n"
                 "user_id, rank, item_id, score (and title, genres with --titles),\n"
                 "users in byte-wise id order. Every record's checksum is verified.\n\n"
                 "exit codes: 0 ok, 2 usage, 3 error, 4 corrupt store");
            return MFKV_EXIT_OK;
        } else return MFKV_EXIT_USAGE;
    }
    if (optind < argc) store = argv[optind];
    mfkv_store *st;
    int rc = cli_open_store(store, 0, &st);
    if (rc) return rc;
    cli_warn_if_no_titles(st, cli_store_path(store), titles);
    mfkv_iter *it;
    rc = mfkv_iter_begin(st, &it);
    fputs(titles ? "user_id\trank\titem_id\tscore\ttitle\tgenres\n" : "user_id\trank\titem_id\tscore\n", stdout);
    const char *id;
    size_t len;
    mfkv_list list;
    while (rc == MFKV_OK && (rc = mfkv_iter_next(it, &id, &len, &list)) == MFKV_OK)
        rc = out_print_list(stdout, st, OUT_TSV, titles, OUT_FB_NONE, id, len, &list, n, 0);
    mfkv_iter_end(it);
    mfkv_close(st);
    if (rc != MFKV_NOTFOUND) {
        cli_error("%s: %s", cli_store_path(store), mfkv_strerror(rc));
        return cli_exit_for(rc);
    }
    if (fflush(stdout) != 0) {
        cli_error("write error on standard output");
        return MFKV_EXIT_INPUT;
    }
    return MFKV_EXIT_OK;
}
