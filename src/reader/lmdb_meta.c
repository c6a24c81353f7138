/*
 * lmdb_meta.c - look at LMDB's meta pages before LMDB does.
 *
 * LMDB trusts its meta pages: a page size of 0 divides by zero inside
 * mdb_env_open, a root page number past the end is read from the map.  The
 * whole-file digest already refuses any damaged file, but a file forged with
 * a matching digest (or read with MFKV_OPEN_NO_CHECKSUM) would reach LMDB
 * as is.  These few fields are checked by hand, from LMDB 0.9's data format
 * version 1 (mdb.c: MDB_page header, then MDB_meta), which mfkv writes:
 *
 *   page header  0 u64 pgno, 8 u16 pad, 10 u16 flags (P_META = 0x08), ...
 *   meta (at 16) 0 u32 magic 0xBEEFC0DE, 4 u32 version 1, 8 ptr address,
 *                16 size mapsize, 24 MDB_db free[48] (its first u32 is the
 *                page size), 72 MDB_db main[48], 120 u64 last_pgno, 128 txnid
 *   MDB_db       0 u32 pad, 4 u16 flags, 6 u16 depth, 8 u64 branch, leaf,
 *                overflow pages, entries, 40 u64 root (~0 when empty)
 *
 * Deeper forged structures are outside what an open can afford to check;
 * the digest is what guards them.
 */
#include "reader/lmdb_meta.h"

#include <stdint.h>
#include <string.h>
#include <unistd.h>

#include "common/bytes.h"
#include "mfkv.h"

enum {
    PAGE_HEADER = 16,
    P_META = 0x08,
    LMDB_MAGIC = 0xBEEFC0DE,
    LMDB_DATA_VERSION = 1,
    DB_FREE = PAGE_HEADER + 24,
    DB_MAIN = PAGE_HEADER + 72,
    DB_ROOT = 40,
    DB_DEPTH = 6,
    LAST_PGNO = PAGE_HEADER + 120,
    META_BYTES = PAGE_HEADER + 136,
    MAX_DEPTH = 32, /* LMDB's cursor stack */
};

static int db_ok(const unsigned char *m, uint64_t last)
{
    uint64_t root = mfkv_load_u64(m + DB_ROOT);
    uint16_t depth;
    memcpy(&depth, m + DB_DEPTH, 2);
    return (root == UINT64_MAX || (root >= 2 && root <= last)) && depth <= MAX_DEPTH;
}

static int meta_ok(const unsigned char *p, uint64_t page, size_t psize, size_t lmdb_len)
{
    uint16_t flags;
    memcpy(&flags, p + 10, 2);
    const unsigned char *m = p + PAGE_HEADER;
    uint64_t last = mfkv_load_u64(p + LAST_PGNO);
    return mfkv_load_u64(p) == page && (flags & P_META) && mfkv_load_u32(m) == LMDB_MAGIC &&
           mfkv_load_u32(m + 4) == LMDB_DATA_VERSION && mfkv_load_u32(p + DB_FREE) == psize && last >= 1 &&
           last < lmdb_len / psize && db_ok(p + DB_FREE, last) && db_ok(p + DB_MAIN, last);
}

int mfkv_lmdb_meta_check(int fd, size_t lmdb_len)
{
    long os_page = sysconf(_SC_PAGESIZE);
    if (os_page <= 0) return MFKV_IO;
    size_t psize = (size_t)os_page;
    if (lmdb_len < 2 * psize || lmdb_len % psize) return MFKV_FORMAT;
    unsigned char p[META_BYTES];
    for (uint64_t page = 0; page < 2; page++) {
        if (pread(fd, p, sizeof p, (off_t)(page * psize)) != (ssize_t)sizeof p) return MFKV_IO;
        if (!meta_ok(p, page, psize, lmdb_len)) return MFKV_FORMAT;
    }
    return MFKV_OK;
}
