#include "access_log.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <string.h>
#include <time.h>

#include "common/buf.h"

static void peer_text(const struct sockaddr *peer, char *out, size_t size)
{
    const void *addr = NULL;
    if (peer && peer->sa_family == AF_INET) addr = &((const struct sockaddr_in *)(const void *)peer)->sin_addr;
    if (peer && peer->sa_family == AF_INET6) addr = &((const struct sockaddr_in6 *)(const void *)peer)->sin6_addr;
    if (!addr || !inet_ntop(peer->sa_family, addr, out, (socklen_t)size)) snprintf(out, size, "-");
}

static void put_safe(mfkv_buf *b, const char *s)
{
    for (; s && *s; s++) {
        unsigned char c = (unsigned char)*s;
        if (c < 0x20 || c > 0x7e || c == '"' || c == '\\') mfkv_buf_printf(b, "\\x%02x", c);
        else mfkv_buf_put(b, s, 1);
    }
}

void serve_access_log(FILE *log, const struct sockaddr *peer, const char *method, const char *url,
                      const char *version, unsigned status, size_t bytes, uint64_t latency_ns)
{
    char addr[INET6_ADDRSTRLEN], when[64];
    peer_text(peer, addr, sizeof addr);
    time_t now = time(NULL);
    struct tm tm;
    strftime(when, sizeof when, "%d/%b/%Y:%H:%M:%S %z", localtime_r(&now, &tm));
    mfkv_buf line;
    mfkv_buf_init(&line);
    mfkv_buf_printf(&line, "%s - - [%s] \"", addr, when);
    put_safe(&line, method);
    mfkv_buf_put(&line, " ", 1);
    put_safe(&line, url);
    mfkv_buf_put(&line, " ", 1);
    put_safe(&line, version);
    mfkv_buf_printf(&line, "\" %u %zu %.3f\n", status, bytes, (double)latency_ns / 1e6);
    if (!mfkv_buf_status(&line)) {
        /* One write per line keeps lines from several threads whole. */
        fwrite(line.data, 1, line.len, log);
        fflush(log);
    }
    mfkv_buf_free(&line);
}
