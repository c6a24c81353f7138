#include "output.h"

#include <string.h>

#include "common/buf.h"
#include "common/numfmt.h"
#include "common/user_json.h"
#include "render/predict_json.h"

int out_format_parse(const char *s)
{
    static const char *const names[] = {"text", "tsv", "json", "predict"};
    for (int i = 0; i < 4; i++)
        if (!strcmp(s, names[i])) return i;
    return -1;
}

/* A JSON string literal for s[0..len), escaped as the server escapes it. */
static void out_json_string(FILE *out, const char *s, size_t len)
{
    mfkv_buf b;
    mfkv_buf_init(&b);
    mfkv_buf_json_string(&b, s, len);
    fwrite(b.data, 1, b.len, out);
    mfkv_buf_free(&b);
}

/* TSV fields must not contain tabs or newlines; titles could. */
static void tsv_field(FILE *out, const char *s, size_t len)
{
    for (size_t i = 0; i < len; i++) fputc(s[i] == '\t' || s[i] == '\n' || s[i] == '\r' ? ' ' : s[i], out);
}

/* The server's formatter, so `mfkv serve` answers with these very bytes. */
static int print_predict(FILE *out, mfkv_store *st, const mfkv_list *list, uint32_t n, int first)
{
    mfkv_buf b;
    mfkv_buf_init(&b);
    if (!first) mfkv_buf_put(&b, ",", 1);
    int rc = mfkv_format_predict_row(st, list, n, &b);
    if (!rc) fwrite(b.data, 1, b.len, out);
    mfkv_buf_free(&b);
    return rc;
}

/* The server's formatter for json too: one shape for a user's list. */
static int print_json(FILE *out, mfkv_store *st, const char *id, size_t id_len, int fallback, const mfkv_list *list,
                      uint32_t n)
{
    mfkv_buf b;
    mfkv_buf_init(&b);
    mfkv_user_json_open(&b, id, id_len, fallback);
    int rc = MFKV_OK;
    for (uint32_t i = 0; i < n && !rc; i++) {
        mfkv_item_info it;
        char num[MFKV_FLOAT_TEXT_MAX];
        rc = mfkv_item(st, mfkv_list_item_index(list, i), &it);
        if (!rc) mfkv_user_json_item(&b, i == 0, &it, num, (size_t)mfkv_format_float(num, mfkv_list_score(list, i)));
    }
    mfkv_user_json_close(&b);
    if (!rc) rc = mfkv_buf_status(&b);
    if (!rc) fwrite(b.data, 1, b.len, out);
    mfkv_buf_free(&b);
    return rc;
}

int out_print_list(FILE *out, mfkv_store *st, out_format fmt, int titles, out_fallback fallback, const char *id,
                   size_t id_len, const mfkv_list *list, uint32_t n, int first)
{
    if (n > list->count) n = list->count;
    if (fmt == OUT_PREDICT) return print_predict(out, st, list, n, first);
    if (fmt == OUT_JSON) return print_json(out, st, id, id_len, fallback == OUT_FB_YES, list, n);
    char num[MFKV_FLOAT_TEXT_MAX];
    if (fmt == OUT_TEXT)
        fprintf(out, fallback == OUT_FB_YES ? "user %.*s (not in the store: the fallback list)\n" : "user %.*s\n",
                (int)id_len, id);
    for (uint32_t i = 0; i < n; i++) {
        mfkv_item_info it;
        int rc = mfkv_item(st, mfkv_list_item_index(list, i), &it);
        if (rc) return rc;
        mfkv_format_float(num, mfkv_list_score(list, i));
        if (fmt == OUT_TEXT) {
            fprintf(out, "%4u  %-10.*s %s", i + 1, (int)it.id_len, it.id, num);
            if (titles && it.title_len) fprintf(out, "%*s%.*s", 12 - (int)strlen(num), "", (int)it.title_len, it.title);
            if (titles && it.genres_len) fprintf(out, " (%.*s)", (int)it.genres_len, it.genres);
            fputc('\n', out);
            continue;
        }
        tsv_field(out, id, id_len);
        fprintf(out, "\t%u\t", i + 1);
        tsv_field(out, it.id, it.id_len);
        fprintf(out, "\t%s", num);
        if (titles) {
            fputc('\t', out);
            tsv_field(out, it.title, it.title_len);
            fputc('\t', out);
            tsv_field(out, it.genres, it.genres_len);
        }
        if (fallback != OUT_FB_NONE) fputs(fallback == OUT_FB_YES ? "\t1" : "\t0", out);
        fputc('\n', out);
    }
    return MFKV_OK;
}

void out_print_missing(FILE *out, out_format fmt, int titles, out_fallback fallback, const char *id, size_t id_len)
{
    if (fmt == OUT_JSON) {
        fputs("{\"user_id\":", out);
        out_json_string(out, id, id_len);
        fputs(",\"error\":\"not found\"}\n", out);
    } else if (fmt == OUT_TSV) {
        tsv_field(out, id, id_len);
        fputs(titles ? "\t\t\t\t\t" : "\t\t\t", out);
        if (fallback != OUT_FB_NONE) fputc('\t', out);
        fputc('\n', out);
    }
}
