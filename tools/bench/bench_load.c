/*
 * bench_load - time one of mfkv's input loaders on a file, nothing else.
 *
 *   zig-out/bench/bench_load ndjson WEIGHTS.ndjson [REPEATS]
 *   zig-out/bench/bench_load csv USERS.csv ITEMS.csv [REPEATS [THREADS]]
 *   zig-out/bench/bench_load ratings RATINGS [REPEATS [THREADS]]
 *   zig-out/bench/bench_load movies MOVIES [REPEATS]
 *
 * Prints one JSON line: the best wall time of REPEATS loads (default 3, so
 * a cold page cache on the first does not decide the figure), the best CPU
 * time (the steadier figure on a shared machine), the bytes read and what
 * was loaded.  THREADS: the loader's threads (default 1: one core, the
 * figure issue 9 sets; 0 is the library's default, one per CPU).
 * tools/bench_load.py runs it next to its peers.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "common/clock.h"
#include "io/factors.h"
#include "io/ratings.h"
#include "mfkv.h"

static long long file_size(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0 ? (long long)st.st_size : 0;
}

/* Load once; *what describes the result for the output line. */
static int load(const char *format, char **files, unsigned threads, char what[128], mfkv_diag *d)
{
    int rc;
    if (!strcmp(format, "ratings")) {
        mfkv_ratings r;
        mfkv_ratings_opts opts = {.threads = threads};
        if ((rc = mfkv_ratings_load(files[0], &opts, &r, d))) return rc;
        snprintf(what, 128, "%zu ratings, %u users, %u items", r.n, r.users.n, r.items.n);
        mfkv_ratings_free(&r);
    } else if (!strcmp(format, "movies")) {
        mfkv_movies mv;
        if ((rc = mfkv_movies_load(files[0], &mv, d))) return rc;
        snprintf(what, 128, "%u movies", mv.ids.n);
        mfkv_movies_free(&mv);
    } else {
        mfkv_model m;
        rc = !strcmp(format, "ndjson") ? mfkv_load_bqml_ndjson(files[0], NULL, &m, d)
                                       : mfkv_load_bqml_csv(files[0], files[1], 0, threads, &m, d);
        if (rc) return rc;
        snprintf(what, 128, "%u users, %u items, %u factors", m.user_ids.n, m.item_ids.n, m.n_factors);
        mfkv_model_free(&m);
    }
    return MFKV_OK;
}

int main(int argc, char **argv)
{
    int n_files = argc > 1 && !strcmp(argv[1], "csv") ? 2 : 1;
    int threaded = argc > 1 && (!strcmp(argv[1], "ratings") || !strcmp(argv[1], "csv"));
    int max_args = 3 + n_files + threaded;
    if (argc < 2 + n_files || argc > max_args ||
        (strcmp(argv[1], "ndjson") && strcmp(argv[1], "csv") && strcmp(argv[1], "ratings") &&
         strcmp(argv[1], "movies"))) {
        fprintf(stderr, "usage: %s ndjson|csv|ratings|movies FILE [ITEMS.csv for csv] [REPEATS [THREADS for ratings, csv]]\n",
                argv[0]);
        return 2;
    }
    int repeats = argc >= 3 + n_files ? atoi(argv[2 + n_files]) : 3;
    unsigned threads = argc == 4 + n_files ? (unsigned)atoi(argv[3 + n_files]) : 1;
    long long bytes = 0;
    for (int i = 0; i < n_files; i++) bytes += file_size(argv[2 + i]);
    double best = 1e300, best_cpu = 1e300;
    char what[128] = "";
    for (int k = 0; k < (repeats > 0 ? repeats : 1); k++) {
        mfkv_diag d = {0};
        struct timespec c0, c1;
        clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &c0);
        double t0 = mfkv_now();
        if (load(argv[1], argv + 2, threads, what, &d)) {
            fprintf(stderr, "%s\n", d.msg);
            return 3;
        }
        double t = mfkv_now() - t0;
        clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &c1);
        double cpu = (double)(c1.tv_sec - c0.tv_sec) + (double)(c1.tv_nsec - c0.tv_nsec) * 1e-9;
        if (t < best) best = t;
        if (cpu < best_cpu) best_cpu = cpu;
    }
    printf("{\"seconds\": %.6f, \"cpu_seconds\": %.6f, \"bytes\": %lld, \"loaded\": \"%s\"}\n", best, best_cpu,
           bytes, what);
    return 0;
}
