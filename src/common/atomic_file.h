/*
 * atomic_file.h - publish a file at a path all at once.
 *
 * Output is written to a temporary file in the target's folder (same file
 * system, so rename is atomic), synced, then renamed over the target and the
 * folder synced.  A failed or killed writer therefore never changes what is
 * at the target.  Temporaries are named ".<name>.tmp.<pid>.XXXXXX"; opening a
 * new one for a target first removes those whose process is gone.
 */
#ifndef MFKV_ATOMIC_FILE_H
#define MFKV_ATOMIC_FILE_H

#include <limits.h>

#include "diag.h"

typedef struct mfkv_atomic_file {
    char target[PATH_MAX];
    char tmp[PATH_MAX];
    int fd; /* open on tmp, read-write */
} mfkv_atomic_file;

/* The temporary file of the write in progress, "" when none: a signal
 * handler may unlink() it before the process dies (the CLI does). */
extern char mfkv_atomic_pending[PATH_MAX];

int mfkv_atomic_open(mfkv_atomic_file *f, const char *target, mfkv_diag *d);
/* fsync, close, rename over the target, fsync the folder. On failure the
 * temporary is removed and the target untouched. */
int mfkv_atomic_commit(mfkv_atomic_file *f, mfkv_diag *d);
/* Close and remove the temporary. Safe after a failed commit. */
void mfkv_atomic_abort(mfkv_atomic_file *f);

#endif
