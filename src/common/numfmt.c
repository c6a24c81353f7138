#include "numfmt.h"

#include <stdio.h>
#include <stdlib.h>

int mfkv_format_float(char *buf, float v)
{
    /* 9 significant digits always round-trip a float; fewer often do, and
     * the shortest is what Python, JavaScript and TF Serving clients print. */
    int n = 0;
    for (int prec = 1; prec <= 9; prec++) {
        n = snprintf(buf, 32, "%.*g", prec, (double)v);
        if (strtof(buf, NULL) == v) break;
    }
    return n;
}
