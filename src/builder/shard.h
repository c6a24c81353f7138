/*
 * shard.h - which shard a user belongs to, and a model cut down to one shard
 * (the assignment is documented in src/format.h).
 */
#ifndef MFKV_SHARD_H
#define MFKV_SHARD_H

#include <stddef.h>
#include <stdint.h>

#include "common/model.h"

/* The shard (0..n-1) of the user with these id bytes; n >= 1. */
uint32_t mfkv_shard_of(const char *id, size_t id_len, uint32_t n);

/* Keep only the users of shard @p index of @p count, in their order, with
 * their factors and biases.  MFKV_OK or MFKV_NOMEM (the model unchanged). */
int mfkv_model_keep_shard(mfkv_model *m, uint32_t index, uint32_t count);

/* Find the "shard=I/N" provenance line; 1 with *index and *count set when
 * present and well-formed, else 0. */
int mfkv_provenance_shard(const char *prov, size_t len, uint32_t *index, uint32_t *count);

#endif
