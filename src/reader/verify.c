/*
 * verify.c - the full scan behind `mfkv verify`.
 *
 * mfkv_get checks what one lookup reads; this proves the whole store: the
 * whole-file digest, every page against the page table, every record's
 * checksum and layout, that lists reference only existing items and are in
 * rank order, that the counts match the header, and that the digest of all
 * record checksums equals the one the builder recorded, which also catches
 * records that were dropped or added wholesale.  Problems are counted, and
 * the first is named with its user or item, page and file offset.
 */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "common/bytes.h"
#include "layout.h"
#include "reader/guard.h"
#include "reader/store_internal.h"

typedef struct mfkv_val {
    const unsigned char *p;
    size_t len;
} mfkv_val;

typedef struct scan {
    mfkv_store *store;
    mfkv_info info;
    const mfkv_pages *pages;
    uint64_t pgno; /* page of the record being checked */
    XXH3_state_t *digest;
    mfkv_verify_report *report;
} scan;

/* Count one more bad record (@p bad_records is 1) or other damage (0, e.g.
 * pages, counted apart), and name it if it is the first problem. */
static void damage(scan *sc, int bad_records, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static void damage(scan *sc, int bad_records, const char *fmt, ...)
{
    sc->report->records_bad += (uint64_t)bad_records;
    if (sc->report->first_problem[0]) return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(sc->report->first_problem, sizeof sc->report->first_problem, fmt, ap);
    va_end(ap);
}

#define problem(sc, ...) damage(sc, 1, __VA_ARGS__)

/* Check framing and checksum of one record; feed its checksum to the digest.
 * Returns the body, or NULL (problem already reported).  A key that came
 * from a cursor must have been checked to lie in the map by the caller. */
static const unsigned char *check_record(scan *sc, const mfkv_val *k, const mfkv_val *v, size_t *body_len,
                                         const char *what)
{
    sc->report->records_checked++;
    /* The digest covers the stored checksum whether or not it matches. */
    if (v->len >= MFKV_RECORD_CHECKSUM_LEN) XXH3_64bits_update(sc->digest, v->p, MFKV_RECORD_CHECKSUM_LEN);
    const unsigned char *body;
    if (mfkv_record_body(k->p, k->len, v->p, v->len, 1, &body, body_len)) {
        problem(sc, "%s: %s", what, v->len < MFKV_RECORD_CHECKSUM_LEN ? "record too short" : "record checksum mismatch");
        return NULL;
    }
    return body;
}

static void check_list(scan *sc, const mfkv_val *k, const mfkv_val *v, const char *what)
{
    size_t len;
    const unsigned char *body = check_record(sc, k, v, &len, what);
    if (!body) return;
    mfkv_list list;
    if (mfkv_decode_list(sc->store, body, len, &list)) {
        problem(sc, "%s: bad list length or count", what);
        return;
    }
    for (uint32_t i = 0; i < list.count; i++) {
        if (mfkv_list_item_index(&list, i) >= sc->info.n_items) {
            problem(sc, "%s: entry %u names item %u of %u", what, i, mfkv_list_item_index(&list, i),
                    sc->info.n_items);
            return;
        }
        /* NaN compares false both ways and is caught here too. */
        if (i > 0 && !(mfkv_list_score(&list, i) <= mfkv_list_score(&list, i - 1))) {
            problem(sc, "%s: scores out of rank order at entry %u", what, i);
            return;
        }
    }
}

/* "user "ID" (#N, page P at offset O)": where a record is, for a report. */
static void describe(scan *sc, char *out, size_t cap, const char *kind, const mfkv_val *k, uint64_t n)
{
    char id[64];
    size_t len = k->len < 40 ? k->len : 40;
    for (size_t i = 0; i < len; i++) id[i] = k->p[i] >= 0x20 && k->p[i] < 0x7f && k->p[i] != '"' ? (char)k->p[i] : '?';
    id[len] = '\0';
    snprintf(out, cap, "%s \"%s%s\" (#%llu, page %llu at offset %llu)", kind, id, k->len > 40 ? "..." : "",
             (unsigned long long)n + 1, (unsigned long long)sc->pgno,
             (unsigned long long)(k->p - sc->pages->map));
}

/* Record @p n (0-based) of the users database. */
static void check_user(scan *sc, uint64_t n, const mfkv_val *k, const mfkv_val *v)
{
    char what[160];
    describe(sc, what, sizeof what, "user", k, n);
    if (k->len == 0 || k->len > MFKV_MAX_ID_LEN) {
        sc->report->records_checked++;
        problem(sc, "%s: bad key", what);
        return;
    }
    check_list(sc, k, v, what);
}

/* Record @p n of the items database: its key must be n, big-endian. */
static void check_item(scan *sc, uint64_t n, const mfkv_val *k, const mfkv_val *v)
{
    char what[160];
    snprintf(what, sizeof what, "item %llu (page %llu at offset %llu)", (unsigned long long)n,
             (unsigned long long)sc->pgno, (unsigned long long)(k->p - sc->pages->map));
    if (n > UINT32_MAX || !mfkv_item_key_is(k->p, k->len, (uint32_t)n)) {
        sc->report->records_checked++;
        problem(sc, "%s: key out of sequence", what);
        return;
    }
    size_t len;
    const unsigned char *body = check_record(sc, k, v, &len, what);
    mfkv_item_info item;
    if (body && mfkv_decode_item(body, len, &item)) problem(sc, "%s: bad field lengths", what);
}

/* Visit every record of @p db in key order; the count must match the header. */
static int scan_db(scan *sc, const mfkv_db *db, uint32_t expected, const char *kind,
                   void (*check)(scan *, uint64_t, const mfkv_val *, const mfkv_val *))
{
    mfkv_cursor c;
    mfkv_cursor_init(&c, sc->pages, db);
    uint64_t n = 0;
    mfkv_val k, v;
    int rc;
    while ((rc = mfkv_cursor_next(&c, &k.p, &k.len, &v.p, &v.len, &sc->pgno)) == MFKV_OK) check(sc, n++, &k, &v);
    if (rc != MFKV_NOTFOUND) {
        problem(sc, "%s: B-tree unreadable after %llu records (%s)", kind, (unsigned long long)n,
                mfkv_strerror(rc));
        return 0;
    }
    if (n != expected) problem(sc, "header says %u %s, store has %llu", expected, kind, (unsigned long long)n);
    return 0;
}

static int scan_fallback(scan *sc, const mfkv_db *meta)
{
    mfkv_val k = {(const unsigned char *)MFKV_KEY_FALLBACK, strlen(MFKV_KEY_FALLBACK)}, v;
    int rc = mfkv_btree_get(sc->pages, meta, k.p, k.len, &v.p, &v.len);
    if (rc == MFKV_NOTFOUND) {
        if (sc->info.has_fallback) problem(sc, "header promises a fallback list; none stored");
        return 0;
    }
    if (rc) {
        problem(sc, "fallback: %s", mfkv_strerror(rc));
        return 0;
    }
    if (!sc->info.has_fallback) problem(sc, "fallback list stored but not in the header");
    check_list(sc, &k, &v, "fallback");
    return 0;
}

/* Every page against the table: first, so the record scan's reports of
 * unreadable trees are explained by the page named here.  Damage to the
 * table itself is named as such (its pages then fail too). */
static void scan_pages(scan *sc)
{
    const mfkv_pages *p = sc->pages;
    mfkv_pages_damage d;
    mfkv_pages_check_all(p, &d);
    sc->report->pages_checked = p->index ? p->n_pages : 0;
    sc->report->pages_bad = d.pages_bad;
    uint64_t table = p->n_pages * p->psize, index = table + p->n_pages * MFKV_PAGE_HASH_LEN;
    if (p->index_bad)
        damage(sc, 0, "page table index at offset %llu does not match the trailer", (unsigned long long)index);
    if (d.chunks_bad)
        damage(sc, 0, "page table chunk %llu at offset %llu does not match the index (%llu bad chunks)",
               (unsigned long long)d.first_bad_chunk,
               (unsigned long long)(table + d.first_bad_chunk * MFKV_PAGE_CHUNK * MFKV_PAGE_HASH_LEN),
               (unsigned long long)d.chunks_bad);
    if (d.pages_bad)
        damage(sc, 0, "page %llu at offset %llu does not match its checksum", (unsigned long long)d.first_bad_page,
               (unsigned long long)(d.first_bad_page * p->psize));
}

static void scan_all(scan *sc)
{
    const mfkv_db *meta, *users, *items;
    mfkv_store_dbs(sc->store, &meta, &users, &items);
    scan_pages(sc);
    scan_db(sc, users, sc->info.n_users, "users", check_user);
    scan_db(sc, items, sc->info.n_items, "items", check_item);
    scan_fallback(sc, meta);
}

mfkv_status mfkv_verify(mfkv_store *s, mfkv_verify_report *report)
{
    if (!s || !report) return MFKV_INVAL;
    memset(report, 0, sizeof *report);
    scan sc = {.store = s, .report = report, .pages = mfkv_store_pages(s)};
    mfkv_info_get(s, &sc.info);
    report->records_checked = 1; /* the header, checked by mfkv_open */
    sc.digest = XXH3_createState();
    if (!sc.digest) return MFKV_NOMEM;
    XXH3_64bits_reset(sc.digest);
    /* The whole-file digest too: a handle opened without it may be verified. */
    volatile int body = MFKV_OK; /* set under the guard, read after a fault */
    int faulted = 0;
    MFKV_GUARDED(sc.pages->map, sc.pages->map_len, mfkv_store_changed(s), faulted = 1, {
        body = mfkv_trailer_check_body(sc.pages->map, mfkv_store_trailer(s));
        scan_all(&sc);
    });
    /* Reported after the scan, which names WHERE the damage is. */
    if (body) problem(&sc, "whole-file digest mismatch");
    report->digest_computed = XXH3_64bits_digest(sc.digest);
    XXH3_freeState(sc.digest);
    if (faulted) return MFKV_CHANGED;
    if (report->digest_computed != sc.info.digest) problem(&sc, "store digest mismatch");
    return report->first_problem[0] ? mfkv_store_settle(s, MFKV_CORRUPT) : MFKV_OK;
}
