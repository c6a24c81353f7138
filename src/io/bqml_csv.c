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
 * state machine was the largest cost of a load.
 */
#include <csv.h>
#ifdef __SSE2__
#include <emmintrin.h>
#endif
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

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
    uint32_t factor, index;
    int added, rc;
    if ((rc = mfkv_parse_float(&w, v[COL_BIAS], n[COL_BIAS], &bias, c->d))) return rc;
    w.field = "factor";
    if ((rc = mfkv_parse_uint(&w, v[COL_FACTOR], n[COL_FACTOR], 1, MFKV_MAX_FACTORS, &factor, c->d)))
        return rc;
    w.field = "weight";
    if ((rc = mfkv_parse_float(&w, v[COL_WEIGHT], n[COL_WEIGHT], &weight, c->d))) return rc;
    w.field = c->id_name;
    mfkv_factor_rows *r = c->rows;
    size_t last_len = 0;
    const char *last_id = c->have_last ? mfkv_idtab_str(&r->ids, c->last, &last_len) : NULL;
    if (last_id && last_len == n[COL_ID] && memcmp(last_id, v[COL_ID], last_len) == 0) {
        index = c->last; /* what mfkv_factor_rows_id would find */
        added = 0;
    } else if ((rc = mfkv_factor_rows_id(r, &w, v[COL_ID], n[COL_ID], bias, &index, &added, c->d))) {
        return rc;
    }
    c->last = index;
    c->have_last = 1;
    if (!added && r->bias[index] != bias) {
        char q[MFKV_QUOTE_LEN];
        w.field = "bias";
        return mfkv_fail_at(c->d, &w, "%.9g differs from %.9g on line %zu for %s \"%s\"",
                            (double)bias, (double)r->bias[index], r->line[index], r->side,
                            mfkv_quote(q, v[COL_ID], n[COL_ID]));
    }
    w.field = "factor";
    return mfkv_factor_rows_put(r, &w, index, factor, weight, c->d);
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
static int on_line(void *ctx, const mfkv_lines *in, const char *s, size_t len, mfkv_diag *d)
{
    csv_load *c = ctx;
    if (!c->line && len) {
        c->line = in->line;
        if (split_plain(c, s, len)) return c->rc;
    }
    if (csv_parse(c->parser, s, len, on_field, on_record, c) != len || c->rc ||
        csv_parse(c->parser, "\n", 1, on_field, on_record, c) != 1 || c->rc)
        return csv_failed(c, in->line);
    return MFKV_OK;
}

static int load_side(const char *path, mfkv_factor_rows *rows, mfkv_diag *d)
{
    struct csv_parser p;
    csv_load c = {.rows = rows, .path = path, .d = d, .parser = &p};
    if (csv_init(&p, CSV_STRICT | CSV_STRICT_FINI) != 0)
        return mfkv_fail(d, MFKV_NOMEM, "%s: out of memory", path);
    size_t n_lines = 0;
    int rc = mfkv_lines_each(path, on_line, &c, &n_lines, d);
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
                       mfkv_model *out, mfkv_diag *d)
{
    mfkv_model_init(out);
    if (!isfinite(global_bias))
        return mfkv_fail(d, MFKV_INVAL, "the global bias %g is not a finite number", global_bias);
    mfkv_factor_k k = {0};
    mfkv_factor_rows users, items;
    mfkv_factor_rows_init(&users, &k, "user", "factor");
    mfkv_factor_rows_init(&items, &k, "item", "factor");
    int rc = load_side(users_path, &users, d);
    if (!rc) {
        mfkv_factor_k_fix(&k, k.k, NULL);
        rc = load_side(items_path, &items, d);
    }
    if (!rc) rc = mfkv_factor_rows_to_model(&users, &items, global_bias, out, d);
    mfkv_factor_rows_free(&users);
    mfkv_factor_rows_free(&items);
    return rc;
}
