#include "builder/shard.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <xxhash.h>

#include "format.h"
#include "mfkv.h"

uint32_t mfkv_shard_of(const char *id, size_t id_len, uint32_t n)
{
    return (uint32_t)(XXH3_64bits_withSeed(id, id_len, MFKV_SHARD_SEED) % n);
}

int mfkv_model_keep_shard(mfkv_model *m, uint32_t index, uint32_t count)
{
    mfkv_idtab kept;
    mfkv_idtab_init(&kept);
    size_t f = m->n_factors;
    uint32_t n = 0;
    for (uint32_t u = 0; u < m->user_ids.n; u++) {
        size_t len;
        const char *id = mfkv_idtab_str(&m->user_ids, u, &len);
        if (mfkv_shard_of(id, len, count) != index) continue;
        uint32_t at;
        if (mfkv_idtab_intern(&kept, id, len, &at, NULL)) {
            mfkv_idtab_free(&kept);
            return MFKV_NOMEM;
        }
        n++;
    }
    /* Rows move only towards the front, in order, so the compaction is in place. */
    uint32_t to = 0;
    for (uint32_t u = 0; u < m->user_ids.n && to < n; u++) {
        size_t len;
        const char *id = mfkv_idtab_str(&m->user_ids, u, &len);
        if (mfkv_shard_of(id, len, count) != index) continue;
        if (to != u) {
            memmove(m->user_factors + (size_t)to * f, m->user_factors + (size_t)u * f, f * sizeof(float));
            if (m->user_bias) m->user_bias[to] = m->user_bias[u];
        }
        to++;
    }
    mfkv_idtab_free(&m->user_ids);
    m->user_ids = kept;
    return MFKV_OK;
}

int mfkv_provenance_shard(const char *prov, size_t len, uint32_t *index, uint32_t *count)
{
    const char *p = prov, *end = prov + len;
    const size_t klen = strlen(MFKV_PROV_SHARD);
    while (p < end) {
        const char *nl = memchr(p, '\n', (size_t)(end - p));
        const char *eol = nl ? nl : end;
        if ((size_t)(eol - p) > klen && !memcmp(p, MFKV_PROV_SHARD, klen)) {
            char buf[32];
            size_t vl = (size_t)(eol - p) - klen;
            if (vl >= sizeof buf) return 0;
            memcpy(buf, p + klen, vl);
            buf[vl] = 0;
            unsigned i, n;
            int used = 0;
            if (sscanf(buf, "%u/%u%n", &i, &n, &used) != 2 || (size_t)used != vl || n == 0 || i >= n ||
                n > MFKV_MAX_SHARDS)
                return 0;
            *index = i;
            *count = n;
            return 1;
        }
        p = eol + 1;
    }
    return 0;
}
