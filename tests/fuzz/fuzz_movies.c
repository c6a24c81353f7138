/* Fuzz target: item titles and genres (mfkv_movies_load). */
#include "fuzz.h"
#include "io/ratings.h"

int fuzz_movies_one(const uint8_t *data, size_t size)
{
    char path[256];
    if (!fuzz_put(path, sizeof path, "movies", data, size)) return 0;
    mfkv_movies mv;
    mfkv_diag d = {0};
    if (mfkv_movies_load(path, &mv, &d) == 0) mfkv_movies_free(&mv);
    fuzz_drop(path);
    return 0;
}
