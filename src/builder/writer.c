/*
 * writer.c - lay out the store described in src/format.h.
 *
 * Records are appended in key order (MDB_APPEND), so pages fill completely
 * and the same inputs always produce the same sequence of LMDB operations,
 * hence a byte-identical file: LMDB zero-fills unused page space and the
 * header's only time-dependent field is the build time the caller passes.
 */
#include "builder/writer.h"

#include <errno.h>
#include <lmdb.h>
#include <stdlib.h>
#include <string.h>

#include "common/atomic_file.h"
#include "common/bytes.h"
#include "mfkv.h"
#include "layout.h"
#include "builder/seal.h"

enum { RECORDS_PER_TXN = 16384 }; /* bounds LMDB's dirty-page list */

typedef struct writer {
    MDB_env *env;
    MDB_txn *txn;
    MDB_dbi meta, users, items;
    unsigned in_txn;
    unsigned char *buf;
    size_t buf_cap;
    XXH3_state_t *digest;
    const char *path;
    mfkv_diag *d;
} writer;

static int lmdb_fail(writer *w, int rc, const char *what)
{
    int status = rc == MDB_MAP_FULL ? MFKV_LIMIT : rc == ENOMEM ? MFKV_NOMEM : MFKV_IO;
    return mfkv_fail(w->d, status, "%s: %s: %s", w->path, what, mdb_strerror(rc));
}

static int reserve(writer *w, size_t len)
{
    if (len <= w->buf_cap) return MFKV_OK;
    size_t cap = w->buf_cap ? w->buf_cap : 4096;
    while (cap < len) cap *= 2;
    unsigned char *b = realloc(w->buf, cap);
    if (!b) return mfkv_fail(w->d, MFKV_NOMEM, "%s: out of memory", w->path);
    w->buf = b;
    w->buf_cap = cap;
    return MFKV_OK;
}

/* Frame w->buf[8..len) with its checksum and put it under @p key; every
 * record but the header feeds the store digest, in write order. */
static int put_record(writer *w, MDB_dbi dbi, const void *key, size_t key_len, size_t len, unsigned flags,
                      int in_digest)
{
    uint64_t sum = mfkv_record_checksum(key, key_len, w->buf + MFKV_RECORD_CHECKSUM_LEN,
                                        len - MFKV_RECORD_CHECKSUM_LEN);
    mfkv_put_u64(w->buf, sum);
    if (in_digest) XXH3_64bits_update(w->digest, w->buf, MFKV_RECORD_CHECKSUM_LEN);
    MDB_val k = {key_len, (void *)key}, v = {len, w->buf};
    int rc = mdb_put(w->txn, dbi, &k, &v, flags);
    if (rc) return lmdb_fail(w, rc, "write");
    if (++w->in_txn == RECORDS_PER_TXN) {
        w->in_txn = 0;
        if ((rc = mdb_txn_commit(w->txn))) {
            w->txn = NULL;
            return lmdb_fail(w, rc, "commit");
        }
        if ((rc = mdb_txn_begin(w->env, NULL, 0, &w->txn))) {
            w->txn = NULL;
            return lmdb_fail(w, rc, "begin");
        }
    }
    return MFKV_OK;
}

static int put_list(writer *w, MDB_dbi dbi, const void *key, size_t key_len, const uint32_t *item,
                    const float *score, uint32_t count, unsigned flags)
{
    size_t len = mfkv_list_record_len(count);
    int rc = reserve(w, len);
    if (rc) return rc;
    unsigned char *p = w->buf + MFKV_RECORD_CHECKSUM_LEN;
    mfkv_put_u32(p, count);
    p += MFKV_LIST_COUNT_LEN;
    for (uint32_t i = 0; i < count; i++) mfkv_put_u32(p + 4 * (size_t)i, item[i]);
    p += 4 * (size_t)count;
    for (uint32_t i = 0; i < count; i++) mfkv_put_f32(p + 4 * (size_t)i, score[i]);
    return put_record(w, dbi, key, key_len, len, flags, 1);
}

/* LMDB's default key order: bytes, then length. */
static int by_key_bytes(const void *pa, const void *pb, void *ctx)
{
    const mfkv_idtab *ids = ctx;
    uint32_t a = *(const uint32_t *)pa, b = *(const uint32_t *)pb;
    size_t la, lb;
    const char *sa = mfkv_idtab_str(ids, a, &la), *sb = mfkv_idtab_str(ids, b, &lb);
    int c = memcmp(sa, sb, la < lb ? la : lb);
    return c ? c : (la > lb) - (la < lb);
}

static int write_source_users(writer *w, const mfkv_user_source *src)
{
    for (uint32_t i = 0; i < src->n_users; i++) {
        mfkv_user_list u;
        int rc = src->next(src->ctx, &u, w->d);
        if (rc == MFKV_NOTFOUND) return mfkv_fail(w->d, MFKV_INTERNAL, "%s: %u users announced, %u given", w->path, src->n_users, i);
        if (rc || (rc = put_list(w, w->users, u.id, u.id_len, u.item, u.score, u.count, MDB_APPEND))) return rc;
    }
    return MFKV_OK;
}

static uint32_t n_users(const mfkv_write_contents *c)
{
    return c->users ? c->users->n_users : c->model->user_ids.n;
}

static int write_users(writer *w, const mfkv_write_contents *c)
{
    if (c->users) return write_source_users(w, c->users);
    const mfkv_idtab *ids = &c->model->user_ids;
    uint32_t *order = malloc((size_t)ids->n * sizeof *order + 1);
    if (!order) return mfkv_fail(w->d, MFKV_NOMEM, "%s: out of memory", w->path);
    for (uint32_t u = 0; u < ids->n; u++) order[u] = u;
    qsort_r(order, ids->n, sizeof *order, by_key_bytes, (void *)ids);
    const mfkv_topk_result *r = c->lists;
    int rc = MFKV_OK;
    for (uint32_t i = 0; i < ids->n && !rc; i++) {
        uint32_t u = order[i];
        size_t len;
        const char *key = mfkv_idtab_str(ids, u, &len);
        rc = put_list(w, w->users, key, len, r->item + (size_t)u * r->k, r->score + (size_t)u * r->k,
                      r->count[u], MDB_APPEND);
    }
    free(order);
    return rc;
}

static size_t text_len(const char *const *texts, uint32_t i)
{
    return texts && texts[i] ? strlen(texts[i]) : 0;
}

static int write_items(writer *w, const mfkv_write_contents *c)
{
    const mfkv_idtab *ids = &c->model->item_ids;
    for (uint32_t i = 0; i < ids->n; i++) {
        size_t id_len;
        const char *id = mfkv_idtab_str(ids, i, &id_len);
        size_t tl = text_len(c->titles, i), gl = text_len(c->genres, i);
        if (tl > MFKV_MAX_TEXT_LEN || gl > MFKV_MAX_TEXT_LEN)
            return mfkv_fail(w->d, MFKV_LIMIT, "item %s: title or genres longer than %u bytes", id, MFKV_MAX_TEXT_LEN);
        size_t len = MFKV_RECORD_CHECKSUM_LEN + MFKV_ITEM_FIXED_LEN + id_len + tl + gl;
        int rc = reserve(w, len);
        if (rc) return rc;
        unsigned char *p = w->buf + MFKV_RECORD_CHECKSUM_LEN;
        mfkv_put_u32(p, (uint32_t)id_len);
        mfkv_put_u32(p + 4, (uint32_t)tl);
        mfkv_put_u32(p + 8, (uint32_t)gl);
        p += MFKV_ITEM_FIXED_LEN;
        memcpy(p, id, id_len);
        if (tl) memcpy(p + id_len, c->titles[i], tl);
        if (gl) memcpy(p + id_len + tl, c->genres[i], gl);
        unsigned char key[4];
        mfkv_put_u32be(key, i);
        if ((rc = put_record(w, w->items, key, sizeof key, len, MDB_APPEND, 1))) return rc;
    }
    return MFKV_OK;
}

static int write_header(writer *w, const mfkv_write_contents *c, uint64_t digest)
{
    size_t prov_len = c->provenance ? strlen(c->provenance) : 0;
    size_t len = MFKV_RECORD_CHECKSUM_LEN + MFKV_HEADER_FIXED_LEN + prov_len;
    int rc = reserve(w, len);
    if (rc) return rc;
    unsigned char *p = w->buf + MFKV_RECORD_CHECKSUM_LEN;
    memcpy(p, MFKV_MAGIC, MFKV_MAGIC_LEN);
    mfkv_put_u32(p + 8, MFKV_FORMAT_MAJOR);
    mfkv_put_u32(p + 12, MFKV_FORMAT_MINOR);
    mfkv_put_u32(p + 16, c->lists->k);
    mfkv_put_u32(p + 20, c->model->n_factors);
    mfkv_put_u32(p + 24, n_users(c));
    mfkv_put_u32(p + 28, c->model->item_ids.n);
    uint32_t flags = (c->fallback_item ? MFKV_FLAG_FALLBACK : 0) | (c->titles ? MFKV_FLAG_TITLES : 0);
    mfkv_put_u32(p + 32, flags);
    mfkv_put_u32(p + 36, (uint32_t)prov_len);
    mfkv_put_i64(p + 40, c->build_time);
    mfkv_put_u64(p + 48, digest);
    if (prov_len) memcpy(p + MFKV_HEADER_FIXED_LEN, c->provenance, prov_len);
    return put_record(w, w->meta, MFKV_KEY_HEADER, strlen(MFKV_KEY_HEADER), len, 0, 0);
}

/* Generous: LMDB only reserves address space for the map, and the map size
 * is recorded in the file, so it must depend on the inputs alone. */
static size_t map_size_for(const mfkv_write_contents *c)
{
    size_t per_user = mfkv_list_record_len(c->lists->k) + MFKV_MAX_ID_LEN + 64;
    size_t per_item = 2 * MFKV_MAX_TEXT_LEN + MFKV_MAX_ID_LEN + 64;
    size_t users = (size_t)n_users(c) * (per_user + 4096 * (per_user > 2000));
    size_t bytes = 2 * (users + (size_t)c->model->item_ids.n * (c->titles ? per_item : 300)) + (64u << 20);
    return (bytes + 4095) & ~(size_t)4095;
}

static int write_all(writer *w, const mfkv_write_contents *c)
{
    int rc;
    if ((rc = mdb_env_create(&w->env))) return lmdb_fail(w, rc, "create");
    mdb_env_set_maxdbs(w->env, MFKV_DB_COUNT);
    if ((rc = mdb_env_set_mapsize(w->env, map_size_for(c)))) return lmdb_fail(w, rc, "map size");
    /* One writer, no readers until the rename: no lock file, and one sync at the end. */
    if ((rc = mdb_env_open(w->env, w->path, MDB_NOSUBDIR | MDB_NOLOCK | MDB_NOSYNC, 0644)))
        return lmdb_fail(w, rc, "open");
    if ((rc = mdb_txn_begin(w->env, NULL, 0, &w->txn))) return lmdb_fail(w, rc, "begin");
    if ((rc = mdb_dbi_open(w->txn, MFKV_DB_META, MDB_CREATE, &w->meta)) ||
        (rc = mdb_dbi_open(w->txn, MFKV_DB_USERS, MDB_CREATE, &w->users)) ||
        (rc = mdb_dbi_open(w->txn, MFKV_DB_ITEMS, MDB_CREATE, &w->items)))
        return lmdb_fail(w, rc, "create databases");
    if ((rc = write_users(w, c)) || (rc = write_items(w, c))) return rc;
    if (c->fallback_item &&
        (rc = put_list(w, w->meta, MFKV_KEY_FALLBACK, strlen(MFKV_KEY_FALLBACK), c->fallback_item,
                       c->fallback_score, c->fallback_count, 0)))
        return rc;
    if ((rc = write_header(w, c, XXH3_64bits_digest(w->digest)))) return rc;
    rc = mdb_txn_commit(w->txn);
    w->txn = NULL;
    if (rc) return lmdb_fail(w, rc, "commit");
    if ((rc = mdb_env_sync(w->env, 1))) return lmdb_fail(w, rc, "sync");
    return MFKV_OK;
}

int mfkv_write_file(const char *path, const mfkv_write_contents *c, mfkv_diag *d)
{
    mfkv_atomic_file f;
    int rc = mfkv_atomic_open(&f, path, d);
    if (rc) return rc;
    writer w = {.path = f.tmp, .d = d, .digest = XXH3_createState()};
    if (!w.digest) rc = mfkv_fail(d, MFKV_NOMEM, "%s: out of memory", path);
    else {
        XXH3_64bits_reset(w.digest);
        rc = write_all(&w, c);
    }
    if (w.txn) mdb_txn_abort(w.txn);
    if (w.env) mdb_env_close(w.env);
    free(w.buf);
    XXH3_freeState(w.digest);
    if (!rc && (rc = mfkv_seal_file(f.fd)))
        rc = rc == MFKV_NOMEM ? mfkv_fail(d, rc, "%s: out of memory", f.tmp)
                              : mfkv_fail_errno(d, "%s: cannot write the page table and trailer", f.tmp);
    if (rc) {
        mfkv_atomic_abort(&f);
        return rc;
    }
    return mfkv_atomic_commit(&f, d);
}
