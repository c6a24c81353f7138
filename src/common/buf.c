#include "buf.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mfkv.h"

void mfkv_buf_init(mfkv_buf *b) { memset(b, 0, sizeof *b); }

void mfkv_buf_free(mfkv_buf *b)
{
    if (!b) return;
    free(b->data);
    mfkv_buf_init(b);
}

char *mfkv_buf_take(mfkv_buf *b, size_t *len)
{
    char *p = b->data;
    if (len) *len = b->len;
    mfkv_buf_init(b);
    return p;
}

int mfkv_buf_status(const mfkv_buf *b) { return b->failed ? MFKV_NOMEM : MFKV_OK; }

/* Make room for @p extra more bytes plus the terminator. */
static int reserve(mfkv_buf *b, size_t extra)
{
    if (b->failed) return -1;
    if (extra < b->cap - b->len) return 0;
    size_t cap = b->cap ? b->cap : 256;
    while (cap - b->len <= extra) {
        if (cap > ((size_t)-1) / 2) { b->failed = 1; return -1; }
        cap *= 2;
    }
    char *p = realloc(b->data, cap);
    if (!p) { b->failed = 1; return -1; }
    b->data = p;
    b->cap = cap;
    return 0;
}

void mfkv_buf_put(mfkv_buf *b, const void *p, size_t n)
{
    if (reserve(b, n)) return;
    if (n) memcpy(b->data + b->len, p, n);
    b->len += n;
    b->data[b->len] = '\0';
}

void mfkv_buf_puts(mfkv_buf *b, const char *s) { mfkv_buf_put(b, s, strlen(s)); }

void mfkv_buf_printf(mfkv_buf *b, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    if (n < 0) { b->failed = 1; return; }
    if (reserve(b, (size_t)n)) return;
    va_start(ap, fmt);
    vsnprintf(b->data + b->len, (size_t)n + 1, fmt, ap);
    va_end(ap);
    b->len += (size_t)n;
}

void mfkv_buf_json_string(mfkv_buf *b, const char *s, size_t n)
{
    mfkv_buf_put(b, "\"", 1);
    size_t run = 0; /* bytes copied verbatim in one go */
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c >= 0x20 && c != '"' && c != '\\') continue;
        mfkv_buf_put(b, s + run, i - run);
        run = i + 1;
        switch (c) {
        case '"': mfkv_buf_puts(b, "\\\""); break;
        case '\\': mfkv_buf_puts(b, "\\\\"); break;
        case '\n': mfkv_buf_puts(b, "\\n"); break;
        case '\r': mfkv_buf_puts(b, "\\r"); break;
        case '\t': mfkv_buf_puts(b, "\\t"); break;
        default: mfkv_buf_printf(b, "\\u%04x", c); break;
        }
    }
    mfkv_buf_put(b, s + run, n - run);
    mfkv_buf_put(b, "\"", 1);
}

void mfkv_buf_html_text(mfkv_buf *b, const char *s, size_t n)
{
    size_t run = 0;
    for (size_t i = 0; i < n; i++) {
        const char *esc;
        switch (s[i]) {
        case '&': esc = "&amp;"; break;
        case '<': esc = "&lt;"; break;
        case '>': esc = "&gt;"; break;
        case '"': esc = "&quot;"; break;
        case '\'': esc = "&#39;"; break;
        default: continue;
        }
        mfkv_buf_put(b, s + run, i - run);
        mfkv_buf_puts(b, esc);
        run = i + 1;
    }
    mfkv_buf_put(b, s + run, n - run);
}
