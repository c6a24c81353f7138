/* Fuzz target: the mfkv model file (mfkv_modelfile_read).  Each input is read
 * as given, which exercises the envelope checks, and again "sealed": its
 * size field and trailing checksum made right, so that the body parser is
 * reached instead of stopping at the checksum nearly every time. */
#include <xxhash.h>

#include "common/bytes.h"
#include "fuzz.h"
#include "train/modelfile.h"

static void fuzz_modelfile_read(const uint8_t *data, size_t size, char *out, size_t cap)
{
    char path[256];
    FUZZ_SAY(out, cap, "unwritable");
    if (!fuzz_put(path, sizeof path, "model.mfkvm", data, size)) return;
    mfkv_model m;
    mfkv_train_info info;
    mfkv_diag d = {0};
    int rc = mfkv_modelfile_read(path, &m, &info, &d);
    if (rc) FUZZ_SAY(out, cap, "status %d", rc);
    else {
        FUZZ_SAY(out, cap, "ok users=%u items=%u factors=%u rows=%zu", m.user_ids.n, m.item_ids.n, m.n_factors,
                 info.n_rows);
        mfkv_model_free(&m);
        mfkv_train_info_free(&info);
    }
    fuzz_drop(path);
}

/* The outcome of the input as given (the resealed copy is for coverage). */
void fuzz_modelfile_outcome(const uint8_t *data, size_t size, char *out, size_t cap)
{
    fuzz_modelfile_read(data, size, out, cap);
}

int fuzz_modelfile_one(const uint8_t *data, size_t size)
{
    fuzz_modelfile_read(data, size, NULL, 0);
    if (size < 40) return 0; /* shorter than header + checksum: nothing to seal */
    uint8_t *sealed = malloc(size);
    if (!sealed) return 0;
    memcpy(sealed, data, size);
    memcpy(sealed, MFKV_MODELFILE_MAGIC, 8);
    mfkv_put_u64(sealed + 16, size);
    mfkv_put_u64(sealed + size - 8, XXH3_64bits(sealed, size - 8));
    fuzz_modelfile_read(sealed, size, NULL, 0);
    free(sealed);
    return 0;
}
