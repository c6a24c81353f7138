/* numfmt.h - number and string output shared by the CLI and the server, so
 * `mfkv get --format predict` and `mfkv serve` print identical bytes. */
#ifndef MFKV_NUMFMT_H
#define MFKV_NUMFMT_H

#include <stddef.h>

/* Shortest decimal text that reads back as exactly @p v (a float32), as
 * JSON allows (no inf/nan: the store holds finite scores).  buf needs 32
 * bytes; returns the length written. */
int mfkv_format_float(char *buf, float v);

#endif
