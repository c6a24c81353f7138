/*
 * slow_clients.h - cut off clients that take too long to send a request.
 *
 * libmicrohttpd's connection timeout only counts idle time, so a client
 * that sends one header byte every few seconds (slowloris) would hold its
 * connection forever.  Every open connection is registered here; it is
 * "waiting" from when it opens or its last response completes until the
 * request's response is queued, and a sweep shuts down the socket of every
 * connection that has been waiting longer than the limit.  shutdown(2)
 * leaves the descriptor to libmicrohttpd, which sees end-of-file and closes
 * the connection itself.
 *
 * A client that shuts down its sending side in the middle of a request
 * (declared Content-Length 100000, sent 2 bytes) will never complete it, but
 * libmicrohttpd keeps waiting for the body until the timeout.  The sweep
 * also cuts a waiting connection whose peer has closed (recv peeks EOF) on
 * two sweeps in a row: a complete request sent just before the client's
 * EOF is answered long before the second sweep, and answering ends waiting.
 */
#ifndef MFKV_SERVE_SLOW_CLIENTS_H
#define MFKV_SERVE_SLOW_CLIENTS_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>

typedef struct slow_client {
    struct slow_client *prev, *next;
    int fd;
    atomic_int waiting;
    atomic_int_fast64_t since_ms; /* CLOCK_MONOTONIC, when waiting began */
    int eof_sweeps; /* sweeps in a row that saw the peer's EOF (sweeper only) */
    int answered_early; /* a request was answered before it was read whole
                           (only its connection's thread touches this) */
} slow_client;

typedef struct slow_clients {
    pthread_mutex_t lock; /* the list; a connection is removed before its fd is closed */
    slow_client head;     /* sentinel of a circular list */
} slow_clients;

void slow_clients_init(slow_clients *l);
void slow_clients_destroy(slow_clients *l);

/* Register a newly opened connection on socket @p fd (waiting from now).
 * @return the entry, or NULL when out of memory (then it is not watched). */
slow_client *slow_clients_add(slow_clients *l, int fd);

/* Unregister (NULL-safe); call before the socket is closed. */
void slow_clients_remove(slow_clients *l, slow_client *c);

/* The request is answered: stop the clock (NULL-safe). */
void slow_client_answered(slow_client *c);

/* The response is done: the next request's clock starts now (NULL-safe). */
void slow_client_idle(slow_client *c);

/* Shut down every connection waiting more than @p limit_ms, or waiting on a
 * peer that has closed its side.  @return how many were shut down. */
unsigned slow_clients_sweep(slow_clients *l, int64_t limit_ms);

#endif
