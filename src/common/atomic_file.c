#include "atomic_file.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>
#include <unistd.h>

#include "mfkv.h"

char mfkv_atomic_pending[PATH_MAX];

static void split_path(const char *path, char *dir, size_t dir_cap, const char **base)
{
    const char *slash = strrchr(path, '/');
    if (!slash) {
        snprintf(dir, dir_cap, ".");
        *base = path;
    } else if (slash == path) {
        snprintf(dir, dir_cap, "/");
        *base = slash + 1;
    } else {
        snprintf(dir, dir_cap, "%.*s", (int)(slash - path), path);
        *base = slash + 1;
    }
}

/* Remove ".<base>.tmp.<pid>.*" left by writers that no longer run. */
static void remove_stale(const char *dir, const char *base)
{
    DIR *dh = opendir(dir);
    if (!dh) return;
    char prefix[NAME_MAX + 8];
    int plen = snprintf(prefix, sizeof prefix, ".%s.tmp.", base);
    struct dirent *e;
    while ((e = readdir(dh))) {
        if (plen <= 0 || (size_t)plen >= sizeof prefix || strncmp(e->d_name, prefix, (size_t)plen)) continue;
        char *end;
        long pid = strtol(e->d_name + plen, &end, 10);
        if (end == e->d_name + plen || *end != '.' || pid <= 0) continue;
        if (pid != getpid() && kill((pid_t)pid, 0) != 0 && errno == ESRCH) {
            char full[PATH_MAX];
            if (snprintf(full, sizeof full, "%s/%s", dir, e->d_name) < (int)sizeof full) unlink(full);
        }
    }
    closedir(dh);
}

int mfkv_atomic_open(mfkv_atomic_file *f, const char *target, mfkv_diag *d)
{
    memset(f, 0, sizeof *f);
    f->fd = -1;
    char dir[PATH_MAX];
    const char *base;
    split_path(target, dir, sizeof dir, &base);
    if (!*base || strlen(target) >= sizeof f->target)
        return mfkv_fail(d, MFKV_INVAL, "%s: not a usable output file name", target);
    remove_stale(dir, base);
    snprintf(f->target, sizeof f->target, "%s", target);
    if (snprintf(f->tmp, sizeof f->tmp, "%s/.%s.tmp.%ld.XXXXXX", dir, base, (long)getpid()) >= (int)sizeof f->tmp)
        return mfkv_fail(d, MFKV_INVAL, "%s: path too long", target);
    f->fd = mkostemp(f->tmp, O_CLOEXEC);
    if (f->fd < 0) {
        int rc = mfkv_fail_errno(d, "%s: cannot create a temporary file in %s", target, dir);
        f->tmp[0] = '\0';
        return rc;
    }
    /* Published only once the name is complete, for the signal handler. */
    memcpy(mfkv_atomic_pending, f->tmp, sizeof f->tmp);
    return MFKV_OK;
}

int mfkv_atomic_commit(mfkv_atomic_file *f, mfkv_diag *d)
{
    if (fsync(f->fd) != 0) {
        int rc = mfkv_fail_errno(d, "%s: fsync", f->tmp);
        mfkv_atomic_abort(f);
        return rc;
    }
    if (fchmod(f->fd, 0644) != 0 || close(f->fd) != 0) {
        f->fd = -1;
        int rc = mfkv_fail_errno(d, "%s: close", f->tmp);
        mfkv_atomic_abort(f);
        return rc;
    }
    f->fd = -1;
    if (rename(f->tmp, f->target) != 0) {
        int rc = mfkv_fail_errno(d, "%s: cannot rename into place", f->target);
        mfkv_atomic_abort(f);
        return rc;
    }
    mfkv_atomic_pending[0] = '\0';
    f->tmp[0] = '\0';
    char dir[PATH_MAX];
    const char *base;
    split_path(f->target, dir, sizeof dir, &base);
    int dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (dfd >= 0) {
        fsync(dfd); /* durability of the rename; the file is already complete */
        close(dfd);
    }
    return MFKV_OK;
}

void mfkv_atomic_abort(mfkv_atomic_file *f)
{
    if (f->fd >= 0) close(f->fd);
    f->fd = -1;
    if (f->tmp[0]) unlink(f->tmp);
    f->tmp[0] = '\0';
    mfkv_atomic_pending[0] = '\0';
}
