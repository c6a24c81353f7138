/*
 * Replays every committed fuzz corpus (tests/fuzz/corpus/<target>/) through
 * its target, so the seeds and every crasher found and fixed stay covered by
 * the normal test suite without clang.  Passing means no crash, no sanitizer
 * report (UBSan traps in Debug; the ASan and valgrind stages run this too),
 * and every seed means what it should: its outcome (fuzz_<target>_outcome:
 * what it parsed to, or the status it was refused with) equals the line for
 * it in fuzz_seed_meanings.h.  MFKV_FUZZ_PRINT=1 prints the outcomes in that
 * file's form, to check by hand when adding a seed.
 * The targets are #included: build.zig compiles a test program from one file.
 */
#include "testutil.h"

#include <dirent.h>

#include "../fuzz/fuzz_bqml_csv.c"
#include "../fuzz/fuzz_bqml_ndjson.c"
#include "../fuzz/fuzz_modelfile.c"
#include "../fuzz/fuzz_movies.c"
#include "../fuzz/fuzz_npy.c"
#include "../fuzz/fuzz_ratings.c"
#include "../fuzz/fuzz_serve_http.c"
#include "../fuzz/fuzz_serve_request.c"
#include "../fuzz/fuzz_store.c"

typedef int (*fuzz_fn)(const uint8_t *data, size_t size);
typedef void (*outcome_fn)(const uint8_t *data, size_t size, char *out, size_t cap);

/* What every committed seed means, worked out by reading the seed itself
 * (counts of its rows, ids, sums of its values; the status a malformed one
 * must get: 8 MFKV_PARSE, 9 MFKV_LIMIT, 3 MFKV_FORMAT, 2 MFKV_CORRUPT).  A
 * seed added to a corpus needs a line here: a crasher gets the status its
 * fix gives.  NULL expected: the outcome is not pinned (say why). */
typedef struct seed_meaning {
    const char *target, *file, *expected;
} seed_meaning;

static const seed_meaning meanings[] = {
#include "fuzz_seed_meanings.h"
};

static int by_name(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Run every file of tests/fuzz/corpus/<target> (or $MFKV_FUZZ_CORPUS/<target>)
 * through @p fn; the corpus must not be empty. */
static const char *meaning_of(const char *target, const char *file)
{
    for (size_t i = 0; i < sizeof meanings / sizeof *meanings; i++)
        if (!strcmp(meanings[i].target, target) && !strcmp(meanings[i].file, file)) return meanings[i].expected;
    fail_msg("%s/%s: no expected meaning in tests/unit/fuzz_seed_meanings.h", target, file);
    return NULL;
}

static void replay(const char *target, fuzz_fn fn, outcome_fn outcome)
{
    const char *root = getenv("MFKV_FUZZ_CORPUS");
    char dir[512];
    snprintf(dir, sizeof dir, "%s/%s", root && *root ? root : "tests/fuzz/corpus", target);
    DIR *dp = opendir(dir);
    if (!dp) fail_msg("cannot open corpus folder %s", dir);
    char *names[1024];
    size_t n = 0;
    struct dirent *e;
    while ((e = readdir(dp)) && n < 1024)
        if (e->d_name[0] != '.') names[n++] = strdup(e->d_name);
    closedir(dp);
    qsort(names, n, sizeof *names, by_name);
    assert_true(n > 0);
    for (size_t i = 0; i < n; i++) {
        char path[1024];
        snprintf(path, sizeof path, "%s/%s", dir, names[i]);
        FILE *f = fopen(path, "rb");
        assert_non_null(f);
        fseek(f, 0, SEEK_END);
        long len = ftell(f);
        rewind(f);
        uint8_t *buf = malloc((size_t)len + 1);
        assert_int_equal(fread(buf, 1, (size_t)len, f), (size_t)len);
        fclose(f);
        assert_int_equal(fn(buf, (size_t)len), 0);
        char got[512];
        outcome(buf, (size_t)len, got, sizeof got);
        if (getenv("MFKV_FUZZ_PRINT")) print_message("    { \"%s\", \"%s\", \"%s\" },\n", target, names[i], got);
        else if (strcmp(got, meaning_of(target, names[i])) != 0)
            fail_msg("%s/%s: got \"%s\", expected \"%s\"", target, names[i], got, meaning_of(target, names[i]));
        free(buf);
        free(names[i]);
    }
    print_message("%s: %zu corpus files replayed\n", target, n);
}

static void bqml_ndjson(void **state) { replay("bqml_ndjson", fuzz_bqml_ndjson_one, fuzz_bqml_ndjson_outcome); }
static void bqml_csv(void **state) { replay("bqml_csv", fuzz_bqml_csv_one, fuzz_bqml_csv_outcome); }
static void npy(void **state) { replay("npy", fuzz_npy_one, fuzz_npy_outcome); }
static void ratings(void **state) { replay("ratings", fuzz_ratings_one, fuzz_ratings_outcome); }
static void movies(void **state) { replay("movies", fuzz_movies_one, fuzz_movies_outcome); }
static void modelfile(void **state) { replay("modelfile", fuzz_modelfile_one, fuzz_modelfile_outcome); }
static void store(void **state) { replay("store", fuzz_store_one, fuzz_store_outcome); }
static void serve_requests(void **state) { replay("serve_request", fuzz_serve_request_one, fuzz_serve_request_outcome); }
static void serve_http_streams(void **state) { replay("serve_http", fuzz_serve_http_one, fuzz_serve_http_outcome); }

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(bqml_ndjson), cmocka_unit_test(bqml_csv), cmocka_unit_test(npy),
        cmocka_unit_test(ratings),     cmocka_unit_test(movies),   cmocka_unit_test(modelfile),
        cmocka_unit_test(store),       cmocka_unit_test(serve_requests), cmocka_unit_test(serve_http_streams),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
