#include "modelfile.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <xxhash.h>

#include "common/atomic_file.h"
#include "common/bytes.h"
#include "mfkv.h"

#define HEADER_SIZE 32
#define TRAILER_SIZE 8
#define INFO_ROW_SIZE 32

/* Bytes out, through the checksum. */
typedef struct writer {
    FILE *f;
    XXH3_state_t *hash;
} writer;

static void put(writer *w, const void *p, size_t n)
{
    fwrite(p, 1, n, w->f);
    XXH3_64bits_update(w->hash, p, n);
}

static void put_u32(writer *w, uint32_t v)
{
    unsigned char b[4];
    mfkv_put_u32(b, v);
    put(w, b, 4);
}

static void put_u64(writer *w, uint64_t v)
{
    unsigned char b[8];
    mfkv_put_u64(b, v);
    put(w, b, 8);
}

static void put_f64(writer *w, double v)
{
    uint64_t bits;
    memcpy(&bits, &v, 8);
    put_u64(w, bits);
}

static uint64_t ids_size(const mfkv_idtab *t) { return 4ull * t->n + t->pool_len - t->n; }

static void put_ids(writer *w, const mfkv_idtab *t)
{
    for (uint32_t i = 0; i < t->n; i++) {
        size_t len;
        const char *s = mfkv_idtab_str(t, i, &len);
        put_u32(w, (uint32_t)len);
        put(w, s, len);
    }
}

static void put_body(writer *w, const mfkv_model *m, const mfkv_train_info *info)
{
    mfkv_train_info none;
    mfkv_train_info_init(&none);
    const mfkv_train_info *t = info ? info : &none;
    const mfkv_als_opts *o = &t->opts;
    size_t nf = m->n_factors, nu = m->user_ids.n, ni = m->item_ids.n;
    put_u32(w, m->n_factors);
    put_u32(w, m->user_ids.n);
    put_u32(w, m->item_ids.n);
    put_u32(w, (uint32_t)t->n_rows);
    put_f64(w, m->global_bias);
    put_u32(w, info != NULL);
    put_u32(w, o->factors);
    put_f64(w, o->l2);
    put_f64(w, o->l2_per_rating);
    put_u32(w, o->iterations);
    put_u32(w, (uint32_t)o->early_stop);
    put_f64(w, o->min_rel_progress);
    put_f64(w, o->holdout);
    put_u64(w, o->seed);
    put_u32(w, o->threads);
    put_u64(w, t->n_ratings);
    put_u64(w, t->n_train);
    put_u64(w, t->n_holdout);
    put_u64(w, t->ratings_hash);
    for (size_t r = 0; r < t->n_rows; r++) {
        put_u32(w, t->rows[r].training_run);
        put_u32(w, t->rows[r].iteration);
        put_f64(w, t->rows[r].loss);
        put_f64(w, t->rows[r].eval_loss);
        put_f64(w, t->rows[r].duration_ms);
    }
    put_ids(w, &m->user_ids);
    put_ids(w, &m->item_ids);
    /* Floats are stored as they lie in memory: the host is little-endian
     * (bytes.h refuses to build otherwise). */
    put(w, m->user_factors, nu * nf * sizeof(float));
    put(w, m->item_factors, ni * nf * sizeof(float));
    put(w, m->user_bias, nu * sizeof(float));
    put(w, m->item_bias, ni * sizeof(float));
}

#define BODY_FIXED_SIZE (4 * 4 + 8 + 4 + 4 + 8 + 8 + 4 + 4 + 8 + 8 + 8 + 4 + 4 * 8)

int mfkv_modelfile_write(const char *path, const mfkv_model *m, const mfkv_train_info *info,
                         mfkv_diag *d)
{
    uint64_t nf = m->n_factors, nu = m->user_ids.n, ni = m->item_ids.n;
    uint64_t size = HEADER_SIZE + BODY_FIXED_SIZE + (info ? info->n_rows : 0) * INFO_ROW_SIZE +
                    ids_size(&m->user_ids) + ids_size(&m->item_ids) +
                    4 * ((nu + ni) * nf + nu + ni) + TRAILER_SIZE;
    mfkv_atomic_file out;
    int rc = mfkv_atomic_open(&out, path, d);
    if (rc) return rc;
    writer w = {out.f, XXH3_createState()};
    if (!w.hash) {
        mfkv_atomic_abort(&out);
        return mfkv_fail(d, MFKV_NOMEM, "%s: out of memory", path);
    }
    XXH3_64bits_reset(w.hash);
    unsigned char header[HEADER_SIZE] = {0};
    memcpy(header, MFKV_MODELFILE_MAGIC, 8);
    mfkv_put_u32(header + 8, MFKV_MODELFILE_VERSION);
    mfkv_put_u64(header + 16, size);
    put(&w, header, sizeof header);
    put_body(&w, m, info);
    unsigned char trailer[TRAILER_SIZE];
    mfkv_put_u64(trailer, XXH3_64bits_digest(w.hash));
    XXH3_freeState(w.hash);
    fwrite(trailer, 1, sizeof trailer, out.f);
    return mfkv_atomic_commit(&out, d);
}

/* Bytes in, bounds-checked: a file whose checksum matches may still have
 * been written by a buggy or hostile program, so no count is trusted. */
typedef struct reader {
    const unsigned char *p, *end;
    const char *path;
    mfkv_diag *d;
    uint32_t version;
} reader;

static int take(reader *r, size_t n, const char *field, const unsigned char **out)
{
    if ((size_t)(r->end - r->p) < n)
        return mfkv_fail(r->d, MFKV_FORMAT, "%s: field %s: runs past the end of the body",
                         r->path, field);
    *out = r->p;
    r->p += n;
    return MFKV_OK;
}

static int get_u32(reader *r, const char *field, uint32_t *v)
{
    const unsigned char *p;
    int rc = take(r, 4, field, &p);
    if (!rc) *v = mfkv_load_u32(p);
    return rc;
}

static int get_u64(reader *r, const char *field, uint64_t *v)
{
    const unsigned char *p;
    int rc = take(r, 8, field, &p);
    if (!rc) *v = mfkv_load_u64(p);
    return rc;
}

static int get_f64(reader *r, const char *field, double *v)
{
    uint64_t bits;
    int rc = get_u64(r, field, &bits);
    if (!rc) memcpy(v, &bits, 8);
    return rc;
}

static int get_ids(reader *r, uint32_t n, const char *field, mfkv_idtab *t)
{
    for (uint32_t i = 0; i < n; i++) {
        uint32_t len, index;
        const unsigned char *s;
        int added, rc;
        if ((rc = get_u32(r, field, &len)) || (rc = take(r, len, field, &s))) return rc;
        if (len == 0 || memchr(s, 0, len))
            return mfkv_fail(r->d, MFKV_FORMAT, "%s: field %s: id %u is empty or holds a NUL",
                             r->path, field, i);
        if ((rc = mfkv_idtab_intern(t, (const char *)s, len, &index, &added)))
            return mfkv_fail(r->d, rc, "%s: field %s: cannot store id %u", r->path, field, i);
        if (!added)
            return mfkv_fail(r->d, MFKV_FORMAT, "%s: field %s: id '%.*s' appears twice",
                             r->path, field, (int)len, (const char *)s);
    }
    return MFKV_OK;
}

static int get_floats(reader *r, float *dst, size_t n, const char *field)
{
    const unsigned char *p;
    int rc = take(r, n * sizeof(float), field, &p);
    if (rc) return rc;
    memcpy(dst, p, n * sizeof(float));
    for (size_t j = 0; j < n; j++)
        if (!isfinite(dst[j]))
            return mfkv_fail(r->d, MFKV_FORMAT, "%s: field %s: value %zu is not finite",
                             r->path, field, j);
    return MFKV_OK;
}

static int get_info(reader *r, uint32_t n_rows, mfkv_train_info *t)
{
    mfkv_als_opts *o = &t->opts;
    uint32_t has_info, early_stop;
    int rc;
    if ((rc = get_u32(r, "has_info", &has_info)) || (rc = get_u32(r, "factors", &o->factors)) ||
        (rc = get_f64(r, "l2", &o->l2)) ||
        (r->version >= 2 && (rc = get_f64(r, "l2_per_rating", &o->l2_per_rating))) ||
        (rc = get_u32(r, "iterations", &o->iterations)) ||
        (rc = get_u32(r, "early_stop", &early_stop)) ||
        (rc = get_f64(r, "min_rel_progress", &o->min_rel_progress)) ||
        (rc = get_f64(r, "holdout", &o->holdout)) || (rc = get_u64(r, "seed", &o->seed)) ||
        (rc = get_u32(r, "threads", &o->threads)) ||
        (rc = get_u64(r, "n_ratings", &t->n_ratings)) ||
        (rc = get_u64(r, "n_train", &t->n_train)) ||
        (rc = get_u64(r, "n_holdout", &t->n_holdout)) ||
        (rc = get_u64(r, "ratings_hash", &t->ratings_hash)))
        return rc;
    if (has_info > 1 || early_stop > 1)
        return mfkv_fail(r->d, MFKV_FORMAT, "%s: field has_info/early_stop: not 0 or 1", r->path);
    o->early_stop = (int)early_stop;
    if ((uint64_t)(r->end - r->p) < (uint64_t)n_rows * INFO_ROW_SIZE)
        return mfkv_fail(r->d, MFKV_FORMAT, "%s: field n_info_rows: %u rows do not fit",
                         r->path, n_rows);
    t->rows = calloc((size_t)n_rows + 1, sizeof *t->rows);
    if (!t->rows) return mfkv_fail(r->d, MFKV_NOMEM, "%s: out of memory", r->path);
    for (uint32_t i = 0; i < n_rows; i++) {
        mfkv_train_row *row = &t->rows[i];
        if ((rc = get_u32(r, "training_run", &row->training_run)) ||
            (rc = get_u32(r, "iteration", &row->iteration)) ||
            (rc = get_f64(r, "loss", &row->loss)) ||
            (rc = get_f64(r, "eval_loss", &row->eval_loss)) ||
            (rc = get_f64(r, "duration_ms", &row->duration_ms)))
            return rc;
        t->n_rows = i + 1;
    }
    return MFKV_OK;
}

static int parse_body(reader *r, mfkv_model *m, mfkv_train_info *t)
{
    uint32_t nu, ni, n_rows;
    int rc;
    if ((rc = get_u32(r, "n_factors", &m->n_factors)) || (rc = get_u32(r, "n_users", &nu)) ||
        (rc = get_u32(r, "n_items", &ni)) || (rc = get_u32(r, "n_info_rows", &n_rows)) ||
        (rc = get_f64(r, "global_bias", &m->global_bias)))
        return rc;
    if (!isfinite(m->global_bias))
        return mfkv_fail(r->d, MFKV_FORMAT, "%s: field global_bias: not finite", r->path);
    if ((rc = get_info(r, n_rows, t)) || (rc = get_ids(r, nu, "user_ids", &m->user_ids)) ||
        (rc = get_ids(r, ni, "item_ids", &m->item_ids)))
        return rc;
    /* Check the sizes before allocating what the counts ask for. */
    uint64_t nf = m->n_factors, floats = ((uint64_t)nu + ni) * (nf + 1);
    if (floats > (uint64_t)(r->end - r->p) / 4 || floats * 4 != (uint64_t)(r->end - r->p))
        return mfkv_fail(r->d, MFKV_FORMAT, "%s: field factors: %llu floats expected, %lld "
                         "bytes left", r->path, (unsigned long long)floats,
                         (long long)(r->end - r->p));
    if ((rc = mfkv_model_alloc(m)))
        return mfkv_fail(r->d, rc, "%s: out of memory for the factors", r->path);
    if ((rc = get_floats(r, m->user_factors, (size_t)nu * nf, "user_factors")) ||
        (rc = get_floats(r, m->item_factors, (size_t)ni * nf, "item_factors")) ||
        (rc = get_floats(r, m->user_bias, nu, "user_bias")) ||
        (rc = get_floats(r, m->item_bias, ni, "item_bias")))
        return rc;
    return MFKV_OK;
}

static int slurp(const char *path, unsigned char **data, size_t *size, mfkv_diag *d)
{
    FILE *f = fopen(path, "rb");
    if (!f) return mfkv_fail_errno(d, "%s: cannot open", path);
    struct stat st;
    if (fstat(fileno(f), &st) != 0) {
        int rc = mfkv_fail_errno(d, "%s: cannot stat", path);
        fclose(f);
        return rc;
    }
    if (!S_ISREG(st.st_mode)) {
        fclose(f);
        return mfkv_fail(d, MFKV_FORMAT, "%s: not a regular file", path);
    }
    *size = (size_t)st.st_size;
    *data = malloc(*size + 1);
    if (!*data) {
        fclose(f);
        return mfkv_fail(d, MFKV_NOMEM, "%s: out of memory reading %zu bytes", path, *size);
    }
    size_t got = fread(*data, 1, *size, f);
    int err = ferror(f);
    fclose(f);
    if (err || got != *size) {
        free(*data);
        return err ? mfkv_fail_errno(d, "%s: read failed", path)
                   : mfkv_fail(d, MFKV_IO, "%s: file changed while being read", path);
    }
    return MFKV_OK;
}

static int check_envelope(const char *path, const unsigned char *data, size_t size, mfkv_diag *d)
{
    if (size < 8 || memcmp(data, MFKV_MODELFILE_MAGIC, 8) != 0)
        return mfkv_fail(d, MFKV_FORMAT, "%s: not an mfkv model file (bad magic)", path);
    if (size < HEADER_SIZE + TRAILER_SIZE)
        return mfkv_fail(d, MFKV_FORMAT, "%s: truncated: %zu bytes, shorter than the header",
                         path, size);
    /* The checksum first: it covers the version and size fields, so any
     * damaged byte past the magic reads as corruption, not as a claim. */
    uint64_t declared = mfkv_load_u64(data + 16);
    uint64_t want = mfkv_load_u64(data + size - TRAILER_SIZE);
    if (XXH3_64bits(data, size - TRAILER_SIZE) != want) {
        if (declared > size)
            return mfkv_fail(d, MFKV_CORRUPT, "%s: truncated: header says %llu bytes, file has %zu",
                             path, (unsigned long long)declared, size);
        return mfkv_fail(d, MFKV_CORRUPT, "%s: checksum mismatch: the file is corrupt", path);
    }
    uint32_t version = mfkv_load_u32(data + 8);
    if (version > MFKV_MODELFILE_VERSION)
        return mfkv_fail(d, MFKV_VERSION, "%s: model file version %u; this mfkv reads up to %u",
                         path, version, MFKV_MODELFILE_VERSION);
    if (version == 0 || declared != size)
        return mfkv_fail(d, MFKV_FORMAT, "%s: field version/size: inconsistent header", path);
    return MFKV_OK;
}

int mfkv_modelfile_read(const char *path, mfkv_model *m, mfkv_train_info *info, mfkv_diag *d)
{
    mfkv_model_init(m);
    mfkv_train_info t;
    mfkv_train_info_init(&t);
    if (info) mfkv_train_info_init(info);
    unsigned char *data;
    size_t size;
    int rc = slurp(path, &data, &size, d);
    if (rc) return rc;
    rc = check_envelope(path, data, size, d);
    if (!rc) {
        reader r = {data + HEADER_SIZE, data + size - TRAILER_SIZE, path, d,
                    mfkv_load_u32(data + 8)};
        rc = parse_body(&r, m, &t);
    }
    free(data);
    if (rc) {
        mfkv_model_free(m);
        mfkv_train_info_free(&t);
        return rc;
    }
    if (info)
        *info = t;
    else
        mfkv_train_info_free(&t);
    return MFKV_OK;
}
