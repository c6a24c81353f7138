/*
 * answer_cache.h - a served store's recent answers, found by the request
 * bytes that asked for them.
 *
 * With the configuration fixed for the life of the process, a 200 answer
 * is a function of the store version and a few request bytes: the body of
 * a predict, the user and query of a snippet.  Producing it (JSON parse,
 * lookup, the shortest text of every score, escaping) was most of the
 * server's own CPU per request (tools/SERVE_RELIABILITY.md, issue 13), the
 * rest being the kernel's TCP.  So each served store keeps a bounded table
 * of answers it gave, and a repeat is one hash and one copy.
 *
 * Bounds: a fixed number of entries per store version (direct-mapped: a
 * new answer replaces whichever one hashed to its entry), keys of at most
 * ANSWER_CACHE_MAX_KEY bytes and answers of at most ANSWER_CACHE_MAX_BODY
 * (larger ones, e.g. batch predicts, are never kept).  The table belongs to
 * its served_store, so a swap or reload starts empty and no answer
 * outlives the version it came from.  Each entry has its own lock: two
 * requests only ever wait for each other when they hash to one entry.
 */
#ifndef MFKV_SERVE_ANSWER_CACHE_H
#define MFKV_SERVE_ANSWER_CACHE_H

#include <stddef.h>

struct serve_response;

#define ANSWER_CACHE_MAX_KEY 512
#define ANSWER_CACHE_MAX_BODY 8192

typedef struct answer_cache answer_cache;

/* A table of @p entries (rounded up to a power of two); NULL when
 * @p entries is 0 (no cache) or out of memory: every call below takes
 * NULL and then finds nothing and keeps nothing. */
answer_cache *answer_cache_new(unsigned entries);
void answer_cache_free(answer_cache *c);

/* Fill @p res (status 200, content type, ETag, body) with the answer kept
 * for @p key of kind @p kind (one per route, so keys of two routes never
 * meet).  @return 1 on a hit, 0 when there is none (res untouched). */
int answer_cache_get(answer_cache *c, char kind, const void *key, size_t key_len, struct serve_response *res);

/* Keep @p res as the answer for @p key when it is a 200 small enough. */
void answer_cache_put(answer_cache *c, char kind, const void *key, size_t key_len,
                      const struct serve_response *res);

#endif
