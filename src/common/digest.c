#include "digest.h"

#include <stdio.h>
#include <xxhash.h>

#include "mfkv.h"

int mfkv_file_digest(const char *path, char hex[33], mfkv_diag *d)
{
    FILE *f = fopen(path, "rb");
    if (!f) return mfkv_fail_errno(d, "%s: cannot open", path);
    XXH3_state_t *st = XXH3_createState();
    if (!st) {
        fclose(f);
        return mfkv_fail(d, MFKV_NOMEM, "%s: out of memory", path);
    }
    XXH3_128bits_reset(st);
    unsigned char buf[1 << 16];
    size_t n;
    while ((n = fread(buf, 1, sizeof buf, f)) > 0) XXH3_128bits_update(st, buf, n);
    int failed = ferror(f);
    fclose(f);
    XXH128_hash_t h = XXH3_128bits_digest(st);
    XXH3_freeState(st);
    if (failed) return mfkv_fail_errno(d, "%s: read error", path);
    snprintf(hex, 33, "%016llx%016llx", (unsigned long long)h.high64, (unsigned long long)h.low64);
    return MFKV_OK;
}
