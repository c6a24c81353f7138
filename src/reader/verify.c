/*
 * verify.c - the full scan behind `mfkv verify`.
 *
 * mfkv_get checks one record; this proves the whole store: every record's
 * checksum and layout, that lists reference only existing items and are in
 * rank order, that the counts match the header, and that the digest of all
 * record checksums equals the one the builder recorded, which also catches
 * records that were dropped or added wholesale.
 */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "common/bytes.h"
#include "reader/record.h"
#include "reader/store_internal.h"
#include "reader/trailer.h"

typedef struct scan {
    mfkv_store *store;
    mfkv_info info;
    MDB_txn *txn;
    XXH3_state_t *digest;
    mfkv_verify_report *report;
} scan;

static void problem(scan *sc, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void problem(scan *sc, const char *fmt, ...)
{
    sc->report->records_bad++;
    if (sc->report->first_problem[0]) return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(sc->report->first_problem, sizeof sc->report->first_problem, fmt, ap);
    va_end(ap);
}

/* Check framing and checksum of one record; feed its checksum to the digest.
 * Returns the body, or NULL (problem already reported).  A key that came
 * from a cursor must have been checked to lie in the map by the caller. */
static const unsigned char *check_record(scan *sc, const MDB_val *k, const MDB_val *v, size_t *body_len,
                                         const char *what)
{
    sc->report->records_checked++;
    if (!mfkv_in_map(sc->store, v) || v->mv_size < MFKV_RECORD_CHECKSUM_LEN) {
        problem(sc, "%s record: out of the file's bounds", what);
        return NULL;
    }
    const unsigned char *p = v->mv_data;
    uint64_t stored = mfkv_load_u64(p);
    XXH3_64bits_update(sc->digest, p, MFKV_RECORD_CHECKSUM_LEN);
    *body_len = v->mv_size - MFKV_RECORD_CHECKSUM_LEN;
    if (stored != mfkv_record_checksum(k->mv_data, k->mv_size, p + MFKV_RECORD_CHECKSUM_LEN, *body_len)) {
        problem(sc, "%s record: checksum mismatch", what);
        return NULL;
    }
    return p + MFKV_RECORD_CHECKSUM_LEN;
}

static void check_list(scan *sc, const MDB_val *k, const MDB_val *v, const char *what)
{
    size_t len;
    const unsigned char *body = check_record(sc, k, v, &len, what);
    if (!body) return;
    mfkv_list list;
    if (mfkv_decode_list(sc->store, body, len, &list)) {
        problem(sc, "%s record: bad length or count", what);
        return;
    }
    for (uint32_t i = 0; i < list.count; i++) {
        if (mfkv_list_item_index(&list, i) >= sc->info.n_items) {
            problem(sc, "%s record: entry %u names item %u of %u", what, i, mfkv_list_item_index(&list, i),
                    sc->info.n_items);
            return;
        }
        /* NaN compares false both ways and is caught here too. */
        if (i > 0 && !(mfkv_list_score(&list, i) <= mfkv_list_score(&list, i - 1))) {
            problem(sc, "%s record: scores out of rank order at entry %u", what, i);
            return;
        }
    }
}

/* Record @p n (0-based) of the users database. */
static void check_user(scan *sc, uint64_t n, const MDB_val *k, const MDB_val *v)
{
    char what[64];
    snprintf(what, sizeof what, "user #%llu", (unsigned long long)n + 1);
    if (!mfkv_in_map(sc->store, k) || k->mv_size == 0 || k->mv_size > MFKV_MAX_ID_LEN) {
        sc->report->records_checked++;
        problem(sc, "%s: bad key", what);
        return;
    }
    check_list(sc, k, v, what);
}

/* Record @p n of the items database: its key must be n, big-endian. */
static void check_item(scan *sc, uint64_t n, const MDB_val *k, const MDB_val *v)
{
    char what[64];
    snprintf(what, sizeof what, "item %llu", (unsigned long long)n);
    unsigned char expect[4];
    mfkv_store_u32be(expect, (uint32_t)n);
    if (k->mv_size != 4 || !mfkv_in_map(sc->store, k) || memcmp(k->mv_data, expect, 4) != 0) {
        sc->report->records_checked++;
        problem(sc, "%s: key out of sequence", what);
        return;
    }
    size_t len;
    const unsigned char *body = check_record(sc, k, v, &len, what);
    mfkv_item_info item;
    if (body && mfkv_decode_item(body, len, &item)) problem(sc, "%s: bad field lengths", what);
}

/* Visit every record of @p dbi in key order; the count must match the header. */
static int scan_db(scan *sc, MDB_dbi dbi, uint32_t expected, const char *kind,
                   void (*check)(scan *, uint64_t, const MDB_val *, const MDB_val *))
{
    MDB_cursor *c;
    int rc = mdb_cursor_open(sc->txn, dbi, &c);
    if (rc) return rc;
    uint64_t n = 0;
    MDB_val k, v;
    for (rc = mdb_cursor_get(c, &k, &v, MDB_FIRST); rc == 0; rc = mdb_cursor_get(c, &k, &v, MDB_NEXT))
        check(sc, n++, &k, &v);
    mdb_cursor_close(c);
    if (rc != MDB_NOTFOUND) return rc;
    if (n != expected) problem(sc, "header says %u %s, store has %llu", expected, kind, (unsigned long long)n);
    return 0;
}

static int scan_fallback(scan *sc, MDB_dbi dbi)
{
    MDB_val k = {strlen(MFKV_KEY_FALLBACK), (void *)MFKV_KEY_FALLBACK}, v;
    int rc = mdb_get(sc->txn, dbi, &k, &v);
    if (rc == MDB_NOTFOUND) {
        if (sc->info.has_fallback) problem(sc, "header promises a fallback list; none stored");
        return 0;
    }
    if (rc) return rc;
    if (!sc->info.has_fallback) problem(sc, "fallback list stored but not in the header");
    check_list(sc, &k, &v, "fallback");
    return 0;
}

int mfkv_verify(mfkv_store *s, mfkv_verify_report *report)
{
    if (!s || !report) return MFKV_INVAL;
    memset(report, 0, sizeof *report);
    scan sc = {.store = s, .report = report};
    mfkv_info_get(s, &sc.info);
    report->records_checked = 1; /* the header, checked by mfkv_open */
    sc.digest = XXH3_createState();
    if (!sc.digest) return MFKV_NOMEM;
    XXH3_64bits_reset(sc.digest);
    /* The whole-file digest too: a handle opened without it may be verified. */
    int fd;
    if (mdb_env_get_fd(mfkv_store_env(s), &fd) == 0) {
        int trc = mfkv_trailer_check(fd, mfkv_store_file_size(s), 1);
        if (trc == MFKV_NOMEM || trc == MFKV_IO) {
            XXH3_freeState(sc.digest);
            return trc;
        }
        if (trc) problem(&sc, "file digest mismatch: %s", mfkv_strerror(trc));
    }
    MDB_dbi meta, users, items;
    mfkv_store_dbis(s, &meta, &users, &items);
    int rc = mdb_txn_begin(mfkv_store_env(s), NULL, MDB_RDONLY, &sc.txn);
    if (!rc) rc = scan_db(&sc, users, sc.info.n_users, "users", check_user);
    if (!rc) rc = scan_db(&sc, items, sc.info.n_items, "items", check_item);
    if (!rc) rc = scan_fallback(&sc, meta);
    if (sc.txn) mdb_txn_abort(sc.txn);
    report->digest_computed = XXH3_64bits_digest(sc.digest);
    XXH3_freeState(sc.digest);
    if (rc) {
        problem(&sc, "LMDB structure damaged: %s", mdb_strerror(rc));
        return MFKV_CORRUPT;
    }
    if (report->digest_computed != sc.info.digest) problem(&sc, "store digest mismatch");
    return report->records_bad ? MFKV_CORRUPT : MFKV_OK;
}
