/* Fuzz target: the mfkv model file (mfkv_modelfile_read).  Each input is read
 * as given, which exercises the envelope checks, and again "sealed": its
 * size field and trailing checksum made right, so that the body parser is
 * reached instead of stopping at the checksum nearly every time. */
#include <xxhash.h>

#include "common/bytes.h"
#include "fuzz.h"
#include "train/modelfile.h"

static void fuzz_modelfile_read(const uint8_t *data, size_t size)
{
    char path[256];
    if (!fuzz_put(path, sizeof path, "model.mfkvm", data, size)) return;
    mfkv_model m;
    mfkv_train_info info;
    mfkv_diag d = {0};
    if (mfkv_modelfile_read(path, &m, &info, &d) == 0) {
        mfkv_model_free(&m);
        mfkv_train_info_free(&info);
    }
    fuzz_drop(path);
}

int fuzz_modelfile_one(const uint8_t *data, size_t size)
{
    fuzz_modelfile_read(data, size);
    if (size < 40) return 0; /* shorter than header + checksum: nothing to seal */
    uint8_t *sealed = malloc(size);
    if (!sealed) return 0;
    memcpy(sealed, data, size);
    memcpy(sealed, MFKV_MODELFILE_MAGIC, 8);
    mfkv_store_u64(sealed + 16, size);
    mfkv_store_u64(sealed + size - 8, XXH3_64bits(sealed, size - 8));
    fuzz_modelfile_read(sealed, size);
    free(sealed);
    return 0;
}
