/*
 * models.h - the served models and their versions, loaded and hot-swapped.
 *
 * A model's path is either one store file or a base directory of numbered
 * versions, TF Serving's layout with one file per version:
 *
 *   DIR/1.mfkv  DIR/2.mfkv  DIR/7.mfkv      (N: 1 to 2^53, no leading zero)
 *
 * Publish a version with `mfkv build -o DIR/8.mfkv` (the builder renames a
 * finished file into place) or any other rename.  The newest
 * --versions-to-keep versions that load are served, each at
 * /versions/N, the newest as the model's latest.  A new highest version is
 * loaded while the others serve; removing the newest, or a newest that fails
 * to load, rolls back to the next one by itself.  A version that failed is
 * listed (state END) and not tried again until its file changes.
 *
 * A store file model has one version: its build time (seconds since the
 * epoch), raised above the previous one if a replacement is not newer, so
 * the number only grows; the digest stays the ETag basis.
 *
 * The main thread polls every poll_ms.  A changed or new file is loaded once
 * it has looked the same on two polls in a row, so a file still being
 * copied in is not tried half-done; SIGHUP reloads everything at once.
 * When a lookup finds a store's file changed under it (the library reports
 * it corrupt), that store answers 503 and is reopened at the next poll; a
 * model keeps serving its other versions meanwhile, and while nothing
 * loadable is left it keeps what it has.
 */
#ifndef MFKV_SERVE_MODELS_H
#define MFKV_SERVE_MODELS_H

#include <stddef.h>
#include <stdint.h>
#include <sys/stat.h>

#include "common/diag.h"
#include "store_slot.h"

struct serve_state;

/* One file of a model's path: N of DIR/N.mfkv, or 0 for a store file. */
typedef struct version_file {
    uint64_t number;
    struct stat file;
} version_file;

typedef struct served_model {
    const char *name;
    const char *path;
    int is_dir;
    store_slot slot;
    /* The main thread's alone: */
    served_failure *failed;  /* not retried while their file is the same */
    size_t n_failed;
    version_file *seen;      /* the files of the last poll, for settling */
    size_t n_seen;
    int said_nothing_loadable; /* logged once until a version loads again */
} served_model;

/* Open every configured model, each with at least one version.
 * @return MFKV_OK, or the status of the first that cannot serve (@p d set). */
int serve_models_open(struct serve_state *st, mfkv_diag *d);

void serve_models_close(struct serve_state *st);

/* The model named @p name (@p len bytes), or NULL. */
served_model *serve_model_find(struct serve_state *st, const char *name, size_t len);

/* One poll of every model's path; @p force (SIGHUP): reopen everything now. */
void serve_models_poll(struct serve_state *st, int force);

#endif
