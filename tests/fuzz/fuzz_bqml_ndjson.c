/* Fuzz target: BigQuery ML ML.WEIGHTS as NDJSON (mfkv_load_bqml_ndjson). */
#include "fuzz.h"
#include "io/factors.h"

int fuzz_bqml_ndjson_one(const uint8_t *data, size_t size)
{
    char path[256];
    if (!fuzz_put(path, sizeof path, "weights.ndjson", data, size)) return 0;
    mfkv_model m;
    mfkv_diag d = {0};
    if (mfkv_load_bqml_ndjson(path, NULL, &m, &d) == 0) mfkv_model_free(&m);
    fuzz_drop(path);
    return 0;
}
