/*
 * etag.h - strong entity tags for snippets and If-None-Match (RFC 9110).
 */
#ifndef MFKV_SERVE_ETAG_H
#define MFKV_SERVE_ETAG_H

#include <stddef.h>
#include <stdint.h>

/* Longest tag serve_etag writes, quotes and terminator included. */
#define SERVE_ETAG_MAX 40

/* "DIGEST-BODYHASH": the store digest, so a rebuilt store never reuses a
 * tag, and an XXH3-64 of the exact representation bytes, so different
 * representations (n, format) never share one. */
void serve_etag(uint64_t store_digest, const void *body, size_t len, char out[SERVE_ETAG_MAX]);

/* Whether an If-None-Match value matches @p etag ("*", or one tag of the
 * comma-separated list equal to it by weak comparison, as 13.1.2 requires). */
int serve_etag_matches(const char *if_none_match, const char *etag);

#endif
