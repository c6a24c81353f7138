/* numfmt.h - number and string output shared by the CLI and the server, so
 * `mfkv get --format predict` and `mfkv serve` print identical bytes. */
#ifndef MFKV_NUMFMT_H
#define MFKV_NUMFMT_H

#include <stddef.h>

/* Bytes mfkv_format_float may write, terminator included. */
#define MFKV_FLOAT_TEXT_MAX 32

/*
 * Shortest decimal text that reads back as exactly @p v (a float32): the
 * FEWEST significant digits that strtof (round-to-nearest) maps to @p v, the
 * nearest such decimal when several tie, written positionally for decimal
 * exponents -6..20 and as C's "d.ddde+XX" outside that (JavaScript's
 * cut-offs): "7.159546", "10", "0.5", "0.000001", "1e-07".  These are
 * numpy's float32 digits.  Non-finite values (never stored) give "null", so
 * the text is always valid JSON.  buf needs MFKV_FLOAT_TEXT_MAX bytes;
 * returns the length written.
 */
int mfkv_format_float(char *buf, float v);

#endif
