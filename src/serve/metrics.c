#include "metrics.h"

#include <inttypes.h>
#include <stdio.h>
#include <string.h>

static const unsigned statuses[SERVE_METRICS_STATUSES] = {200, 304, 400, 404, 405, 408, 413, 429, 500, 503, 505};
static const double bucket_bounds[SERVE_METRICS_BUCKETS] = {
    0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.5, 1.0,
};

void serve_metrics_init(serve_metrics *m)
{
    memset(m, 0, sizeof *m); /* all-zero bits are zero atomics on every target we build */
    m->started = time(NULL);
}

static size_t status_index(unsigned status)
{
    for (size_t i = 0; i < SERVE_METRICS_STATUSES; i++)
        if (statuses[i] == status) return i;
    return SERVE_METRICS_STATUSES;
}

void serve_metrics_request(serve_metrics *m, serve_route_kind route, unsigned status, uint64_t latency_ns)
{
    if (route >= ROUTE_COUNT) route = ROUTE_UNKNOWN;
    atomic_fetch_add_explicit(&m->requests[route][status_index(status)], 1, memory_order_relaxed);
    size_t b = 0;
    while (b < SERVE_METRICS_BUCKETS && (double)latency_ns > bucket_bounds[b] * 1e9) b++;
    atomic_fetch_add_explicit(&m->latency_bucket[route][b], 1, memory_order_relaxed);
    atomic_fetch_add_explicit(&m->latency_sum_ns[route], latency_ns, memory_order_relaxed);
}

void serve_metrics_swap(serve_metrics *m, int ok)
{
    atomic_fetch_add_explicit(ok ? &m->swaps_ok : &m->swaps_failed, 1, memory_order_relaxed);
}

void serve_metrics_slow_clients(serve_metrics *m, unsigned n)
{
    atomic_fetch_add_explicit(&m->slow_clients_cut, n, memory_order_relaxed);
}

void serve_metrics_answer_kept(serve_metrics *m)
{
    atomic_fetch_add_explicit(&m->answers_kept, 1, memory_order_relaxed);
}

static uint64_t load(atomic_uint_fast64_t *v) { return atomic_load_explicit(v, memory_order_relaxed); }

static void render_requests(serve_metrics *m, mfkv_buf *out)
{
    mfkv_buf_puts(out, "# HELP mfkv_http_requests_total HTTP requests answered, by route and status.\n"
                       "# TYPE mfkv_http_requests_total counter\n");
    for (int r = 0; r < ROUTE_COUNT; r++)
        for (size_t s = 0; s <= SERVE_METRICS_STATUSES; s++) {
            uint64_t n = load(&m->requests[r][s]);
            if (!n) continue;
            char code[8];
            if (s < SERVE_METRICS_STATUSES) snprintf(code, sizeof code, "%u", statuses[s]);
            else memcpy(code, "other", 6);
            mfkv_buf_printf(out, "mfkv_http_requests_total{route=\"%s\",status=\"%s\"} %" PRIu64 "\n",
                            serve_route_name((serve_route_kind)r), code, n);
        }
}

static void render_latency(serve_metrics *m, mfkv_buf *out)
{
    mfkv_buf_puts(out, "# HELP mfkv_http_request_duration_seconds Time from request start to response sent.\n"
                       "# TYPE mfkv_http_request_duration_seconds histogram\n");
    for (int r = 0; r < ROUTE_COUNT; r++) {
        const char *name = serve_route_name((serve_route_kind)r);
        uint64_t cumulative = 0;
        for (size_t b = 0; b <= SERVE_METRICS_BUCKETS; b++) {
            cumulative += load(&m->latency_bucket[r][b]);
            if (b < SERVE_METRICS_BUCKETS)
                mfkv_buf_printf(out, "mfkv_http_request_duration_seconds_bucket{route=\"%s\",le=\"%g\"} %" PRIu64 "\n",
                                name, bucket_bounds[b], cumulative);
            else
                mfkv_buf_printf(out, "mfkv_http_request_duration_seconds_bucket{route=\"%s\",le=\"+Inf\"} %" PRIu64 "\n",
                                name, cumulative);
        }
        mfkv_buf_printf(out, "mfkv_http_request_duration_seconds_sum{route=\"%s\"} %.9f\n",
                        name, (double)load(&m->latency_sum_ns[r]) / 1e9);
        mfkv_buf_printf(out, "mfkv_http_request_duration_seconds_count{route=\"%s\"} %" PRIu64 "\n",
                        name, cumulative);
    }
}

void serve_metrics_render(serve_metrics *m, const served_store *store, mfkv_buf *out)
{
    render_requests(m, out);
    render_latency(m, out);
    mfkv_buf_printf(out,
                    "# HELP mfkv_store_info The store being served.\n"
                    "# TYPE mfkv_store_info gauge\n"
                    "mfkv_store_info{digest=\"%s\",version=\"%s\"} 1\n"
                    "# HELP mfkv_store_users Users in the store being served.\n"
                    "# TYPE mfkv_store_users gauge\n"
                    "mfkv_store_users %" PRIu32 "\n"
                    "# HELP mfkv_store_build_time_seconds When the store was built.\n"
                    "# TYPE mfkv_store_build_time_seconds gauge\n"
                    "mfkv_store_build_time_seconds %" PRId64 "\n"
                    "# HELP mfkv_store_swaps_total Store reloads, by result.\n"
                    "# TYPE mfkv_store_swaps_total counter\n"
                    "mfkv_store_swaps_total{result=\"success\"} %" PRIu64 "\n"
                    "mfkv_store_swaps_total{result=\"failure\"} %" PRIu64 "\n"
                    "# HELP mfkv_http_slow_clients_cut_total Connections closed for not sending a whole request within --timeout.\n"
                    "# TYPE mfkv_http_slow_clients_cut_total counter\n"
                    "mfkv_http_slow_clients_cut_total %" PRIu64 "\n"
                    "# HELP mfkv_http_answers_kept_total Requests answered from their store version's kept answers (--answer-cache).\n"
                    "# TYPE mfkv_http_answers_kept_total counter\n"
                    "mfkv_http_answers_kept_total %" PRIu64 "\n"
                    "# HELP mfkv_uptime_seconds Seconds since the server started.\n"
                    "# TYPE mfkv_uptime_seconds gauge\n"
                    "mfkv_uptime_seconds %.0f\n",
                    store->digest_hex, store->version, store->info.n_users, store->info.build_time,
                    load(&m->swaps_ok), load(&m->swaps_failed), load(&m->slow_clients_cut),
                    load(&m->answers_kept), difftime(time(NULL), m->started));
}
