/* numfmt.h - number and string output shared by the CLI and the server, so
 * `mfkv get --format predict` and `mfkv serve` print identical bytes. */
#ifndef MFKV_NUMFMT_H
#define MFKV_NUMFMT_H

#include <stddef.h>

/* Bytes mfkv_format_float may write, terminator included. */
#define MFKV_FLOAT_TEXT_MAX 32

/*
 * Shortest decimal text that reads back as exactly @p v (a float32): v
 * rounded as printf's "%.*e" rounds (exactly, ties to even) to the FEWEST
 * significant digits d for which strtof (round-to-nearest) reads the result
 * back as v.  That is the shortest decimal that reads back, and among those
 * the nearest to v, except at 2^-96, 2^87 and 2^90 (and their negatives):
 * there the next float down is half as far as the next one up, an 8-digit
 * decimal above v reads back but v rounded to 8 digits does not, and this
 * writes 9 digits ("1.54742505e+26" for 2^87, where Dragonbox and numpy
 * write "1.5474251e+26").  Elsewhere these are numpy's float32 digits
 * (np.format_float_positional(unique=True); compared on every power of two
 * and 2.3 million other floats: 300,000 random bit patterns and 2 million
 * from -5 to 15 in steps of 1e-5).  Written positionally for decimal exponents
 * -6..20 and as C's "d.ddde+XX" outside that (JavaScript's cut-offs):
 * "7.159546", "10", "0.5", "0.000001", "1e-07".  Non-finite values (never
 * stored) give "null", so the text is always valid JSON.  buf needs
 * MFKV_FLOAT_TEXT_MAX bytes; returns the length written.
 */
int mfkv_format_float(char *buf, float v);

#endif
