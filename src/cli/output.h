/* output.h - how `get` and `dump` print ranked lists. */
#ifndef MFKV_CLI_OUTPUT_H
#define MFKV_CLI_OUTPUT_H

#include <stdio.h>

#include "mfkv.h"

typedef enum out_format { OUT_TEXT, OUT_TSV, OUT_JSON, OUT_PREDICT } out_format;

/* "text" | "tsv" | "json" | "predict"; -1 when unknown. */
int out_format_parse(const char *s);

/* Print the first n entries of @p list for user @p id in format @p fmt.
 * For OUT_PREDICT, @p first says whether this is the first prediction of the
 * response (the caller prints the envelope).  Returns an mfkv_status. */
int out_print_list(FILE *out, mfkv_store *st, out_format fmt, int titles, const char *id, size_t id_len,
                   const mfkv_list *list, uint32_t n, int first);

/* A JSON string literal for s[0..len), escaped as the server escapes it. */
void out_json_string(FILE *out, const char *s, size_t len);

#endif
