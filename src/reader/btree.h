/*
 * btree.h - LMDB 0.9's B-tree read straight from the mapping, each page
 * proven against the page table before a byte of it is read (src/format.h
 * says why; btree.c documents the page layout).  Used for every read of a
 * store, so no LMDB code ever follows an unproven page.
 */
#ifndef MFKV_BTREE_H
#define MFKV_BTREE_H

#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

#pragma GCC visibility push(hidden)

enum { MFKV_BTREE_MAX_DEPTH = 32 }; /* LMDB's cursor stack */

typedef struct mfkv_pages {
    const unsigned char *map; /* the whole file, mapped read-only */
    size_t map_len;
    size_t psize;
    uint64_t n_pages;         /* LMDB pages */
    int lazy;                 /* 1: prove each page on first use (format 1.1, checks on) */
    const unsigned char *table; /* page_hash[], in the map */
    uint64_t *index;          /* the table's index, copied and proven at open */
    int index_bad;            /* it did not match the trailer (only kept so without checks) */
    uint64_t n_chunks;
    _Atomic uint64_t *page_ok, *chunk_ok; /* one bit per proven page / chunk */
} mfkv_pages;

/* A database: root page (UINT64_MAX when empty) and entry count. */
typedef struct mfkv_db {
    uint64_t root, entries;
} mfkv_db;

/* Page @p pgno, proven (when lazy) and inside the file. MFKV_OK or MFKV_CORRUPT. */
int mfkv_page_get(const mfkv_pages *p, uint64_t pgno, const unsigned char **out);

/* Prove @p pgno again, ignoring what was remembered: for a lookup about to
 * say "not found", so that a page changed in place since it was first
 * proven cannot hide a record. */
int mfkv_page_recheck(const mfkv_pages *p, uint64_t pgno);

/* Prove every chunk of the page table and every page, for verify.  Counts
 * bad chunks and pages (a page of a bad chunk counts as bad too) and gives
 * the first of each (UINT64_MAX if none). */
typedef struct mfkv_pages_damage {
    uint64_t chunks_bad, first_bad_chunk, pages_bad, first_bad_page;
} mfkv_pages_damage;
void mfkv_pages_check_all(const mfkv_pages *p, mfkv_pages_damage *d);

/* The main database of the newer of the two meta pages. */
int mfkv_btree_main(const mfkv_pages *p, mfkv_db *main);

/* The named database @p name stored in @p main. MFKV_OK, MFKV_NOTFOUND or MFKV_CORRUPT. */
int mfkv_btree_subdb(const mfkv_pages *p, const mfkv_db *main, const char *name, mfkv_db *out);

/* Look @p key up in @p db.  On MFKV_NOTFOUND the path is proven again. */
int mfkv_btree_get(const mfkv_pages *p, const mfkv_db *db, const void *key, size_t key_len,
                   const unsigned char **val, size_t *val_len);

/* In-order cursor. */
typedef struct mfkv_cursor {
    const mfkv_pages *p;
    const mfkv_db *db;
    int depth; /* pages on the stack; 0 before the first call */
    uint64_t pgno[MFKV_BTREE_MAX_DEPTH];
    unsigned idx[MFKV_BTREE_MAX_DEPTH];
    int done;
} mfkv_cursor;

void mfkv_cursor_init(mfkv_cursor *c, const mfkv_pages *p, const mfkv_db *db);
/* The next record: MFKV_OK, MFKV_NOTFOUND at the end, or MFKV_CORRUPT.  The
 * page holding the record (where it starts) goes to *pgno when not NULL. */
int mfkv_cursor_next(mfkv_cursor *c, const unsigned char **key, size_t *key_len, const unsigned char **val,
                     size_t *val_len, uint64_t *pgno);

#pragma GCC visibility pop

#endif
