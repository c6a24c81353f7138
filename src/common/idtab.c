#include "idtab.h"

#include <stdlib.h>
#include <string.h>
#include <xxhash.h>

#include "mfkv.h"

void mfkv_idtab_init(mfkv_idtab *t) { memset(t, 0, sizeof *t); }

void mfkv_idtab_free(mfkv_idtab *t)
{
    if (!t) return;
    free(t->pool);
    free(t->offset);
    free(t->length);
    free(t->hash);
    free(t->slots);
    memset(t, 0, sizeof *t);
}

static uint32_t hash_of(const char *s, size_t len) { return (uint32_t)XXH3_64bits(s, len); }

/* Keep the index at most half full so probes stay short. */
static int rehash(mfkv_idtab *t, uint32_t nslots)
{
    uint32_t *slots = calloc(nslots, sizeof *slots);
    if (!slots) return MFKV_NOMEM;
    free(t->slots);
    t->slots = slots;
    t->slot_mask = nslots - 1;
    for (uint32_t i = 0; i < t->n; i++) {
        uint32_t s = t->hash[i] & t->slot_mask;
        while (t->slots[s]) s = (s + 1) & t->slot_mask;
        t->slots[s] = i + 1;
    }
    return MFKV_OK;
}

/* The slot of @p s (hashed to @p hash): the one holding it, or the empty
 * one that ends its probe, where it would go. */
static uint32_t probe(const mfkv_idtab *t, const char *s, size_t len, uint32_t hash)
{
    for (uint32_t h = hash & t->slot_mask;; h = (h + 1) & t->slot_mask) {
        uint32_t v = t->slots[h];
        if (!v || (t->hash[v - 1] == hash && t->length[v - 1] == len &&
                   memcmp(t->pool + t->offset[v - 1], s, len) == 0))
            return h;
    }
}

int mfkv_idtab_find(const mfkv_idtab *t, const char *s, size_t len, uint32_t *index)
{
    if (!t->slots) return MFKV_NOTFOUND;
    uint32_t v = t->slots[probe(t, s, len, hash_of(s, len))];
    if (!v) return MFKV_NOTFOUND;
    *index = v - 1;
    return MFKV_OK;
}

int mfkv_idtab_intern(mfkv_idtab *t, const char *s, size_t len, uint32_t *index, int *added)
{
    if (added) *added = 0;
    /* Hashed once, for the lookup and the insert: interning titles, each
     * new, hashed them twice. */
    uint32_t hash = hash_of(s, len);
    if (t->slots) {
        uint32_t v = t->slots[probe(t, s, len, hash)];
        if (v) {
            *index = v - 1;
            return MFKV_OK;
        }
    }
    if (t->n == UINT32_MAX - 1 || len > UINT32_MAX) return MFKV_LIMIT;
    if (t->n == t->cap) {
        uint32_t cap = t->cap ? t->cap * 2 : 64;
        size_t *off = realloc(t->offset, cap * sizeof *off);
        if (!off) return MFKV_NOMEM;
        t->offset = off;
        uint32_t *lens = realloc(t->length, cap * sizeof *lens);
        if (!lens) return MFKV_NOMEM;
        t->length = lens;
        uint32_t *hashes = realloc(t->hash, cap * sizeof *hashes);
        if (!hashes) return MFKV_NOMEM;
        t->hash = hashes;
        t->cap = cap;
    }
    if (t->pool_len + len + 1 > t->pool_cap) {
        size_t cap = t->pool_cap ? t->pool_cap : 1024;
        while (cap < t->pool_len + len + 1) cap *= 2;
        char *pool = realloc(t->pool, cap);
        if (!pool) return MFKV_NOMEM;
        t->pool = pool;
        t->pool_cap = cap;
    }
    if ((uint64_t)(t->n + 1) * 2 > (uint64_t)t->slot_mask + 1 || !t->slots) {
        int rc = rehash(t, t->slots ? (t->slot_mask + 1) * 2 : 128);
        if (rc) return rc;
    }
    memcpy(t->pool + t->pool_len, s, len);
    t->pool[t->pool_len + len] = '\0';
    t->offset[t->n] = t->pool_len;
    t->length[t->n] = (uint32_t)len;
    t->hash[t->n] = hash;
    t->pool_len += len + 1;
    t->slots[probe(t, s, len, hash)] = t->n + 1;
    *index = t->n++;
    if (added) *added = 1;
    return MFKV_OK;
}

const char *mfkv_idtab_str(const mfkv_idtab *t, uint32_t i, size_t *len)
{
    if (len) *len = t->length[i];
    return t->pool + t->offset[i];
}

static int is_canonical_uint(const char *s, size_t len)
{
    if (len == 0 || len > 19 || (len > 1 && s[0] == '0')) return 0;
    for (size_t i = 0; i < len; i++)
        if (s[i] < '0' || s[i] > '9') return 0;
    return 1;
}

int mfkv_id_compare(const char *a, size_t alen, const char *b, size_t blen)
{
    int an = is_canonical_uint(a, alen), bn = is_canonical_uint(b, blen);
    if (an && bn) {
        /* Canonical decimals: the shorter is smaller, equal lengths compare
         * like their digits. */
        if (alen != blen) return alen < blen ? -1 : 1;
        return memcmp(a, b, alen);
    }
    if (an != bn) return an ? -1 : 1;
    int c = memcmp(a, b, alen < blen ? alen : blen);
    if (c) return c;
    return alen < blen ? -1 : alen > blen;
}
