#include "id_set.h"

#include <stdlib.h>
#include <string.h>

/* Any total order will do: by length, then bytes. */
static int cmp(const char *a, size_t alen, const char *b, size_t blen)
{
    if (alen != blen) return alen < blen ? -1 : 1;
    return memcmp(a, b, alen);
}

/* During the sort an id in its own digits is marked NULL: qsort moves the
 * entries, and a pointer into an entry would then name another one's. */
static const char *text(const serve_id *x) { return x->id ? x->id : x->digits; }

static int cmp_ids(const void *a, const void *b)
{
    const serve_id *x = a, *y = b;
    return cmp(text(x), x->id_len, text(y), y->id_len);
}

void serve_ids_sort(serve_id *ids, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (ids[i].id == ids[i].digits) ids[i].id = NULL;
    if (n > 1) qsort(ids, n, sizeof *ids, cmp_ids);
    for (size_t i = 0; i < n; i++)
        if (!ids[i].id) ids[i].id = ids[i].digits;
}

int serve_ids_contain(const serve_id *ids, size_t n, const char *id, size_t len)
{
    size_t lo = 0, hi = n;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        int c = cmp(ids[mid].id, ids[mid].id_len, id, len);
        if (!c) return 1;
        if (c < 0) lo = mid + 1;
        else hi = mid;
    }
    return 0;
}
