/* mfkv verify - prove every page, every record and the whole-store digest. */
#include <getopt.h>
#include <stdio.h>
#include <string.h>

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
                 "Check the whole-file digest, every page against the page table, every user,\n"
                 "item and fallback record's checksum and layout, that every list names existing\n"
                 "items in rank order, the counts in the header, and the digest over all record\n"
                 "checksums. Names the first problem found (page number and file offset; user or\n"
                 "item and where its record lies) and counts the bad pages and records.\n\n"
                 "  -q, --quiet   print nothing; the exit code tells\n\n"
                 "exit codes: 0 sound, 2 usage, 3 error, 4 corrupt, foreign or newer store");
            return MFKV_EXIT_OK;
        } else return MFKV_EXIT_USAGE;
    }
    if (optind < argc) store = argv[optind];
    mfkv_store *st;
    const char *path = cli_store_path(store);
    int opened = mfkv_open(path, 0, &st), rc;
    /* A store refused for damage is opened without checks (reads stay
     * bounds-checked and guarded) so that the scan can say where it is. */
    if (opened == MFKV_CORRUPT) (void)mfkv_open(path, MFKV_OPEN_NO_CHECKSUM, &st);
    if (!st) {
        if (!quiet) cli_open_error(path, opened);
        return cli_exit_for(opened);
    }
    mfkv_verify_report rep;
    rc = mfkv_verify(st, &rep);
    if (rc == MFKV_OK && opened) {
        rc = opened;
        snprintf(rep.first_problem, sizeof rep.first_problem, "%s", mfkv_strerror(opened));
    }
    mfkv_close(st);
    if (rc == MFKV_OK) {
        if (!quiet)
            printf("%s: OK: %llu pages, %llu records, digest %016llx\n", path, (unsigned long long)rep.pages_checked,
                   (unsigned long long)rep.records_checked, (unsigned long long)rep.digest_computed);
        return MFKV_EXIT_OK;
    }
    if (!quiet)
        cli_error("%s: %s: %llu of %llu pages and %llu of %llu records bad; first: %s", path,
                  rc == MFKV_CORRUPT ? "CORRUPT" : mfkv_strerror(rc), (unsigned long long)rep.pages_bad,
                  (unsigned long long)rep.pages_checked, (unsigned long long)rep.records_bad,
                  (unsigned long long)rep.records_checked, rep.first_problem[0] ? rep.first_problem : mfkv_strerror(rc));
    return cli_exit_for(rc);
}
