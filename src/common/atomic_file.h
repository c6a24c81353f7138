/*
 * atomic_file.h - publish a file or a folder at a path all at once.
 *
 * Output is written to a temporary in the target's folder (same file system,
 * so rename is atomic), synced, then renamed over the target and the folder
 * synced.  A failed or killed writer therefore never changes what is at the
 * target.  Temporaries are named ".<name>.tmp.<pid>.XXXXXX"; opening a new
 * one for a target first removes the files and folders whose process is gone.
 */
#ifndef MFKV_ATOMIC_FILE_H
#define MFKV_ATOMIC_FILE_H

#include <limits.h>
#include <stdio.h>

#include "diag.h"

typedef struct mfkv_atomic_file {
    char target[PATH_MAX];
    char tmp[PATH_MAX];
    int fd;  /* open on tmp, read-write */
    FILE *f; /* the same file for stdio writers; flushed at commit */
} mfkv_atomic_file;

/* The temporary file and folder of the write in progress, "" when none. */
extern char mfkv_atomic_pending[PATH_MAX];
extern char mfkv_atomic_pending_dir[PATH_MAX];
/* Remove them (the folder with its files).  Async-signal-safe: a signal
 * handler calls it before the process dies (the CLI's, src/cli/partial.c). */
void mfkv_atomic_remove_pending(void);

/* Every function here returns MFKV_OK, MFKV_INVAL (an unusable name; for
 * folders, a target that is a file or a non-empty folder) or MFKV_IO (errno
 * in the message), with @p d filled on failure. */
int mfkv_atomic_open(mfkv_atomic_file *f, const char *target, mfkv_diag *d);
/* Flush, fsync, close, rename over the target, fsync the folder.  On failure
 * the temporary is removed and the target untouched. */
int mfkv_atomic_commit(mfkv_atomic_file *f, mfkv_diag *d);
/* Close and remove the temporary. Safe after a failed commit. */
void mfkv_atomic_abort(mfkv_atomic_file *f);

/* The same for a folder of outputs, written into a temporary folder that is
 * renamed into place; the target must be missing or an empty folder (a
 * non-empty one is left as it is: MFKV_INVAL).  Temporary folders of writers
 * that are gone are removed like files. */
typedef struct mfkv_atomic_dir {
    char target[PATH_MAX];
    char tmp[PATH_MAX]; /* write the folder's files here */
} mfkv_atomic_dir;

int mfkv_atomic_dir_open(mfkv_atomic_dir *a, const char *target, mfkv_diag *d);
int mfkv_atomic_dir_commit(mfkv_atomic_dir *a, mfkv_diag *d);
void mfkv_atomic_dir_abort(mfkv_atomic_dir *a);

#endif
