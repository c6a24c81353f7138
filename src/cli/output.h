/* output.h - how `get` and `dump` print ranked lists. */
#ifndef MFKV_CLI_OUTPUT_H
#define MFKV_CLI_OUTPUT_H

#include <stdio.h>

#include "mfkv.h"

typedef enum out_format { OUT_TEXT, OUT_TSV, OUT_JSON, OUT_PREDICT } out_format;

/* "text" | "tsv" | "json" | "predict"; -1 when unknown. */
int out_format_parse(const char *s);

/* How a list says whether it is the store's fallback list (the list for
 * unknown users) standing in for the user asked about. */
typedef enum out_fallback {
    OUT_FB_NONE = -1, /* not asked (dump, get without --fallback): tsv has no column for it */
    OUT_FB_NO = 0,    /* the user's own list */
    OUT_FB_YES = 1,   /* the fallback list: json "fallback":true, a tsv column 1, a text note */
} out_fallback;

/* Print the first n entries of @p list for user @p id in format @p fmt:
 *   text  "user ID" then one line per entry (rank, item, score[, title (genres)])
 *   tsv   user_id rank item_id score [title genres] [fallback 0|1], a line per entry
 *   json  the server's shape, src/common/user_json.h (titles always in it)
 * For OUT_PREDICT, @p first says whether this is the first prediction of the
 * response (the caller prints the envelope).  Returns an mfkv_status. */
int out_print_list(FILE *out, mfkv_store *st, out_format fmt, int titles, out_fallback fallback, const char *id,
                   size_t id_len, const mfkv_list *list, uint32_t n, int first);

/* The line an id that is not found gets in tsv and json, so output lines up
 * with input: tsv the id and empty fields, json
 * {"user_id":"ID","error":"not found"}.  Nothing in text and predict. */
void out_print_missing(FILE *out, out_format fmt, int titles, out_fallback fallback, const char *id, size_t id_len);

#endif
