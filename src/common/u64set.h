/*
 * u64set.h - a set of 64-bit keys (open addressing, linear probing).
 *
 * Used to find repeated (user, item) pairs while a rating log streams in,
 * so that the first repeat is reported at its own line.
 */
#ifndef MFKV_U64SET_H
#define MFKV_U64SET_H

#include <stddef.h>
#include <stdint.h>

typedef struct mfkv_u64set {
    uint64_t *slots; /* key + 1; 0 = empty */
    size_t n, mask;
} mfkv_u64set;

/* A zeroed struct is an empty set. */
void mfkv_u64set_free(mfkv_u64set *s);

/* Insert @p key (any value but UINT64_MAX); *added is 1 when it was not
 * there yet.  Returns MFKV_OK or MFKV_NOMEM. */
int mfkv_u64set_add(mfkv_u64set *s, uint64_t key, int *added);

#endif
