/*
 * mfkv_build.h - builder library for mfkv stores (libmfkvbuild), for
 * programs that hold a model in memory: the Python package, a Spark task.
 *
 * It builds exactly what `mfkv build` builds (src/format.h), from arrays
 * instead of files, and joins shard stores as `mfkv merge` does.  The reader
 * (mfkv.h, libmfkv) stays free of BLAS; this library links OpenBLAS.
 *
 * Conventions as in mfkv.h: every function returns an mfkv_status (0 is
 * success), never prints, exits or aborts on input; on failure @p err (may be
 * NULL) receives the status and one sentence naming what is wrong.  Outputs
 * are published atomically: on failure the file at the path is untouched.
 */
#ifndef MFKV_BUILD_H_PUBLIC
#define MFKV_BUILD_H_PUBLIC

#include <stddef.h>
#include <stdint.h>

#include "mfkv.h"

#ifdef __cplusplus
extern "C" {
#endif

/** The reason for a failure: a status and a message for a person. */
typedef struct mfkv_build_error {
    mfkv_status status;
    char message[1024];
} mfkv_build_error;

/**
 * One side of a model.  Ids are byte strings packed end to end: id r is
 * ids[offsets[r] .. offsets[r+1]), 1..255 bytes of UTF-8, unique.  Row r of
 * the row-major @p factors (n x n_factors) and bias[r] (NULL: 0) belong to it.
 */
typedef struct mfkv_build_side {
    uint32_t n;
    const char *ids;
    const uint64_t *offsets; /**< n + 1 entries, offsets[0] = 0 */
    const float *factors;
    const float *bias;
} mfkv_build_side;

typedef struct mfkv_build_params {
    mfkv_build_side users, items;
    uint32_t n_factors;
    double global_bias;
    uint32_t k;               /**< 1..100000 */
    unsigned threads;         /**< 0 = all CPUs */
    int fallback;             /**< store the list for unknown users */
    uint32_t shard_index;     /**< keep only users of shard_index ... */
    uint32_t shard_count;     /**< ... of shard_count; 0 = every user */
    int64_t build_time;       /**< seconds since the epoch, recorded in the header */
    const char *options;      /**< recorded in the provenance, e.g. "k=50 fallback=yes input=arrays" */
} mfkv_build_params;

/**
 * Check the arrays (finite numbers, unique well-formed ids, k), compute
 * every (kept) user's exact top-k and publish the store at @p path.
 * @return MFKV_OK, MFKV_PARSE (bad data), MFKV_INVAL, MFKV_IO, MFKV_NOMEM,
 *         MFKV_LIMIT.
 */
mfkv_status mfkv_build_arrays(const char *path, const mfkv_build_params *p, mfkv_build_error *err);

/**
 * Join the shard stores @p shards (any order) into @p path: the store the
 * unsharded build writes.  Refuses shards of different builds, a missing or
 * duplicate shard (MFKV_INVAL, the message names the files).
 * @return MFKV_OK, MFKV_INVAL, what mfkv_open() returns for a shard it cannot
 *         open (MFKV_IO, MFKV_FORMAT, MFKV_VERSION, MFKV_CORRUPT, ...),
 *         MFKV_CORRUPT (a shard's lists name items it does not have),
 *         MFKV_CHANGED, MFKV_IO, MFKV_NOMEM or MFKV_LIMIT.
 */
mfkv_status mfkv_merge(const char *path, const char *const *shards, size_t n_shards, mfkv_build_error *err);

/** The shard (0..n_shards-1) of each of @p n ids packed as in mfkv_build_side;
 *  @return MFKV_OK or MFKV_INVAL (n_shards 0). */
mfkv_status mfkv_shard_assign(const char *ids, const uint64_t *offsets, size_t n, uint32_t n_shards, uint32_t *out);

#ifdef __cplusplus
}
#endif
#endif
