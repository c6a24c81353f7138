/*
 * access_log.h - one line per request, in the Common Log Format plus the
 * duration: ADDR - - [TIME] "METHOD URL VERSION" STATUS BYTES DURATION_MS
 * Bytes of the request outside printable ASCII are written as \xHH, so a
 * hostile URL cannot forge log lines.
 */
#ifndef MFKV_SERVE_ACCESS_LOG_H
#define MFKV_SERVE_ACCESS_LOG_H

#include <stdint.h>
#include <stdio.h>
#include <sys/socket.h>

void serve_access_log(FILE *log, const struct sockaddr *peer, const char *method, const char *url,
                      const char *version, unsigned status, size_t bytes, uint64_t latency_ns);

#endif
