#include <string.h>

#include "format.h"
#include "handler.h"
#include "io/utf8.h"

int serve_lookup(served_store *s, const char *id, size_t id_len, int fallback,
                 mfkv_list *list, int *used_fallback, serve_response *res)
{
    *used_fallback = 0;
    if (id_len == 0 || id_len > MFKV_MAX_ID_LEN) {
        serve_error(res, 400, "user_id must be 1 to %u bytes long", MFKV_MAX_ID_LEN);
        return -1;
    }
    /* Stored ids are UTF-8, and answers echo the id (the fallback names
     * whom it stands in for) inside JSON, which must be UTF-8 too. */
    if (mfkv_utf8_invalid_at(id, id_len) != id_len) {
        serve_error(res, 400, "user_id must be valid UTF-8");
        return -1;
    }
    int rc = mfkv_get(s->store, id, id_len, list);
    if (rc == MFKV_NOTFOUND && fallback) {
        rc = mfkv_fallback(s->store, list);
        if (rc == MFKV_NOTFOUND) { /* a store built without one: nothing to show */
            *list = (mfkv_list){0};
            rc = MFKV_OK;
        }
        *used_fallback = rc == MFKV_OK;
    }
    if (rc == MFKV_OK) return 0;
    if (rc == MFKV_NOTFOUND) {
        serve_error(res, 404, "user_id %.*s not found", (int)(id_len > 64 ? 64 : id_len), id);
    } else if (rc == MFKV_INVAL) {
        serve_error(res, 400, "store lookup refused the id: %s", mfkv_strerror(rc));
    } else {
        /* The file changed under the mapping (overwritten or truncated in
         * place), or its bytes went bad: never an answer from it.  The
         * watcher reopens it at its next poll (models.h); meanwhile clients
         * retry, and other versions keep serving. */
        atomic_store(&s->damaged, 1);
        serve_error(res, 503, "store version %s is unreadable (%s); reloading it, retry", s->version,
                    mfkv_strerror(rc));
    }
    return -1;
}
