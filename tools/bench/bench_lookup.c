/*
 * bench_lookup - nanoseconds per lookup in an mfkv store, warm, random ids:
 *   mfkv_get (checksum verified), mfkv_get (MFKV_OPEN_NO_CHECKSUM), and a
 *   bare LMDB mdb_get of the same keys in a long-lived read transaction: the
 *   floor mfkv's framing and checks are measured against.  Then the cold
 *   costs, each on a fresh handle (file in the page cache): mfkv_open, and
 *   the first lookup of distinct random users, which proves the pages on
 *   its path (format 1.1) before the handle remembers them.
 *
 * usage: bench_lookup STORE [LOOKUPS] [REPEATS]      prints one TSV row per
 * method: method, users, lookups, median ns/op, min ns/op.
 */
#include <lmdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "format.h"
#include "mfkv.h"

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

typedef struct key {
    char *s;
    size_t len;
} key;

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* Sink so the compiler cannot drop the lookups. */
static volatile uint64_t sink;

static double run_mfkv(mfkv_store *st, const key *keys, size_t n)
{
    double t = now();
    uint64_t acc = 0;
    for (size_t i = 0; i < n; i++) {
        mfkv_list l;
        if (mfkv_get(st, keys[i].s, keys[i].len, &l) == MFKV_OK) acc += mfkv_list_item_index(&l, 0);
    }
    sink += acc;
    return (now() - t) / (double)n * 1e9;
}

static double run_lmdb(MDB_txn *txn, MDB_dbi dbi, const key *keys, size_t n)
{
    double t = now();
    uint64_t acc = 0;
    for (size_t i = 0; i < n; i++) {
        MDB_val k = {keys[i].len, keys[i].s}, v;
        if (mdb_get(txn, dbi, &k, &v) == 0) acc += ((const unsigned char *)v.mv_data)[12];
    }
    sink += acc;
    return (now() - t) / (double)n * 1e9;
}

/* A fresh handle: ns to open it, and ns per first lookup of @p n distinct
 * users (each proves the pages on its path once). */
static void run_cold(const char *path, const key *users, size_t n_users, size_t n, double *open_ns,
                     double *first_ns)
{
    double t = now();
    mfkv_store *st;
    if (mfkv_open(path, 0, &st)) exit(1);
    *open_ns = (now() - t) * 1e9;
    size_t step = n_users / n ? n_users / n : 1;
    t = now();
    uint64_t acc = 0;
    for (size_t i = 0, u = 0; i < n; i++, u = (u + step * 7919) % n_users) {
        mfkv_list l;
        if (mfkv_get(st, users[u].s, users[u].len, &l) == MFKV_OK) acc += l.count;
    }
    sink += acc;
    *first_ns = (now() - t) / (double)n * 1e9;
    mfkv_close(st);
}

static void report(const char *method, size_t users, size_t n, double *ns, int reps)
{
    qsort(ns, (size_t)reps, sizeof *ns, cmp_double);
    printf("%s\t%zu\t%zu\t%.1f\t%.1f\n", method, users, n, ns[reps / 2], ns[0]);
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        fprintf(stderr, "usage: bench_lookup STORE [LOOKUPS] [REPEATS]\n");
        return 2;
    }
    size_t lookups = argc > 2 ? strtoul(argv[2], NULL, 10) : 1000000;
    int reps = argc > 3 ? atoi(argv[3]) : 7;
    if (reps < 1 || reps > 64) reps = 7;
    mfkv_store *st;
    int rc = mfkv_open(argv[1], 0, &st);
    if (rc) {
        fprintf(stderr, "%s: %s\n", argv[1], mfkv_strerror(rc));
        return 1;
    }
    /* Every user id, then a fixed pseudo-random sequence of them. */
    size_t n_users = 0, cap = 1024;
    key *users = malloc(cap * sizeof *users);
    mfkv_iter *it;
    mfkv_iter_begin(st, &it);
    const char *id;
    size_t len;
    mfkv_list l;
    while (mfkv_iter_next(it, &id, &len, &l) == MFKV_OK) {
        if (n_users == cap) users = realloc(users, (cap *= 2) * sizeof *users);
        users[n_users].s = strndup(id, len);
        users[n_users++].len = len;
    }
    mfkv_iter_end(it);
    key *seq = malloc(lookups * sizeof *seq);
    uint64_t x = 88172645463325252ull;
    for (size_t i = 0; i < lookups; i++) {
        x ^= x << 13, x ^= x >> 7, x ^= x << 17;
        seq[i] = users[x % n_users];
    }

    mfkv_store *fast;
    mfkv_open(argv[1], MFKV_OPEN_NO_CHECKSUM, &fast);
    MDB_env *env;
    MDB_txn *txn;
    MDB_dbi dbi;
    mdb_env_create(&env);
    mdb_env_set_maxdbs(env, MFKV_DB_COUNT);
    if (mdb_env_open(env, argv[1], MDB_RDONLY | MDB_NOLOCK | MDB_NOSUBDIR, 0) || mdb_txn_begin(env, NULL, MDB_RDONLY, &txn) ||
        mdb_dbi_open(txn, MFKV_DB_USERS, 0, &dbi)) {
        fprintf(stderr, "%s: LMDB cannot open it\n", argv[1]);
        return 1;
    }
    double a[64], b[64], c[64];
    run_mfkv(st, seq, lookups); /* warm the page cache and each handle */
    run_mfkv(fast, seq, lookups);
    run_lmdb(txn, dbi, seq, lookups);
    for (int r = 0; r < reps; r++) {
        a[r] = run_mfkv(st, seq, lookups);
        b[r] = run_mfkv(fast, seq, lookups);
        c[r] = run_lmdb(txn, dbi, seq, lookups);
    }
    double opened[64], first[64];
    size_t cold = n_users < 1000 ? n_users : 1000;
    for (int r = 0; r < reps; r++) run_cold(argv[1], users, n_users, cold, &opened[r], &first[r]);
    printf("method\tusers\tlookups\tmedian_ns\tmin_ns\n");
    report("mfkv_get", n_users, lookups, a, reps);
    report("mfkv_get_no_checksum", n_users, lookups, b, reps);
    report("mdb_get", n_users, lookups, c, reps);
    report("mfkv_open", n_users, 1, opened, reps);
    report("mfkv_get_first_touch", n_users, cold, first, reps);
    mdb_txn_abort(txn);
    mdb_env_close(env);
    mfkv_close(fast);
    mfkv_close(st);
    for (size_t i = 0; i < n_users; i++) free(users[i].s);
    free(users);
    free(seq);
    return 0;
}
