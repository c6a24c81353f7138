#include "progress.h"

#include <stdio.h>
#include <unistd.h>

#include "common/clock.h"

void cli_progress_init(cli_progress *p, const char *unit, int quiet)
{
    p->unit = unit;
    p->enabled = !quiet && isatty(STDERR_FILENO);
    p->start = mfkv_now();
    p->last_draw = 0;
}

void cli_progress_update(void *ctx, uint64_t done, uint64_t total)
{
    cli_progress *p = ctx;
    if (!p || !p->enabled) return;
    double now = mfkv_now();
    if (now - p->last_draw < 0.1 && done < total) return;
    p->last_draw = now;
    double elapsed = now - p->start, rate = elapsed > 0 ? (double)done / elapsed : 0;
    double eta = rate > 0 ? (double)(total - done) / rate : 0;
    int width = 30, filled = total ? (int)((double)done / (double)total * width) : width;
    char bar[32];
    for (int i = 0; i < width; i++) bar[i] = i < filled ? '#' : '.';
    bar[width] = '\0';
    fprintf(stderr, "\r[%s] %llu/%llu %s  %.0f %s/s  ETA %.0fs   ", bar, (unsigned long long)done,
            (unsigned long long)total, p->unit, rate, p->unit, eta);
    fflush(stderr);
}

void cli_progress_done(cli_progress *p)
{
    if (p->enabled) fputs("\r\033[K", stderr);
}
