/*
 * Tests of the rating and movie loaders (src/io/ratings.h): every format on
 * hand-written fixtures whose values are restated here, each kind of bad
 * line with its exact "FILE:LINE: field NAME" message, skip_invalid, and a
 * generated file read back against the values it was written from.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "io/lines.h"
#include "io/ratings.h"
#include "mfkv.h"

static char tmpdir[] = "/tmp/mfkv_test_ratings_XXXXXX";

static int make_tmpdir(void **state)
{
    (void)state;
    return mkdtemp(tmpdir) ? 0 : -1;
}

static int remove_tmpdir(void **state)
{
    (void)state;
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", tmpdir);
    return system(cmd) == 0 ? 0 : -1;
}

static const char *fixture(const char *name)
{
    static char path[4096];
    const char *dir = getenv("MFKV_FIXTURES");
    snprintf(path, sizeof path, "%s/ratings/%s", dir ? dir : "tests/fixtures", name);
    return path;
}

/* Write @p len bytes to a file in the temp dir; returns its path (static). */
static const char *write_temp(const char *name, const char *content, size_t len)
{
    static char path[256];
    snprintf(path, sizeof path, "%s/%s", tmpdir, name);
    FILE *f = fopen(path, "wb");
    assert_non_null(f);
    assert_int_equal(fwrite(content, 1, len, f), len);
    assert_int_equal(fclose(f), 0);
    return path;
}

static const char *user_of(const mfkv_ratings *r, size_t k)
{
    return mfkv_idtab_str(&r->users, r->user[k], NULL);
}

static const char *item_of(const mfkv_ratings *r, size_t k)
{
    return mfkv_idtab_str(&r->items, r->item[k], NULL);
}

/* One expected rating, restated from the fixture file. */
typedef struct expect {
    const char *user, *item;
    float rating;
    int64_t timestamp;
} expect;

static void check_ratings(const mfkv_ratings *r, const expect *e, size_t n)
{
    assert_int_equal(r->n, n);
    for (size_t k = 0; k < n; k++) {
        assert_string_equal(user_of(r, k), e[k].user);
        assert_string_equal(item_of(r, k), e[k].item);
        assert_true(r->rating[k] == e[k].rating);
        assert_int_equal(r->timestamp[k], e[k].timestamp);
    }
}

static void load_ok(const char *path, const mfkv_ratings_opts *opts, mfkv_ratings *r)
{
    mfkv_diag d = {0};
    int rc = mfkv_ratings_load(path, opts, r, &d);
    if (rc) fail_msg("%s", d.msg);
}

static void test_movielens_1m_dat(void **state)
{
    (void)state;
    mfkv_ratings r;
    load_ok(fixture("ml1m_ratings.dat"), NULL, &r);
    const expect e[] = {
        {"1", "1193", 5, 978300760},
        {"1", "661", 3, 978302109},
        {"2", "1193", 4, 978298413},
        {"10", "3408", 2.5f, 978300275},
    };
    check_ratings(&r, e, 4);
    assert_int_equal(r.users.n, 3);
    assert_int_equal(r.items.n, 3);
    assert_int_equal(r.item[0], r.item[2]); /* same item, same index */
    mfkv_ratings_free(&r);
}

static void test_movielens_latest_csv(void **state)
{
    (void)state;
    mfkv_ratings r;
    load_ok(fixture("mllatest_ratings.csv"), NULL, &r);
    const expect e[] = {
        {"1", "1", 4, 964982703},
        {"1", "3", 4, 964981247},
        {"7", "1", 0.5f, 1139045764},
        {"7", "50", 5, 1139047000},
    };
    check_ratings(&r, e, 4);
    mfkv_ratings_free(&r);
}

static void test_bom_crlf_and_blank_line(void **state)
{
    (void)state;
    mfkv_ratings r;
    load_ok(fixture("bom_crlf_ratings.csv"), NULL, &r);
    const expect e[] = {{"1", "31", 2.5f, 1260759144}, {"2", "10", 4, 835355493}};
    check_ratings(&r, e, 2);
    mfkv_ratings_free(&r);
}

static void test_generic_tsv_without_timestamp(void **state)
{
    (void)state;
    mfkv_ratings r;
    load_ok(fixture("generic_ratings.tsv"), NULL, &r);
    const expect e[] = {{"u1", "i1", 3, 0}, {"u2", "i1", -1.5f, 0}, {"u1", "i2", 10, 0}};
    check_ratings(&r, e, 3);
    mfkv_ratings_free(&r);
}

static void test_generic_csv_named_columns_and_quotes(void **state)
{
    (void)state;
    mfkv_ratings r;
    mfkv_ratings_opts opts = {.user_col = "customer", .item_col = "Product", .rating_col = "stars"};
    load_ok(fixture("custom_columns.csv"), &opts, &r);
    const expect e[] = {
        {"c1", "p1", 4, 0},
        {"c2", "p1", 2, 1700000000},
        {"c\xc3\xa9", "p,2", 5, -3},
    };
    check_ratings(&r, e, 3);
    assert_int_equal(r.skipped, 0);
    mfkv_ratings_free(&r);
}

static void test_named_column_missing(void **state)
{
    (void)state;
    mfkv_ratings r;
    mfkv_diag d = {0};
    const char *path = fixture("custom_columns.csv");
    assert_int_equal(mfkv_ratings_load(path, NULL, &r, &d), MFKV_PARSE);
    char want[4200];
    snprintf(want, sizeof want,
             "%s:1: field user: the header has no column named user_id, userId or user", path);
    assert_string_equal(d.msg, want);
    assert_int_equal(r.n, 0);
    assert_null(r.user);

    mfkv_ratings_opts opts = {.user_col = "customer", .item_col = "product", .rating_col = "score"};
    assert_int_equal(mfkv_ratings_load(path, &opts, &r, &d), MFKV_PARSE);
    snprintf(want, sizeof want, "%s:1: field score: no such column in the header", path);
    assert_string_equal(d.msg, want);
}

/* A bad input and the message it must give, after "PATH:". */
typedef struct bad_case {
    const char *content;
    const char *message;
} bad_case;

#define HEADER "userId,movieId,rating,timestamp\n"

static const bad_case bad_cases[] = {
    {HEADER "1,2,4,5\n1,3\n", "3: field rating: missing (line has 2 of 4 fields)"},
    {HEADER "1,2,4,5,6\n", "2: field #5: extra field (expected 4 fields)"},
    {HEADER "1,2,four,5\n", "2: field rating: not a number: \"four\""},
    {HEADER "1,2,,5\n", "2: field rating: not a number: \"\""},
    {HEADER "1,2, 4,5\n", "2: field rating: not a number: \" 4\""},
    {HEADER "1,2,0x4,5\n", "2: field rating: not a number: \"0x4\""},
    {HEADER "1,2,4.5.1,5\n", "2: field rating: not a number: \"4.5.1\""},
    {HEADER "1,2,NaN,5\n", "2: field rating: not a finite number: \"NaN\""},
    {HEADER "1,2,-inf,5\n", "2: field rating: not a finite number: \"-inf\""},
    {HEADER "1,2,1e39,5\n", "2: field rating: not a finite number: \"1e39\""},
    {HEADER "1,2,4,5x\n", "2: field timestamp: not an integer: \"5x\""},
    {HEADER "1,2,4,9223372036854775808\n",
     "2: field timestamp: integer out of range: \"9223372036854775808\""},
    {HEADER "1,2,4,-9223372036854775809\n",
     "2: field timestamp: integer out of range: \"-9223372036854775809\""},
    {HEADER "1,2,4,-\n", "2: field timestamp: not an integer: \"-\""},
    {HEADER ",2,4,5\n", "2: field userId: empty id"},
    {HEADER "1,\"\",4,5\n", "2: field movieId: empty id"},
    {HEADER "1,\xff\x31,4,5\n", "2: field movieId: invalid UTF-8 at byte 1"},
    {HEADER "a\xc3,2,4,5\n", "2: field userId: invalid UTF-8 at byte 2"},
    {HEADER "\xed\xa0\x80,2,4,5\n", "2: field userId: invalid UTF-8 at byte 1"}, /* surrogate */
    {HEADER "\xc0\xaf,2,4,5\n", "2: field userId: invalid UTF-8 at byte 1"},     /* overlong */
    {HEADER "1,2,4,5\n\n1,\"2\"x,4,5\n", "4: field movieId: malformed quoting"},
    {HEADER "1,2,4,5\n1,3,4,5\r\n2,3,3,5\r\n1,2,1,5\n",
     "5: field movieId: user \"1\" rated item \"2\" on an earlier line too"},
    /* repeats are found after reading: still the first error in file order */
    {HEADER "1,2,4,5\n1,2,3,5\n1,2,x,5\n", "3: field movieId: user \"1\" rated item \"2\" on an earlier line too"},
    {"1::2::4::5\n1::3::4\n", "2: field timestamp: missing (line has 3 of 4 fields)"},
    {"1::2::4::5::6\n", "1: field #5: extra field (expected 4 fields)"},
    {"1::2::x::5\n", "1: field rating: not a number: \"x\""},
    {"1,2,4,5\n", "1: field user: the header has no column named user_id, userId or user"},
    {"user_id,movieId,stars\n", "1: field rating: the header has no column named rating"},
    {"user,\"item\n", "1: field #2: malformed quoting in the header"},
    {"", " empty file, no ratings"},
    {"\xef\xbb\xbf\r\n\n", " empty file, no ratings"},
    {HEADER, " no ratings after the header"},
};

static void test_bad_lines(void **state)
{
    (void)state;
    for (size_t k = 0; k < sizeof bad_cases / sizeof *bad_cases; k++) {
        const bad_case *c = &bad_cases[k];
        const char *path = write_temp("bad.csv", c->content, strlen(c->content));
        mfkv_ratings r;
        mfkv_diag d = {0};
        char want[512];
        snprintf(want, sizeof want, "%s:%s", path, c->message);
        int rc = mfkv_ratings_load(path, NULL, &r, &d);
        if (rc != MFKV_PARSE || strcmp(d.msg, want) != 0)
            fail_msg("case %zu: status %d, message\n  %s\nwanted\n  %s", k, rc, d.msg, want);
        assert_int_equal(d.status, MFKV_PARSE);
        assert_int_equal(r.n, 0);
        assert_null(r.rating);
        assert_int_equal(r.users.n, 0);
    }
}

static void test_id_length_limit(void **state)
{
    (void)state;
    char content[1024];
    char id[300];
    memset(id, 'a', sizeof id);
    /* 255 bytes is the longest id accepted. */
    int len = snprintf(content, sizeof content, HEADER "%.255s,1,4,5\n", id);
    mfkv_ratings r;
    load_ok(write_temp("long.csv", content, (size_t)len), NULL, &r);
    assert_int_equal(strlen(user_of(&r, 0)), 255);
    mfkv_ratings_free(&r);

    len = snprintf(content, sizeof content, HEADER "1,%.256s,4,5\n", id);
    const char *path = write_temp("long.csv", content, (size_t)len);
    mfkv_diag d = {0};
    assert_int_equal(mfkv_ratings_load(path, NULL, &r, &d), MFKV_PARSE);
    char want[512];
    snprintf(want, sizeof want, "%s:2: field movieId: id of 256 bytes is longer than 255", path);
    assert_string_equal(d.msg, want);
}

/* The int64 ends are timestamps; a sign may be written either way. */
static void test_timestamp_range(void **state)
{
    (void)state;
    static const char content[] = HEADER "1,2,4,-9223372036854775808\n"
                                         "1,3,4,9223372036854775807\n"
                                         "1,4,4,+7\n";
    mfkv_ratings r;
    load_ok(write_temp("ends.csv", content, sizeof content - 1), NULL, &r);
    const expect e[] = {
        {"1", "2", 4, INT64_MIN}, {"1", "3", 4, INT64_MAX}, {"1", "4", 4, 7}};
    check_ratings(&r, e, 3);
    mfkv_ratings_free(&r);
}

static void test_skip_invalid_counts_and_keeps_first(void **state)
{
    (void)state;
    static const char content[] = HEADER
        "1,10,4,100\n"
        "1,11,x,101\n"    /* bad rating */
        "2,10,3\n"        /* missing field */
        "2,11,2.5,102\n"
        "1,10,1,103\n"    /* repeats line 2: the first is kept */
        ",12,1,104\n"     /* empty user */
        "3,12,5,105\n";
    const char *path = write_temp("skip.csv", content, sizeof content - 1);
    mfkv_ratings r;
    mfkv_ratings_opts opts = {.skip_invalid = 1};
    load_ok(path, &opts, &r);
    assert_int_equal(r.skipped, 4);
    const expect e[] = {{"1", "10", 4, 100}, {"2", "11", 2.5f, 102}, {"3", "12", 5, 105}};
    check_ratings(&r, e, 3);
    /* Ids seen only on skipped lines are not kept. */
    assert_int_equal(r.users.n, 3);
    assert_int_equal(r.items.n, 3);
    mfkv_ratings_free(&r);

    static const char all_bad[] = HEADER "1,2\n3,4\n";
    path = write_temp("skip.csv", all_bad, sizeof all_bad - 1);
    mfkv_diag d = {0};
    assert_int_equal(mfkv_ratings_load(path, &opts, &r, &d), MFKV_PARSE);
    char want[512];
    snprintf(want, sizeof want, "%s: no ratings (every line was invalid)", path);
    assert_string_equal(d.msg, want);
}

static void test_missing_file(void **state)
{
    (void)state;
    mfkv_ratings r;
    mfkv_movies m;
    mfkv_diag d = {0};
    assert_int_equal(mfkv_ratings_load("/nonexistent/ratings.csv", NULL, &r, &d), MFKV_IO);
    assert_non_null(strstr(d.msg, "/nonexistent/ratings.csv: cannot open"));
    assert_int_equal(mfkv_movies_load("/nonexistent/movies.csv", &m, &d), MFKV_IO);
}

/*
 * A file cut short while it is read (a log rotated or rewritten under the
 * loader) is an error naming it, not a crash: a mapped file would raise
 * SIGBUS on the first page past the new end.  The file is cut after the
 * first lines are read, so the reader holds only its first block of it.
 */
static void test_file_shrinks_while_read(void **state)
{
    (void)state;
    enum { LINES = 100000, LINE = 16, KEPT = 1200000 };
    char *text = malloc((size_t)LINES * LINE);
    assert_non_null(text);
    for (size_t i = 0; i < LINES; i++)
        memcpy(text + i * LINE, "1::2::3::456789\n", LINE); /* LINE bytes, no NUL */
    const char *path = write_temp("shrinks.dat", text, (size_t)LINES * LINE);
    free(text);
    mfkv_lines in;
    mfkv_diag d = {0};
    assert_int_equal(mfkv_lines_open(&in, path, &d), MFKV_OK);
    const char *s;
    size_t len, lines = 0;
    assert_int_equal(mfkv_lines_next(&in, &s, &len, &d), MFKV_OK);
    assert_int_equal(truncate(path, KEPT), 0);
    int rc;
    while ((rc = mfkv_lines_next(&in, &s, &len, &d)) == MFKV_OK) lines++;
    mfkv_lines_close(&in);
    assert_int_equal(rc, MFKV_IO);
    char want[512];
    snprintf(want, sizeof want, "%s: the file shrank while it was read (%d of %d bytes)", path, KEPT,
             LINES * LINE);
    assert_string_equal(d.msg, want);
    /* Every whole line still in the file was handed out before the error. */
    assert_int_equal(lines + 1, KEPT / LINE);
}

/*
 * Threads split a file into chunks of lines read in parallel; ids still get
 * their indices in order of first appearance and the first bad line in file
 * order is the error.  A ~1.7 MB log (several chunks per block) with the
 * lines the parallel pass leaves to the worded path (quoted and non-numeric
 * ids, blank and CRLF lines) is loaded with 1, 3 and 8 threads: same arrays,
 * same message, same skipped count, and the message names the line where
 * the fault was written.  MFKV_TEST_LIGHT (valgrind, ASan) takes a ~0.6 MB
 * log, still two chunks, and fewer cases.
 */
static size_t thread_rows(void) { return getenv("MFKV_TEST_LIGHT") ? 25000 : 70000; }

/* Write the log; row @p bad gets a bad rating, row @p repeat the pair of
 * row 0 (none when past the end).  Returns the file lines of the two. */
static const char *write_chunked_log(size_t bad, size_t repeat, size_t *bad_line, size_t *repeat_line)
{
    static char path[256];
    snprintf(path, sizeof path, "%s/chunked.csv", tmpdir);
    FILE *f = fopen(path, "wb");
    assert_non_null(f);
    fputs("userId,movieId,rating,timestamp\n", f);
    size_t line = 2;
    for (size_t k = 0; k < thread_rows(); k++, line++) {
        if (k % 101 == 7) fputs("\n", f), line++;
        size_t user = k == repeat ? 0 : k % 500, item = k == repeat ? 0 : k / 500;
        if (k % 97 == 3)
            fprintf(f, "x%zu,", user);
        else if (k % 89 == 5)
            fprintf(f, "\"%zu\",", user);
        else
            fprintf(f, "%zu,", user);
        fprintf(f, "%zu,%zu.5%s,%zu%s", item, k % 5, k == bad ? "x" : "", 1000000000 + k,
                k % 103 == 11 ? "\r\n" : "\n");
        if (k == bad) *bad_line = line;
        if (k == repeat) *repeat_line = line;
    }
    assert_int_equal(fclose(f), 0);
    return path;
}

/* rc, message, skipped and a digest of what was loaded, for comparing. */
static void load_digest(const char *path, unsigned threads, int skip, char out[1400])
{
    mfkv_ratings r;
    mfkv_ratings_opts opts = {.skip_invalid = skip, .threads = threads};
    mfkv_diag d = {0};
    int rc = mfkv_ratings_load(path, &opts, &r, &d);
    if (rc) {
        snprintf(out, 1400, "rc %d: %s", rc, d.msg);
        return;
    }
    uint64_t h = 1469598103934665603ull;
    for (size_t k = 0; k < r.n; k++) {
        const char *u = user_of(&r, k), *i = item_of(&r, k);
        for (const char *c = u; *c; c++) h = (h ^ (unsigned char)*c) * 1099511628211ull;
        for (const char *c = i; *c; c++) h = (h ^ (unsigned char)*c) * 1099511628211ull;
        h = (h ^ r.user[k] ^ ((uint64_t)r.item[k] << 32)) * 1099511628211ull;
        h = (h ^ (uint64_t)r.timestamp[k] ^ (uint64_t)(r.rating[k] * 2)) * 1099511628211ull;
    }
    snprintf(out, 1400, "%zu ratings, %u users, %u items, %zu skipped, %016llx", r.n, r.users.n,
             r.items.n, r.skipped, (unsigned long long)h);
    mfkv_ratings_free(&r);
}

static void test_threads_agree(void **state)
{
    (void)state;
    size_t bad_line = 0, repeat_line = 0, rows = thread_rows();
    const char *path = write_chunked_log(SIZE_MAX, SIZE_MAX, &bad_line, &repeat_line);
    mfkv_ratings r;
    mfkv_ratings_opts opts = {.threads = 8};
    load_ok(path, &opts, &r);
    assert_int_equal(r.n, rows);
    for (size_t k = 0; k < rows; k += 997) {
        char want[32];
        snprintf(want, sizeof want, k % 97 == 3 ? "x%zu" : "%zu", k % 500);
        assert_string_equal(user_of(&r, k), want);
        snprintf(want, sizeof want, "%zu", k / 500);
        assert_string_equal(item_of(&r, k), want);
        assert_true(r.rating[k] == (float)(k % 5) + 0.5f);
        assert_int_equal(r.timestamp[k], 1000000000 + (int64_t)k);
    }
    /* Indices in order of first appearance: user "k % 500" is new at row k. */
    for (size_t k = 0; k < 500; k++) assert_int_equal(r.user[k], k);
    mfkv_ratings_free(&r);

    struct { size_t bad, repeat; } cases[] = {
        {SIZE_MAX, SIZE_MAX}, {rows / 7 * 6, SIZE_MAX}, {rows / 7 * 6, rows / 7 * 4}, {20, rows - 1}};
    /* Under MFKV_TEST_LIGHT the case with both faults, 1 and 3 threads. */
    int light = getenv("MFKV_TEST_LIGHT") != NULL;
    for (size_t c = light ? 2 : 0; c < (light ? 3 : sizeof cases / sizeof *cases); c++) {
        path = write_chunked_log(cases[c].bad, cases[c].repeat, &bad_line, &repeat_line);
        for (int skip = 0; skip < 2; skip++) {
            char one[1400], many[1400];
            load_digest(path, 1, skip, one);
            for (unsigned threads = 3; threads <= (light ? 3 : 8); threads += 5) {
                load_digest(path, threads, skip, many);
                assert_string_equal(one, many);
            }
            char want[512];
            if (skip) {
                snprintf(want, sizeof want, "%zu skipped",
                         (size_t)(cases[c].bad < rows) + (cases[c].repeat < rows));
                assert_non_null(strstr(one, want));
            } else if (cases[c].bad < rows || cases[c].repeat < rows) {
                int repeat_first = cases[c].repeat < cases[c].bad;
                snprintf(want, sizeof want, "rc 8: %s:%zu: field %s: ", path,
                         repeat_first ? repeat_line : bad_line, repeat_first ? "movieId" : "rating");
                assert_memory_equal(one, want, strlen(want));
            }
        }
    }
}

/*
 * Repeated pairs are found by a bitmap of the pairs when one is small next
 * to the ratings, else by grouping the ratings by user: a log of 2,000
 * ratings takes each way, dense (50 users x 40 items, every pair once) and
 * sparse (user k rated item k), with the pair of row 10 again on rows 1,500
 * and 1,800 and a blank line before them.  Both must name the first repeat's
 * line, and under skip_invalid drop both repeats and keep row 10.
 */
static void test_repeats_dense_and_sparse(void **state)
{
    (void)state;
    enum { ROWS = 2000 };
    for (int sparse = 0; sparse < 2; sparse++) {
        char path[256];
        snprintf(path, sizeof path, "%s/repeats.csv", tmpdir);
        FILE *f = fopen(path, "wb");
        assert_non_null(f);
        fputs(HEADER, f);
        for (size_t k = 0; k < ROWS; k++) {
            size_t row = k == 1500 || k == 1800 ? 10 : k;
            if (k == 1000) fputs("\n", f);
            fprintf(f, "%zu,%zu,4,%zu\n", sparse ? row : row % 50, sparse ? row : row / 50, k);
        }
        assert_int_equal(fclose(f), 0);
        mfkv_ratings r;
        mfkv_diag d = {0};
        assert_int_equal(mfkv_ratings_load(path, NULL, &r, &d), MFKV_PARSE);
        char want[512];
        snprintf(want, sizeof want, "%s:1503: field movieId: user \"10\" rated item \"%d\" on an earlier line too",
                 path, sparse ? 10 : 0);
        assert_string_equal(d.msg, want);
        mfkv_ratings_opts opts = {.skip_invalid = 1};
        load_ok(path, &opts, &r);
        assert_int_equal(r.n, ROWS - 2);
        assert_int_equal(r.skipped, 2);
        assert_int_equal(r.timestamp[10], 10);
        assert_int_equal(r.timestamp[1500], 1501);
        mfkv_ratings_free(&r);
    }
}

/*
 * A generated log read back against the values it was written from: ids
 * quoted at random (so quoted and unquoted lines interleave), one line with
 * an extra column longer than the reader's first buffer, and enough lines to
 * cross several buffer refills.
 */
static void test_generated_log_roundtrip(void **state)
{
    (void)state;
    enum { N = 40000, USERS = 300, ITEMS = 700 };
    char path[256];
    snprintf(path, sizeof path, "%s/generated.csv", tmpdir);
    FILE *f = fopen(path, "wb");
    assert_non_null(f);
    fprintf(f, "note,item_id,user_id,rating,timestamp\n");
    uint32_t *u = malloc(N * sizeof *u), *it = malloc(N * sizeof *it);
    assert_non_null(u);
    assert_non_null(it);
    uint64_t x = 88172645463325252ull;
    size_t n = 0;
    for (size_t k = 0; n < N; k++) {
        x ^= x << 13, x ^= x >> 7, x ^= x << 17; /* xorshift64 */
        u[n] = (uint32_t)(k / ITEMS) % USERS;
        it[n] = (uint32_t)((k * 7919) % ITEMS);
        if (n == 1234) {
            fputc('"', f);
            for (int j = 0; j < (3 << 19); j++) fputs(j % 3 ? "a" : "\"\"", f);
            fputc('"', f);
        } else if (x & 1) {
            fputs("\"a, \"\"b\"\"\"", f);
        }
        fprintf(f, x & 2 ? ",\"i%u\"" : ",i%u", it[n]);
        fprintf(f, x & 4 ? ",\"u%u\"" : ",u%u", u[n]);
        fprintf(f, ",%zu.5,%zu\n", n % 5, n * 3);
        n++;
    }
    assert_int_equal(fclose(f), 0);
    assert_int_equal(n, N);

    mfkv_ratings r;
    load_ok(path, NULL, &r);
    assert_int_equal(r.n, N);
    for (size_t k = 0; k < N; k++) {
        char want[32];
        snprintf(want, sizeof want, "u%u", u[k]);
        assert_string_equal(user_of(&r, k), want);
        snprintf(want, sizeof want, "i%u", it[k]);
        assert_string_equal(item_of(&r, k), want);
        assert_true(r.rating[k] == (float)(k % 5) + 0.5f);
        assert_int_equal(r.timestamp[k], (int64_t)k * 3);
    }
    mfkv_ratings_free(&r);
    free(u);
    free(it);
}

static const char *title_of(const mfkv_movies *m, uint32_t k)
{
    return mfkv_idtab_str(&m->text, m->title[k], NULL);
}

static const char *genres_of(const mfkv_movies *m, uint32_t k)
{
    return mfkv_idtab_str(&m->text, m->genres[k], NULL);
}

static void load_movies_ok(const char *path, mfkv_movies *m)
{
    mfkv_diag d = {0};
    int rc = mfkv_movies_load(path, m, &d);
    if (rc) fail_msg("%s", d.msg);
}

static void test_movies_dat_latin1(void **state)
{
    (void)state;
    mfkv_movies m;
    load_movies_ok(fixture("ml1m_movies.dat"), &m);
    assert_int_equal(m.ids.n, 4);
    assert_string_equal(mfkv_idtab_str(&m.ids, 1, NULL), "2");
    assert_string_equal(title_of(&m, 0), "Toy Story (1995)");
    assert_string_equal(genres_of(&m, 0), "Animation|Children's|Comedy");
    /* 0xE9 in Latin-1 is U+00E9, C3 A9 in UTF-8. */
    assert_string_equal(title_of(&m, 1), "Caf\xc3\xa9 au lait (1993)");
    /* A line that is UTF-8 already is not converted twice. */
    assert_string_equal(title_of(&m, 2), "M\xc3\xa4rchen (2001)");
    assert_string_equal(genres_of(&m, 3), "");
    mfkv_movies_free(&m);
}

static void test_movies_csv_quoted_titles(void **state)
{
    (void)state;
    mfkv_movies m;
    load_movies_ok(fixture("mllatest_movies.csv"), &m);
    assert_int_equal(m.ids.n, 5);
    const char *ids[] = {"1", "11", "29", "1210", "140"};
    const char *titles[] = {
        "Toy Story (1995)",
        "American President, The (1995)",
        "City of Lost Children, The (Cit\xc3\xa9 des enfants perdus, La) (1995)",
        "Star Wars: Episode VI - Return of the Jedi \"Jedi\" (1983)",
        "\"Great\" Expectations",
    };
    for (uint32_t k = 0; k < 5; k++) {
        assert_string_equal(mfkv_idtab_str(&m.ids, k, NULL), ids[k]);
        assert_string_equal(title_of(&m, k), titles[k]);
    }
    assert_string_equal(genres_of(&m, 1), "Comedy|Drama|Romance");
    assert_string_equal(genres_of(&m, 4), "(no genres listed)");
    mfkv_movies_free(&m);
}

static const bad_case bad_movies[] = {
    {"movieId,title,genres\n1,Caf\xe9,Comedy\n", "2: field title: invalid UTF-8 at byte 4"},
    {"movieId,title,genres\n1,A,Comedy\n2,B,Dr\xc3\n", "3: field genres: invalid UTF-8 at byte 3"},
    {"movieId,title,genres\n1,\"A, B\",Comedy\n1,C,Drama\n",
     "3: field movieId: movie \"1\" appears twice"},
    {"movieId,title,genres\n1,\"A, B\" x,Comedy\n", "2: field title: malformed quoting"},
    {"movieId,title,genres\n1,\"A, B,Comedy\n", "2: field title: malformed quoting"},
    {"movieId,title,genres\n1,A, B,Comedy\n", "2: field #4: extra field (expected 3 fields)"},
    {"movieId,genres\n1,Comedy\n", "1: field title: the header has no column named title"},
    {"1::Title\n", "1: field genres: missing (line has 2 of 3 fields)"},
    {"::Title::Drama\n", "1: field id: empty id"},
    {"movieId,title,genres\n", " no movies after the header"},
    {"", " empty file, no movies"},
};

static void test_movies_bad_lines(void **state)
{
    (void)state;
    for (size_t k = 0; k < sizeof bad_movies / sizeof *bad_movies; k++) {
        const bad_case *c = &bad_movies[k];
        const char *path = write_temp("movies.csv", c->content, strlen(c->content));
        mfkv_movies m;
        mfkv_diag d = {0};
        char want[512];
        snprintf(want, sizeof want, "%s:%s", path, c->message);
        int rc = mfkv_movies_load(path, &m, &d);
        if (rc != MFKV_PARSE || strcmp(d.msg, want) != 0)
            fail_msg("case %zu: status %d, message\n  %s\nwanted\n  %s", k, rc, d.msg, want);
        assert_int_equal(m.ids.n, 0);
        assert_null(m.title);
    }
}

static void test_movie_title_length_limit(void **state)
{
    (void)state;
    size_t len = 70000;
    char *content = malloc(len + 64);
    assert_non_null(content);
    int head = sprintf(content, "movieId,title\n7,");
    memset(content + head, 'x', 65536);
    const char *path = write_temp("movies.csv", content, (size_t)head + 65536);
    mfkv_movies m;
    mfkv_diag d = {0};
    assert_int_equal(mfkv_movies_load(path, &m, &d), MFKV_PARSE);
    char want[512];
    snprintf(want, sizeof want, "%s:2: field title: 65536 bytes is longer than 65535", path);
    assert_string_equal(d.msg, want);

    path = write_temp("movies.csv", content, (size_t)head + 65535);
    load_movies_ok(path, &m);
    assert_int_equal(strlen(title_of(&m, 0)), 65535);
    assert_string_equal(genres_of(&m, 0), "");
    mfkv_movies_free(&m);

    /* `.dat`: checked for length only (the line is valid UTF-8 once
     * converted), also a genres field, and a Latin-1 title that only grows
     * past the limit as UTF-8. */
    static const struct { const char *head, *tail, *message; unsigned char fill; size_t n; } dat[] = {
        {"7::", "::Drama\n", "field title: 65536 bytes is longer than 65535", 'x', 65536},
        {"7::Title::", "\n", "field genres: 65536 bytes is longer than 65535", 'x', 65536},
        {"7::", "::Drama\n", "field title: 80000 bytes is longer than 65535", 0xE9, 40000},
    };
    for (size_t k = 0; k < sizeof dat / sizeof *dat; k++) {
        head = sprintf(content, "%s", dat[k].head);
        memset(content + head, dat[k].fill, dat[k].n);
        size_t n = (size_t)head + dat[k].n + (size_t)sprintf(content + head + dat[k].n, "%s", dat[k].tail);
        path = write_temp("movies.dat", content, n);
        assert_int_equal(mfkv_movies_load(path, &m, &d), MFKV_PARSE);
        snprintf(want, sizeof want, "%s:1: %s", path, dat[k].message);
        assert_string_equal(d.msg, want);
    }
    free(content);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_movielens_1m_dat),
        cmocka_unit_test(test_movielens_latest_csv),
        cmocka_unit_test(test_bom_crlf_and_blank_line),
        cmocka_unit_test(test_generic_tsv_without_timestamp),
        cmocka_unit_test(test_generic_csv_named_columns_and_quotes),
        cmocka_unit_test(test_named_column_missing),
        cmocka_unit_test(test_bad_lines),
        cmocka_unit_test(test_id_length_limit),
        cmocka_unit_test(test_timestamp_range),
        cmocka_unit_test(test_skip_invalid_counts_and_keeps_first),
        cmocka_unit_test(test_missing_file),
        cmocka_unit_test(test_file_shrinks_while_read),
        cmocka_unit_test(test_generated_log_roundtrip),
        cmocka_unit_test(test_threads_agree),
        cmocka_unit_test(test_repeats_dense_and_sparse),
        cmocka_unit_test(test_movies_dat_latin1),
        cmocka_unit_test(test_movies_csv_quoted_titles),
        cmocka_unit_test(test_movies_bad_lines),
        cmocka_unit_test(test_movie_title_length_limit),
    };
    return cmocka_run_group_tests(tests, make_tmpdir, remove_tmpdir);
}
