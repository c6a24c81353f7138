/*
 * blas_kernel.h - which OpenBLAS kernels run, chosen for the CPU at hand.
 */
#ifndef MFKV_BLAS_KERNEL_H
#define MFKV_BLAS_KERNEL_H

/* Make sure OpenBLAS runs kernels that use the CPU's widest vector unit, and
 * return what runs: OpenBLAS's configuration string, which names its version
 * and the kernel set ("OpenBLAS 0.3.21 DYNAMIC_ARCH NO_AFFINITY SkylakeX
 * MAX_THREADS=64").  Call it before the first BLAS call of a command,
 * from one thread: the first call may switch OpenBLAS's kernel table, later
 * calls only return the name.  Never fails: when nothing can be improved
 * the name is whatever OpenBLAS chose. */
const char *mfkv_blas_kernel(void);

#endif
