/*
 * splitmix.h - SplitMix64 (Steele, Lea, Flood 2014): the one seedable
 * pseudo-random mixer of mfkv and its tests.  Tiny, fast and the same on
 * every platform, so a seed reproduces a holdout split or a test model
 * anywhere.  Not for anything that needs unpredictability.
 */
#ifndef MFKV_SPLITMIX_H
#define MFKV_SPLITMIX_H

#include <stdint.h>

#define MFKV_SPLITMIX_GAMMA 0x9E3779B97F4A7C15ull

/* The output for counter value @p x: a stateless hash of it. */
static inline uint64_t mfkv_splitmix64(uint64_t x)
{
    x += MFKV_SPLITMIX_GAMMA;
    x = (x ^ (x >> 30)) * 0xBF58476D1CE4E5B9ull;
    x = (x ^ (x >> 27)) * 0x94D049BB133111EBull;
    return x ^ (x >> 31);
}

/* The generator: the next output of the stream whose state is *@p state. */
static inline uint64_t mfkv_splitmix64_next(uint64_t *state)
{
    uint64_t out = mfkv_splitmix64(*state);
    *state += MFKV_SPLITMIX_GAMMA;
    return out;
}

#endif
