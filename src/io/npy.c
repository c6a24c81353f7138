/*
 * numpy .npy files: a magic string, a version, a little-endian header length
 * and a Python dict literal such as
 *
 *   {'descr': '<f4', 'fortran_order': False, 'shape': (610, 32), }
 *
 * padded with spaces and a newline, then the raw array.  Only what factor
 * matrices need is read: float32/float64, little-endian, C order, 1-D or 2-D.
 */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/atomic_file.h"
#include "common/bytes.h"
#include "factors.h"
#include "mfkv.h"

#define NPY_MAGIC "\x93NUMPY"
#define NPY_MAGIC_LEN 6
#define NPY_MAX_HEADER 65536u /* real headers are ~100 bytes */

typedef struct npy_header {
    char descr[16];
    int have_descr, have_order, have_shape;
    int fortran;
    int ndim;
    uint64_t dim[2];
} npy_header;

typedef struct dict_parser {
    const char *p, *end;
} dict_parser;

static void skip_blanks(dict_parser *s)
{
    while (s->p < s->end && (*s->p == ' ' || *s->p == '\t' || *s->p == '\n')) s->p++;
}

static int accept(dict_parser *s, char c)
{
    skip_blanks(s);
    if (s->p < s->end && *s->p == c) {
        s->p++;
        return 1;
    }
    return 0;
}

/* A quoted Python string without escapes (npy keys and dtypes have none). */
static int parse_str(dict_parser *s, char *out, size_t cap)
{
    skip_blanks(s);
    if (s->p >= s->end || (*s->p != '\'' && *s->p != '"')) return 0;
    char q = *s->p++;
    const char *start = s->p;
    while (s->p < s->end && *s->p != q) s->p++;
    if (s->p >= s->end || (size_t)(s->p - start) >= cap) return 0;
    memcpy(out, start, (size_t)(s->p - start));
    out[s->p - start] = '\0';
    s->p++;
    return 1;
}

static int parse_word(dict_parser *s, const char *w)
{
    skip_blanks(s);
    size_t n = strlen(w);
    if ((size_t)(s->end - s->p) < n || memcmp(s->p, w, n) != 0) return 0;
    s->p += n;
    return 1;
}

static int parse_shape(dict_parser *s, npy_header *h)
{
    if (!accept(s, '(')) return 0;
    h->ndim = 0;
    while (!accept(s, ')')) {
        skip_blanks(s);
        uint64_t v = 0;
        const char *start = s->p;
        while (s->p < s->end && *s->p >= '0' && *s->p <= '9') {
            if (v > (UINT64_MAX - 9) / 10) return 0;
            v = v * 10 + (uint64_t)(*s->p++ - '0');
        }
        if (s->p == start) return 0;
        if (h->ndim < 2) h->dim[h->ndim] = v;
        if (h->ndim < 3) h->ndim++;
        if (!accept(s, ',')) {
            if (!accept(s, ')')) return 0;
            break;
        }
    }
    return 1;
}

static int parse_header(const char *text, size_t len, npy_header *h)
{
    dict_parser s = {text, text + len};
    memset(h, 0, sizeof *h);
    if (!accept(&s, '{')) return 0;
    while (!accept(&s, '}')) {
        char key[32];
        if (!parse_str(&s, key, sizeof key) || !accept(&s, ':')) return 0;
        if (strcmp(key, "descr") == 0 && !h->have_descr) {
            if (!parse_str(&s, h->descr, sizeof h->descr)) return 0;
            h->have_descr = 1;
        } else if (strcmp(key, "fortran_order") == 0 && !h->have_order) {
            if (parse_word(&s, "True")) h->fortran = 1;
            else if (!parse_word(&s, "False")) return 0;
            h->have_order = 1;
        } else if (strcmp(key, "shape") == 0 && !h->have_shape) {
            if (!parse_shape(&s, h)) return 0;
            h->have_shape = 1;
        } else {
            return 0;
        }
        if (!accept(&s, ',')) {
            if (!accept(&s, '}')) return 0;
            break;
        }
    }
    skip_blanks(&s);
    return s.p == s.end && h->have_descr && h->have_order && h->have_shape;
}

/* The header, checked to describe something this reader takes; *item is
 * the element size (4 or 8). */
static int read_header(FILE *f, const char *path, npy_header *h, size_t *item, mfkv_diag *d)
{
    unsigned char pre[12];
    if (fread(pre, 1, 8, f) != 8 || memcmp(pre, NPY_MAGIC, NPY_MAGIC_LEN) != 0)
        return mfkv_fail(d, MFKV_PARSE, "%s: not a .npy file (no \\x93NUMPY magic)", path);
    unsigned major = pre[6];
    size_t hlen;
    if (major == 1) {
        if (fread(pre + 8, 1, 2, f) != 2) goto truncated;
        hlen = (size_t)pre[8] | (size_t)pre[9] << 8;
    } else if (major == 2 || major == 3) {
        if (fread(pre + 8, 1, 4, f) != 4) goto truncated;
        hlen = mfkv_load_u32(pre + 8);
    } else {
        return mfkv_fail(d, MFKV_PARSE, "%s: .npy format version %u.%u is not supported (1-3)", path,
                         major, pre[7]);
    }
    if (hlen > NPY_MAX_HEADER)
        return mfkv_fail(d, MFKV_PARSE, "%s: header of %zu bytes is implausibly long", path, hlen);
    char text[NPY_MAX_HEADER];
    if (fread(text, 1, hlen, f) != hlen) goto truncated;
    if (!parse_header(text, hlen, h))
        return mfkv_fail(d, MFKV_PARSE, "%s: header is not a {'descr', 'fortran_order', 'shape'} dict",
                         path);
    if (h->descr[0] == '>')
        return mfkv_fail(d, MFKV_PARSE, "%s: dtype '%s' is big-endian; save as '<f4' or '<f8'", path,
                         h->descr);
    if (strcmp(h->descr, "<f4") == 0) *item = 4;
    else if (strcmp(h->descr, "<f8") == 0) *item = 8;
    else
        return mfkv_fail(d, MFKV_PARSE, "%s: dtype '%s' is not supported; need float32 '<f4' or float64 '<f8'",
                         path, h->descr);
    if (h->fortran)
        return mfkv_fail(d, MFKV_PARSE, "%s: fortran_order is True; save a C-order array "
                         "(numpy.ascontiguousarray)", path);
    if (h->ndim < 1 || h->ndim > 2)
        return mfkv_fail(d, MFKV_PARSE, "%s: array has %s%d dimensions; need 1 or 2", path,
                         h->ndim > 2 ? "at least " : "", h->ndim);
    return MFKV_OK;
truncated:
    return mfkv_fail(d, MFKV_PARSE, "%s: truncated .npy header", path);
}

static int read_data(FILE *f, const char *path, size_t item, uint64_t count, float *out,
                     uint64_t cols, mfkv_diag *d)
{
    unsigned char buf[8192];
    uint64_t done = 0;
    while (done < count) {
        size_t want = (size_t)(count - done < sizeof buf / item ? count - done : sizeof buf / item);
        if (fread(buf, item, want, f) != want) return mfkv_fail_errno(d, "%s: read error", path);
        for (size_t i = 0; i < want; i++, done++) {
            double v = item == 4 ? (double)mfkv_load_f32(buf + i * 4) : 0;
            if (item == 8) memcpy(&v, buf + i * 8, 8);
            out[done] = (float)v;
            if (!isfinite(out[done]))
                return mfkv_fail(d, MFKV_PARSE, "%s: value [%llu, %llu] = %g is not a finite float",
                                 path, (unsigned long long)(done / cols),
                                 (unsigned long long)(done % cols), v);
        }
    }
    return MFKV_OK;
}

int mfkv_npy_read(const char *path, float **data, uint64_t *rows, uint64_t *cols, mfkv_diag *d)
{
    int ndim;
    return mfkv_npy_read_nd(path, data, rows, cols, &ndim, d);
}

int mfkv_npy_read_nd(const char *path, float **data, uint64_t *rows, uint64_t *cols, int *ndim,
                     mfkv_diag *d)
{
    *data = NULL;
    *ndim = 0;
    *rows = *cols = 0;
    FILE *f = fopen(path, "rb");
    if (!f) return mfkv_fail_errno(d, "%s: cannot open", path);
    npy_header h;
    size_t item;
    int rc = read_header(f, path, &h, &item, d);
    if (!rc) {
        uint64_t r = h.dim[0], c = h.ndim == 2 ? h.dim[1] : 1;
        struct stat st;
        long pos = ftell(f);
        if (fstat(fileno(f), &st) != 0 || pos < 0) {
            rc = mfkv_fail_errno(d, "%s: cannot stat", path);
        } else if (c && r > SIZE_MAX / sizeof(float) / 8 / c) {
            rc = mfkv_fail(d, MFKV_LIMIT, "%s: shape (%llu, %llu) is too large", path,
                           (unsigned long long)r, (unsigned long long)c);
        } else if ((uint64_t)st.st_size - (uint64_t)pos != r * c * item) {
            rc = mfkv_fail(d, MFKV_PARSE, "%s: the header describes %llu values (%llu bytes) but "
                           "%llu bytes follow it", path, (unsigned long long)(r * c),
                           (unsigned long long)(r * c * item),
                           (unsigned long long)((uint64_t)st.st_size - (uint64_t)pos));
        } else if (!(*data = malloc(r * c * sizeof(float) + 1))) {
            rc = mfkv_fail(d, MFKV_NOMEM, "%s: out of memory for %llu values", path,
                           (unsigned long long)(r * c));
        } else if (!(rc = read_data(f, path, item, r * c, *data, c ? c : 1, d))) {
            *rows = r;
            *cols = c;
            *ndim = h.ndim;
        }
    }
    fclose(f);
    if (rc) {
        free(*data);
        *data = NULL;
    }
    return rc;
}

/* Published atomically (common/atomic_file.h), so a failed write never
 * leaves a partial file under the real name. */
int mfkv_npy_write(const char *path, const float *data, uint64_t rows, uint64_t cols,
                   mfkv_diag *d)
{
    char dict[128];
    if (cols)
        snprintf(dict, sizeof dict, "{'descr': '<f4', 'fortran_order': False, 'shape': (%llu, %llu), }",
                 (unsigned long long)rows, (unsigned long long)cols);
    else
        snprintf(dict, sizeof dict, "{'descr': '<f4', 'fortran_order': False, 'shape': (%llu,), }",
                 (unsigned long long)rows);
    /* numpy pads so the data starts 64-byte aligned, ending the header in '\n'. */
    size_t dlen = strlen(dict), total = (NPY_MAGIC_LEN + 4 + dlen + 1 + 63) / 64 * 64;
    size_t hlen = total - NPY_MAGIC_LEN - 4;
    unsigned char head[256];
    memcpy(head, NPY_MAGIC "\x01\x00", 8);
    head[8] = (unsigned char)(hlen & 0xff);
    head[9] = (unsigned char)(hlen >> 8);
    memcpy(head + 10, dict, dlen);
    memset(head + 10 + dlen, ' ', hlen - dlen - 1);
    head[total - 1] = '\n';

    mfkv_atomic_file out;
    int rc = mfkv_atomic_open(&out, path, d);
    if (rc) return rc;
    uint64_t n = rows * (cols ? cols : 1);
    if (fwrite(head, 1, total, out.f) != total || fwrite(data, sizeof *data, n, out.f) != n) {
        rc = mfkv_fail_errno(d, "%s: cannot write", path);
        mfkv_atomic_abort(&out);
        return rc;
    }
    return mfkv_atomic_commit(&out, d);
}
