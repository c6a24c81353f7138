/* Fuzz target: the unnested long CSV weights (mfkv_load_bqml_csv).  The
 * input holds the users file, a line "===", then the items file; without
 * that line both files get the whole input. */
#include "fuzz.h"
#include "io/factors.h"

#define FUZZ_CSV_SPLIT "\n===\n"

void fuzz_bqml_csv_outcome(const uint8_t *data, size_t size, char *out, size_t cap)
{
    FUZZ_SAY(out, cap, "unwritable");
    const uint8_t *cut = memmem(data, size, FUZZ_CSV_SPLIT, strlen(FUZZ_CSV_SPLIT));
    size_t users_len = cut ? (size_t)(cut - data) + 1 : size; /* keep the users' last newline */
    const uint8_t *items = cut ? cut + strlen(FUZZ_CSV_SPLIT) : data;
    size_t items_len = cut ? size - (size_t)(items - data) : size;
    char upath[256], ipath[256];
    const char *u = fuzz_put(upath, sizeof upath, "users.csv", data, users_len);
    const char *i = fuzz_put(ipath, sizeof ipath, "items.csv", items, items_len);
    if (u && i) {
        mfkv_model m;
        mfkv_diag d = {0};
        int rc = mfkv_load_bqml_csv(u, i, 3.5, 0, &m, &d);
        if (rc) FUZZ_SAY(out, cap, "status %d", rc);
        else
            FUZZ_SAY(out, cap, "ok users=%u items=%u factors=%u", m.user_ids.n, m.item_ids.n, m.n_factors);
        if (rc == 0) mfkv_model_free(&m);
    }
    fuzz_drop(u);
    fuzz_drop(i);
}

int fuzz_bqml_csv_one(const uint8_t *data, size_t size)
{
    fuzz_bqml_csv_outcome(data, size, NULL, 0);
    return 0;
}
