/* trailer.h - the whole-file digest after LMDB's pages (see src/format.h). */
#ifndef MFKV_TRAILER_H
#define MFKV_TRAILER_H

#include <stddef.h>

#pragma GCC visibility push(hidden)

/* Check the trailer of the open file @p fd of @p file_size bytes; when
 * @p hash_pages, also hash every LMDB page and compare.  Returns MFKV_OK,
 * MFKV_FORMAT (no or foreign trailer, wrong length), MFKV_VERSION,
 * MFKV_CORRUPT (digest mismatch), MFKV_IO or MFKV_NOMEM. */
int mfkv_trailer_check(int fd, size_t file_size, int hash_pages);

/* Hash the file's current content and append the trailer. MFKV_OK or MFKV_IO. */
int mfkv_trailer_append(int fd);

#pragma GCC visibility pop

#endif
