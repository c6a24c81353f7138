/* Fuzz target: a store file read through the public API (mfkv.h): open,
 * lookups of a few ids, the fallback list, item rows, verify, iteration.
 * Every byte of every view handed out is read, so a view reaching outside
 * the mapping trips AddressSanitizer or faults.  The input is opened as
 * given; its whole-file digest then almost always fails, which is the
 * promise under test (a damaged file gives a status).  Not fuzzed: files
 * whose trailer is recomputed over damaged LMDB pages.  LMDB trusts its own
 * page structures (src/format.h) and such a forged file crashes it within a
 * thousand runs (division by zero in mdb_env_open on a zero page size); the
 * digest is what keeps damaged pages from LMDB, and test_corruption checks
 * the record checksums behind it with resealed files. */
#include "fuzz.h"
#include "mfkv.h"

static volatile uint32_t fuzz_store_sink;

static void fuzz_store_touch_list(const mfkv_list *l)
{
    for (uint32_t i = 0; i < l->count; i++) {
        float s = mfkv_list_score(l, i);
        uint32_t bits;
        memcpy(&bits, &s, 4);
        fuzz_store_sink += mfkv_list_item_index(l, i) ^ bits;
    }
}

static void fuzz_store_touch_bytes(const char *p, size_t n)
{
    for (size_t i = 0; i < n; i++) fuzz_store_sink += (unsigned char)p[i];
}

static void fuzz_store_read(mfkv_store *st)
{
    static const char *const ids[] = {"u0", "u1", "u7", "1", "42", "nobody"};
    mfkv_list l;
    for (size_t i = 0; i < sizeof ids / sizeof *ids; i++)
        if (mfkv_get(st, ids[i], strlen(ids[i]), &l) == MFKV_OK) fuzz_store_touch_list(&l);
    if (mfkv_fallback(st, &l) == MFKV_OK) fuzz_store_touch_list(&l);
    mfkv_info in;
    if (mfkv_info_get(st, &in) == MFKV_OK) {
        fuzz_store_touch_bytes(in.provenance, in.provenance_len);
        uint32_t probe[] = {0, 1, in.n_items / 2, in.n_items - 1, in.n_items};
        for (size_t i = 0; i < sizeof probe / sizeof *probe; i++) {
            mfkv_item_info it;
            if (mfkv_item(st, probe[i], &it) != MFKV_OK) continue;
            fuzz_store_touch_bytes(it.id, it.id_len);
            fuzz_store_touch_bytes(it.title, it.title_len);
            fuzz_store_touch_bytes(it.genres, it.genres_len);
        }
    }
    mfkv_verify_report rep;
    mfkv_verify(st, &rep);
    mfkv_iter *it;
    if (mfkv_iter_begin(st, &it) == MFKV_OK) {
        const char *id;
        size_t id_len;
        /* A bounded walk: corruption may stop it early with a status. */
        for (int n = 0; n < 2000 && mfkv_iter_next(it, &id, &id_len, &l) == MFKV_OK; n++) {
            fuzz_store_touch_bytes(id, id_len);
            fuzz_store_touch_list(&l);
        }
        mfkv_iter_end(it);
    }
}

/* Counts, then user "1"'s list as item ids. */
static void fuzz_store_say(mfkv_store *st, char *out, size_t cap)
{
    mfkv_info in;
    mfkv_list l;
    if (!out || mfkv_info_get(st, &in) != MFKV_OK) return;
    int n = snprintf(out, cap, "ok users=%u items=%u k=%u user1=", in.n_users, in.n_items, in.k);
    if (mfkv_get(st, "1", 1, &l) != MFKV_OK) return;
    for (uint32_t i = 0; i < l.count && n > 0 && (size_t)n < cap; i++) {
        mfkv_item_info it;
        if (mfkv_item(st, mfkv_list_item_index(&l, i), &it) != MFKV_OK) return;
        n += snprintf(out + n, cap - (size_t)n, "%s%.*s", i ? "," : "", (int)it.id_len, it.id);
    }
}

void fuzz_store_outcome(const uint8_t *data, size_t size, char *out, size_t cap)
{
    char path[256];
    FUZZ_SAY(out, cap, "unwritable");
    if (!fuzz_put(path, sizeof path, "store.mfkv", data, size)) return;
    mfkv_store *st;
    int rc = mfkv_open(path, 0, &st);
    if (rc) FUZZ_SAY(out, cap, "status %d", rc);
    else {
        fuzz_store_say(st, out, cap);
        fuzz_store_read(st);
        mfkv_close(st);
    }
    fuzz_drop(path);
}

int fuzz_store_one(const uint8_t *data, size_t size)
{
    fuzz_store_outcome(data, size, NULL, 0);
    return 0;
}
