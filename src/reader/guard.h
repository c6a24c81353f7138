/*
 * guard.h - turn a fault in a store's mapping into MFKV_CHANGED.
 *
 * A mapping whose file shrinks raises SIGBUS when a vanished page is read;
 * no check before the read can rule that out, since the file can shrink
 * between the check and the read.  So libmfkv installs, once per process, a
 * SIGBUS/SIGSEGV handler (SA_SIGINFO | SA_ONSTACK | SA_NODEFER) that acts
 * only on faults inside a store's mapping:
 *  - inside a guarded library call (MFKV_GUARDED below, a thread-local jump
 *    buffer) it marks the store changed and jumps back to the call, which
 *    returns MFKV_CHANGED;
 *  - elsewhere (a caller reading a view after the file shrank) it maps a
 *    zero page over the vanished one and marks the store changed, so the
 *    read completes and every later call on the handle says MFKV_CHANGED.
 * Every other fault goes to the handler installed before (or the default
 * action), so the host program's own handlers and crashes behave as before.
 */
#ifndef MFKV_GUARD_H
#define MFKV_GUARD_H

#include <setjmp.h>
#include <stdatomic.h>
#include <stddef.h>

#pragma GCC visibility push(hidden)

typedef struct mfkv_guard {
    sigjmp_buf jb;
    const unsigned char *lo;
    size_t len;
    atomic_int *changed;
    struct mfkv_guard *prev;
} mfkv_guard;

/* Install the handler (once per process).  MFKV_OK or MFKV_INTERNAL. */
int mfkv_guard_install(void);

/* Let faults in [lo, lo+len) outside guarded calls be patched (see above).
 * MFKV_OK, or MFKV_LIMIT when every slot is taken (so many stores open that
 * another could not be protected). */
int mfkv_guard_register(const void *lo, size_t len, atomic_int *changed);
void mfkv_guard_unregister(const void *lo);

void mfkv_guard_push(mfkv_guard *g, const void *lo, size_t len, atomic_int *changed);
void mfkv_guard_pop(mfkv_guard *g);

/* Run the statements after @p on_fault; if they fault inside [map, map+len),
 * run @p on_fault instead.
 * sigsetjmp does not save the signal mask (that would be a system call per
 * lookup): the handler runs with SA_NODEFER, so no signal stays blocked. */
#define MFKV_GUARDED(map, len, changed, on_fault, ...)                                            \
    do {                                                                                            \
        mfkv_guard guard_;                                                                          \
        if (sigsetjmp(guard_.jb, 0) == 0) {                                                         \
            mfkv_guard_push(&guard_, (map), (len), (changed));                                      \
            __VA_ARGS__;                                                                            \
        } else {                                                                                    \
            on_fault;                                                                               \
        }                                                                                           \
        mfkv_guard_pop(&guard_);                                                                    \
    } while (0)

#pragma GCC visibility pop

#endif
