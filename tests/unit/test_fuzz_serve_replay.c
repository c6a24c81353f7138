/*
 * Replays the committed corpus of the serve request fuzz target
 * (tests/fuzz/corpus/serve_request/, or $MFKV_FUZZ_CORPUS/serve_request) so
 * its seeds and every input that once crashed stay covered by the normal
 * suite without clang.  Passing means no crash, no sanitizer report and no
 * unsound response (the target aborts on those).  The target is #included:
 * build.zig compiles a test program from one file.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <dirent.h>

#include "../fuzz/fuzz_serve_request.c"

static int by_name(const void *a, const void *b) { return strcmp(*(char *const *)a, *(char *const *)b); }

static void serve_request_corpus(void **state)
{
    (void)state;
    const char *root = getenv("MFKV_FUZZ_CORPUS");
    char dir[512];
    snprintf(dir, sizeof dir, "%s/serve_request", root && *root ? root : "tests/fuzz/corpus");
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
        assert_int_equal(fuzz_serve_request_one(buf, (size_t)len), 0);
        free(buf);
        free(names[i]);
    }
    print_message("serve_request: %zu corpus files replayed\n", n);
}

/* The inputs that found bugs, as their fixed behaviour. */
static void fixed_bugs_answer_sanely(void **state)
{
    (void)state;
    /* An unknown user id that is not UTF-8, under --fallback: the snippet
     * echoed it into JSON verbatim; now a 400. */
    static const char snippet[] = "\x0bGET\0/v1/users/ab\xff/recommendations\0\0json\0\0";
    serve_response res;
    serve_response_init(&res);
    serve_request req = {.method = "GET", .path = "/v1/users/ab\xff/recommendations", .query_format = "json"};
    assert_int_equal(fuzz_serve_request_one((const uint8_t *)snippet, sizeof snippet - 1), 0);
    serve_handle(&fuzz_state[1], &req, &res);
    assert_int_equal(res.status, 400);
    assert_non_null(strstr(res.body.data, "UTF-8"));
    serve_response_free(&res);
}

static int teardown(void **state)
{
    (void)state;
    for (int f = 0; f < 2; f++) {
        if (!fuzz_state[f].config) continue;
        slow_clients_destroy(&fuzz_state[f].slow);
        store_slot_destroy(&fuzz_state[f].slot);
    }
    return 0;
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(serve_request_corpus),
        cmocka_unit_test(fixed_bugs_answer_sanely),
    };
    return cmocka_run_group_tests(tests, NULL, teardown);
}
