/*
 * format.h - the mfkv store format.  Every on-disk constant lives here.
 *
 * A store is ONE LMDB environment in a single file (MDB_NOSUBDIR), written
 * once by the builder and never modified.  Readers map it read-only and
 * walk LMDB's B-tree themselves (src/reader/btree.c), so no lock file
 * exists or is needed.
 *
 * It holds three named LMDB databases:
 *
 *   "meta"   key "header"    the metadata record (below)
 *            key "fallback"  optional: the list served to unknown users
 *   "users"  key = user id bytes as given to the builder (BigQuery ML ids are
 *            strings; integer ids are their decimal text), 1..MFKV_MAX_ID_LEN
 *   "items"  key = item index as 4 big-endian bytes, so LMDB's byte order is
 *            index order
 *
 * Every value is a RECORD:
 *
 *   offset 0  u64  checksum = XXH3_64bits_withSeed(body, body_len,
 *                     XXH3_64bits(key, key_len) ^ MFKV_CHECKSUM_DOMAIN)
 *   offset 8  body
 *
 * The seed depends on the key, so a record served under the wrong key (a
 * flipped key byte, a swapped payload) fails its checksum exactly like a
 * flipped payload byte does.
 *
 * TRAILER.  After LMDB's last page the builder appends (format 1.1) a page
 * table, then MFKV_TRAILER_LEN bytes:
 *
 *   0   u8[8] magic  MFKV_TRAILER_MAGIC
 *   8   u32   trailer version (1)
 *   12  u32   zero
 *   16  u64   body_len: bytes before the trailer (LMDB pages + page table)
 *   24  u64   XXH3_64bits of those body_len bytes (the whole-file digest)
 *   32  u64   n_pages: LMDB pages the page table covers; 0 in format 1.0
 *   40  u64   XXH3_64bits_withSeed(table index, MFKV_PAGE_DOMAIN)
 *   48  u32   page size the table was computed with (the LMDB page size)
 *   52  u32   zero
 *   56  u64   XXH3_64bits of trailer bytes 0..56
 *
 * PAGE TABLE (format 1.1), at byte n_pages * page_size:
 *   u64 page_hash[n_pages]   page_hash[p] = XXH3_64bits_withSeed(page p,
 *                            page_size, MFKV_PAGE_DOMAIN ^ p)
 *   u64 index[n_chunks]      one per MFKV_PAGE_CHUNK entries of page_hash
 *                            (one 4 KiB page of it): XXH3_64bits_withSeed(
 *                            chunk bytes, MFKV_PAGE_DOMAIN ^ ~chunk number)
 *   zero bytes up to the next page boundary
 * so body_len = (n_pages + table pages) * page_size.
 *
 * Why this is sound and costs O(1) at open.  LMDB trusts its page structures
 * (a flipped page size, node offset or flag can make it fault or loop), so a
 * page's bytes must be proven before any of them steer a read.  Format 1.0
 * proved the whole file at every open, a cost that grows with the store.
 * Format 1.1 proves what a lookup reads, when it reads it: the reader checks
 * the trailer (its own hash), reads the index (8 bytes per 2 MiB of store,
 * 160 KiB for 40 GB) and checks it against the trailer, and from then on
 * checks each page-table chunk against the index and each page against the
 * table the first time anything reads it (src/reader/pages.c keeps an atomic
 * bit per page and per chunk, so a warm lookup pays one bit test a level).
 * The reader walks LMDB's B-tree itself (src/reader/btree.c), verifying
 * every page before it reads a byte of it, so no unproven byte is ever
 * interpreted.  The seeds tie each hash to its position, so a page or chunk
 * copied elsewhere fails too.  The per-record checksums stay: they also
 * guard a page changed after it was proven (a file overwritten in place).
 *
 * Compatibility (why this is a MINOR bump, 1.0 -> 1.1).  The table sits
 * inside body_len and is page-aligned, so a 1.0 reader still reads a 1.1
 * store: it hashes body_len bytes as before, and LMDB ignores pages past its
 * last one.  A 1.1 reader reads a 1.0 store (n_pages == 0) with the 1.0
 * whole-file check at open.  Bump the MAJOR version only for a change old
 * readers would misread; they refuse a larger major (MFKV_VERSION).
 *
 * The file's length must be exactly body_len + MFKV_TRAILER_LEN, so a
 * truncated or extended file is refused at open.  A file truncated or
 * rewritten AFTER it was opened is caught while reading (see include/mfkv.h,
 * MFKV_CHANGED).
 *
 * All integers and floats are little-endian.  LMDB only guarantees 2-byte
 * alignment of values, so readers decode fields with memcpy, never by
 * casting record pointers.
 *
 * List body (users and "fallback"):
 *   u32 count                         0 <= count <= header.k
 *   u32 item_index[count]             rank order, each < header.n_items
 *   f32 score[count]                  non-increasing
 *   length is exactly 4 + 8*count.
 * Scores are the full predicted rating, global + user bias + item bias +
 * dot(user, item), computed in double and rounded once to float.  Ties are
 * ordered by item index, and the item table is sorted by item id (numerically
 * when every id is a canonical unsigned decimal, else byte-wise), so ties are
 * broken by item id ascending.
 *
 * Item body:
 *   u32 id_len, u32 title_len, u32 genres_len, then the three byte strings.
 *   Titles are UTF-8; genres are '|'-separated; both may be empty.
 *
 * Header body (fixed part is MFKV_HEADER_FIXED_LEN bytes):
 *   0   u8[8] magic  MFKV_MAGIC
 *   8   u32   format major     readers refuse a larger major
 *   12  u32   format minor     additive changes only
 *   16  u32   k
 *   20  u32   n_factors
 *   24  u32   n_users
 *   28  u32   n_items
 *   32  u32   flags            MFKV_FLAG_*
 *   36  u32   provenance_len
 *   40  i64   build_time       seconds since the epoch
 *   48  u64   digest           see below
 *   56  provenance bytes       "key=value\n" lines, UTF-8
 *
 * Store digest: XXH3_64bits over the concatenation of the u64 little-endian
 * checksums of every users record (key order), then every items record (key
 * order), then the fallback record if present.  The header is not included
 * (it holds the digest).  `mfkv verify` recomputes it.
 *
 * SHARDS.  A shard store (`mfkv build --shard I/N`) is a normal store that
 * holds only the users u with
 *
 *   XXH3_64bits_withSeed(u's id bytes, id_len, MFKV_SHARD_SEED) % N == I
 *
 * so any tool can route a user to its shard without opening a store.  Its
 * item table, fallback list, k and every list are exactly those of the full
 * build; its header counts only its own users, and its provenance carries
 * the line "shard=I/N" (MFKV_PROV_SHARD) after the lines a full build
 * writes.  Every build also records "item_side=xxh3-64:HEX" (MFKV_PROV_ITEM_SIDE),
 * a digest of the item side of the model (ids in item order, factors,
 * biases, the global bias), so shards computed from different item sides are
 * told apart even when built from in-memory arrays.  `mfkv merge` streams
 * shards 0..N-1 into the store the full build writes, provenance without
 * the shard line, byte for byte.  The "blas=" line (MFKV_PROV_BLAS) names the
 * BLAS kernel, which depends on the CPU and not on the lists (they are exact
 * whatever the kernel): merge ignores it when comparing shards and keeps
 * shard 0's.
 */
#ifndef MFKV_FORMAT_H
#define MFKV_FORMAT_H

#define MFKV_MAGIC "MFKVSTOR"
#define MFKV_MAGIC_LEN 8
#define MFKV_FORMAT_MAJOR 1u
#define MFKV_FORMAT_MINOR 1u /* 1: page table after LMDB pages */

#define MFKV_DB_META "meta"
#define MFKV_DB_USERS "users"
#define MFKV_DB_ITEMS "items"
#define MFKV_DB_COUNT 3

#define MFKV_KEY_HEADER "header"
#define MFKV_KEY_FALLBACK "fallback"

#define MFKV_TRAILER_MAGIC "MFKVTAIL"
#define MFKV_TRAILER_VERSION 1u
#define MFKV_TRAILER_LEN 64u

#define MFKV_PAGE_DOMAIN 0x6d666b7670616731ull /* "mfkvpag1" */
#define MFKV_PAGE_HASH_LEN 8u
#define MFKV_PAGE_CHUNK 512u /* page-table entries per index entry */

#define MFKV_CHECKSUM_DOMAIN 0x6d666b7672656331ull /* "mfkvrec1" */

#define MFKV_RECORD_CHECKSUM_LEN 8
#define MFKV_LIST_COUNT_LEN 4
#define MFKV_LIST_ENTRY_LEN 8 /* u32 index + f32 score */
#define MFKV_ITEM_FIXED_LEN 12
#define MFKV_HEADER_FIXED_LEN 56

#define MFKV_SHARD_SEED 0x6d666b7673686431ull /* "mfkvshd1" */
#define MFKV_MAX_SHARDS 65536u
#define MFKV_PROV_SHARD "shard="
#define MFKV_PROV_ITEM_SIDE "item_side=xxh3-64:"
#define MFKV_PROV_BLAS "blas=" /* the BLAS kernel that computed the lists */

#define MFKV_FLAG_FALLBACK 1u
#define MFKV_FLAG_TITLES 2u

/* Limits the builder enforces and the reader relies on. */
#define MFKV_MAX_ID_LEN 255u /* LMDB's default max key size is 511 */
#define MFKV_MAX_K 100000u
#define MFKV_MAX_TEXT_LEN 65535u /* one title or genres string */

#endif /* MFKV_FORMAT_H */
