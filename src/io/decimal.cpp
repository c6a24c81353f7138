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

#include <fast_float/fast_float.h>

extern "C" int mfkv_decimal(const char *s, size_t len, double *out)
{
    if (len && mfkv_plain_decimal(s, len, out)) return 1;
    const char *end = s + len;
    if (len > 1 && s[0] == '+' && s[1] != '-' && s[1] != '+') s++;
    double v;
    fast_float::from_chars_result r = fast_float::from_chars(s, end, v);
    if (r.ec != std::errc() || r.ptr != end || !std::isfinite(v)) return 0;
    *out = v;
    return 1;
}
