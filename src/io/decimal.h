/*
 * decimal.h - decimal text to double, fast (fast_float, a C++ library, behind
 * this C interface; see decimal.cpp).
 */
#ifndef MFKV_IO_DECIMAL_H
#define MFKV_IO_DECIMAL_H

#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

/* 1 with the correctly rounded value in *out when s[0..len) is a whole
 * decimal number ("-1.5e-3", ".5", "+2") whose value is finite; 0 for
 * anything else, which the caller then words (fields.c: strtod). */
int mfkv_decimal(const char *s, size_t len, double *out);

#ifdef __cplusplus
}
#endif

#endif
