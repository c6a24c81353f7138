/*
 * seal.h - finish a store file: append the page table and the trailer
 * (layout and reasoning in src/format.h).
 */
#ifndef MFKV_SEAL_H
#define MFKV_SEAL_H

/* The file @p fd holds exactly LMDB's pages; append the page table and the
 * trailer.  MFKV_OK, MFKV_FORMAT (not whole pages), MFKV_NOMEM or MFKV_IO
 * (errno set). */
int mfkv_seal_file(int fd);

#endif
