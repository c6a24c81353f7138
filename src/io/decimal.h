/*
 * decimal.h - decimal text to double, fast (fast_float, a C++ library, behind
 * this C interface; see decimal.cpp).
 */
#ifndef MFKV_IO_DECIMAL_H
#define MFKV_IO_DECIMAL_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* 1 with the correctly rounded value in *out when s[0..len) is a whole
 * decimal number ("-1.5e-3", ".5", "+2") whose value is finite; 0 for
 * anything else, which the caller then words (fields.c: strtod). */
int mfkv_decimal(const char *s, size_t len, double *out);

/* mfkv_decimal's first step, inline for loaders that read millions of
 * short numbers ("4", "3.5"): 1 with the value for "-12.345", at most 15
 * digits, no exponent; 0 leaves the number to mfkv_decimal.  The digits
 * are then an exact integer below 2^53 and 10^k exact too, so one
 * correctly rounded division gives the value (Clinger's fast path), with
 * none of fast_float's set-up.  @p len is at least 1. */
static inline int mfkv_plain_decimal(const char *s, size_t len, double *out)
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

#ifdef __cplusplus
}
#endif

#endif
