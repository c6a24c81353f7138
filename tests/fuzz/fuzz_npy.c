/* Fuzz target: one .npy file (mfkv_npy_read_nd). */
#include "fuzz.h"
#include "io/factors.h"

int fuzz_npy_one(const uint8_t *data, size_t size)
{
    char path[256];
    if (!fuzz_put(path, sizeof path, "array.npy", data, size)) return 0;
    float *v = NULL;
    uint64_t rows, cols;
    int ndim;
    mfkv_diag d = {0};
    if (mfkv_npy_read_nd(path, &v, &rows, &cols, &ndim, &d) == 0) free(v);
    fuzz_drop(path);
    return 0;
}
