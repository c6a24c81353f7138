/*
 * Corruption matrix: damage a small store in every way below, one case at a
 * time, and read the whole store back through the public API.  Each case
 * must end in a status from the library or exactly the right data: never
 * wrong data, never a crash.
 *
 *   record bits    every bit of every record (key and value of each user,
 *                  item, fallback and header record), opened three ways:
 *                  default (the page checksums refuse the damaged page);
 *                  MFKV_OPEN_NO_CHECKSUM (no checks, lookups unverified: the
 *                  promise is no crash, and mfkv_verify, which such callers
 *                  must run, finds it); and "resealed", page table and
 *                  trailer recomputed over the damage, so only the key-seeded
 *                  record checksums stand between it and the caller
 *   meta bits      every bit of the used part of both LMDB meta pages
 *                  (default open: their page checksums protect them; and
 *                  resealed: a forged meta page may be refused, never read
 *                  wrong or crash)
 *   truncation     at every page boundary, one byte either side, and random
 *                  lengths, default and NO_CHECKSUM
 *   swaps          two records' payloads exchanged (every pair of user
 *                  records, user/fallback, equal-length items), default,
 *                  NO_CHECKSUM and resealed
 *   appended       garbage after the trailer; garbage plus a new trailer
 *   deep store     a store whose users B-tree has 3 levels (branch pages
 *                  under the root; 200-byte ids): sampled bits of EVERY page
 *                  (LMDB pages, page table and its index) and of every
 *                  trailer byte, default open: each damaged page is detected
 *                  by the lookups that reach it and by mfkv_verify, which
 *                  names it
 *
 * MFKV_TEST_LIGHT=1 (valgrind and ASan stages) runs every 37th case.
 */
#include "testutil.h"

#include <fcntl.h>
#include <lmdb.h>
#include <sys/stat.h>

#include "builder/seal.h"
#include "builder/topk.h"
#include "builder/writer.h"
#include "layout.h"
#include "common/bytes.h"

#define USERS 24
#define ITEMS 9
#define K 4
#define META_USED 256 /* page header + MDB_meta, rounded up */

static struct {
    char dir[64], path[128];
    mfkv_model m;
    mfkv_topk_result r;
    uint32_t fb_item[K];
    float fb_score[K];
    uint32_t fb_count;
    const char *titles[ITEMS], *genres[ITEMS];
    char *orig;
    size_t len, page;
} fx;

/* A span of the file: one record's key (just before its value in the LMDB
 * node) and value. */
typedef struct span {
    size_t key_off, key_len, val_off, val_len;
} span;

static span users_at[USERS], items_at[ITEMS], fallback_at, header_at;

typedef struct tally {
    size_t cases, detected, wrong;
} tally;

static int light_skip(void)
{
    static size_t n;
    return getenv("MFKV_TEST_LIGHT") && n++ % 37 != 0;
}

static uint32_t user_number(const char *id, size_t len)
{
    char buf[16];
    if (len == 0 || len >= sizeof buf || id[0] != 'u') return UINT32_MAX;
    memcpy(buf, id, len);
    buf[len] = '\0';
    return (uint32_t)strtoul(buf + 1, NULL, 10);
}

static int same_list(const mfkv_list *l, const uint32_t *item, const float *score, uint32_t count)
{
    if (l->count != count) return 0;
    for (uint32_t i = 0; i < count; i++)
        if (mfkv_list_item_index(l, i) != item[i] || mfkv_list_score(l, i) != score[i]) return 0;
    return 1;
}

static int same_text(const char *p, size_t n, const char *want)
{
    size_t wn = want ? strlen(want) : 0;
    return n == wn && memcmp(p, want ? want : "", n) == 0;
}

/* What reading the whole store gave. */
typedef struct outcome {
    int refused;  /* mfkv_open failed */
    int statuses; /* lookups that returned an error status */
    int wrong;    /* lookups that returned data unlike what was built */
    int verify_failed;
} outcome;

static outcome read_all(const char *path, unsigned flags)
{
    outcome o = {0};
    mfkv_store *st;
    int rc = mfkv_open(path, flags, &st);
    if (rc) {
        assert_true(rc == MFKV_FORMAT || rc == MFKV_CORRUPT || rc == MFKV_VERSION);
        o.refused = 1;
        return o;
    }
    mfkv_info in;
    assert_int_equal(mfkv_info_get(st, &in), 0);
    if (in.n_users != USERS || in.n_items != ITEMS || in.k != K || in.n_factors != fx.m.n_factors ||
        !in.has_fallback || !in.has_titles || in.build_time != 1700000000 ||
        !same_text(in.provenance, in.provenance_len, "builder=corruption-test\n"))
        o.wrong++;
    mfkv_list l;
    for (uint32_t u = 0; u < USERS; u++) {
        size_t len;
        const char *id = mfkv_idtab_str(&fx.m.user_ids, u, &len);
        rc = mfkv_get(st, id, len, &l);
        if (rc) o.statuses++;
        else if (!same_list(&l, fx.r.item + u * K, fx.r.score + u * K, fx.r.count[u])) o.wrong++;
    }
    rc = mfkv_fallback(st, &l);
    if (rc) o.statuses++;
    else if (!same_list(&l, fx.fb_item, fx.fb_score, fx.fb_count)) o.wrong++;
    for (uint32_t i = 0; i < ITEMS; i++) {
        mfkv_item_info it;
        size_t len;
        const char *id = mfkv_idtab_str(&fx.m.item_ids, i, &len);
        rc = mfkv_item(st, i, &it);
        if (rc) o.statuses++;
        else if (!same_text(it.id, it.id_len, id) || !same_text(it.title, it.title_len, fx.titles[i]) ||
                 !same_text(it.genres, it.genres_len, fx.genres[i]))
            o.wrong++;
    }
    /* Iteration: every user once, in order, each with its list. */
    mfkv_iter *it;
    assert_int_equal(mfkv_iter_begin(st, &it), 0);
    const char *id;
    size_t id_len;
    uint32_t seen = 0;
    while ((rc = mfkv_iter_next(it, &id, &id_len, &l)) == MFKV_OK) {
        uint32_t u = user_number(id, id_len);
        if (u >= USERS || !same_list(&l, fx.r.item + u * K, fx.r.score + u * K, fx.r.count[u])) o.wrong++;
        seen++;
    }
    mfkv_iter_end(it);
    if (rc != MFKV_NOTFOUND) o.statuses++;
    else if (seen != USERS) o.wrong++;
    mfkv_verify_report rep;
    o.verify_failed = mfkv_verify(st, &rep) != MFKV_OK;
    mfkv_close(st);
    return o;
}

static int detected(const outcome *o) { return o->refused || o->statuses || o->verify_failed; }

/* ---- fixture ------------------------------------------------------------ */

static size_t find(const void *needle, size_t len)
{
    char *at = memmem(fx.orig, fx.len, needle, len);
    assert_non_null(at);
    assert_null(memmem(at + 1, fx.len - (size_t)(at - fx.orig) - 1, needle, len)); /* unique */
    return (size_t)(at - fx.orig);
}

static span locate(const void *key, size_t key_len, const void *val, size_t val_len)
{
    span s = {.val_off = find(val, val_len), .key_len = key_len, .val_len = val_len};
    s.key_off = s.val_off - key_len;
    assert_memory_equal(fx.orig + s.key_off, key, key_len);
    return s;
}

static int setup(void **state)
{
    tu_tmpdir(fx.dir, sizeof fx.dir);
    snprintf(fx.path, sizeof fx.path, "%s/s.mfkv", fx.dir);
    tu_random_model(&fx.m, USERS, ITEMS, 3, 7, 0);
    assert_int_equal(mfkv_model_sort_items(&fx.m), 0);
    mfkv_topk_opts o = {.k = K, .threads = 1};
    assert_int_equal(mfkv_topk_compute(&fx.m, &o, &fx.r, NULL), 0);
    assert_int_equal(mfkv_topk_fallback(&fx.m, K, fx.fb_item, fx.fb_score, &fx.fb_count), 0);
    static const char *const titles[] = {"Heat (1995)", "Amélie (2001)", NULL};
    for (int i = 0; i < ITEMS; i++) {
        fx.titles[i] = titles[i % 3];
        fx.genres[i] = i % 3 == 2 ? NULL : "Drama|Comedy";
    }
    mfkv_write_contents c = {.model = &fx.m, .lists = &fx.r, .titles = fx.titles, .genres = fx.genres,
                             .fallback_item = fx.fb_item, .fallback_score = fx.fb_score,
                             .fallback_count = fx.fb_count, .provenance = "builder=corruption-test\n",
                             .build_time = 1700000000};
    mfkv_diag d = {0};
    assert_int_equal(mfkv_write_file(fx.path, &c, &d), 0);
    fx.orig = tu_slurp(fx.path, &fx.len);
    fx.page = (size_t)sysconf(_SC_PAGESIZE);

    /* Locate every record through the reader's views, then in the file. */
    outcome clean = read_all(fx.path, 0);
    assert_false(detected(&clean) || clean.wrong);
    mfkv_store *st;
    assert_int_equal(mfkv_open(fx.path, 0, &st), 0);
    mfkv_list l;
    for (uint32_t u = 0; u < USERS; u++) {
        size_t len;
        const char *id = mfkv_idtab_str(&fx.m.user_ids, u, &len);
        assert_int_equal(mfkv_get(st, id, len, &l), 0);
        users_at[u] = locate(id, len, l.raw - 12, mfkv_list_record_len(l.count));
    }
    assert_int_equal(mfkv_fallback(st, &l), 0);
    fallback_at = locate(MFKV_KEY_FALLBACK, strlen(MFKV_KEY_FALLBACK), l.raw - 12, mfkv_list_record_len(l.count));
    for (uint32_t i = 0; i < ITEMS; i++) {
        mfkv_item_info it;
        assert_int_equal(mfkv_item(st, i, &it), 0);
        unsigned char key[4] = {(unsigned char)(i >> 24), (unsigned char)(i >> 16), (unsigned char)(i >> 8), (unsigned char)i};
        items_at[i] = locate(key, 4, it.id - MFKV_ITEM_FIXED_LEN - MFKV_RECORD_CHECKSUM_LEN,
                             MFKV_RECORD_CHECKSUM_LEN + MFKV_ITEM_FIXED_LEN + it.id_len + it.title_len + it.genres_len);
    }
    mfkv_info in;
    assert_int_equal(mfkv_info_get(st, &in), 0);
    size_t magic = find(MFKV_MAGIC, MFKV_MAGIC_LEN);
    header_at = locate(MFKV_KEY_HEADER, strlen(MFKV_KEY_HEADER), fx.orig + magic - MFKV_RECORD_CHECKSUM_LEN,
                       MFKV_RECORD_CHECKSUM_LEN + MFKV_HEADER_FIXED_LEN + in.provenance_len);
    mfkv_close(st);
    return 0;
}

static int teardown(void **state)
{
    tu_rm_rf(fx.dir);
    free(fx.orig);
    mfkv_topk_free(&fx.r);
    mfkv_model_free(&fx.m);
    return 0;
}

/* ---- damage ------------------------------------------------------------- */

enum mode { DEFAULT, NO_CHECKSUM, RESEALED, N_MODES };
static const char *const mode_name[N_MODES] = {"default", "no-checksum", "resealed"};

/* Bytes of LMDB pages in the built store (before the page table). */
static size_t lmdb_len(void) { return mfkv_load_u64(fx.orig + fx.len - MFKV_TRAILER_LEN + 32) * fx.page; }

/* Write @p len bytes of @p bytes as the damaged store; when resealing, drop
 * the old page table and trailer (the last fx.len - lmdb_len() bytes of a
 * file that long) and append ones that digest the damaged pages. */
static void write_damaged(const char *bytes, size_t len, int reseal)
{
    tu_spit(fx.path, bytes, reseal ? len - (fx.len - lmdb_len()) : len);
    if (!reseal) return;
    int fd = open(fx.path, O_RDWR);
    assert_true(fd >= 0);
    assert_int_equal(mfkv_seal_file(fd), 0);
    close(fd);
}

/* One damaged file read in one mode; checks the promise of that mode. */
static void judge(const char *what, size_t where, const char *bytes, size_t len, enum mode mode,
                  int must_detect, tally *t)
{
    write_damaged(bytes, len, mode == RESEALED);
    outcome o = read_all(fx.path, mode == NO_CHECKSUM ? MFKV_OPEN_NO_CHECKSUM : 0);
    t->cases++;
    t->detected += detected(&o);
    /* Without checksums lookups are unverified: wrong data is possible until
     * mfkv_verify runs, and mfkv_verify must then find the damage. */
    if (mode == NO_CHECKSUM) {
        t->wrong += o.wrong != 0;
        if (must_detect && !o.refused && !o.verify_failed)
            fail_msg("%s at %zu (%s): mfkv_verify did not notice", what, where, mode_name[mode]);
        return;
    }
    if (o.wrong) fail_msg("%s at %zu (%s): WRONG DATA", what, where, mode_name[mode]);
    if (must_detect && !detected(&o)) fail_msg("%s at %zu (%s): not detected", what, where, mode_name[mode]);
}

static void flip_bits(const char *what, size_t from, size_t n, enum mode mode, int must_detect, tally *t)
{
    for (size_t off = from; off < from + n; off++)
        for (int bit = 0; bit < 8; bit++) {
            if (light_skip()) continue;
            fx.orig[off] ^= (char)(1 << bit);
            judge(what, off, fx.orig, fx.len, mode, must_detect, t);
            fx.orig[off] ^= (char)(1 << bit);
        }
}

static void flip_record(const span *s, enum mode mode, tally *t)
{
    flip_bits("key bit", s->key_off, s->key_len, mode, 1, t);
    flip_bits("value bit", s->val_off, s->val_len, mode, 1, t);
}

static void report(const char *what, const tally *t, enum mode mode)
{
    print_message("%-28s %-11s %7zu cases %7zu detected %5zu wrong before verify\n", what, mode_name[mode],
                  t->cases, t->detected, t->wrong);
}

static void every_record_bit(void **state)
{
    for (enum mode mode = DEFAULT; mode < N_MODES; mode++) {
        tally t = {0};
        for (int u = 0; u < USERS; u++) flip_record(&users_at[u], mode, &t);
        for (int i = 0; i < ITEMS; i++) flip_record(&items_at[i], mode, &t);
        flip_record(&fallback_at, mode, &t);
        flip_record(&header_at, mode, &t);
        report("record bit flips", &t, mode);
        if (mode != NO_CHECKSUM) assert_int_equal(t.wrong, 0);
        assert_int_equal(t.detected, t.cases);
    }
}

static void every_meta_page_bit(void **state)
{
    tally t = {0};
    flip_bits("meta bit", 0, META_USED, DEFAULT, 1, &t);
    flip_bits("meta bit", fx.page, META_USED, DEFAULT, 1, &t);
    report("LMDB meta page bit flips", &t, DEFAULT);
    assert_int_equal(t.detected, t.cases);
    /* Forged: the digest recomputed over a damaged meta page.  Some fields
     * (txnid, map address) are harmless to flip, so not every case is
     * detected, but none may crash LMDB or give wrong data. */
    tally forged = {0};
    flip_bits("meta bit", 0, META_USED, RESEALED, 0, &forged);
    flip_bits("meta bit", fx.page, META_USED, RESEALED, 0, &forged);
    report("LMDB meta page bit flips", &forged, RESEALED);
    assert_int_equal(forged.wrong, 0);
}

static void truncation(void **state)
{
    uint64_t seed = 99;
    for (enum mode mode = DEFAULT; mode < RESEALED; mode++) {
        tally t = {0};
        for (size_t cut = 0; cut <= fx.len - MFKV_TRAILER_LEN; cut += fx.page)
            for (size_t c = cut ? cut - 1 : 0; c <= cut + 1 && c < fx.len; c++)
                if (!light_skip()) judge("truncation", c, fx.orig, c, mode, 1, &t);
        for (int i = 0; i < 64; i++) {
            size_t c = tu_next(&seed) % fx.len;
            if (!light_skip()) judge("truncation", c, fx.orig, c, mode, 1, &t);
        }
        report("truncations", &t, mode);
        assert_int_equal(t.detected, t.cases);
    }
}

static void swap_spans(char *file, const span *a, const span *b)
{
    assert_int_equal(a->val_len, b->val_len);
    char tmp[512];
    assert_true(a->val_len <= sizeof tmp);
    memcpy(tmp, file + a->val_off, a->val_len);
    memcpy(file + a->val_off, file + b->val_off, a->val_len);
    memcpy(file + b->val_off, tmp, a->val_len);
}

static void swapped_payloads(void **state)
{
    span *pairs[USERS * USERS + ITEMS * ITEMS + USERS][2];
    size_t n = 0;
    for (int a = 0; a < USERS; a++) {
        for (int b = a + 1; b < USERS; b++)
            if (users_at[a].val_len == users_at[b].val_len) pairs[n][0] = &users_at[a], pairs[n++][1] = &users_at[b];
        if (users_at[a].val_len == fallback_at.val_len) pairs[n][0] = &users_at[a], pairs[n++][1] = &fallback_at;
    }
    for (int a = 0; a < ITEMS; a++)
        for (int b = a + 1; b < ITEMS; b++)
            if (items_at[a].val_len == items_at[b].val_len) pairs[n][0] = &items_at[a], pairs[n++][1] = &items_at[b];
    assert_true(n > USERS * (USERS - 1) / 2); /* user pairs, fallback pairs and some item pairs */
    for (enum mode mode = DEFAULT; mode < N_MODES; mode++) {
        tally t = {0};
        for (size_t i = 0; i < n; i++) {
            if (light_skip()) continue;
            swap_spans(fx.orig, pairs[i][0], pairs[i][1]);
            judge("swap", pairs[i][0]->val_off, fx.orig, fx.len, mode, 1, &t);
            swap_spans(fx.orig, pairs[i][0], pairs[i][1]);
        }
        report("swapped record payloads", &t, mode);
        if (mode != NO_CHECKSUM) assert_int_equal(t.wrong, 0);
        assert_int_equal(t.detected, t.cases);
    }
}

static void appended_garbage(void **state)
{
    static const size_t extra[] = {1, 7, 63, 64, 65, 4096, 8192};
    char *grown = malloc(fx.len + 10000);
    uint64_t seed = 5;
    tally refused = {0}, resealed = {0};
    for (size_t e = 0; e < sizeof extra / sizeof *extra; e++) {
        memcpy(grown, fx.orig, fx.len);
        for (size_t i = 0; i < extra[e]; i++) grown[fx.len + i] = (char)tu_next(&seed);
        judge("appended garbage", extra[e], grown, fx.len + extra[e], DEFAULT, 1, &refused);
        judge("appended garbage", extra[e], grown, fx.len + extra[e], NO_CHECKSUM, 1, &refused);
        /* Whole pages of garbage sealed into a new page table lie past
         * LMDB's last page: the store must read exactly as built (or be
         * refused). */
        if (extra[e] % fx.page) continue;
        memcpy(grown, fx.orig, lmdb_len());
        for (size_t i = 0; i < fx.len + extra[e] - lmdb_len(); i++) grown[lmdb_len() + i] = (char)tu_next(&seed);
        judge("garbage + new trailer", extra[e], grown, fx.len + extra[e], RESEALED, 0, &resealed);
    }
    report("appended garbage", &refused, DEFAULT);
    report("garbage + new trailer", &resealed, RESEALED);
    assert_int_equal(refused.detected, refused.cases);
    free(grown);
}

/* ---- a store with a 3-level B-tree --------------------------------------- */

#define DEEP_USERS 700
#define DEEP_K 2
#define DEEP_ID_LEN 200

static struct {
    char path[160];
    mfkv_model m;
    mfkv_topk_result r;
    char *orig;
    size_t len;
} deep;

static void deep_id(uint32_t u, char *id)
{
    memset(id, 'x', DEEP_ID_LEN);
    char head[16];
    int n = snprintf(head, sizeof head, "u%05u", u);
    memcpy(id, head, (size_t)n);
}

static void build_deep(void)
{
    snprintf(deep.path, sizeof deep.path, "%s/deep.mfkv", fx.dir);
    mfkv_model *m = &deep.m;
    mfkv_model_init(m);
    m->n_factors = 2;
    char id[DEEP_ID_LEN];
    uint32_t at;
    for (uint32_t u = 0; u < DEEP_USERS; u++) {
        deep_id(u, id);
        assert_int_equal(mfkv_idtab_intern(&m->user_ids, id, DEEP_ID_LEN, &at, NULL), 0);
    }
    for (uint32_t i = 0; i < 5; i++) {
        snprintf(id, sizeof id, "%u", i + 1);
        assert_int_equal(mfkv_idtab_intern(&m->item_ids, id, strlen(id), &at, NULL), 0);
    }
    assert_int_equal(mfkv_model_alloc(m), 0);
    uint64_t seed = 11;
    for (size_t i = 0; i < DEEP_USERS * 2; i++) m->user_factors[i] = tu_value(&seed, 0);
    for (size_t i = 0; i < 5 * 2; i++) m->item_factors[i] = tu_value(&seed, 0);
    assert_int_equal(mfkv_model_sort_items(m), 0);
    mfkv_topk_opts o = {.k = DEEP_K, .threads = 1};
    assert_int_equal(mfkv_topk_compute(m, &o, &deep.r, NULL), 0);
    mfkv_write_contents c = {.model = m, .lists = &deep.r, .provenance = "builder=deep\n", .build_time = 1};
    mfkv_diag d = {0};
    assert_int_equal(mfkv_write_file(deep.path, &c, &d), 0);
    deep.orig = tu_slurp(deep.path, &deep.len);
    /* LMDB's own view of the tree: 3 levels, so branch pages below the root. */
    MDB_env *env;
    MDB_txn *txn;
    MDB_dbi dbi;
    MDB_stat st;
    assert_int_equal(mdb_env_create(&env), 0);
    mdb_env_set_maxdbs(env, 3);
    assert_int_equal(mdb_env_open(env, deep.path, MDB_RDONLY | MDB_NOLOCK | MDB_NOSUBDIR, 0), 0);
    assert_int_equal(mdb_txn_begin(env, NULL, MDB_RDONLY, &txn), 0);
    assert_int_equal(mdb_dbi_open(txn, MFKV_DB_USERS, 0, &dbi), 0);
    assert_int_equal(mdb_stat(txn, dbi, &st), 0);
    print_message("deep store: %zu bytes, users tree depth %u, %zu branch + %zu leaf pages\n", deep.len,
                  st.ms_depth, (size_t)st.ms_branch_pages, (size_t)st.ms_leaf_pages);
    assert_true(st.ms_depth >= 3 && st.ms_branch_pages >= 3);
    mdb_txn_abort(txn);
    mdb_env_close(env);
}

/* Read every user of the damaged deep store; count statuses and wrong data. */
static outcome read_deep(char *problem, size_t cap)
{
    outcome o = {0};
    mfkv_store *st;
    int rc = mfkv_open(deep.path, 0, &st);
    if (rc) {
        assert_true(rc == MFKV_FORMAT || rc == MFKV_CORRUPT || rc == MFKV_VERSION);
        o.refused = 1;
        return o;
    }
    char id[DEEP_ID_LEN];
    mfkv_list l;
    for (uint32_t u = 0; u < DEEP_USERS; u++) {
        deep_id(u, id);
        rc = mfkv_get(st, id, DEEP_ID_LEN, &l);
        if (rc) o.statuses++;
        else if (!same_list(&l, deep.r.item + u * DEEP_K, deep.r.score + u * DEEP_K, deep.r.count[u])) o.wrong++;
    }
    mfkv_iter *it;
    assert_int_equal(mfkv_iter_begin(st, &it), 0);
    const char *iid;
    size_t iid_len;
    while ((rc = mfkv_iter_next(it, &iid, &iid_len, &l)) == MFKV_OK) {
        uint32_t u = (uint32_t)strtoul(iid + 1, NULL, 10);
        if (u >= DEEP_USERS || !same_list(&l, deep.r.item + u * DEEP_K, deep.r.score + u * DEEP_K, deep.r.count[u]))
            o.wrong++;
    }
    mfkv_iter_end(it);
    if (rc != MFKV_NOTFOUND) o.statuses++;
    mfkv_verify_report rep;
    o.verify_failed = mfkv_verify(st, &rep) != MFKV_OK;
    snprintf(problem, cap, "%s", rep.first_problem);
    mfkv_close(st);
    return o;
}

static void deep_store_every_page(void **state)
{
    build_deep();
    size_t ps = fx.page, lmdb_pages = mfkv_load_u64(deep.orig + deep.len - MFKV_TRAILER_LEN + 32);
    uint64_t seed = 2024;
    tally pages = {0}, table = {0}, trailer = {0};
    char problem[256];
    for (size_t off = 0; off < deep.len; off++) {
        size_t pg = off / ps;
        int in_trailer = off >= deep.len - MFKV_TRAILER_LEN;
        /* A random bit of every byte of the trailer and of each page's
         * header and first node offsets; elsewhere of one byte in 151. */
        if (!in_trailer && off % ps >= 24 && tu_next(&seed) % 151) continue;
        if (light_skip()) continue;
        int bit = (int)(tu_next(&seed) % 8);
        deep.orig[off] ^= (char)(1 << bit);
        tu_spit(deep.path, deep.orig, deep.len);
        outcome o = read_deep(problem, sizeof problem);
        deep.orig[off] ^= (char)(1 << bit);
        tally *t = in_trailer ? &trailer : pg < lmdb_pages ? &pages : &table;
        t->cases++;
        t->detected += o.refused || o.verify_failed;
        t->wrong += o.wrong != 0;
        if (o.wrong) fail_msg("bit %d at %zu (page %zu): WRONG DATA", bit, off, pg);
        if (!o.refused && !o.verify_failed) fail_msg("bit %d at %zu (page %zu): verify did not notice", bit, off, pg);
        /* Lookups reach every page of the users tree (iteration included);
         * the meta, items and main-tree pages are read at open. */
        if (pg < lmdb_pages && !o.refused && !o.statuses)
            fail_msg("bit %d at %zu (page %zu): no lookup noticed", bit, off, pg);
        char want[64];
        snprintf(want, sizeof want, "page %zu at offset %zu ", pg, pg * ps);
        if (pg < lmdb_pages && !o.refused && !strstr(problem, want))
            fail_msg("bit %d at %zu: verify named \"%s\", not page %zu", bit, off, problem, pg);
    }
    report("deep store: LMDB pages", &pages, DEFAULT);
    report("deep store: page table", &table, DEFAULT);
    report("deep store: trailer", &trailer, DEFAULT);
    assert_true(pages.cases > 0 && table.cases > 0 && trailer.cases > 0);
    tu_spit(deep.path, deep.orig, deep.len);
    free(deep.orig);
    mfkv_topk_free(&deep.r);
    mfkv_model_free(&deep.m);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(every_record_bit), cmocka_unit_test(every_meta_page_bit),
        cmocka_unit_test(truncation),       cmocka_unit_test(swapped_payloads),
        cmocka_unit_test(appended_garbage), cmocka_unit_test(deep_store_every_page),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
