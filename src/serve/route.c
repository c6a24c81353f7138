#include "route.h"

#include <string.h>

static int has_prefix(const char *s, const char *prefix, const char **rest)
{
    size_t n = strlen(prefix);
    if (strncmp(s, prefix, n)) return 0;
    *rest = s + n;
    return 1;
}

/* One non-empty path segment: up to the next '/' or, when @p stop_colon,
 * the next ':'. */
static size_t segment(const char *s, int stop_colon)
{
    return strcspn(s, stop_colon ? "/:" : "/");
}

/* After ".../models/M" or ".../versions/V": what follows decides the route. */
static serve_route_kind model_tail(const char *rest)
{
    if (!strcmp(rest, "")) return ROUTE_MODEL_STATUS;
    if (!strcmp(rest, ":predict")) return ROUTE_PREDICT;
    if (!strcmp(rest, "/metadata")) return ROUTE_MODEL_METADATA;
    return ROUTE_UNKNOWN;
}

static void parse_model(const char *rest, serve_route *out)
{
    size_t n = segment(rest, 1);
    if (!n) return;
    out->model = rest;
    out->model_len = n;
    rest += n;
    const char *v;
    if (has_prefix(rest, "/versions/", &v)) {
        size_t vn = segment(v, 1);
        if (!vn) return;
        out->version = v;
        out->version_len = vn;
        rest = v + vn;
    }
    out->kind = model_tail(rest);
}

static void parse_user(const char *rest, serve_route *out)
{
    size_t n = segment(rest, 0);
    if (!n || strcmp(rest + n, "/recommendations")) return;
    out->user = rest;
    out->user_len = n;
    out->kind = ROUTE_RECOMMENDATIONS;
}

void serve_route_parse(const char *path, serve_route *out)
{
    memset(out, 0, sizeof *out);
    out->kind = ROUTE_UNKNOWN;
    const char *rest;
    if (has_prefix(path, "/v1/models/", &rest)) parse_model(rest, out);
    else if (has_prefix(path, "/v1/users/", &rest)) parse_user(rest, out);
    else if (!strcmp(path, "/")) out->kind = ROUTE_PAGE;
    else if (!strcmp(path, "/healthz")) out->kind = ROUTE_HEALTHZ;
    else if (!strcmp(path, "/readyz")) out->kind = ROUTE_READYZ;
    else if (!strcmp(path, "/metrics")) out->kind = ROUTE_METRICS;
    if (out->kind == ROUTE_UNKNOWN) { /* leave no half-parsed fields */
        memset(out, 0, sizeof *out);
        out->kind = ROUTE_UNKNOWN;
    }
}

const char *serve_route_name(serve_route_kind kind)
{
    static const char *const names[ROUTE_COUNT] = {
        [ROUTE_PREDICT] = "predict",
        [ROUTE_MODEL_STATUS] = "model_status",
        [ROUTE_MODEL_METADATA] = "model_metadata",
        [ROUTE_RECOMMENDATIONS] = "recommendations",
        [ROUTE_PAGE] = "page",
        [ROUTE_HEALTHZ] = "healthz",
        [ROUTE_READYZ] = "readyz",
        [ROUTE_METRICS] = "metrics",
        [ROUTE_UNKNOWN] = "unknown",
    };
    return kind < ROUTE_COUNT ? names[kind] : "unknown";
}

const char *serve_route_allow(serve_route_kind kind)
{
    return kind == ROUTE_PREDICT ? "POST" : "GET, HEAD";
}
