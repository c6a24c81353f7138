#include "answer_cache.h"

#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <xxhash.h>

#include "handler.h"

typedef struct entry {
    pthread_mutex_t lock;
    uint64_t hash;
    char kind;         /* 0: empty */
    size_t key_len, body_len;
    const char *content_type;
    char etag[sizeof ((serve_response *)0)->etag];
    char *bytes; /* the key, then the body: one allocation */
} entry;

struct answer_cache {
    size_t mask;
    entry entries[];
};

answer_cache *answer_cache_new(unsigned entries)
{
    if (!entries) return NULL;
    size_t n = 1;
    while (n < entries) n <<= 1;
    answer_cache *c = calloc(1, sizeof *c + n * sizeof(entry));
    if (!c) return NULL;
    c->mask = n - 1;
    for (size_t i = 0; i < n; i++) pthread_mutex_init(&c->entries[i].lock, NULL);
    return c;
}

void answer_cache_free(answer_cache *c)
{
    if (!c) return;
    for (size_t i = 0; i <= c->mask; i++) {
        pthread_mutex_destroy(&c->entries[i].lock);
        free(c->entries[i].bytes);
    }
    free(c);
}

static entry *find(answer_cache *c, char kind, const void *key, size_t key_len, uint64_t *hash)
{
    *hash = XXH3_64bits_withSeed(key, key_len, (unsigned char)kind);
    return &c->entries[*hash & c->mask];
}

int answer_cache_get(answer_cache *c, char kind, const void *key, size_t key_len, serve_response *res)
{
    if (!c || key_len > ANSWER_CACHE_MAX_KEY) return 0;
    uint64_t hash;
    entry *e = find(c, kind, key, key_len, &hash);
    pthread_mutex_lock(&e->lock);
    int hit = e->kind == kind && e->hash == hash && e->key_len == key_len && !memcmp(e->bytes, key, key_len);
    if (hit) {
        res->status = 200;
        res->content_type = e->content_type;
        memcpy(res->etag, e->etag, sizeof res->etag);
        mfkv_buf_put(&res->body, e->bytes + key_len, e->body_len);
    }
    pthread_mutex_unlock(&e->lock);
    return hit;
}

void answer_cache_put(answer_cache *c, char kind, const void *key, size_t key_len, const serve_response *res)
{
    if (!c || key_len > ANSWER_CACHE_MAX_KEY || res->status != 200 || res->body.len > ANSWER_CACHE_MAX_BODY ||
        mfkv_buf_status(&res->body))
        return;
    /* Built outside the lock; only the swap is inside. */
    char *bytes = malloc(key_len + res->body.len + 1);
    if (!bytes) return;
    memcpy(bytes, key, key_len);
    if (res->body.len) memcpy(bytes + key_len, res->body.data, res->body.len);
    uint64_t hash;
    entry *e = find(c, kind, key, key_len, &hash);
    pthread_mutex_lock(&e->lock);
    char *old = e->bytes;
    e->bytes = bytes;
    e->hash = hash;
    e->kind = kind;
    e->key_len = key_len;
    e->body_len = res->body.len;
    e->content_type = res->content_type;
    memcpy(e->etag, res->etag, sizeof e->etag);
    pthread_mutex_unlock(&e->lock);
    free(old);
}
