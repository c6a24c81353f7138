#include "model_io.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

#include "cli.h"
#include "train/modelfile.h"

int cli_read_model(const char *path, mfkv_model *m, mfkv_train_info *info)
{
    mfkv_diag d = {0};
    int rc = mfkv_modelfile_read(path, m, info, &d);
    if (rc) cli_error("%s", d.msg);
    return rc;
}

void cli_print_training_info(const mfkv_train_info *info)
{
    printf("%-12s %-9s %-12s %-12s %s\n", "training_run", "iteration", "loss", "eval_loss",
           "duration_ms");
    for (size_t r = 0; r < info->n_rows; r++) {
        const mfkv_train_row *row = &info->rows[r];
        char eval[32] = "NULL";
        if (!isnan(row->eval_loss)) snprintf(eval, sizeof eval, "%.6f", row->eval_loss);
        printf("%-12u %-9u %-12.6f %-12s %.0f\n", row->training_run, row->iteration, row->loss,
               eval, row->duration_ms);
    }
}
