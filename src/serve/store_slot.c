#include "store_slot.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>

int served_store_open(const char *path, const struct stat *file, served_store **out, mfkv_diag *d)
{
    *out = NULL;
    served_store *s = calloc(1, sizeof *s);
    if (!s) return mfkv_fail(d, MFKV_NOMEM, "%s: out of memory", path);
    int rc = mfkv_open(path, 0, &s->store);
    if (rc) {
        free(s);
        return mfkv_fail(d, rc, "%s: %s", path, mfkv_strerror(rc));
    }
    mfkv_verify_report report = {0};
    rc = mfkv_verify(s->store, &report);
    if (!rc) rc = mfkv_info_get(s->store, &s->info);
    if (rc) {
        mfkv_close(s->store);
        free(s);
        return mfkv_fail(d, rc, "%s: %s%s%s", path, mfkv_strerror(rc),
                         report.first_problem[0] ? ": " : "", report.first_problem);
    }
    /* TF Serving versions are positive int64 and clients often hold them in
     * doubles: the digest's top 53 bits fit both. */
    snprintf(s->version, sizeof s->version, "%" PRIu64, (s->info.digest >> 11) | 1);
    snprintf(s->digest_hex, sizeof s->digest_hex, "%016" PRIx64, s->info.digest);
    s->file = *file;
    atomic_init(&s->refs, 1);
    *out = s;
    return MFKV_OK;
}

void served_store_release(served_store *s)
{
    if (!s || atomic_fetch_sub_explicit(&s->refs, 1, memory_order_acq_rel) != 1) return;
    mfkv_close(s->store);
    free(s);
}

void store_slot_init(store_slot *slot, served_store *first)
{
    pthread_mutex_init(&slot->lock, NULL);
    slot->current = first;
}

void store_slot_destroy(store_slot *slot)
{
    served_store_release(slot->current);
    slot->current = NULL;
    pthread_mutex_destroy(&slot->lock);
}

served_store *store_slot_acquire(store_slot *slot)
{
    /* The lock makes "read the pointer, take a reference" one step: without
     * it the old store could be freed between the two. */
    pthread_mutex_lock(&slot->lock);
    served_store *s = slot->current;
    atomic_fetch_add_explicit(&s->refs, 1, memory_order_relaxed);
    pthread_mutex_unlock(&slot->lock);
    return s;
}

void store_slot_publish(store_slot *slot, served_store *next)
{
    pthread_mutex_lock(&slot->lock);
    served_store *old = slot->current;
    slot->current = next;
    pthread_mutex_unlock(&slot->lock);
    served_store_release(old);
}
