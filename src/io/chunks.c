#include "chunks.h"

#include <pthread.h>
#include <string.h>
#include <unistd.h>

size_t mfkv_chunk_threads(unsigned threads)
{
    size_t n = threads;
    if (n == 0) {
        long online = sysconf(_SC_NPROCESSORS_ONLN);
        n = online > 0 ? (size_t)online : 1;
    }
    return n < MFKV_CHUNK_THREADS ? n : MFKV_CHUNK_THREADS;
}

size_t mfkv_chunk_split(const char *s, size_t len, size_t threads, const char **start, size_t *size)
{
    size_t n = len / MFKV_CHUNK_MIN < threads ? len / MFKV_CHUNK_MIN : threads;
    if (n == 0) n = 1;
    const char *end = s + len, *p = s;
    for (size_t k = 0; k < n; k++) {
        /* Chunk k ends after the first line end at or past its share (and
         * past where chunk k - 1 ended). */
        const char *to = end;
        if (k + 1 < n) {
            const char *share = s + len / n * (k + 1), *from = share > p ? share : p;
            const char *nl = memchr(from, '\n', (size_t)(end - from));
            to = nl ? nl + 1 : end;
        }
        start[k] = p;
        size[k] = (size_t)(to - p);
        p = to;
    }
    return n;
}

void mfkv_chunk_run(void *(*fn)(void *), void *chunks, size_t size, size_t n)
{
    pthread_t thread[MFKV_CHUNK_THREADS];
    int started[MFKV_CHUNK_THREADS] = {0};
    char *at = chunks;
    for (size_t k = 1; k < n && k < MFKV_CHUNK_THREADS; k++)
        if (!(started[k] = pthread_create(&thread[k], NULL, fn, at + k * size) == 0))
            fn(at + k * size); /* no thread to be had: read it here */
    fn(at);
    for (size_t k = 1; k < n && k < MFKV_CHUNK_THREADS; k++)
        if (started[k]) pthread_join(thread[k], NULL);
}
