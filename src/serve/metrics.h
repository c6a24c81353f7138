/*
 * metrics.h - counters for /metrics, in Prometheus text format 0.0.4.
 * Updates are lock-free atomics, so request threads never wait on them.
 */
#ifndef MFKV_SERVE_METRICS_H
#define MFKV_SERVE_METRICS_H

#include <stdatomic.h>
#include <stdint.h>
#include <time.h>

#include "common/buf.h"
#include "route.h"
#include "store_slot.h"

/* Status codes counted separately; everything else is "other". */
#define SERVE_METRICS_STATUSES 11
/* Latency histogram upper bounds, seconds; +Inf is implicit. */
#define SERVE_METRICS_BUCKETS 12

typedef struct serve_metrics {
    time_t started;
    atomic_uint_fast64_t requests[ROUTE_COUNT][SERVE_METRICS_STATUSES + 1];
    atomic_uint_fast64_t latency_bucket[ROUTE_COUNT][SERVE_METRICS_BUCKETS + 1];
    atomic_uint_fast64_t latency_sum_ns[ROUTE_COUNT];
    atomic_uint_fast64_t swaps_ok, swaps_failed;
    atomic_uint_fast64_t slow_clients_cut;
    atomic_uint_fast64_t answers_kept; /* requests answered from answer_cache.h */
} serve_metrics;

void serve_metrics_init(serve_metrics *m);

void serve_metrics_request(serve_metrics *m, serve_route_kind route, unsigned status, uint64_t latency_ns);

void serve_metrics_swap(serve_metrics *m, int ok);

/* @p n connections were cut off for sending their request too slowly. */
void serve_metrics_slow_clients(serve_metrics *m, unsigned n);

/* A request was answered from its store version's kept answers. */
void serve_metrics_answer_kept(serve_metrics *m);

/* Append the whole exposition, with @p store's facts, to @p out. */
void serve_metrics_render(serve_metrics *m, const served_store *store, mfkv_buf *out);

#endif
