/*
 * seal.c - see seal.h.  The reader checks what this writes in
 * src/reader/trailer.c; the hashes both use are in src/layout.h.
 */
#include "builder/seal.h"

#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/bytes.h"
#include "format.h"
#include "layout.h" /* inline XXH3, see there */
#include "mfkv.h"

static int write_full(int fd, const void *buf, size_t len, off_t at)
{
    size_t done = 0;
    while (done < len) {
        ssize_t n = pwrite(fd, (const char *)buf + done, len - done, at + (off_t)done);
        if (n <= 0) return MFKV_IO;
        done += (size_t)n;
    }
    return MFKV_OK;
}

/* Hash every page into the table and the whole body into the digest in one
 * pass over the file. */
static int build_table(const unsigned char *map, uint64_t n_pages, size_t ps, unsigned char *table,
                       XXH3_state_t *body)
{
    for (uint64_t p = 0; p < n_pages; p++) {
        const unsigned char *page = map + p * ps;
        mfkv_put_u64(table + p * MFKV_PAGE_HASH_LEN, mfkv_page_hash(page, ps, p));
        XXH3_64bits_update(body, page, ps);
    }
    unsigned char *index = table + n_pages * MFKV_PAGE_HASH_LEN;
    for (uint64_t c = 0; c < mfkv_table_chunks(n_pages); c++) {
        uint64_t first = c * MFKV_PAGE_CHUNK;
        uint64_t n = n_pages - first < MFKV_PAGE_CHUNK ? n_pages - first : MFKV_PAGE_CHUNK;
        mfkv_put_u64(index + c * MFKV_PAGE_HASH_LEN,
                       mfkv_chunk_hash(table + first * MFKV_PAGE_HASH_LEN, n * MFKV_PAGE_HASH_LEN, c));
    }
    return MFKV_OK;
}

int mfkv_seal_file(int fd)
{
    struct stat st;
    if (fstat(fd, &st) != 0) return MFKV_IO;
    long os_page = sysconf(_SC_PAGESIZE);
    if (os_page <= 0) return MFKV_IO;
    size_t ps = (size_t)os_page, size = (size_t)st.st_size;
    if (size == 0 || size % ps) return MFKV_FORMAT;
    uint64_t n_pages = size / ps, table_len = mfkv_table_pages(n_pages, ps) * ps;
    unsigned char *table = calloc(1, table_len);
    XXH3_state_t *body = XXH3_createState();
    void *map = mmap(NULL, size, PROT_READ, MAP_SHARED, fd, 0);
    int rc = !table || !body ? MFKV_NOMEM : map == MAP_FAILED ? MFKV_IO : MFKV_OK;
    unsigned char t[MFKV_TRAILER_LEN] = {0};
    if (!rc) {
        madvise(map, size, MADV_SEQUENTIAL);
        XXH3_64bits_reset(body);
        build_table(map, n_pages, ps, table, body);
        XXH3_64bits_update(body, table, table_len);
        memcpy(t, MFKV_TRAILER_MAGIC, MFKV_MAGIC_LEN);
        mfkv_put_u32(t + 8, MFKV_TRAILER_VERSION);
        mfkv_put_u64(t + 16, size + table_len);
        mfkv_put_u64(t + 24, XXH3_64bits_digest(body));
        mfkv_put_u64(t + 32, n_pages);
        mfkv_put_u64(t + 40, mfkv_index_hash(table + n_pages * MFKV_PAGE_HASH_LEN,
                                               mfkv_table_chunks(n_pages) * MFKV_PAGE_HASH_LEN));
        mfkv_put_u32(t + 48, (uint32_t)ps);
        mfkv_put_u64(t + 56, XXH3_64bits(t, 56));
        rc = write_full(fd, table, table_len, (off_t)size);
        if (!rc) rc = write_full(fd, t, sizeof t, (off_t)(size + table_len));
    }
    if (map != MAP_FAILED) munmap(map, size);
    XXH3_freeState(body);
    free(table);
    return rc;
}
