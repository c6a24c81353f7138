/*
 * btree.c - read LMDB 0.9's B-tree (data format version 1) from the mapping.
 *
 * LMDB itself trusts its pages: a flipped node offset, page count or flag
 * can make it read outside a page, fault or loop.  Here every page is proven
 * against the page table (src/format.h) before its first byte is read, and
 * every offset is still bounds-checked, because a file can change after its
 * pages were proven (overwritten in place) and stores of format 1.0 opened
 * with MFKV_OPEN_NO_CHECKSUM are not proven at all.  The layout, from
 * LMDB 0.9's mdb.c (little-endian, 64-bit pgno_t):
 *
 *   page    0 u64 pgno, 8 u16 pad, 10 u16 flags, 12 u16 lower, 14 u16 upper
 *           (overflow pages: 12 u32 page count), 16 u16 node offsets[]
 *           with (lower - 16) / 2 entries; the data of an overflow run
 *           starts at byte 16 of its first page
 *   node    0 u16 lo, 2 u16 hi, 4 u16 flags, 6 u16 key size, 8 key, data
 *           leaf: data size = lo | hi << 16; branch: child page =
 *           lo | hi << 16 | flags << 32; the first branch key is empty
 *   meta    page 0 and 1, at byte 16: 0 u32 magic, 4 u32 version, 24 free
 *           MDB_db, 72 main MDB_db, 120 u64 last page, 128 u64 txnid; the
 *           one with the larger txnid is current
 *   MDB_db  0 u32 pad (free db: the page size), 4 u16 flags, 6 u16 depth,
 *           32 u64 entries, 40 u64 root (~0 when empty); stored as the
 *           value of a F_SUBDATA node for each named database
 * Keys compare as LMDB's default: bytes, then length.
 */
#include "reader/btree.h"

#include <string.h>

#include "common/bytes.h"
#include "format.h"
#include "mfkv.h"
#include "layout.h" /* inline XXH3, see there */

enum {
    PAGE_HEADER = 16,
    P_BRANCH = 0x01,
    P_LEAF = 0x02,
    P_OVERFLOW = 0x04,
    P_META = 0x08,
    P_LEAF2 = 0x20,
    F_BIGDATA = 0x01,
    F_SUBDATA = 0x02,
    NODE_HEADER = 8,
    LMDB_MAGIC = 0xBEEFC0DE,
    LMDB_DATA_VERSION = 1,
    META_MAIN_DB = PAGE_HEADER + 72,
    META_LAST_PGNO = PAGE_HEADER + 120,
    META_TXNID = PAGE_HEADER + 128,
    DB_LEN = 48,
    DB_ENTRIES = 32,
    DB_ROOT = 40,
};

static uint16_t u16(const unsigned char *p)
{
    uint16_t v;
    memcpy(&v, p, 2);
    return v;
}

static int bit_test(_Atomic uint64_t *bits, uint64_t i)
{
    /* Relaxed is enough: the bit says the FILE's bytes were proven, and those
     * bytes are not written by the thread that set it. */
    return (atomic_load_explicit(&bits[i / 64], memory_order_relaxed) >> (i % 64)) & 1;
}

static void bit_set(_Atomic uint64_t *bits, uint64_t i)
{
    atomic_fetch_or_explicit(&bits[i / 64], 1ull << (i % 64), memory_order_relaxed);
}

static int chunk_proven(const mfkv_pages *p, uint64_t c, int recheck)
{
    if (!recheck && bit_test(p->chunk_ok, c)) return 1;
    uint64_t first = c * MFKV_PAGE_CHUNK;
    uint64_t n = p->n_pages - first < MFKV_PAGE_CHUNK ? p->n_pages - first : MFKV_PAGE_CHUNK;
    if (mfkv_chunk_hash(p->table + first * MFKV_PAGE_HASH_LEN, n * MFKV_PAGE_HASH_LEN, c) != p->index[c])
        return 0;
    bit_set(p->chunk_ok, c);
    return 1;
}

static int page_proven(const mfkv_pages *p, uint64_t pgno, int recheck)
{
    if (!recheck && bit_test(p->page_ok, pgno)) return 1;
    if (!chunk_proven(p, pgno / MFKV_PAGE_CHUNK, recheck)) return 0;
    if (mfkv_page_hash(p->map + pgno * p->psize, p->psize, pgno) !=
        mfkv_load_u64(p->table + pgno * MFKV_PAGE_HASH_LEN))
        return 0;
    bit_set(p->page_ok, pgno);
    return 1;
}

int mfkv_page_get(const mfkv_pages *p, uint64_t pgno, const unsigned char **out)
{
    if (pgno >= p->n_pages || (p->lazy && !page_proven(p, pgno, 0))) return MFKV_CORRUPT;
    const unsigned char *page = p->map + pgno * p->psize;
    if (mfkv_load_u64(page) != pgno) return MFKV_CORRUPT;
    *out = page;
    return MFKV_OK;
}

int mfkv_page_recheck(const mfkv_pages *p, uint64_t pgno)
{
    return !p->lazy || page_proven(p, pgno, 1) ? MFKV_OK : MFKV_CORRUPT;
}

void mfkv_pages_check_all(const mfkv_pages *p, mfkv_pages_damage *d)
{
    *d = (mfkv_pages_damage){0, UINT64_MAX, 0, UINT64_MAX};
    if (!p->index) return; /* format 1.0: the whole-file digest covers the pages */
    for (uint64_t c = 0; c < p->n_chunks; c++) {
        if (chunk_proven(p, c, 1)) continue;
        if (!d->chunks_bad++) d->first_bad_chunk = c;
    }
    for (uint64_t pg = 0; pg < p->n_pages; pg++) {
        if (page_proven(p, pg, 1)) continue;
        if (!d->pages_bad++) d->first_bad_page = pg;
    }
}

/* Number of nodes of a branch or leaf page, or -1 when its header is bad. */
static int num_keys(const mfkv_pages *p, const unsigned char *page)
{
    uint16_t lower = u16(page + 12), upper = u16(page + 14);
    if (lower < PAGE_HEADER || lower > upper || upper > p->psize || (lower - PAGE_HEADER) % 2) return -1;
    return (lower - PAGE_HEADER) / 2;
}

/* Node @p i (< num_keys) with its key inside the page, or NULL. */
static const unsigned char *node_at(const mfkv_pages *p, const unsigned char *page, int i, size_t *key_len)
{
    size_t off = u16(page + PAGE_HEADER + 2 * (size_t)i);
    if (off < PAGE_HEADER || off + NODE_HEADER > p->psize) return NULL;
    const unsigned char *n = page + off;
    *key_len = u16(n + 6);
    return off + NODE_HEADER + *key_len <= p->psize ? n : NULL;
}

static int key_cmp(const void *a, size_t la, const void *b, size_t lb)
{
    int c = memcmp(a, b, la < lb ? la : lb);
    return c ? c : (la > lb) - (la < lb);
}

static uint64_t branch_child(const unsigned char *n)
{
    return (uint64_t)u16(n) | (uint64_t)u16(n + 2) << 16 | (uint64_t)u16(n + 4) << 32;
}

/* The value of leaf node @p n (key of @p key_len bytes) on @p page. */
static int leaf_value(const mfkv_pages *p, const unsigned char *page, const unsigned char *n, size_t key_len,
                      const unsigned char **val, size_t *val_len)
{
    size_t size = (size_t)u16(n) | (size_t)u16(n + 2) << 16, off = (size_t)(n - page) + NODE_HEADER + key_len;
    uint16_t flags = u16(n + 4);
    if (!(flags & F_BIGDATA)) {
        if (size > p->psize - off) return MFKV_CORRUPT;
        *val = n + NODE_HEADER + key_len;
        *val_len = size;
        return MFKV_OK;
    }
    if (off + 8 > p->psize) return MFKV_CORRUPT;
    uint64_t first = mfkv_load_u64(n + NODE_HEADER + key_len);
    const unsigned char *run;
    int rc = mfkv_page_get(p, first, &run);
    if (rc) return rc;
    uint64_t pages = mfkv_load_u32(run + 12);
    if (!(u16(run + 10) & P_OVERFLOW) || pages == 0 || pages > p->n_pages - first ||
        size > pages * p->psize - PAGE_HEADER)
        return MFKV_CORRUPT;
    /* Later pages of a run carry no header: prove them without one. */
    for (uint64_t i = 1; i < pages; i++)
        if (p->lazy && !page_proven(p, first + i, 0)) return MFKV_CORRUPT;
    *val = run + PAGE_HEADER;
    *val_len = size;
    return MFKV_OK;
}

int mfkv_btree_main(const mfkv_pages *p, mfkv_db *main)
{
    const unsigned char *best = NULL;
    for (uint64_t m = 0; m < 2; m++) {
        const unsigned char *page;
        int rc = mfkv_page_get(p, m, &page);
        if (rc) return rc;
        if (!(u16(page + 10) & P_META) || mfkv_load_u32(page + PAGE_HEADER) != LMDB_MAGIC ||
            mfkv_load_u32(page + PAGE_HEADER + 4) != LMDB_DATA_VERSION ||
            mfkv_load_u64(page + META_LAST_PGNO) >= p->n_pages)
            return MFKV_FORMAT;
        if (!best || mfkv_load_u64(page + META_TXNID) > mfkv_load_u64(best + META_TXNID)) best = page;
    }
    main->root = mfkv_load_u64(best + META_MAIN_DB + DB_ROOT);
    main->entries = mfkv_load_u64(best + META_MAIN_DB + DB_ENTRIES);
    return MFKV_OK;
}

/* Descend from @p db's root towards @p key; the leaf reached and the path
 * taken (for mfkv_page_recheck) are returned. */
static int search(const mfkv_pages *p, const mfkv_db *db, const void *key, size_t key_len,
                  const unsigned char **leaf, uint64_t *path, int *depth)
{
    uint64_t pgno = db->root;
    for (int d = 0; d < MFKV_BTREE_MAX_DEPTH; d++) {
        const unsigned char *page;
        int rc = mfkv_page_get(p, pgno, &page);
        if (rc) return rc;
        path[d] = pgno;
        *depth = d + 1;
        int n = num_keys(p, page);
        uint16_t flags = u16(page + 10);
        if (n <= 0 || (flags & (P_LEAF2 | P_OVERFLOW | P_META))) return MFKV_CORRUPT;
        if (flags & P_LEAF) {
            *leaf = page;
            return MFKV_OK;
        }
        if (!(flags & P_BRANCH)) return MFKV_CORRUPT;
        /* The last node whose key is <= key; node 0 stands for -infinity. */
        int lo = 1, hi = n - 1, at = 0;
        while (lo <= hi) {
            int mid = lo + (hi - lo) / 2;
            size_t kl;
            const unsigned char *node = node_at(p, page, mid, &kl);
            if (!node) return MFKV_CORRUPT;
            if (key_cmp(node + NODE_HEADER, kl, key, key_len) <= 0) {
                at = mid;
                lo = mid + 1;
            } else hi = mid - 1;
        }
        size_t kl;
        const unsigned char *node = node_at(p, page, at, &kl);
        if (!node) return MFKV_CORRUPT;
        pgno = branch_child(node);
    }
    return MFKV_CORRUPT;
}

static int search_leaf(const mfkv_pages *p, const unsigned char *leaf, const void *key, size_t key_len,
                       const unsigned char **node, size_t *node_key_len)
{
    int lo = 0, hi = num_keys(p, leaf) - 1;
    while (lo <= hi) {
        int mid = lo + (hi - lo) / 2;
        const unsigned char *n = node_at(p, leaf, mid, node_key_len);
        if (!n) return MFKV_CORRUPT;
        int c = key_cmp(n + NODE_HEADER, *node_key_len, key, key_len);
        if (c == 0) {
            *node = n;
            return MFKV_OK;
        }
        if (c < 0) lo = mid + 1;
        else hi = mid - 1;
    }
    return MFKV_NOTFOUND;
}

int mfkv_btree_get(const mfkv_pages *p, const mfkv_db *db, const void *key, size_t key_len,
                   const unsigned char **val, size_t *val_len)
{
    if (db->root == UINT64_MAX) return MFKV_NOTFOUND;
    uint64_t path[MFKV_BTREE_MAX_DEPTH];
    int depth = 0;
    const unsigned char *leaf, *node;
    size_t kl;
    int rc = search(p, db, key, key_len, &leaf, path, &depth);
    if (!rc) rc = search_leaf(p, leaf, key, key_len, &node, &kl);
    if (!rc) return leaf_value(p, leaf, node, kl, val, val_len);
    /* Never say "not found" from pages changed since they were proven. */
    for (int d = 0; rc == MFKV_NOTFOUND && d < depth; d++)
        if (mfkv_page_recheck(p, path[d])) rc = MFKV_CORRUPT;
    return rc;
}

int mfkv_btree_subdb(const mfkv_pages *p, const mfkv_db *main, const char *name, mfkv_db *out)
{
    const unsigned char *v;
    size_t len;
    int rc = mfkv_btree_get(p, main, name, strlen(name), &v, &len);
    if (rc) return rc;
    if (len != DB_LEN) return MFKV_CORRUPT;
    out->root = mfkv_load_u64(v + DB_ROOT);
    out->entries = mfkv_load_u64(v + DB_ENTRIES);
    return out->root == UINT64_MAX || out->root < p->n_pages ? MFKV_OK : MFKV_CORRUPT;
}

void mfkv_cursor_init(mfkv_cursor *c, const mfkv_pages *p, const mfkv_db *db)
{
    memset(c, 0, sizeof *c);
    c->p = p;
    c->db = db;
}

/* Push @p pgno and its leftmost descendants down to a leaf. */
static int descend(mfkv_cursor *c, uint64_t pgno)
{
    for (;;) {
        if (c->depth == MFKV_BTREE_MAX_DEPTH) return MFKV_CORRUPT;
        const unsigned char *page;
        int rc = mfkv_page_get(c->p, pgno, &page);
        if (rc) return rc;
        uint16_t flags = u16(page + 10);
        int n = num_keys(c->p, page);
        if (n < 0 || (flags & (P_LEAF2 | P_OVERFLOW | P_META))) return MFKV_CORRUPT;
        c->pgno[c->depth] = pgno;
        c->idx[c->depth++] = 0;
        if (flags & P_LEAF) return MFKV_OK;
        size_t kl;
        const unsigned char *node = n > 0 && (flags & P_BRANCH) ? node_at(c->p, page, 0, &kl) : NULL;
        if (!node) return MFKV_CORRUPT;
        pgno = branch_child(node);
    }
}

/* Move to the next leaf position: advance the deepest level that has one. */
static int advance(mfkv_cursor *c)
{
    while (c->depth > 0) {
        int top = c->depth - 1;
        const unsigned char *page;
        int rc = mfkv_page_get(c->p, c->pgno[top], &page);
        if (rc) return rc;
        int n = num_keys(c->p, page);
        if (n < 0) return MFKV_CORRUPT;
        if (++c->idx[top] < (unsigned)n) {
            if (u16(page + 10) & P_LEAF) return MFKV_OK;
            size_t kl;
            const unsigned char *node = node_at(c->p, page, (int)c->idx[top], &kl);
            return node ? descend(c, branch_child(node)) : MFKV_CORRUPT;
        }
        c->depth--;
    }
    return MFKV_NOTFOUND;
}

int mfkv_cursor_next(mfkv_cursor *c, const unsigned char **key, size_t *key_len, const unsigned char **val,
                     size_t *val_len, uint64_t *pgno)
{
    if (c->done) return MFKV_NOTFOUND;
    int rc;
    if (c->depth == 0) rc = c->db->root == UINT64_MAX ? MFKV_NOTFOUND : descend(c, c->db->root);
    else rc = advance(c);
    /* An empty leaf only as the root of an empty tree; skip it anyway. */
    const unsigned char *leaf = NULL;
    while (!rc) {
        rc = mfkv_page_get(c->p, c->pgno[c->depth - 1], &leaf);
        if (rc) break;
        int n = num_keys(c->p, leaf);
        if (n < 0) rc = MFKV_CORRUPT;
        else if (c->idx[c->depth - 1] < (unsigned)n) break;
        else rc = advance(c);
    }
    if (rc) {
        c->done = 1;
        return rc;
    }
    const unsigned char *node = node_at(c->p, leaf, (int)c->idx[c->depth - 1], key_len);
    if (!node) {
        c->done = 1;
        return MFKV_CORRUPT;
    }
    *key = node + NODE_HEADER;
    if (pgno) *pgno = c->pgno[c->depth - 1];
    rc = leaf_value(c->p, leaf, node, *key_len, val, val_len);
    if (rc) c->done = 1;
    return rc;
}
