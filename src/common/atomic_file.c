#include "atomic_file.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/types.h>
#include <time.h>
#include <unistd.h>

#include "mfkv.h"

char mfkv_atomic_pending[PATH_MAX];
char mfkv_atomic_pending_dir[PATH_MAX];

/* The entry layout getdents64(2) fills in. */
struct raw_dirent64 {
    uint64_t ino;
    int64_t off;
    unsigned short reclen;
    unsigned char type;
    char name[];
};

/* Remove the folder @p name (relative to @p parent) and the files in it.
 * getdents64 and unlinkat rather than readdir, which may allocate: this runs
 * in signal handlers too (mfkv_atomic_remove_pending).  Removing entries
 * while listing may skip some, so it lists again until the folder goes. */
static void remove_folder_at(int parent, const char *name)
{
    int fd = openat(parent, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    if (fd < 0) return;
    for (int pass = 0; unlinkat(parent, name, AT_REMOVEDIR) != 0 && (errno == ENOTEMPTY || errno == EEXIST) && pass < 8; pass++) {
        _Alignas(8) char buf[4096];
        long n;
        lseek(fd, 0, SEEK_SET);
        while ((n = syscall(SYS_getdents64, fd, buf, sizeof buf)) > 0)
            for (long at = 0; at < n;) {
                const struct raw_dirent64 *e = (const struct raw_dirent64 *)(buf + at);
                if (strcmp(e->name, ".") && strcmp(e->name, "..")) unlinkat(fd, e->name, 0);
                at += e->reclen;
            }
    }
    close(fd);
}

void mfkv_atomic_remove_pending(void)
{
    if (mfkv_atomic_pending[0]) unlink(mfkv_atomic_pending);
    if (mfkv_atomic_pending_dir[0]) remove_folder_at(AT_FDCWD, mfkv_atomic_pending_dir);
}

/* Hold back the signals the CLI's cleanup handler catches while a temporary
 * is created and its name published: a signal landing between the two would
 * find no name to remove and leave the temporary behind.  Only this thread
 * holds them: a worker thread (OpenBLAS's) that takes one in that window can
 * still leave the temporary, which the next writer removes as stale. */
static void hold_exit_signals(sigset_t *old)
{
    sigset_t s;
    sigemptyset(&s);
    sigaddset(&s, SIGINT);
    sigaddset(&s, SIGTERM);
    sigaddset(&s, SIGHUP);
    pthread_sigmask(SIG_BLOCK, &s, old);
}

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

/* Remove ".<base>.tmp.<pid>.*" files and folders (`mfkv weights --format
 * csv|npy`) left by writers that no longer run. */
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
        if (pid == getpid() || kill((pid_t)pid, 0) == 0 || errno != ESRCH) continue;
        if (unlinkat(dirfd(dh), e->d_name, 0) != 0 && (errno == EISDIR || errno == EPERM))
            remove_folder_at(dirfd(dh), e->d_name);
    }
    closedir(dh);
}

/* Fill target and the temporary's template; remove stale temporaries. */
static int name_temp(char *target, char *tmp, const char *path, mfkv_diag *d)
{
    char dir[PATH_MAX];
    const char *base;
    split_path(path, dir, sizeof dir, &base);
    if (!*base || strlen(path) >= PATH_MAX)
        return mfkv_fail(d, MFKV_INVAL, "%s: not a usable output name", path);
    remove_stale(dir, base);
    snprintf(target, PATH_MAX, "%s", path);
    if (snprintf(tmp, PATH_MAX, "%s/.%s.tmp.%ld.XXXXXX", dir, base, (long)getpid()) >= PATH_MAX)
        return mfkv_fail(d, MFKV_INVAL, "%s: path too long", path);
    return MFKV_OK;
}

/* Make a rename durable: fsync the folder that holds @p path. */
static int sync_parent(const char *path)
{
    char dir[PATH_MAX];
    const char *base;
    split_path(path, dir, sizeof dir, &base);
    int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0) return -1;
    int rc = fsync(fd);
    close(fd);
    return rc;
}

int mfkv_atomic_open(mfkv_atomic_file *f, const char *target, mfkv_diag *d)
{
    memset(f, 0, sizeof *f);
    f->fd = -1;
    int rc = name_temp(f->target, f->tmp, target, d);
    if (rc) {
        f->tmp[0] = '\0';
        return rc;
    }
    sigset_t old;
    hold_exit_signals(&old);
    f->fd = mkostemp(f->tmp, O_CLOEXEC);
    if (f->fd >= 0) memcpy(mfkv_atomic_pending, f->tmp, sizeof f->tmp);
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    if (f->fd < 0) {
        f->tmp[0] = '\0';
        return mfkv_fail_errno(d, "%s: cannot create a temporary file beside it", target);
    }
    /* mkstemp creates 0600; outputs get the usual umask-based mode. */
    mode_t mask = umask(0);
    umask(mask);
    fchmod(f->fd, 0666 & ~mask);
    f->f = fdopen(f->fd, "w+b");
    if (!f->f) {
        rc = mfkv_fail_errno(d, "%s: cannot open the temporary file", target);
        mfkv_atomic_abort(f);
        return rc;
    }
    return MFKV_OK;
}

/* Test-only: the crash matrix (tests/e2e/test_crash_matrix.py) sets
 * MFKV_TEST_PAUSE_BEFORE_RENAME_MS so that a kill is certain to land while the
 * complete temporary exists and the target is still the old file, instead of
 * hoping a random delay hits the short write phase. */
static void test_pause_before_rename(void)
{
    const char *ms = getenv("MFKV_TEST_PAUSE_BEFORE_RENAME_MS");
    if (!ms || !*ms) return;
    long v = strtol(ms, NULL, 10);
    if (v <= 0 || v > 60000) return;
    struct timespec ts = {v / 1000, (v % 1000) * 1000000L};
    while (nanosleep(&ts, &ts) != 0 && errno == EINTR) {
    }
}

int mfkv_atomic_commit(mfkv_atomic_file *f, mfkv_diag *d)
{
    int rc = MFKV_OK;
    if (fflush(f->f) != 0 || ferror(f->f)) rc = mfkv_fail_errno(d, "%s: write failed", f->target);
    else if (fsync(f->fd) != 0) rc = mfkv_fail_errno(d, "%s: fsync failed", f->target);
    int closed = fclose(f->f);
    f->f = NULL;
    f->fd = -1;
    if (!rc && closed != 0) rc = mfkv_fail_errno(d, "%s: close failed", f->target);
    test_pause_before_rename();
    if (!rc && rename(f->tmp, f->target) != 0)
        rc = mfkv_fail_errno(d, "%s: cannot rename the temporary file into place", f->target);
    if (rc) {
        mfkv_atomic_abort(f);
        return rc;
    }
    mfkv_atomic_pending[0] = '\0';
    f->tmp[0] = '\0';
    if (sync_parent(f->target) != 0) return mfkv_fail_errno(d, "%s: fsync of its folder failed", f->target);
    return MFKV_OK;
}

void mfkv_atomic_abort(mfkv_atomic_file *f)
{
    if (f->f) fclose(f->f);
    else if (f->fd >= 0) close(f->fd);
    f->f = NULL;
    f->fd = -1;
    if (f->tmp[0]) unlink(f->tmp);
    f->tmp[0] = '\0';
    mfkv_atomic_pending[0] = '\0';
}

int mfkv_atomic_dir_open(mfkv_atomic_dir *a, const char *target, mfkv_diag *d)
{
    memset(a, 0, sizeof *a);
    int rc = name_temp(a->target, a->tmp, target, d);
    if (rc) {
        a->tmp[0] = '\0';
        return rc;
    }
    struct stat st;
    if (lstat(target, &st) == 0 && !S_ISDIR(st.st_mode)) {
        a->tmp[0] = '\0';
        return mfkv_fail(d, MFKV_INVAL, "%s: exists and is not a folder", target);
    }
    sigset_t old;
    hold_exit_signals(&old);
    int made = mkdtemp(a->tmp) != NULL;
    if (made) memcpy(mfkv_atomic_pending_dir, a->tmp, sizeof a->tmp); /* for the signal handler */
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    if (!made) {
        a->tmp[0] = '\0';
        return mfkv_fail_errno(d, "%s: cannot create a temporary folder beside it", target);
    }
    mode_t mask = umask(0);
    umask(mask);
    chmod(a->tmp, 0777 & ~mask);
    return MFKV_OK;
}

void mfkv_atomic_dir_abort(mfkv_atomic_dir *a)
{
    if (!a->tmp[0]) return;
    remove_folder_at(AT_FDCWD, a->tmp);
    a->tmp[0] = '\0';
    mfkv_atomic_pending_dir[0] = '\0';
}

int mfkv_atomic_dir_commit(mfkv_atomic_dir *a, mfkv_diag *d)
{
    test_pause_before_rename();
    /* rename(2) replaces an empty folder and refuses a non-empty one. */
    if (rename(a->tmp, a->target) != 0) {
        int rc = errno == ENOTEMPTY || errno == EEXIST
                     ? mfkv_fail(d, MFKV_INVAL, "%s: folder exists and is not empty", a->target)
                     : mfkv_fail_errno(d, "%s: cannot rename the temporary folder into place", a->target);
        mfkv_atomic_dir_abort(a);
        return rc;
    }
    a->tmp[0] = '\0';
    mfkv_atomic_pending_dir[0] = '\0';
    return sync_parent(a->target) != 0 ? mfkv_fail_errno(d, "%s: fsync of its folder failed", a->target) : MFKV_OK;
}
