/*
 * build.h - from a loaded model to a published store: item ordering,
 * exclusions, titles, top-K, fallback list, provenance, atomic write.
 */
#ifndef MFKV_BUILD_H
#define MFKV_BUILD_H

#include <stddef.h>
#include <stdint.h>

#include "builder/topk.h"
#include "common/diag.h"
#include "common/model.h"
#include "io/ratings.h"

typedef struct mfkv_build_request {
    mfkv_model *model;              /* its items are re-ordered by id */
    uint32_t k;
    unsigned threads;               /* 0 = all CPUs */
    const mfkv_ratings *exclude_seen; /* may be NULL */
    const mfkv_movies *titles;      /* may be NULL */
    int fallback;                   /* store the list for unknown users */
    const char *const *inputs;      /* input files, digested into the provenance */
    size_t n_inputs;
    const char *options;            /* how it was asked for, for the provenance */
    int64_t build_time;
    uint32_t shard_index, shard_count; /* shard_count 0: every user; else see src/format.h */
    mfkv_progress_fn progress;
    void *progress_ctx;
} mfkv_build_request;

typedef struct mfkv_build_summary {
    uint32_t users, items, k;
    uint64_t excluded_pairs;        /* (user, item) pairs left out as seen */
    uint64_t exact_rechecks;        /* users brute-forced in double for near-ties */
    uint32_t titled_items;          /* items that found a title */
    double prepare_seconds;         /* item order, exclusions, titles, input digests */
    double topk_seconds;            /* mfkv_topk_compute */
    double write_seconds;           /* fallback list and the store file */
} mfkv_build_summary;

int mfkv_build_store(const char *path, mfkv_build_request *req, mfkv_build_summary *sum, mfkv_diag *d);

#endif
