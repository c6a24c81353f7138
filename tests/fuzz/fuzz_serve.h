/*
 * fuzz_serve.h - the server state the serve fuzz targets share: a small store
 * built once per process (3 users, 5 items, fallback list) in $TMPDIR, and
 * two states over it, without and with --fallback.  A header, so that
 * test_fuzz_replay.c can #include both targets.
 */
#ifndef MFKV_FUZZ_SERVE_H
#define MFKV_FUZZ_SERVE_H

#include <string.h>

#include "fuzz.h"

#include "builder/build.h"
#include "serve/handler.h"

static serve_config fuzz_config[2]; /* without and with --fallback */
static serve_state fuzz_state[2];

/* Build the store and two server states over it; exits on failure, since
 * nothing can be fuzzed without them. */
static void fuzz_serve_setup(void)
{
    static const char *const users[] = {"1", "2", "u3"}, *const items[] = {"10", "20", "30", "7", "x&<y>"};
    mfkv_model m;
    mfkv_model_init(&m);
    m.n_factors = 2;
    uint32_t at;
    for (size_t i = 0; i < 3; i++) mfkv_idtab_intern(&m.user_ids, users[i], strlen(users[i]), &at, NULL);
    for (size_t i = 0; i < 5; i++) mfkv_idtab_intern(&m.item_ids, items[i], strlen(items[i]), &at, NULL);
    if (mfkv_model_alloc(&m)) abort();
    for (size_t i = 0; i < 6; i++) m.user_factors[i] = (float)i * 0.37f - 1.0f;
    for (size_t i = 0; i < 10; i++) m.item_factors[i] = 1.0f - (float)i * 0.21f;
    for (size_t i = 0; i < 3; i++) m.user_bias[i] = 0.1f * (float)i;
    for (size_t i = 0; i < 5; i++) m.item_bias[i] = -0.05f * (float)i;
    m.global_bias = 3.5;

    const char *tmp = getenv("TMPDIR");
    static char path[256];
    snprintf(path, sizeof path, "%s/mfkv-fuzz-%ld-serve.mfkv", tmp && *tmp ? tmp : "/tmp", (long)getpid());
    mfkv_build_request req = {.model = &m, .k = 3, .threads = 1, .fallback = 1, .build_time = 1700000000};
    mfkv_build_summary sum;
    mfkv_diag d = {0};
    if (mfkv_build_store(path, &req, &sum, &d)) {
        fprintf(stderr, "fuzz_serve_request: cannot build %s: %s\n", path, d.msg);
        abort();
    }
    mfkv_model_free(&m);
    static serve_model_spec model;
    model = (serve_model_spec){.name = "recommender_model", .path = path};
    for (int f = 0; f < 2; f++) {
        serve_config_defaults(&fuzz_config[f]);
        fuzz_config[f].models = &model;
        fuzz_config[f].n_models = 1;
        fuzz_config[f].fallback = f;
        if (f) fuzz_config[f].cors_origin = "https://a.example";
        else fuzz_config[f].predict_route = "/predict", fuzz_config[f].health_route = "/health";
        fuzz_state[f].config = &fuzz_config[f];
        serve_metrics_init(&fuzz_state[f].metrics);
        if (serve_models_open(&fuzz_state[f], &d)) abort();
    }
    unlink(path); /* the mappings stay valid */
}

/* fuzz_serve_setup() once. */
static void fuzz_serve_ready(void)
{
    static int ready;
    if (!ready) {
        fuzz_serve_setup();
        ready = 1;
    }
}

#endif
