/*
 * idtab.h - an append-only table of id strings with O(1) lookup.
 *
 * Users and items are known by external ids (strings in BigQuery ML's export)
 * and processed by dense index; an idtab is that mapping.  Strings live in
 * one growing pool (NUL-terminated, so they can be printed directly) and an
 * open-addressing hash index keyed by XXH3 finds them again.
 */
#ifndef MFKV_IDTAB_H
#define MFKV_IDTAB_H

#include <stddef.h>
#include <stdint.h>

typedef struct mfkv_idtab {
    char *pool;
    size_t pool_len, pool_cap;
    size_t *offset;     /* offset[i]: start of string i in pool */
    uint32_t *length;   /* length[i]: its byte length */
    uint32_t *hash;     /* hash[i]: its hash, so growing the index rehashes no string */
    uint32_t n, cap;
    uint32_t *slots;    /* hash index: slot -> index + 1, 0 = empty */
    uint32_t slot_mask;
} mfkv_idtab;

/* A zeroed struct is a valid empty table; init is memset. */
void mfkv_idtab_init(mfkv_idtab *t);
void mfkv_idtab_free(mfkv_idtab *t);

/* Find @p s, or append it.  *index receives its index; *added (may be NULL)
 * is 1 when it was appended.  Returns MFKV_OK or MFKV_NOMEM/MFKV_LIMIT. */
int mfkv_idtab_intern(mfkv_idtab *t, const char *s, size_t len, uint32_t *index, int *added);

/* MFKV_OK with *index set, or MFKV_NOTFOUND. */
int mfkv_idtab_find(const mfkv_idtab *t, const char *s, size_t len, uint32_t *index);

/* String @p i (NUL-terminated); *len (may be NULL) receives its length. */
const char *mfkv_idtab_str(const mfkv_idtab *t, uint32_t i, size_t *len);

/* Order used for item tables and tie-breaks: numeric when both ids are
 * canonical unsigned decimals ("0", "17"; no sign, no leading zero), else
 * byte-wise; a number sorts before a non-number.  Returns <0, 0, >0. */
int mfkv_id_compare(const char *a, size_t alen, const char *b, size_t blen);

#endif
