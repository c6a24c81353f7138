#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cli.h"
#include "format.h"

const char *cli_store_path(const char *flag_value)
{
    if (flag_value) return flag_value;
    const char *env = getenv("MFKV_STORE");
    return env && *env ? env : MFKV_DEFAULT_STORE;
}

void cli_open_error(const char *path, int rc)
{
    if (rc == MFKV_VERSION) { /* say which version the store has and which this mfkv can read */
        uint32_t major, minor;
        char has[64] = ""; /* unknown when the trailer itself is newer */
        if (mfkv_format_version(path, &major, &minor) == MFKV_OK)
            snprintf(has, sizeof has, "store format %u.%u; ", major, minor);
        cli_error("%s: %s (%sthis mfkv reads store format %u.x)", path, mfkv_strerror(rc), has, MFKV_FORMAT_MAJOR);
    } else
        cli_error("%s: %s", path, rc == MFKV_IO ? strerror(errno) : mfkv_strerror(rc));
}

int cli_open_store(const char *flag_value, unsigned flags, mfkv_store **out)
{
    const char *path = cli_store_path(flag_value);
    int rc = mfkv_open(path, flags, out);
    if (rc) {
        cli_open_error(path, rc);
        return cli_exit_for(rc);
    }
    return MFKV_EXIT_OK;
}

int cli_check_output(const char *path)
{
    /* Outputs (files, and the folders of `weights`) are published by a
     * rename from a temporary in the folder that holds them. */
    char dir[4096];
    size_t len = strlen(path);
    if (len >= sizeof dir) {
        cli_error("%s: path too long", path);
        return MFKV_EXIT_INPUT;
    }
    memcpy(dir, path, len + 1);
    while (len > 1 && dir[len - 1] == '/') dir[--len] = 0;
    char *slash = strrchr(dir, '/');
    if (!slash) strcpy(dir, ".");
    else slash[slash == dir] = 0; /* "/x" -> "/" */
    struct stat st;
    if (stat(dir, &st) != 0) {
        cli_error("%s: cannot write there: folder %s: %s", path, dir, strerror(errno));
        return MFKV_EXIT_INPUT;
    }
    if (!S_ISDIR(st.st_mode)) {
        cli_error("%s: cannot write there: %s is not a folder", path, dir);
        return MFKV_EXIT_INPUT;
    }
    if (access(dir, W_OK | X_OK) != 0) {
        cli_error("%s: cannot write there: folder %s: %s", path, dir, strerror(errno));
        return MFKV_EXIT_INPUT;
    }
    return 0;
}

int cli_exit_for(int status)
{
    switch (status) {
    case MFKV_OK: return MFKV_EXIT_OK;
    case MFKV_NOTFOUND: return MFKV_EXIT_NOTFOUND;
    case MFKV_CORRUPT: case MFKV_FORMAT: case MFKV_VERSION: return MFKV_EXIT_CORRUPT;
    default: return MFKV_EXIT_INPUT;
    }
}

void cli_warn_if_no_titles(mfkv_store *st, const char *path, int titles)
{
    mfkv_info info;
    mfkv_info_get(st, &info);
    if (titles && !info.has_titles)
        cli_error("warning: %s has no titles (build it with --titles FILE): --titles adds nothing", path);
}

uint32_t cli_online_cpus(void)
{
    long n = sysconf(_SC_NPROCESSORS_ONLN);
    return n < 1 ? 1 : n > 1024 ? 1024 : (uint32_t)n;
}

void cli_report_skipped(const char *path, size_t n)
{
    if (n) cli_error("warning: %s: skipped %zu invalid line%s", path, n, n == 1 ? "" : "s");
}

void cli_error(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fputs("mfkv: ", stderr);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
}

int cli_parse_u32(const char *opt, const char *s, unsigned long min, unsigned long max, uint32_t *out)
{
    char *end;
    errno = 0;
    unsigned long v = strtoul(s, &end, 10);
    if (errno || end == s || *end || *s == '-' || v < min || v > max) {
        cli_error("%s: expected an integer from %lu to %lu, got '%s'", opt, min, max, s);
        return -1;
    }
    *out = (uint32_t)v;
    return 0;
}

int cli_parse_double(const char *opt, const char *s, double *out)
{
    char *end;
    errno = 0;
    double v = strtod(s, &end);
    if (errno || end == s || *end || !isfinite(v)) {
        cli_error("%s: expected a finite number, got '%s'", opt, s);
        return -1;
    }
    *out = v;
    return 0;
}
