/* trailer.h - the trailer and the page table after LMDB's pages (layout and
 * reasoning in src/format.h). */
#ifndef MFKV_TRAILER_H
#define MFKV_TRAILER_H

#include <stddef.h>
#include <stdint.h>

#pragma GCC visibility push(hidden)

typedef struct mfkv_trailer {
    uint64_t body_len;   /* bytes before the trailer */
    uint64_t body_hash;  /* XXH3-64 of them */
    uint64_t n_pages;    /* LMDB pages the page table covers; 0: format 1.0, no table */
    uint64_t index_hash; /* of the page table's index */
    uint32_t page_size;
} mfkv_trailer;

/* Read and check the trailer of the open file @p fd of @p file_size bytes:
 * magic, version, its own hash, and that the file is exactly as long as it
 * says.  MFKV_OK, MFKV_FORMAT (no or foreign trailer, wrong length),
 * MFKV_VERSION, MFKV_CORRUPT (trailer hash) or MFKV_IO. */
int mfkv_trailer_read(int fd, size_t file_size, mfkv_trailer *t);

/* Hash the whole body (every byte before the trailer) of the file mapped at
 * @p map and compare with the trailer; run it guarded (guard.h).  MFKV_OK or
 * MFKV_CORRUPT. */
int mfkv_trailer_check_body(const unsigned char *map, const mfkv_trailer *t);

#pragma GCC visibility pop

#endif
