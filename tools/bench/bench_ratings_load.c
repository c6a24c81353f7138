/*
 * bench_ratings_load - time mfkv_ratings_load on a file.
 *
 *   zig-out/bench/bench_ratings_load RATINGS [REPEATS]
 *
 * Prints the counts once and the best wall time of REPEATS loads (default 3),
 * so a cold page cache on the first run does not decide the figure.
 */
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "io/ratings.h"
#include "mfkv.h"

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

int main(int argc, char **argv)
{
    if (argc < 2 || argc > 3) {
        fprintf(stderr, "usage: %s RATINGS [REPEATS]\n", argv[0]);
        return 2;
    }
    int repeats = argc == 3 ? atoi(argv[2]) : 3;
    double best = 1e300;
    for (int k = 0; k < (repeats > 0 ? repeats : 1); k++) {
        mfkv_ratings r;
        mfkv_diag d = {0};
        double t0 = now();
        int rc = mfkv_ratings_load(argv[1], NULL, &r, &d);
        double t = now() - t0;
        if (rc) {
            fprintf(stderr, "%s\n", d.msg);
            return 3;
        }
        if (k == 0)
            printf("%zu ratings, %u users, %u items\n", r.n, r.users.n, r.items.n);
        mfkv_ratings_free(&r);
        if (t < best) best = t;
    }
    printf("best load time: %.3f s\n", best);
    return 0;
}
