/* Exact top-K against an independent double-precision brute force. */
#include "testutil.h"

#include <math.h>

#include "builder/topk.h"

/* Compute the lists of m (items sorted by id), with random exclusions if
 * asked, and compare every user with the reference. */
static void check_model(const mfkv_model *m, uint32_t k, uint64_t seed, unsigned threads, int with_exclusions)
{
    uint32_t users = m->user_ids.n, items = m->item_ids.n, factors = m->n_factors;
    uint64_t *offset = NULL;
    uint32_t *excl = NULL;
    mfkv_exclusions ex;
    if (with_exclusions) {
        offset = calloc(users + 1, sizeof *offset);
        excl = malloc(((size_t)users * items + 1) * sizeof *excl);
        uint64_t s = seed ^ 0xabcdef, n = 0;
        for (uint32_t u = 0; u < users; u++) {
            offset[u] = n;
            for (uint32_t i = 0; i < items; i++)
                if (tu_next(&s) % 3 == 0) excl[n++] = i;
            /* A repeated pair must be harmless. */
            if (n > offset[u]) excl[n] = excl[n - 1], n++;
        }
        offset[users] = n;
        ex = (mfkv_exclusions){offset, excl};
    }
    mfkv_topk_opts o = {.k = k, .threads = threads, .exclude = with_exclusions ? &ex : NULL};
    mfkv_topk_result r;
    mfkv_diag d = {0};
    assert_int_equal(mfkv_topk_compute(m, &o, &r, &d), 0);

    uint32_t *ref_item = malloc((k + 1) * sizeof *ref_item);
    float *ref_score = malloc((k + 1) * sizeof *ref_score);
    unsigned char *allowed = malloc(items + 1);
    for (uint32_t u = 0; u < users; u++) {
        memset(allowed, 1, items);
        if (with_exclusions)
            for (uint64_t e = offset[u]; e < offset[u + 1]; e++) allowed[excl[e]] = 0;
        uint32_t n = tu_reference_topk(m, u, k, allowed, ref_item, ref_score);
        assert_int_equal(r.count[u], n);
        for (uint32_t i = 0; i < n; i++) {
            if (r.item[(size_t)u * k + i] != ref_item[i] || r.score[(size_t)u * k + i] != ref_score[i])
                fail_msg("shape %ux%ux%u k=%u: user %u rank %u: got item %u score %.9g, want %u %.9g", users,
                         items, factors, k, u, i, r.item[(size_t)u * k + i], r.score[(size_t)u * k + i],
                         ref_item[i], ref_score[i]);
        }
    }
    free(ref_item);
    free(ref_score);
    free(allowed);
    free(offset);
    free(excl);
    mfkv_topk_free(&r);
}

/* Build a random model and check it. */
static void check_shape(uint32_t users, uint32_t items, uint32_t factors, uint32_t k, uint64_t seed,
                        int quantized, unsigned threads, int with_exclusions)
{
    mfkv_model m;
    tu_random_model(&m, users, items, factors, seed, quantized);
    /* The builder sorts items by id before top-K; do the same so indices agree. */
    assert_int_equal(mfkv_model_sort_items(&m), 0);
    check_model(&m, k, seed, threads, with_exclusions);
    mfkv_model_free(&m);
}

static void random_shapes(void **state)
{
    check_shape(300, 500, 8, 50, 1, 0, 2, 0);
    check_shape(257, 2049, 16, 20, 2, 0, 2, 0); /* crosses user and item block edges */
    check_shape(40, 300, 60, 50, 3, 0, 1, 0);
    check_shape(10, 100, 1, 5, 4, 0, 2, 0);
    check_shape(20, 3000, 8, 600, 16, 0, 2, 0); /* longer lists than the rank sort takes */
}

static void ties_are_broken_by_item_id(void **state)
{
    /* Factors and biases in {-1, 0, 1}: most scores tie exactly. */
    check_shape(200, 400, 4, 30, 5, 1, 2, 0);
    check_shape(50, 1000, 2, 100, 6, 1, 1, 0);
}

static void k_at_least_items(void **state)
{
    check_shape(20, 7, 3, 10, 7, 0, 2, 0);
    check_shape(20, 10, 3, 10, 8, 0, 2, 0);
    check_shape(5, 12, 3, 1000, 9, 1, 1, 0);
}

static void one_user_one_item(void **state)
{
    check_shape(1, 1, 1, 1, 10, 0, 2, 0);
    check_shape(1, 50, 5, 10, 11, 0, 2, 0);
    check_shape(50, 1, 5, 10, 12, 0, 2, 0);
}

static void exclude_seen(void **state)
{
    check_shape(100, 300, 8, 20, 13, 0, 2, 1);
    check_shape(60, 40, 4, 50, 14, 1, 2, 1); /* fewer eligible items than k */
}

static void scores_rising_along_the_visit_order(void **state)
{
    /* Items are visited by descending bias; here the dot product grows
     * faster than the bias falls, so every later score beats the threshold
     * and the pools fill again and again in the middle of a scan chunk. */
    mfkv_model m;
    tu_random_model(&m, 30, 3000, 2, 19, 0);
    assert_int_equal(mfkv_model_sort_items(&m), 0);
    for (uint32_t u = 0; u < 30; u++) m.user_factors[2 * u] = 1.0f + fabsf(m.user_factors[2 * u]);
    for (uint32_t i = 0; i < 3000; i++) {
        m.item_factors[2 * i] = (float)i / 300.0f;
        m.item_bias[i] = -(float)i / 10000.0f;
    }
    check_model(&m, 20, 19, 2, 0);
    mfkv_model_free(&m);
}

static void threads_do_not_change_the_result(void **state)
{
    mfkv_model m;
    tu_random_model(&m, 700, 600, 12, 15, 0);
    mfkv_topk_result a, b;
    mfkv_topk_opts o1 = {.k = 25, .threads = 1}, o2 = {.k = 25, .threads = 2};
    assert_int_equal(mfkv_topk_compute(&m, &o1, &a, NULL), 0);
    assert_int_equal(mfkv_topk_compute(&m, &o2, &b, NULL), 0);
    assert_memory_equal(a.count, b.count, 700 * sizeof *a.count);
    assert_memory_equal(a.item, b.item, 700 * 25 * sizeof *a.item);
    assert_memory_equal(a.score, b.score, 700 * 25 * sizeof *a.score);
    mfkv_topk_free(&a);
    mfkv_topk_free(&b);
    mfkv_model_free(&m);
}

static void fallback_is_global_plus_item_bias(void **state)
{
    mfkv_model m;
    tu_random_model(&m, 3, 200, 4, 16, 1); /* quantized: ties among biases */
    uint32_t item[20], count;
    float score[20];
    assert_int_equal(mfkv_topk_fallback(&m, 20, item, score, &count), 0);
    assert_int_equal(count, 20);
    /* Reference: a model whose user part is zero ranks by global + item bias. */
    memset(m.user_factors, 0, 3 * 4 * sizeof(float));
    m.user_bias[0] = 0;
    uint32_t ref_item[20];
    float ref_score[20];
    assert_int_equal(tu_reference_topk(&m, 0, 20, NULL, ref_item, ref_score), 20);
    assert_memory_equal(item, ref_item, sizeof item);
    assert_memory_equal(score, ref_score, sizeof score);
    mfkv_model_free(&m);
}

static void float_rounding_cannot_reorder(void **state)
{
    /* u.v_i = 1e8 + i/2 exactly in double, but float spacing at 1e8 is 8:
     * the GEMM sees groups of 16 equal scores.  Only the exactness check
     * (falling back to double) can pick the true top 10: items 199..190. */
    mfkv_model m;
    tu_random_model(&m, 1, 200, 2, 18, 0);
    assert_int_equal(mfkv_model_sort_items(&m), 0);
    m.user_factors[0] = 1e4f;
    m.user_factors[1] = 1.0f;
    m.user_bias[0] = 0;
    for (uint32_t i = 0; i < 200; i++) {
        m.item_factors[2 * i] = 1e4f;
        m.item_factors[2 * i + 1] = 0.5f * (float)i;
        m.item_bias[i] = 0;
    }
    mfkv_topk_opts o = {.k = 10, .threads = 1};
    mfkv_topk_result r;
    assert_int_equal(mfkv_topk_compute(&m, &o, &r, NULL), 0);
    for (uint32_t i = 0; i < 10; i++) assert_int_equal(r.item[i], 199 - i);
    assert_int_equal(r.exact_rechecks, 1);
    mfkv_topk_free(&r);
    mfkv_model_free(&m);
}

static void bad_k_is_refused(void **state)
{
    mfkv_model m;
    tu_random_model(&m, 2, 3, 1, 17, 0);
    mfkv_topk_result r;
    mfkv_diag d = {0};
    mfkv_topk_opts o = {.k = 0};
    assert_int_equal(mfkv_topk_compute(&m, &o, &r, &d), MFKV_INVAL);
    assert_non_null(strstr(d.msg, "k must be"));
    mfkv_model_free(&m);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(random_shapes),
        cmocka_unit_test(ties_are_broken_by_item_id),
        cmocka_unit_test(k_at_least_items),
        cmocka_unit_test(one_user_one_item),
        cmocka_unit_test(exclude_seen),
        cmocka_unit_test(scores_rising_along_the_visit_order),
        cmocka_unit_test(threads_do_not_change_the_result),
        cmocka_unit_test(fallback_is_global_plus_item_bias),
        cmocka_unit_test(float_rounding_cannot_reorder),
        cmocka_unit_test(bad_k_is_refused),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
