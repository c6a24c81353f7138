/*
 * model_io.h - what the model subcommands (train, eval, weights, predict,
 * recommend) share: reading a model file with the error reported and the
 * training-info table.
 */
#ifndef MFKV_CLI_MODEL_IO_H
#define MFKV_CLI_MODEL_IO_H

#include <stddef.h>

#include "common/model.h"
#include "train/als.h"

/* Read the model file @p path (info may be NULL); on failure print the
 * reason.  Returns an mfkv_status (the caller maps it to an exit code). */
int cli_read_model(const char *path, mfkv_model *m, mfkv_train_info *info);

/* Print a training-info table (ML.TRAINING_INFO's columns) on stdout. */
void cli_print_training_info(const mfkv_train_info *info);

#endif
