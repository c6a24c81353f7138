/* progress.h - a progress bar on stderr for long work, shown only when
 * stderr is a terminal, so logs and pipes stay clean. */
#ifndef MFKV_CLI_PROGRESS_H
#define MFKV_CLI_PROGRESS_H

#include <stdint.h>

typedef struct cli_progress {
    const char *unit;
    int enabled;
    double start, last_draw;
} cli_progress;

void cli_progress_init(cli_progress *p, const char *unit, int quiet);
/* Matches mfkv_progress_fn: redraws at most ten times a second. */
void cli_progress_update(void *ctx, uint64_t done, uint64_t total);
/* Clear the bar's line. */
void cli_progress_done(cli_progress *p);

#endif
