/* Fuzz target: one .npy file (mfkv_npy_read_nd). */
#include "fuzz.h"
#include "io/factors.h"

void fuzz_npy_outcome(const uint8_t *data, size_t size, char *out, size_t cap)
{
    char path[256];
    FUZZ_SAY(out, cap, "unwritable");
    if (!fuzz_put(path, sizeof path, "array.npy", data, size)) return;
    float *v = NULL;
    uint64_t rows, cols;
    int ndim;
    mfkv_diag d = {0};
    int rc = mfkv_npy_read_nd(path, &v, &rows, &cols, &ndim, &d);
    if (rc) FUZZ_SAY(out, cap, "status %d", rc);
    else {
        double sum = 0;
        for (uint64_t i = 0; i < rows * cols; i++) sum += v[i];
        FUZZ_SAY(out, cap, "ok ndim=%d rows=%llu cols=%llu sum=%g", ndim, (unsigned long long)rows,
                 (unsigned long long)cols, sum);
        free(v);
    }
    fuzz_drop(path);
}

int fuzz_npy_one(const uint8_t *data, size_t size)
{
    fuzz_npy_outcome(data, size, NULL, 0);
    return 0;
}
