/* store_internal.h - what reader.c lends to verify.c; not public API. */
#ifndef MFKV_STORE_INTERNAL_H
#define MFKV_STORE_INTERNAL_H

#include <lmdb.h>

#include "mfkv.h"

/* Internal to libmfkv: hidden, so the shared library exports only mfkv.h. */
#pragma GCC visibility push(hidden)

int mfkv_status_from_mdb(int rc);
/* 1 when the value lies wholly inside the mapped file. */
int mfkv_in_map(const mfkv_store *s, const MDB_val *v);
/* Decode a list body (after the checksum); checks count and length. */
int mfkv_decode_list(const mfkv_store *s, const unsigned char *body, size_t len, mfkv_list *out);
/* Decode an item body (after the checksum); checks the three lengths. */
int mfkv_decode_item(const unsigned char *body, size_t len, mfkv_item_info *out);
MDB_env *mfkv_store_env(const mfkv_store *s);
size_t mfkv_store_file_size(const mfkv_store *s);
void mfkv_store_dbis(const mfkv_store *s, MDB_dbi *meta, MDB_dbi *users, MDB_dbi *items);

#pragma GCC visibility pop

#endif
