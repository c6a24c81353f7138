#include "u64set.h"

#include <stdlib.h>
#include <string.h>
#include <xxhash.h>

#include "mfkv.h"

static size_t slot_of(const mfkv_u64set *s, uint64_t stored)
{
    return (size_t)XXH3_64bits(&stored, sizeof stored) & s->mask;
}

void mfkv_u64set_free(mfkv_u64set *s)
{
    free(s->slots);
    memset(s, 0, sizeof *s);
}

static void place(mfkv_u64set *s, uint64_t stored)
{
    size_t h = slot_of(s, stored);
    while (s->slots[h]) h = (h + 1) & s->mask;
    s->slots[h] = stored;
}

/* Grow at three quarters full: keys are 8 bytes, so a probe run of a few
 * slots stays within one cache line, and the set is about as large as the
 * ratings it checks. */
static int grow(mfkv_u64set *s)
{
    size_t nslots = s->slots ? (s->mask + 1) * 2 : 1024;
    uint64_t *old = s->slots;
    size_t old_n = s->slots ? s->mask + 1 : 0;
    s->slots = calloc(nslots, sizeof *s->slots);
    if (!s->slots) {
        s->slots = old;
        return MFKV_NOMEM;
    }
    s->mask = nslots - 1;
    for (size_t i = 0; i < old_n; i++)
        if (old[i]) place(s, old[i]);
    free(old);
    return MFKV_OK;
}

int mfkv_u64set_add(mfkv_u64set *s, uint64_t key, int *added)
{
    *added = 0;
    if (!s->slots || (s->n + 1) * 4 > (s->mask + 1) * 3) {
        int rc = grow(s);
        if (rc) return rc;
    }
    uint64_t stored = key + 1;
    size_t h = slot_of(s, stored);
    for (; s->slots[h]; h = (h + 1) & s->mask)
        if (s->slots[h] == stored) return MFKV_OK;
    s->slots[h] = stored;
    s->n++;
    *added = 1;
    return MFKV_OK;
}
