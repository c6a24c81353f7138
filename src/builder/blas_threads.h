/*
 * blas_threads.h - mfkv's one OpenBLAS threading policy.
 *
 * A stage that splits its work over its own threads (the top-K's user
 * blocks, ALS's rows) runs every BLAS call single-threaded in the calling
 * thread: BLAS threads would only contend with the stage's own.  It calls
 * mfkv_blas_single_threaded() before starting them, and does not undo it
 * (the process has no later BLAS work that wants threads).  A command whose
 * BLAS work is a few large calls from one thread (recommend, eval) leaves
 * OpenBLAS's own threads on and calls nothing here.
 */
#ifndef MFKV_BLAS_THREADS_H
#define MFKV_BLAS_THREADS_H

/* Make every BLAS call run single-threaded in its calling thread, and stop
 * OpenBLAS's idle thread pool (a later multi-threaded call restarts it). */
void mfkv_blas_single_threaded(void);

#endif
