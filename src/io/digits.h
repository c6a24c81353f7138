/*
 * digits.h - reading decimal digits eight at a time (SWAR), for the loaders
 * that read millions of ids and timestamps: a loop of compare-multiply-adds
 * over them, and its mispredicted exit at each field's end, were the
 * larger part of reading a rating line.
 */
#ifndef MFKV_IO_DIGITS_H
#define MFKV_IO_DIGITS_H

#include <stdint.h>
#include <string.h>

/* How many ASCII digits (0 to 8) the eight bytes at @p p begin with, and
 * in *value the number they spell.  All eight bytes are read, so they must
 * be there (mfkv_lines keeps MFKV_LINES_SLACK bytes past its lines); what
 * follows the digits does not change the result.  Little-endian byte order,
 * as on every target mfkv builds for. */
static inline unsigned mfkv_digits8(const char *p, uint64_t *value)
{
    uint64_t x;
    memcpy(&x, p, 8);
    const uint64_t high = 0xF0F0F0F0F0F0F0F0u, zeros = 0x3030303030303030u;
    /* A digit's high nibble is 3, and stays 3 when 6 is added; a carry
     * or borrow only reaches bytes after the first non-digit. */
    uint64_t bad = ((x & high) ^ zeros) | (((x + 0x0606060606060606u) & high) ^ zeros);
    unsigned n = bad ? (unsigned)__builtin_ctzll(bad) / 8 : 8;
    /* The digits to the top bytes, zeros (leading zero digits) below. */
    x = n ? (x - zeros) << (64 - 8 * n) : 0;
    x = (x * 10 + (x >> 8)) & 0x00FF00FF00FF00FFu;
    x = (x * 100 + (x >> 16)) & 0x0000FFFF0000FFFFu;
    x = (x * 10000 + (x >> 32)) & 0xFFFFFFFFu;
    *value = x;
    return n;
}

#endif
