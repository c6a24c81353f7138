/*
 * Fuzz target: a byte stream as one connection's input through the HTTP
 * loop's parsing and answering (serve_http_replay in src/serve/http.c):
 * request line, headers, sized and chunked bodies, pipelining, the limits.
 *
 * Input: a byte whose bits 0-3 choose how many bytes each read takes (1 to
 * 16384, or all at once) and bit 4 the state (fuzz_serve.h: with
 * --fallback and CORS, or without), then the stream.
 *
 * Besides not crashing, the answers must be well framed: a run of
 * "HTTP/1.1 NNN ...\r\n...\r\n\r\n" heads, each followed by as many body
 * bytes as its Content-Length says (or none: HEAD, 304, 204, 100); and
 * reading the stream in pieces must give the same bytes as reading it
 * whole (Date lines aside; not checked when /metrics answered, whose
 * counts move).
 */
#include <string.h>

#include "fuzz.h"
#include "fuzz_serve.h"

#include "serve/http.h"

int fuzz_serve_http_one(const uint8_t *data, size_t size);

static const size_t fuzz_pieces[16] = {1, 2, 3, 5, 7, 11, 16, 31, 64, 100, 257, 1000, 4096, 8191, 16384, 0};

/* Each answer's status, space-separated, into @p out; aborts on an answer
 * that is not framed as HTTP/1.1. */
static void fuzz_http_statuses(const mfkv_buf *b, char *out, size_t cap)
{
    const char *p = b->data, *end = b->data + b->len;
    size_t used = 0;
    out[0] = '\0';
    while (p < end) {
        const char *head_end = memmem(p, (size_t)(end - p), "\r\n\r\n", 4);
        if ((size_t)(end - p) < 13 || memcmp(p, "HTTP/1.1 ", 9) || !head_end) {
            fprintf(stderr, "not an HTTP/1.1 answer: %.*s\n", (int)(end - p < 80 ? end - p : 80), p);
            abort();
        }
        if (used + 5 < cap) used += (size_t)snprintf(out + used, cap - used, "%.3s ", p + 9);
        const char *cl = memmem(p, (size_t)(head_end - p), "\r\nContent-Length: ", 18);
        size_t body = cl ? strtoul(cl + 18, NULL, 10) : 0;
        p = head_end + 4;
        /* No body after a HEAD's, 304's or 100's head: the next answer or the end follows. */
        if (p == end || (end - p >= 9 && !memcmp(p, "HTTP/1.1 ", 9))) continue;
        if ((size_t)(end - p) < body) {
            fprintf(stderr, "body shorter than its Content-Length %zu\n", body);
            abort();
        }
        p += body;
    }
}

/* @p b without its "Date: ...\r\n" lines, in place. */
static void fuzz_http_undate(mfkv_buf *b)
{
    char *w = b->data, *r = b->data, *end = b->data + b->len;
    while (r < end) {
        if (end - r >= 8 && !memcmp(r, "\r\nDate: ", 8)) {
            char *eol = memmem(r + 2, (size_t)(end - r - 2), "\r\n", 2);
            if (eol) {
                r = eol;
                continue;
            }
        }
        *w++ = *r++;
    }
    b->len = (size_t)(w - b->data);
}

/* The statuses of the answers, and whether the connection would close. */
void fuzz_serve_http_outcome(const uint8_t *data, size_t size, char *out, size_t cap)
{
    fuzz_serve_ready();
    FUZZ_SAY(out, cap, "no input");
    if (size < 1) return;
    serve_state *st = &fuzz_state[data[0] >> 4 & 1];
    fuzz_config[data[0] >> 4 & 1].max_users = 5; /* fuzz_serve_request's inputs change it */
    const char *in = (const char *)data + 1;
    mfkv_buf split, whole;
    mfkv_buf_init(&split);
    mfkv_buf_init(&whole);
    int closed = serve_http_replay(st, in, size - 1, fuzz_pieces[data[0] & 15], &split);
    int closed_whole = serve_http_replay(st, in, size - 1, 0, &whole);
    if (closed < 0 || closed_whole < 0) abort(); /* out of memory on a fuzz input: a leak or runaway */
    char statuses[256];
    fuzz_http_statuses(&split, statuses, sizeof statuses);
    fuzz_http_undate(&split);
    fuzz_http_undate(&whole);
    if (!memmem(split.data ? split.data : "", split.len, "mfkv_http_requests_total", 24) &&
        (closed != closed_whole || split.len != whole.len || (split.len && memcmp(split.data, whole.data, split.len)))) {
        fprintf(stderr, "read in pieces of %zu, the answers differ from reading it whole\n", fuzz_pieces[data[0] & 15]);
        abort();
    }
    FUZZ_SAY(out, cap, "%s%s", statuses, closed ? "closed" : "open");
    mfkv_buf_free(&split);
    mfkv_buf_free(&whole);
}

int fuzz_serve_http_one(const uint8_t *data, size_t size)
{
    fuzz_serve_http_outcome(data, size, NULL, 0);
    return 0;
}
