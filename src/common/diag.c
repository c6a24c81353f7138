#include "diag.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "mfkv.h"

int mfkv_fail(mfkv_diag *d, int status, const char *fmt, ...)
{
    if (d) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(d->msg, sizeof d->msg, fmt, ap);
        va_end(ap);
        d->status = status;
    }
    return status;
}

int mfkv_fail_errno(mfkv_diag *d, const char *fmt, ...)
{
    int err = errno;
    if (d) {
        va_list ap;
        va_start(ap, fmt);
        int n = vsnprintf(d->msg, sizeof d->msg, fmt, ap);
        va_end(ap);
        if (n >= 0 && (size_t)n < sizeof d->msg)
            snprintf(d->msg + n, sizeof d->msg - (size_t)n, ": %s", strerror(err));
        d->status = MFKV_IO;
    }
    errno = err;
    return MFKV_IO;
}
