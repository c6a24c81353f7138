#include "fields.h"

#include <ctype.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "decimal.h"
#include "digits.h"
#include "format.h"
#include "mfkv.h"
#include "utf8.h"

int mfkv_fail_at(mfkv_diag *d, const mfkv_where *w, const char *fmt, ...)
{
    char msg[768];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    if (w->member)
        return mfkv_fail(d, MFKV_PARSE, "%s:%zu: field %s[%zu].%s: %s", w->path, w->line, w->field, w->index,
                         w->member, msg);
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

/* "PROBLEM: "VALUE"" at @p w. */
static int fail_value(mfkv_diag *d, const mfkv_where *w, const char *problem, const char *s,
                      size_t len)
{
    char q[MFKV_QUOTE_LEN];
    return mfkv_fail_at(d, w, "%s: \"%s\"", problem, mfkv_quote(q, s, len));
}

static int check_utf8(const mfkv_where *w, const char *s, size_t len, mfkv_diag *d)
{
    size_t bad = mfkv_utf8_invalid_at(s, len);
    if (bad < len) return mfkv_fail_at(d, w, "invalid UTF-8 at byte %zu", bad + 1);
    return MFKV_OK;
}

/* 1 when every byte of s[0..len) is printable ASCII: valid UTF-8 with no
 * NUL or line break, nearly every id, found in one pass instead of four. */
static int printable_ascii(const char *s, size_t len)
{
    unsigned bad = 0;
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)s[i];
        bad |= (unsigned)(c < 0x20) | (unsigned)(c >= 0x7f);
    }
    return !bad;
}

int mfkv_check_id(const mfkv_where *w, const char *s, size_t len, mfkv_diag *d)
{
    if (len - 1 < MFKV_MAX_ID_LEN && printable_ascii(s, len)) return MFKV_OK;
    if (len == 0) return mfkv_fail_at(d, w, "empty id");
    if (len > MFKV_MAX_ID_LEN)
        return mfkv_fail_at(d, w, "id of %zu bytes is longer than %u", len, MFKV_MAX_ID_LEN);
    int rc = check_utf8(w, s, len, d);
    if (rc) return rc;
    if (memchr(s, '\0', len) || memchr(s, '\n', len) || memchr(s, '\r', len))
        return fail_value(d, w, "id holds a NUL byte or line break", s, len);
    return MFKV_OK;
}

int mfkv_add_id(const mfkv_where *w, mfkv_idtab *ids, const char *s, size_t len, uint32_t *index,
                int *added, mfkv_diag *d)
{
    int rc = mfkv_idtab_intern(ids, s, len, index, added);
    if (rc)
        return mfkv_fail(d, rc, "%s:%zu: field %s: cannot add id: %s", w->path, w->line, w->field,
                         mfkv_strerror(rc));
    return MFKV_OK;
}

int mfkv_check_text(const mfkv_where *w, const char *s, size_t len, mfkv_diag *d)
{
    if (len > MFKV_MAX_TEXT_LEN)
        return mfkv_fail_at(d, w, "%zu bytes is longer than %u", len, MFKV_MAX_TEXT_LEN);
    return check_utf8(w, s, len, d);
}

int mfkv_parse_finite(const mfkv_where *w, const char *s, size_t len, double *out, mfkv_diag *d)
{
    /* The fast parser takes the numbers strtod reads to the same value
     * (its first step inline here: loaders read millions of short ones);
     * strtod sorts out the rest and words the message. */
    if ((len && mfkv_plain_decimal(s, len, out)) || mfkv_decimal(s, len, out)) return MFKV_OK;
    /* strtod needs a terminated string; longer text is no plain number. */
    char buf[128];
    if (len == 0 || len >= sizeof buf) return fail_value(d, w, "not a number", s, len);
    memcpy(buf, s, len);
    buf[len] = '\0';
    /* strtod would also take leading blanks and hex floats. */
    if (isspace((unsigned char)buf[0]) || strpbrk(buf, "xX"))
        return fail_value(d, w, "not a number", s, len);
    char *end;
    double v = strtod(buf, &end);
    if (end != buf + len) return fail_value(d, w, "not a number", s, len);
    if (!isfinite(v)) return fail_value(d, w, "not a finite number", s, len);
    *out = v;
    return MFKV_OK;
}

int mfkv_parse_float(const mfkv_where *w, const char *s, size_t len, float *out, mfkv_diag *d)
{
    double v;
    int rc = mfkv_parse_finite(w, s, len, &v, d);
    if (rc) return rc;
    if (!isfinite((float)v)) return fail_value(d, w, "not a finite number", s, len);
    *out = (float)v;
    return MFKV_OK;
}

enum { DIGITS_OK, NOT_DIGITS, ABOVE_LIMIT };

/* s[0..len) as a decimal number of digits only, no greater than @p limit
 * (at most 2^63, so the checks below cannot wrap). */
static inline int scan_digits(const char *s, size_t len, uint64_t limit, uint64_t *out)
{
    if (len == 0) return NOT_DIGITS;
    uint64_t v = 0;
    /* 19 digits cannot wrap 64 bits: check the limit once, at the end. */
    if (len <= 19) {
        size_t i = 0;
        /* Eight digits at a time: timestamps are runs of ten. */
        for (uint64_t eight; len - i >= 8 && mfkv_digits8(s + i, &eight) == 8; i += 8)
            v = v * 100000000u + eight;
        for (; i < len; i++) {
            unsigned digit = (unsigned char)s[i] - '0';
            if (digit > 9) return NOT_DIGITS;
            v = v * 10 + digit;
        }
        if (v > limit) return ABOVE_LIMIT;
        *out = v;
        return DIGITS_OK;
    }
    int above = 0;
    for (size_t i = 0; i < len; i++) {
        unsigned digit = (unsigned char)s[i] - '0';
        if (digit > 9) return NOT_DIGITS;
        above = above || v > limit / 10 || v * 10 + digit > limit;
        if (!above) v = v * 10 + digit;
    }
    *out = v;
    return above ? ABOVE_LIMIT : DIGITS_OK;
}

int mfkv_parse_int64(const mfkv_where *w, const char *s, size_t len, int64_t *out, mfkv_diag *d)
{
    int neg = len && s[0] == '-';
    size_t sign = len && (s[0] == '-' || s[0] == '+');
    uint64_t v = 0;
    switch (scan_digits(s + sign, len - sign, (uint64_t)INT64_MAX + (unsigned)neg, &v)) {
    case NOT_DIGITS: return fail_value(d, w, "not an integer", s, len);
    case ABOVE_LIMIT: return fail_value(d, w, "integer out of range", s, len);
    }
    /* -(v - 1) - 1 reaches INT64_MIN without an overflowing negation. */
    *out = neg && v ? -(int64_t)(v - 1) - 1 : (int64_t)v;
    return MFKV_OK;
}

int mfkv_parse_uint(const mfkv_where *w, const char *s, size_t len, uint32_t min, uint32_t max,
                    uint32_t *out, mfkv_diag *d)
{
    uint64_t v = 0;
    if (scan_digits(s, len, max, &v) != DIGITS_OK || v < min) {
        char what[64];
        snprintf(what, sizeof what, "not a whole number in %u..%u", min, max);
        return fail_value(d, w, what, s, len);
    }
    *out = (uint32_t)v;
    return MFKV_OK;
}
