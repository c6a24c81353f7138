#include "numfmt.h"

#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* A float as significant decimal digits and the decimal exponent of the
 * first one: -d.ddd x 10^exp10. */
typedef struct decimal {
    int negative;
    int exp10;
    int nd;
    char digits[12];
} decimal;

/*
 * The slow exact way: C's "%.*e" rounds the exact binary value to d digits
 * and strtof reads it back; the first d that reads back as v wins (9 always
 * do).  Used where the 128-bit arithmetic below would overflow.
 */
static void shortest_by_libc(float v, decimal *out)
{
    char sci[MFKV_FLOAT_TEXT_MAX];
    for (int digits = 1; digits <= 9; digits++) {
        snprintf(sci, sizeof sci, "%.*e", digits - 1, (double)v);
        if (strtof(sci, NULL) == v) break;
    }
    const char *p = sci;
    out->negative = *p == '-';
    if (out->negative) p++;
    out->nd = 0;
    for (; *p != 'e'; p++)
        if (*p != '.') out->digits[out->nd++] = *p;
    out->exp10 = atoi(p + 1);
}

typedef unsigned __int128 u128;

/* 5^p for 0 <= p <= 40 (5^27 is the largest that fits 64 bits), from a
 * table: a loop of multiplications was a good part of each call. */
static u128 pow5(int p)
{
    static const uint64_t table[28] = {
        1u, 5u, 25u, 125u, 625u, 3125u, 15625u, 78125u, 390625u, 1953125u, 9765625u, 48828125u, 244140625u,
        1220703125u, 6103515625u, 30517578125u, 152587890625u, 762939453125u, 3814697265625u,
        19073486328125u, 95367431640625u, 476837158203125u, 2384185791015625u, 11920928955078125u,
        59604644775390625u, 298023223876953125u, 1490116119384765625u, 7450580596923828125u
    };
    return p >= 27 ? (u128)table[27] * table[p - 27] : table[p];
}

/* x * 10^p as num / den with den a power of 2 times a power of 5, for
 * x = t * 2^e2; only the factors are returned (num = t * *num_factor).
 * Returns -1 when a factor does not fit. */
static int scale_factors(int e2, int p, u128 *num_factor, u128 *den)
{
    int s2 = e2 + p;
    if (p > 40 || p < -40 || s2 > 100 || s2 < -100) return -1;
    u128 f5 = pow5(p < 0 ? -p : p); /* 5^40 < 2^93 */
    u128 num = p >= 0 ? f5 : 1, d = p < 0 ? f5 : 1;
    u128 *two = s2 >= 0 ? &num : &d;
    int shift = s2 >= 0 ? s2 : -s2;
    if (*two >> (127 - shift)) return -1;
    *two <<= shift;
    *num_factor = num;
    *den = d;
    return 0;
}

static int mul_fits(u128 a, u128 b, u128 *out)
{
    return !__builtin_mul_overflow(a, b, out);
}

/* t * 2^e2 * 10^p as an integer part and whether a fraction is left over
 * (0: none, 1: below a half, 2: exactly a half, 3: above); -1: too big. */
typedef struct scaled {
    uint64_t whole;
    int frac;
} scaled;

static int scale(u128 t, u128 f, u128 den, scaled *out)
{
    u128 x, q, rem;
    if (!mul_fits(t, f, &x)) return -1;
    if ((den & (den - 1)) == 0) {
        /* A power of two (for every value below 1e9, scores among them):
         * shifts, where a 128-bit division is a slow library call. */
        uint64_t low = (uint64_t)den;
        int k = low ? __builtin_ctzll(low) : 64 + __builtin_ctzll((uint64_t)(den >> 64));
        q = x >> k;
        rem = x & (den - 1);
    } else {
        q = x / den;
        rem = x % den;
    }
    if (q > UINT64_MAX) return -1;
    out->whole = (uint64_t)q;
    out->frac = rem == 0 ? 0 : rem * 2 < den ? 1 : rem * 2 == den ? 2 : 3;
    return 0;
}

/* Is n * 10^k (an integer) >= a, or > a when @p strict?  a is a scaled. */
static int at_least(uint64_t n, uint64_t ten_k, const scaled *a, int strict)
{
    u128 v = (u128)n * ten_k;
    if (v != a->whole) return v > a->whole;
    return !strict && a->frac == 0;
}

/* Is n * 10^k <= b, or < b when @p strict? */
static int at_most(uint64_t n, uint64_t ten_k, const scaled *b, int strict)
{
    u128 v = (u128)n * ten_k;
    if (v != b->whole) return v < b->whole;
    return !strict || b->frac != 0;
}

/*
 * The same digits as shortest_by_libc, exactly, with integers: v = m * 2^e
 * (m 24 bits) and its rounding interval (lo, hi) in units of 2^(e-2), all
 * scaled by 10^p to 9 significant digits once; then for d = 1..9 digits the
 * integer N nearest v * 10^(p-9+d) (ties to even, as printf rounds) is
 * accepted when N * 10^(9-d) is inside the interval (ends included when m
 * is even: strtof rounds ties to even).
 * Returns -1, leaving the work to libc, for zero, subnormals and values so
 * large or small that 128 bits do not hold the scaled numbers.
 */
static int shortest_by_integers(float v, decimal *out)
{
    uint32_t bits;
    memcpy(&bits, &v, sizeof bits);
    uint32_t biased = (bits >> 23) & 0xff, frac = bits & 0x7fffff;
    if (biased == 0 || biased == 0xff) return -1;
    uint64_t m = frac | (1u << 23);
    int e2 = (int)biased - 150 - 2; /* units of 2^(e-2) */
    u128 mid = 4 * m, hi = 4 * m + 2;
    /* Below a power of two the next float down is half as far. */
    u128 lo = frac == 0 && biased > 1 ? 4 * m - 1 : 4 * m - 2;
    int inclusive = (m & 1) == 0;

    /* exp10: 10^exp10 <= |v| < 10^(exp10+1), guessed within one from the
     * binary exponent (2^b <= |v| < 2^(b+1), 78913 / 2^18 ~ log10(2)), then
     * checked exactly. */
    int b = (int)biased - 127;
    int exp10 = b >= 0 ? (b * 78913) >> 18 : -((-b * 78913 + (1 << 18) - 1) >> 18);
    for (int tries = 0;; tries++) {
        u128 f, den, x, ten_den;
        if (tries > 2 || scale_factors(e2, -exp10, &f, &den) || !mul_fits(mid, f, &x) ||
            !mul_fits(den, 10, &ten_den))
            return -1;
        if (x < den) exp10--;
        else if (x >= ten_den) exp10++;
        else break;
    }

    u128 f, den;
    scaled x, xlo, xhi;
    if (scale_factors(e2, 8 - exp10, &f, &den) || scale(mid, f, den, &x) || scale(lo, f, den, &xlo) ||
        scale(hi, f, den, &xhi))
        return -1;
    /* n: the first d of the 9 digits, kept as d grows, and rem what
     * follows them, so that no step divides (a variable divisor would be a
     * slow division instruction each time). */
    static const uint64_t pow10[10] = {1, 10, 100, 1000, 10000, 100000, 1000000, 10000000, 100000000,
                                       1000000000};
    char nine[9];
    for (int i = 8, w = (int)x.whole; i >= 0; i--, w /= 10) nine[i] = (char)(w % 10);
    /* While both ends of the interval share their first d digits, no
     * d-digit candidate lies inside it, unless the low end is one exactly
     * (a whole number ending in 0; then every d is tried).  So the first d
     * worth trying is where the ends part: most floats need 7 or more
     * digits, and this skips the rounding and tests of the shorter ones. */
    int first = 1;
    if (xlo.frac != 0 || xlo.whole % 10 != 0) {
        uint64_t a = xlo.whole, b = xhi.whole;
        int k = 0;
        for (; a != b; k++, a /= 10, b /= 10) {}
        first = k >= 9 ? 1 : 10 - k > 9 ? 9 : 10 - k;
    }
    uint64_t prefix = 0;
    for (int d = 1; d <= 9; d++) {
        uint64_t ten_k = pow10[9 - d]; /* 10^(9-d) */
        prefix = prefix * 10 + (uint64_t)nine[d - 1];
        if (d < first) continue;
        uint64_t n = prefix, rem = x.whole - prefix * ten_k, half = ten_k / 2;
        /* Round the 9-digit value (and its leftover fraction) to d digits. */
        int above_half, tie;
        if (ten_k == 1) {
            above_half = x.frac == 3;
            tie = x.frac == 2;
        } else {
            above_half = rem > half || (rem == half && x.frac != 0);
            tie = rem == half && x.frac == 0;
        }
        if (above_half || (tie && (n & 1))) n++;
        if (!at_least(n, ten_k, &xlo, !inclusive) || !at_most(n, ten_k, &xhi, !inclusive)) continue;
        int e = exp10;
        if (n == pow10[d]) { /* 9.99 rounded up to 10.0: one more decade */
            n /= 10;
            e++;
        }
        out->negative = (bits >> 31) != 0;
        out->exp10 = e;
        out->nd = d;
        for (int i = d - 1; i >= 0; i--, n /= 10) out->digits[i] = (char)('0' + (int)(n % 10));
        return 0;
    }
    return -1;
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
    decimal x;
    if (shortest_by_integers(v, &x)) shortest_by_libc(v, &x);
    /* Positional where JavaScript would write it so, else C's "%e" form. */
    if (x.exp10 >= -6 && x.exp10 < 21) return positional(&x, out);
    return scientific(&x, out);
}
