/*
 * reader.c - open an mfkv store and answer lookups from the mapping.
 *
 * The file is immutable once published.  It is mapped read-only and read
 * without LMDB's code: src/reader/btree.c walks LMDB's B-tree itself and
 * proves each page against the page table the first time it is read (format
 * 1.1; see src/format.h), so opening costs the same for any store size and a
 * warm lookup pays a bit test per level.  Format 1.0 stores, which have no
 * page table, are proven whole at open as before.
 *
 * Nothing read from the file is trusted: every offset is bounds-checked,
 * each record's key-seeded checksum is verified before any of its bytes are
 * interpreted, and every read of the mapping runs guarded (guard.h), so a
 * file truncated or rewritten under an open handle gives MFKV_CHANGED, never
 * a crash.  No per-thread state: any thread may call at any time, and a
 * thread that exits leaves nothing behind.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/bytes.h"
#include "layout.h"
#include "mfkv.h"
#include "reader/btree.h"
#include "reader/guard.h"
#include "reader/store_internal.h"
#include "reader/trailer.h"

struct mfkv_store {
    int fd;
    unsigned flags;
    int version_only;   /* mfkv_format_version: stop once the header's version is read */
    struct stat opened; /* identity and size at open, to tell a changed file */
    atomic_int changed; /* set by guard.c when the mapping faulted */
    mfkv_trailer trailer;
    unsigned char tail[MFKV_TRAILER_LEN]; /* the trailer's bytes as opened */
    mfkv_pages pages;
    mfkv_db meta, users, items_db;
    mfkv_info info;
    char *provenance;
    mfkv_item_info *items; /* the item table, decoded and verified at open */
};

/* A failed read of a file that is no longer the one opened is the file's
 * fault, not the store's: say so, the caller should reopen. */
static int settle(mfkv_store *s, int rc)
{
    if (rc == MFKV_OK || rc == MFKV_INVAL) return rc;
    if (rc == MFKV_CHANGED) atomic_store(&s->changed, 1);
    if (atomic_load(&s->changed)) return MFKV_CHANGED;
    struct stat now;
    if (fstat(s->fd, &now) == 0 &&
        (now.st_size != s->opened.st_size || now.st_mtim.tv_sec != s->opened.st_mtim.tv_sec ||
         now.st_mtim.tv_nsec != s->opened.st_mtim.tv_nsec)) {
        atomic_store(&s->changed, 1);
        return MFKV_CHANGED;
    }
    return rc;
}

/* Still the file that was opened?  A copy written over it in place (cp,
 * scp: truncate, then write) faults while shorter and then ends in another
 * trailer, so a lookup that read pages proven before the copy checks the
 * trailer after reading: one cache line.  (A rewrite that keeps the length
 * and writes the trailer last, like rsync --inplace, is caught by the
 * record checksums and, before a "not found", by re-proving the path.) */
static int same_file(const mfkv_store *s)
{
    return memcmp(s->pages.map + s->pages.map_len - MFKV_TRAILER_LEN, s->tail, MFKV_TRAILER_LEN) == 0;
}

#define STORE_GUARDED(s, ...) \
    MFKV_GUARDED((s)->pages.map, (s)->pages.map_len, &(s)->changed, rc = MFKV_CHANGED, __VA_ARGS__)

int mfkv_record_body(const void *key, size_t key_len, const unsigned char *v, size_t v_len, int check,
                     const unsigned char **body, size_t *body_len)
{
    if (v_len < MFKV_RECORD_CHECKSUM_LEN) return MFKV_CORRUPT;
    *body = v + MFKV_RECORD_CHECKSUM_LEN;
    *body_len = v_len - MFKV_RECORD_CHECKSUM_LEN;
    if (check && mfkv_load_u64(v) != mfkv_record_checksum(key, key_len, *body, *body_len)) return MFKV_CORRUPT;
    return MFKV_OK;
}

/* Look @p key up in @p db and check the record (record_body). */
static int fetch_record(mfkv_store *s, const mfkv_db *db, const void *key, size_t key_len,
                        const unsigned char **body, size_t *body_len)
{
    const unsigned char *v;
    size_t len;
    int rc = mfkv_btree_get(&s->pages, db, key, key_len, &v, &len);
    return rc ? rc : mfkv_record_body(key, key_len, v, len, !(s->flags & MFKV_OPEN_NO_CHECKSUM), body, body_len);
}

int mfkv_item_key_is(const unsigned char *key, size_t key_len, uint32_t n)
{
    unsigned char expect[4];
    mfkv_put_u32be(expect, n);
    return key_len == 4 && memcmp(key, expect, 4) == 0;
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

static int read_header(mfkv_store *s)
{
    const unsigned char *v, *b;
    size_t v_len, len;
    int rc = mfkv_btree_get(&s->pages, &s->meta, MFKV_KEY_HEADER, strlen(MFKV_KEY_HEADER), &v, &v_len);
    if (rc == MFKV_NOTFOUND) return MFKV_FORMAT;
    if (rc) return rc;
    if ((rc = mfkv_record_body(MFKV_KEY_HEADER, strlen(MFKV_KEY_HEADER), v, v_len, 1, &b, &len))) return rc;
    if (len < MFKV_HEADER_FIXED_LEN) return MFKV_CORRUPT;
    if (memcmp(b, MFKV_MAGIC, MFKV_MAGIC_LEN) != 0) return MFKV_FORMAT;
    mfkv_info *in = &s->info;
    in->format_major = mfkv_load_u32(b + 8);
    in->format_minor = mfkv_load_u32(b + 12);
    if (s->version_only) return MFKV_OK; /* any version: the caller only asks which */
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

/* Format 1.0: prove the whole body now.  Format 1.1: prove the table's
 * index now (8 bytes per 2 MiB of store) and everything else lazily. */
static int prove(mfkv_store *s)
{
    mfkv_pages *p = &s->pages;
    mfkv_trailer *t = &s->trailer;
    long os_page = sysconf(_SC_PAGESIZE);
    if (os_page <= 0) return MFKV_IO;
    if (t->n_pages == 0) {
        p->psize = (size_t)os_page;
        if (t->body_len % p->psize) return MFKV_FORMAT;
        p->n_pages = t->body_len / p->psize;
        return s->flags & MFKV_OPEN_NO_CHECKSUM ? MFKV_OK : mfkv_trailer_check_body(p->map, t);
    }
    p->psize = t->page_size;
    p->n_pages = t->n_pages;
    p->n_chunks = mfkv_table_chunks(p->n_pages);
    p->table = p->map + p->n_pages * p->psize;
    p->index = malloc(p->n_chunks * MFKV_PAGE_HASH_LEN);
    p->page_ok = calloc((p->n_pages + 63) / 64, sizeof *p->page_ok);
    p->chunk_ok = calloc((p->n_chunks + 63) / 64, sizeof *p->chunk_ok);
    if (!p->index || !p->page_ok || !p->chunk_ok) return MFKV_NOMEM;
    const unsigned char *index = p->table + p->n_pages * MFKV_PAGE_HASH_LEN;
    p->index_bad = mfkv_index_hash(index, p->n_chunks * MFKV_PAGE_HASH_LEN) != t->index_hash;
    if (p->index_bad && !(s->flags & MFKV_OPEN_NO_CHECKSUM)) return MFKV_CORRUPT;
    for (uint64_t c = 0; c < p->n_chunks; c++) p->index[c] = mfkv_load_u64(index + c * MFKV_PAGE_HASH_LEN);
    /* Without checks the table is still loaded, for mfkv_verify. */
    p->lazy = !(s->flags & MFKV_OPEN_NO_CHECKSUM);
    return MFKV_OK;
}

/* Decode and verify the whole item table once.  Every list names items, so
 * a reply of 50 entries would otherwise cost 50 B-tree searches and 50
 * checksums; the table costs one cursor pass at open and 48 bytes an item. */
static int load_items(mfkv_store *s)
{
    s->items = calloc((size_t)s->info.n_items + 1, sizeof *s->items);
    if (!s->items) return MFKV_NOMEM;
    mfkv_cursor c;
    mfkv_cursor_init(&c, &s->pages, &s->items_db);
    const unsigned char *k, *v, *body;
    size_t kl, vl, len;
    uint32_t n = 0;
    int rc;
    for (; (rc = mfkv_cursor_next(&c, &k, &kl, &v, &vl, NULL)) == MFKV_OK; n++) {
        if (n >= s->info.n_items || !mfkv_item_key_is(k, kl, n) || mfkv_record_body(k, 4, v, vl, 1, &body, &len) ||
            mfkv_decode_item(body, len, &s->items[n]))
            return MFKV_CORRUPT;
    }
    if (rc != MFKV_NOTFOUND) return rc;
    return n == s->info.n_items ? MFKV_OK : MFKV_CORRUPT;
}

/* Everything open reads from the mapping, run guarded. */
static int read_structure(mfkv_store *s)
{
    mfkv_db main;
    int rc = prove(s);
    if (!rc) rc = mfkv_btree_main(&s->pages, &main);
    if (!rc) rc = mfkv_btree_subdb(&s->pages, &main, MFKV_DB_META, &s->meta);
    if (!rc) rc = mfkv_btree_subdb(&s->pages, &main, MFKV_DB_USERS, &s->users);
    if (!rc) rc = mfkv_btree_subdb(&s->pages, &main, MFKV_DB_ITEMS, &s->items_db);
    if (rc == MFKV_NOTFOUND) rc = MFKV_FORMAT;
    if (!rc) rc = read_header(s);
    if (!rc && !s->version_only) rc = load_items(s);
    return rc;
}

static int open_file(mfkv_store *s, const char *path)
{
    s->fd = open(path, O_RDONLY | O_CLOEXEC);
    if (s->fd < 0) return errno == ENOMEM ? MFKV_NOMEM : MFKV_IO;
    if (fstat(s->fd, &s->opened)) return MFKV_IO;
    /* A folder is the caller's mistake about the path, not a foreign file:
     * say so the way open(2) would for a write. */
    if (S_ISDIR(s->opened.st_mode)) {
        errno = EISDIR;
        return MFKV_IO;
    }
    if (!S_ISREG(s->opened.st_mode)) return MFKV_FORMAT;
    int rc = mfkv_trailer_read(s->fd, (size_t)s->opened.st_size, &s->trailer);
    if (rc) return rc;
    s->pages.map_len = (size_t)s->opened.st_size;
    void *map = mmap(NULL, s->pages.map_len, PROT_READ, MAP_SHARED, s->fd, 0);
    if (map == MAP_FAILED) return errno == ENOMEM ? MFKV_NOMEM : MFKV_IO;
    s->pages.map = map;
    if ((rc = mfkv_guard_register(map, s->pages.map_len, &s->changed))) return rc;
    memcpy(s->tail, s->pages.map + s->pages.map_len - MFKV_TRAILER_LEN, MFKV_TRAILER_LEN);
    STORE_GUARDED(s, rc = read_structure(s));
    return rc;
}

static int open_store(const char *path, unsigned flags, int version_only, mfkv_store **out)
{
    int rc = mfkv_guard_install();
    if (rc) return rc;
    mfkv_store *s = calloc(1, sizeof *s);
    if (!s) return MFKV_NOMEM;
    s->fd = -1;
    s->flags = flags;
    s->version_only = version_only;
    rc = open_file(s, path);
    if (rc) {
        int err = errno;
        mfkv_close(s);
        errno = err;
        return rc;
    }
    *out = s;
    return MFKV_OK;
}

mfkv_status mfkv_open(const char *path, unsigned flags, mfkv_store **out)
{
    if (!out) return MFKV_INVAL;
    *out = NULL;
    if (!path) return MFKV_INVAL;
    return open_store(path, flags, 0, out);
}

mfkv_status mfkv_format_version(const char *path, uint32_t *major, uint32_t *minor)
{
    if (!path || !major || !minor) return MFKV_INVAL;
    mfkv_store *s;
    int rc = open_store(path, 0, 1, &s);
    if (rc) return rc;
    *major = s->info.format_major;
    *minor = s->info.format_minor;
    mfkv_close(s);
    return MFKV_OK;
}

void mfkv_close(mfkv_store *s)
{
    if (!s) return;
    if (s->pages.map) {
        mfkv_guard_unregister(s->pages.map);
        munmap((void *)s->pages.map, s->pages.map_len);
    }
    if (s->fd >= 0) close(s->fd);
    free(s->pages.index);
    free((void *)s->pages.page_ok);
    free((void *)s->pages.chunk_ok);
    free(s->provenance);
    free(s->items);
    free(s);
}

mfkv_status mfkv_get(mfkv_store *s, const char *id, size_t id_len, mfkv_list *out)
{
    if (!s || !id || !out || id_len == 0) return MFKV_INVAL;
    if (atomic_load_explicit(&s->changed, memory_order_relaxed)) return MFKV_CHANGED;
    if (id_len > MFKV_MAX_ID_LEN) return MFKV_NOTFOUND; /* the builder never stores such a key */
    int rc;
    STORE_GUARDED(s, {
        const unsigned char *body;
        size_t len;
        rc = fetch_record(s, &s->users, id, id_len, &body, &len);
        if (!rc) rc = mfkv_decode_list(s, body, len, out);
        if ((rc == MFKV_OK || rc == MFKV_NOTFOUND) && !same_file(s)) rc = MFKV_CHANGED;
    });
    return rc ? settle(s, rc) : MFKV_OK;
}

mfkv_status mfkv_fallback(mfkv_store *s, mfkv_list *out)
{
    if (!s || !out) return MFKV_INVAL;
    if (atomic_load_explicit(&s->changed, memory_order_relaxed)) return MFKV_CHANGED;
    if (!s->info.has_fallback) return MFKV_NOTFOUND;
    int rc;
    STORE_GUARDED(s, {
        const unsigned char *body;
        size_t len;
        rc = fetch_record(s, &s->meta, MFKV_KEY_FALLBACK, strlen(MFKV_KEY_FALLBACK), &body, &len);
        if (rc == MFKV_NOTFOUND) rc = MFKV_CORRUPT; /* the header promised one */
        if (!rc) rc = mfkv_decode_list(s, body, len, out);
        if (!rc && !same_file(s)) rc = MFKV_CHANGED;
    });
    return rc ? settle(s, rc) : MFKV_OK;
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

mfkv_status mfkv_item(mfkv_store *s, uint32_t index, mfkv_item_info *out)
{
    if (!s || !out) return MFKV_INVAL;
    if (index >= s->info.n_items) return MFKV_NOTFOUND;
    *out = s->items[index];
    return MFKV_OK;
}

mfkv_status mfkv_info_get(mfkv_store *s, mfkv_info *out)
{
    if (!s || !out) return MFKV_INVAL;
    *out = s->info;
    return MFKV_OK;
}

/* ---- what verify.c borrows --------------------------------------------- */

const mfkv_pages *mfkv_store_pages(const mfkv_store *s) { return &s->pages; }

void mfkv_store_dbs(const mfkv_store *s, const mfkv_db **meta, const mfkv_db **users, const mfkv_db **items)
{
    *meta = &s->meta;
    *users = &s->users;
    *items = &s->items_db;
}

const mfkv_trailer *mfkv_store_trailer(const mfkv_store *s) { return &s->trailer; }

atomic_int *mfkv_store_changed(mfkv_store *s) { return &s->changed; }

int mfkv_store_settle(mfkv_store *s, int rc) { return settle(s, rc); }

/* ---- iteration ---------------------------------------------------------- */

struct mfkv_iter {
    mfkv_store *store;
    mfkv_cursor cursor;
};

mfkv_status mfkv_iter_begin(mfkv_store *s, mfkv_iter **out)
{
    if (!s || !out) return MFKV_INVAL;
    *out = NULL;
    if (atomic_load(&s->changed)) return MFKV_CHANGED;
    mfkv_iter *it = calloc(1, sizeof *it);
    if (!it) return MFKV_NOMEM;
    it->store = s;
    mfkv_cursor_init(&it->cursor, &s->pages, &s->users);
    *out = it;
    return MFKV_OK;
}

mfkv_status mfkv_iter_next(mfkv_iter *it, const char **id, size_t *id_len, mfkv_list *list)
{
    if (!it || !id || !id_len || !list) return MFKV_INVAL;
    mfkv_store *s = it->store;
    if (atomic_load_explicit(&s->changed, memory_order_relaxed)) return MFKV_CHANGED;
    int rc;
    STORE_GUARDED(s, {
        const unsigned char *k, *v, *body;
        size_t kl, vl, len;
        rc = mfkv_cursor_next(&it->cursor, &k, &kl, &v, &vl, NULL);
        if (!rc && (kl == 0 || kl > MFKV_MAX_ID_LEN || mfkv_record_body(k, kl, v, vl, 1, &body, &len)))
            rc = MFKV_CORRUPT;
        if (!rc) rc = mfkv_decode_list(s, body, len, list);
        if ((rc == MFKV_OK || rc == MFKV_NOTFOUND) && !same_file(s)) rc = MFKV_CHANGED;
        if (!rc) {
            *id = (const char *)k;
            *id_len = kl;
        }
    });
    return rc == MFKV_OK || rc == MFKV_NOTFOUND ? rc : settle(s, rc);
}

void mfkv_iter_end(mfkv_iter *it) { free(it); }
