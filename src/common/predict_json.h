/* Moved to render/predict_json.h (it calls the reader, and src/common/ sits
 * below it).  This forward stays only until src/serve/ includes the new
 * path; then delete it. */
#include "render/predict_json.h"
