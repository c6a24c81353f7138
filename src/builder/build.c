#include "builder/build.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "builder/blas_kernel.h"
#include "builder/shard.h"
#include "builder/writer.h"
#include "common/clock.h"
#include "common/digest.h"
#include "mfkv.h"
#include "layout.h"

/* Seen (user, item) pairs in model indices, CSR by user.  Ratings of users or
 * items the model does not know cannot matter and are left out. */
static int build_exclusions(const mfkv_model *m, const mfkv_ratings *r, uint64_t **offset_out,
                            uint32_t **item_out, uint64_t *pairs)
{
    uint32_t nu = m->user_ids.n;
    uint32_t *user_of = malloc((size_t)r->users.n * sizeof *user_of + 1);
    uint32_t *item_of = malloc((size_t)r->items.n * sizeof *item_of + 1);
    uint64_t *offset = calloc((size_t)nu + 1, sizeof *offset);
    uint32_t *item = NULL;
    if (!user_of || !item_of || !offset) goto nomem;
    for (uint32_t i = 0; i < r->users.n; i++) {
        size_t len;
        const char *id = mfkv_idtab_str(&r->users, i, &len);
        if (mfkv_idtab_find(&m->user_ids, id, len, &user_of[i])) user_of[i] = UINT32_MAX;
    }
    for (uint32_t i = 0; i < r->items.n; i++) {
        size_t len;
        const char *id = mfkv_idtab_str(&r->items, i, &len);
        if (mfkv_idtab_find(&m->item_ids, id, len, &item_of[i])) item_of[i] = UINT32_MAX;
    }
    uint64_t total = 0;
    for (size_t j = 0; j < r->n; j++)
        if (user_of[r->user[j]] != UINT32_MAX && item_of[r->item[j]] != UINT32_MAX) {
            offset[user_of[r->user[j]] + 1]++;
            total++;
        }
    for (uint32_t u = 0; u < nu; u++) offset[u + 1] += offset[u];
    item = malloc(total * sizeof *item + 1);
    uint64_t *fill = malloc(((size_t)nu + 1) * sizeof *fill);
    if (!item || !fill) {
        free(fill);
        goto nomem;
    }
    memcpy(fill, offset, ((size_t)nu + 1) * sizeof *fill);
    for (size_t j = 0; j < r->n; j++) {
        uint32_t u = user_of[r->user[j]], i = item_of[r->item[j]];
        if (u != UINT32_MAX && i != UINT32_MAX) item[fill[u]++] = i;
    }
    free(fill);
    free(user_of);
    free(item_of);
    *offset_out = offset;
    *item_out = item;
    *pairs = total;
    return MFKV_OK;
nomem:
    free(user_of);
    free(item_of);
    free(offset);
    free(item);
    return MFKV_NOMEM;
}

/* Per-item title and genres pointers into the movies table, by item id. */
static int match_titles(const mfkv_model *m, const mfkv_movies *mv, const char ***titles,
                        const char ***genres, uint32_t *matched)
{
    uint32_t n = m->item_ids.n;
    *titles = calloc((size_t)n + 1, sizeof **titles);
    *genres = calloc((size_t)n + 1, sizeof **genres);
    if (!*titles || !*genres) return MFKV_NOMEM;
    *matched = 0;
    for (uint32_t i = 0; i < n; i++) {
        size_t len;
        const char *id = mfkv_idtab_str(&m->item_ids, i, &len);
        uint32_t j;
        if (mfkv_idtab_find(&mv->ids, id, len, &j)) continue;
        (*titles)[i] = mfkv_idtab_str(&mv->text, mv->title[j], NULL);
        (*genres)[i] = mfkv_idtab_str(&mv->text, mv->genres[j], NULL);
        (*matched)++;
    }
    return MFKV_OK;
}

/* The item side of the model (src/format.h, MFKV_PROV_ITEM_SIDE): shards
 * built from arrays have no input files to digest, yet must prove they
 * share it. */
static uint64_t item_side_digest(const mfkv_model *m)
{
    XXH3_state_t st;
    XXH3_64bits_reset(&st);
    for (uint32_t i = 0; i < m->item_ids.n; i++) {
        size_t len;
        const char *id = mfkv_idtab_str(&m->item_ids, i, &len);
        uint32_t l32 = (uint32_t)len;
        XXH3_64bits_update(&st, &l32, sizeof l32);
        XXH3_64bits_update(&st, id, len);
    }
    XXH3_64bits_update(&st, m->item_factors, (size_t)m->item_ids.n * m->n_factors * sizeof(float));
    if (m->item_bias) XXH3_64bits_update(&st, m->item_bias, (size_t)m->item_ids.n * sizeof(float));
    XXH3_64bits_update(&st, &m->global_bias, sizeof m->global_bias);
    return XXH3_64bits_digest(&st);
}

/* Inputs are named by file name only, so the store does not depend on
 * where the build ran. */
static int provenance(const mfkv_build_request *req, char **out, mfkv_diag *d)
{
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    if (!f) return mfkv_fail(d, MFKV_NOMEM, "out of memory");
    fprintf(f, "builder=mfkv %s\n", mfkv_version());
    fprintf(f, "options=%s\n", req->options ? req->options : "");
    fprintf(f, MFKV_PROV_BLAS "%s\n", mfkv_blas_kernel());
    for (size_t i = 0; i < req->n_inputs; i++) {
        char hex[33];
        int rc = mfkv_file_digest(req->inputs[i], hex, d);
        if (rc) {
            fclose(f);
            free(buf);
            return rc;
        }
        const char *slash = strrchr(req->inputs[i], '/');
        fprintf(f, "input=%s xxh3-128:%s\n", slash ? slash + 1 : req->inputs[i], hex);
    }
    fprintf(f, MFKV_PROV_ITEM_SIDE "%016llx\n", (unsigned long long)item_side_digest(req->model));
    if (req->shard_count) fprintf(f, MFKV_PROV_SHARD "%u/%u\n", req->shard_index, req->shard_count);
    if (fclose(f) != 0) {
        free(buf);
        return mfkv_fail(d, MFKV_NOMEM, "out of memory");
    }
    *out = buf;
    return MFKV_OK;
}

int mfkv_build_store(const char *path, mfkv_build_request *req, mfkv_build_summary *sum, mfkv_diag *d)
{
    mfkv_model *m = req->model;
    memset(sum, 0, sizeof *sum);
    uint64_t *excl_off = NULL;
    uint32_t *excl_item = NULL, *fb_item = NULL;
    float *fb_score = NULL;
    const char **titles = NULL, **genres = NULL;
    char *prov = NULL;
    mfkv_topk_result lists = {0};
    mfkv_exclusions ex;
    double t0 = mfkv_now();

    int rc = mfkv_model_sort_items(m);
    if (!rc && req->shard_count) rc = mfkv_model_keep_shard(m, req->shard_index, req->shard_count);
    if (!rc && req->exclude_seen)
        rc = build_exclusions(m, req->exclude_seen, &excl_off, &excl_item, &sum->excluded_pairs);
    if (!rc && req->titles) rc = match_titles(m, req->titles, &titles, &genres, &sum->titled_items);
    if (rc) {
        rc = mfkv_fail(d, rc, "%s", mfkv_strerror(rc));
        goto out;
    }
    if ((rc = provenance(req, &prov, d))) goto out;

    ex = (mfkv_exclusions){excl_off, excl_item};
    mfkv_topk_opts topts = {.k = req->k, .threads = req->threads, .exclude = excl_off ? &ex : NULL,
                            .progress = req->progress, .progress_ctx = req->progress_ctx};
    double t1 = mfkv_now();
    sum->prepare_seconds = t1 - t0;
    /* A shard may hold no user at all (few users, many shards): still a
     * store, so the set of shards is complete for mfkv merge. */
    if (req->shard_count && m->user_ids.n == 0) lists.k = req->k;
    else if ((rc = mfkv_topk_compute(m, &topts, &lists, d))) goto out;
    double t2 = mfkv_now();
    sum->topk_seconds = t2 - t1;

    mfkv_write_contents c = {.model = m, .lists = &lists, .titles = titles, .genres = genres,
                             .provenance = prov, .build_time = req->build_time};
    if (req->fallback) {
        fb_item = malloc((size_t)req->k * sizeof *fb_item);
        fb_score = malloc((size_t)req->k * sizeof *fb_score);
        if (!fb_item || !fb_score || mfkv_topk_fallback(m, req->k, fb_item, fb_score, &c.fallback_count)) {
            rc = mfkv_fail(d, MFKV_NOMEM, "out of memory");
            goto out;
        }
        c.fallback_item = fb_item;
        c.fallback_score = fb_score;
    }
    if ((rc = mfkv_write_file(path, &c, d))) goto out;
    sum->write_seconds = mfkv_now() - t2;
    sum->users = m->user_ids.n;
    sum->items = m->item_ids.n;
    sum->k = req->k;
    sum->exact_rechecks = lists.exact_rechecks;
out:
    mfkv_topk_free(&lists);
    free(excl_off);
    free(excl_item);
    free(fb_item);
    free(fb_score);
    free(titles);
    free(genres);
    free(prov);
    return rc;
}
