/* store_internal.h - what reader.c lends to verify.c; not public API. */
#ifndef MFKV_STORE_INTERNAL_H
#define MFKV_STORE_INTERNAL_H

#include <stdatomic.h>

#include "mfkv.h"
#include "reader/btree.h"
#include "reader/trailer.h"

/* Internal to libmfkv: hidden, so the shared library exports only mfkv.h. */
#pragma GCC visibility push(hidden)

/* A record's framing, checked here for lookups, open and mfkv_verify alike:
 * the value must hold the checksum, and when @p check the key-seeded
 * checksum must match (layout.h).  *body gets the bytes after it.
 * MFKV_OK or MFKV_CORRUPT. */
int mfkv_record_body(const void *key, size_t key_len, const unsigned char *v, size_t v_len, int check,
                     const unsigned char **body, size_t *body_len);
/* Whether an items key is item index @p n (4 bytes, big-endian). */
int mfkv_item_key_is(const unsigned char *key, size_t key_len, uint32_t n);
/* Decode a list body (after the checksum); checks count and length. */
int mfkv_decode_list(const mfkv_store *s, const unsigned char *body, size_t len, mfkv_list *out);
/* Decode an item body (after the checksum); checks the three lengths. */
int mfkv_decode_item(const unsigned char *body, size_t len, mfkv_item_info *out);
const mfkv_pages *mfkv_store_pages(const mfkv_store *s);
void mfkv_store_dbs(const mfkv_store *s, const mfkv_db **meta, const mfkv_db **users, const mfkv_db **items);
/* The trailer read at open. */
const mfkv_trailer *mfkv_store_trailer(const mfkv_store *s);
atomic_int *mfkv_store_changed(mfkv_store *s);
/* @p rc, or MFKV_CHANGED when the file is no longer the one opened. */
int mfkv_store_settle(mfkv_store *s, int rc);

#pragma GCC visibility pop

#endif
