/* Fuzz target: rating logs (mfkv_ratings_load), strict and with
 * skip_invalid, since the two take different paths on a bad line. */
#include "fuzz.h"
#include "io/ratings.h"

int fuzz_ratings_one(const uint8_t *data, size_t size)
{
    char path[256];
    if (!fuzz_put(path, sizeof path, "ratings", data, size)) return 0;
    for (int skip = 0; skip <= 1; skip++) {
        mfkv_ratings_opts o = {.skip_invalid = skip};
        mfkv_ratings r;
        mfkv_diag d = {0};
        if (mfkv_ratings_load(path, &o, &r, &d) == 0) mfkv_ratings_free(&r);
    }
    fuzz_drop(path);
    return 0;
}
