/* guard.c - see guard.h. */
#include "reader/guard.h"

#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <sys/mman.h>
#include <unistd.h>

#include "mfkv.h"

enum { MAX_MAPS = 1024 }; /* open stores whose views are patched on a fault */

static struct {
    _Atomic(uintptr_t) lo;
    _Atomic size_t len;
    _Atomic(atomic_int *) changed;
} maps[MAX_MAPS];

static _Thread_local mfkv_guard *current;
static struct sigaction previous_bus, previous_segv;
static pthread_mutex_t install_lock = PTHREAD_MUTEX_INITIALIZER;

static void pass_on(int sig, siginfo_t *si, void *ctx)
{
    struct sigaction *old = sig == SIGBUS ? &previous_bus : &previous_segv;
    if (old->sa_flags & SA_SIGINFO) {
        old->sa_sigaction(sig, si, ctx);
        return;
    }
    if (old->sa_handler != SIG_DFL && old->sa_handler != SIG_IGN) {
        old->sa_handler(sig);
        return;
    }
    /* Default action: restore it; a real fault repeats on return and takes
     * it, a sent signal is sent again. */
    signal(sig, SIG_DFL);
    if (si->si_code <= 0) raise(sig);
}

static void on_fault(int sig, siginfo_t *si, void *ctx)
{
    uintptr_t a = (uintptr_t)si->si_addr;
    mfkv_guard *g = current;
    if (g && a - (uintptr_t)g->lo < g->len) {
        atomic_store(g->changed, 1);
        current = g->prev;
        siglongjmp(g->jb, 1);
    }
    for (size_t i = 0; i < MAX_MAPS; i++) {
        uintptr_t lo = atomic_load(&maps[i].lo);
        if (!lo || a - lo >= atomic_load(&maps[i].len)) continue;
        uintptr_t page = a & ~(uintptr_t)(sysconf(_SC_PAGESIZE) - 1);
        if (mmap((void *)page, 1, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, -1, 0) == MAP_FAILED) break;
        atomic_int *changed = atomic_load(&maps[i].changed);
        if (changed) atomic_store(changed, 1);
        return;
    }
    pass_on(sig, si, ctx);
}

/* Put on_fault in front for @p sig unless it already is, remembering the
 * handler it displaces. */
static int install(int sig, struct sigaction *previous)
{
    struct sigaction now;
    if (sigaction(sig, NULL, &now)) return -1;
    if ((now.sa_flags & SA_SIGINFO) && now.sa_sigaction == on_fault) return 0;
    struct sigaction sa = {0};
    sa.sa_sigaction = on_fault;
    sa.sa_flags = SA_SIGINFO | SA_ONSTACK | SA_NODEFER;
    sigemptyset(&sa.sa_mask);
    return sigaction(sig, &sa, previous);
}

/* Every open checks, so a handler the program installed since (a test
 * framework's, say) is chained to rather than left in front. */
int mfkv_guard_install(void)
{
    pthread_mutex_lock(&install_lock);
    int failed = install(SIGBUS, &previous_bus) || install(SIGSEGV, &previous_segv);
    pthread_mutex_unlock(&install_lock);
    return failed ? MFKV_INTERNAL : MFKV_OK;
}

int mfkv_guard_register(const void *lo, size_t len, atomic_int *changed)
{
    for (size_t i = 0; i < MAX_MAPS; i++) {
        uintptr_t expected = 0;
        /* Claim the slot with a placeholder so the handler never sees a
         * half-written entry, then publish the real start last. */
        if (!atomic_compare_exchange_strong(&maps[i].lo, &expected, (uintptr_t)1)) continue;
        atomic_store(&maps[i].changed, changed);
        atomic_store(&maps[i].lo, (uintptr_t)lo);
        atomic_store(&maps[i].len, len);
        return MFKV_OK;
    }
    return MFKV_LIMIT;
}

void mfkv_guard_unregister(const void *lo)
{
    for (size_t i = 0; i < MAX_MAPS; i++)
        if (atomic_load(&maps[i].lo) == (uintptr_t)lo) {
            atomic_store(&maps[i].len, 0);
            atomic_store(&maps[i].lo, 0);
            return;
        }
}

void mfkv_guard_push(mfkv_guard *g, const void *lo, size_t len, atomic_int *changed)
{
    g->lo = lo;
    g->len = len;
    g->changed = changed;
    g->prev = current;
    atomic_signal_fence(memory_order_seq_cst);
    current = g;
    atomic_signal_fence(memory_order_seq_cst);
}

void mfkv_guard_pop(mfkv_guard *g)
{
    atomic_signal_fence(memory_order_seq_cst);
    current = g->prev;
}
