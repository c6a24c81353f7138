#include "atomic_file.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "mfkv.h"

/* "<path>.tmp.XXXXXX", for mkstemp/mkdtemp. */
static char *temp_name(const char *path)
{
    size_t n = strlen(path);
    char *t = malloc(n + sizeof ".tmp.XXXXXX");
    if (t) {
        memcpy(t, path, n);
        memcpy(t + n, ".tmp.XXXXXX", sizeof ".tmp.XXXXXX");
    }
    return t;
}

/* Make a rename durable: fsync the folder that holds @p path. */
static int sync_parent(const char *path)
{
    char *copy = strdup(path);
    if (!copy) return -1;
    int fd = open(dirname(copy), O_RDONLY | O_DIRECTORY);
    free(copy);
    if (fd < 0) return -1;
    int rc = fsync(fd);
    close(fd);
    return rc;
}

static void release(char **path, char **tmp_path)
{
    free(*path);
    free(*tmp_path);
    *path = *tmp_path = NULL;
}

/* The target's name and its temporary's template, both owned. */
static int name_pair(char **path, char **tmp_path, const char *target, mfkv_diag *d)
{
    *path = strdup(target);
    *tmp_path = temp_name(target);
    if (*path && *tmp_path) return MFKV_OK;
    release(path, tmp_path);
    return mfkv_fail(d, MFKV_NOMEM, "%s: out of memory", target);
}

int mfkv_atomic_open(mfkv_atomic_file *a, const char *path, mfkv_diag *d)
{
    memset(a, 0, sizeof *a);
    int rc = name_pair(&a->path, &a->tmp_path, path, d);
    if (rc) return rc;
    int fd = mkstemp(a->tmp_path);
    if (fd < 0) {
        rc = mfkv_fail_errno(d, "%s: cannot create a temporary file beside it", path);
        release(&a->path, &a->tmp_path);
        return rc;
    }
    /* mkstemp creates 0600; output files get the usual umask-based mode. */
    mode_t mask = umask(0);
    umask(mask);
    fchmod(fd, 0666 & ~mask);
    a->f = fdopen(fd, "wb");
    if (!a->f) {
        rc = mfkv_fail_errno(d, "%s: cannot open the temporary file", path);
        close(fd);
        unlink(a->tmp_path);
        release(&a->path, &a->tmp_path);
        return rc;
    }
    return MFKV_OK;
}

void mfkv_atomic_abort(mfkv_atomic_file *a)
{
    if (!a || !a->tmp_path) return;
    if (a->f) fclose(a->f);
    a->f = NULL;
    unlink(a->tmp_path);
    release(&a->path, &a->tmp_path);
}

int mfkv_atomic_commit(mfkv_atomic_file *a, mfkv_diag *d)
{
    int rc = MFKV_OK;
    if (fflush(a->f) != 0 || ferror(a->f))
        rc = mfkv_fail_errno(d, "%s: write failed", a->path);
    else if (fsync(fileno(a->f)) != 0)
        rc = mfkv_fail_errno(d, "%s: fsync failed", a->path);
    int closed = fclose(a->f);
    a->f = NULL;
    if (!rc && closed != 0) rc = mfkv_fail_errno(d, "%s: close failed", a->path);
    if (!rc && rename(a->tmp_path, a->path) != 0)
        rc = mfkv_fail_errno(d, "%s: cannot rename the temporary file into place", a->path);
    if (rc) {
        unlink(a->tmp_path);
    } else if (sync_parent(a->path) != 0) {
        rc = mfkv_fail_errno(d, "%s: fsync of its folder failed", a->path);
    }
    release(&a->path, &a->tmp_path);
    return rc;
}

int mfkv_atomic_dir_open(mfkv_atomic_dir *a, const char *path, mfkv_diag *d)
{
    memset(a, 0, sizeof *a);
    int rc = name_pair(&a->path, &a->tmp_path, path, d);
    if (rc) return rc;
    struct stat st;
    if (lstat(path, &st) == 0 && !S_ISDIR(st.st_mode)) {
        release(&a->path, &a->tmp_path);
        return mfkv_fail(d, MFKV_INVAL, "%s: exists and is not a folder", path);
    }
    if (!mkdtemp(a->tmp_path)) {
        rc = mfkv_fail_errno(d, "%s: cannot create a temporary folder beside it", path);
        release(&a->path, &a->tmp_path);
        return rc;
    }
    chmod(a->tmp_path, 0777 & ~(mode_t)0022);
    return MFKV_OK;
}

void mfkv_atomic_dir_abort(mfkv_atomic_dir *a)
{
    if (!a || !a->tmp_path) return;
    DIR *dir = opendir(a->tmp_path);
    if (dir) {
        int fd = dirfd(dir);
        for (struct dirent *e; (e = readdir(dir));)
            if (strcmp(e->d_name, ".") && strcmp(e->d_name, "..")) unlinkat(fd, e->d_name, 0);
        closedir(dir);
    }
    rmdir(a->tmp_path);
    release(&a->path, &a->tmp_path);
}

int mfkv_atomic_dir_commit(mfkv_atomic_dir *a, mfkv_diag *d)
{
    /* rename(2) replaces an empty folder and refuses a non-empty one. */
    if (rename(a->tmp_path, a->path) != 0) {
        int rc = errno == ENOTEMPTY || errno == EEXIST
                     ? mfkv_fail(d, MFKV_INVAL, "%s: folder exists and is not empty", a->path)
                     : mfkv_fail_errno(d, "%s: cannot rename the temporary folder into place",
                                       a->path);
        mfkv_atomic_dir_abort(a);
        return rc;
    }
    int rc = sync_parent(a->path) != 0
                 ? mfkv_fail_errno(d, "%s: fsync of its folder failed", a->path)
                 : MFKV_OK;
    release(&a->path, &a->tmp_path);
    return rc;
}
