/*
 * blas_threads.c - see blas_threads.h.
 *
 * The pthreads build of OpenBLAS starts its thread pool when the library
 * loads, and an idle pool thread spins on sched_yield for about 0.1 s before
 * it sleeps.  openblas_set_num_threads(1) does not stop it, so for a short
 * process it competes with the caller's own workers for the CPUs: at the
 * ML-1M size it was half of `mfkv build`'s CPU time and made the top-K stage
 * 1.7x slower on 2 cores.  blas_thread_shutdown_ is what OpenBLAS itself runs
 * before fork() (the pool restarts lazily when a call wants threads).  It is
 * not in cblas.h, hence weak: builds that lack it (serial) have no pool, and
 * the OpenMP build's pool is not this one, so it is called for pthreads only.
 */
#include "builder/blas_threads.h"

#include <cblas.h>

extern int blas_thread_shutdown_(void) __attribute__((weak));

enum { OPENBLAS_PTHREADS = 1 }; /* openblas_get_parallel(): 0 serial, 1 pthreads, 2 OpenMP */

void mfkv_blas_single_threaded(void)
{
    openblas_set_num_threads(1);
    if (blas_thread_shutdown_ && openblas_get_parallel() == OPENBLAS_PTHREADS) blas_thread_shutdown_();
}
