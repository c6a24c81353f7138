/*
 * layout.h - the hashes and sizes of the store layout (src/format.h) as
 * code, shared by the reader (src/reader/) and the builder (src/builder/) so
 * that both compute checksums, page hashes and the page table's geometry by
 * one definition.  It is the only header the two share beyond format.h:
 * neither includes the other's internals.
 */
#ifndef MFKV_LAYOUT_H
#define MFKV_LAYOUT_H

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

/* The page table (format 1.1).  Seeds tie each hash to its position, so a
 * page or chunk copied elsewhere fails. */
static inline uint64_t mfkv_page_hash(const void *page, size_t page_size, uint64_t pgno)
{
    return XXH3_64bits_withSeed(page, page_size, MFKV_PAGE_DOMAIN ^ pgno);
}

static inline uint64_t mfkv_chunk_hash(const void *chunk, size_t len, uint64_t chunk_no)
{
    return XXH3_64bits_withSeed(chunk, len, MFKV_PAGE_DOMAIN ^ ~chunk_no);
}

/* Hash of the table's index, recorded in the trailer. */
static inline uint64_t mfkv_index_hash(const void *index, size_t len)
{
    return XXH3_64bits_withSeed(index, len, MFKV_PAGE_DOMAIN);
}

/* Index entries (chunks) and pages of the table over @p n_pages pages. */
static inline uint64_t mfkv_table_chunks(uint64_t n_pages)
{
    return (n_pages + MFKV_PAGE_CHUNK - 1) / MFKV_PAGE_CHUNK;
}

static inline uint64_t mfkv_table_pages(uint64_t n_pages, size_t page_size)
{
    uint64_t bytes = MFKV_PAGE_HASH_LEN * (n_pages + mfkv_table_chunks(n_pages));
    return (bytes + page_size - 1) / page_size;
}

#endif
