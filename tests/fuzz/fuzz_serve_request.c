/*
 * Fuzz target: one HTTP request through serve_handle() (routing, every
 * handler, error paths) and its body through predict_request_parse().
 *
 * Input: a flags byte, then method, path, ?n=, ?format= and If-None-Match
 * separated by NUL bytes (what http.c hands over is NUL-terminated,
 * so those can never hold one), then the body: the rest, any bytes.
 * Flags: bit 0 serve with --fallback (and --cors-origin https://a.example;
 * without: the Vertex AI routes /predict and /health); bits 1-3 absent ?n=
 * (its field is then ?exclude=), ?format=, If-None-Match (its field is also
 * the Origin header); bits 4-7 the --max-users limit (1..16).
 *
 * Besides not crashing, every response must be sound: a status the server
 * documents, and a JSON body that parses whenever the type says JSON.  The
 * server's state is fuzz_serve.h's.
 */
#include <jansson.h>
#include <string.h>

#include "fuzz.h"
#include "fuzz_serve.h"

#include "serve/predict_request.h"

int fuzz_serve_request_one(const uint8_t *data, size_t size);

/* The next NUL-terminated field of the input, or NULL when none is left. */
static const char *next_field(const uint8_t **p, const uint8_t *end)
{
    const uint8_t *nul = memchr(*p, 0, (size_t)(end - *p));
    if (!nul) return NULL;
    const char *field = (const char *)*p;
    *p = nul + 1;
    return field;
}

static void check_response(const serve_response *res)
{
    static const unsigned documented[] = {200, 204, 304, 400, 404, 405, 413, 500, 503}; /* 204: CORS preflight */
    int known = 0;
    for (size_t i = 0; i < sizeof documented / sizeof *documented; i++) known |= res->status == documented[i];
    if (!known) {
        fprintf(stderr, "undocumented status %u\n", res->status);
        abort();
    }
    if (res->content_type && !strcmp(res->content_type, "application/json") && res->body.len) {
        json_error_t e;
        json_t *v = json_loadb(res->body.data, res->body.len, 0, &e);
        if (!v) {
            fprintf(stderr, "status %u: body is not JSON (%s): %.*s\n", res->status, e.text,
                    (int)res->body.len, res->body.data);
            abort();
        }
        json_decref(v);
    }
}

static void check_parse(const char *body, size_t len, size_t max_users)
{
    predict_request pr;
    char err[256];
    err[0] = '\0';
    if (predict_request_parse(body, len, max_users, &pr, err, sizeof err)) {
        if (!err[0] || pr.root || pr.users || pr.n_users) abort(); /* a message, nothing kept */
        return;
    }
    if (pr.n_users == 0 || pr.n_users > max_users || !pr.users) abort();
    for (size_t i = 0; i < pr.n_users; i++)
        if (!pr.users[i].id) abort();
    /* Read without jansson (no tree kept): jansson must read the same users. */
    predict_request slow;
    if (!pr.root) {
        if (predict_request_parse_json(body, len, max_users, &slow, err, sizeof err) ||
            slow.n_users != pr.n_users || slow.columnar != pr.columnar || slow.max_items != pr.max_items)
            abort();
        for (size_t i = 0; i < pr.n_users; i++)
            if (slow.users[i].id_len != pr.users[i].id_len ||
                memcmp(slow.users[i].id, pr.users[i].id, pr.users[i].id_len))
                abort();
        predict_request_free(&slow);
    }
    predict_request_free(&pr);
}

/* The HTTP status and the response body's first bytes. */
void fuzz_serve_request_outcome(const uint8_t *data, size_t size, char *out, size_t cap)
{
    fuzz_serve_ready();
    FUZZ_SAY(out, cap, "no request");
    if (size < 1) return;
    uint8_t flags = data[0];
    const uint8_t *p = data + 1, *end = data + size;
    const char *method = next_field(&p, end), *path = next_field(&p, end);
    const char *n = next_field(&p, end), *format = next_field(&p, end), *inm = next_field(&p, end);
    if (!inm) return;
    serve_request req = {
        .method = method,
        .path = path,
        .query_n = flags & 2 ? NULL : n,
        .query_exclude = flags & 2 ? n : NULL,
        .origin = inm,
        .query_format = flags & 4 ? NULL : format,
        .if_none_match = flags & 8 ? NULL : inm,
        .body = (const char *)p,
        .body_len = (size_t)(end - p),
    };
    serve_state *st = &fuzz_state[flags & 1];
    fuzz_config[flags & 1].max_users = 1u + (flags >> 4);
    serve_response res;
    serve_response_init(&res);
    serve_handle(st, &req, &res);
    check_response(&res);
    FUZZ_SAY(out, cap, "%u %.*s", res.status, (int)(res.body.len < 40 ? res.body.len : 40),
             res.body.len ? res.body.data : "");
    for (char *c = out; c && *c; c++) /* one printable line */
        if ((unsigned char)*c < 0x20 || (unsigned char)*c > 0x7e) *c = '.';
    serve_response_free(&res);
    check_parse(req.body, req.body_len, 1u + (flags >> 4));
}

int fuzz_serve_request_one(const uint8_t *data, size_t size)
{
    fuzz_serve_request_outcome(data, size, NULL, 0);
    return 0;
}
