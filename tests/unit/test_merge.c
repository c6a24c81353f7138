/*
 * test_merge - shard builds and mfkv_merge_stores at the library level, so
 * valgrind and ASan see the k-way merge and the writer's user source too
 * (tests/e2e/test_shard_merge.py covers the CLI).
 */
#include "testutil.h"

#include "builder/build.h"
#include "builder/merge.h"
#include "builder/shard.h"

static char dir[64];

static void build(const char *name, uint32_t index, uint32_t count, uint64_t seed)
{
    mfkv_model m;
    tu_random_model(&m, 90, 25, 5, seed, 0);
    char path[256];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    mfkv_build_request req = {.model = &m, .k = 6, .threads = 1, .fallback = 1, .options = "test",
                              .build_time = 1700000000, .shard_index = index, .shard_count = count};
    mfkv_build_summary sum;
    mfkv_diag d = {0};
    assert_int_equal(mfkv_build_store(path, &req, &sum, &d), MFKV_OK);
    mfkv_model_free(&m);
}

static char *slurp(const char *name, size_t *len)
{
    char path[256];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    return tu_slurp(path, len);
}

static int merge(const char *out, const char *const *names, size_t n, mfkv_diag *d)
{
    char paths[8][256], target[256];
    const char *p[8];
    for (size_t i = 0; i < n; i++) {
        snprintf(paths[i], sizeof paths[i], "%s/%s", dir, names[i]);
        p[i] = paths[i];
    }
    snprintf(target, sizeof target, "%s/%s", dir, out);
    mfkv_merge_summary sum;
    return mfkv_merge_stores(target, p, n, NULL, NULL, &sum, d);
}

static void merged_equals_full_build(void **state)
{
    build("full", 0, 0, 5);
    build("s0", 0, 3, 5);
    build("s1", 1, 3, 5);
    build("s2", 2, 3, 5);
    const char *names[] = {"s1", "s2", "s0"};
    mfkv_diag d = {0};
    assert_int_equal(merge("merged", names, 3, &d), MFKV_OK);
    size_t la, lb;
    char *a = slurp("full", &la), *b = slurp("merged", &lb);
    assert_int_equal(la, lb);
    assert_memory_equal(a, b, la);
    free(a);
    free(b);
}

static void refusals_name_the_files(void **state)
{
    mfkv_diag d = {0};
    const char *missing[] = {"s0", "s2"};
    assert_int_equal(merge("x", missing, 2, &d), MFKV_INVAL);
    assert_non_null(strstr(d.msg, "shard 1/3 is missing"));
    const char *dup[] = {"s0", "s1", "s1", "s2"};
    assert_int_equal(merge("x", dup, 4, &d), MFKV_INVAL);
    assert_non_null(strstr(d.msg, "are both shard 1/3"));
    build("o2", 2, 3, 6); /* another model's shard 2 */
    const char *other[] = {"s0", "s1", "o2"};
    assert_int_equal(merge("x", other, 3, &d), MFKV_INVAL);
    assert_non_null(strstr(d.msg, "not shards of one build"));
    const char *whole[] = {"full"};
    assert_int_equal(merge("x", whole, 1, &d), MFKV_INVAL);
    assert_non_null(strstr(d.msg, "is not a shard store"));
    char path[256];
    snprintf(path, sizeof path, "%s/x", dir);
    assert_int_equal(access(path, F_OK), -1);
}

static void shard_lines_parse_strictly(void **state)
{
    uint32_t i, n;
    const char ok[] = "builder=x\nshard=2/5\n";
    assert_int_equal(mfkv_provenance_shard(ok, strlen(ok), &i, &n), 1);
    assert_int_equal(i, 2);
    assert_int_equal(n, 5);
    const char *bad[] = {"shard=5/5\n", "shard=1/0\n", "shard=1/2x\n", "builder=x\n", "shard=\n"};
    for (size_t j = 0; j < sizeof bad / sizeof *bad; j++)
        assert_int_equal(mfkv_provenance_shard(bad[j], strlen(bad[j]), &i, &n), 0);
    /* The assignment is a pure function of the id bytes. */
    assert_int_equal(mfkv_shard_of("u1", 2, 7), mfkv_shard_of("u1", 2, 7));
    assert_true(mfkv_shard_of("u1", 2, 7) < 7);
}

int main(void)
{
    tu_tmpdir(dir, sizeof dir);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(merged_equals_full_build),
        cmocka_unit_test(refusals_name_the_files),
        cmocka_unit_test(shard_lines_parse_strictly),
    };
    int rc = cmocka_run_group_tests(tests, NULL, NULL);
    tu_rm_rf(dir);
    return rc;
}
