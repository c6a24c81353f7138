#include "etag.h"

#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <xxhash.h>

void serve_etag(uint64_t store_digest, const void *body, size_t len, char out[SERVE_ETAG_MAX])
{
    snprintf(out, SERVE_ETAG_MAX, "\"%016" PRIx64 "-%016" PRIx64 "\"", store_digest,
             (uint64_t)XXH3_64bits(body, len));
}

static const char *skip_space(const char *p)
{
    while (*p == ' ' || *p == '\t') p++;
    return p;
}

int serve_etag_matches(const char *if_none_match, const char *etag)
{
    const char *p = skip_space(if_none_match);
    if (*p == '*' && !*skip_space(p + 1)) return 1;
    size_t tag_len = strlen(etag);
    while (*p) {
        p = skip_space(p);
        if (!strncmp(p, "W/", 2)) p += 2;
        if (*p != '"') return 0; /* malformed: match nothing */
        const char *end = strchr(p + 1, '"');
        if (!end) return 0;
        if ((size_t)(end + 1 - p) == tag_len && !memcmp(p, etag, tag_len)) return 1;
        p = skip_space(end + 1);
        if (*p == ',') p++;
        else if (*p) return 0;
    }
    return 0;
}
