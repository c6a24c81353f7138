/*
 * BigQuery ML weights in the unnested long CSV form, one file per side:
 *
 *   user_id,bias,factor,weight
 *   1,0.04259326,4,-0.262035
 *
 * one row per (id, factor).  libcsv does the tokenizing (quotes, embedded
 * commas); it is fed one line at a time so rows keep their line numbers, and
 * its callbacks collect the fields of a row, which is then checked whole.
 * A line without a quote that starts a row, nearly every line, is split at
 * its commas directly into the same callbacks: libcsv's byte-at-a-time
 * state machine was the largest cost of a load.  Plainer still, and the
 * most of a file: a row of four plain fields with valid numbers is read in
 * parallel chunks of lines (chunks.h) and only added in file order.
 */
#include <csv.h>
#ifdef __SSE2__
#include <emmintrin.h>
#endif
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "chunks.h"
#include "decimal.h"
#include "factor_rows.h"
#include "factors.h"
#include "lines.h"
#include "mfkv.h"

enum { COL_ID, COL_BIAS, COL_FACTOR, COL_WEIGHT, N_COLS };
/* Fields kept per row: enough to name a stray header column. */
#define N_KEPT 16
static const char *const col_names[N_COLS] = {"id", "bias", "factor", "weight"};

typedef struct csv_load {
    struct csv_parser *parser;
    mfkv_factor_rows *rows;
    const char *path;
    mfkv_diag *d;
    int rc;              /* first error; later callbacks do nothing */
    size_t line;         /* line the current row started on */
    size_t n_records;    /* the header is record 1 */
    char *buf;           /* the current row's first N_KEPT fields, each NUL-terminated */
    size_t buf_len, buf_cap;
    size_t off[N_KEPT], len[N_KEPT];
    const char *at[N_KEPT]; /* a plainly split row's fields, in the line itself */
    int direct;             /* the row's fields are at[], not in buf */
    size_t n_fields;
    int role[N_KEPT];    /* role[c]: which COL_* column c of the file holds */
    uint32_t last;       /* the previous row's id index, its id in r->ids: an id's */
    int have_last;       /* rows come together, so most rows need no lookup */
    char id_name[MFKV_QUOTE_LEN];
} csv_load;

static void on_field(void *s, size_t len, void *data)
{
    csv_load *c = data;
    if (c->rc) return;
    size_t i = c->n_fields++;
    if (i >= N_KEPT) return;
    if (c->buf_len + len + 1 > c->buf_cap) {
        size_t cap = c->buf_cap ? c->buf_cap : 256;
        while (cap < c->buf_len + len + 1) cap *= 2;
        char *b = realloc(c->buf, cap);
        if (!b) {
            c->rc = mfkv_fail(c->d, MFKV_NOMEM, "%s:%zu: out of memory", c->path, c->line);
            return;
        }
        c->buf = b;
        c->buf_cap = cap;
    }
    if (len) memcpy(c->buf + c->buf_len, s, len);
    c->buf[c->buf_len + len] = '\0';
    c->off[i] = c->buf_len;
    c->len[i] = len;
    c->buf_len += len + 1;
}

static int ends_with_id(const char *s, size_t len)
{
    return len >= 2 && strncasecmp(s + len - 2, "id", 2) == 0;
}

static int read_header(csv_load *c)
{
    char q[MFKV_QUOTE_LEN];
    const char *other = strcmp(c->rows->side, "user") == 0 ? "item" : "user";
    int have[N_COLS] = {0};
    for (size_t j = 0; j < c->n_fields && j < N_KEPT; j++) {
        const char *name = c->buf + c->off[j];
        size_t len = c->len[j];
        mfkv_where w = {c->path, c->line, mfkv_quote(q, name, len)};
        int role = -1;
        if (j == 0) {
            if (!ends_with_id(name, len))
                return mfkv_fail_at(c->d, &w, "the first column must be the %s id (a name ending in \"id\")",
                                    c->rows->side);
            if (strcasestr(name, other))
                return mfkv_fail_at(c->d, &w, "this looks like the %ss file, expected %ss", other,
                                    c->rows->side);
            role = COL_ID;
            memcpy(c->id_name, q, sizeof q);
        } else {
            for (int r = COL_BIAS; r < N_COLS; r++)
                if (strlen(col_names[r]) == len && strncasecmp(name, col_names[r], len) == 0) role = r;
            if (role < 0)
                return mfkv_fail_at(c->d, &w, "unknown column (expected %s_id,bias,factor,weight)",
                                    c->rows->side);
            if (have[role]) return mfkv_fail_at(c->d, &w, "column given twice");
        }
        have[role] = 1;
        c->role[j] = role;
    }
    for (int r = COL_BIAS; r < N_COLS; r++)
        if (!have[r]) {
            mfkv_where w = {c->path, c->line, col_names[r]};
            return mfkv_fail_at(c->d, &w, "missing column");
        }
    return MFKV_OK;
}

/* Add the row at c->line whose values are read: what it gives its id. */
static int add_row(csv_load *c, const char *id, size_t id_len, float bias, uint32_t factor,
                   float weight)
{
    mfkv_where w = {c->path, c->line, c->id_name};
    mfkv_factor_rows *r = c->rows;
    uint32_t index;
    int added, rc;
    size_t last_len = 0;
    const char *last_id = c->have_last ? mfkv_idtab_str(&r->ids, c->last, &last_len) : NULL;
    if (last_id && last_len == id_len && memcmp(last_id, id, last_len) == 0) {
        index = c->last; /* what mfkv_factor_rows_id would find */
        added = 0;
    } else if ((rc = mfkv_factor_rows_id(r, &w, id, id_len, bias, &index, &added, c->d))) {
        return rc;
    }
    c->last = index;
    c->have_last = 1;
    if (!added && r->bias[index] != bias) {
        char q[MFKV_QUOTE_LEN];
        w.field = "bias";
        return mfkv_fail_at(c->d, &w, "%.9g differs from %.9g on line %zu for %s \"%s\"",
                            (double)bias, (double)r->bias[index], r->line[index], r->side,
                            mfkv_quote(q, id, id_len));
    }
    w.field = "factor";
    return mfkv_factor_rows_put(r, &w, index, factor, weight, c->d);
}

static int read_row(csv_load *c)
{
    if (c->n_fields != N_COLS)
        return mfkv_fail(c->d, MFKV_PARSE, "%s:%zu: %zu fields, the header has %d", c->path, c->line,
                         c->n_fields, N_COLS);
    const char *v[N_COLS];
    size_t n[N_COLS];
    for (int j = 0; j < N_COLS; j++) {
        v[c->role[j]] = c->direct ? c->at[j] : c->buf + c->off[j];
        n[c->role[j]] = c->len[j];
    }
    mfkv_where w = {c->path, c->line, "bias"};
    float bias, weight;
    uint32_t factor;
    int rc;
    if ((rc = mfkv_parse_float(&w, v[COL_BIAS], n[COL_BIAS], &bias, c->d))) return rc;
    w.field = "factor";
    if ((rc = mfkv_parse_uint(&w, v[COL_FACTOR], n[COL_FACTOR], 1, MFKV_MAX_FACTORS, &factor, c->d)))
        return rc;
    w.field = "weight";
    if ((rc = mfkv_parse_float(&w, v[COL_WEIGHT], n[COL_WEIGHT], &weight, c->d))) return rc;
    return add_row(c, v[COL_ID], n[COL_ID], bias, factor, weight);
}

static void on_record(int term, void *data)
{
    csv_load *c = data;
    if (c->rc) return;
    c->n_records++;
    c->rc = c->n_records == 1 ? read_header(c) : read_row(c);
    c->n_fields = 0;
    c->direct = 0;
    c->buf_len = 0;
    c->line = 0;
}

static int csv_failed(csv_load *c, size_t line)
{
    if (c->rc) return c->rc;
    return mfkv_fail(c->d, MFKV_PARSE, "%s:%zu: bad CSV quoting: %s", c->path, line,
                     csv_strerror(csv_error(c->parser)));
}

/* libcsv's default: spaces and tabs around an unquoted field are not part of it. */
static int is_blank(char ch) { return ch == ' ' || ch == '\t'; }

/* Split a line as libcsv would, when that is simple: the line has no quote
 * or carriage return (libcsv ends a row at one) and is not blank (libcsv
 * makes no row of one).  Returns 0, having done nothing, when it is not.
 * One pass over the bytes: rows are ~20 bytes, too short for memchr. */
static int split_plain(csv_load *c, const char *s, size_t len)
{
    enum { MAX_COMMAS = N_KEPT + 1 }; /* more fields are an error: leave them to libcsv */
    size_t comma[MAX_COMMAS], n = 0, i = 0;
#ifdef __SSE2__
    /* Sixteen bytes per step; the scalar loop below takes the tail. */
    const __m128i comma_x16 = _mm_set1_epi8(','), quote_x16 = _mm_set1_epi8('"'),
                  cr_x16 = _mm_set1_epi8('\r');
    for (; len - i >= 16; i += 16) {
        __m128i x = _mm_loadu_si128((const __m128i *)(const void *)(s + i));
        if (_mm_movemask_epi8(_mm_or_si128(_mm_cmpeq_epi8(x, quote_x16), _mm_cmpeq_epi8(x, cr_x16))))
            return 0;
        for (unsigned m = (unsigned)_mm_movemask_epi8(_mm_cmpeq_epi8(x, comma_x16)); m; m &= m - 1) {
            if (n == MAX_COMMAS) return 0;
            comma[n++] = i + (size_t)__builtin_ctz(m);
        }
    }
#endif
    for (; i < len; i++) {
        unsigned char ch = (unsigned char)s[i];
        if (ch > '"' && ch != ',') continue; /* digits, signs, points: one test */
        if (ch == ',') {
            if (n == MAX_COMMAS) return 0;
            comma[n++] = i;
        } else if (ch == '"' || ch == '\r') {
            return 0;
        }
    }
    if (n == 0) {
        size_t at = 0;
        while (at < len && is_blank(s[at])) at++;
        if (at == len) return 0;
    }
    /* A row's fields are read where they are, without copying; the header's
     * are copied, as its checks want NUL-terminated names. */
    c->direct = c->n_records > 0;
    size_t from = 0;
    for (size_t f = 0; f <= n; f++) {
        size_t a = from, b = f < n ? comma[f] : len;
        while (a < b && is_blank(s[a])) a++;
        while (b > a && is_blank(s[b - 1])) b--;
        if (!c->direct) {
            on_field((void *)(s + a), b - a, c);
        } else if (c->n_fields++ < N_KEPT) {
            c->at[f] = s + a;
            c->len[f] = b - a;
        }
        from = f < n ? comma[f] + 1 : len;
    }
    on_record('\n', c);
    return 1;
}

/* libcsv is fed one line at a time; c->line is the line a row starts on,
 * so a quoted field that spans lines is reported where its row begins. */
static int on_line(csv_load *c, size_t line, const char *s, size_t len)
{
    if (!c->line && len) {
        c->line = line;
        if (split_plain(c, s, len)) return c->rc;
    }
    if (csv_parse(c->parser, s, len, on_field, on_record, c) != len || c->rc ||
        csv_parse(c->parser, "\n", 1, on_field, on_record, c) != 1 || c->rc)
        return csv_failed(c, line);
    return MFKV_OK;
}

/* A line as the parallel pass leaves it: its values read (plain), or left
 * to on_line. */
typedef struct csv_row {
    const char *s;   /* the line, without its line end */
    uint32_t len;    /* (lines are at most MFKV_MAX_LINE_LEN) */
    uint32_t id_len; /* the id is s[0..id_len) */
    float bias, weight;
    uint32_t factor;
    int plain;
} csv_row;

/* A number as mfkv_parse_float reads it, without the words for a bad one:
 * 1 with the value, 0 to leave it to mfkv_parse_float. */
static int plain_float(const char *s, size_t len, float *out)
{
    double v;
    if (!len || !(mfkv_plain_decimal(s, len, &v) || mfkv_decimal(s, len, &v)) || !isfinite((float)v))
        return 0;
    *out = (float)v;
    return 1;
}

/* The bias text of the row read_plain read last, and its value. */
typedef struct last_bias {
    const char *s;
    size_t len;
    float value;
} last_bias;

/* Read a row that split_plain and read_row would take without a word:
 * exactly four fields, none with a quote, carriage return or blank to trim,
 * valid numbers.  1 with the values in *r; 0 to leave the line to on_line.
 * Reads only what read_header set, so chunks run it in parallel.  A row
 * that repeats the bias text of the row before (*last, when s is set), as
 * every row of an id but its first does, takes that row's value. */
static int read_plain(const csv_load *c, const char *s, size_t len, last_bias *last, csv_row *r)
{
    static const unsigned char stop[256] = {[','] = 1, ['"'] = 1, ['\r'] = 1, [' '] = 1, ['\t'] = 1};
    size_t comma[N_COLS], n = 0;
    for (size_t i = 0; i < len; i++) {
        if (!stop[(unsigned char)s[i]]) continue;
        if (s[i] != ',' || n == N_COLS - 1) return 0;
        comma[n++] = i;
    }
    if (n != N_COLS - 1) return 0;
    comma[n] = len;
    const char *v[N_COLS];
    size_t vlen[N_COLS];
    for (size_t j = 0, from = 0; j < N_COLS; from = comma[j++] + 1) {
        v[c->role[j]] = s + from;
        vlen[c->role[j]] = comma[j] - from;
    }
    r->id_len = (uint32_t)vlen[COL_ID];
    if (last->s && last->len == vlen[COL_BIAS] && memcmp(last->s, v[COL_BIAS], last->len) == 0) {
        r->bias = last->value;
    } else {
        last->s = NULL;
        if (!plain_float(v[COL_BIAS], vlen[COL_BIAS], &r->bias)) return 0;
    }
    /* What mfkv_parse_uint takes: digits only, 1..MFKV_MAX_FACTORS. */
    uint32_t factor = 0;
    if (vlen[COL_FACTOR] == 0 || vlen[COL_FACTOR] > 5) return 0;
    for (size_t i = 0; i < vlen[COL_FACTOR]; i++) {
        unsigned digit = (unsigned char)v[COL_FACTOR][i] - '0';
        if (digit > 9) return 0;
        factor = factor * 10 + digit;
    }
    if (factor < 1 || factor > MFKV_MAX_FACTORS || !plain_float(v[COL_WEIGHT], vlen[COL_WEIGHT], &r->weight))
        return 0;
    r->factor = factor;
    *last = (last_bias){v[COL_BIAS], vlen[COL_BIAS], r->bias};
    return 1;
}

/* The lines of one chunk of a block, read by one thread. */
typedef struct csv_chunk {
    const csv_load *c;
    int ready;     /* the header is read: rows may be read here */
    const char *s;
    size_t len;
    csv_row *rows; /* one per line: row j is the chunk's line j (from 0) */
    size_t n, cap;
    int status;    /* MFKV_NOMEM when rows could not grow */
} csv_chunk;

/* Split a chunk into lines as mfkv_lines_next does (a line ends at "\n", a
 * "\r" before it is dropped) and read each with read_plain. */
static void *read_chunk(void *arg)
{
    csv_chunk *k = arg;
    k->n = 0;
    k->status = MFKV_OK;
    last_bias last = {NULL, 0, 0};
    for (const char *p = k->s, *end = k->s + k->len; p < end;) {
        const char *line = p, *nl = memchr(p, '\n', (size_t)(end - p));
        size_t len = (size_t)((nl ? nl : end) - line);
        p = nl ? nl + 1 : end;
        if (len && line[len - 1] == '\r') len--;
        if (k->n == k->cap) {
            size_t cap = k->cap ? k->cap * 2 : 4096;
            csv_row *rows = realloc(k->rows, cap * sizeof *rows);
            if (!rows) {
                k->status = MFKV_NOMEM;
                return NULL;
            }
            k->rows = rows;
            k->cap = cap;
        }
        csv_row *r = &k->rows[k->n++];
        r->s = line;
        r->len = (uint32_t)len;
        if (!(r->plain = k->ready && read_plain(k->c, line, len, &last, r))) last.s = NULL;
    }
    return NULL;
}

/* Take the rows of a chunk, after line @p line, in file order: a plain row
 * when it starts a row (no quoted field of an earlier line is open), as
 * on_record would; any other line through on_line. */
static int take_rows(csv_load *c, const csv_chunk *k, size_t line)
{
    for (size_t j = 0; j < k->n; j++) {
        const csv_row *r = &k->rows[j];
        int rc;
        if (r->plain && !c->line) {
            c->line = line + j + 1;
            c->n_records++;
            c->rc = rc = add_row(c, r->s, r->id_len, r->bias, r->factor, r->weight);
            c->line = 0;
        } else {
            rc = on_line(c, line + j + 1, r->s, r->len);
        }
        if (rc) return rc;
    }
    return MFKV_OK;
}

/* The header (line 1, through mfkv_lines_next, which drops a byte order
 * mark), then blocks of lines read in parallel; *n_lines the lines read. */
static int read_lines(csv_load *c, const char *path, size_t threads, size_t *n_lines, mfkv_diag *d)
{
    mfkv_lines in;
    int rc = mfkv_lines_open(&in, path, d);
    const char *s;
    size_t len;
    if (!rc && (rc = mfkv_lines_next(&in, &s, &len, d)) == MFKV_OK) rc = on_line(c, in.line, s, len);
    csv_chunk k[MFKV_CHUNK_THREADS] = {0};
    while (!rc && (rc = mfkv_lines_block(&in, MFKV_CHUNK_BLOCK * threads, &s, &len, d)) == MFKV_OK) {
        const char *start[MFKV_CHUNK_THREADS];
        size_t size[MFKV_CHUNK_THREADS], n = mfkv_chunk_split(s, len, threads, start, size);
        for (size_t j = 0; j < n; j++) {
            k[j].c = c;
            k[j].ready = c->n_records > 0;
            k[j].s = start[j];
            k[j].len = size[j];
        }
        mfkv_chunk_run(read_chunk, k, sizeof *k, n);
        for (size_t j = 0; !rc && j < n; j++) {
            if (k[j].status) rc = mfkv_fail(d, k[j].status, "%s:%zu: out of memory", path, in.line + 1);
            else rc = take_rows(c, &k[j], in.line);
            in.line += k[j].n;
        }
    }
    for (size_t j = 0; j < MFKV_CHUNK_THREADS; j++) free(k[j].rows);
    *n_lines = in.line;
    mfkv_lines_close(&in);
    return rc == MFKV_NOTFOUND ? MFKV_OK : rc;
}

static int load_side(const char *path, mfkv_factor_rows *rows, size_t threads, mfkv_diag *d)
{
    struct csv_parser p;
    csv_load c = {.rows = rows, .path = path, .d = d, .parser = &p};
    if (csv_init(&p, CSV_STRICT | CSV_STRICT_FINI) != 0)
        return mfkv_fail(d, MFKV_NOMEM, "%s: out of memory", path);
    size_t n_lines = 0;
    int rc = read_lines(&c, path, threads, &n_lines, d);
    if (!rc && (csv_fini(&p, on_field, on_record, &c) != 0 || c.rc)) rc = csv_failed(&c, n_lines);
    if (!rc && c.n_records == 0) rc = mfkv_fail(d, MFKV_PARSE, "%s:1: the file is empty", path);
    if (!rc) {
        mfkv_where end = {path, n_lines, c.id_name};
        rc = mfkv_factor_rows_check(rows, &end, d);
    }
    csv_free(&p);
    free(c.buf);
    return rc;
}

int mfkv_load_bqml_csv(const char *users_path, const char *items_path, double global_bias,
                       unsigned threads, mfkv_model *out, mfkv_diag *d)
{
    mfkv_model_init(out);
    if (!isfinite(global_bias))
        return mfkv_fail(d, MFKV_INVAL, "the global bias %g is not a finite number", global_bias);
    mfkv_factor_k k = {0};
    mfkv_factor_rows users, items;
    mfkv_factor_rows_init(&users, &k, "user", "factor");
    mfkv_factor_rows_init(&items, &k, "item", "factor");
    size_t n_threads = mfkv_chunk_threads(threads);
    int rc = load_side(users_path, &users, n_threads, d);
    if (!rc) {
        mfkv_factor_k_fix(&k, k.k, NULL);
        rc = load_side(items_path, &items, n_threads, d);
    }
    if (!rc) rc = mfkv_factor_rows_to_model(&users, &items, global_bias, out, d);
    mfkv_factor_rows_free(&users);
    mfkv_factor_rows_free(&items);
    return rc;
}
