#include "fieldcheck.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "format.h"
#include "mfkv.h"
#include "utf8.h"

/* Values are quoted in messages only up to this many bytes. */
enum { SHOWN = 40 };

static int fail_at(const mfkv_fieldloc *at, mfkv_diag *d, const char *problem, const char *s,
                   size_t len)
{
    return mfkv_fail(d, MFKV_PARSE, "%s:%zu: field %s: %s \"%.*s\"%s", at->path, at->line,
                     at->field, problem, (int)(len < SHOWN ? len : SHOWN), s,
                     len > SHOWN ? "..." : "");
}

static int check_utf8(const mfkv_fieldloc *at, const char *s, size_t len, mfkv_diag *d)
{
    size_t bad = mfkv_utf8_invalid_at(s, len);
    if (bad < len)
        return mfkv_fail(d, MFKV_PARSE, "%s:%zu: field %s: invalid UTF-8 at byte %zu",
                         at->path, at->line, at->field, bad + 1);
    return MFKV_OK;
}

int mfkv_check_id(const mfkv_fieldloc *at, const char *s, size_t len, mfkv_diag *d)
{
    if (len == 0)
        return mfkv_fail(d, MFKV_PARSE, "%s:%zu: field %s: empty id", at->path, at->line,
                         at->field);
    if (len > MFKV_MAX_ID_LEN)
        return mfkv_fail(d, MFKV_PARSE, "%s:%zu: field %s: id of %zu bytes is longer than %u",
                         at->path, at->line, at->field, len, MFKV_MAX_ID_LEN);
    return check_utf8(at, s, len, d);
}

int mfkv_check_text(const mfkv_fieldloc *at, const char *s, size_t len, mfkv_diag *d)
{
    if (len > MFKV_MAX_TEXT_LEN)
        return mfkv_fail(d, MFKV_PARSE, "%s:%zu: field %s: %zu bytes is longer than %u",
                         at->path, at->line, at->field, len, MFKV_MAX_TEXT_LEN);
    return check_utf8(at, s, len, d);
}

int mfkv_parse_float(const mfkv_fieldloc *at, const char *s, size_t len, float *out,
                     mfkv_diag *d)
{
    /* strtod needs a terminated string; longer text is no plain number. */
    char buf[64];
    if (len == 0) return fail_at(at, d, "not a number:", s, len);
    if (len >= sizeof buf) return fail_at(at, d, "not a number:", s, len);
    memcpy(buf, s, len);
    buf[len] = '\0';
    /* strtod would also take leading blanks and hex floats. */
    if (buf[0] == ' ' || buf[0] == '\t' || strpbrk(buf, "xX"))
        return fail_at(at, d, "not a number:", s, len);
    char *end;
    double v = strtod(buf, &end);
    if (end != buf + len) return fail_at(at, d, "not a number:", s, len);
    if (!isfinite(v) || !isfinite((float)v)) return fail_at(at, d, "not a finite number:", s, len);
    *out = (float)v;
    return MFKV_OK;
}

int mfkv_parse_int64(const mfkv_fieldloc *at, const char *s, size_t len, int64_t *out,
                     mfkv_diag *d)
{
    size_t i = len && (s[0] == '-' || s[0] == '+');
    if (i == len) return fail_at(at, d, "not an integer:", s, len);
    uint64_t limit = s[0] == '-' ? (uint64_t)INT64_MAX + 1 : (uint64_t)INT64_MAX;
    uint64_t v = 0;
    for (; i < len; i++) {
        unsigned digit = (unsigned char)s[i] - '0';
        if (digit > 9) return fail_at(at, d, "not an integer:", s, len);
        if (v > (limit - digit) / 10) return fail_at(at, d, "integer out of range:", s, len);
        v = v * 10 + digit;
    }
    *out = s[0] == '-' ? (int64_t)(0 - v) : (int64_t)v;
    return MFKV_OK;
}
