/*
 * blas_threads.h - OpenBLAS threading for callers that run BLAS from their
 * own worker threads.
 */
#ifndef MFKV_BLAS_THREADS_H
#define MFKV_BLAS_THREADS_H

/* Make every BLAS call run single-threaded in its calling thread, and stop
 * OpenBLAS's idle thread pool (a later multi-threaded call restarts it). */
void mfkv_blas_single_threaded(void);

#endif
