/*
 * utf8.h - UTF-8 validation and Latin-1 conversion for text inputs.
 *
 * Ids and titles end up as LMDB keys and in JSON answers, so every string a
 * loader keeps must be valid UTF-8; old MovieLens files are Latin-1.
 */
#ifndef MFKV_IO_UTF8_H
#define MFKV_IO_UTF8_H

#include <stddef.h>

/* Offset of the first byte of @p s that does not belong to a well-formed
 * UTF-8 sequence (overlong forms, surrogates and code points above U+10FFFF
 * are ill-formed), or @p len when all of it is valid. */
size_t mfkv_utf8_invalid_at(const char *s, size_t len);

/* Write @p len Latin-1 bytes as UTF-8 to @p out, which must have room for
 * 2 * len bytes.  Returns the number of bytes written. */
size_t mfkv_latin1_to_utf8(const char *s, size_t len, char *out);

#endif
