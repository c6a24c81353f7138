#include "reload.h"

#include <string.h>

static int same_file(const struct stat *a, const struct stat *b)
{
    return a->st_dev == b->st_dev && a->st_ino == b->st_ino && a->st_size == b->st_size &&
           a->st_mtim.tv_sec == b->st_mtim.tv_sec && a->st_mtim.tv_nsec == b->st_mtim.tv_nsec;
}

int serve_open_store(const serve_config *c, struct stat *file, served_store **out, mfkv_diag *d)
{
    *out = NULL;
    if (stat(c->store_path, file)) return mfkv_fail_errno(d, "%s", c->store_path);
    int rc = served_store_open(c->store_path, file, out, d);
    if (rc) return rc;
    if (c->fallback && !(*out)->info.has_fallback) {
        served_store_release(*out);
        *out = NULL;
        return mfkv_fail(d, MFKV_INVAL, "%s: --fallback given but the store has no fallback list "
                         "(build it with mfkv build --fallback)", c->store_path);
    }
    return MFKV_OK;
}

void serve_reload(serve_state *st, serve_watch *w)
{
    const serve_config *c = st->config;
    served_store *next;
    mfkv_diag d = {0};
    struct stat file = {0};
    w->has_candidate = 0;
    if (serve_open_store(c, &file, &next, &d)) {
        /* Remember what failed so polling does not retry the same file. */
        w->refused = file;
        w->has_refused = 1;
        serve_metrics_swap(&st->metrics, 0);
        fprintf(c->log, "mfkv serve: reload refused, still serving the previous store: %s\n", d.msg);
        fflush(c->log);
        return;
    }
    w->has_refused = 0;
    store_slot_publish(&st->slot, next);
    serve_metrics_swap(&st->metrics, 1);
    fprintf(c->log, "mfkv serve: now serving %s (version %s, digest %s, %u users)\n", c->store_path,
            next->version, next->digest_hex, next->info.n_users);
    fflush(c->log);
}

void serve_watch_poll(serve_state *st, serve_watch *w)
{
    struct stat now;
    if (stat(st->config->store_path, &now)) return; /* gone for now: keep serving */
    served_store *cur = store_slot_acquire(&st->slot);
    int unchanged = same_file(&now, &cur->file);
    served_store_release(cur);
    if (unchanged || (w->has_refused && same_file(&now, &w->refused))) {
        w->has_candidate = 0;
        return;
    }
    if (w->has_candidate && same_file(&now, &w->candidate)) {
        serve_reload(st, w);
        return;
    }
    w->candidate = now;
    w->has_candidate = 1;
}
