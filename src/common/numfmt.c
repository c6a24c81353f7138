#include "numfmt.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* "d.ddde+X" (from %e) rewritten positionally with the same digits. */
static int positional(const char *sci, int exp10, char *out)
{
    char digits[16];
    size_t nd = 0, o = 0;
    const char *p = sci;
    if (*p == '-') out[o++] = *p++;
    for (; *p != 'e'; p++)
        if (*p != '.') digits[nd++] = *p;
    if (exp10 < 0) {
        out[o++] = '0';
        out[o++] = '.';
        for (int z = -1; z > exp10; z--) out[o++] = '0';
        memcpy(out + o, digits, nd);
        o += nd;
    } else if ((size_t)exp10 + 1 >= nd) {
        memcpy(out + o, digits, nd);
        o += nd;
        for (size_t z = nd; z < (size_t)exp10 + 1; z++) out[o++] = '0';
    } else {
        memcpy(out + o, digits, (size_t)exp10 + 1);
        o += (size_t)exp10 + 1;
        out[o++] = '.';
        memcpy(out + o, digits + exp10 + 1, nd - (size_t)exp10 - 1);
        o += nd - (size_t)exp10 - 1;
    }
    out[o] = '\0';
    return (int)o;
}

int mfkv_format_float(char *out, float v)
{
    if (!isfinite(v)) {
        memcpy(out, "null", 5);
        return 4;
    }
    /* Fewest significant digits that read back as v; 9 always do. */
    char sci[MFKV_FLOAT_TEXT_MAX];
    for (int digits = 1; digits <= 9; digits++) {
        snprintf(sci, sizeof sci, "%.*e", digits - 1, (double)v);
        if (strtof(sci, NULL) == v) break;
    }
    int exp10 = atoi(strchr(sci, 'e') + 1);
    /* Positional where JavaScript would write it so, else C's "%e" form. */
    if (exp10 >= -6 && exp10 < 21) return positional(sci, exp10, out);
    size_t n = strlen(sci);
    memcpy(out, sci, n + 1);
    return (int)n;
}
