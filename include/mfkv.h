/*
 * mfkv.h - reader library for mfkv stores.
 *
 * An mfkv store is one immutable LMDB file holding, for every user of a
 * matrix-factorization model, the top-K items by predicted rating, each
 * record protected by an XXH3-64 checksum that covers the key and the
 * payload.  This library opens such a file read-only, memory-maps it and
 * answers lookups without allocating or copying.
 *
 * Conventions
 *  - Every fallible function returns an mfkv_status; 0 (MFKV_OK) is success.
 *    mfkv_strerror() turns any status into a static string.  Each function
 *    lists the statuses it can return; MFKV_IO leaves errno set.  The `mfkv`
 *    command maps statuses to its own exit codes (README, "Exit codes"): the
 *    numbers below are not exit codes.
 *  - The library never prints, never exits and never aborts on any input:
 *    a truncated, corrupted, empty or foreign file gives a status, not a
 *    crash and never wrong data.
 *  - Threads: one mfkv_store handle may be used by any number of threads at
 *    once for mfkv_get, mfkv_fallback, mfkv_item, mfkv_info_get and
 *    mfkv_verify.
 *    The library keeps no per-thread state, so threads may come and go
 *    freely.  mfkv_open and mfkv_close must not race with other calls on the
 *    handle.
 *  - Views returned by mfkv_get/mfkv_fallback/mfkv_item point into the
 *    mapping and stay valid until mfkv_close() of the handle.
 *  - Cost: mfkv_open reads the trailer, the page table's index (8 bytes per
 *    2 MiB of store) and the item table, whatever the number of users; each
 *    page of the store is checked against its checksum the first time any
 *    call reads it (format 1.1).  Stores of format 1.0 are checked whole at
 *    open, as the builder of that format promised.
 *
 * Replacing a store under running readers
 *  - Safe: write the new file beside it and rename() it over the old one
 *    (what `mfkv build` does).  Open handles keep reading the old file,
 *    unchanged; open the path again to see the new one.
 *  - Unsafe: rewriting the file in place (cp, scp, truncation, rsync
 *    --inplace).  Handles open on it then return MFKV_CHANGED (or
 *    MFKV_CORRUPT while the new bytes are half written) and never crash:
 *    reopen once the new file is complete.  Every successful lookup checks
 *    that the file still ends in the trailer it had at open, which a copy
 *    written over it (truncate, then write) cannot pass.  One gap: a
 *    rewrite that keeps the length and writes the trailer last (rsync
 *    --inplace, dd conv=notrunc) may, while it runs, let a lookup return a
 *    checksum-valid record of the NEW file for that user.  A view obtained BEFORE the change may read the new
 *    bytes or, past a truncation, zeros; check that the next call on the
 *    handle does not return MFKV_CHANGED before trusting such a view.
 *  - How: mfkv_open installs a process-wide SIGBUS and SIGSEGV handler
 *    (SA_SIGINFO|SA_ONSTACK|SA_NODEFER), or puts it back in front of one
 *    installed since.  It acts only on faults inside a store's mapping and
 *    passes every other fault to the handler it displaced (or the default
 *    action).  A program that installs its own handler for these signals
 *    after mfkv_open must chain to the previous one, or open its stores
 *    after installing it, for this protection to hold.
 *
 * The on-disk layout is documented in the mfkv source tree (src/format.h);
 * nothing in this header depends on it.
 */
#ifndef MFKV_H
#define MFKV_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* The release version: these three lines are its one home.  build.zig reads
 * them for the shared library's soname and mfkv.pc, and the string below is
 * derived from them, so a release changes only these numbers. */
#define MFKV_VERSION_MAJOR 0
#define MFKV_VERSION_MINOR 1
#define MFKV_VERSION_PATCH 0
#define MFKV_VERSION_STR_(x) #x
#define MFKV_VERSION_XSTR_(a, b, c) MFKV_VERSION_STR_(a) "." MFKV_VERSION_STR_(b) "." MFKV_VERSION_STR_(c)
#define MFKV_VERSION_STRING MFKV_VERSION_XSTR_(MFKV_VERSION_MAJOR, MFKV_VERSION_MINOR, MFKV_VERSION_PATCH)

/** Status codes.  Their values are stable; they are not exit codes. */
typedef enum mfkv_status {
    MFKV_OK = 0,
    MFKV_NOTFOUND = 1,  /**< no record for that key (the store is fine) */
    MFKV_CORRUPT = 2,   /**< a checksum or structural check failed */
    MFKV_FORMAT = 3,    /**< not an mfkv store, or truncated/foreign file */
    MFKV_VERSION = 4,   /**< store written by a newer, incompatible major version */
    MFKV_IO = 5,        /**< an operating-system call failed (see errno) */
    MFKV_NOMEM = 6,     /**< out of memory */
    MFKV_INVAL = 7,     /**< a bad argument to a library call */
    MFKV_PARSE = 8,     /**< malformed input data (builder and loaders) */
    MFKV_LIMIT = 9,     /**< a size limit was exceeded */
    MFKV_INTERNAL = 10, /**< an unexpected error from a dependency */
    MFKV_CHANGED = 11,  /**< the file was truncated or rewritten under the open
                             handle: every later call on it says so; close it
                             and open the file again (see "Replacing a store") */
} mfkv_status;

/** Static, human-readable text for a status; never NULL. */
const char *mfkv_strerror(int status);

/** The library's version string, e.g. "0.1.0". */
const char *mfkv_version(void);

/** An open store. Opaque. */
typedef struct mfkv_store mfkv_store;

/** Flags for mfkv_open(). */
enum mfkv_open_flags {
    /** Do not verify each record's checksum in mfkv_get()/mfkv_fallback().
     * Only for callers that ran mfkv_verify() once after opening. */
    MFKV_OPEN_NO_CHECKSUM = 1u << 0,
};

/**
 * Open the store file at @p path read-only.
 *
 * Checks the trailer and the page table's index (format 1.1) or the
 * whole-file digest (format 1.0; unless MFKV_OPEN_NO_CHECKSUM), LMDB's meta
 * pages, the mfkv magic and major version, the metadata record's checksum,
 * and every item record (the item table is decoded once, here).  User
 * records and the pages holding them are checked as they are read: see
 * mfkv_get() and mfkv_verify().
 *
 * @param[out] out  receives the handle on success, NULL otherwise.
 * @return MFKV_OK; MFKV_IO (errno set; EISDIR for a folder); MFKV_FORMAT
 *         (not an mfkv store, a truncated or extended one, not a regular
 *         file); MFKV_VERSION; MFKV_CORRUPT; MFKV_NOMEM (memory or address
 *         space); MFKV_CHANGED (the file changed while it was being opened);
 *         MFKV_LIMIT (more than 1024 stores open at once); MFKV_INTERNAL
 *         (the fault handler could not be installed); MFKV_INVAL (a NULL
 *         argument).
 */
mfkv_status mfkv_open(const char *path, unsigned flags, mfkv_store **out);

/**
 * The store format version the file at @p path declares in its header, of
 * any major version: to say which version a store has that mfkv_open()
 * refused with MFKV_VERSION (written by a newer, incompatible mfkv).
 *
 * Makes the checks mfkv_open() makes without flags up to the header (the
 * trailer, the page table's index or the whole-file digest, LMDB's meta
 * pages, the header record's checksum and the mfkv magic), so the version
 * reported is the one a sound store declares, never a damaged byte.
 *
 * @return MFKV_OK (@p major and @p minor set), any status mfkv_open()
 *         returns but MFKV_VERSION for the header's version, or MFKV_VERSION
 *         when the trailer itself is of a newer version, so the header
 *         cannot be found.
 */
mfkv_status mfkv_format_version(const char *path, uint32_t *major, uint32_t *minor);

/** Close a handle; NULL is accepted. Invalidates every view from it. */
void mfkv_close(mfkv_store *store);

/**
 * A zero-copy view of one ranked list.  Read it through mfkv_list_item_index()
 * and mfkv_list_score(): the bytes are only 2-byte aligned in the file, so
 * the view never exposes typed pointers.
 */
typedef struct mfkv_list {
    uint32_t count;           /**< number of entries, best first */
    const unsigned char *raw; /**< internal: start of the entries */
} mfkv_list;

/**
 * Look up the ranked list of user @p id (the id as given to the builder,
 * e.g. "1"; @p id_len bytes, no terminator needed).
 *
 * Verifies every page on the way (the first time it is read) and the
 * record's checksum, unless the store was opened with MFKV_OPEN_NO_CHECKSUM.
 * Before saying MFKV_NOTFOUND it checks the pages on the way again, so a
 * page changed in place cannot hide a user.  Allocates nothing.
 *
 * @return MFKV_OK, MFKV_NOTFOUND (no such user, or @p id longer than any
 *         stored id), MFKV_CORRUPT, MFKV_CHANGED or MFKV_INVAL (a NULL
 *         argument or @p id_len 0).  Never MFKV_NOMEM: nothing is allocated.
 */
mfkv_status mfkv_get(mfkv_store *store, const char *id, size_t id_len, mfkv_list *out);

/** The fallback list, for users the model does not know: the top-k items by
 * global + item bias.
 * @return MFKV_OK, MFKV_NOTFOUND (the store has none), MFKV_CORRUPT,
 *         MFKV_CHANGED or MFKV_INVAL. */
mfkv_status mfkv_fallback(mfkv_store *store, mfkv_list *out);

/** Index (into the item table) of entry @p i of @p list; i < list->count. */
uint32_t mfkv_list_item_index(const mfkv_list *list, uint32_t i);

/** Stored predicted rating of entry @p i of @p list; i < list->count. */
float mfkv_list_score(const mfkv_list *list, uint32_t i);

/** One row of the item table.  Strings are not NUL-terminated. */
typedef struct mfkv_item_info {
    const char *id;     size_t id_len;     /**< external item id, e.g. "3382" */
    const char *title;  size_t title_len;  /**< UTF-8; empty when unknown */
    const char *genres; size_t genres_len; /**< '|'-separated; may be empty */
} mfkv_item_info;

/**
 * Item @p index of the item table (as returned by mfkv_list_item_index()).
 * mfkv_open verifies and decodes the whole item table once (48 bytes an
 * item), so this is an array read; it allocates nothing.
 * @return MFKV_OK, MFKV_NOTFOUND (index out of range) or MFKV_INVAL.
 */
mfkv_status mfkv_item(mfkv_store *store, uint32_t index, mfkv_item_info *out);

/** Store-wide facts, from the metadata record. */
typedef struct mfkv_info {
    uint32_t format_major, format_minor;
    uint32_t k;          /**< list length the store was built for (at most k entries a list) */
    uint32_t n_factors;  /**< latent factors of the model */
    uint32_t n_users, n_items;
    uint32_t has_fallback, has_titles;
    int64_t build_time;  /**< seconds since the epoch (SOURCE_DATE_EPOCH if set) */
    uint64_t digest;     /**< XXH3-64 over every record checksum, in key order */
    const char *provenance; /**< "key=value\n" lines: builder, options, inputs */
    size_t provenance_len;
} mfkv_info;

/** Fill @p out from the metadata read at open.  Strings stay valid until
 * mfkv_close().  @return MFKV_OK or MFKV_INVAL. */
mfkv_status mfkv_info_get(mfkv_store *store, mfkv_info *out);

/** What mfkv_verify() found. */
typedef struct mfkv_verify_report {
    uint64_t records_checked; /**< user, item, fallback and metadata records */
    uint64_t records_bad;
    uint64_t digest_computed; /**< compare with mfkv_info.digest */
    char first_problem[256];  /**< empty when everything checked out; names the
                                   user or item, the page and file offset */
    uint64_t pages_checked;   /**< LMDB pages proven against the page table */
    uint64_t pages_bad;
} mfkv_verify_report;

/**
 * Check everything: the whole-file digest, every page against the page
 * table, every record's checksum and layout, the counts in the metadata,
 * that every item index is inside the item table, and the store digest.
 * Lookups no longer need it for safety (they check what they read), but a
 * server may run it in a background thread on a handle that is serving:
 * it only reads, and the pages it proves are remembered for lookups.
 * @return MFKV_OK when the store is sound, MFKV_CORRUPT otherwise (with
 *         @p report filled either way; a B-tree that cannot be walked is
 *         damage too), MFKV_CHANGED (the file changed under the handle),
 *         MFKV_NOMEM or MFKV_INVAL.
 */
mfkv_status mfkv_verify(mfkv_store *store, mfkv_verify_report *report);

/** A cursor over all users, in byte-wise key order (see mfkv_iter_begin). */
typedef struct mfkv_iter mfkv_iter;

/**
 * Start iterating over every user; each mfkv_iter_next() yields the next user
 * id and its checksum-verified list.  Release with mfkv_iter_end() (NULL-safe).
 * mfkv_iter_begin returns MFKV_OK, MFKV_CHANGED, MFKV_NOMEM or MFKV_INVAL.
 * mfkv_iter_next returns MFKV_OK, MFKV_NOTFOUND at the end, MFKV_CORRUPT,
 * MFKV_CHANGED or MFKV_INVAL; after an error the iterator is finished.
 * An iterator belongs to the thread that created it.
 */
mfkv_status mfkv_iter_begin(mfkv_store *store, mfkv_iter **out);
mfkv_status mfkv_iter_next(mfkv_iter *it, const char **id, size_t *id_len, mfkv_list *list);
void mfkv_iter_end(mfkv_iter *it);

#ifdef __cplusplus
}
#endif
#endif /* MFKV_H */
