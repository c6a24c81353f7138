/* Unit tests for the parts of `mfkv serve` that need no store: the shared
 * score format, escaping, routing, entity tags, predict request parsing,
 * the metrics exposition, the answer cache and the store slot's reference
 * counts. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "common/buf.h"
#include "common/numfmt.h"
#include "serve/answer_cache.h"
#include "serve/etag.h"
#include "serve/handler.h"
#include "serve/metrics.h"
#include "serve/predict_request.h"
#include "serve/route.h"
#include "serve/store_slot.h"

#include <pthread.h>
#include <sched.h>

#include <sys/socket.h>
#include <unistd.h>

static void check_score(float v, const char *want)
{
    char text[MFKV_FLOAT_TEXT_MAX];
    int n = mfkv_format_float(text, v);
    assert_string_equal(text, want);
    assert_int_equal(n, strlen(want));
}

/* Expected strings are numpy's shortest round-trip float32 digits
 * (np.format_float_positional / _scientific(unique=True)), laid out as
 * numfmt.h says: positional for decimal exponents -6..20 (either side of
 * each cut-off, both signs). */
static void score_matches_numpy_shortest(void **state)
{
    (void)state;
    check_score(7.15954571f, "7.159546"); /* user 1 x item 3382 of the example */
    check_score(0.1f, "0.1");
    check_score(10.0f, "10");
    check_score(0.5f, "0.5");
    check_score(-2.5f, "-2.5");
    check_score(1.0f / 3.0f, "0.33333334");
    check_score(123456789.0f, "123456790");
    check_score(1e-6f, "0.000001");
    check_score(1e-7f, "1e-07");
    check_score(-1e-6f, "-0.000001");
    check_score(9.999999e-7f, "9.999999e-07"); /* the float below 1e-6 */
    check_score(1e20f, "100000000000000000000");
    check_score(9.9999995e20f, "999999950000000000000"); /* below 1e21 */
    check_score(1e21f, "1e+21");
    check_score(-1e21f, "-1e+21");
    check_score(0x1p-20f, "9.536743e-07");
    check_score(0x1p-10f, "0.0009765625");
    check_score(3.4028235e38f, "3.4028235e+38");
    check_score(0.0f, "0");
    check_score(-0.0f, "-0");
    check_score(NAN, "null");
    check_score(INFINITY, "null");
    check_score(-INFINITY, "null");
}

/* The three floats where numpy (and Dragonbox) differ from the rule: powers
 * of two, whose rounding interval reaches half as far below as above.  An
 * 8-digit decimal above each is inside it, but the nearest 8-digit decimal
 * is below and outside, so printf's rounding needs 9 digits. */
static void score_at_lopsided_powers_of_two_is_printfs(void **state)
{
    (void)state;
    check_score(0x1p87f, "1.54742505e+26"); /* numpy: 1.5474251e+26 */
    check_score(0x1p90f, "1.23794004e+27"); /* numpy: 1.2379401e+27 */
    check_score(-0x1p-96f, "-1.26217745e-29"); /* numpy: -1.2621775e-29 */
}

static void check_nearest(float v);

/* Every text reads back as the same float, and no text with one digit
 * fewer does: the closest decimal with d-1 significant digits is %.{d-2}e,
 * and if it misses the float's rounding interval every other one does too.
 * And it is the nearest of its length (check_nearest). */
static void score_round_trips_and_is_shortest(void **state)
{
    (void)state;
    srand(12345);
    for (int i = 0; i < 20000; i++) {
        uint32_t bits = ((uint32_t)rand() << 16) ^ (uint32_t)rand();
        float v;
        memcpy(&v, &bits, sizeof v);
        if (!isfinite(v)) continue;
        char text[MFKV_FLOAT_TEXT_MAX];
        mfkv_format_float(text, v);
        assert_true(strtof(text, NULL) == v);
        check_nearest(v);
        int sig = 0, leading = 1;
        for (const char *p = text; *p && *p != 'e'; p++) {
            if (*p < '0' || *p > '9') continue;
            if (leading && *p == '0') continue;
            leading = 0;
            sig++;
        }
        /* Trailing zeros of a positional integer are not significant. */
        if (!strchr(text, '.') && !strchr(text, 'e'))
            for (const char *p = text + strlen(text) - 1; p > text && *p == '0'; p--) sig--;
        if (sig > 1) {
            char shorter[64];
            snprintf(shorter, sizeof shorter, "%.*e", sig - 2, (double)v);
            assert_false(strtof(shorter, NULL) == v);
        }
    }
}

/* The digits are v rounded to the shortest length that reads back, as
 * printf's "%.*e" rounds it (exact, ties to even): checked as the same
 * decimal value, on sweeps where rounding is delicate -- every float next to
 * a power of two (the interval is lopsided there) and a power of ten (the
 * digit count changes), the smallest and largest normals, subnormals -- and
 * a dense run of ordinary scores. */
static void check_nearest(float v)
{
    char text[MFKV_FLOAT_TEXT_MAX], want[64];
    mfkv_format_float(text, v);
    for (int digits = 1; digits <= 9; digits++) {
        snprintf(want, sizeof want, "%.*e", digits - 1, (double)v);
        if (strtof(want, NULL) == v) break;
    }
    if (strtod(text, NULL) != strtod(want, NULL)) fail_msg("%.9g: got %s, want %s", (double)v, text, want);
}

/* Both signs: the sign is written apart from the digits. */
static void check_nearest_both_signs(float v)
{
    check_nearest(v);
    check_nearest(-v);
}

static void check_bits_around(uint32_t bits, int radius)
{
    for (int d = -radius; d <= radius; d++) {
        uint32_t b = bits + (uint32_t)d;
        float v;
        memcpy(&v, &b, sizeof v);
        if (isfinite(v)) check_nearest_both_signs(v);
    }
}

static void score_is_nearest_at_shortest_length(void **state)
{
    (void)state;
    for (uint32_t exp = 0; exp < 255; exp++) check_bits_around(exp << 23, 3);
    for (int e = -45; e <= 38; e++) {
        float p = (float)pow(10, e);
        uint32_t b;
        memcpy(&b, &p, sizeof b);
        check_bits_around(b, 40);
    }
    check_bits_around(0x00000001u, 40);   /* smallest subnormals */
    check_bits_around(0x7f7fffffu - 40, 40); /* largest floats */
    for (float v = 3.5f; v < 3.52f; v = nextafterf(v, 5.0f)) check_nearest_both_signs(v);
}

static void buf_escapes_json_and_html(void **state)
{
    (void)state;
    mfkv_buf b;
    mfkv_buf_init(&b);
    mfkv_buf_json_string(&b, "a\"b\\c\n\x01\xc3\xa9", 9);
    assert_string_equal(b.data, "\"a\\\"b\\\\c\\n\\u0001\xc3\xa9\"");
    mfkv_buf_free(&b);
    mfkv_buf_html_text(&b, "<script>alert('x\"&')</script>", 29);
    assert_string_equal(b.data, "&lt;script&gt;alert(&#39;x&quot;&amp;&#39;)&lt;/script&gt;");
    assert_int_equal(mfkv_buf_status(&b), 0);
    mfkv_buf_free(&b);
}

static void check_route(const char *path, serve_route_kind kind, const char *model, const char *version,
                        const char *user)
{
    serve_route r;
    serve_route_parse(path, &r);
    assert_int_equal(r.kind, kind);
    if (model) assert_true(r.model_len == strlen(model) && !memcmp(r.model, model, r.model_len));
    else assert_null(r.model);
    if (version) assert_true(r.version_len == strlen(version) && !memcmp(r.version, version, r.version_len));
    else assert_null(r.version);
    if (user) assert_true(r.user_len == strlen(user) && !memcmp(r.user, user, r.user_len));
    else assert_null(r.user);
}

static void routes_parse(void **state)
{
    (void)state;
    check_route("/v1/models/m:predict", ROUTE_PREDICT, "m", NULL, NULL);
    check_route("/v1/models/m/versions/42:predict", ROUTE_PREDICT, "m", "42", NULL);
    check_route("/v1/models/m", ROUTE_MODEL_STATUS, "m", NULL, NULL);
    check_route("/v1/models/m/versions/7", ROUTE_MODEL_STATUS, "m", "7", NULL);
    check_route("/v1/models/m/metadata", ROUTE_MODEL_METADATA, "m", NULL, NULL);
    check_route("/v1/models/m/versions/7/metadata", ROUTE_MODEL_METADATA, "m", "7", NULL);
    check_route("/v1/users/abc/recommendations", ROUTE_RECOMMENDATIONS, NULL, NULL, "abc");
    check_route("/", ROUTE_PAGE, NULL, NULL, NULL);
    check_route("/metrics", ROUTE_METRICS, NULL, NULL, NULL);
    check_route("/healthz", ROUTE_HEALTHZ, NULL, NULL, NULL);
    check_route("/readyz", ROUTE_READYZ, NULL, NULL, NULL);
    const char *unknown[] = {
        "", "/v1/models/", "/v1/models/:predict", "/v1/models/m:classify", "/v1/models/m/versions/",
        "/v1/models/m/versions/:predict", "/v1/models/m/", "/v1/users//recommendations",
        "/v1/users/1", "/v1/users/1/recommendations/x", "/metrics/", "//",
    };
    for (size_t i = 0; i < sizeof unknown / sizeof *unknown; i++)
        check_route(unknown[i], ROUTE_UNKNOWN, NULL, NULL, NULL);
    assert_string_equal(serve_route_allow(ROUTE_PREDICT), "POST");
    assert_string_equal(serve_route_allow(ROUTE_RECOMMENDATIONS), "GET, HEAD");
}

static void etags(void **state)
{
    (void)state;
    char tag[SERVE_ETAG_MAX], other[SERVE_ETAG_MAX];
    serve_etag(0x0123456789abcdefull, "body", 4, tag);
    assert_int_equal(strlen(tag), 35);
    assert_true(tag[0] == '"' && tag[34] == '"' && !strncmp(tag + 1, "0123456789abcdef-", 17));
    serve_etag(0x0123456789abcdefull, "bodY", 4, other);
    assert_string_not_equal(tag, other);
    serve_etag(0x0123456789abcdeeull, "body", 4, other);
    assert_string_not_equal(tag, other);

    char list[128];
    assert_true(serve_etag_matches(tag, tag));
    assert_true(serve_etag_matches(" * ", tag));
    snprintf(list, sizeof list, "\"x\", W/%s", tag); /* weak comparison */
    assert_true(serve_etag_matches(list, tag));
    snprintf(list, sizeof list, "\"x\",%s ,\"y\"", tag);
    assert_true(serve_etag_matches(list, tag));
    assert_false(serve_etag_matches("\"x\", \"y\"", tag));
    assert_false(serve_etag_matches("", tag));
    snprintf(list, sizeof list, "%.*s", 20, tag); /* unterminated */
    assert_false(serve_etag_matches(list, tag));
    snprintf(list, sizeof list, "junk %s", tag);
    assert_false(serve_etag_matches(list, tag));
}

/* The body half of a tag is XXH3-64 of every byte of the body (etag.h): a
 * change of any one byte, the last included, or of the length gives another
 * tag.  Through HTTP a hash that skipped the last byte would go unnoticed:
 * JSON and HTML bodies always end alike. */
static void etag_covers_every_byte(void **state)
{
    (void)state;
    /* Reference values of XXH3-64 (python-xxhash's xxh3_64_intdigest). */
    char tag[SERVE_ETAG_MAX], other[SERVE_ETAG_MAX];
    serve_etag(1, "", 0, tag);
    assert_string_equal(tag, "\"0000000000000001-2d06800538d394c2\"");
    serve_etag(1, "body", 4, tag);
    assert_string_equal(tag, "\"0000000000000001-84f2c8ee187fe1fa\"");

    enum { N = 70 };
    char body[N], by_len[N + 1][SERVE_ETAG_MAX];
    for (size_t i = 0; i < N; i++) body[i] = (char)('a' + i % 26);
    for (size_t len = 0; len <= N; len++) {
        serve_etag(7, body, len, by_len[len]);
        for (size_t i = 0; i < len; i++) {
            body[i] ^= 1;
            serve_etag(7, body, len, other);
            body[i] ^= 1;
            if (!strcmp(other, by_len[len])) fail_msg("byte %zu of %zu changed, same tag %s", i, len, other);
        }
        for (size_t shorter = 0; shorter < len; shorter++) /* prefixes of the body */
            if (!strcmp(by_len[shorter], by_len[len])) fail_msg("lengths %zu and %zu share a tag", shorter, len);
    }
}

static void expect_users(const char *body, int columnar, uint32_t max_items, size_t n, const char *const *ids)
{
    predict_request r;
    char err[256] = "";
    int rc = predict_request_parse(body, strlen(body), 10, &r, err, sizeof err);
    if (rc) fail_msg("%s: %s", body, err);
    assert_int_equal(r.columnar, columnar);
    assert_int_equal(r.max_items, max_items);
    assert_int_equal(r.n_users, n);
    for (size_t i = 0; i < n; i++) {
        assert_int_equal(r.users[i].id_len, strlen(ids[i]));
        assert_memory_equal(r.users[i].id, ids[i], strlen(ids[i]));
    }
    predict_request_free(&r);
}

static void expect_error(const char *body, const char *words)
{
    predict_request r;
    char err[256] = "";
    assert_int_equal(predict_request_parse(body, strlen(body), 3, &r, err, sizeof err), -1);
    if (!strstr(err, words)) fail_msg("%s: error '%s' lacks '%s'", body, err, words);
    assert_null(r.root);
    assert_null(r.users);
}

static void predict_requests(void **state)
{
    (void)state;
    const char *ids[] = {"1", "abc", "-7"};
    expect_users("{\"instances\":[{\"user_id\":1},{\"user_id\":\"abc\"},{\"user_id\":-7}]}", 0, 0, 3, ids);
    expect_users("{\"instances\":[1,\"abc\"],\"n\":5}", 0, 5, 2, ids);
    expect_users("{\"inputs\":{\"user_id\":[1,\"abc\",-7]},\"signature_name\":\"serving_default\"}", 1, 0, 3, ids);
    expect_users("{\"inputs\":[1]}", 1, 0, 1, ids);

    expect_error("{\"instances\":[1]", "JSON parse error");
    expect_error("[1]", "JSON object");
    expect_error("{}", "missing");
    expect_error("{\"instances\":[1],\"inputs\":[1]}", "not both");
    expect_error("{\"instances\":{\"user_id\":1}}", "list");
    expect_error("{\"instances\":[]}", "no users");
    expect_error("{\"instances\":[1,2,3,4]}", "limit is 3");
    expect_error("{\"instances\":[1.5]}", "integer or a string");
    expect_error("{\"instances\":[null]}", "integer or a string");
    expect_error("{\"instances\":[{\"user\":1}]}", "missing field user_id");
    expect_error("{\"inputs\":{\"users\":[1]}}", "missing field user_id");
    expect_error("{\"inputs\":{\"user_id\":1}}", "list");
    expect_error("{\"instances\":[1],\"n\":0}", "positive integer");
    expect_error("{\"instances\":[1],\"n\":\"3\"}", "positive integer");
    expect_error("{\"instances\":[1],\"signature_name\":\"other\"}", "serving_default");
    expect_error("{\"instances\":[1],\"instances\":[2]}", "duplicate");
    expect_error("{\"instances\":[1],\"parameters\":[1]}", "parameters must be an object");
    expect_error("{\"instances\":[1],\"parameters\":{\"k\":1}}", "unknown option \"k\"");
    expect_error("{\"instances\":[1],\"n\":2,\"parameters\":{\"n\":2}}", "not both");
    expect_error("{\"instances\":[1],\"unknown_users\":\"skip\"}", "\"fallback\" or \"error\"");
    expect_error("{\"instances\":[{\"user_id\":1,\"exclude\":\"10\"}]}", "exclude must be a list");
    expect_error("{\"instances\":[{\"user_id\":1},{\"user_id\":2,\"exclude\":[null]}]}", "instances[1].exclude[0]");
}

/* Options from Vertex AI's "parameters", and per-instance exclusions, sorted
 * for lookup whatever order they came in. */
static void predict_request_options(void **state)
{
    (void)state;
    predict_request r;
    char err[256] = "";
    const char *body = "{\"instances\":[{\"user_id\":1,\"exclude\":[\"b\",7,\"aa\",\"a\"]},{\"user_id\":2}],"
                       "\"parameters\":{\"n\":4,\"unknown_users\":\"error\"}}";
    if (predict_request_parse(body, strlen(body), 10, &r, err, sizeof err)) fail_msg("%s", err);
    assert_int_equal(r.max_items, 4);
    assert_true(r.unknown_is_error);
    assert_int_equal(r.users[0].n_exclude, 4);
    assert_int_equal(r.users[1].n_exclude, 0);
    const serve_id *x = r.users[0].exclude;
    for (const char *const *id = (const char *const[]){"a", "b", "7", "aa", NULL}; *id; id++)
        assert_true(serve_ids_contain(x, 4, *id, strlen(*id)));
    assert_false(serve_ids_contain(x, 4, "c", 1));
    assert_false(serve_ids_contain(x, 4, "a", 0));
    assert_false(serve_ids_contain(x, 4, "77", 2));
    assert_false(serve_ids_contain(NULL, 0, "a", 1));
    predict_request_free(&r);
    body = "{\"instances\":[1],\"unknown_users\":\"fallback\"}";
    if (predict_request_parse(body, strlen(body), 10, &r, err, sizeof err)) fail_msg("%s", err);
    assert_false(r.unknown_is_error);
    predict_request_free(&r);
}

/* Parses @p body (len bytes) with predict_request_parse and with jansson
 * alone; they must agree on success and, then, on every field.  Returns
 * whether the DOM-free path took it (no jansson tree kept). */
static int parsers_agree(const char *body, size_t len)
{
    predict_request fast, slow;
    char e1[256] = "", e2[256] = "";
    int rc1 = predict_request_parse(body, len, 5, &fast, e1, sizeof e1);
    int rc2 = predict_request_parse_json(body, len, 5, &slow, e2, sizeof e2);
    if (rc1 != rc2 || strcmp(e1, e2)) fail_msg("%.*s: %d '%s' against %d '%s'", (int)len, body, rc1, e1, rc2, e2);
    int took = !rc1 && !fast.root;
    if (!rc1) {
        assert_int_equal(fast.columnar, slow.columnar);
        assert_int_equal(fast.max_items, slow.max_items);
        assert_int_equal(fast.unknown_is_error, slow.unknown_is_error);
        assert_int_equal(fast.n_users, slow.n_users);
        for (size_t i = 0; i < fast.n_users; i++) {
            const predict_user *a = &fast.users[i], *b = &slow.users[i];
            if (a->id_len != b->id_len || memcmp(a->id, b->id, a->id_len) || a->n_exclude != b->n_exclude)
                fail_msg("%.*s: user %zu '%.*s' against '%.*s'", (int)len, body, i, (int)a->id_len, a->id,
                         (int)b->id_len, b->id);
        }
        predict_request_free(&fast);
        predict_request_free(&slow);
    }
    return took;
}

/* The common shapes skip jansson (predict_request.c); every mutation of
 * them by one byte - deleted, replaced or inserted, with bytes that matter
 * to JSON - must read the same both ways, and many still take the short
 * way (so the check is not vacuous). */
static void predict_request_parsers_agree(void **state)
{
    (void)state;
    static const char *const bases[] = {
        "{\"instances\":[{\"user_id\":\"12\"}]}",
        "{\"instances\":[{\"user_id\":1},{\"user_id\":\"abc\"},{\"user_id\":-7},{\"user_id\":0}]}",
        " {\r\n\t\"instances\" : [ { \"user_id\" : 120 } , 7 , \"x y\" ] } \n",
        "{\"inputs\":{\"user_id\":[1,\"abc\",-70]}}",
        "{\"inputs\":[\"1\",2]}",
        "{\"instances\":[1,\"\"]}",
        "{\"instances\":[123456789012345678,-123456789012345678]}",
    };
    static const char bytes[] = " \"\\0-1.e,]}x\x80";
    char m[256];
    size_t took = 0, tried = 0;
    for (size_t b = 0; b < sizeof bases / sizeof *bases; b++) {
        size_t len = strlen(bases[b]);
        if (!parsers_agree(bases[b], len)) fail_msg("%s: not taken without jansson", bases[b]);
        for (size_t i = 0; i <= len; i++) {
            if (i < len) { /* delete byte i */
                memcpy(m, bases[b], i);
                memcpy(m + i, bases[b] + i + 1, len - i - 1);
                took += (size_t)parsers_agree(m, len - 1);
                tried++;
            }
            for (size_t k = 0; k < sizeof bytes; k++) { /* (the NUL at the end of bytes too) */
                memcpy(m, bases[b], len);
                if (i < len) {
                    m[i] = bytes[k];
                    took += (size_t)parsers_agree(m, len);
                }
                memcpy(m, bases[b], i);
                m[i] = bytes[k];
                memcpy(m + i + 1, bases[b] + i, len - i);
                took += (size_t)parsers_agree(m, len + 1);
                tried += 2;
            }
        }
    }
    if (took < tried / 20) fail_msg("only %zu of %zu mutated bodies took the short way", took, tried);
    /* More users than allowed: jansson's message. */
    assert_false(parsers_agree("[1]", 3));
    assert_false(parsers_agree("{\"instances\":[1,2,3,4,5,6]}", 26));
}

static void metrics_exposition(void **state)
{
    (void)state;
    serve_metrics m;
    serve_metrics_init(&m);
    serve_metrics_request(&m, ROUTE_PREDICT, 200, 50000);     /* 50 us */
    serve_metrics_request(&m, ROUTE_PREDICT, 200, 2000000);   /* 2 ms */
    serve_metrics_request(&m, ROUTE_PREDICT, 404, 3000000000); /* 3 s */
    serve_metrics_request(&m, ROUTE_METRICS, 418, 1);
    serve_metrics_swap(&m, 1);
    serve_metrics_swap(&m, 0);
    serve_metrics_swap(&m, 0);
    serve_metrics_slow_clients(&m, 2);
    serve_metrics_slow_clients(&m, 1);
    for (int i = 0; i < 4; i++) serve_metrics_answer_kept(&m);
    served_store s;
    memset(&s, 0, sizeof s);
    strcpy(s.version, "77");
    strcpy(s.digest_hex, "00000000000000ff");
    s.info.n_users = 3;
    mfkv_buf out;
    mfkv_buf_init(&out);
    serve_metrics_render(&m, &s, &out);
    const char *want[] = {
        "mfkv_http_requests_total{route=\"predict\",status=\"200\"} 2\n",
        "mfkv_http_requests_total{route=\"predict\",status=\"404\"} 1\n",
        "mfkv_http_requests_total{route=\"metrics\",status=\"other\"} 1\n",
        "mfkv_http_request_duration_seconds_bucket{route=\"predict\",le=\"0.0001\"} 1\n",
        "mfkv_http_request_duration_seconds_bucket{route=\"predict\",le=\"0.0025\"} 2\n",
        "mfkv_http_request_duration_seconds_bucket{route=\"predict\",le=\"1\"} 2\n",
        "mfkv_http_request_duration_seconds_bucket{route=\"predict\",le=\"+Inf\"} 3\n",
        "mfkv_http_request_duration_seconds_sum{route=\"predict\"} 3.002050000\n",
        "mfkv_http_request_duration_seconds_count{route=\"predict\"} 3\n",
        "mfkv_store_info{digest=\"00000000000000ff\",version=\"77\"} 1\n",
        "mfkv_store_users 3\n",
        "mfkv_store_swaps_total{result=\"success\"} 1\n",
        "mfkv_store_swaps_total{result=\"failure\"} 2\n",
        "mfkv_http_slow_clients_cut_total 3\n",
        "mfkv_http_answers_kept_total 4\n",
    };
    for (size_t i = 0; i < sizeof want / sizeof *want; i++)
        if (!strstr(out.data, want[i])) fail_msg("missing: %s", want[i]);
    assert_null(strstr(out.data, "status=\"500\""));
    mfkv_buf_free(&out);
}

/* The sweep shuts down exactly the connections still waiting for their
 * request past the limit: the peer of each socket pair sees end-of-file. */
static void answer(serve_response *res, unsigned status, const char *body)
{
    serve_response_init(res);
    res->status = status;
    mfkv_buf_puts(&res->body, body);
}

/* Kept answers come back byte for byte with their headers, only for the
 * same kind and key; errors, oversized answers and keys are never kept; a
 * second answer hashing to the only entry replaces the first. */
static void answer_cache_keeps_what_it_may(void **state)
{
    (void)state;
    serve_response res, got;
    assert_null(answer_cache_new(0));
    answer(&res, 200, "x");
    answer_cache_put(NULL, 'p', "k", 1, &res); /* no cache: nothing happens */
    serve_response_init(&got);
    assert_int_equal(answer_cache_get(NULL, 'p', "k", 1, &got), 0);
    serve_response_free(&res);

    answer_cache *c = answer_cache_new(1);
    assert_non_null(c);
    answer(&res, 200, "{\"a\":1}\n");
    res.content_type = "text/html; charset=utf-8";
    strcpy(res.etag, "\"0123456789abcdef-0123456789abcdef\"");
    answer_cache_put(c, 'p', "key\0one", 7, &res);
    assert_int_equal(answer_cache_get(c, 's', "key\0one", 7, &got), 0); /* another route */
    assert_int_equal(answer_cache_get(c, 'p', "key\0onf", 7, &got), 0);
    assert_int_equal(answer_cache_get(c, 'p', "key", 3, &got), 0); /* a prefix */
    assert_int_equal(got.body.len, 0);
    assert_int_equal(answer_cache_get(c, 'p', "key\0one", 7, &got), 1);
    assert_int_equal(got.status, 200);
    assert_string_equal(got.content_type, "text/html; charset=utf-8");
    assert_string_equal(got.etag, res.etag);
    assert_int_equal(got.body.len, res.body.len);
    assert_memory_equal(got.body.data, res.body.data, res.body.len);
    serve_response_free(&got);
    serve_response_free(&res);

    answer(&res, 404, "{\"error\":\"no\"}\n"); /* not kept: the 200 stays */
    answer_cache_put(c, 'p', "key\0one", 7, &res);
    serve_response_free(&res);
    serve_response_init(&got);
    assert_int_equal(answer_cache_get(c, 'p', "key\0one", 7, &got), 1);
    assert_string_equal(got.body.data, "{\"a\":1}\n");
    serve_response_free(&got);

    char *big = malloc(ANSWER_CACHE_MAX_BODY + 2);
    assert_non_null(big);
    memset(big, 'b', ANSWER_CACHE_MAX_BODY + 1);
    big[ANSWER_CACHE_MAX_BODY + 1] = '\0';
    answer(&res, 200, big); /* one byte too many: not kept */
    answer_cache_put(c, 'p', "big", 3, &res);
    serve_response_free(&res);
    big[ANSWER_CACHE_MAX_BODY] = '\0';
    answer(&res, 200, big); /* at the limit: kept, and replaces the only entry */
    answer_cache_put(c, 'p', "big", 3, &res);
    serve_response_free(&res);
    serve_response_init(&got);
    assert_int_equal(answer_cache_get(c, 'p', "key\0one", 7, &got), 0);
    assert_int_equal(answer_cache_get(c, 'p', "big", 3, &got), 1);
    assert_int_equal(got.body.len, ANSWER_CACHE_MAX_BODY);
    serve_response_free(&got);

    char key[ANSWER_CACHE_MAX_KEY + 1];
    memset(key, 'k', sizeof key);
    answer(&res, 200, "long key");
    answer_cache_put(c, 'p', key, sizeof key, &res); /* key too long: not kept */
    serve_response_free(&res);
    serve_response_init(&got);
    assert_int_equal(answer_cache_get(c, 'p', key, sizeof key, &got), 0);
    assert_int_equal(answer_cache_get(c, 'p', "big", 3, &got), 1);
    serve_response_free(&got);
    free(big);
    answer_cache_free(c);
    answer_cache_free(NULL);
}

/* Store-slot reference counts under concurrent swaps: readers acquire,
 * pick and release while a writer publishes new snapshots.  The test keeps
 * one reference of its own on every store and snapshot it makes, so none
 * is freed before the end, where each must be back to exactly that one
 * (the slot's on the current snapshot aside): a lost or doubled count
 * shows here, and a release too many as use-after-free under the
 * valgrind and ASan stages once the test drops its own.  Stores have no
 * file (mfkv_close(NULL) is a no-op); only the counting is under test. */
#define SLOT_SWAPS 2000
#define SLOT_READERS 3

typedef struct slot_race {
    store_slot slot;
    atomic_int done;
    atomic_uint reads;
    atomic_int bad; /* a reader saw a snapshot or store with no reference left */
} slot_race;

static void *slot_reader(void *arg)
{
    slot_race *r = arg;
    unsigned reads = 0;
    while (!atomic_load(&r->done) || reads < 1000) {
        served_versions *v = store_slot_acquire(&r->slot);
        served_store *s = served_versions_pick(v, NULL, 0);
        /* Besides the slot's (or the test's), this reader holds one. */
        if (atomic_load(&v->refs) < 2 || !s || atomic_load(&s->refs) < 2) atomic_store(&r->bad, 1);
        served_versions_release(v);
        reads++;
    }
    atomic_fetch_add(&r->reads, reads);
    return NULL;
}

static served_store *slot_store(uint64_t number)
{
    served_store *s = calloc(1, sizeof *s);
    assert_non_null(s);
    served_store_set_number(s, number);
    atomic_init(&s->damaged, 0);
    atomic_init(&s->refs, 1);
    return s;
}

static void store_slot_counts_survive_concurrent_swaps(void **state)
{
    (void)state;
    /* Snapshot i holds stores i and i+1 (newest first), as a base path
     * keeping two versions does. */
    served_store **stores = calloc(SLOT_SWAPS + 2, sizeof *stores);
    served_versions **snaps = calloc(SLOT_SWAPS + 1, sizeof *snaps);
    assert_true(stores && snaps);
    for (size_t i = 0; i < SLOT_SWAPS + 2; i++) stores[i] = slot_store(i + 1);
    for (size_t i = 0; i <= SLOT_SWAPS; i++) {
        served_store *pair[2] = {stores[i + 1], stores[i]};
        snaps[i] = served_versions_new(pair, 2, NULL, 0);
        assert_non_null(snaps[i]);
        assert_int_equal(atomic_load(&snaps[i]->refs), 1);
    }
    slot_race r;
    atomic_init(&r.done, 0);
    atomic_init(&r.reads, 0);
    atomic_init(&r.bad, 0);
    atomic_fetch_add(&snaps[0]->refs, 1); /* the slot's; the test keeps its own */
    store_slot_init(&r.slot, snaps[0]);
    pthread_t readers[SLOT_READERS];
    for (int i = 0; i < SLOT_READERS; i++) assert_int_equal(pthread_create(&readers[i], NULL, slot_reader, &r), 0);
    for (size_t i = 1; i <= SLOT_SWAPS; i++) {
        atomic_fetch_add(&snaps[i]->refs, 1); /* handed over to the slot */
        store_slot_publish(&r.slot, snaps[i]);
        if (i % 64 == 0) sched_yield();
    }
    atomic_store(&r.done, 1);
    for (int i = 0; i < SLOT_READERS; i++) assert_int_equal(pthread_join(readers[i], NULL), 0);
    assert_int_equal(atomic_load(&r.bad), 0);
    assert_true(atomic_load(&r.reads) >= SLOT_READERS * 1000u);

    /* Every reader's reference is back; the slot holds only the newest. */
    for (size_t i = 0; i <= SLOT_SWAPS; i++)
        assert_int_equal(atomic_load(&snaps[i]->refs), i == SLOT_SWAPS ? 2 : 1);
    /* Store i is in snapshots i-1 and i: two references besides the test's. */
    for (size_t i = 0; i < SLOT_SWAPS + 2; i++)
        assert_int_equal(atomic_load(&stores[i]->refs), 1 + (i > 0) + (i <= SLOT_SWAPS));
    store_slot_destroy(&r.slot);
    assert_int_equal(atomic_load(&snaps[SLOT_SWAPS]->refs), 1);
    for (size_t i = 0; i <= SLOT_SWAPS; i++) served_versions_release(snaps[i]);
    for (size_t i = 0; i < SLOT_SWAPS + 2; i++) assert_int_equal(atomic_load(&stores[i]->refs), 1);
    /* The last references: these free the stores (valgrind and ASan see a
     * double free or a leak if the counts were off). */
    for (size_t i = 0; i < SLOT_SWAPS + 2; i++) served_store_release(stores[i]);
    free(stores);
    free(snaps);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(score_matches_numpy_shortest),
        cmocka_unit_test(score_at_lopsided_powers_of_two_is_printfs),
        cmocka_unit_test(score_round_trips_and_is_shortest),
        cmocka_unit_test(score_is_nearest_at_shortest_length),
        cmocka_unit_test(buf_escapes_json_and_html),
        cmocka_unit_test(routes_parse),
        cmocka_unit_test(etags),
        cmocka_unit_test(etag_covers_every_byte),
        cmocka_unit_test(predict_requests),
        cmocka_unit_test(predict_request_options),
        cmocka_unit_test(predict_request_parsers_agree),
        cmocka_unit_test(metrics_exposition),
        cmocka_unit_test(answer_cache_keeps_what_it_may),
        cmocka_unit_test(store_slot_counts_survive_concurrent_swaps),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
