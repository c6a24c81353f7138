/* Fuzz target: item titles and genres (mfkv_movies_load). */
#include "fuzz.h"
#include "io/ratings.h"

/* Counts, and the last movie's id, title and genres. */
void fuzz_movies_outcome(const uint8_t *data, size_t size, char *out, size_t cap)
{
    char path[256];
    FUZZ_SAY(out, cap, "unwritable");
    if (!fuzz_put(path, sizeof path, "movies", data, size)) return;
    mfkv_movies mv;
    mfkv_diag d = {0};
    int rc = mfkv_movies_load(path, &mv, &d);
    if (rc) FUZZ_SAY(out, cap, "status %d", rc);
    else {
        uint32_t last = mv.ids.n - 1;
        FUZZ_SAY(out, cap, "ok n=%u last=%s|%s|%s", mv.ids.n, mfkv_idtab_str(&mv.ids, last, NULL),
                 mfkv_idtab_str(&mv.text, mv.title[last], NULL), mfkv_idtab_str(&mv.text, mv.genres[last], NULL));
        mfkv_movies_free(&mv);
    }
    fuzz_drop(path);
}

int fuzz_movies_one(const uint8_t *data, size_t size)
{
    fuzz_movies_outcome(data, size, NULL, 0);
    return 0;
}
