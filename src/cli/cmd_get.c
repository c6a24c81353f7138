/* mfkv get - print the recommendations of one or more users. */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "builder/shard.h"
#include "common/buf.h"
#include "render/predict_json.h"
#include "cli.h"
#include "output.h"

static void usage(FILE *out)
{
    fputs("usage: mfkv get [options] ID... | -\n"
          "\n"
          "Print the stored top-K of each user ID ('-' reads ids from stdin, one per line,\n"
          "spaces, tabs and '\\r' around each id ignored).\n"
          "\n"
          "options:\n"
          "  -s, --store PATH     store file (default: $MFKV_STORE, else ./" MFKV_DEFAULT_STORE ")\n"
          "  -n, --count N        print at most N entries per user (default: all stored)\n"
          "  -f, --format FMT     text (default), tsv (user_id rank item_id score), json (one\n"
          "                       object per line, the shape of the server's\n"
          "                       GET /v1/users/ID/recommendations:\n"
          "                       {\"user_id\":\"1\",\"fallback\":false,\"items\":[{\"item_id\":\"3382\",\n"
          "                       \"title\":\"..\",\"genres\":[\"Drama\"],\"score\":7.16}]}),\n"
          "                       predict (the reference endpoint's body:\n"
          "                       {\"predictions\":[{\"predicted_rating\":[...],\"predicted_item_id\":[...]}]})\n"
          "                       In tsv and json an id not found still gets its line (tsv: the\n"
          "                       id and empty fields; json: {\"user_id\":..,\"error\":\"not found\"}),\n"
          "                       so output lines up with input\n"
          "  -t, --titles         add item titles and genres (text, tsv; json always has them)\n"
          "      --fallback       answer unknown users with the store's fallback list, marked\n"
          "                       as such: json \"fallback\":true, a last tsv column 1 (0 for\n"
          "                       a user's own list), a note after \"user ID\" in text, and in\n"
          "                       predict \"fallback\":true|false on every row when any is one\n"
          "                       (the server's answer, byte for byte)\n"
          "      --no-verify      skip per-record checksum verification\n"
          "  -h, --help           this text\n"
          "\n"
          "examples:\n"
          "  mfkv get 1\n"
          "  mfkv get -n 10 --titles 1 2 3\n"
          "  cut -f1 users.tsv | mfkv get -f tsv -\n"
          "\n"
          "exit codes: 0 all found, 1 some id not found, 2 usage, 3 error (a folder given\n"
          "as STORE too), 4 corrupt, foreign or newer store\n",
          out);
}

typedef struct get_ctx {
    mfkv_store *st;
    const char *path;
    out_format fmt;
    int titles, fallback;
    uint32_t n;
    int first;
    int missing;
    uint32_t shard_index, shard_count; /* shard_count 0: a whole store */
    /* predict with --fallback: the server marks every row "fallback" when
     * any row is the fallback list, so the answer is formatted at the end,
     * by the server's code, from the lists kept here. */
    mfkv_list *rows;
    unsigned char *row_fallback;
    size_t n_rows, cap_rows;
} get_ctx;

static int keep_row(get_ctx *g, const mfkv_list *list, int fallback)
{
    if (g->n_rows == g->cap_rows) {
        size_t cap = g->cap_rows ? 2 * g->cap_rows : 64;
        mfkv_list *rows = realloc(g->rows, cap * sizeof *rows);
        if (rows) g->rows = rows;
        unsigned char *fb = realloc(g->row_fallback, cap);
        if (fb) g->row_fallback = fb;
        if (!rows || !fb) {
            cli_error("out of memory keeping %zu lists for the predict answer", g->n_rows);
            return MFKV_NOMEM;
        }
        g->cap_rows = cap;
    }
    g->rows[g->n_rows] = *list;
    g->row_fallback[g->n_rows++] = (unsigned char)fallback;
    return MFKV_OK;
}

static int print_kept_rows(get_ctx *g)
{
    mfkv_buf b;
    mfkv_buf_init(&b);
    mfkv_predict_extra extra = {.fallback = g->row_fallback};
    int rc = mfkv_format_predict_extra(g->st, g->rows, g->n_rows, g->n == UINT32_MAX ? 0 : g->n, MFKV_PREDICT_ROWS,
                                       &extra, &b);
    if (!rc) fwrite(b.data, 1, b.len, stdout);
    else cli_error("%s: %s", g->path, mfkv_strerror(rc));
    mfkv_buf_free(&b);
    return rc;
}

/* Not found: say so on stderr, and in tsv and json keep the line. */
static void missing(get_ctx *g, const char *id, size_t len)
{
    out_print_missing(stdout, g->fmt, g->titles, g->fallback ? OUT_FB_NO : OUT_FB_NONE, id, len);
    g->missing = 1;
}

/* One id: print its list; returns a status other than NOTFOUND on hard errors. */
static int get_one(get_ctx *g, const char *id, size_t len)
{
    mfkv_list list;
    int rc = len ? mfkv_get(g->st, id, len, &list) : MFKV_NOTFOUND;
    /* A shard store does not know the users of other shards: say where they
     * are rather than serving them the list for unknown users. */
    uint32_t home = g->shard_count && len ? mfkv_shard_of(id, len, g->shard_count) : 0;
    if (rc == MFKV_NOTFOUND && home != g->shard_index) {
        cli_error("user '%.*s' not found: it belongs to shard %u/%u, this store holds shard %u/%u", (int)len, id, home,
                  g->shard_count, g->shard_index, g->shard_count);
        missing(g, id, len);
        return MFKV_OK;
    }
    out_fallback fb = g->fallback ? OUT_FB_NO : OUT_FB_NONE;
    if (rc == MFKV_NOTFOUND && g->fallback) {
        rc = mfkv_fallback(g->st, &list);
        fb = OUT_FB_YES;
    }
    if (rc == MFKV_NOTFOUND) {
        cli_error("user '%.*s' not found", (int)len, id);
        missing(g, id, len);
        return MFKV_OK;
    }
    if (rc) {
        /* Damage is found when read (format 1.1): name the store too. */
        cli_error("%s: user '%.*s': %s", g->path, (int)len, id, mfkv_strerror(rc));
        return rc;
    }
    if (g->fmt == OUT_PREDICT && g->fallback) return keep_row(g, &list, fb == OUT_FB_YES);
    rc = out_print_list(stdout, g->st, g->fmt, g->titles, fb, id, len, &list, g->n, g->first);
    if (rc) cli_error("user '%.*s': %s", (int)len, id, mfkv_strerror(rc));
    g->first = 0;
    return rc;
}

static int is_space(char c)
{
    return c == ' ' || c == '\t' || c == '\r' || c == '\n' || c == '\v' || c == '\f';
}

static int get_stdin(get_ctx *g)
{
    char *line = NULL;
    size_t cap = 0;
    ssize_t len;
    int rc = MFKV_OK;
    while (!rc && (len = getline(&line, &cap, stdin)) >= 0) {
        /* Ids are trimmed: " 2" and "3\r" (a CRLF file) are users 2 and 3. */
        char *id = line;
        while (len > 0 && is_space(id[len - 1])) len--;
        while (len > 0 && is_space(*id)) id++, len--;
        if (len == 0) continue;
        rc = get_one(g, id, (size_t)len);
    }
    free(line);
    return rc;
}

int cmd_get(int argc, char **argv)
{
    static const struct option opts[] = {
        {"store", required_argument, 0, 's'}, {"count", required_argument, 0, 'n'},
        {"format", required_argument, 0, 'f'}, {"titles", no_argument, 0, 't'},
        {"fallback", no_argument, 0, 'F'},     {"no-verify", no_argument, 0, 'V'},
        {"help", no_argument, 0, 'h'},         {0, 0, 0, 0},
    };
    const char *store = NULL;
    get_ctx g = {.fmt = OUT_TEXT, .n = UINT32_MAX, .first = 1};
    unsigned flags = 0;
    int c;
    while ((c = getopt_long(argc, argv, "s:n:f:th", opts, NULL)) != -1) {
        switch (c) {
        case 's': store = optarg; break;
        case 'n': if (cli_parse_u32("--count", optarg, 1, UINT32_MAX, &g.n)) return MFKV_EXIT_USAGE; break;
        case 'f':
            if ((int)(g.fmt = out_format_parse(optarg)) < 0) {
                cli_error("--format: expected text, tsv, json or predict, got '%s'", optarg);
                return MFKV_EXIT_USAGE;
            }
            break;
        case 't': g.titles = 1; break;
        case 'F': g.fallback = 1; break;
        case 'V': flags |= MFKV_OPEN_NO_CHECKSUM; break;
        case 'h': usage(stdout); return MFKV_EXIT_OK;
        default: usage(stderr); return MFKV_EXIT_USAGE;
        }
    }
    if (optind >= argc) {
        cli_error("get: no user id given (see mfkv get --help)");
        return MFKV_EXIT_USAGE;
    }
    int rc = cli_open_store(store, flags, &g.st);
    if (rc) return rc;
    g.path = cli_store_path(store);
    mfkv_info info;
    mfkv_info_get(g.st, &info);
    mfkv_provenance_shard(info.provenance, info.provenance_len, &g.shard_index, &g.shard_count);
    cli_warn_if_no_titles(g.st, g.path, g.titles && g.fmt != OUT_PREDICT);
    int streamed = g.fmt == OUT_PREDICT && !g.fallback;
    if (streamed) fputs("{\"predictions\":[", stdout);
    for (int i = optind; i < argc && !rc; i++)
        rc = strcmp(argv[i], "-") ? get_one(&g, argv[i], strlen(argv[i])) : get_stdin(&g);
    if (streamed) fputs("]}\n", stdout);
    if (!rc && g.fmt == OUT_PREDICT && g.fallback) rc = print_kept_rows(&g);
    free(g.rows);
    free(g.row_fallback);
    mfkv_close(g.st);
    if (fflush(stdout) != 0) {
        cli_error("write error on standard output");
        return MFKV_EXIT_INPUT;
    }
    if (rc) return cli_exit_for(rc);
    return g.missing ? MFKV_EXIT_NOTFOUND : MFKV_EXIT_OK;
}
