/* mfkv verify - prove every record and the whole-store digest. */
#include <getopt.h>
#include <stdio.h>

#include "cli.h"

int cmd_verify(int argc, char **argv)
{
    static const struct option opts[] = {
        {"store", required_argument, 0, 's'}, {"quiet", no_argument, 0, 'q'},
        {"help", no_argument, 0, 'h'},        {0, 0, 0, 0}};
    const char *store = NULL;
    int quiet = 0, c;
    while ((c = getopt_long(argc, argv, "s:qh", opts, NULL)) != -1) {
        if (c == 's') store = optarg;
        else if (c == 'q') quiet = 1;
        else if (c == 'h') {
            puts("usage: mfkv verify [-s STORE] [-q] [STORE]\n\n"
                 "Check every user, item and fallback record's checksum and layout, that every\n"
                 "list names existing items in rank order, the counts in the header, and the\n"
                 "digest over all record checksums. Names the first problem found.\n\n"
                 "  -q, --quiet   print nothing; the exit code tells\n\n"
                 "exit codes: 0 sound, 2 usage, 3 error, 4 corrupt, foreign or newer store");
            return MFKV_EXIT_OK;
        } else return MFKV_EXIT_USAGE;
    }
    if (optind < argc) store = argv[optind];
    mfkv_store *st;
    int rc = cli_open_store(store, 0, &st);
    if (rc) return rc;
    mfkv_verify_report rep;
    rc = mfkv_verify(st, &rep);
    mfkv_info in;
    mfkv_info_get(st, &in);
    mfkv_close(st);
    if (rc == MFKV_OK) {
        if (!quiet)
            printf("%s: OK: %llu records, digest %016llx\n", cli_store_path(store),
                   (unsigned long long)rep.records_checked, (unsigned long long)rep.digest_computed);
        return MFKV_EXIT_OK;
    }
    if (!quiet)
        cli_error("%s: CORRUPT: %llu of %llu records bad; first: %s", cli_store_path(store),
                  (unsigned long long)rep.records_bad, (unsigned long long)rep.records_checked,
                  rep.first_problem[0] ? rep.first_problem : mfkv_strerror(rc));
    return cli_exit_for(rc);
}
