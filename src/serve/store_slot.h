/*
 * store_slot.h - the store being served, swappable while requests run.
 *
 * A served_store is reference-counted: the slot holds one reference and
 * every request that acquired it holds one more.  Publishing a new store
 * drops the slot's reference to the old one, which is closed by whichever
 * release brings the count to zero, so requests in flight finish on the
 * store they started with and never see a closed handle.
 */
#ifndef MFKV_SERVE_STORE_SLOT_H
#define MFKV_SERVE_STORE_SLOT_H

#include <pthread.h>
#include <stdatomic.h>
#include <sys/stat.h>

#include "common/diag.h"
#include "mfkv.h"

typedef struct served_store {
    mfkv_store *store;
    mfkv_info info;
    char version[24];     /* TF Serving model version: decimal, from the digest */
    char digest_hex[17];
    struct stat file;     /* identity of the file when it was opened */
    atomic_uint refs;
} served_store;

/*
 * Open the store at @p path and verify every record and the digest; a store
 * that fails is closed again.  @p file is the identity to remember (stat
 * taken before opening, so a replacement during the open is seen later).
 * @return MFKV_OK with *out holding one reference, or a status with @p d set.
 */
int served_store_open(const char *path, const struct stat *file, served_store **out, mfkv_diag *d);

/* Drop one reference; the last one closes the store. NULL-safe. */
void served_store_release(served_store *s);

typedef struct store_slot {
    pthread_mutex_t lock;
    served_store *current;
} store_slot;

void store_slot_init(store_slot *slot, served_store *first);
/* Release the slot's reference; the slot is unusable afterwards. */
void store_slot_destroy(store_slot *slot);

/* A new reference to the current store; release it when done. */
served_store *store_slot_acquire(store_slot *slot);

/* Make @p next current (taking over its reference) and drop the old one. */
void store_slot_publish(store_slot *slot, served_store *next);

#endif
