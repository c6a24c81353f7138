/*
 * store_slot.h - a model's loaded versions, swappable while requests run.
 *
 * A served_store is one open store file, reference-counted.  A
 * served_versions is an immutable snapshot of a model's loaded versions
 * (newest first, one reference each) and of the versions that failed to
 * load; it is reference-counted too.  The slot holds one reference to the
 * current snapshot and every request that acquired it holds one more.
 * Publishing a new snapshot drops the slot's reference to the old one;
 * whichever release brings a count to zero frees it (and closes the stores
 * it held last), so requests in flight finish on the versions they started
 * with and never see a closed handle.
 */
#ifndef MFKV_SERVE_STORE_SLOT_H
#define MFKV_SERVE_STORE_SLOT_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <sys/stat.h>

#include "common/diag.h"
#include "mfkv.h"

typedef struct served_store {
    mfkv_store *store;
    mfkv_info info;
    uint64_t number;      /* TF Serving model version */
    char version[24];     /* the same, decimal */
    char digest_hex[17];  /* the store's digest: ETags and /metrics */
    struct stat file;     /* identity of the file when it was opened */
    atomic_int damaged;   /* a lookup found the file changed under it: reload it */
    atomic_uint refs;
    struct answer_cache *answers; /* its recent answers (answer_cache.h); NULL: none */
} served_store;

/*
 * Open the store at @p path.  mfkv_open checks the whole-file digest (or,
 * with a library that verifies pages lazily, what stands for it), so the
 * server no longer runs mfkv_verify over the same bytes a second time.
 * @p file is the identity to remember (stat taken before opening, so a
 * replacement during the open is seen later); @p number the version, 0 for
 * the store's build time.
 * @return MFKV_OK with *out holding one reference, or a status with @p d set.
 */
int served_store_open(const char *path, const struct stat *file, uint64_t number, served_store **out,
                      mfkv_diag *d);

/* Set the version number (before the store is published). */
void served_store_set_number(served_store *s, uint64_t number);

/* Drop one reference; the last one closes the store. NULL-safe. */
void served_store_release(served_store *s);

/* A version that failed to load, listed by GET /v1/models/NAME. */
typedef struct served_failure {
    uint64_t number;
    struct stat file; /* not retried while the file stays the same */
    char message[232];
} served_failure;

typedef struct served_versions {
    atomic_uint refs;
    size_t n, n_failed;
    served_store **stores;   /* newest first; n >= 1 */
    served_failure *failed;  /* newest first */
} served_versions;

/* A snapshot of @p n stores (a new reference is taken on each) and copies
 * of @p n_failed failures.  @return NULL when out of memory. */
served_versions *served_versions_new(served_store *const *stores, size_t n, const served_failure *failed,
                                     size_t n_failed);

/* Drop one reference; the last one frees the snapshot. NULL-safe. */
void served_versions_release(served_versions *v);

/* Version @p version (@p len bytes, decimal) of @p v, or the newest when
 * @p version is NULL; NULL when it is not loaded. */
served_store *served_versions_pick(const served_versions *v, const char *version, size_t len);

typedef struct store_slot {
    pthread_mutex_t lock;
    served_versions *current;
} store_slot;

void store_slot_init(store_slot *slot, served_versions *first);
/* Release the slot's reference; the slot is unusable afterwards. */
void store_slot_destroy(store_slot *slot);

/* A new reference to the current snapshot; release it when done. */
served_versions *store_slot_acquire(store_slot *slot);

/* Make @p next current (taking over its reference) and drop the old one. */
void store_slot_publish(store_slot *slot, served_versions *next);

#endif
