/*
 * testutil.h - helpers shared by the C unit tests: seeded random models and
 * an independent double-precision brute-force top-K to compare against.
 * Header-only because build.zig compiles each test program from one file.
 */
#ifndef MFKV_TESTUTIL_H
#define MFKV_TESTUTIL_H

#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>

#include "common/model.h"
#include "common/splitmix.h"
#include "mfkv.h"

/* The project's one seedable generator (common/splitmix.h). */
static inline uint64_t tu_next(uint64_t *s) { return mfkv_splitmix64_next(s); }

/* Uniform in [-1, 1), or from {-1, 0, 1} when quantized (to force ties). */
static inline float tu_value(uint64_t *s, int quantized)
{
    if (quantized) return (float)((int)(tu_next(s) % 3) - 1);
    return (float)((double)(tu_next(s) >> 11) / 9007199254740992.0 * 2.0 - 1.0);
}

/* A random model; ids are "u<i>"/decimal item numbers given in shuffled order. */
static inline void tu_random_model(mfkv_model *m, uint32_t users, uint32_t items, uint32_t factors,
                                   uint64_t seed, int quantized)
{
    mfkv_model_init(m);
    m->n_factors = factors;
    char id[32];
    uint32_t at;
    for (uint32_t u = 0; u < users; u++) {
        snprintf(id, sizeof id, "u%u", u);
        assert_int_equal(mfkv_idtab_intern(&m->user_ids, id, strlen(id), &at, NULL), 0);
    }
    for (uint32_t i = 0; i < items; i++) {
        /* Reverse order, so sorting items by id really permutes them. */
        snprintf(id, sizeof id, "%u", (items - 1 - i) * 7 + 1);
        assert_int_equal(mfkv_idtab_intern(&m->item_ids, id, strlen(id), &at, NULL), 0);
    }
    assert_int_equal(mfkv_model_alloc(m), 0);
    for (size_t i = 0; i < (size_t)users * factors; i++) m->user_factors[i] = tu_value(&seed, quantized);
    for (size_t i = 0; i < (size_t)items * factors; i++) m->item_factors[i] = tu_value(&seed, quantized);
    for (uint32_t u = 0; u < users; u++) m->user_bias[u] = tu_value(&seed, quantized);
    for (uint32_t i = 0; i < items; i++) m->item_bias[i] = tu_value(&seed, quantized);
    m->global_bias = 3.5;
}

typedef struct tu_scored {
    double s;
    uint32_t idx;
} tu_scored;

static inline int tu_by_rank(const void *pa, const void *pb)
{
    const tu_scored *a = pa, *b = pb;
    if (a->s != b->s) return a->s > b->s ? -1 : 1;
    return (a->idx > b->idx) - (a->idx < b->idx);
}

/* Reference: score every allowed item in double, sort by (score desc, index
 * asc), keep k.  allowed may be NULL.  Returns the count written. */
static inline uint32_t tu_reference_topk(const mfkv_model *m, uint32_t user, uint32_t k,
                                         const unsigned char *allowed, uint32_t *item, float *score)
{
    uint32_t n = m->item_ids.n, f = m->n_factors, c = 0;
    tu_scored *all = malloc((n + 1) * sizeof *all);
    for (uint32_t i = 0; i < n; i++) {
        if (allowed && !allowed[i]) continue;
        double dot = 0;
        for (uint32_t j = 0; j < f; j++)
            dot += (double)m->user_factors[(size_t)user * f + j] * (double)m->item_factors[(size_t)i * f + j];
        all[c++] = (tu_scored){m->global_bias + (double)m->user_bias[user] + (double)m->item_bias[i] + dot, i};
    }
    qsort(all, c, sizeof *all, tu_by_rank);
    uint32_t out = c < k ? c : k;
    for (uint32_t i = 0; i < out; i++) {
        item[i] = all[i].idx;
        score[i] = (float)all[i].s;
    }
    free(all);
    return out;
}

/* A fresh empty folder under /tmp for one test's files. */
static inline void tu_tmpdir(char *buf, size_t cap)
{
    snprintf(buf, cap, "/tmp/mfkv-test-XXXXXX");
    assert_non_null(mkdtemp(buf));
}

static inline void tu_rm_rf(const char *dir)
{
    char cmd[4200];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    assert_int_equal(system(cmd), 0);
}

/* The whole file at @p path, malloc'd (plus a NUL), its length in *len. */
static inline char *tu_slurp(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    assert_non_null(f);
    fseek(f, 0, SEEK_END);
    *len = (size_t)ftell(f);
    rewind(f);
    char *b = malloc(*len + 1);
    assert_int_equal(fread(b, 1, *len, f), *len);
    b[*len] = '\0';
    fclose(f);
    return b;
}

/* Replace the file at @p path by @p len bytes of @p b. */
static inline void tu_spit(const char *path, const char *b, size_t len)
{
    /* A new file, not the old one truncated: ext4 writes a file replaced by
     * truncation back to disk when it is closed (auto_da_alloc), which made
     * the damage loops (thousands of files) wait on the disk. */
    unlink(path);
    FILE *f = fopen(path, "wb");
    assert_non_null(f);
    assert_int_equal(fwrite(b, 1, len, f), len);
    fclose(f);
}

#endif
