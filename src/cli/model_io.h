/*
 * model_io.h - what the model subcommands (train, eval, weights, predict,
 * recommend) share: reading a model file with the error reported, and CSV
 * output of ids.
 */
#ifndef MFKV_CLI_MODEL_IO_H
#define MFKV_CLI_MODEL_IO_H

#include <stddef.h>

#include "common/model.h"
#include "train/als.h"

/* Read the model file @p path (info may be NULL); on failure print the
 * reason and return the exit code, else MFKV_EXIT_OK. */
int cli_read_model(const char *path, mfkv_model *m, mfkv_train_info *info);

/* Write @p s as one CSV field into @p dst (room for 2 * len + 2 bytes):
 * as is, or in double quotes with quotes doubled when it holds a comma,
 * quote, CR or LF.  Returns the bytes written. */
size_t cli_csv_field(char *dst, const char *s, size_t len);

/* Print a training-info table (ML.TRAINING_INFO's columns) on stdout. */
void cli_print_training_info(const mfkv_train_info *info);

#endif
