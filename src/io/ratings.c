#include "ratings.h"

#include <math.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "decimal.h"
#include "fields.h"
#include "mfkv.h"
#include "table.h"

enum { COL_USER, COL_ITEM, COL_RATING, COL_TIMESTAMP, N_COLS };

/* `.dat` files have no header; these names stand in for one in messages. */
static const char *const dat_names[N_COLS] = {"user", "item", "rating", "timestamp"};

static const char *const user_candidates[] = {"user_id", "userId", "user", NULL};
static const char *const item_candidates[] = {"item_id", "movieId", "item", NULL};
static const char *const rating_candidates[] = {"rating", NULL};
static const char *const timestamp_candidates[] = {"timestamp", NULL};

/* Most rating logs number their users and items: a canonical decimal id
 * ("17", not "017") below NUMBERED_MAX finds its index in a plain array
 * instead of hashing into the idtab, which was a fifth of a ratings load.
 * at[v] is the index of id v plus 1, 0 while v has not been seen. */
enum { NUMBERED_DIGITS = 7, NUMBERED_MAX = 1 << 22, NOT_NUMBERED = UINT32_MAX };
typedef struct numbered {
    uint32_t *at;
    size_t n;
} numbered;

typedef struct loader {
    mfkv_table table;
    numbered users, items;
    mfkv_ratings *out;
    size_t cap;
    int col[N_COLS]; /* field index of each column; timestamp -1 if absent */
    size_t *line;    /* the line of each rating, for repeated pairs */
} loader;

static int find_columns(loader *ld, const mfkv_ratings_opts *opts, mfkv_diag *d)
{
    const char *wanted[N_COLS] = {opts->user_col, opts->item_col, opts->rating_col, NULL};
    const char *const *candidates[N_COLS] = {user_candidates, item_candidates, rating_candidates,
                                             timestamp_candidates};
    int rc = MFKV_OK;
    for (int c = 0; !rc && c < N_COLS; c++)
        rc = mfkv_table_column(&ld->table, c, dat_names[c], wanted[c], candidates[c],
                               c != COL_TIMESTAMP, &ld->col[c], d);
    return rc;
}

static int append(loader *ld, size_t line, uint32_t user, uint32_t item, float rating, int64_t timestamp)
{
    mfkv_ratings *r = ld->out;
    if (r->n == ld->cap) {
        size_t cap = ld->cap ? ld->cap * 2 : 4096;
        uint32_t *u = realloc(r->user, cap * sizeof *u);
        if (u) r->user = u;
        uint32_t *i = realloc(r->item, cap * sizeof *i);
        if (i) r->item = i;
        float *v = realloc(r->rating, cap * sizeof *v);
        if (v) r->rating = v;
        int64_t *t = realloc(r->timestamp, cap * sizeof *t);
        if (t) r->timestamp = t;
        size_t *l = realloc(ld->line, cap * sizeof *l);
        if (l) ld->line = l;
        if (!u || !i || !v || !t || !l) return MFKV_NOMEM;
        ld->cap = cap;
    }
    r->user[r->n] = user;
    r->item[r->n] = item;
    r->rating[r->n] = rating;
    r->timestamp[r->n] = timestamp;
    ld->line[r->n] = line;
    r->n++;
    return MFKV_OK;
}

/* The number a canonical decimal id stands for, or NOT_NUMBERED, given
 * that s[0..len) begins with @p digits digits of value @p v. */
static uint32_t numbered_id(const char *s, size_t len, size_t digits, uint64_t v)
{
    if (digits != len || len == 0 || len > NUMBERED_DIGITS || (s[0] == '0' && len > 1))
        return NOT_NUMBERED;
    return v < NUMBERED_MAX ? (uint32_t)v : NOT_NUMBERED;
}

/* How many digits s[0..len) begins with, their value in *v (wrapped when
 * there are more than 19: callers look at so many no further). */
static size_t leading_digits(const char *s, size_t len, uint64_t *v)
{
    size_t i = 0;
    uint64_t x = 0;
    for (unsigned digit; i < len && (digit = (unsigned char)s[i] - '0') <= 9; i++) x = x * 10 + digit;
    *v = x;
    return i;
}

/* The number a canonical decimal id stands for, or NOT_NUMBERED. */
static uint32_t number_of(const char *s, size_t len)
{
    uint64_t v;
    size_t digits = leading_digits(s, len, &v);
    return numbered_id(s, len, digits, v);
}

/* The index of an id already checked, @p v its number_of: what mfkv_add_id
 * gives, through the array when the id is numbered. */
static int id_index(const mfkv_where *at, numbered *num, mfkv_idtab *ids, const char *s,
                    size_t len, uint32_t v, uint32_t *index, mfkv_diag *d)
{
    if (v < num->n && num->at[v]) {
        *index = num->at[v] - 1;
        return MFKV_OK;
    }
    int rc = mfkv_add_id(at, ids, s, len, index, NULL, d);
    if (rc || v == NOT_NUMBERED) return rc;
    if (v >= num->n) {
        size_t n = num->n ? num->n : 4096;
        while (n <= v) n *= 2;
        uint32_t *a = realloc(num->at, n * sizeof *a);
        if (!a) return mfkv_fail(d, MFKV_NOMEM, "%s: out of memory", at->path);
        memset(a + num->n, 0, (n - num->n) * sizeof *a);
        num->at = a;
        num->n = n;
    }
    num->at[v] = *index + 1;
    return MFKV_OK;
}

enum { FAST_COLS = 16 };

/* A data line as the parallel pass leaves it: read (left NULL), or left to
 * load_line, which reads it in file order on the calling thread. */
typedef struct row {
    int64_t timestamp;
    const char *left; /* the line, when it is left */
    size_t len;       /* its length, without line end */
    size_t line;      /* its line, counted from its chunk's first (0) */
    uint32_t user, item; /* the numbers of its ids */
    float rating;
} row;

/* The usual line, read in one pass without the split and field layers that
 * word errors (they were half the time of a load): no quote, exactly the
 * file's number of fields, numbered ids, a rating mfkv_decimal reads and a
 * timestamp of up to 18 plain digits.  1 with the values in *r; 0 to leave
 * the line to load_line, which gives the same values for what is read here
 * and words whatever is wrong.  Reads only *ld, so chunks run it in
 * parallel. */
static int read_plain(const loader *ld, const char *s, size_t len, row *r)
{
    const mfkv_table *t = &ld->table;
    size_t n = t->n_cols;
    if (n > FAST_COLS) return 0;
    const unsigned char *stop = t->fields.stop;
    char sep = t->fields.sep[0];
    size_t seplen = t->fields.sep[1] == ':' ? 2 : 1, k = 0, i = 0, start = 0;
    /* Each field's leading digits are read on the way: ids and timestamps
     * are nothing else. */
    const char *f[FAST_COLS];
    size_t flen[FAST_COLS], digits[FAST_COLS];
    uint64_t v[FAST_COLS];
    for (;;) {
        if (k == n) return 0;
        digits[k] = leading_digits(s + i, len - i, &v[k]);
        i += digits[k];
        while (i < len && !stop[(unsigned char)s[i]]) i++;
        /* A quote, or a ':' that is not half of a "::". */
        if (i < len && (s[i] != sep || (seplen == 2 && (i + 1 == len || s[i + 1] != ':'))))
            return 0;
        f[k] = s + start;
        flen[k++] = i - start;
        if (i == len) break;
        start = i += seplen;
    }
    if (k != n) return 0;
    int cu = ld->col[COL_USER], ci = ld->col[COL_ITEM], cr = ld->col[COL_RATING],
        ct = ld->col[COL_TIMESTAMP];
    r->user = numbered_id(f[cu], flen[cu], digits[cu], v[cu]);
    r->item = numbered_id(f[ci], flen[ci], digits[ci], v[ci]);
    double rating;
    if (r->user == NOT_NUMBERED || r->item == NOT_NUMBERED ||
        !mfkv_decimal(f[cr], flen[cr], &rating) || !isfinite((float)rating))
        return 0;
    r->rating = (float)rating;
    /* What mfkv_parse_int64 reads from up to 18 digits, which cannot overflow. */
    r->timestamp = 0;
    if (ct >= 0 && flen[ct]) {
        if (digits[ct] != flen[ct] || flen[ct] > 18) return 0;
        r->timestamp = (int64_t)v[ct];
    }
    return 1;
}

/* The index of the id numbered @p v, as id_index gives it: the id's text
 * is the canonical decimal of v, written out when it is new. */
static int numbered_index(const mfkv_where *at, numbered *num, mfkv_idtab *ids, uint32_t v,
                          uint32_t *index, mfkv_diag *d)
{
    if (v < num->n && num->at[v]) {
        *index = num->at[v] - 1;
        return MFKV_OK;
    }
    /* Written backwards; snprintf was a twentieth of a load with many ids. */
    char text[16], *p = text + sizeof text;
    uint32_t rest = v;
    do *--p = (char)('0' + rest % 10);
    while (rest /= 10);
    return id_index(at, num, ids, p, (size_t)(text + sizeof text - p), v, index, d);
}

/* Add a line read_plain read, line number @p line: its ids get their
 * indices here, in file order. */
static int take_row(loader *ld, size_t line, const row *r, mfkv_diag *d)
{
    const mfkv_table *t = &ld->table;
    uint32_t user, item;
    mfkv_where at = {t->path, line, t->names[ld->col[COL_USER]]};
    int rc = numbered_index(&at, &ld->users, &ld->out->users, r->user, &user, d);
    at.field = t->names[ld->col[COL_ITEM]];
    if (!rc) rc = numbered_index(&at, &ld->items, &ld->out->items, r->item, &item, d);
    if (!rc && (rc = append(ld, line, user, item, r->rating, r->timestamp)))
        rc = mfkv_fail(d, rc, "%s: out of memory", t->path);
    return rc;
}

/* Only MFKV_PARSE is a fault of the line; anything else stops the load. */
static int load_line(loader *ld, mfkv_diag *d)
{
    mfkv_table *t = &ld->table;
    size_t line = t->lines.line;
    int rc = mfkv_table_split(t, t->line, t->len, d);
    if (rc) return rc;
    const char *const *f = t->fields.s;
    const size_t *flen = t->fields.len;
    const char *const *names = t->names;
    int cu = ld->col[COL_USER], ci = ld->col[COL_ITEM], cr = ld->col[COL_RATING],
        ct = ld->col[COL_TIMESTAMP];
    mfkv_where at = {t->path, line, names[cu]};
    /* A numbered id is a valid one. */
    uint32_t vu = number_of(f[cu], flen[cu]), vi = number_of(f[ci], flen[ci]);
    if (vu == NOT_NUMBERED && (rc = mfkv_check_id(&at, f[cu], flen[cu], d))) return rc;
    at.field = names[ci];
    if (vi == NOT_NUMBERED && (rc = mfkv_check_id(&at, f[ci], flen[ci], d))) return rc;
    float rating;
    at.field = names[cr];
    if ((rc = mfkv_parse_float(&at, f[cr], flen[cr], &rating, d))) return rc;
    int64_t timestamp = 0;
    at.field = ct >= 0 ? names[ct] : NULL;
    if (ct >= 0 && flen[ct] && (rc = mfkv_parse_int64(&at, f[ct], flen[ct], &timestamp, d)))
        return rc;

    uint32_t user, item;
    at.field = names[cu];
    if ((rc = id_index(&at, &ld->users, &ld->out->users, f[cu], flen[cu], vu, &user, d))) return rc;
    at.field = names[ci];
    if ((rc = id_index(&at, &ld->items, &ld->out->items, f[ci], flen[ci], vi, &item, d))) return rc;
    if ((rc = append(ld, line, user, item, rating, timestamp)))
        return mfkv_fail(d, rc, "%s: out of memory", t->path);
    return MFKV_OK;
}

/* is_repeat[j] = 1 for every rating whose (user, item) pair an earlier
 * rating has; returns how many.  The ratings are grouped by user with a
 * counting sort, stable, so each user's come in file order, and each user's
 * items are marked in seen[item] = user + 1: one pass of scattered writes,
 * where a radix sort of the pairs took three passes over twice the bytes
 * (and a hash set of the pairs while reading missed the cache on nearly
 * every insert). */
static int find_repeats(const mfkv_ratings *r, uint8_t *is_repeat, size_t *n_repeats)
{
    *n_repeats = 0;
    size_t *end = calloc((size_t)r->users.n + 1, sizeof *end), *rating = malloc(r->n * sizeof *rating + 1);
    uint32_t *item = malloc(r->n * sizeof *item + 1), *seen = calloc((size_t)r->items.n + 1, sizeof *seen);
    if (!end || !rating || !item || !seen) {
        free(end), free(rating), free(item), free(seen);
        return MFKV_NOMEM;
    }
    /* end[u] starts as where user u's ratings begin and ends where they end. */
    for (size_t j = 0; j < r->n; j++) end[r->user[j] + 1]++;
    for (uint32_t u = 0; u < r->users.n; u++) end[u + 1] += end[u];
    for (size_t j = 0; j < r->n; j++) {
        size_t k = end[r->user[j]]++;
        rating[k] = j;
        item[k] = r->item[j];
    }
    size_t k = 0;
    for (uint32_t u = 0; u < r->users.n; u++)
        for (; k < end[u]; k++) {
            if (seen[item[k]] == u + 1) {
                is_repeat[rating[k]] = 1;
                ++*n_repeats;
            }
            seen[item[k]] = u + 1;
        }
    free(end), free(rating), free(item), free(seen);
    return MFKV_OK;
}

/* Repeated pairs, checked once the lines are read: the first repeat in file
 * order is the error (it comes before the line that stopped the load, if
 * one did); with skip_invalid every repeat is dropped and counted. */
static int check_repeats(loader *ld, const mfkv_ratings_opts *opts, mfkv_diag *d)
{
    mfkv_ratings *r = ld->out;
    uint8_t *is_repeat = calloc(r->n + 1, 1);
    size_t n_repeats;
    int rc = is_repeat ? find_repeats(r, is_repeat, &n_repeats) : MFKV_NOMEM;
    if (rc) {
        free(is_repeat);
        return mfkv_fail(d, rc, "%s: out of memory", ld->table.path);
    }
    size_t kept = 0;
    for (size_t j = 0; j < r->n; j++) {
        if (!is_repeat[j]) {
            r->user[kept] = r->user[j], r->item[kept] = r->item[j];
            r->rating[kept] = r->rating[j], r->timestamp[kept] = r->timestamp[j];
            kept++;
        } else if (!opts->skip_invalid) {
            char qu[MFKV_QUOTE_LEN], qi[MFKV_QUOTE_LEN];
            size_t lu, li;
            const char *u = mfkv_idtab_str(&r->users, r->user[j], &lu), *i = mfkv_idtab_str(&r->items, r->item[j], &li);
            mfkv_where at = {ld->table.path, ld->line[j], ld->table.names[ld->col[COL_ITEM]]};
            free(is_repeat);
            return mfkv_fail_at(d, &at, "user \"%s\" rated item \"%s\" on an earlier line too",
                                mfkv_quote(qu, u, lu), mfkv_quote(qi, i, li));
        }
    }
    r->n = kept;
    r->skipped += n_repeats;
    free(is_repeat);
    return MFKV_OK;
}

/* The lines of one chunk of a block, read by one thread. */
typedef struct chunk {
    const loader *ld;
    const char *s;
    size_t len;
    row *rows;
    size_t n, cap;
    size_t lines;  /* lines in the chunk, blank ones too */
    int status;    /* MFKV_NOMEM when rows could not grow */
    pthread_t thread;
} chunk;

/* Split a chunk into lines as mfkv_lines_next and mfkv_table_next do (a
 * line ends at "\n", a "\r" before it is dropped, blank lines are skipped
 * but counted) and read each with read_plain. */
static void *read_chunk(void *arg)
{
    chunk *c = arg;
    c->n = c->lines = 0;
    c->status = MFKV_OK;
    for (const char *p = c->s, *end = c->s + c->len; p < end;) {
        const char *line = p, *nl = memchr(p, '\n', (size_t)(end - p));
        size_t len = (size_t)((nl ? nl : end) - line);
        p = nl ? nl + 1 : end;
        size_t at = c->lines++;
        if (len && line[len - 1] == '\r') len--;
        if (len == 0) continue;
        if (c->n == c->cap) {
            size_t cap = c->cap ? c->cap * 2 : 4096;
            row *rows = realloc(c->rows, cap * sizeof *rows);
            if (!rows) {
                c->status = MFKV_NOMEM;
                return NULL;
            }
            c->rows = rows;
            c->cap = cap;
        }
        row *r = &c->rows[c->n++];
        r->line = at;
        r->len = len;
        r->left = read_plain(c->ld, line, len, r) ? NULL : line;
    }
    return NULL;
}

/* Chunks of at least this many bytes are worth a thread of their own; a
 * block is this many bytes per thread. */
enum { MIN_CHUNK = 256 << 10, BLOCK_PER_THREAD = 4 << 20, MAX_THREADS = 8 };

/* A line's outcome: under skip_invalid a fault of the line (MFKV_PARSE) is
 * counted and the load goes on; anything else stops it. */
static int settle(int rc, loader *ld, const mfkv_ratings_opts *opts)
{
    if (rc == MFKV_PARSE && opts->skip_invalid) {
        ld->out->skipped++;
        return MFKV_OK;
    }
    return rc;
}

/* Read a block of whole lines: its chunks in parallel into rows, then the
 * rows in file order here, which gives ids their indices in order of first
 * appearance and makes the first bad line the error, as a serial read
 * would. */
static int load_block(loader *ld, chunk *c, size_t threads, const char *s, size_t len,
                      const mfkv_ratings_opts *opts, mfkv_diag *d)
{
    size_t n = len / MIN_CHUNK < threads ? len / MIN_CHUNK : threads;
    if (n == 0) n = 1;
    const char *end = s + len, *p = s;
    for (size_t k = 0; k < n; k++) {
        /* Chunk k ends after the first line end at or past its share (and
         * past where chunk k - 1 ended). */
        const char *to = end;
        if (k + 1 < n) {
            const char *share = s + len / n * (k + 1), *from = share > p ? share : p;
            const char *nl = memchr(from, '\n', (size_t)(end - from));
            to = nl ? nl + 1 : end;
        }
        c[k].ld = ld;
        c[k].s = p;
        c[k].len = (size_t)(to - p);
        p = to;
    }
    int started[MAX_THREADS] = {0};
    for (size_t k = 1; k < n; k++)
        if (!(started[k] = pthread_create(&c[k].thread, NULL, read_chunk, &c[k]) == 0))
            read_chunk(&c[k]); /* no thread to be had: read it here */
    read_chunk(&c[0]);
    for (size_t k = 1; k < n; k++)
        if (started[k]) pthread_join(c[k].thread, NULL);
    int rc = MFKV_OK;
    mfkv_table *t = &ld->table;
    mfkv_diag ignored; /* under skip_invalid the reason a line is left out is not wanted */
    for (size_t k = 0; !rc && k < n; k++) {
        if (c[k].status) return mfkv_fail(d, c[k].status, "%s: out of memory", t->path);
        for (size_t j = 0; !rc && j < c[k].n; j++) {
            const row *r = &c[k].rows[j];
            size_t line = t->lines.line + r->line + 1;
            if (r->left) {
                t->line = r->left;
                t->len = r->len;
                size_t block_line = t->lines.line;
                t->lines.line = line;
                rc = settle(load_line(ld, opts->skip_invalid ? &ignored : d), ld, opts);
                t->lines.line = block_line;
            } else {
                rc = take_row(ld, line, r, d);
            }
        }
        t->lines.line += c[k].lines;
    }
    return rc;
}

static int load(loader *ld, const char *path, const mfkv_ratings_opts *opts, mfkv_diag *d)
{
    int rc = mfkv_table_open(&ld->table, path, dat_names, N_COLS, "ratings", d);
    if (!rc) rc = find_columns(ld, opts, d);
    if (rc) return rc;
    mfkv_table *t = &ld->table;
    /* A `.dat` file's first row is the line mfkv_table_open read. */
    if (t->dat) {
        mfkv_diag ignored;
        row r;
        rc = read_plain(ld, t->line, t->len, &r)
                 ? take_row(ld, t->lines.line, &r, d)
                 : settle(load_line(ld, opts->skip_invalid ? &ignored : d), ld, opts);
    }
    size_t threads = opts->threads;
    if (threads == 0) {
        long online = sysconf(_SC_NPROCESSORS_ONLN);
        threads = online > 0 ? (size_t)online : 1;
    }
    if (threads > MAX_THREADS) threads = MAX_THREADS;
    chunk c[MAX_THREADS] = {0};
    while (!rc) {
        const char *s;
        size_t len;
        rc = mfkv_lines_block(&t->lines, BLOCK_PER_THREAD * threads, &s, &len, d);
        if (!rc) rc = load_block(ld, c, threads, s, len, opts, d);
    }
    for (size_t k = 0; k < MAX_THREADS; k++) free(c[k].rows);
    /* A repeated pair before the line that stopped the load is the first error. */
    int repeats = check_repeats(ld, opts, d);
    if (repeats) return repeats;
    if (rc != MFKV_NOTFOUND) return rc;
    if (ld->out->n == 0)
        return mfkv_fail(d, MFKV_PARSE, "%s: no ratings%s", path,
                         ld->out->skipped ? " (every line was invalid)" : " after the header");
    return MFKV_OK;
}

int mfkv_ratings_load(const char *path, const mfkv_ratings_opts *opts, mfkv_ratings *out,
                      mfkv_diag *d)
{
    static const mfkv_ratings_opts defaults = {0};
    if (!opts) opts = &defaults;
    memset(out, 0, sizeof *out);
    loader ld = {.out = out};
    int rc = load(&ld, path, opts, d);
    mfkv_table_close(&ld.table);
    free(ld.line);
    free(ld.users.at);
    free(ld.items.at);
    if (rc) mfkv_ratings_free(out);
    return rc;
}

void mfkv_ratings_free(mfkv_ratings *r)
{
    if (!r) return;
    free(r->user);
    free(r->item);
    free(r->rating);
    free(r->timestamp);
    mfkv_idtab_free(&r->users);
    mfkv_idtab_free(&r->items);
    memset(r, 0, sizeof *r);
}
