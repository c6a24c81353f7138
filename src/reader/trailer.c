/*
 * trailer.c - read and check the trailer (src/format.h).  The builder writes
 * it (src/builder/seal.c); the hashes both use are in src/layout.h.
 */
#include "reader/trailer.h"

#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/bytes.h"
#include "layout.h" /* inline XXH3, see there */
#include "format.h"
#include "mfkv.h"

static int read_full(int fd, void *buf, size_t len, off_t at)
{
    size_t done = 0;
    while (done < len) {
        ssize_t n = pread(fd, (char *)buf + done, len - done, at + (off_t)done);
        if (n <= 0) return MFKV_IO;
        done += (size_t)n;
    }
    return MFKV_OK;
}

int mfkv_trailer_read(int fd, size_t file_size, mfkv_trailer *out)
{
    unsigned char t[MFKV_TRAILER_LEN];
    if (file_size < MFKV_TRAILER_LEN) return MFKV_FORMAT;
    if (read_full(fd, t, sizeof t, (off_t)(file_size - MFKV_TRAILER_LEN))) return MFKV_IO;
    if (memcmp(t, MFKV_TRAILER_MAGIC, MFKV_MAGIC_LEN) != 0) return MFKV_FORMAT;
    if (mfkv_load_u64(t + 56) != XXH3_64bits(t, 56)) return MFKV_CORRUPT;
    if (mfkv_load_u32(t + 8) != MFKV_TRAILER_VERSION)
        return mfkv_load_u32(t + 8) > MFKV_TRAILER_VERSION ? MFKV_VERSION : MFKV_FORMAT;
    out->body_len = mfkv_load_u64(t + 16);
    out->body_hash = mfkv_load_u64(t + 24);
    out->n_pages = mfkv_load_u64(t + 32);
    out->index_hash = mfkv_load_u64(t + 40);
    out->page_size = mfkv_load_u32(t + 48);
    if (out->body_len != file_size - MFKV_TRAILER_LEN) return MFKV_FORMAT;
    if (out->n_pages) {
        size_t ps = out->page_size;
        if (ps < 512 || (ps & (ps - 1)) || out->n_pages > out->body_len / ps ||
            (out->n_pages + mfkv_table_pages(out->n_pages, ps)) * ps != out->body_len)
            return MFKV_FORMAT;
    }
    return MFKV_OK;
}

int mfkv_trailer_check_body(const unsigned char *map, const mfkv_trailer *t)
{
    /* The caller's mapping, read under its guard: a second mapping of the
     * file would fault unguarded if the file were truncated meanwhile.  No
     * madvise: the handle's lookups share this mapping. */
    return XXH3_64bits(map, t->body_len) == t->body_hash ? MFKV_OK : MFKV_CORRUPT;
}
