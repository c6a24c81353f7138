/*
 * diag.h - error reports for the builder, loaders and trainer.
 *
 * The libraries never print: a failing call returns an mfkv_status and, when
 * given a diag, leaves there one sentence for a person, in the form
 * "FILE:LINE: field NAME: what is wrong" wherever a location exists.
 */
#ifndef MFKV_DIAG_H
#define MFKV_DIAG_H

#include <stddef.h>

typedef struct mfkv_diag {
    int status;
    char msg[1024];
} mfkv_diag;

/* Record @p status and a printf-style message in @p d (which may be NULL);
 * returns @p status so callers can write `return mfkv_fail(d, ...)`. */
int mfkv_fail(mfkv_diag *d, int status, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Like mfkv_fail, appending ": strerror(errno)" for a failed system call. */
int mfkv_fail_errno(mfkv_diag *d, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

#endif
