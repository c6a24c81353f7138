/*
 * fuzz.h - what every fuzz target shares.
 *
 * Each tests/fuzz/fuzz_<target>.c defines `int fuzz_<target>_one(data, size)`
 * that feeds one input to one parser and returns 0.  A target must never
 * crash, leak or trip a sanitizer, whatever the bytes; the parser's status is
 * not checked beyond that.  The same functions run two ways:
 *   - under libFuzzer (tools/fuzz.sh), through libfuzzer_entry.c;
 *   - over the committed corpus tests/fuzz/corpus/<target>/ in the normal
 *     test suite (tests/unit/test_fuzz_replay.c), which #includes the targets
 *     because build.zig compiles each test program from one file.
 * The loaders take paths, so the input is written to a per-process file.
 */
#ifndef MFKV_FUZZ_H
#define MFKV_FUZZ_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* Write @p data to a file named after @p name in $TMPDIR (or /tmp), unique to
 * this process; returns its path (static storage, one per name slot) or NULL
 * when it cannot be written.  Callers remove it with fuzz_drop(). */
static inline const char *fuzz_put(char *path, size_t cap, const char *name, const uint8_t *data,
                                   size_t size)
{
    const char *tmp = getenv("TMPDIR");
    snprintf(path, cap, "%s/mfkv-fuzz-%ld-%s", tmp && *tmp ? tmp : "/tmp", (long)getpid(), name);
    FILE *f = fopen(path, "wb");
    if (!f) return NULL;
    int ok = fwrite(data, 1, size, f) == size;
    if (fclose(f) != 0) ok = 0;
    if (!ok) {
        unlink(path);
        return NULL;
    }
    return path;
}

static inline void fuzz_drop(const char *path)
{
    if (path) unlink(path);
}

/* Each target's work is in fuzz_<target>_outcome(data, size, out, cap),
 * which also writes what the input meant into @p out (NULL: not wanted):
 * "ok " and a few counts, or "status N" with the parser's status.
 * test_fuzz_replay compares it with the expected meaning of every committed
 * seed, so a seed that stops parsing, or parses to something else, fails. */
void fuzz_bqml_csv_outcome(const uint8_t *data, size_t size, char *out, size_t cap);
void fuzz_bqml_ndjson_outcome(const uint8_t *data, size_t size, char *out, size_t cap);
void fuzz_modelfile_outcome(const uint8_t *data, size_t size, char *out, size_t cap);
void fuzz_movies_outcome(const uint8_t *data, size_t size, char *out, size_t cap);
void fuzz_npy_outcome(const uint8_t *data, size_t size, char *out, size_t cap);
void fuzz_ratings_outcome(const uint8_t *data, size_t size, char *out, size_t cap);
void fuzz_serve_http_outcome(const uint8_t *data, size_t size, char *out, size_t cap);
void fuzz_serve_request_outcome(const uint8_t *data, size_t size, char *out, size_t cap);
void fuzz_store_outcome(const uint8_t *data, size_t size, char *out, size_t cap);
#define FUZZ_SAY(out, cap, ...)                                                                    \
    do {                                                                                           \
        if (out) snprintf(out, cap, __VA_ARGS__);                                                  \
    } while (0)

#endif
