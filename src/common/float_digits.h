/*
 * float_digits.h - the shortest decimal digits of a float32 (Dragonbox, from
 * Debian's libfmt, a C++ library, behind this C interface; see
 * float_digits.cpp).
 */
#ifndef MFKV_FLOAT_DIGITS_H
#define MFKV_FLOAT_DIGITS_H

#ifdef __cplusplus
extern "C" {
#endif

/* Bytes mfkv_float_digits may write: a float32 never needs more than 9
 * significant digits. */
#define MFKV_FLOAT_DIGITS_MAX 9

/* For a finite @p v: the decimal with the fewest significant digits that
 * lies in v's rounding interval (so strtof reads it back as v), the nearest
 * to |v| among those, as its digits (no trailing zeros, no sign, no
 * terminator; "0" for zero) in @p digits and the decimal exponent of the
 * first one in *exp10 (|v| ~ d.ddd x 10^*exp10).  Returns the number of
 * digits.  That is numfmt.h's rule except at some powers of two, which
 * mfkv_format_float (numfmt.c) settles itself. */
int mfkv_float_digits(float v, char digits[MFKV_FLOAT_DIGITS_MAX], int *exp10);

#ifdef __cplusplus
}
#endif

#endif
