#include "reader/trailer.h"

#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>
#include "reader/record.h" /* inline XXH3, see there */

#include "common/bytes.h"
#include "format.h"
#include "mfkv.h"

static int hash_prefix(int fd, size_t len, uint64_t *out)
{
    if (len == 0) {
        *out = XXH3_64bits(NULL, 0);
        return MFKV_OK;
    }
    void *p = mmap(NULL, len, PROT_READ, MAP_PRIVATE, fd, 0);
    if (p == MAP_FAILED) return MFKV_IO;
    madvise(p, len, MADV_SEQUENTIAL);
    *out = XXH3_64bits(p, len);
    munmap(p, len);
    return MFKV_OK;
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

int mfkv_trailer_check(int fd, size_t file_size, int hash_pages)
{
    unsigned char t[MFKV_TRAILER_LEN];
    if (file_size < MFKV_TRAILER_LEN) return MFKV_FORMAT;
    if (read_full(fd, t, sizeof t, (off_t)(file_size - MFKV_TRAILER_LEN))) return MFKV_IO;
    if (memcmp(t, MFKV_TRAILER_MAGIC, MFKV_MAGIC_LEN) != 0) return MFKV_FORMAT;
    if (mfkv_load_u64(t + 56) != XXH3_64bits(t, 56)) return MFKV_CORRUPT;
    if (mfkv_load_u32(t + 8) != MFKV_TRAILER_VERSION)
        return mfkv_load_u32(t + 8) > MFKV_TRAILER_VERSION ? MFKV_VERSION : MFKV_FORMAT;
    uint64_t lmdb_len = mfkv_load_u64(t + 16);
    if (lmdb_len != file_size - MFKV_TRAILER_LEN) return MFKV_FORMAT;
    if (!hash_pages) return MFKV_OK;
    uint64_t h;
    int rc = hash_prefix(fd, (size_t)lmdb_len, &h);
    if (rc) return rc;
    return h == mfkv_load_u64(t + 24) ? MFKV_OK : MFKV_CORRUPT;
}

int mfkv_trailer_append(int fd)
{
    struct stat st;
    if (fstat(fd, &st) != 0) return MFKV_IO;
    uint64_t h;
    int rc = hash_prefix(fd, (size_t)st.st_size, &h);
    if (rc) return rc;
    unsigned char t[MFKV_TRAILER_LEN] = {0};
    memcpy(t, MFKV_TRAILER_MAGIC, MFKV_MAGIC_LEN);
    mfkv_store_u32(t + 8, MFKV_TRAILER_VERSION);
    mfkv_store_u64(t + 16, (uint64_t)st.st_size);
    mfkv_store_u64(t + 24, h);
    mfkv_store_u64(t + 56, XXH3_64bits(t, 56));
    if (pwrite(fd, t, sizeof t, st.st_size) != (ssize_t)sizeof t) return MFKV_IO;
    return MFKV_OK;
}
