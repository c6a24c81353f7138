/* clock.h - a monotonic clock for timings reported to the user. */
#ifndef MFKV_CLOCK_H
#define MFKV_CLOCK_H

/* Seconds since an arbitrary fixed point; only differences mean anything. */
double mfkv_now(void);

#endif
