/* recommend.h - stream every predicted rating of a model (ML.RECOMMEND). */
#ifndef MFKV_TRAIN_RECOMMEND_H
#define MFKV_TRAIN_RECOMMEND_H

#include <stdio.h>

#include "common/model.h"

/* Write `predicted_rating,user_id,item_id` rows (header first when asked),
 * users and items in model order, ratings with 6 decimals: the dot product in
 * float, the sum of the parts in double.  0, or -1 on a write error or out
 * of memory. */
int mfkv_recommend_csv(const mfkv_model *m, FILE *out, int header);

#endif
