/* recommend.h - stream every predicted rating of a model (ML.RECOMMEND). */
#ifndef MFKV_TRAIN_RECOMMEND_H
#define MFKV_TRAIN_RECOMMEND_H

#include <stdio.h>

#include "common/diag.h"
#include "common/model.h"

/* Write `predicted_rating,user_id,item_id` rows (header first when asked) to
 * @p out, named @p name in the message, users and items in model order,
 * ratings with 6 decimals: the dot product in float, the sum of the parts in
 * double.  MFKV_OK, MFKV_IO (a write failed), MFKV_NOMEM
 * or MFKV_LIMIT (an id too long for the row buffer). */
int mfkv_recommend_csv(const mfkv_model *m, FILE *out, const char *name, int header, mfkv_diag *d);

#endif
