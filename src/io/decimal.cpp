/*
 * decimal.cpp - see decimal.h.
 *
 * glibc's strtod was a third of the time of reading a long CSV of weights;
 * fast_float (Debian's libfast-float-dev, header-only) gives the same
 * correctly rounded doubles several times faster.  It differs from strtod
 * only in what it refuses (a leading '+', which is skipped here) and where
 * strtod is laxer ("nan(...)", "infinity"), and those values are not finite,
 * so they are left to fields.c to word.
 */
#include "io/decimal.h"

#include <cmath>
#include <cstdint>

#include <fast_float/fast_float.h>

/* "-12.345": at most 15 digits and no exponent, so the digits are an exact
 * integer below 2^53 and 10^k exact too: one correctly rounded division
 * gives the value (Clinger's fast path), with none of fast_float's set-up,
 * which showed in loads whose numbers are mostly this short. */
static int plain_decimal(const char *s, size_t len, double *out)
{
    const char *p = s + (s[0] == '-'), *end = s + len, *point = end;
    uint64_t m = 0;
    for (; p < end && (unsigned char)(*p - '0') <= 9; p++) m = m * 10 + (unsigned char)(*p - '0');
    size_t whole = (size_t)(p - s) - (s[0] == '-');
    if (p < end && *p == '.' && whole) {
        point = ++p;
        for (; p < end && (unsigned char)(*p - '0') <= 9; p++) m = m * 10 + (unsigned char)(*p - '0');
    }
    /* m is exact (below 2^53) for 15 digits; longer runs may have wrapped,
     * and go to fast_float.  "5." is 5, as strtod reads it. */
    if (p != end || !whole || whole + (size_t)(p - point) > 15) return 0;
    static const double pow10[16] = {1e0, 1e1, 1e2,  1e3,  1e4,  1e5,  1e6,  1e7,
                                     1e8, 1e9, 1e10, 1e11, 1e12, 1e13, 1e14, 1e15};
    double v = (double)m / pow10[p - point];
    *out = s[0] == '-' ? -v : v;
    return 1;
}

extern "C" int mfkv_decimal(const char *s, size_t len, double *out)
{
    if (len && plain_decimal(s, len, out)) return 1;
    const char *end = s + len;
    if (len > 1 && s[0] == '+' && s[1] != '-' && s[1] != '+') s++;
    double v;
    fast_float::from_chars_result r = fast_float::from_chars(s, end, v);
    if (r.ec != std::errc() || r.ptr != end || !std::isfinite(v)) return 0;
    *out = v;
    return 1;
}
