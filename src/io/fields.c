#include "fields.h"

#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "format.h"
#include "mfkv.h"

int mfkv_fail_at(mfkv_diag *d, const mfkv_where *w, const char *fmt, ...)
{
    char msg[768];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    return mfkv_fail(d, MFKV_PARSE, "%s:%zu: field %s: %s", w->path, w->line, w->field, msg);
}

const char *mfkv_quote(char buf[MFKV_QUOTE_LEN], const char *s, size_t len)
{
    size_t max = MFKV_QUOTE_LEN - 4, n = len < max ? len : max;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        buf[i] = c < 0x20 || c == 0x7f ? '?' : (char)c;
    }
    if (len > max) memcpy(buf + n, "...", 3), n += 3;
    buf[n] = '\0';
    return buf;
}

int mfkv_utf8_valid(const char *s, size_t len)
{
    const unsigned char *p = (const unsigned char *)s, *end = p + len;
    while (p < end) {
        unsigned c = *p++;
        if (c < 0x80) continue;
        unsigned need, min;
        uint32_t cp;
        if (c >= 0xC2 && c <= 0xDF) need = 1, min = 0x80, cp = c & 0x1F;
        else if (c >= 0xE0 && c <= 0xEF) need = 2, min = 0x800, cp = c & 0x0F;
        else if (c >= 0xF0 && c <= 0xF4) need = 3, min = 0x10000, cp = c & 0x07;
        else return 0;
        if ((size_t)(end - p) < need) return 0;
        for (unsigned i = 0; i < need; i++) {
            if ((p[i] & 0xC0) != 0x80) return 0;
            cp = (cp << 6) | (p[i] & 0x3F);
        }
        p += need;
        if (cp < min || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) return 0;
    }
    return 1;
}

int mfkv_check_id(const mfkv_where *w, const char *s, size_t len, mfkv_diag *d)
{
    char q[MFKV_QUOTE_LEN];
    if (len == 0) return mfkv_fail_at(d, w, "empty id");
    if (len > MFKV_MAX_ID_LEN)
        return mfkv_fail_at(d, w, "id \"%s\" is %zu bytes, longer than %u", mfkv_quote(q, s, len),
                            len, MFKV_MAX_ID_LEN);
    if (!mfkv_utf8_valid(s, len))
        return mfkv_fail_at(d, w, "id \"%s\" is not valid UTF-8", mfkv_quote(q, s, len));
    if (memchr(s, '\0', len) || memchr(s, '\n', len) || memchr(s, '\r', len))
        return mfkv_fail_at(d, w, "id \"%s\" holds a NUL byte or line break",
                            mfkv_quote(q, s, len));
    return MFKV_OK;
}

/* strtod alone would also take "nan", "inf", hex and leading blanks, and
 * reads past @p len; only plain decimal notation is a weight. */
int mfkv_parse_finite(const mfkv_where *w, const char *s, size_t len, double *out, mfkv_diag *d)
{
    char q[MFKV_QUOTE_LEN], buf[128];
    if (len == 0) return mfkv_fail_at(d, w, "empty, expected a number");
    if (len >= sizeof buf)
        return mfkv_fail_at(d, w, "\"%s\" is not a decimal number", mfkv_quote(q, s, len));
    memcpy(buf, s, len);
    buf[len] = '\0';
    if (strspn(buf, "0123456789+-.eE") < len)
        return mfkv_fail_at(d, w, "\"%s\" is not a decimal number", mfkv_quote(q, s, len));
    char *end;
    errno = 0;
    double v = strtod(buf, &end);
    if (end != buf + len)
        return mfkv_fail_at(d, w, "\"%s\" is not a decimal number", buf);
    if (!isfinite(v)) return mfkv_fail_at(d, w, "\"%s\" is out of range", buf);
    *out = v;
    return MFKV_OK;
}

int mfkv_parse_float(const mfkv_where *w, const char *s, size_t len, float *out, mfkv_diag *d)
{
    double v;
    int rc = mfkv_parse_finite(w, s, len, &v, d);
    if (rc) return rc;
    if (!isfinite((float)v)) return mfkv_fail_at(d, w, "%g is out of float range", v);
    *out = (float)v;
    return MFKV_OK;
}

int mfkv_parse_uint(const mfkv_where *w, const char *s, size_t len, uint32_t min, uint32_t max,
                    uint32_t *out, mfkv_diag *d)
{
    char q[MFKV_QUOTE_LEN];
    uint64_t v = 0;
    size_t i = 0;
    for (; i < len && s[i] >= '0' && s[i] <= '9' && v <= max; i++) v = v * 10 + (uint64_t)(s[i] - '0');
    if (len == 0 || i < len || v < min || v > max)
        return mfkv_fail_at(d, w, "\"%s\" is not a whole number in %u..%u", mfkv_quote(q, s, len),
                            min, max);
    *out = (uint32_t)v;
    return MFKV_OK;
}
