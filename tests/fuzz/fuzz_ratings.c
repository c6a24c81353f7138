/* Fuzz target: rating logs (mfkv_ratings_load), strict and with
 * skip_invalid, since the two take different paths on a bad line. */
#include "fuzz.h"
#include "io/ratings.h"

/* Strict, then skip_invalid: "strict ...; skip ...". */
void fuzz_ratings_outcome(const uint8_t *data, size_t size, char *out, size_t cap)
{
    char path[256];
    FUZZ_SAY(out, cap, "unwritable");
    if (!fuzz_put(path, sizeof path, "ratings", data, size)) return;
    char said[2][96];
    for (int skip = 0; skip <= 1; skip++) {
        mfkv_ratings_opts o = {.skip_invalid = skip};
        mfkv_ratings r;
        mfkv_diag d = {0};
        int rc = mfkv_ratings_load(path, &o, &r, &d);
        if (rc) snprintf(said[skip], sizeof said[skip], "status %d", rc);
        else {
            double sum = 0;
            for (size_t j = 0; j < r.n; j++) sum += r.rating[j];
            snprintf(said[skip], sizeof said[skip], "ok n=%zu users=%u items=%u sum=%g skipped=%zu", r.n,
                     r.users.n, r.items.n, sum, r.skipped);
            mfkv_ratings_free(&r);
        }
    }
    FUZZ_SAY(out, cap, "strict %s; skip %s", said[0], said[1]);
    fuzz_drop(path);
}

int fuzz_ratings_one(const uint8_t *data, size_t size)
{
    fuzz_ratings_outcome(data, size, NULL, 0);
    return 0;
}
