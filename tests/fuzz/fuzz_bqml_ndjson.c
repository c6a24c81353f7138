/* Fuzz target: BigQuery ML ML.WEIGHTS as NDJSON (mfkv_load_bqml_ndjson). */
#include "fuzz.h"
#include "io/factors.h"

static void fuzz_say_model(char *out, size_t cap, int rc, const mfkv_model *m)
{
    if (rc) FUZZ_SAY(out, cap, "status %d", rc);
    else
        FUZZ_SAY(out, cap, "ok users=%u items=%u factors=%u global=%g", m->user_ids.n, m->item_ids.n,
                 m->n_factors, m->global_bias);
}

void fuzz_bqml_ndjson_outcome(const uint8_t *data, size_t size, char *out, size_t cap)
{
    char path[256];
    FUZZ_SAY(out, cap, "unwritable");
    if (!fuzz_put(path, sizeof path, "weights.ndjson", data, size)) return;
    mfkv_model m;
    mfkv_diag d = {0};
    int rc = mfkv_load_bqml_ndjson(path, NULL, &m, &d);
    fuzz_say_model(out, cap, rc, &m);
    if (rc == 0) mfkv_model_free(&m);
    fuzz_drop(path);
}

int fuzz_bqml_ndjson_one(const uint8_t *data, size_t size)
{
    fuzz_bqml_ndjson_outcome(data, size, NULL, 0);
    return 0;
}
