/*
 * record.h - record framing shared by the reader and the builder's writer,
 * so both sides compute checksums and digests by the same code.  The layout
 * itself is documented in src/format.h.
 */
#ifndef MFKV_RECORD_H
#define MFKV_RECORD_H

#include <stddef.h>
#include <stdint.h>
#include <xxhash.h>

#include "format.h"

/* The key seeds the hash, so a payload served under another key fails. */
static inline uint64_t mfkv_record_checksum(const void *key, size_t key_len,
                                            const void *body, size_t body_len)
{
    return XXH3_64bits_withSeed(body, body_len, XXH3_64bits(key, key_len) ^ MFKV_CHECKSUM_DOMAIN);
}

static inline size_t mfkv_list_record_len(uint32_t count)
{
    return MFKV_RECORD_CHECKSUM_LEN + MFKV_LIST_COUNT_LEN + (size_t)count * MFKV_LIST_ENTRY_LEN;
}

#endif
