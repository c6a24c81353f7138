/*
 * ratings.h - loaders for rating logs and item metadata.
 *
 * Formats, detected from the content:
 *  - MovieLens 1M/10M `ratings.dat`: user::item::rating::timestamp
 *  - MovieLens latest/25M `ratings.csv`: header userId,movieId,rating,timestamp
 *  - generic CSV/TSV with a header naming the columns (see mfkv_ratings_opts)
 * and for items:
 *  - `movies.dat`: id::title::genres, Latin-1, converted to UTF-8
 *  - `movies.csv`: header movieId,title,genres, UTF-8, quoted titles
 *
 * Bad lines are an error naming FILE:LINE: field NAME, or, with skip_invalid,
 * are counted in mfkv_ratings.skipped and left out.
 */
#ifndef MFKV_IO_RATINGS_H
#define MFKV_IO_RATINGS_H

#include <stddef.h>
#include <stdint.h>

#include "../common/diag.h"
#include "../common/idtab.h"

typedef struct mfkv_ratings {
    size_t n;
    uint32_t *user;      /* index into users */
    uint32_t *item;      /* index into items */
    float *rating;
    int64_t *timestamp;  /* 0 where the file has none */
    mfkv_idtab users, items;
    size_t skipped;      /* lines left out under mfkv_ratings_opts.skip_invalid */
} mfkv_ratings;

typedef struct mfkv_ratings_opts {
    /* Column names for generic CSV/TSV; NULL means the usual candidates
     * (user_id/userId/user, item_id/movieId/item, rating, timestamp). */
    const char *user_col, *item_col, *rating_col;
    int skip_invalid;
    /* Threads that read lines in parallel: 0 means one per online CPU (at
     * most 8).  What is loaded, and every message, is the same for any. */
    unsigned threads;
} mfkv_ratings_opts;

int mfkv_ratings_load(const char *path, const mfkv_ratings_opts *opts, mfkv_ratings *out,
                      mfkv_diag *d);
void mfkv_ratings_free(mfkv_ratings *r);

typedef struct mfkv_movies {
    mfkv_idtab ids;
    mfkv_idtab text; /* pool for titles and genres */
    uint32_t *title, *genres; /* index into text, per movie */
} mfkv_movies;

int mfkv_movies_load(const char *path, mfkv_movies *out, mfkv_diag *d);
void mfkv_movies_free(mfkv_movies *m);

#endif
