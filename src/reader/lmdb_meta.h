/* lmdb_meta.h - sanity of LMDB's two meta pages, checked before LMDB reads
 * them (see lmdb_meta.c for why). */
#ifndef MFKV_LMDB_META_H
#define MFKV_LMDB_META_H

#include <stddef.h>

#pragma GCC visibility push(hidden)

/* MFKV_OK when both meta pages of the @p lmdb_len-byte LMDB file @p fd look
 * like LMDB's data format 1 written with the OS page size and point only
 * inside the file; MFKV_FORMAT otherwise, MFKV_IO on a read error. */
int mfkv_lmdb_meta_check(int fd, size_t lmdb_len);

#pragma GCC visibility pop

#endif
