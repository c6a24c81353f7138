#include "builder/merge.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "builder/shard.h"
#include "builder/writer.h"
#include "format.h"
#include "mfkv.h"

typedef struct shard_in {
    const char *path;
    mfkv_store *st;
    mfkv_info info;
    uint32_t index, count;
    mfkv_iter *it;
    int live;             /* the head below is valid */
    const char *id;       /* head: the next user of this shard */
    size_t id_len;
    mfkv_list list;
} shard_in;

typedef struct merge_state {
    shard_in *in;
    size_t n;
    uint32_t n_items, done, total;
    uint32_t *item;       /* one list, decoded for the writer */
    float *score;
    mfkv_progress_fn progress;
    void *progress_ctx;
} merge_state;

/* LMDB's default key order, which the writer appends in: bytes, then length. */
static int key_cmp(const char *a, size_t la, const char *b, size_t lb)
{
    int c = memcmp(a, b, la < lb ? la : lb);
    return c ? c : (la > lb) - (la < lb);
}

static int advance(shard_in *s, mfkv_diag *d)
{
    int rc = mfkv_iter_next(s->it, &s->id, &s->id_len, &s->list);
    s->live = rc == MFKV_OK;
    if (rc == MFKV_NOTFOUND) return MFKV_OK;
    if (rc) return mfkv_fail(d, rc, "%s: reading users: %s", s->path, mfkv_strerror(rc));
    if (mfkv_shard_of(s->id, s->id_len, s->count) != s->index)
        return mfkv_fail(d, MFKV_INVAL, "%s: user '%.*s' belongs to shard %u/%u, not to this shard %u/%u", s->path,
                         (int)s->id_len, s->id, mfkv_shard_of(s->id, s->id_len, s->count), s->count, s->index,
                         s->count);
    return MFKV_OK;
}

/* The writer's user source: the smallest head over all shards.  The number
 * of shards is small (one per Spark task), so a linear scan beats a heap. */
static int next_user(void *ctx, mfkv_user_list *out, mfkv_diag *d)
{
    merge_state *m = ctx;
    shard_in *best = NULL;
    for (size_t i = 0; i < m->n; i++) {
        shard_in *s = &m->in[i];
        if (!s->live) continue;
        int c = best ? key_cmp(s->id, s->id_len, best->id, best->id_len) : -1;
        if (c == 0)
            return mfkv_fail(d, MFKV_INVAL, "user '%.*s' is in both %s and %s", (int)s->id_len, s->id, best->path,
                             s->path);
        if (c < 0) best = s;
    }
    if (!best) return MFKV_NOTFOUND;
    for (uint32_t j = 0; j < best->list.count; j++) {
        m->item[j] = mfkv_list_item_index(&best->list, j);
        m->score[j] = mfkv_list_score(&best->list, j);
        if (m->item[j] >= m->n_items)
            return mfkv_fail(d, MFKV_CORRUPT, "%s: user '%.*s': item index %u outside the item table", best->path,
                             (int)best->id_len, best->id, m->item[j]);
    }
    *out = (mfkv_user_list){best->id, best->id_len, m->item, m->score, best->list.count};
    if (++m->done % 65536 == 0 && m->progress)
        m->progress(m->progress_ctx, m->done, m->total);
    /* The writer copies the list before asking for the next one, and the
     * head's bytes stay mapped until the shard is closed. */
    int rc = advance(best, d);
    if (rc || m->done < m->total) return rc;
    for (size_t i = 0; i < m->n; i++)
        if (m->in[i].live)
            return mfkv_fail(d, MFKV_CORRUPT, "%s: more users than its header counts", m->in[i].path);
    return MFKV_OK;
}

/* Provenance without the lines starting with one of @p drop (a NULL-ended
 * list).  Without the shard line it is what the unsharded build records. */
static char *provenance_without(const mfkv_info *in, const char *const *drop)
{
    char *out = malloc(in->provenance_len + 1);
    if (!out) return NULL;
    size_t o = 0;
    const char *p = in->provenance, *end = p + in->provenance_len;
    while (p < end) {
        const char *nl = memchr(p, '\n', (size_t)(end - p));
        const char *next = nl ? nl + 1 : end;
        int keep = 1;
        for (const char *const *d = drop; keep && *d; d++) {
            size_t klen = strlen(*d);
            keep = !((size_t)(next - p) > klen && !memcmp(p, *d, klen));
        }
        if (keep) {
            memcpy(out + o, p, (size_t)(next - p));
            o += (size_t)(next - p);
        }
        p = next;
    }
    out[o] = 0;
    return out;
}

static const char *const not_the_shard[] = {MFKV_PROV_SHARD, NULL};
/* The BLAS kernel names the machine that computed a shard, not what it
 * computed (the lists are exact whatever the kernel): shards built on
 * different CPUs of one cluster merge, and the store keeps shard 0's line. */
static const char *const not_the_machine[] = {MFKV_PROV_SHARD, MFKV_PROV_BLAS, NULL};

static int same_bytes(const char *a, size_t la, const char *b, size_t lb)
{
    return la == lb && (la == 0 || !memcmp(a, b, la));
}

static int same_list(mfkv_store *a, mfkv_store *b, int *same)
{
    mfkv_list la, lb;
    int ra = mfkv_fallback(a, &la), rb = mfkv_fallback(b, &lb);
    if (ra && ra != MFKV_NOTFOUND) return ra;
    if (rb && rb != MFKV_NOTFOUND) return rb;
    *same = ra == rb && (ra || (la.count == lb.count && !memcmp(la.raw, lb.raw, (size_t)la.count * MFKV_LIST_ENTRY_LEN)));
    return MFKV_OK;
}

/* Everything but the users must be identical to shard 0's. */
static int check_compatible(const shard_in *ref, const shard_in *s, mfkv_diag *d)
{
    const mfkv_info *a = &ref->info, *b = &s->info;
    const char *what = NULL;
    char *pa = provenance_without(a, not_the_machine), *pb = provenance_without(b, not_the_machine);
    if (!pa || !pb) {
        free(pa);
        free(pb);
        return mfkv_fail(d, MFKV_NOMEM, "out of memory");
    }
    if (a->k != b->k) what = "k";
    else if (a->n_factors != b->n_factors) what = "the number of factors";
    else if (a->n_items != b->n_items) what = "the number of items";
    else if (a->has_fallback != b->has_fallback || a->has_titles != b->has_titles) what = "the options (fallback, titles)";
    else if (strcmp(pa, pb)) what = "the provenance (inputs, options or item side)";
    free(pa);
    free(pb);
    for (uint32_t i = 0; !what && i < a->n_items; i++) {
        mfkv_item_info x, y;
        if (mfkv_item(ref->st, i, &x) || mfkv_item(s->st, i, &y)) return mfkv_fail(d, MFKV_CORRUPT, "%s: item table", s->path);
        if (!same_bytes(x.id, x.id_len, y.id, y.id_len) || !same_bytes(x.title, x.title_len, y.title, y.title_len) ||
            !same_bytes(x.genres, x.genres_len, y.genres, y.genres_len))
            what = "the item table";
    }
    int same = 1, rc;
    if (!what && (rc = same_list(ref->st, s->st, &same))) return mfkv_fail(d, rc, "%s: fallback list: %s", s->path, mfkv_strerror(rc));
    if (!same) what = "the fallback list";
    if (what)
        return mfkv_fail(d, MFKV_INVAL, "%s and %s are not shards of one build: %s differs", ref->path, s->path, what);
    return MFKV_OK;
}

/* Open every input, read its shard line, and put shard I at in[I]. */
static int open_shards(const char *const *paths, size_t n, shard_in *in, mfkv_diag *d)
{
    shard_in tmp;
    for (size_t i = 0; i < n; i++) {
        shard_in *s = &in[i];
        s->path = paths[i];
        int rc = mfkv_open(paths[i], 0, &s->st);
        if (rc == MFKV_IO) return mfkv_fail_errno(d, "%s: cannot open", paths[i]);
        if (rc) return mfkv_fail(d, rc, "%s: %s", paths[i], mfkv_strerror(rc));
        mfkv_info_get(s->st, &s->info);
        if (!mfkv_provenance_shard(s->info.provenance, s->info.provenance_len, &s->index, &s->count))
            return mfkv_fail(d, MFKV_INVAL, "%s is not a shard store (no \"" MFKV_PROV_SHARD "I/N\" provenance line)", paths[i]);
        if (s->count != in[0].count)
            return mfkv_fail(d, MFKV_INVAL, "%s is shard %u/%u but %s is shard %u/%u", in[0].path, in[0].index,
                             in[0].count, s->path, s->index, s->count);
    }
    uint32_t count = in[0].count;
    /* Sort by shard index in place; duplicates and gaps show up as neighbours. */
    for (size_t i = 1; i < n; i++)
        for (size_t j = i; j > 0 && in[j - 1].index > in[j].index; j--) {
            tmp = in[j - 1];
            in[j - 1] = in[j];
            in[j] = tmp;
        }
    for (size_t i = 1; i < n; i++)
        if (in[i].index == in[i - 1].index)
            return mfkv_fail(d, MFKV_INVAL, "%s and %s are both shard %u/%u", in[i - 1].path, in[i].path, in[i].index, count);
    for (uint32_t i = 0; i < count; i++)
        if (i >= n || in[i].index != i)
            return mfkv_fail(d, MFKV_INVAL, "shard %u/%u is missing (%zu of %u shards given, the first %s)", i, count, n,
                             count, in[0].path);
    return MFKV_OK;
}

/* The writer's model: the item table of shard 0 (already in id order). */
static int item_side(const shard_in *ref, mfkv_model *m, char ***titles, char ***genres, mfkv_diag *d)
{
    m->n_factors = ref->info.n_factors;
    if (ref->info.has_titles) {
        *titles = calloc((size_t)ref->info.n_items + 1, sizeof **titles);
        *genres = calloc((size_t)ref->info.n_items + 1, sizeof **genres);
        if (!*titles || !*genres) return mfkv_fail(d, MFKV_NOMEM, "out of memory");
    }
    for (uint32_t i = 0; i < ref->info.n_items; i++) {
        mfkv_item_info it;
        uint32_t at;
        if (mfkv_item(ref->st, i, &it)) return mfkv_fail(d, MFKV_CORRUPT, "%s: item table", ref->path);
        int rc = mfkv_idtab_intern(&m->item_ids, it.id, it.id_len, &at, NULL);
        if (rc) return mfkv_fail(d, rc, "%s: item table: %s", ref->path, mfkv_strerror(rc));
        if (*titles && (!((*titles)[i] = strndup(it.title, it.title_len)) ||
                        !((*genres)[i] = strndup(it.genres, it.genres_len))))
            return mfkv_fail(d, MFKV_NOMEM, "out of memory");
    }
    return MFKV_OK;
}

int mfkv_merge_stores(const char *out, const char *const *paths, size_t n, mfkv_progress_fn progress,
                      void *progress_ctx, mfkv_merge_summary *sum, mfkv_diag *d)
{
    memset(sum, 0, sizeof *sum);
    if (n == 0) return mfkv_fail(d, MFKV_INVAL, "no shard stores given");
    shard_in *in = calloc(n, sizeof *in);
    merge_state ms = {.in = in, .n = n, .progress = progress, .progress_ctx = progress_ctx};
    mfkv_model model;
    mfkv_model_init(&model);
    char **titles = NULL, **genres = NULL, *prov = NULL;
    uint32_t *fb_item = NULL;
    float *fb_score = NULL;
    int rc = in ? open_shards(paths, n, in, d) : mfkv_fail(d, MFKV_NOMEM, "out of memory");
    for (size_t i = 1; !rc && i < n; i++) rc = check_compatible(&in[0], &in[i], d);
    if (!rc) rc = item_side(&in[0], &model, &titles, &genres, d);
    if (rc) goto out;
    const mfkv_info *ref = &in[0].info;
    uint64_t total = 0;
    int64_t when = ref->build_time;
    for (size_t i = 0; i < n; i++) {
        total += in[i].info.n_users;
        /* Shards built by separate tasks without SOURCE_DATE_EPOCH differ in
         * build time; the merged store is as new as its newest shard. */
        if (in[i].info.build_time > when) when = in[i].info.build_time;
    }
    if (total > UINT32_MAX) {
        rc = mfkv_fail(d, MFKV_LIMIT, "%llu users in all: more than a store holds", (unsigned long long)total);
        goto out;
    }
    ms.n_items = ref->n_items;
    ms.total = (uint32_t)total;
    ms.item = malloc(((size_t)ref->k + 1) * sizeof *ms.item);
    ms.score = malloc(((size_t)ref->k + 1) * sizeof *ms.score);
    prov = provenance_without(ref, not_the_shard);
    mfkv_topk_result lists = {.k = ref->k};
    mfkv_write_contents c = {.model = &model, .lists = &lists, .titles = (const char *const *)titles,
                             .genres = (const char *const *)genres, .build_time = when};
    if (!ms.item || !ms.score || !prov) {
        rc = mfkv_fail(d, MFKV_NOMEM, "out of memory");
        goto out;
    }
    c.provenance = prov;
    mfkv_list fb;
    if (ref->has_fallback) {
        if ((rc = mfkv_fallback(in[0].st, &fb))) {
            rc = mfkv_fail(d, rc, "%s: fallback list: %s", in[0].path, mfkv_strerror(rc));
            goto out;
        }
        fb_item = malloc(((size_t)fb.count + 1) * sizeof *fb_item);
        fb_score = malloc(((size_t)fb.count + 1) * sizeof *fb_score);
        if (!fb_item || !fb_score) {
            rc = mfkv_fail(d, MFKV_NOMEM, "out of memory");
            goto out;
        }
        for (uint32_t j = 0; j < fb.count; j++) {
            fb_item[j] = mfkv_list_item_index(&fb, j);
            fb_score[j] = mfkv_list_score(&fb, j);
        }
        c.fallback_item = fb_item;
        c.fallback_score = fb_score;
        c.fallback_count = fb.count;
    }
    for (size_t i = 0; i < n && !rc; i++) {
        rc = mfkv_iter_begin(in[i].st, &in[i].it);
        if (rc) rc = mfkv_fail(d, rc, "%s: %s", in[i].path, mfkv_strerror(rc));
        else rc = advance(&in[i], d);
    }
    if (rc) goto out;
    mfkv_user_source users = {.n_users = ms.total, .next = next_user, .ctx = &ms};
    c.users = &users;
    if ((rc = mfkv_write_file(out, &c, d))) goto out;
    *sum = (mfkv_merge_summary){.shards = (uint32_t)n, .users = ms.total, .items = ref->n_items, .k = ref->k};
out:
    for (size_t i = 0; in && i < n; i++) {
        mfkv_iter_end(in[i].it);
        mfkv_close(in[i].st);
    }
    for (uint32_t i = 0; titles && i < model.item_ids.n; i++) {
        free(titles[i]);
        free(genres[i]);
    }
    free(titles);
    free(genres);
    free(prov);
    free(fb_item);
    free(fb_score);
    free(ms.item);
    free(ms.score);
    mfkv_model_free(&model);
    free(in);
    return rc;
}
