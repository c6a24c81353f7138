#include "models.h"

#include <dirent.h>
#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "answer_cache.h"
#include "handler.h"

/* Version numbers stay exact in a double, as TF Serving clients hold them. */
#define MAX_VERSION (UINT64_C(1) << 53)

static int same_file(const struct stat *a, const struct stat *b)
{
    return a->st_dev == b->st_dev && a->st_ino == b->st_ino && a->st_size == b->st_size &&
           a->st_mtim.tv_sec == b->st_mtim.tv_sec && a->st_mtim.tv_nsec == b->st_mtim.tv_nsec;
}

/* N of "N.mfkv" (1..2^53, no leading zero), or 0 for any other name. */
static uint64_t version_of(const char *name)
{
    if (name[0] < '1' || name[0] > '9') return 0;
    uint64_t n = 0;
    const char *p = name;
    for (; *p >= '0' && *p <= '9'; p++) {
        n = n * 10 + (uint64_t)(*p - '0');
        if (n > MAX_VERSION) return 0;
    }
    return strcmp(p, ".mfkv") ? 0 : n;
}

static int newest_first(const void *a, const void *b)
{
    uint64_t x = ((const version_file *)a)->number, y = ((const version_file *)b)->number;
    return x < y ? 1 : x > y ? -1 : 0;
}

static void version_path(const served_model *m, uint64_t number, char *out, size_t size)
{
    if (m->is_dir) snprintf(out, size, "%s/%" PRIu64 ".mfkv", m->path, number);
    else snprintf(out, size, "%s", m->path);
}

/* The model's files now, newest first.  @return 0, or -1 (errno set) when
 * the path cannot be read; an empty list when nothing is there. */
static int scan(const served_model *m, version_file **out, size_t *n)
{
    *out = NULL;
    *n = 0;
    if (!m->is_dir) {
        struct stat file;
        if (stat(m->path, &file)) return errno == ENOENT ? 0 : -1;
        if (!(*out = malloc(sizeof **out))) return -1;
        (*out)[0] = (version_file){.number = 0, .file = file};
        *n = 1;
        return 0;
    }
    DIR *dir = opendir(m->path);
    if (!dir) return -1;
    size_t cap = 0;
    for (struct dirent *e; (e = readdir(dir));) {
        uint64_t number = version_of(e->d_name);
        char path[4096];
        struct stat file;
        version_path(m, number, path, sizeof path);
        if (!number || stat(path, &file) || !S_ISREG(file.st_mode)) continue;
        if (*n == cap) {
            version_file *bigger = realloc(*out, (cap = cap ? 2 * cap : 8) * sizeof **out);
            if (!bigger) {
                closedir(dir);
                free(*out);
                *out = NULL;
                return -1;
            }
            *out = bigger;
        }
        (*out)[(*n)++] = (version_file){.number = number, .file = file};
    }
    closedir(dir);
    if (*n > 1) qsort(*out, *n, sizeof **out, newest_first);
    return 0;
}

/* The loaded store that @p f is, whether or not its file changed since. */
static served_store *loaded_as(const served_versions *cur, const version_file *f)
{
    if (!cur) return NULL;
    if (!f->number) return cur->n ? cur->stores[0] : NULL;
    for (size_t i = 0; i < cur->n; i++)
        if (cur->stores[i]->number == f->number) return cur->stores[i];
    return NULL;
}

static served_failure *failure_of(served_model *m, const version_file *f)
{
    for (size_t i = 0; i < m->n_failed; i++)
        if (m->failed[i].number == f->number && same_file(&m->failed[i].file, &f->file)) return &m->failed[i];
    return NULL;
}

static int seen_before(const served_model *m, const version_file *f)
{
    for (size_t i = 0; i < m->n_seen; i++)
        if (m->seen[i].number == f->number && same_file(&m->seen[i].file, &f->file)) return 1;
    return 0;
}

/* Open one version and check it against the configuration. */
static int open_version(const serve_config *c, const served_model *m, const version_file *f,
                        const served_versions *cur, served_store **out, mfkv_diag *d)
{
    char path[4096];
    version_path(m, f->number, path, sizeof path);
    int rc = served_store_open(path, &f->file, f->number, out, d);
    if (rc) return rc;
    if (c->fallback && !(*out)->info.has_fallback) {
        served_store_release(*out);
        *out = NULL;
        return mfkv_fail(d, MFKV_INVAL, "%s: --fallback given but the store has no fallback list "
                         "(build it with mfkv build --fallback)", path);
    }
    /* A store file's version only grows, even when a replacement was built
     * earlier (or with the same SOURCE_DATE_EPOCH). */
    if (!f->number && cur && cur->n && (*out)->number <= cur->stores[0]->number)
        served_store_set_number(*out, cur->stores[0]->number + 1);
    (*out)->answers = answer_cache_new(c->answer_cache); /* NULL (no cache) when out of memory */
    return MFKV_OK;
}

static void remember_failure(served_model *m, const version_file *f, const char *msg)
{
    served_failure *grown = realloc(m->failed, (m->n_failed + 1) * sizeof *m->failed);
    if (!grown) return; /* then it is retried at the next poll: harmless */
    m->failed = grown;
    served_failure *x = &m->failed[m->n_failed++];
    x->number = f->number;
    x->file = f->file;
    snprintf(x->message, sizeof x->message, "%s", msg);
}

/* Forget failures whose file is gone or changed: they are tried afresh. */
static void prune_failures(served_model *m, const version_file *files, size_t n)
{
    size_t kept = 0;
    for (size_t i = 0; i < m->n_failed; i++) {
        int present = 0;
        for (size_t j = 0; j < n && !present; j++)
            present = files[j].number == m->failed[i].number && same_file(&files[j].file, &m->failed[i].file);
        if (present) m->failed[kept++] = m->failed[i];
    }
    m->n_failed = kept;
}

/* Failures listed by the model status: versions of a directory, newest first. */
static served_versions *snapshot(served_model *m, served_store *const *stores, size_t n)
{
    served_failure listed[16];
    size_t n_listed = 0;
    for (size_t i = 0; i < m->n_failed && n_listed < 16; i++)
        if (m->failed[i].number) listed[n_listed++] = m->failed[i];
    return served_versions_new(stores, n, listed, n_listed);
}

static void log_line(const serve_config *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void log_line(const serve_config *c, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fputs("mfkv serve: ", c->log);
    vfprintf(c->log, fmt, ap);
    fputc('\n', c->log);
    va_end(ap);
    fflush(c->log);
}

/*
 * Bring @p m in line with its files: the newest versions_to_keep that load.
 * @p cur: the snapshot served now (NULL at start).  @p settle: load a new or
 * changed file only once it has looked the same on two polls.  @p force:
 * reopen even unchanged files, and retry failures.
 * @return a new snapshot to publish, or NULL when nothing changed (or
 * nothing is loadable: then @p d says why).
 */
static served_versions *update(serve_state *st, served_model *m, const served_versions *cur, int settle,
                               int force, mfkv_diag *d)
{
    const serve_config *c = st->config;
    version_file *files;
    size_t n;
    if (scan(m, &files, &n)) {
        mfkv_fail_errno(d, "%s", m->path);
        return NULL;
    }
    if (force) m->n_failed = 0;
    prune_failures(m, files, n);
    size_t keep = m->is_dir ? c->versions_to_keep : 1, k = 0;
    served_store **chosen = calloc(keep, sizeof *chosen);
    served_store **opened = calloc(keep, sizeof *opened);
    size_t n_opened = 0;
    int failures_changed = 0;
    if (!chosen || !opened) {
        mfkv_fail(d, MFKV_NOMEM, "out of memory");
        n = 0;
    }
    for (size_t i = 0; i < n && k < keep; i++) {
        const version_file *f = &files[i];
        served_store *loaded = loaded_as(cur, f);
        int intact = loaded && !atomic_load(&loaded->damaged);
        if (intact && !force && same_file(&loaded->file, &f->file)) {
            chosen[k++] = loaded;
            continue;
        }
        if (!force && failure_of(m, f)) continue;
        if (settle && !force && !seen_before(m, f)) {
            /* Still being written, perhaps: the loaded store (an old inode,
             * if it was renamed over) serves until the next poll. */
            if (intact) chosen[k++] = loaded;
            continue;
        }
        served_store *s;
        mfkv_diag why = {0};
        if (open_version(c, m, f, cur, &s, &why)) {
            remember_failure(m, f, why.msg);
            failures_changed = 1;
            serve_metrics_swap(&st->metrics, 0);
            if (cur) log_line(c, "model %s: reload refused, still serving the previous version: %s", m->name, why.msg);
            *d = why;
            continue;
        }
        chosen[k++] = opened[n_opened++] = s;
        if (cur) {
            char path[4096];
            version_path(m, f->number, path, sizeof path);
            serve_metrics_swap(&st->metrics, 1);
            log_line(c, "model %s: now serving %s (version %s, digest %s, %u users)", m->name, path, s->version,
                     s->digest_hex, s->info.n_users);
        }
    }
    free(m->seen);
    m->seen = files;
    m->n_seen = n;
    served_versions *next = NULL;
    int same = cur && k == cur->n && !failures_changed;
    for (size_t i = 0; same && i < k; i++) same = chosen[i] == cur->stores[i];
    if (k && !same) {
        next = snapshot(m, chosen, k);
        if (!next) mfkv_fail(d, MFKV_NOMEM, "out of memory");
    } else if (!k && cur && cur->n && !m->said_nothing_loadable) {
        log_line(c, "model %s: no loadable version in %s; still serving version %s", m->name, m->path,
                 cur->stores[0]->version);
        m->said_nothing_loadable = 1;
    }
    if (k) m->said_nothing_loadable = 0; else if (!k && !d->status) {
        mfkv_fail(d, MFKV_IO, "%s: no version to serve (expected %s)", m->path,
                  m->is_dir ? "numbered files N.mfkv" : "a store file");
    }
    for (size_t i = 0; i < n_opened; i++) served_store_release(opened[i]); /* the snapshot holds them */
    free(opened);
    free(chosen);
    return next;
}

int serve_models_open(serve_state *st, mfkv_diag *d)
{
    const serve_config *c = st->config;
    st->models = calloc(c->n_models, sizeof *st->models);
    if (!st->models) return mfkv_fail(d, MFKV_NOMEM, "out of memory");
    for (size_t i = 0; i < c->n_models; i++) {
        served_model *m = &st->models[i];
        m->name = c->models[i].name;
        m->path = c->models[i].path;
        struct stat file;
        if (stat(m->path, &file)) {
            serve_models_close(st);
            return mfkv_fail_errno(d, "%s", c->models[i].path);
        }
        m->is_dir = S_ISDIR(file.st_mode);
        served_versions *first = update(st, m, NULL, 0, 0, d);
        if (!first) {
            if (!d->status) mfkv_fail(d, MFKV_IO, "%s: nothing to serve", m->path);
            free(m->seen);
            free(m->failed);
            serve_models_close(st);
            return d->status;
        }
        store_slot_init(&m->slot, first);
        st->n_models = i + 1;
    }
    return MFKV_OK;
}

void serve_models_close(serve_state *st)
{
    for (size_t i = 0; i < st->n_models; i++) {
        store_slot_destroy(&st->models[i].slot);
        free(st->models[i].seen);
        free(st->models[i].failed);
    }
    free(st->models);
    st->models = NULL;
    st->n_models = 0;
}

served_model *serve_model_find(serve_state *st, const char *name, size_t len)
{
    for (size_t i = 0; i < st->n_models; i++)
        if (strlen(st->models[i].name) == len && !memcmp(st->models[i].name, name, len)) return &st->models[i];
    return NULL;
}

void serve_models_poll(serve_state *st, int force)
{
    for (size_t i = 0; i < st->n_models; i++) {
        served_model *m = &st->models[i];
        served_versions *cur = store_slot_acquire(&m->slot);
        mfkv_diag d = {0};
        served_versions *next = update(st, m, cur, 1, force, &d);
        served_versions_release(cur);
        if (next) store_slot_publish(&m->slot, next);
    }
}
