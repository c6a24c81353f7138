#include "numfmt.h"

#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/float_digits.h"

/* A float as significant decimal digits and the decimal exponent of the
 * first one: -d.ddd x 10^exp10. */
typedef struct decimal {
    int negative;
    int exp10;
    int nd;
    char digits[MFKV_FLOAT_DIGITS_MAX];
} decimal;

/*
 * The definition itself, for powers of two: C's "%.*e" rounds the exact
 * binary value to d digits and strtof reads it back; the first d that reads
 * back as v wins (9 always do).
 *
 * Why: Dragonbox returns, among the decimals with the fewest digits inside
 * v's rounding interval, the one nearest v; the rule here rounds v itself
 * to d digits.  Both pick the same text when the interval is symmetric
 * around v (if some d-digit decimal is inside, the nearest one is no
 * farther, so it is inside too).  Below a power of two the next float down
 * is half as far as the next one up, so the interval reaches half as far
 * below v as above: a d-digit decimal above v can be inside while the
 * nearest, below v, is just outside, and then printf needs more digits than
 * Dragonbox gives (2^87: Dragonbox 1.5474251e+26, printf 1.54742505e+26).
 * Of the 254 powers of two only 2^-96, 2^87 and 2^90 come out different,
 * far from any score; rather than rest on that list, every power of two
 * takes this path (one printf and strtof for most of them).  No length
 * shorter than Dragonbox's reads back, so the loop starts there.
 */
static void nearest_by_libc(float v, int from, decimal *out)
{
    char sci[MFKV_FLOAT_TEXT_MAX];
    for (int digits = from; digits <= 9; digits++) {
        snprintf(sci, sizeof sci, "%.*e", digits - 1, (double)v);
        if (strtof(sci, NULL) == v) break;
    }
    const char *p = sci + out->negative;
    out->nd = 0;
    for (; *p != 'e'; p++)
        if (*p != '.') out->digits[out->nd++] = *p;
    out->exp10 = atoi(p + 1);
}

/* The digits positionally: "123.45", "0.00012", "1200". */
static int positional(const decimal *x, char *out)
{
    size_t nd = (size_t)x->nd, o = 0;
    if (x->negative) out[o++] = '-';
    if (x->exp10 < 0) {
        out[o++] = '0';
        out[o++] = '.';
        for (int z = -1; z > x->exp10; z--) out[o++] = '0';
        memcpy(out + o, x->digits, nd);
        o += nd;
    } else if ((size_t)x->exp10 + 1 >= nd) {
        memcpy(out + o, x->digits, nd);
        o += nd;
        for (size_t z = nd; z < (size_t)x->exp10 + 1; z++) out[o++] = '0';
    } else {
        memcpy(out + o, x->digits, (size_t)x->exp10 + 1);
        o += (size_t)x->exp10 + 1;
        out[o++] = '.';
        memcpy(out + o, x->digits + x->exp10 + 1, nd - (size_t)x->exp10 - 1);
        o += nd - (size_t)x->exp10 - 1;
    }
    out[o] = '\0';
    return (int)o;
}

/* The digits as C's "%e" writes them: "-1.5e+22", "1e-07". */
static int scientific(const decimal *x, char *out)
{
    return snprintf(out, MFKV_FLOAT_TEXT_MAX, "%s%c%s%.*se%+03d", x->negative ? "-" : "", x->digits[0],
                    x->nd > 1 ? "." : "", x->nd - 1, x->digits + 1, x->exp10);
}

int mfkv_format_float(char *out, float v)
{
    if (!isfinite(v)) {
        memcpy(out, "null", 5);
        return 4;
    }
    uint32_t bits;
    memcpy(&bits, &v, sizeof bits);
    decimal x;
    x.negative = (bits >> 31) != 0;
    x.nd = mfkv_float_digits(v, x.digits, &x.exp10);
    /* Mantissa bits all zero and not zero itself: a power of two. */
    if ((bits & 0x7fffff) == 0 && (bits & 0x7f800000) != 0) nearest_by_libc(v, x.nd, &x);
    /* Positional where JavaScript would write it so, else C's "%e" form. */
    if (x.exp10 >= -6 && x.exp10 < 21) return positional(&x, out);
    return scientific(&x, out);
}
