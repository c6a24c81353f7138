#include "mfkv.h"

const char *mfkv_strerror(int status)
{
    switch (status) {
    case MFKV_OK: return "success";
    case MFKV_NOTFOUND: return "not found";
    case MFKV_CORRUPT: return "store is corrupt (checksum or structure check failed)";
    case MFKV_FORMAT: return "not an mfkv store, or the file is truncated";
    case MFKV_VERSION: return "store was written by a newer, incompatible mfkv";
    case MFKV_IO: return "input/output error";
    case MFKV_NOMEM: return "out of memory";
    case MFKV_INVAL: return "invalid argument";
    case MFKV_PARSE: return "malformed input";
    case MFKV_LIMIT: return "size limit exceeded";
    case MFKV_INTERNAL: return "internal error in a dependency";
    case MFKV_CHANGED: return "the store file was changed or truncated after it was opened; reopen it";
    default: return "unknown status";
    }
}

const char *mfkv_version(void) { return MFKV_VERSION_STRING; }
