#include "handler.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#define JSON_TYPE "application/json"

void serve_response_init(serve_response *res)
{
    memset(res, 0, sizeof *res);
    mfkv_buf_init(&res->body);
    res->status = 200;
    res->content_type = JSON_TYPE;
}

void serve_response_free(serve_response *res) { mfkv_buf_free(&res->body); }

void serve_error(serve_response *res, unsigned status, const char *fmt, ...)
{
    char msg[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    /* Messages quote request bytes: keep the body plain ASCII, valid JSON. */
    for (char *c = msg; *c; c++)
        if ((unsigned char)*c < 0x20 || (unsigned char)*c > 0x7e) *c = '?';
    const char *allow = res->allow;
    serve_response_free(res);
    serve_response_init(res);
    res->status = status;
    res->allow = status == 405 ? allow : NULL;
    mfkv_buf_puts(&res->body, "{\"error\":");
    mfkv_buf_json_string(&res->body, msg, strlen(msg));
    mfkv_buf_puts(&res->body, "}\n");
}

static void plain(serve_response *res, unsigned status, const char *text)
{
    res->status = status;
    res->content_type = "text/plain; charset=utf-8";
    mfkv_buf_puts(&res->body, text);
}

static int method_allowed(serve_route_kind kind, const char *method)
{
    if (kind == ROUTE_PREDICT) return !strcmp(method, "POST");
    return !strcmp(method, "GET") || !strcmp(method, "HEAD");
}

/* TF Serving's words for a model or version that is not served. */
static void not_served(const serve_route *r, const char *model, serve_response *res)
{
    if (r->version)
        serve_error(res, 404, "Servable not found for request: Specific(%.64s, %.*s)", model,
                    (int)(r->version_len > 32 ? 32 : r->version_len), r->version);
    else
        serve_error(res, 404, "Servable not found for request: Latest(%.*s)",
                    (int)(r->model_len > 64 ? 64 : r->model_len), r->model);
}

/* A route of a model: find it and its version, then hand over. */
static void dispatch_model(serve_state *st, const serve_route *r, const serve_request *req, serve_response *res)
{
    served_model *m = serve_model_find(st, r->model, r->model_len);
    if (!m) {
        serve_route latest = *r;
        latest.version = NULL;
        not_served(&latest, "", res);
        return;
    }
    served_versions *v = store_slot_acquire(&m->slot);
    served_store *s = served_versions_pick(v, r->version, r->version_len);
    if (r->kind == ROUTE_MODEL_STATUS) serve_model_status(m, v, r, res); /* lists failed versions too */
    else if (!s) not_served(r, m->name, res);
    else if (r->kind == ROUTE_PREDICT) serve_predict(st, s, req, res);
    else serve_model_metadata(m, s, res);
    served_versions_release(v);
}

static void dispatch(serve_state *st, const serve_route *r, const serve_request *req, serve_response *res)
{
    if (r->kind == ROUTE_PREDICT || r->kind == ROUTE_MODEL_STATUS || r->kind == ROUTE_MODEL_METADATA) {
        dispatch_model(st, r, req, res);
        return;
    }
    /* The other routes name no model: the first one answers them. */
    served_versions *v = store_slot_acquire(&st->models[0].slot);
    served_store *s = v->stores[0];
    switch (r->kind) {
    case ROUTE_RECOMMENDATIONS: serve_recommendations(st, s, r, req, res); break;
    case ROUTE_PAGE: serve_page(res); break;
    case ROUTE_HEALTHZ: plain(res, 200, "ok\n"); break;
    case ROUTE_READYZ:
        if (atomic_load(&st->draining)) plain(res, 503, "shutting down\n");
        else plain(res, 200, "ready\n");
        break;
    case ROUTE_METRICS:
        res->content_type = "text/plain; version=0.0.4; charset=utf-8";
        serve_metrics_render(&st->metrics, s, &res->body);
        break;
    default: serve_error(res, 404, "no such endpoint: %s", req->path); break;
    }
    served_versions_release(v);
}

/* The deployment's own paths (Vertex AI's $AIP_PREDICT_ROUTE and
 * $AIP_HEALTH_ROUTE) stand for the model's predict and for /readyz. */
static void deployment_route(const serve_config *c, const char *path, serve_route *r)
{
    if (c->predict_route && !strcmp(path, c->predict_route)) {
        memset(r, 0, sizeof *r);
        r->kind = ROUTE_PREDICT;
        r->model = c->models[0].name;
        r->model_len = strlen(c->models[0].name);
    } else if (c->health_route && !strcmp(path, c->health_route)) {
        memset(r, 0, sizeof *r);
        r->kind = ROUTE_READYZ;
    }
}

/* CORS for the GET endpoints (--cors-origin): the allowed origin, or "*". */
static void cors(const serve_config *c, serve_route_kind kind, const serve_request *req, serve_response *res)
{
    if (!c->cors_origin || kind == ROUTE_PREDICT || kind == ROUTE_UNKNOWN) return;
    if (!strcmp(c->cors_origin, "*")) {
        res->allow_origin = "*";
        return;
    }
    /* One origin is named: caches must keep answers per Origin. */
    res->vary_origin = 1;
    if (req->origin && !strcmp(req->origin, c->cors_origin)) res->allow_origin = c->cors_origin;
}

serve_route_kind serve_handle(serve_state *st, const serve_request *req, serve_response *res)
{
    serve_route r;
    serve_route_parse(req->path, &r);
    deployment_route(st->config, req->path, &r);
    if (st->config->cors_origin && !strcmp(req->method, "OPTIONS") && r.kind != ROUTE_PREDICT &&
        r.kind != ROUTE_UNKNOWN) {
        res->status = 204;
        res->content_type = NULL;
        res->preflight = 1;
        cors(st->config, r.kind, req, res);
        return r.kind;
    }
    if (r.kind != ROUTE_UNKNOWN && !method_allowed(r.kind, req->method)) {
        res->allow = serve_route_allow(r.kind);
        serve_error(res, 405, "method %s not allowed here; allowed: %s", req->method, res->allow);
        return r.kind;
    }
    dispatch(st, &r, req, res);
    if (mfkv_buf_status(&res->body)) serve_error(res, 500, "out of memory");
    cors(st->config, r.kind, req, res);
    return r.kind;
}
