/*
 * chunks.h - reading a block of text lines in parallel: the loaders of
 * large line-per-record inputs (rating logs, long CSV weights) split each
 * block mfkv_lines_block hands them into chunks of whole lines, read the
 * chunks on threads of their own, then take the results in file order on
 * the calling thread, so what is loaded and every message is the same for
 * any number of threads.
 */
#ifndef MFKV_IO_CHUNKS_H
#define MFKV_IO_CHUNKS_H

#include <stddef.h>

/* The most threads a load uses; a block is MFKV_CHUNK_BLOCK bytes per
 * thread, and a chunk of fewer than MFKV_CHUNK_MIN bytes is not worth a
 * thread of its own. */
enum { MFKV_CHUNK_THREADS = 8, MFKV_CHUNK_BLOCK = 4 << 20, MFKV_CHUNK_MIN = 256 << 10 };

/* Threads for a load asked for @p threads: 0 means one per online CPU;
 * at most MFKV_CHUNK_THREADS. */
size_t mfkv_chunk_threads(unsigned threads);

/* Split s[0..len) into at most @p threads chunks of whole lines (each but
 * the last ends after a "\n"), about equal and of at least MFKV_CHUNK_MIN
 * bytes: chunk k is start[k], size[k].  Returns how many (at least 1). */
size_t mfkv_chunk_split(const char *s, size_t len, size_t threads, const char **start, size_t *size);

/* Call @p fn on each of the @p n chunk states at @p chunks (@p size bytes
 * apart): all but the first on threads of their own (or here, when no
 * thread can be had), the first on the calling thread; returns when all
 * are done. */
void mfkv_chunk_run(void *(*fn)(void *), void *chunks, size_t size, size_t n);

#endif
