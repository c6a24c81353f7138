/*
 * linger.h - a bounded lingering close, nginx's way.
 *
 * When the server answers before it has read a whole request (413 on a
 * declared Content-Length, 431 on oversized headers), the client is often
 * still sending.  Closing a socket whose receive queue holds unread bytes
 * makes the kernel send a reset, and a reset that arrives before the client
 * reads the answer destroys it: urllib and http.client then report
 * ECONNRESET/EPIPE instead of the 413 or 431.  So http.c hands such a
 * socket here once the answer is sent, instead of closing it, and this
 * thread shuts down the sending side (the client sees the answer and a
 * FIN), reads and discards what still comes, and closes at the client's EOF
 * or at a bound, whichever comes first:
 *   SERVE_LINGER_TIME_S     total time (nginx lingering_time, 30 s)
 *   SERVE_LINGER_TIMEOUT_S  silence between reads (nginx lingering_timeout, 5 s)
 *   SERVE_LINGER_MAX_BYTES  bytes discarded per connection
 * Past a bound the socket is closed as before (a client still sending then
 * sees a reset).  At most a fixed number of sockets linger at once; beyond
 * that a socket is closed at once.
 */
#ifndef MFKV_SERVE_LINGER_H
#define MFKV_SERVE_LINGER_H

#include <stdint.h>

#include "common/diag.h"

#define SERVE_LINGER_TIME_S 30
#define SERVE_LINGER_TIMEOUT_S 5
#define SERVE_LINGER_MAX_BYTES (64u << 20)

typedef struct serve_linger serve_linger;

/* Start the lingering thread for up to @p max_sockets sockets at once.
 * @return MFKV_OK, or a status with @p d filled. */
int serve_linger_start(unsigned max_sockets, serve_linger **out, mfkv_diag *d);

/* Take over @p fd (a dup of a connection's socket) and close it once the
 * client is done or a bound is reached.  Thread-safe. */
void serve_linger_add(serve_linger *l, int fd);

/* How many sockets linger now (for tests and /metrics). */
unsigned serve_linger_count(serve_linger *l);

/* Close every lingering socket and stop the thread.  NULL-safe. */
void serve_linger_stop(serve_linger *l);

#endif
