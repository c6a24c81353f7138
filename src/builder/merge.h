/*
 * merge.h - join the N shard stores of one build (`mfkv build --shard I/N`)
 * into the store the unsharded build writes, byte for byte.
 *
 * The users are streamed: a k-way merge over one cursor per shard feeds the
 * writer in key order, so memory holds one list per shard plus the item
 * table, never the users.  Every record is checksum-verified as it is read
 * (and every shard's whole-file digest at open).  Shards must agree on
 * everything but their users: k, factors, flags, item table, fallback list,
 * provenance (the item-side digest included) apart from the shard line; each
 * shard 0..N-1 given exactly once; each user in the shard its id hashes to.
 */
#ifndef MFKV_MERGE_H
#define MFKV_MERGE_H

#include <stddef.h>
#include <stdint.h>

#include "builder/topk.h"
#include "common/diag.h"

typedef struct mfkv_merge_summary {
    uint32_t shards, users, items, k;
} mfkv_merge_summary;

/* Publish the merge of @p paths at @p out atomically (nothing is written on
 * failure).  @p progress (may be NULL) counts users.  Returns MFKV_OK,
 * MFKV_INVAL (shards that do not belong together, the message names the
 * files), MFKV_CORRUPT, MFKV_IO, MFKV_NOMEM, MFKV_FORMAT, MFKV_VERSION. */
int mfkv_merge_stores(const char *out, const char *const *paths, size_t n_paths, mfkv_progress_fn progress,
                      void *progress_ctx, mfkv_merge_summary *sum, mfkv_diag *d);

#endif
