/*
 * Loaders of exported model weights (src/io/factors.h): the shared BigQuery
 * ML examples, agreement between the NDJSON and long CSV forms, .npy round
 * trips, and one test per kind of bad input, each of which must fail with
 * MFKV_PARSE naming the file and line and leave the model empty.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <ftw.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "io/factors.h"
#include "mfkv.h"

static char tmpdir[64];

static int remove_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    (void)st; (void)flag; (void)ftw;
    return remove(path);
}

static int make_tmpdir(void **state)
{
    strcpy(tmpdir, "/tmp/mfkv_io_factors_XXXXXX");
    return mkdtemp(tmpdir) ? 0 : -1;
}

static int remove_tmpdir(void **state) { return nftw(tmpdir, remove_entry, 8, FTW_DEPTH | FTW_PHYS); }

static const char *fixture(char *buf, const char *name)
{
    const char *root = getenv("MFKV_FIXTURES");
    snprintf(buf, 4096, "%s/%s", root ? root : "tests/fixtures", name);
    return buf;
}

/* Write @p len bytes (strlen when len is -1) to tmpdir/name; returns the path. */
static const char *write_file(char *buf, const char *name, const char *text, long len)
{
    snprintf(buf, 4096, "%s/%s", tmpdir, name);
    FILE *f = fopen(buf, "wb");
    assert_non_null(f);
    size_t n = len < 0 ? strlen(text) : (size_t)len;
    assert_int_equal(fwrite(text, 1, n, f), n);
    assert_int_equal(fclose(f), 0);
    return buf;
}

static uint32_t find(const mfkv_idtab *t, const char *id)
{
    uint32_t i = UINT32_MAX;
    assert_int_equal(mfkv_idtab_find(t, id, strlen(id), &i), MFKV_OK);
    return i;
}

static void assert_empty(const mfkv_model *m)
{
    assert_int_equal(m->user_ids.n, 0);
    assert_int_equal(m->item_ids.n, 0);
    assert_null(m->user_factors);
    assert_null(m->item_factors);
}

/* The failure names "FILE:LINE:" (line 0: just the file) and says @p what. */
static void assert_parse_error(int rc, const mfkv_diag *d, const mfkv_model *m, const char *path,
                               size_t line, const char *what)
{
    char where[4200];
    if (line) snprintf(where, sizeof where, "%s:%zu:", path, line);
    else snprintf(where, sizeof where, "%s:", path);
    if (rc != MFKV_PARSE || !strstr(d->msg, where) || (what && !strstr(d->msg, what)))
        fail_msg("rc %d, message \"%s\"; wanted %s ... %s", rc, d->msg, where, what ? what : "");
    assert_empty(m);
}

/* ---- the shared examples ------------------------------------------------ */

static void check_example_model(const mfkv_model *m)
{
    assert_int_equal(m->n_factors, 4);
    assert_int_equal(m->user_ids.n, 3);
    assert_int_equal(m->item_ids.n, 4);
    /* file order of first appearance */
    assert_string_equal(mfkv_idtab_str(&m->user_ids, 0, NULL), "1");
    assert_string_equal(mfkv_idtab_str(&m->user_ids, 2, NULL), "10");
    assert_string_equal(mfkv_idtab_str(&m->item_ids, 0, NULL), "3382");
    assert_string_equal(mfkv_idtab_str(&m->item_ids, 3, NULL), "1193");
    uint32_t u1 = find(&m->user_ids, "1"), i3382 = find(&m->item_ids, "3382"),
             i1 = find(&m->item_ids, "1");
    assert_float_equal(m->user_bias[u1], 0.04259326, 1e-7);
    assert_float_equal(m->item_bias[i3382], 3.535388, 1e-6);
    assert_float_equal(m->global_bias, 3.58156445, 1e-12);
    for (int f = 0; f < 4; f++) assert_true(m->item_factors[i3382 * 4 + f] == 0.0f);
    /* factor f at column f - 1, although the file lists them 4..1 */
    const double u1_factors[4] = {0.10392, -0.130045, 0.044229, -0.262035};
    for (int f = 0; f < 4; f++) assert_float_equal(m->user_factors[u1 * 4 + f], u1_factors[f], 1e-7);
    /* README: 3.58156445 + 0.04259326 + 3.535388 */
    assert_float_equal(mfkv_model_predict(m, u1, i3382), 7.15954571, 1e-6);
    double by_hand = 3.58156445 + 0.04259326 + 0.4840958 + 0.10392 * -0.349384 +
                     -0.130045 * 0.139068 + 0.044229 * -0.023647 + -0.262035 * 0.336461;
    assert_float_equal(mfkv_model_predict(m, u1, i1), by_hand, 1e-6);
}

static void test_example_ndjson(void **state)
{
    char p[4096];
    mfkv_model m;
    mfkv_diag d = {0};
    int rc = mfkv_load_bqml_ndjson(fixture(p, "bqml/bqml-weights.ndjson"), NULL, &m, &d);
    if (rc) fail_msg("%s", d.msg);
    check_example_model(&m);
    mfkv_model_free(&m);
    /* naming the user column gives the same */
    assert_int_equal(mfkv_load_bqml_ndjson(p, "user_id", &m, &d), MFKV_OK);
    check_example_model(&m);
    mfkv_model_free(&m);
}

static void test_example_csv(void **state)
{
    char pu[4096], pi[4096];
    mfkv_model m;
    mfkv_diag d = {0};
    int rc = mfkv_load_bqml_csv(fixture(pu, "bqml/bqml-users.csv"), fixture(pi, "bqml/bqml-items.csv"),
                                3.58156445, 0, &m, &d);
    if (rc) fail_msg("%s", d.msg);
    check_example_model(&m);
    mfkv_model_free(&m);
}

static void assert_same_model(const mfkv_model *a, const mfkv_model *b)
{
    assert_int_equal(a->n_factors, b->n_factors);
    assert_true(a->global_bias == b->global_bias);
    const mfkv_idtab *ta[2] = {&a->user_ids, &a->item_ids}, *tb[2] = {&b->user_ids, &b->item_ids};
    const float *fa[2] = {a->user_factors, a->item_factors}, *fb[2] = {b->user_factors, b->item_factors};
    const float *ba[2] = {a->user_bias, a->item_bias}, *bb[2] = {b->user_bias, b->item_bias};
    for (int s = 0; s < 2; s++) {
        assert_int_equal(ta[s]->n, tb[s]->n);
        for (uint32_t i = 0; i < ta[s]->n; i++) {
            assert_string_equal(mfkv_idtab_str(ta[s], i, NULL), mfkv_idtab_str(tb[s], i, NULL));
            assert_memory_equal(&ba[s][i], &bb[s][i], sizeof(float));
        }
        assert_memory_equal(fa[s], fb[s], (size_t)ta[s]->n * a->n_factors * sizeof(float));
    }
}

static void test_ndjson_equals_csv(void **state)
{
    char p[4096], pu[4096], pi[4096];
    mfkv_model a, b;
    mfkv_diag d = {0};
    assert_int_equal(mfkv_load_bqml_ndjson(fixture(p, "bqml/bqml-weights.ndjson"), NULL, &a, &d), 0);
    assert_int_equal(mfkv_load_bqml_csv(fixture(pu, "bqml/bqml-users.csv"),
                                        fixture(pi, "bqml/bqml-items.csv"), 3.58156445, 0, &b, &d), 0);
    assert_same_model(&a, &b);
    mfkv_model_free(&a);
    mfkv_model_free(&b);
}

/* ---- NDJSON ------------------------------------------------------------- */

#define G "{\"processed_input\": null, \"feature\": \"global__INTERCEPT__\", \"factor_weights\": null, \"intercept\": 3.5}\n"
#define ROW(input, id, fw, b) \
    "{\"processed_input\": \"" input "\", \"feature\": " id ", \"factor_weights\": " fw ", \"intercept\": " b "}\n"
#define FW2 "[{\"factor\": 2, \"weight\": 0.5}, {\"factor\": 1, \"weight\": -0.25}]"
#define U(id) ROW("user_id", "\"" id "\"", FW2, "0.1")
#define I(id) ROW("item_id", "\"" id "\"", FW2, "-0.3")
#define UFW(id, fw) ROW("user_id", "\"" id "\"", fw, "0.1")
#define GOOD_TAIL U("u2") I("i1") I("i2")

typedef struct bad_case {
    const char *name, *text;
    size_t line;
    const char *what;
} bad_case;

static const bad_case bad_ndjson[] = {
    {"empty.ndjson", "", 1, "empty"},
    {"only_global.ndjson", G, 1, "no user or item rows"},
    {"no_items.ndjson", G U("u1") U("u2"), 3, "only one column"},
    {"no_global.ndjson", U("u1") I("i1"), 2, "global__INTERCEPT__"},
    {"two_globals.ndjson", G U("u1") G I("i1"), 3, "second"},
    {"mixed_k.ndjson", G U("u1") UFW("u2", "[{\"factor\": 1, \"weight\": 0.5}]") I("i1"), 3, "K = 2"},
    {"duplicate_factor.ndjson",
     G U("u1") UFW("u2", "[{\"factor\": 1, \"weight\": 0.5}, {\"factor\": 1, \"weight\": 0.5}]") I("i1"),
     3, "factor 1 twice"},
    {"factor_zero.ndjson",
     G U("u1") UFW("u2", "[{\"factor\": 0, \"weight\": 0.5}, {\"factor\": 1, \"weight\": 0.5}]") I("i1"),
     3, "factor_weights[0].factor"},
    {"factor_above_k.ndjson",
     G U("u1") UFW("u2", "[{\"factor\": 3, \"weight\": 0.5}, {\"factor\": 1, \"weight\": 0.5}]") I("i1"),
     3, "K = 2"},
    {"factor_not_integer.ndjson",
     G U("u1") UFW("u2", "[{\"factor\": 2.0, \"weight\": 0.5}, {\"factor\": 1, \"weight\": 0.5}]") I("i1"),
     3, "integer"},
    {"missing_weight.ndjson", G U("u1") UFW("u2", "[{\"factor\": 2}, {\"factor\": 1, \"weight\": 0.5}]") I("i1"),
     3, "factor_weights[0].weight: missing"},
    {"unknown_nested.ndjson",
     G U("u1") UFW("u2", "[{\"factor\": 2, \"wieght\": 1}, {\"factor\": 1, \"weight\": 0.5}]") I("i1"), 3,
     "field factor_weights[0].wieght: unknown"},
    {"unknown_field.ndjson",
     G U("u1") "{\"processed_input\": \"user_id\", \"featur\": \"u2\", \"factor_weights\": " FW2
               ", \"intercept\": 0}\n" I("i1"),
     3, "field featur: unknown"},
    {"missing_feature.ndjson",
     G U("u1") "{\"processed_input\": \"user_id\", \"factor_weights\": " FW2 ", \"intercept\": 0}\n" I("i1"), 3,
     "field feature: missing"},
    {"missing_intercept.ndjson",
     G U("u1") "{\"processed_input\": \"user_id\", \"feature\": \"u2\", \"factor_weights\": " FW2 "}\n" I("i1"),
     3, "field intercept: missing"},
    {"missing_processed_input.ndjson",
     G U("u1") "{\"feature\": \"u2\", \"factor_weights\": " FW2 ", \"intercept\": 0}\n" I("i1"), 3,
     "field processed_input: missing"},
    {"duplicate_id.ndjson", G U("u1") U("u2") U("u1") I("i1"), 4, "duplicate user_id id \"u1\" (first on line 2)"},
    {"nan.ndjson", G U("u1") UFW("u2", "[{\"factor\": 2, \"weight\": NaN}, {\"factor\": 1, \"weight\": 0.5}]") I("i1"),
     3, "invalid JSON"},
    {"infinity.ndjson", G U("u1") ROW("user_id", "\"u2\"", FW2, "Infinity") I("i1"), 3, "invalid JSON"},
    {"overflow.ndjson", G U("u1") UFW("u2", "[{\"factor\": 2, \"weight\": 1e999}, {\"factor\": 1, \"weight\": 0.5}]") I("i1"),
     3, "invalid JSON"},
    {"float_overflow.ndjson",
     G U("u1") UFW("u2", "[{\"factor\": 2, \"weight\": 1e300}, {\"factor\": 1, \"weight\": 0.5}]") I("i1"), 3,
     "float range"},
    {"weight_string.ndjson",
     G U("u1") UFW("u2", "[{\"factor\": 2, \"weight\": \"1\"}, {\"factor\": 1, \"weight\": 0.5}]") I("i1"), 3,
     "must be a number"},
    {"bad_utf8.ndjson", G U("u1") U("u\xC3\x28") I("i1"), 3, "invalid JSON"},
    {"empty_id.ndjson", G U("u1") U("") I("i1"), 3, "empty id"},
    {"long_id.ndjson", G U("u1") U("xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"
                                   "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"
                                   "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx")
                             I("i1"),
     3, "longer than 255"},
    {"not_object.ndjson", G "[1, 2]\n" I("i1"), 2, "JSON object"},
    {"truncated_line.ndjson", G "{\"processed_input\": \"user_id\", \"feature\"\n", 2, "invalid JSON"},
    {"two_trials.ndjson",
     "{\"trial_id\": 1, \"processed_input\": null, \"feature\": \"global__INTERCEPT__\", \"factor_weights\": null, \"intercept\": 3.5}\n"
     "{\"trial_id\": 2, \"processed_input\": \"user_id\", \"feature\": \"u1\", \"factor_weights\": " FW2 ", \"intercept\": 0}\n",
     2, "trial_id"},
    {"third_column.ndjson", G U("u1") I("i1") ROW("genre", "\"x\"", FW2, "0"), 4, "third column"},
    {"ambiguous_columns.ndjson", G ROW("a", "\"1\"", FW2, "0") ROW("b", "\"1\"", FW2, "0"), 3, "--user-column"},
    {"global_with_input.ndjson",
     "{\"processed_input\": \"user_id\", \"feature\": \"global__intercept__\", \"factor_weights\": null, \"intercept\": 1}\n",
     1, "must be null"},
    {"null_input_not_global.ndjson", G "{\"processed_input\": null, \"feature\": \"u1\", \"factor_weights\": " FW2
                                      ", \"intercept\": 0}\n",
     2, "processed_input"},
    /* simdjson takes these; the loader must still refuse them as Jansson does */
    {"nul_in_id.ndjson", G U("u1") U("u\\u0000x") I("i1"), 3, "invalid JSON"},
    {"factor_past_int64.ndjson",
     G U("u1") UFW("u2", "[{\"factor\": 9223372036854775808, \"weight\": 0.5}, {\"factor\": 1, \"weight\": 0.5}]")
         I("i1"),
     3, "invalid JSON"},
    {"duplicate_key_in_weight.ndjson",
     G U("u1") UFW("u2", "[{\"factor\": 2, \"factor\": 1, \"weight\": 0.5}, {\"factor\": 1, \"weight\": 0.5}]")
         I("i1"),
     3, "invalid JSON"},
    {"duplicate_key.ndjson", G "{\"processed_input\": \"user_id\", \"feature\": \"u1\", \"feature\": \"u2\"}\n", 2,
     "invalid JSON"},
};

static void test_ndjson_bad(void **state)
{
    for (size_t i = 0; i < sizeof bad_ndjson / sizeof *bad_ndjson; i++) {
        const bad_case *c = &bad_ndjson[i];
        char p[4096];
        mfkv_model m;
        mfkv_diag d = {0};
        write_file(p, c->name, c->text, -1);
        int rc = mfkv_load_bqml_ndjson(p, NULL, &m, &d);
        assert_parse_error(rc, &d, &m, p, c->line, c->what);
    }
}

static void test_ndjson_user_column(void **state)
{
    char p[4096];
    mfkv_model m;
    mfkv_diag d = {0};
    /* names that do not say which side is which: the caller says */
    write_file(p, "ab.ndjson", G ROW("b", "\"i1\"", FW2, "0") ROW("a", "\"u1\"", FW2, "0.5"), -1);
    assert_int_equal(mfkv_load_bqml_ndjson(p, "a", &m, &d), MFKV_OK);
    assert_int_equal(m.user_ids.n, 1);
    assert_string_equal(mfkv_idtab_str(&m.user_ids, 0, NULL), "u1");
    assert_float_equal(m.user_bias[0], 0.5, 0);
    mfkv_model_free(&m);
    assert_parse_error(mfkv_load_bqml_ndjson(p, "c", &m, &d), &d, &m, p, 3, "\"c\"");
    /* the user side need not come first, and detection is case-insensitive */
    write_file(p, "upper.ndjson", I("i1") G ROW("USERID", "\"u1\"", FW2, "0.5"), -1);
    assert_int_equal(mfkv_load_bqml_ndjson(p, NULL, &m, &d), MFKV_OK);
    assert_string_equal(mfkv_idtab_str(&m.user_ids, 0, NULL), "u1");
    assert_string_equal(mfkv_idtab_str(&m.item_ids, 0, NULL), "i1");
    mfkv_model_free(&m);
}

static void test_ndjson_accepts(void **state)
{
    char p[4096];
    mfkv_model m;
    mfkv_diag d = {0};
    /* BOM, CRLF, lower-case global feature, integer ids, a null intercept,
     * one trial_id throughout, factors in any order, a blank line */
    const char *text =
        "\xEF\xBB\xBF{\"trial_id\": 7, \"processed_input\": null, \"feature\": \"GLOBAL__intercept__\", "
        "\"factor_weights\": [], \"intercept\": 2}\r\n"
        "{\"trial_id\": 7, \"processed_input\": \"user_id\", \"feature\": 42, \"factor_weights\": "
        "[{\"factor\": 1, \"weight\": 1}, {\"factor\": 2, \"weight\": 2}], \"intercept\": null}\r\n"
        "\r\n"
        "{\"trial_id\": null, \"processed_input\": \"item_id\", \"feature\": \"\xC3\xA9t\xC3\xA9\", "
        "\"factor_weights\": [{\"factor\": 2, \"weight\": 4}, {\"factor\": 1, \"weight\": 3}], \"intercept\": 0.5}\r\n";
    write_file(p, "accepts.ndjson", text, -1);
    int rc = mfkv_load_bqml_ndjson(p, NULL, &m, &d);
    if (rc) fail_msg("%s", d.msg);
    assert_string_equal(mfkv_idtab_str(&m.user_ids, 0, NULL), "42");
    assert_string_equal(mfkv_idtab_str(&m.item_ids, 0, NULL), "\xC3\xA9t\xC3\xA9");
    assert_float_equal(m.global_bias, 2, 0);
    assert_float_equal(m.user_bias[0], 0, 0);
    /* 2 + 0 + 0.5 + 1*3 + 2*4 */
    assert_float_equal(mfkv_model_predict(&m, 0, 0), 13.5, 1e-12);
    mfkv_model_free(&m);
}

/* A line of over 1 MB: fine when it is valid JSON, an error naming the line
 * when it is an id that is too long (in either form). */
static void test_megabyte_lines(void **state)
{
    size_t pad = 1u << 20;
    const char *head = G U("u1");
    const char *row = ROW("item_id", "\"i1\"", FW2, "1");
    char *text = malloc(strlen(head) + pad + strlen(row) + 64);
    assert_non_null(text);
    strcpy(text, head);
    size_t n = strlen(text);
    memset(text + n, ' ', pad);
    strcpy(text + n + pad, row);
    char p[4096];
    mfkv_model m;
    mfkv_diag d = {0};
    write_file(p, "padded.ndjson", text, -1);
    int rc = mfkv_load_bqml_ndjson(p, NULL, &m, &d);
    if (rc) fail_msg("%s", d.msg);
    assert_int_equal(m.item_ids.n, 1);
    mfkv_model_free(&m);

    strcpy(text, head);
    strcat(text, "{\"processed_input\": \"item_id\", \"feature\": \"");
    n = strlen(text);
    memset(text + n, 'x', pad);
    strcpy(text + n + pad, "\", \"factor_weights\": " FW2 ", \"intercept\": 0}\n");
    write_file(p, "long_id_line.ndjson", text, -1);
    assert_parse_error(mfkv_load_bqml_ndjson(p, NULL, &m, &d), &d, &m, p, 3, "longer than 255");

    char q[4096];
    strcpy(text, "user_id,bias,factor,weight\n1,0,1,0\n\"");
    n = strlen(text);
    memset(text + n, 'y', pad);
    strcpy(text + n + pad, "\",0,1,0\n");
    write_file(p, "long_id_users.csv", text, -1);
    write_file(q, "items_for_long.csv", "item_id,bias,factor,weight\n1,0,1,0\n", -1);
    assert_parse_error(mfkv_load_bqml_csv(p, q, 0, 0, &m, &d), &d, &m, p, 3, "longer than 255");
    free(text);
}

/* Deterministic pseudo-random bytes, NULs and newlines included. */
static void garbage(unsigned char *buf, size_t n)
{
    uint64_t x = 0x9E3779B97F4A7C15ull;
    for (size_t i = 0; i < n; i++) {
        x ^= x << 13, x ^= x >> 7, x ^= x << 17;
        buf[i] = (unsigned char)(x >> 24);
    }
}

static void test_binary_garbage(void **state)
{
    unsigned char junk[4096];
    garbage(junk, sizeof junk);
    char p[4096], q[4096];
    mfkv_model m;
    mfkv_diag d = {0};
    write_file(p, "garbage.bin", (const char *)junk, sizeof junk);
    assert_parse_error(mfkv_load_bqml_ndjson(p, NULL, &m, &d), &d, &m, p, 1, NULL);
    write_file(q, "users_ok.csv", "user_id,bias,factor,weight\n1,0,1,0\n", -1);
    assert_parse_error(mfkv_load_bqml_csv(p, q, 0, 0, &m, &d), &d, &m, p, 1, NULL);
    assert_parse_error(mfkv_load_bqml_csv(q, p, 0, 0, &m, &d), &d, &m, p, 0, NULL);
    float *data;
    uint64_t rows, cols;
    assert_int_equal(mfkv_npy_read(p, &data, &rows, &cols, &d), MFKV_PARSE);
    assert_non_null(strstr(d.msg, p));
    assert_null(data);
}

/* ---- long CSV ----------------------------------------------------------- */

#define UH "user_id,bias,factor,weight\n"
#define IH "item_id,bias,factor,weight\n"
#define USERS UH "u1,0.1,2,0.5\nu1,0.1,1,-0.25\n"
#define ITEMS IH "i1,-0.3,1,2\ni1,-0.3,2,0.125\n"

typedef struct bad_csv {
    const char *name, *users, *items;
    int bad_items; /* which file the error is in */
    size_t line;
    const char *what;
} bad_csv;

static const bad_csv bad_csvs[] = {
    {"empty", "", ITEMS, 0, 1, "empty"},
    {"header_only", UH, ITEMS, 0, 1, "no users"},
    {"no_items", USERS, IH, 1, 1, "no items"},
    {"missing_factor", USERS "u2,0,2,1\n", ITEMS, 0, 4, "user \"u2\" lacks factor 1"},
    {"mixed_k_items", USERS, IH "i1,0,1,1\ni1,0,2,1\ni2,0,1,1\n", 1, 4, "lacks factor 2"},
    {"factor_above_k", USERS "u2,0,1,1\nu2,0,2,1\nu2,0,3,1\n", ITEMS, 0, 6, "K = 2"},
    {"factor_zero", USERS "u2,0,0,1\n", ITEMS, 0, 4, "field factor"},
    {"factor_negative", USERS "u2,0,-1,1\n", ITEMS, 0, 4, "field factor"},
    {"factor_fraction", USERS "u2,0,1.5,1\n", ITEMS, 0, 4, "field factor"},
    {"factor_huge", USERS "u2,0,99999999999,1\n", ITEMS, 0, 4, "field factor"},
    {"duplicate_factor", USERS "u2,0,1,1\nu2,0,1,1\n", ITEMS, 0, 5, "factor 1 twice"},
    {"duplicate_id", USERS "u2,0,1,1\nu2,0,2,1\nu1,0.1,2,0.5\n", ITEMS, 0, 6, "\"u1\" has factor 2 twice"},
    {"bias_differs", USERS "u2,0,1,1\nu2,0.5,2,1\n", ITEMS, 0, 5, "field bias"},
    {"nan", USERS "u2,0,1,nan\n", ITEMS, 0, 4, "field weight"},
    {"inf", USERS "u2,0,1,-inf\n", ITEMS, 0, 4, "field weight"},
    {"overflow", USERS "u2,0,1,1e999\n", ITEMS, 0, 4, "field weight"},
    {"float_overflow", USERS "u2,1e300,1,1\n", ITEMS, 0, 4, "field bias"},
    {"hex", USERS "u2,0,1,0x10\n", ITEMS, 0, 4, "field weight"},
    {"empty_weight", USERS "u2,0,1,\n", ITEMS, 0, 4, "field weight"},
    {"ragged_short", USERS "u2,0,1\n", ITEMS, 0, 4, "3 fields"},
    {"ragged_long", USERS "u2,0,1,1,9\n", ITEMS, 0, 4, "5 fields"},
    {"unknown_column", "user_id,bias,factor,weight,extra\n", ITEMS, 0, 1, "field extra: unknown column"},
    {"misspelt_column", "user_id,bias,factr,weight\n", ITEMS, 0, 1, "field factr"},
    {"missing_column", "user_id,bias,factor\nu1,0,1\n", ITEMS, 0, 1, "field weight: missing column"},
    {"repeated_column", "user_id,bias,factor,bias\n", ITEMS, 0, 1, "twice"},
    {"no_id_column", "bias,user_id,factor,weight\n", ITEMS, 0, 1, "field bias"},
    {"swapped_files", ITEMS, USERS, 0, 1, "items file"},
    {"bad_utf8_id", USERS "u\xC3\x28,0,1,1\nu\xC3\x28,0,2,1\n", ITEMS, 0, 4, "UTF-8"},
    {"overlong_utf8_id", USERS "\xC0\xAF,0,1,1\n", ITEMS, 0, 4, "UTF-8"},
    {"surrogate_id", USERS "\xED\xA0\x80,0,1,1\n", ITEMS, 0, 4, "UTF-8"},
    {"empty_id", USERS ",0,1,1\n", ITEMS, 0, 4, "empty id"},
    {"unclosed_quote", USERS "\"u2,0,1,1\n", ITEMS, 0, 4, "quoting"},
    {"stray_quote", USERS "u\"2,0,1,1\n", ITEMS, 0, 4, "quoting"},
    {"many_fields", USERS "u2,0,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1\n", ITEMS, 0, 4, "20 fields"},
    {"blank_field", USERS "u2, ,1,1\n", ITEMS, 0, 4, "field bias"},
};

static void test_csv_bad(void **state)
{
    for (size_t i = 0; i < sizeof bad_csvs / sizeof *bad_csvs; i++) {
        const bad_csv *c = &bad_csvs[i];
        char pu[4096], pi[4096], name[256];
        snprintf(name, sizeof name, "%s_users.csv", c->name);
        write_file(pu, name, c->users, -1);
        snprintf(name, sizeof name, "%s_items.csv", c->name);
        write_file(pi, name, c->items, -1);
        mfkv_model m;
        mfkv_diag d = {0};
        int rc = mfkv_load_bqml_csv(pu, pi, 1.0, 0, &m, &d);
        assert_parse_error(rc, &d, &m, c->bad_items ? pi : pu, c->line, c->what);
    }
}

static void test_csv_accepts(void **state)
{
    char pu[4096], pi[4096];
    mfkv_model m;
    mfkv_diag d = {0};
    /* BOM, CRLF, quoted ids with a comma and a quote, a different id column
     * name and column order, ids whose rows are not together, blank line */
    write_file(pu, "ok_users.csv",
               "\xEF\xBB\xBFuserId,factor,weight,bias\r\n\"a,\"\"b\"\"\",2,0.5,1\r\n"
               "u2,1,3,0\r\n\r\n\"a,\"\"b\"\"\",1,0.25,1\r\nu2,2,4,0\r\n",
               -1);
    write_file(pi, "ok_items.csv", "ITEM_ID,bias,factor,weight\n7,2,2,1\n7,2,1,1", -1);
    int rc = mfkv_load_bqml_csv(pu, pi, 0.5, 0, &m, &d);
    if (rc) fail_msg("%s", d.msg);
    assert_int_equal(m.n_factors, 2);
    assert_int_equal(m.user_ids.n, 2);
    assert_string_equal(mfkv_idtab_str(&m.user_ids, 0, NULL), "a,\"b\"");
    /* 0.5 + 1 + 2 + 0.25*1 + 0.5*1 */
    assert_float_equal(mfkv_model_predict(&m, 0, 0), 4.25, 1e-12);
    /* 0.5 + 0 + 2 + 3 + 4 */
    assert_float_equal(mfkv_model_predict(&m, 1, 0), 9.5, 1e-12);
    mfkv_model_free(&m);
}

/*
 * Long CSV lines are read in parallel chunks and added in file order: a
 * ~1.2 MB users file (several chunks) with the lines the parallel pass
 * leaves to libcsv (quoted ids, CRLF and blank lines) loads the same with
 * 1, 3 and 8 threads, and a fault in a later chunk (a bias that differs
 * from the id's first row) is the same message naming its line.
 * MFKV_TEST_LIGHT (valgrind, ASan): ~0.6 MB, still two chunks.
 */
static void csv_digest(const char *pu, const char *pi, unsigned threads, char out[1200])
{
    mfkv_model m;
    mfkv_diag d = {0};
    int rc = mfkv_load_bqml_csv(pu, pi, 0.5, threads, &m, &d);
    if (rc) {
        snprintf(out, 1200, "rc %d: %s", rc, d.msg);
        return;
    }
    /* FNV-1a over the ids, biases and factors (their bytes) */
    uint64_t h = 1469598103934665603ull;
    for (uint32_t i = 0; i < m.user_ids.n; i++) {
        size_t len;
        const char *id = mfkv_idtab_str(&m.user_ids, i, &len);
        const unsigned char *b = (const unsigned char *)&m.user_bias[i],
                            *f = (const unsigned char *)&m.user_factors[(size_t)i * m.n_factors];
        for (size_t k = 0; k <= len; k++) h = (h ^ (unsigned char)id[k]) * 1099511628211ull;
        for (size_t k = 0; k < sizeof *m.user_bias; k++) h = (h ^ b[k]) * 1099511628211ull;
        for (size_t k = 0; k < m.n_factors * sizeof *m.user_factors; k++) h = (h ^ f[k]) * 1099511628211ull;
    }
    snprintf(out, 1200, "%u users, %u factors, %016llx", m.user_ids.n, m.n_factors, (unsigned long long)h);
    mfkv_model_free(&m);
}

static void test_csv_threads_agree(void **state)
{
    (void)state;
    enum { K = 25 };
    size_t ids = getenv("MFKV_TEST_LIGHT") ? 1000 : 2000;
    char pu[4096], pi[4096];
    char items[64 + K * 16] = "item_id,bias,factor,weight\n";
    for (int k = 1; k <= K; k++) snprintf(items + strlen(items), sizeof items - strlen(items), "1,0,%d,0\n", k);
    write_file(pi, "agree_items.csv", items, -1);
    for (int fault = 0; fault < 2; fault++) {
        FILE *f = fopen(write_file(pu, "agree_users.csv", "", -1), "wb");
        assert_non_null(f);
        fputs("user_id,bias,factor,weight\n", f);
        size_t line = 1, bad_line = 0;
        for (size_t i = 0; i < ids; i++)
            for (size_t k = K; k >= 1; k--) {
                line++;
                if (i % 97 == 5 && k == 3) fputs("\n", f), line++;
                int bad = fault && i == ids * 5 / 6 && k == 7;
                if (bad) bad_line = line;
                fprintf(f, i % 89 == 7 ? "\"%zu\"," : "%zu,", i);
                fprintf(f, "%s,%zu,%.4f%s", bad ? "0.25" : i % 2 ? "-0.5" : "0.125", k, (double)(i % 13) / 8 - (double)k / 32,
                        i % 101 == 9 ? "\r\n" : "\n");
            }
        assert_int_equal(fclose(f), 0);
        char one[1200], many[1200];
        csv_digest(pu, pi, 1, one);
        for (unsigned threads = 3; threads <= 8; threads += 5) {
            csv_digest(pu, pi, threads, many);
            assert_string_equal(one, many);
        }
        char want[4300];
        if (fault)
            snprintf(want, sizeof want, "rc 8: %s:%zu: field bias: 0.25 differs from %s on line", pu, bad_line,
                     ids * 5 / 6 % 2 ? "-0.5" : "0.125");
        else
            snprintf(want, sizeof want, "%zu users, %d factors, ", ids, K);
        if (strncmp(one, want, strlen(want))) fail_msg("%s\nwanted\n%s", one, want);
    }
}

/* Blanks around unquoted fields are not part of them (libcsv's rule, which
 * the loader's own split of plain lines must follow); a line of blanks is
 * no row. */
static void test_csv_blanks_around_fields(void **state)
{
    char pu[4096], pi[4096];
    mfkv_model m;
    mfkv_diag d = {0};
    write_file(pu, "blank_users.csv", "user_id , bias,factor,weight\n u1 ,\t0.5, 1 ,2\n \t \n u1 , 0.5 ,2,\t+3 \n", -1);
    write_file(pi, "blank_items.csv", "item_id,bias,factor,weight\ni1,0,1,1\ni1,0,2,1\n", -1);
    int rc = mfkv_load_bqml_csv(pu, pi, 0.25, 0, &m, &d);
    if (rc) fail_msg("%s", d.msg);
    assert_int_equal(m.user_ids.n, 1);
    assert_string_equal(mfkv_idtab_str(&m.user_ids, 0, NULL), "u1");
    /* 0.25 + 0.5 + 0 + 2*1 + 3*1 */
    assert_float_equal(mfkv_model_predict(&m, 0, 0), 5.75, 1e-12);
    mfkv_model_free(&m);
}

/* ---- numpy -------------------------------------------------------------- */

static void test_npy_round_trip(void **state)
{
    char p[4096];
    mfkv_diag d = {0};
    const float mat[6] = {1.5f, -2.25f, 3e-38f, 3e38f, -0.0f, 6.125f};
    float *back;
    uint64_t rows, cols;
    snprintf(p, sizeof p, "%s/m.npy", tmpdir);
    assert_int_equal(mfkv_npy_write(p, mat, 3, 2, &d), MFKV_OK);
    assert_int_equal(mfkv_npy_read(p, &back, &rows, &cols, &d), MFKV_OK);
    assert_int_equal(rows, 3);
    assert_int_equal(cols, 2);
    assert_memory_equal(back, mat, sizeof mat);
    free(back);
    /* numpy's layout: v1.0, header padded to a multiple of 64 ending in \n */
    FILE *f = fopen(p, "rb");
    unsigned char head[128];
    assert_int_equal(fread(head, 1, 128, f), 128);
    fclose(f);
    assert_memory_equal(head, "\x93NUMPY\x01\x00", 8);
    size_t hlen = head[8] | (size_t)head[9] << 8;
    assert_int_equal((10 + hlen) % 64, 0);
    assert_int_equal(head[10 + hlen - 1], '\n');
    assert_memory_equal(head + 10, "{'descr': '<f4', 'fortran_order': False, 'shape': (3, 2), }", 59);

    int ndim;
    assert_int_equal(mfkv_npy_write(p, mat, 5, 0, &d), MFKV_OK);
    assert_int_equal(mfkv_npy_read_nd(p, &back, &rows, &cols, &ndim, &d), MFKV_OK);
    assert_int_equal(ndim, 1);
    assert_int_equal(rows, 5);
    assert_int_equal(cols, 1);
    assert_memory_equal(back, mat, 5 * sizeof(float));
    free(back);
}

/* An .npy file as numpy would lay it out, with any header text. */
static const char *write_npy(char *p, const char *name, int major, const char *dict, const void *data,
                             size_t n)
{
    unsigned char buf[512];
    size_t pre = major == 1 ? 10 : 12, dlen = strlen(dict);
    size_t hlen = (pre + dlen + 1 + 63) / 64 * 64 - pre;
    memcpy(buf, "\x93NUMPY", 6);
    buf[6] = (unsigned char)major;
    buf[7] = 0;
    memset(buf + 8, 0, 4);
    buf[8] = (unsigned char)hlen;
    buf[9] = (unsigned char)(hlen >> 8);
    memcpy(buf + pre, dict, dlen);
    memset(buf + pre + dlen, ' ', hlen - dlen);
    buf[pre + hlen - 1] = '\n';
    memcpy(buf + pre + hlen, data, n);
    return write_file(p, name, (const char *)buf, (long)(pre + hlen + n));
}

static void test_npy_versions_and_f8(void **state)
{
    char p[4096];
    mfkv_diag d = {0};
    const double v[4] = {1, -2.5, 3.25, 1e-3};
    float *back;
    uint64_t rows, cols;
    for (int major = 1; major <= 3; major++) {
        write_npy(p, "f8.npy", major, "{\"descr\": \"<f8\", \"fortran_order\": False, \"shape\": (2, 2)}", v,
                  sizeof v);
        int rc = mfkv_npy_read(p, &back, &rows, &cols, &d);
        if (rc) fail_msg("%s", d.msg);
        assert_int_equal(rows, 2);
        assert_int_equal(cols, 2);
        for (int i = 0; i < 4; i++) assert_true(back[i] == (float)v[i]);
        free(back);
    }
}

static void test_npy_bad(void **state)
{
    static const float four[4] = {1, 2, 3, 4};
    const float nan4[4] = {1, NAN, 3, 4};
    const double big[2] = {1, 1e300};
    const struct {
        const char *name, *dict;
        const void *data;
        size_t n;
        int major;
        const char *what;
    } cases[] = {
        {"big_endian.npy", "{'descr': '>f4', 'fortran_order': False, 'shape': (4,), }", four, 16, 1, "big-endian"},
        {"fortran.npy", "{'descr': '<f4', 'fortran_order': True, 'shape': (2, 2), }", four, 16, 1, "fortran_order"},
        {"int64.npy", "{'descr': '<i8', 'fortran_order': False, 'shape': (2,), }", four, 16, 1, "'<i8' is not supported"},
        {"three_d.npy", "{'descr': '<f4', 'fortran_order': False, 'shape': (1, 2, 2), }", four, 16, 1, "dimensions"},
        {"scalar.npy", "{'descr': '<f4', 'fortran_order': False, 'shape': (), }", four, 4, 1, "dimensions"},
        {"truncated.npy", "{'descr': '<f4', 'fortran_order': False, 'shape': (5,), }", four, 16, 1, "16 bytes follow"},
        {"extra.npy", "{'descr': '<f4', 'fortran_order': False, 'shape': (3,), }", four, 16, 1, "16 bytes follow"},
        {"nan.npy", "{'descr': '<f4', 'fortran_order': False, 'shape': (2, 2), }", nan4, 16, 1, "[0, 1]"},
        {"f8_overflow.npy", "{'descr': '<f8', 'fortran_order': False, 'shape': (2,), }", big, 16, 1, "[1, 0]"},
        {"version9.npy", "{'descr': '<f4', 'fortran_order': False, 'shape': (4,), }", four, 16, 9, "version 9"},
        {"no_shape.npy", "{'descr': '<f4', 'fortran_order': False, }", four, 16, 1, "header"},
        {"extra_key.npy", "{'descr': '<f4', 'fortran_order': False, 'shape': (4,), 'x': 1}", four, 16, 1, "header"},
        {"not_dict.npy", "descr", four, 16, 1, "header"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        char p[4096];
        mfkv_diag d = {0};
        float *data = (float *)1;
        uint64_t rows = 9, cols = 9;
        write_npy(p, cases[i].name, cases[i].major, cases[i].dict, cases[i].data, cases[i].n);
        int rc = mfkv_npy_read(p, &data, &rows, &cols, &d);
        if (rc != MFKV_PARSE || !strstr(d.msg, p) || !strstr(d.msg, cases[i].what))
            fail_msg("%s: rc %d, \"%s\"", cases[i].name, rc, d.msg);
        assert_null(data);
        assert_int_equal(rows, 0);
    }
    char p[4096];
    mfkv_diag d = {0};
    float *data;
    uint64_t rows, cols;
    write_file(p, "short.npy", "\x93NUMPY\x01\x00\x40", 9);
    assert_int_equal(mfkv_npy_read(p, &data, &rows, &cols, &d), MFKV_PARSE);
    assert_non_null(strstr(d.msg, "truncated"));
}

static void write_ids(const char *dir, const char *name, const mfkv_idtab *t)
{
    char p[4096];
    snprintf(p, sizeof p, "%s/%s", dir, name);
    FILE *f = fopen(p, "wb");
    assert_non_null(f);
    for (uint32_t i = 0; i < t->n; i++) fprintf(f, "%s\n", mfkv_idtab_str(t, i, NULL));
    fclose(f);
}

static void write_npy_in(const char *dir, const char *name, const float *data, uint64_t rows,
                         uint64_t cols)
{
    char p[4096];
    mfkv_diag d = {0};
    snprintf(p, sizeof p, "%s/%s", dir, name);
    if (mfkv_npy_write(p, data, rows, cols, &d)) fail_msg("%s", d.msg);
}

/* The example model through a folder of .npy files comes back identical. */
static void test_npy_dir_round_trip(void **state)
{
    char p[4096], dir[4096];
    mfkv_model a, b;
    mfkv_diag d = {0};
    assert_int_equal(mfkv_load_bqml_ndjson(fixture(p, "bqml/bqml-weights.ndjson"), NULL, &a, &d), 0);
    snprintf(dir, sizeof dir, "%s/npydir", tmpdir);
    assert_int_equal(mkdir(dir, 0755), 0);
    write_npy_in(dir, MFKV_NPY_USER_FACTORS, a.user_factors, a.user_ids.n, a.n_factors);
    write_npy_in(dir, MFKV_NPY_ITEM_FACTORS, a.item_factors, a.item_ids.n, a.n_factors);
    write_npy_in(dir, MFKV_NPY_USER_BIAS, a.user_bias, a.user_ids.n, 0);
    write_npy_in(dir, MFKV_NPY_ITEM_BIAS, a.item_bias, a.item_ids.n, 0);
    write_ids(dir, MFKV_NPY_USER_IDS, &a.user_ids);
    write_ids(dir, MFKV_NPY_ITEM_IDS, &a.item_ids);
    char g[64];
    snprintf(g, sizeof g, "%.17g\n", a.global_bias);
    write_file(p, "npydir/" MFKV_NPY_GLOBAL_BIAS, g, -1);
    int rc = mfkv_load_npy_dir(dir, &b, &d);
    if (rc) fail_msg("%s", d.msg);
    assert_same_model(&a, &b);
    check_example_model(&b);
    mfkv_model_free(&b);

    /* without the optional files: zero biases */
    snprintf(p, sizeof p, "%s/%s", dir, MFKV_NPY_USER_BIAS);
    unlink(p);
    snprintf(p, sizeof p, "%s/%s", dir, MFKV_NPY_GLOBAL_BIAS);
    unlink(p);
    assert_int_equal(mfkv_load_npy_dir(dir, &b, &d), MFKV_OK);
    assert_float_equal(b.global_bias, 0, 0);
    for (uint32_t i = 0; i < b.user_ids.n; i++) assert_float_equal(b.user_bias[i], 0, 0);
    assert_memory_equal(b.item_bias, a.item_bias, a.item_ids.n * sizeof(float));
    mfkv_model_free(&b);
    mfkv_model_free(&a);
}

static void test_npy_model_bad(void **state)
{
    const float f6[6] = {1, 2, 3, 4, 5, 6};
    char uf[4096], itf[4096], uf1[4096], ui[4096], ii[4096];
    snprintf(uf, sizeof uf, "%s/u32.npy", tmpdir);
    snprintf(itf, sizeof itf, "%s/i22.npy", tmpdir);
    snprintf(uf1, sizeof uf1, "%s/u3.npy", tmpdir);
    mfkv_diag d = {0};
    assert_int_equal(mfkv_npy_write(uf, f6, 3, 2, &d), 0);
    assert_int_equal(mfkv_npy_write(itf, f6, 2, 2, &d), 0);
    assert_int_equal(mfkv_npy_write(uf1, f6, 3, 0, &d), 0);
    write_file(ui, "uids.txt", "a\nb\nc\n", -1);
    write_file(ii, "iids.txt", "x\r\ny", -1);
    char i3[4096], i22b[4096], dup[4096], blank[4096], utf[4096], empty[4096];
    snprintf(i3, sizeof i3, "%s/i23.npy", tmpdir);
    assert_int_equal(mfkv_npy_write(i3, f6, 2, 3, &d), 0);
    snprintf(i22b, sizeof i22b, "%s/b22.npy", tmpdir);
    assert_int_equal(mfkv_npy_write(i22b, f6, 2, 2, &d), 0);
    write_file(dup, "dup.txt", "a\nb\na\n", -1);
    write_file(blank, "blank.txt", "a\n\nc\n", -1);
    write_file(utf, "utf.txt", "a\nb\xFF\nc\n", -1);
    write_file(empty, "empty.txt", "", -1);

    mfkv_model m;
    mfkv_npy_paths ok = {.user_factors = uf, .item_factors = itf, .user_ids = ui, .item_ids = ii};
    assert_int_equal(mfkv_load_npy_model(&ok, &m, &d), MFKV_OK);
    assert_string_equal(mfkv_idtab_str(&m.item_ids, 0, NULL), "x");
    /* user c = row 2 = (5, 6), item y = row 1 = (3, 4) */
    assert_float_equal(mfkv_model_predict(&m, 2, 1), 5 * 3 + 6 * 4, 0);
    mfkv_model_free(&m);

    const struct {
        mfkv_npy_paths p;
        const char *file;
        size_t line;
        const char *what;
    } cases[] = {
        {{.user_factors = uf, .item_factors = itf, .user_ids = ii, .item_ids = ii}, uf, 0, "2 ids"},
        {{.user_factors = uf, .item_factors = i3, .user_ids = ui, .item_ids = ii}, i3, 0, "3 factors per row"},
        {{.user_factors = uf1, .item_factors = itf, .user_ids = ui, .item_ids = ii}, uf1, 0, "2-D"},
        {{.user_factors = uf, .item_factors = itf, .user_ids = ui, .item_ids = ii, .item_bias = i22b}, i22b, 0, "1-D"},
        {{.user_factors = uf, .item_factors = itf, .user_ids = ui, .item_ids = ii, .item_bias = uf1}, uf1, 0, "3 rows"},
        {{.user_factors = uf, .item_factors = itf, .user_ids = dup, .item_ids = ii}, dup, 3, "duplicate id \"a\" (first on line 1)"},
        {{.user_factors = uf, .item_factors = itf, .user_ids = blank, .item_ids = ii}, blank, 2, "empty id"},
        {{.user_factors = uf, .item_factors = itf, .user_ids = utf, .item_ids = ii}, utf, 2, "UTF-8"},
        {{.user_factors = uf, .item_factors = itf, .user_ids = ui, .item_ids = empty}, empty, 1, "no ids"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        int rc = mfkv_load_npy_model(&cases[i].p, &m, &d);
        assert_parse_error(rc, &d, &m, cases[i].file, cases[i].line, cases[i].what);
    }
}

static void test_npy_dir_bad_global(void **state)
{
    char dir[4096], p[4096];
    mfkv_diag d = {0};
    mfkv_model m;
    const float f[2] = {1, 2};
    snprintf(dir, sizeof dir, "%s/gdir", tmpdir);
    assert_int_equal(mkdir(dir, 0755), 0);
    write_npy_in(dir, MFKV_NPY_USER_FACTORS, f, 1, 2);
    write_npy_in(dir, MFKV_NPY_ITEM_FACTORS, f, 1, 2);
    write_file(p, "gdir/" MFKV_NPY_USER_IDS, "u\n", -1);
    write_file(p, "gdir/" MFKV_NPY_ITEM_IDS, "i\n", -1);
    write_file(p, "gdir/" MFKV_NPY_GLOBAL_BIAS, "nan\n", -1);
    assert_parse_error(mfkv_load_npy_dir(dir, &m, &d), &d, &m, p, 1, "field global_bias");
    write_file(p, "gdir/" MFKV_NPY_GLOBAL_BIAS, "1\n2\n", -1);
    assert_parse_error(mfkv_load_npy_dir(dir, &m, &d), &d, &m, p, 2, "one number");
    write_file(p, "gdir/" MFKV_NPY_GLOBAL_BIAS, "\xEF\xBB\xBF" "2.5\r\n", -1);
    assert_int_equal(mfkv_load_npy_dir(dir, &m, &d), MFKV_OK);
    assert_float_equal(mfkv_model_predict(&m, 0, 0), 2.5 + 1 + 4, 0);
    mfkv_model_free(&m);
    /* a required file missing is an I/O error naming it */
    snprintf(p, sizeof p, "%s/%s", dir, MFKV_NPY_ITEM_IDS);
    unlink(p);
    assert_int_equal(mfkv_load_npy_dir(dir, &m, &d), MFKV_IO);
    assert_non_null(strstr(d.msg, p));
    assert_empty(&m);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_example_ndjson),
        cmocka_unit_test(test_example_csv),
        cmocka_unit_test(test_ndjson_equals_csv),
        cmocka_unit_test(test_ndjson_bad),
        cmocka_unit_test(test_ndjson_user_column),
        cmocka_unit_test(test_ndjson_accepts),
        cmocka_unit_test(test_megabyte_lines),
        cmocka_unit_test(test_binary_garbage),
        cmocka_unit_test(test_csv_bad),
        cmocka_unit_test(test_csv_accepts),
        cmocka_unit_test(test_csv_blanks_around_fields),
        cmocka_unit_test(test_csv_threads_agree),
        cmocka_unit_test(test_npy_round_trip),
        cmocka_unit_test(test_npy_versions_and_f8),
        cmocka_unit_test(test_npy_bad),
        cmocka_unit_test(test_npy_dir_round_trip),
        cmocka_unit_test(test_npy_model_bad),
        cmocka_unit_test(test_npy_dir_bad_global),
    };
    return cmocka_run_group_tests(tests, make_tmpdir, remove_tmpdir);
}
