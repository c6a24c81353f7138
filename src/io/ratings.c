#include "ratings.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include "chunks.h"
#include "decimal.h"
#include "digits.h"
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

/* The ratings read so far, as mfkv_ratings holds them.  Rows a chunk reads
 * hold the numbers of their ids until resolve gives them their indices. */
typedef struct columns {
    uint32_t *user, *item;
    float *rating;
    int64_t *timestamp;
    size_t n, cap;
} columns;

/* Row @p row (counted over every data line read, dropped ones too) and the
 * line it is on. */
typedef struct place {
    size_t row, line;
} place;

/* Where rows are: row r is on line at[k].line + r - at[k].row for the last
 * k with at[k].row <= r.  An entry only where blank lines break the run, so
 * a file without any has one; found again for the rare message that names
 * a row's line (a repeated pair), where an array of every row's line was a
 * tenth of a load. */
typedef struct line_map {
    place *at;
    size_t n, cap;
} line_map;

typedef struct loader {
    mfkv_table table;
    numbered users, items;
    mfkv_ratings *out;
    columns all;     /* becomes out's arrays */
    line_map map;
    size_t rows;     /* data rows before the current block, dropped ones too */
    int col[N_COLS]; /* field index of each column; timestamp -1 if absent */
    unsigned char stop[256]; /* bytes that end a run of field bytes in read_plain */
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

/* Grow an array of @p size-byte elements to hold more than @p n. */
static int grow(void *array, size_t *cap, size_t n, size_t size)
{
    if (n < *cap) return MFKV_OK;
    size_t want = *cap ? *cap * 2 : 64;
    while (want <= n) want *= 2;
    void *p = realloc(*(void **)array, want * size);
    if (!p) return MFKV_NOMEM;
    *(void **)array = p;
    *cap = want;
    return MFKV_OK;
}

/* Memory for rows: @p p (from malloc, or NULL) with its first @p used
 * bytes, grown to @p bytes, as realloc would.  A rating log fills tens of
 * MiB of columns, and the kernel's first touch of each 4 KiB page was a
 * fifth of a load: from 2 MiB on, memory comes in whole 2 MiB pages, which
 * the kernel is asked to back with transparent huge pages (advice only:
 * where it takes none, nothing changes).  Copied rather than realloc'd,
 * which could not move the advised mapping whole; the estimate load starts
 * from makes that rare. */
static void *resize(void *p, size_t used, size_t bytes)
{
    enum { HUGE_PAGE = 2 << 20 };
    if (bytes < HUGE_PAGE) return realloc(p, bytes);
    size_t whole = (bytes + HUGE_PAGE - 1) & ~(size_t)(HUGE_PAGE - 1);
    void *q = aligned_alloc(HUGE_PAGE, whole);
    if (!q) return NULL;
#ifdef MADV_HUGEPAGE
    madvise(q, whole, MADV_HUGEPAGE);
#endif
    if (used) memcpy(q, p, used);
    free(p);
    return q;
}

/* Room for more than @p n rows. */
static int columns_reserve(columns *c, size_t n)
{
    if (n < c->cap) return MFKV_OK;
    size_t cap = c->cap ? c->cap * 2 : 4096;
    while (cap <= n) cap *= 2;
    uint32_t *u = resize(c->user, c->n * sizeof *u, cap * sizeof *u);
    if (u) c->user = u;
    uint32_t *i = resize(c->item, c->n * sizeof *i, cap * sizeof *i);
    if (i) c->item = i;
    float *v = resize(c->rating, c->n * sizeof *v, cap * sizeof *v);
    if (v) c->rating = v;
    int64_t *t = resize(c->timestamp, c->n * sizeof *t, cap * sizeof *t);
    if (t) c->timestamp = t;
    if (!u || !i || !v || !t) return MFKV_NOMEM;
    c->cap = cap;
    return MFKV_OK;
}

static void columns_free(columns *c)
{
    free(c->user), free(c->item), free(c->rating), free(c->timestamp);
    memset(c, 0, sizeof *c);
}

/* Row @p j of @p from as row @p k of @p to. */
static void move_row(columns *to, size_t k, const columns *from, size_t j)
{
    to->user[k] = from->user[j], to->item[k] = from->item[j];
    to->rating[k] = from->rating[j], to->timestamp[k] = from->timestamp[j];
}

/* Record that row @p row is on line @p line, unless the map says so already. */
static int map_row(line_map *m, size_t row, size_t line)
{
    if (m->n && m->at[m->n - 1].line + (row - m->at[m->n - 1].row) == line) return MFKV_OK;
    if (grow(&m->at, &m->cap, m->n, sizeof *m->at)) return MFKV_NOMEM;
    m->at[m->n++] = (place){row, line};
    return MFKV_OK;
}

static size_t line_of(const line_map *m, size_t row)
{
    size_t lo = 0, hi = m->n; /* the entry is in [lo, hi) */
    while (hi - lo > 1) {
        size_t mid = lo + (hi - lo) / 2;
        if (m->at[mid].row <= row) lo = mid;
        else hi = mid;
    }
    return m->at[lo].line + (row - m->at[lo].row);
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

/* The usual line, read in one pass without the split and field layers that
 * word errors (they were half the time of a load): no quote, exactly the
 * file's number of fields, numbered ids, a rating mfkv_decimal reads and a
 * timestamp of up to 18 plain digits.  The line starts at @p s and ends at
 * a "\n" (there is one), and is in an mfkv_lines buffer: its digits are
 * read eight bytes at a time.  Returns where the next line starts, with
 * the row in @p to at to->n (which has room) and the ids as their numbers;
 * NULL to leave the line to load_line, which gives the same values for
 * what is read here and words whatever is wrong.  Reads only *ld, so
 * chunks run it in parallel. */
static const char *read_plain(const loader *ld, const char *s, columns *to)
{
    static const uint64_t pow10[9] = {1, 10, 100, 1000, 10000, 100000, 1000000, 10000000, 100000000};
    const mfkv_table *t = &ld->table;
    size_t n = t->n_cols;
    if (n > FAST_COLS) return NULL;
    const unsigned char *stop = ld->stop;
    char sep = t->fields.sep[0];
    int pair = t->fields.sep[1] == ':'; /* "::" */
    /* Each field's leading digits are read on the way: ids and timestamps
     * are nothing else.  Past 19 digits their value wraps, and they are
     * then too long for either. */
    const char *f[FAST_COLS];
    size_t flen[FAST_COLS], digits[FAST_COLS];
    uint64_t v[FAST_COLS];
    const char *p = s;
    for (size_t k = 0;; k++) {
        const char *start = p;
        uint64_t x, more;
        unsigned got = mfkv_digits8(p, &x);
        for (p += got; got == 8; p += got) {
            got = mfkv_digits8(p, &more);
            x = x * pow10[got] + more;
        }
        digits[k] = (size_t)(p - start);
        v[k] = x;
        while (!stop[(unsigned char)*p]) p++;
        f[k] = start;
        flen[k] = (size_t)(p - start);
        if (*p == sep && (!pair || p[1] == ':')) {
            if (k + 1 == n) return NULL;
            p += 1 + pair;
            continue;
        }
        /* A line end ("\n" or "\r\n") after the last field; anything else
         * (a quote, a ':' that is not half of a "::", a "\r" inside the
         * line) is left. */
        if (k + 1 != n || (*p == '\r' && *++p != '\n') || *p != '\n') return NULL;
        p++;
        break;
    }
    int cu = ld->col[COL_USER], ci = ld->col[COL_ITEM], cr = ld->col[COL_RATING],
        ct = ld->col[COL_TIMESTAMP];
    uint32_t user = numbered_id(f[cu], flen[cu], digits[cu], v[cu]),
             item = numbered_id(f[ci], flen[ci], digits[ci], v[ci]);
    /* A whole number of up to 15 digits is what mfkv_plain_decimal makes
     * of it: exact, divided by 10^0. */
    double rating = (double)v[cr];
    if (user == NOT_NUMBERED || item == NOT_NUMBERED || !flen[cr] ||
        !((digits[cr] == flen[cr] && flen[cr] <= 15) || mfkv_plain_decimal(f[cr], flen[cr], &rating) ||
          mfkv_decimal(f[cr], flen[cr], &rating)) ||
        !isfinite((float)rating))
        return NULL;
    /* What mfkv_parse_int64 reads from up to 18 digits, which cannot overflow. */
    int64_t timestamp = 0;
    if (ct >= 0 && flen[ct]) {
        if (digits[ct] != flen[ct] || flen[ct] > 18) return NULL;
        timestamp = (int64_t)v[ct];
    }
    size_t j = to->n++;
    to->user[j] = user, to->item[j] = item;
    to->rating[j] = (float)rating, to->timestamp[j] = timestamp;
    return p;
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

/* Read the current line (t->line, line t->lines.line) into row @p j of
 * @p to.  Only MFKV_PARSE is a fault of the line; anything else stops the
 * load. */
static int load_line(loader *ld, columns *to, size_t j, mfkv_diag *d)
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
    to->user[j] = user, to->item[j] = item;
    to->rating[j] = rating, to->timestamp[j] = timestamp;
    return MFKV_OK;
}

/* is_repeat[j] = 1 for every rating whose (user, item) pair an earlier
 * rating has; *n_repeats says how many.  When a bit per possible pair
 * takes fewer bytes than the ratings (MovieLens 1M: 2.8 MB for 6,040 x
 * 3,706, against 20 MB), a bitmap of the pairs seen, one pass in file
 * order.  Otherwise the ratings are grouped by user with a counting sort,
 * stable, so each user's come in file order, and each user's items are
 * marked in seen[item] = user + 1: one pass of scattered writes, where a
 * radix sort of the pairs took three passes over twice the bytes (and a
 * hash set of the pairs while reading missed the cache on nearly every
 * insert). */
static int find_repeats(const columns *r, uint32_t n_users, uint32_t n_items, uint8_t *is_repeat,
                        size_t *n_repeats)
{
    *n_repeats = 0;
    uint64_t pairs = (uint64_t)n_users * n_items;
    if (pairs / 8 <= r->n * (sizeof *r->user + sizeof *r->item + sizeof *r->rating)) {
        uint64_t *seen = resize(NULL, 0, pairs / 64 * sizeof *seen + sizeof *seen);
        if (!seen) return MFKV_NOMEM;
        memset(seen, 0, pairs / 64 * sizeof *seen + sizeof *seen);
        for (size_t j = 0; j < r->n; j++) {
            uint64_t pair = (uint64_t)r->user[j] * n_items + r->item[j], bit = (uint64_t)1 << (pair % 64);
            if (seen[pair / 64] & bit) {
                is_repeat[j] = 1;
                ++*n_repeats;
            }
            seen[pair / 64] |= bit;
        }
        free(seen);
        return MFKV_OK;
    }
    size_t *end = calloc((size_t)n_users + 1, sizeof *end), *rating = malloc(r->n * sizeof *rating + 1);
    uint32_t *item = malloc(r->n * sizeof *item + 1), *seen = calloc((size_t)n_items + 1, sizeof *seen);
    if (!end || !rating || !item || !seen) {
        free(end), free(rating), free(item), free(seen);
        return MFKV_NOMEM;
    }
    /* end[u] starts as where user u's ratings begin and ends where they end. */
    for (size_t j = 0; j < r->n; j++) end[r->user[j] + 1]++;
    for (uint32_t u = 0; u < n_users; u++) end[u + 1] += end[u];
    for (size_t j = 0; j < r->n; j++) {
        size_t k = end[r->user[j]]++;
        rating[k] = j;
        item[k] = r->item[j];
    }
    size_t k = 0;
    for (uint32_t u = 0; u < n_users; u++)
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
    columns *r = &ld->all;
    mfkv_ratings *out = ld->out;
    uint8_t *is_repeat = calloc(r->n + 1, 1);
    size_t n_repeats;
    int rc = is_repeat ? find_repeats(r, out->users.n, out->items.n, is_repeat, &n_repeats)
                       : MFKV_NOMEM;
    if (rc) {
        free(is_repeat);
        return mfkv_fail(d, rc, "%s: out of memory", ld->table.path);
    }
    size_t kept = 0;
    for (size_t j = 0; n_repeats && j < r->n; j++) {
        if (!is_repeat[j]) {
            move_row(r, kept++, r, j);
        } else if (!opts->skip_invalid) {
            /* Nothing was dropped before the first fault: row j is data row j. */
            char qu[MFKV_QUOTE_LEN], qi[MFKV_QUOTE_LEN];
            size_t lu, li;
            const char *u = mfkv_idtab_str(&out->users, r->user[j], &lu),
                       *i = mfkv_idtab_str(&out->items, r->item[j], &li);
            mfkv_where at = {ld->table.path, line_of(&ld->map, j), ld->table.names[ld->col[COL_ITEM]]};
            free(is_repeat);
            return mfkv_fail_at(d, &at, "user \"%s\" rated item \"%s\" on an earlier line too",
                                mfkv_quote(qu, u, lu), mfkv_quote(qi, i, li));
        }
    }
    if (n_repeats) r->n = kept;
    out->skipped += n_repeats;
    free(is_repeat);
    return MFKV_OK;
}

/* A line of a chunk that breaks the run of rows on consecutive lines:
 * the first row after blank lines, or a line read_plain left (s set), which
 * holds a row slot that load_line fills or that is dropped. */
typedef struct mark {
    place at;      /* row and line, counted from the chunk's first (0) */
    const char *s; /* the left line, without its line end */
    size_t len;
} mark;

/* The lines of one chunk of a block, read by one thread into rows of `to`:
 * the loader's columns for the first chunk, the chunk's own for the others. */
typedef struct chunk {
    const loader *ld;
    const char *s;
    size_t len;
    columns *to, own;
    size_t first;  /* to->n when the chunk began */
    mark *marks;
    size_t n_marks, marks_cap;
    size_t lines;  /* lines in the chunk, blank ones too */
    int status;    /* MFKV_NOMEM when rows could not grow */
} chunk;

static int add_mark(chunk *c, size_t row, size_t line, const char *s, size_t len)
{
    if (grow(&c->marks, &c->marks_cap, c->n_marks, sizeof *c->marks)) return MFKV_NOMEM;
    c->marks[c->n_marks++] = (mark){{row, line}, s, len};
    return MFKV_OK;
}

/* Split a chunk into lines as mfkv_lines_next and mfkv_table_next do (a
 * line ends at "\n", a "\r" before it is dropped, blank lines are skipped
 * but counted) and read each with read_plain. */
static void *read_chunk(void *arg)
{
    chunk *c = arg;
    columns *to = c->to;
    c->first = to->n;
    c->n_marks = c->lines = 0;
    c->status = MFKV_OK;
    const char *p = c->s, *end = c->s + c->len;
    /* read_plain runs to a "\n": the last line may have none. */
    const char *last_nl = c->len ? memrchr(c->s, '\n', c->len) : NULL;
    int blank = 0; /* blank lines came since the last row */
    while (p < end) {
        size_t at = c->lines++, row = to->n - c->first;
        if (columns_reserve(to, to->n)) goto no_memory;
        const char *next = p <= last_nl ? read_plain(c->ld, p, to) : NULL;
        if (next) {
            p = next;
            if (blank && add_mark(c, row, at, NULL, 0)) goto no_memory;
            blank = 0;
            continue;
        }
        const char *line = p, *nl = memchr(p, '\n', (size_t)(end - p));
        size_t len = (size_t)((nl ? nl : end) - line);
        p = nl ? nl + 1 : end;
        if (len && line[len - 1] == '\r') len--;
        if (len == 0) {
            blank = 1;
            continue;
        }
        if (add_mark(c, row, at, line, len)) goto no_memory;
        blank = 0;
        /* The slot load_line fills, zeroed meanwhile. */
        size_t j = to->n++;
        to->user[j] = to->item[j] = 0, to->rating[j] = 0, to->timestamp[j] = 0;
    }
    return NULL;
no_memory:
    c->status = MFKV_NOMEM;
    return NULL;
}

/* Give rows [from, to) of ld->all, which hold id numbers, their indices in
 * file order, moving them to *kept on; @p row is the data row of @p from. */
static int resolve(loader *ld, size_t from, size_t to, size_t *kept, size_t row, mfkv_diag *d)
{
    columns *c = &ld->all;
    const mfkv_table *t = &ld->table;
    for (size_t j = from; j < to; j++) {
        uint32_t vu = c->user[j], vi = c->item[j], user, item;
        if (vu < ld->users.n && vi < ld->items.n && ld->users.at[vu] && ld->items.at[vi]) {
            user = ld->users.at[vu] - 1;
            item = ld->items.at[vi] - 1;
        } else {
            mfkv_where at = {t->path, line_of(&ld->map, row + (j - from)), t->names[ld->col[COL_USER]]};
            int rc = numbered_index(&at, &ld->users, &ld->out->users, vu, &user, d);
            at.field = t->names[ld->col[COL_ITEM]];
            if (!rc) rc = numbered_index(&at, &ld->items, &ld->out->items, vi, &item, d);
            if (rc) return rc;
        }
        size_t k = (*kept)++;
        c->user[k] = user, c->item[k] = item;
        if (k != j) c->rating[k] = c->rating[j], c->timestamp[k] = c->timestamp[j];
    }
    return MFKV_OK;
}

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

/* The @p n rows of chunk @p c, now rows [first, first + n) of ld->all and
 * data rows from @p row on, the chunk's lines numbered from @p line: their
 * ids get indices and the left lines are read, in file order, as a serial
 * read would. */
static int settle_chunk(loader *ld, const chunk *c, size_t first, size_t n, size_t *kept,
                        size_t row, size_t line, const mfkv_ratings_opts *opts, mfkv_diag *d)
{
    mfkv_table *t = &ld->table;
    int rc = MFKV_OK;
    /* The first row is on the chunk's first line unless a mark says otherwise. */
    if (n) rc = map_row(&ld->map, row, line);
    for (size_t m = 0; !rc && m < c->n_marks; m++)
        rc = map_row(&ld->map, row + c->marks[m].at.row, line + c->marks[m].at.line);
    if (rc) return mfkv_fail(d, rc, "%s: out of memory", t->path);
    mfkv_diag ignored; /* under skip_invalid the reason a line is left out is not wanted */
    size_t j = first;
    for (size_t m = 0; !rc && m <= c->n_marks; m++) {
        const mark *k = m < c->n_marks ? &c->marks[m] : NULL;
        size_t upto = first + (k ? k->at.row : n);
        if ((rc = resolve(ld, j, upto, kept, row + (j - first), d)) || !k || !k->s) {
            j = upto;
            continue;
        }
        t->line = k->s;
        t->len = k->len;
        size_t block_line = t->lines.line;
        t->lines.line = line + k->at.line;
        rc = load_line(ld, &ld->all, *kept, opts->skip_invalid ? &ignored : d);
        t->lines.line = block_line;
        if (!rc) ++*kept;
        rc = settle(rc, ld, opts);
        j = upto + 1;
    }
    return rc;
}

/* Read a block of whole lines, those after line *line: its chunks in
 * parallel into rows, then the rows in file order here, which gives ids
 * their indices in order of first appearance and makes the first bad line
 * the error, as a serial read would.  *line becomes the block's last. */
static int load_block(loader *ld, chunk *c, size_t threads, const char *s, size_t len,
                      size_t *line, const mfkv_ratings_opts *opts, mfkv_diag *d)
{
    const char *start[MFKV_CHUNK_THREADS];
    size_t size[MFKV_CHUNK_THREADS], n = mfkv_chunk_split(s, len, threads, start, size);
    for (size_t k = 0; k < n; k++) {
        c[k].ld = ld;
        c[k].s = start[k];
        c[k].len = size[k];
        c[k].to = k ? &c[k].own : &ld->all;
        c[k].own.n = 0;
    }
    mfkv_chunk_run(read_chunk, c, sizeof *c, n);
    columns *all = &ld->all;
    size_t kept = c[0].first;
    int rc = MFKV_OK;
    for (size_t k = 0; !rc && k < n; k++) {
        /* Chunk 0 read into ld->all; the others go after it, past the
         * rows settle_chunk may have moved down. */
        size_t at = k ? all->n : c[0].first, rows = k ? c[k].own.n : all->n - at;
        if ((rc = c[k].status) || (k && (rc = columns_reserve(all, all->n + rows)))) {
            rc = mfkv_fail(d, rc, "%s: out of memory", ld->table.path);
            break;
        }
        if (k) {
            memcpy(all->user + at, c[k].own.user, rows * sizeof *all->user);
            memcpy(all->item + at, c[k].own.item, rows * sizeof *all->item);
            memcpy(all->rating + at, c[k].own.rating, rows * sizeof *all->rating);
            memcpy(all->timestamp + at, c[k].own.timestamp, rows * sizeof *all->timestamp);
            all->n += rows;
        }
        rc = settle_chunk(ld, &c[k], at, rows, &kept, ld->rows, *line + 1, opts, d);
        ld->rows += rows;
        *line += c[k].lines;
    }
    /* Rows past kept are dropped, or not settled after a fault. */
    all->n = kept;
    return rc;
}

/* Fewer bytes than a rating line has (see load). */
enum { SHORT_LINE = 16 };

static int load(loader *ld, const char *path, const mfkv_ratings_opts *opts, mfkv_diag *d)
{
    int rc = mfkv_table_open(&ld->table, path, dat_names, N_COLS, "ratings", d);
    if (!rc) rc = find_columns(ld, opts, d);
    if (rc) return rc;
    mfkv_table *t = &ld->table;
    ld->stop[(unsigned char)t->fields.sep[0]] = ld->stop['\n'] = ld->stop['\r'] = 1;
    ld->stop['"'] = (unsigned char)t->fields.quoted;
    size_t threads = mfkv_chunk_threads(opts->threads);
    /* Columns for the whole file at once, so they are not copied as they
     * grow: room for a row per SHORT_LINE bytes, which MovieLens' 20-25
     * byte lines do not fill (untouched room costs no memory).  Only a
     * guess: when it cannot be had, rows grow as they come. */
    if (t->lines.regular) (void)columns_reserve(&ld->all, t->lines.size / SHORT_LINE);
    chunk c[MFKV_CHUNK_THREADS] = {0};
    /* A `.dat` file's first row is the line mfkv_table_open read. */
    if (t->dat) {
        size_t before = t->lines.line - 1;
        rc = load_block(ld, c, 1, t->line, t->len, &before, opts, d);
    }
    while (!rc) {
        const char *s;
        size_t len;
        rc = mfkv_lines_block(&t->lines, MFKV_CHUNK_BLOCK * threads, &s, &len, d);
        if (!rc) rc = load_block(ld, c, threads, s, len, &t->lines.line, opts, d);
    }
    for (size_t k = 0; k < MFKV_CHUNK_THREADS; k++) {
        columns_free(&c[k].own);
        free(c[k].marks);
    }
    /* A repeated pair before the line that stopped the load is the first error. */
    int repeats = check_repeats(ld, opts, d);
    if (repeats) return repeats;
    if (rc != MFKV_NOTFOUND) return rc;
    if (ld->all.n == 0)
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
    free(ld.map.at);
    free(ld.users.at);
    free(ld.items.at);
    out->user = ld.all.user, out->item = ld.all.item;
    out->rating = ld.all.rating, out->timestamp = ld.all.timestamp;
    out->n = ld.all.n;
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
