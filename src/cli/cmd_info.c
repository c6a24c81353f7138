/* mfkv info - print a store's metadata and provenance. */
#include <getopt.h>
#include <stdio.h>
#include <time.h>

#include "cli.h"

int cmd_info(int argc, char **argv)
{
    static const struct option opts[] = {
        {"store", required_argument, 0, 's'}, {"help", no_argument, 0, 'h'}, {0, 0, 0, 0}};
    const char *store = NULL;
    int c;
    while ((c = getopt_long(argc, argv, "s:h", opts, NULL)) != -1) {
        if (c == 's') store = optarg;
        else if (c == 'h') {
            puts("usage: mfkv info [-s STORE]\n\n"
                 "Print the store's format version, shape, build time, digest and provenance\n"
                 "(builder version, options, input file digests). Reads only the header; use\n"
                 "mfkv verify to check every record.\n\n"
                 "exit codes: 0 ok, 2 usage, 3 error, 4 corrupt or foreign store");
            return MFKV_EXIT_OK;
        } else return MFKV_EXIT_USAGE;
    }
    if (optind < argc) {
        store = argv[optind]; /* `mfkv info STORE` reads naturally too */
    }
    mfkv_store *st;
    int rc = cli_open_store(store, 0, &st);
    if (rc) return rc;
    mfkv_info in;
    mfkv_info_get(st, &in);
    char when[64] = "?";
    time_t t = (time_t)in.build_time;
    struct tm tm;
    if (gmtime_r(&t, &tm)) strftime(when, sizeof when, "%Y-%m-%dT%H:%M:%SZ", &tm);
    printf("store       %s\n", cli_store_path(store));
    printf("format      %u.%u\n", in.format_major, in.format_minor);
    printf("users       %u\n", in.n_users);
    printf("items       %u\n", in.n_items);
    printf("k           %u\n", in.k);
    printf("factors     %u\n", in.n_factors);
    printf("fallback    %s\n", in.has_fallback ? "yes" : "no");
    printf("titles      %s\n", in.has_titles ? "yes" : "no");
    printf("built       %s (%lld)\n", when, (long long)in.build_time);
    printf("digest      %016llx\n", (unsigned long long)in.digest);
    printf("provenance\n");
    const char *p = in.provenance, *end = p + in.provenance_len;
    while (p < end) {
        const char *nl = p;
        while (nl < end && *nl != '\n') nl++;
        printf("  %.*s\n", (int)(nl - p), p);
        p = nl + 1;
    }
    mfkv_close(st);
    return MFKV_EXIT_OK;
}
