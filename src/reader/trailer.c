/*
 * trailer.c - the trailer and the page table (src/format.h): written here
 * for the builder, read here for the reader, so both use one definition.
 */
#include "reader/trailer.h"

#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>
#include "reader/record.h" /* inline XXH3, see there */

#include "common/bytes.h"
#include "format.h"
#include "mfkv.h"

uint64_t mfkv_page_hash(const void *page, size_t page_size, uint64_t pgno)
{
    return XXH3_64bits_withSeed(page, page_size, MFKV_PAGE_DOMAIN ^ pgno);
}

uint64_t mfkv_chunk_hash(const void *chunk, size_t len, uint64_t chunk_no)
{
    return XXH3_64bits_withSeed(chunk, len, MFKV_PAGE_DOMAIN ^ ~chunk_no);
}

uint64_t mfkv_table_chunks(uint64_t n_pages) { return (n_pages + MFKV_PAGE_CHUNK - 1) / MFKV_PAGE_CHUNK; }

uint64_t mfkv_table_pages(uint64_t n_pages, size_t page_size)
{
    uint64_t bytes = MFKV_PAGE_HASH_LEN * (n_pages + mfkv_table_chunks(n_pages));
    return (bytes + page_size - 1) / page_size;
}

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
     * file would fault unguarded if the file were truncated meanwhile. */
    if (t->body_len) madvise((void *)map, t->body_len, MADV_SEQUENTIAL);
    uint64_t h = XXH3_64bits(map, t->body_len);
    if (t->body_len) madvise((void *)map, t->body_len, MADV_NORMAL);
    return h == t->body_hash ? MFKV_OK : MFKV_CORRUPT;
}

/* Hash every page into the table and the whole body into the digest in one
 * pass over the file. */
static int build_table(const unsigned char *map, uint64_t n_pages, size_t ps, unsigned char *table,
                       XXH3_state_t *body)
{
    for (uint64_t p = 0; p < n_pages; p++) {
        const unsigned char *page = map + p * ps;
        mfkv_store_u64(table + p * MFKV_PAGE_HASH_LEN, mfkv_page_hash(page, ps, p));
        XXH3_64bits_update(body, page, ps);
    }
    unsigned char *index = table + n_pages * MFKV_PAGE_HASH_LEN;
    for (uint64_t c = 0; c < mfkv_table_chunks(n_pages); c++) {
        uint64_t first = c * MFKV_PAGE_CHUNK;
        uint64_t n = n_pages - first < MFKV_PAGE_CHUNK ? n_pages - first : MFKV_PAGE_CHUNK;
        mfkv_store_u64(index + c * MFKV_PAGE_HASH_LEN,
                       mfkv_chunk_hash(table + first * MFKV_PAGE_HASH_LEN, n * MFKV_PAGE_HASH_LEN, c));
    }
    return MFKV_OK;
}

int mfkv_store_seal(int fd)
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
        mfkv_store_u32(t + 8, MFKV_TRAILER_VERSION);
        mfkv_store_u64(t + 16, size + table_len);
        mfkv_store_u64(t + 24, XXH3_64bits_digest(body));
        mfkv_store_u64(t + 32, n_pages);
        mfkv_store_u64(t + 40, XXH3_64bits_withSeed(table + n_pages * MFKV_PAGE_HASH_LEN,
                                                    mfkv_table_chunks(n_pages) * MFKV_PAGE_HASH_LEN,
                                                    MFKV_PAGE_DOMAIN));
        mfkv_store_u32(t + 48, (uint32_t)ps);
        mfkv_store_u64(t + 56, XXH3_64bits(t, 56));
        rc = write_full(fd, table, table_len, (off_t)size);
        if (!rc) rc = write_full(fd, t, sizeof t, (off_t)(size + table_len));
    }
    if (map != MAP_FAILED) munmap(map, size);
    XXH3_freeState(body);
    free(table);
    return rc;
}
