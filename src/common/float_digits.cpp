/*
 * float_digits.cpp - see float_digits.h.
 *
 * Dragonbox (Jeon, 2020) through libfmt, header-only so that nothing new is
 * linked.  fmt's public "{}" runs the same function and then writes the
 * digits in its own layout (positional only for decimal exponents -4..15),
 * which is not numfmt.h's, so its text would have to be read back into
 * digits: 67 ns per score in all that way (FMT_COMPILE("{}"): 87 ns)
 * against 30 ns with the digits straight from
 * fmt::detail::dragonbox::to_decimal, the function "{}" calls (declared in
 * fmt/format.h; a detail name, so a later fmt may move it, and the build
 * would say so), and 112 ns for the hand-written code this replaced
 * (mfkv_format_float on 1 M scores in -1..6, CPU time, best of five
 * interleaved rounds; tools/SERVE_RELIABILITY.md).  The significand becomes
 * text through fmt's public fmt::format_int.
 */
#define FMT_HEADER_ONLY
#include "common/float_digits.h"

#include <cstring>

#include <fmt/format.h>

extern "C" int mfkv_float_digits(float v, char digits[MFKV_FLOAT_DIGITS_MAX], int *exp10)
{
    /* The sign bit is ignored; zero gives significand 0. */
    fmt::detail::dragonbox::decimal_fp<float> d = fmt::detail::dragonbox::to_decimal(v);
    fmt::format_int text(d.significand);
    std::memcpy(digits, text.data(), text.size());
    *exp10 = d.exponent + (int)text.size() - 1;
    return (int)text.size();
}
