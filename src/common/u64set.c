#include "u64set.h"

#include <stdlib.h>
#include <string.h>

#include "mfkv.h"

/* A multiply-xorshift mix (the splitmix64 finalizer): one inline step is
 * enough to spread keys that differ only in a few low bits of each half. */
static size_t slot_of(const mfkv_u64set *s, uint64_t stored)
{
    uint64_t x = stored;
    x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ull;
    x = (x ^ (x >> 27)) * 0x94d049bb133111ebull;
    return (size_t)(x ^ (x >> 31)) & s->mask;
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
