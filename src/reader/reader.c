/*
 * reader.c - open an mfkv store and answer lookups from the mapping.
 *
 * The file is immutable once published, so it is opened MDB_RDONLY|MDB_NOLOCK:
 * no lock file, and a read transaction can live as long as the handle.  Each
 * thread lazily gets its own long-lived transaction (LMDB transactions belong
 * to one thread), so mfkv_get costs a TLS lookup plus the B-tree search and
 * allocates nothing.
 *
 * Nothing read from the file is trusted: LMDB checks page numbers against
 * the header, open() checks that every page the header claims lies inside
 * the file (a truncated file would otherwise fault on access), each value is
 * checked to lie inside the mapping before it is hashed, and each record's
 * key-seeded checksum is verified before any of its bytes are interpreted.
 */
#include <errno.h>
#include <fcntl.h>
#include <lmdb.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/bytes.h"
#include "mfkv.h"
#include "reader/lmdb_meta.h"
#include "reader/record.h"
#include "reader/store_internal.h"
#include "reader/trailer.h"

struct mfkv_store {
    MDB_env *env;
    MDB_dbi dbi_meta, dbi_users, dbi_items;
    unsigned flags;
    const unsigned char *map;
    size_t file_size;
    mfkv_info info;
    char *provenance;
    mfkv_item_info *items; /* the item table, decoded and verified at open */

    pthread_key_t txn_key;
    pthread_mutex_t txn_lock; /* guards txns[] */
    MDB_txn **txns;           /* every per-thread transaction, aborted at close */
    size_t n_txns, cap_txns;
};

int mfkv_status_from_mdb(int rc)
{
    switch (rc) {
    case MDB_SUCCESS: return MFKV_OK;
    case MDB_NOTFOUND: return MFKV_NOTFOUND;
    case ENOMEM: return MFKV_NOMEM;
    case MDB_INVALID: case MDB_VERSION_MISMATCH: case MDB_INCOMPATIBLE: return MFKV_FORMAT;
    case MDB_CORRUPTED: case MDB_PAGE_NOTFOUND: case MDB_BAD_VALSIZE: return MFKV_CORRUPT;
    default: return rc > 0 ? MFKV_IO : MFKV_CORRUPT;
    }
}

/* A value must lie wholly inside the file before any byte of it is read. */
int mfkv_in_map(const mfkv_store *s, const MDB_val *v)
{
    const unsigned char *p = v->mv_data;
    return p >= s->map && v->mv_size <= s->file_size && (size_t)(p - s->map) <= s->file_size - v->mv_size;
}

static int thread_txn(mfkv_store *s, MDB_txn **out)
{
    MDB_txn *txn = pthread_getspecific(s->txn_key);
    if (txn) {
        *out = txn;
        return MFKV_OK;
    }
    int rc = mdb_txn_begin(s->env, NULL, MDB_RDONLY, &txn);
    if (rc) return mfkv_status_from_mdb(rc);
    pthread_mutex_lock(&s->txn_lock);
    if (s->n_txns == s->cap_txns) {
        size_t cap = s->cap_txns ? s->cap_txns * 2 : 8;
        MDB_txn **grown = realloc(s->txns, cap * sizeof *grown);
        if (!grown) {
            pthread_mutex_unlock(&s->txn_lock);
            mdb_txn_abort(txn);
            return MFKV_NOMEM;
        }
        s->txns = grown;
        s->cap_txns = cap;
    }
    s->txns[s->n_txns++] = txn;
    pthread_mutex_unlock(&s->txn_lock);
    pthread_setspecific(s->txn_key, txn);
    *out = txn;
    return MFKV_OK;
}

/* Fetch a record and check its framing and checksum; *body gets the bytes
 * after the checksum. */
/* Check a value's framing (inside the file, long enough) and, when asked,
 * its key-seeded checksum; *body gets the bytes after the checksum. */
static int record_body(const mfkv_store *s, const void *key, size_t key_len, const MDB_val *v, int check,
                       const unsigned char **body, size_t *body_len)
{
    if (!mfkv_in_map(s, v) || v->mv_size < MFKV_RECORD_CHECKSUM_LEN) return MFKV_CORRUPT;
    const unsigned char *p = v->mv_data;
    *body = p + MFKV_RECORD_CHECKSUM_LEN;
    *body_len = v->mv_size - MFKV_RECORD_CHECKSUM_LEN;
    if (check && mfkv_load_u64(p) != mfkv_record_checksum(key, key_len, *body, *body_len))
        return MFKV_CORRUPT;
    return MFKV_OK;
}

/* Look up @p key in @p dbi and check the record (record_body). */
static int fetch_record(mfkv_store *s, MDB_txn *txn, MDB_dbi dbi, const void *key, size_t key_len,
                        int check, const unsigned char **body, size_t *body_len)
{
    MDB_val k = {key_len, (void *)key}, v;
    int rc = mdb_get(txn, dbi, &k, &v);
    return rc ? mfkv_status_from_mdb(rc) : record_body(s, key, key_len, &v, check, body, body_len);
}

int mfkv_decode_list(const mfkv_store *s, const unsigned char *body, size_t len, mfkv_list *out)
{
    if (len < MFKV_LIST_COUNT_LEN) return MFKV_CORRUPT;
    uint32_t count = mfkv_load_u32(body);
    if (count > s->info.k || len != MFKV_LIST_COUNT_LEN + (size_t)count * MFKV_LIST_ENTRY_LEN)
        return MFKV_CORRUPT;
    out->count = count;
    out->raw = body + MFKV_LIST_COUNT_LEN;
    return MFKV_OK;
}

uint32_t mfkv_list_item_index(const mfkv_list *list, uint32_t i)
{
    return mfkv_load_u32(list->raw + (size_t)i * 4);
}

float mfkv_list_score(const mfkv_list *list, uint32_t i)
{
    return mfkv_load_f32(list->raw + (size_t)list->count * 4 + (size_t)i * 4);
}

static int find_map_base(mfkv_store *s, const void *value);

static int read_header(mfkv_store *s, MDB_txn *txn)
{
    MDB_val k = {strlen(MFKV_KEY_HEADER), MFKV_KEY_HEADER}, v;
    int rc = mdb_get(txn, s->dbi_meta, &k, &v);
    if (rc == MDB_NOTFOUND) return MFKV_FORMAT;
    if (rc) return mfkv_status_from_mdb(rc);
    if ((rc = find_map_base(s, v.mv_data))) return rc;
    const unsigned char *b;
    size_t len;
    if ((rc = record_body(s, MFKV_KEY_HEADER, strlen(MFKV_KEY_HEADER), &v, 1, &b, &len))) return rc;
    if (len < MFKV_HEADER_FIXED_LEN) return MFKV_CORRUPT;
    if (memcmp(b, MFKV_MAGIC, MFKV_MAGIC_LEN) != 0) return MFKV_FORMAT;
    mfkv_info *in = &s->info;
    in->format_major = mfkv_load_u32(b + 8);
    in->format_minor = mfkv_load_u32(b + 12);
    if (in->format_major != MFKV_FORMAT_MAJOR)
        return in->format_major > MFKV_FORMAT_MAJOR ? MFKV_VERSION : MFKV_FORMAT;
    in->k = mfkv_load_u32(b + 16);
    in->n_factors = mfkv_load_u32(b + 20);
    in->n_users = mfkv_load_u32(b + 24);
    in->n_items = mfkv_load_u32(b + 28);
    uint32_t flags = mfkv_load_u32(b + 32);
    uint32_t prov_len = mfkv_load_u32(b + 36);
    in->build_time = mfkv_load_i64(b + 40);
    in->digest = mfkv_load_u64(b + 48);
    if (in->k == 0 || in->k > MFKV_MAX_K || len != MFKV_HEADER_FIXED_LEN + (size_t)prov_len)
        return MFKV_CORRUPT;
    in->has_fallback = !!(flags & MFKV_FLAG_FALLBACK);
    in->has_titles = !!(flags & MFKV_FLAG_TITLES);
    s->provenance = malloc((size_t)prov_len + 1);
    if (!s->provenance) return MFKV_NOMEM;
    memcpy(s->provenance, b + MFKV_HEADER_FIXED_LEN, prov_len);
    s->provenance[prov_len] = '\0';
    in->provenance = s->provenance;
    in->provenance_len = prov_len;
    return MFKV_OK;
}

/* LMDB maps as many pages as its header claims; in a truncated file the
 * missing ones would raise SIGBUS when touched, so refuse such a file.  Only
 * the OS page size is accepted as LMDB page size, which find_map_base needs. */
static int check_file_covers_pages(mfkv_store *s)
{
    MDB_envinfo ei;
    MDB_stat st;
    if (mdb_env_info(s->env, &ei) || mdb_env_stat(s->env, &st)) return MFKV_FORMAT;
    long os_page = sysconf(_SC_PAGESIZE);
    if (os_page <= 0 || st.ms_psize != (unsigned)os_page) return MFKV_FORMAT;
    if ((uint64_t)(ei.me_last_pgno + 1) > (s->file_size - MFKV_TRAILER_LEN) / st.ms_psize) return MFKV_FORMAT;
    return MFKV_OK;
}

/* LMDB does not tell where it mapped the file (mdb_env_info reports only a
 * MDB_FIXEDMAP address), but every page starts with its own page number and
 * the mapping is page-aligned, so the page holding a value we just read
 * gives the base.  The result is checked against the file's page count. */
static int find_map_base(mfkv_store *s, const void *value)
{
    MDB_envinfo ei;
    if (mdb_env_info(s->env, &ei)) return MFKV_FORMAT;
    size_t psize = (size_t)sysconf(_SC_PAGESIZE);
    uintptr_t page = (uintptr_t)value & ~(uintptr_t)(psize - 1);
    uint64_t pgno = mfkv_load_u64((const void *)page);
    if (pgno > ei.me_last_pgno || pgno * psize > page) return MFKV_CORRUPT;
    s->map = (const unsigned char *)(page - pgno * psize);
    return MFKV_OK;
}

/* Size the file and check its trailer (and, unless told not to, its whole
 * digest) before LMDB reads a byte of it. */
static int check_file(mfkv_store *s, const char *path)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) return MFKV_IO;
    struct stat st;
    int rc = fstat(fd, &st) ? MFKV_IO : !S_ISREG(st.st_mode) ? MFKV_FORMAT : MFKV_OK;
    if (!rc) {
        s->file_size = (size_t)st.st_size;
        rc = mfkv_trailer_check(fd, s->file_size, !(s->flags & MFKV_OPEN_NO_CHECKSUM));
        if (!rc) rc = mfkv_lmdb_meta_check(fd, s->file_size - MFKV_TRAILER_LEN);
    }
    int err = errno;
    close(fd);
    errno = err;
    return rc;
}

/* Decode and verify the whole item table once.  Every list names items, so
 * a reply of 50 entries would otherwise cost 50 B-tree searches and 50
 * checksums; the table costs one cursor pass at open and 48 bytes an item. */
static int load_items(mfkv_store *s, MDB_txn *txn)
{
    s->items = calloc((size_t)s->info.n_items + 1, sizeof *s->items);
    if (!s->items) return MFKV_NOMEM;
    MDB_cursor *c;
    int rc = mdb_cursor_open(txn, s->dbi_items, &c);
    if (rc) return mfkv_status_from_mdb(rc);
    MDB_val k, v;
    uint32_t n = 0;
    for (rc = mdb_cursor_get(c, &k, &v, MDB_FIRST); rc == 0; rc = mdb_cursor_get(c, &k, &v, MDB_NEXT), n++) {
        unsigned char expect[4];
        mfkv_store_u32be(expect, n);
        const unsigned char *body;
        size_t len;
        if (n >= s->info.n_items || k.mv_size != 4 || !mfkv_in_map(s, &k) || memcmp(k.mv_data, expect, 4) ||
            record_body(s, k.mv_data, 4, &v, 1, &body, &len) || mfkv_decode_item(body, len, &s->items[n]))
            break;
    }
    mdb_cursor_close(c);
    if (rc != MDB_NOTFOUND && rc != 0) return mfkv_status_from_mdb(rc);
    return rc == MDB_NOTFOUND && n == s->info.n_items ? MFKV_OK : MFKV_CORRUPT;
}

static int open_env(mfkv_store *s, const char *path)
{
    int rc = mdb_env_create(&s->env);
    if (rc) return mfkv_status_from_mdb(rc);
    mdb_env_set_maxdbs(s->env, MFKV_DB_COUNT);
    /* Map exactly the file: LMDB raises the size to what its header needs,
     * which check_file_covers_pages then holds against the real length. */
    mdb_env_set_mapsize(s->env, s->file_size);
    rc = mdb_env_open(s->env, path, MDB_RDONLY | MDB_NOLOCK | MDB_NOSUBDIR | MDB_NOTLS, 0);
    if (rc) return rc == ENOENT || rc == EACCES ? MFKV_IO : MFKV_FORMAT;
    rc = check_file_covers_pages(s);
    if (rc) return rc;

    MDB_txn *txn;
    rc = mdb_txn_begin(s->env, NULL, MDB_RDONLY, &txn);
    if (rc) return mfkv_status_from_mdb(rc);
    if ((rc = mdb_dbi_open(txn, MFKV_DB_META, 0, &s->dbi_meta)) ||
        (rc = mdb_dbi_open(txn, MFKV_DB_USERS, 0, &s->dbi_users)) ||
        (rc = mdb_dbi_open(txn, MFKV_DB_ITEMS, 0, &s->dbi_items))) {
        mdb_txn_abort(txn);
        return rc == MDB_NOTFOUND || rc == MDB_INCOMPATIBLE ? MFKV_FORMAT : mfkv_status_from_mdb(rc);
    }
    rc = read_header(s, txn);
    if (!rc) rc = load_items(s, txn);
    if (rc) {
        mdb_txn_abort(txn);
        return rc;
    }
    /* Committing (not aborting) keeps the database handles open. */
    return mfkv_status_from_mdb(mdb_txn_commit(txn));
}

int mfkv_open(const char *path, unsigned flags, mfkv_store **out)
{
    if (!out) return MFKV_INVAL;
    *out = NULL;
    if (!path) return MFKV_INVAL;
    mfkv_store *s = calloc(1, sizeof *s);
    if (!s) return MFKV_NOMEM;
    s->flags = flags;
    if (pthread_key_create(&s->txn_key, NULL)) {
        free(s);
        return MFKV_NOMEM;
    }
    pthread_mutex_init(&s->txn_lock, NULL);
    int rc = check_file(s, path);
    if (rc == MFKV_OK) rc = open_env(s, path);
    if (rc) {
        int err = errno;
        mfkv_close(s);
        errno = err;
        return rc;
    }
    *out = s;
    return MFKV_OK;
}

void mfkv_close(mfkv_store *s)
{
    if (!s) return;
    for (size_t i = 0; i < s->n_txns; i++) mdb_txn_abort(s->txns[i]);
    free(s->txns);
    pthread_key_delete(s->txn_key);
    pthread_mutex_destroy(&s->txn_lock);
    if (s->env) mdb_env_close(s->env);
    free(s->provenance);
    free(s->items);
    free(s);
}

int mfkv_get(mfkv_store *s, const char *id, size_t id_len, mfkv_list *out)
{
    if (!s || !id || !out || id_len == 0) return MFKV_INVAL;
    if (id_len > MFKV_MAX_ID_LEN) return MFKV_NOTFOUND; /* the builder never stores such a key */
    MDB_txn *txn;
    int rc = thread_txn(s, &txn);
    if (rc) return rc;
    const unsigned char *body;
    size_t len;
    rc = fetch_record(s, txn, s->dbi_users, id, id_len, !(s->flags & MFKV_OPEN_NO_CHECKSUM), &body, &len);
    return rc ? rc : mfkv_decode_list(s, body, len, out);
}

int mfkv_fallback(mfkv_store *s, mfkv_list *out)
{
    if (!s || !out) return MFKV_INVAL;
    if (!s->info.has_fallback) return MFKV_NOTFOUND;
    MDB_txn *txn;
    int rc = thread_txn(s, &txn);
    if (rc) return rc;
    const unsigned char *body;
    size_t len;
    rc = fetch_record(s, txn, s->dbi_meta, MFKV_KEY_FALLBACK, strlen(MFKV_KEY_FALLBACK),
                      !(s->flags & MFKV_OPEN_NO_CHECKSUM), &body, &len);
    if (rc == MFKV_NOTFOUND) return MFKV_CORRUPT; /* the header promised one */
    return rc ? rc : mfkv_decode_list(s, body, len, out);
}

int mfkv_decode_item(const unsigned char *b, size_t len, mfkv_item_info *out)
{
    if (len < MFKV_ITEM_FIXED_LEN) return MFKV_CORRUPT;
    uint64_t id_len = mfkv_load_u32(b), title_len = mfkv_load_u32(b + 4), genres_len = mfkv_load_u32(b + 8);
    if (id_len == 0 || id_len > MFKV_MAX_ID_LEN || MFKV_ITEM_FIXED_LEN + id_len + title_len + genres_len != len)
        return MFKV_CORRUPT;
    out->id = (const char *)b + MFKV_ITEM_FIXED_LEN;
    out->id_len = id_len;
    out->title = out->id + id_len;
    out->title_len = title_len;
    out->genres = out->title + title_len;
    out->genres_len = genres_len;
    return MFKV_OK;
}

int mfkv_item(mfkv_store *s, uint32_t index, mfkv_item_info *out)
{
    if (!s || !out) return MFKV_INVAL;
    if (index >= s->info.n_items) return MFKV_NOTFOUND;
    *out = s->items[index];
    return MFKV_OK;
}

int mfkv_info_get(mfkv_store *s, mfkv_info *out)
{
    if (!s || !out) return MFKV_INVAL;
    *out = s->info;
    return MFKV_OK;
}

/* ---- iteration ---------------------------------------------------------- */

struct mfkv_iter {
    mfkv_store *store;
    MDB_txn *txn;
    MDB_cursor *cursor;
    MDB_cursor_op op;
};

MDB_env *mfkv_store_env(const mfkv_store *s) { return s->env; }

size_t mfkv_store_file_size(const mfkv_store *s) { return s->file_size; }

void mfkv_store_dbis(const mfkv_store *s, MDB_dbi *meta, MDB_dbi *users, MDB_dbi *items)
{
    *meta = s->dbi_meta;
    *users = s->dbi_users;
    *items = s->dbi_items;
}

int mfkv_iter_begin(mfkv_store *s, mfkv_iter **out)
{
    if (!s || !out) return MFKV_INVAL;
    mfkv_iter *it = calloc(1, sizeof *it);
    if (!it) return MFKV_NOMEM;
    it->store = s;
    it->op = MDB_FIRST;
    int rc = mdb_txn_begin(s->env, NULL, MDB_RDONLY, &it->txn);
    if (!rc) rc = mdb_cursor_open(it->txn, s->dbi_users, &it->cursor);
    if (rc) {
        mfkv_iter_end(it);
        return mfkv_status_from_mdb(rc);
    }
    *out = it;
    return MFKV_OK;
}

int mfkv_iter_next(mfkv_iter *it, const char **id, size_t *id_len, mfkv_list *list)
{
    if (!it || !id || !id_len || !list) return MFKV_INVAL;
    MDB_val k, v;
    int rc = mdb_cursor_get(it->cursor, &k, &v, it->op);
    it->op = MDB_NEXT;
    if (rc) return mfkv_status_from_mdb(rc);
    mfkv_store *s = it->store;
    const unsigned char *body;
    size_t len;
    if (!mfkv_in_map(s, &k) || k.mv_size == 0 || k.mv_size > MFKV_MAX_ID_LEN ||
        record_body(s, k.mv_data, k.mv_size, &v, 1, &body, &len))
        return MFKV_CORRUPT;
    *id = k.mv_data;
    *id_len = k.mv_size;
    return mfkv_decode_list(s, body, len, list);
}

void mfkv_iter_end(mfkv_iter *it)
{
    if (!it) return;
    if (it->cursor) mdb_cursor_close(it->cursor);
    if (it->txn) mdb_txn_abort(it->txn);
    free(it);
}
