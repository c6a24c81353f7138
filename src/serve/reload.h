/*
 * reload.h - hot swap of the served store.
 *
 * A new store is opened and fully verified (mfkv_verify) before it is
 * published; one that fails is refused, logged and counted, and the old one
 * keeps serving.  The path is watched by polling its identity (device,
 * inode, size, mtime): a change is acted on once it has been the same for
 * two polls in a row, so a file still being written is not tried
 * half-done.  Replace stores by rename(2), never by writing in place: the
 * served file is memory-mapped.
 */
#ifndef MFKV_SERVE_RELOAD_H
#define MFKV_SERVE_RELOAD_H

#include <sys/stat.h>

#include "common/diag.h"
#include "handler.h"

/* Open, verify and check the store at the configured path against the
 * configuration (--fallback needs a fallback list).  @p file receives the
 * identity of the path, taken before opening. */
int serve_open_store(const serve_config *c, struct stat *file, served_store **out, mfkv_diag *d);

typedef struct serve_watch {
    struct stat candidate; /* changed identity seen at the last poll */
    int has_candidate;
    struct stat refused;   /* last identity that failed to load */
    int has_refused;
} serve_watch;

/* Load the file at the path now and swap it in if it is sound (SIGHUP). */
void serve_reload(serve_state *st, serve_watch *w);

/* One poll of the path; reloads when it changed and has settled. */
void serve_watch_poll(serve_state *st, serve_watch *w);

#endif
