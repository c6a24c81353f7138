#include "store_slot.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "answer_cache.h"

int served_store_open(const char *path, const struct stat *file, uint64_t number, served_store **out,
                      mfkv_diag *d)
{
    *out = NULL;
    served_store *s = calloc(1, sizeof *s);
    if (!s) return mfkv_fail(d, MFKV_NOMEM, "%s: out of memory", path);
    /* Format 1.1 opens in constant time and proves pages as lookups reach
     * them, so a damaged page would only show as 503s.  A version is proven
     * whole here instead, once, before it is served: in the watcher thread
     * while the previous version keeps serving, so a damaged new version is
     * refused (and a base path rolls back) before any client sees it.  That
     * is one pass over the file where format 1.0 took two (open, verify). */
    mfkv_verify_report report = {0};
    int rc = mfkv_open(path, 0, &s->store);
    if (!rc) rc = mfkv_verify(s->store, &report);
    if (!rc) rc = mfkv_info_get(s->store, &s->info);
    if (rc) {
        mfkv_close(s->store);
        free(s);
        return mfkv_fail(d, rc, "%s: %s%s%s", path, mfkv_strerror(rc), report.first_problem[0] ? ": " : "",
                         report.first_problem);
    }
    /* TF Serving versions are positive int64 and clients often hold them in
     * doubles; a build time in seconds fits both, and grows with rebuilds. */
    served_store_set_number(s, number ? number : (s->info.build_time > 0 ? (uint64_t)s->info.build_time : 1));
    snprintf(s->digest_hex, sizeof s->digest_hex, "%016" PRIx64, s->info.digest);
    s->file = *file;
    atomic_init(&s->damaged, 0);
    atomic_init(&s->refs, 1);
    *out = s;
    return MFKV_OK;
}

void served_store_set_number(served_store *s, uint64_t number)
{
    s->number = number;
    snprintf(s->version, sizeof s->version, "%" PRIu64, number);
}

void served_store_release(served_store *s)
{
    if (!s || atomic_fetch_sub_explicit(&s->refs, 1, memory_order_acq_rel) != 1) return;
    mfkv_close(s->store);
    answer_cache_free(s->answers);
    free(s);
}

served_versions *served_versions_new(served_store *const *stores, size_t n, const served_failure *failed,
                                     size_t n_failed)
{
    /* One block: the header, then the store pointers, then the failures. */
    size_t size = sizeof(served_versions) + n * sizeof(served_store *) + n_failed * sizeof(served_failure);
    served_versions *v = calloc(1, size);
    if (!v) return NULL;
    v->stores = (served_store **)(v + 1);
    v->failed = (served_failure *)(v->stores + n);
    for (size_t i = 0; i < n; i++) {
        atomic_fetch_add_explicit(&stores[i]->refs, 1, memory_order_relaxed);
        v->stores[i] = stores[i];
    }
    if (n_failed) memcpy(v->failed, failed, n_failed * sizeof *failed);
    v->n = n;
    v->n_failed = n_failed;
    atomic_init(&v->refs, 1);
    return v;
}

void served_versions_release(served_versions *v)
{
    if (!v || atomic_fetch_sub_explicit(&v->refs, 1, memory_order_acq_rel) != 1) return;
    for (size_t i = 0; i < v->n; i++) served_store_release(v->stores[i]);
    free(v);
}

served_store *served_versions_pick(const served_versions *v, const char *version, size_t len)
{
    if (!version) return v->n ? v->stores[0] : NULL;
    for (size_t i = 0; i < v->n; i++)
        if (strlen(v->stores[i]->version) == len && !memcmp(v->stores[i]->version, version, len))
            return v->stores[i];
    return NULL;
}

void store_slot_init(store_slot *slot, served_versions *first)
{
    pthread_mutex_init(&slot->lock, NULL);
    slot->current = first;
}

void store_slot_destroy(store_slot *slot)
{
    served_versions_release(slot->current);
    slot->current = NULL;
    pthread_mutex_destroy(&slot->lock);
}

served_versions *store_slot_acquire(store_slot *slot)
{
    /* The lock makes "read the pointer, take a reference" one step: without
     * it the old snapshot could be freed between the two. */
    pthread_mutex_lock(&slot->lock);
    served_versions *v = slot->current;
    atomic_fetch_add_explicit(&v->refs, 1, memory_order_relaxed);
    pthread_mutex_unlock(&slot->lock);
    return v;
}

void store_slot_publish(store_slot *slot, served_versions *next)
{
    pthread_mutex_lock(&slot->lock);
    served_versions *old = slot->current;
    slot->current = next;
    pthread_mutex_unlock(&slot->lock);
    served_versions_release(old);
}
