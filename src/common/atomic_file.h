/*
 * atomic_file.h - replace a file or folder all at once or not at all.
 *
 * Output is written to a temporary name beside the target (same folder, so
 * same file system), flushed to disk, then renamed over the target.  A
 * failure at any step removes the temporary: the target is either the old
 * one, untouched, or the complete new one, never a half-written mix.
 */
#ifndef MFKV_ATOMIC_FILE_H
#define MFKV_ATOMIC_FILE_H

#include <stdio.h>

#include "diag.h"

typedef struct mfkv_atomic_file {
    FILE *f;        /* write here between open and commit */
    char *path;     /* the target */
    char *tmp_path; /* the temporary beside it */
} mfkv_atomic_file;

/* Create the temporary for @p path and open it for writing. */
int mfkv_atomic_open(mfkv_atomic_file *a, const char *path, mfkv_diag *d);
/* Check for write errors, fsync, close, rename over the target, fsync the
 * folder.  On failure the temporary is removed.  Always releases @p a. */
int mfkv_atomic_commit(mfkv_atomic_file *a, mfkv_diag *d);
/* Give up: close and remove the temporary.  NULL-safe, idempotent. */
void mfkv_atomic_abort(mfkv_atomic_file *a);

/* A folder of outputs: files are written into a fresh temporary folder
 * beside @p path, which replaces @p path on commit.  An existing target
 * must be an empty folder (it is never merged into or deleted). */
typedef struct mfkv_atomic_dir {
    char *path, *tmp_path;
} mfkv_atomic_dir;

int mfkv_atomic_dir_open(mfkv_atomic_dir *a, const char *path, mfkv_diag *d);
int mfkv_atomic_dir_commit(mfkv_atomic_dir *a, mfkv_diag *d);
/* Remove the temporary folder and the plain files in it. */
void mfkv_atomic_dir_abort(mfkv_atomic_dir *a);

#endif
