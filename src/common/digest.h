/* digest.h - file digests recorded in provenance, so a store says exactly
 * which inputs it was built from. */
#ifndef MFKV_DIGEST_H
#define MFKV_DIGEST_H

#include "diag.h"

/* XXH3-128 of the file's bytes as 32 lowercase hex digits + NUL. */
int mfkv_file_digest(const char *path, char hex[33], mfkv_diag *d);

#endif
