/*
 * record.h - record framing shared by the reader and the builder's writer,
 * so both sides compute checksums and digests by the same code.  The layout
 * itself is documented in src/format.h.
 */
#ifndef MFKV_RECORD_H
#define MFKV_RECORD_H

#include <stddef.h>
#include <stdint.h>
/* Inline XXH3 from Debian's header, compiled for this CPU: the shared
 * libxxhash is built for baseline x86-64, and hashing a 50-entry record
 * inline with AVX2/AVX-512 takes a third of the time, which is most of
 * what mfkv_get adds to a bare mdb_get. */
#ifndef XXH_INLINE_ALL
#define XXH_INLINE_ALL
#endif
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
