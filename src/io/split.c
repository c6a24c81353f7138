#include "split.h"

#ifdef __SSE2__
#include <emmintrin.h>
#endif

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mfkv.h"

static int no_char(unsigned char c) { (void)c; return 0; }

/* Nothing counts as padding or as a line end inside a line: a field is
 * exactly the bytes between its delimiters. */
static int csv_start(mfkv_split *f)
{
    if (csv_init(&f->csv, CSV_STRICT | CSV_STRICT_FINI)) return MFKV_NOMEM;
    csv_set_delim(&f->csv, (unsigned char)f->sep[0]);
    csv_set_space_func(&f->csv, no_char);
    csv_set_term_func(&f->csv, no_char);
    f->csv_ready = 1;
    return MFKV_OK;
}

int mfkv_split_init(mfkv_split *f, const char *line, size_t len)
{
    memset(f, 0, sizeof *f);
    int header = !memmem(line, len, "::", 2);
    f->sep = !header ? "::" : memchr(line, '\t', len) ? "\t" : ",";
    f->quoted = header;
    f->stop[(unsigned char)f->sep[0]] = 1;
    f->stop['"'] = (unsigned char)f->quoted;
    return header;
}

void mfkv_split_free(mfkv_split *f)
{
    if (f->csv_ready) csv_free(&f->csv);
    free(f->s);
    free(f->len);
    free(f->scratch);
    memset(f, 0, sizeof *f);
}

static inline int push(mfkv_split *f, const char *s, size_t len)
{
    if (f->n == f->cap) {
        size_t cap = f->cap ? f->cap * 2 : 16;
        const char **ns = realloc(f->s, cap * sizeof *ns);
        if (!ns) return MFKV_NOMEM;
        f->s = ns;
        size_t *nl = realloc(f->len, cap * sizeof *nl);
        if (!nl) return MFKV_NOMEM;
        f->len = nl;
        f->cap = cap;
    }
    f->s[f->n] = s;
    f->len[f->n] = len;
    f->n++;
    return MFKV_OK;
}

/* libcsv hands each field over in its own buffer: copy it into scratch,
 * which was sized for the whole line so the pointers stay put. */
static void on_csv_field(void *s, size_t len, void *data)
{
    mfkv_split *f = data;
    char *dst = f->scratch + f->scratch_len;
    if (len) memcpy(dst, s, len); /* libcsv passes NULL for an empty first field */
    f->scratch_len += len;
    if (push(f, dst, len)) f->status = MFKV_NOMEM;
}

static int split_quoted(mfkv_split *f, const char *line, size_t len)
{
    if (f->scratch_cap < len) {
        char *sc = realloc(f->scratch, len);
        if (!sc) return MFKV_NOMEM;
        f->scratch = sc;
        f->scratch_cap = len;
    }
    f->scratch_len = 0;
    f->status = MFKV_OK;
    if (!f->csv_ready && csv_start(f)) return MFKV_NOMEM;
    /* libcsv grows its field buffer by this fixed step; a step of the whole
     * line keeps a long quoted field from costing quadratic copying. */
    csv_set_blk_size(&f->csv, len + 1);
    size_t used = csv_parse(&f->csv, line, len, on_csv_field, NULL, f);
    int bad = used != len || csv_fini(&f->csv, on_csv_field, NULL, f) != 0;
    if (bad) {
        int err = csv_error(&f->csv);
        /* After an error libcsv keeps its state; start afresh for the next line. */
        csv_free(&f->csv);
        f->csv_ready = 0;
        return err == CSV_EPARSE ? MFKV_PARSE : MFKV_NOMEM;
    }
    return f->status;
}

/* Byte @p i of @p line is a stop byte (see mfkv_split.stop): end the field
 * there if it is a separator, *start moving past it.  Returns QUOTED when
 * the line has a quote and must be split as quoted CSV, else MFKV_OK or
 * MFKV_NOMEM. */
enum { QUOTED = -1 };
static inline int at_stop(mfkv_split *f, const char *line, size_t len, size_t i, size_t *start)
{
    if (line[i] != f->sep[0]) return QUOTED;
    size_t seplen = f->sep[1] == ':' ? 2 : 1;
    if (seplen == 2 && (i + 1 == len || line[i + 1] != ':')) return MFKV_OK;
    int rc = push(f, line + *start, i - *start);
    *start = i + seplen;
    return rc;
}

/* One pass over the bytes, finding the separators and, in CSV, a quote:
 * rating lines are ~20 bytes, too short for memchr calls per field to pay
 * (they and glibc's memmem were a fifth of a ratings load).  A stop byte
 * before *start is the second ':' of a "::" already taken. */
static int split_plain(mfkv_split *f, const char *line, size_t len)
{
    size_t start = 0, i = 0;
    int rc;
#ifdef __SSE2__
    /* Sixteen bytes per step; the byte loop below takes the tail. */
    const __m128i sep16 = _mm_set1_epi8(f->sep[0]), quote16 = _mm_set1_epi8(f->quoted ? '"' : f->sep[0]);
    for (; len - i >= 16; i += 16) {
        __m128i x = _mm_loadu_si128((const __m128i *)(const void *)(line + i));
        unsigned m = (unsigned)_mm_movemask_epi8(_mm_or_si128(_mm_cmpeq_epi8(x, sep16), _mm_cmpeq_epi8(x, quote16)));
        for (; m; m &= m - 1) {
            size_t k = i + (size_t)__builtin_ctz(m);
            if (k >= start && (rc = at_stop(f, line, len, k, &start))) goto stopped;
        }
    }
#endif
    for (; i < len; i++)
        if (f->stop[(unsigned char)line[i]] && i >= start && (rc = at_stop(f, line, len, i, &start)))
            goto stopped;
    return push(f, line + start, len - start);
stopped:
    if (rc != QUOTED) return rc;
    f->n = 0;
    return split_quoted(f, line, len);
}

int mfkv_split_line(mfkv_split *f, const char *line, size_t len)
{
    f->n = 0;
    return split_plain(f, line, len);
}

/* Field @p i (from 0) of @p row: named when it is one of the @p expected,
 * else by number, written to @p num. */
static mfkv_where field_of(const mfkv_where *row, const char *const *names, size_t expected,
                           size_t i, char num[24])
{
    mfkv_where w = {row->path, row->line, names[i < expected ? i : 0]};
    if (i >= expected) {
        snprintf(num, 24, "#%zu", i + 1);
        w.field = num;
    }
    return w;
}

int mfkv_split_row(mfkv_split *f, const char *line, size_t len, size_t expected,
                   const char *const *names, const mfkv_where *row, mfkv_diag *d)
{
    char num[24];
    int rc = mfkv_split_line(f, line, len);
    if (rc == MFKV_PARSE) {
        mfkv_where w = field_of(row, names, expected, f->n, num);
        return mfkv_fail_at(d, &w, "malformed quoting");
    }
    if (rc) return mfkv_fail(d, rc, "%s:%zu: out of memory", row->path, row->line);
    if (f->n < expected) {
        mfkv_where w = field_of(row, names, expected, f->n, num);
        return mfkv_fail_at(d, &w, "missing (line has %zu of %zu fields)", f->n, expected);
    }
    if (f->n > expected) {
        mfkv_where w = field_of(row, names, expected, expected, num);
        return mfkv_fail_at(d, &w, "extra field (expected %zu fields)", expected);
    }
    return MFKV_OK;
}
