#include "slow_clients.h"

#include <stdlib.h>
#include <sys/socket.h>

#include "common/clock.h"

static int64_t now_ms(void) { return (int64_t)(mfkv_now() * 1000.0); }

void slow_clients_init(slow_clients *l)
{
    pthread_mutex_init(&l->lock, NULL);
    l->head.prev = l->head.next = &l->head;
}

void slow_clients_destroy(slow_clients *l)
{
    /* Connections unregister themselves when the daemon stops. */
    pthread_mutex_destroy(&l->lock);
}

slow_client *slow_clients_add(slow_clients *l, int fd)
{
    slow_client *c = calloc(1, sizeof *c);
    if (!c) return NULL;
    c->fd = fd;
    atomic_init(&c->waiting, 1);
    atomic_init(&c->since_ms, now_ms());
    pthread_mutex_lock(&l->lock);
    c->prev = l->head.prev;
    c->next = &l->head;
    l->head.prev->next = c;
    l->head.prev = c;
    pthread_mutex_unlock(&l->lock);
    return c;
}

void slow_clients_remove(slow_clients *l, slow_client *c)
{
    if (!c) return;
    pthread_mutex_lock(&l->lock);
    c->prev->next = c->next;
    c->next->prev = c->prev;
    pthread_mutex_unlock(&l->lock);
    free(c);
}

void slow_client_answered(slow_client *c)
{
    if (c) atomic_store_explicit(&c->waiting, 0, memory_order_relaxed);
}

void slow_client_idle(slow_client *c)
{
    if (!c) return;
    atomic_store_explicit(&c->since_ms, now_ms(), memory_order_relaxed);
    /* Release: a sweep that sees waiting also sees the new start. */
    atomic_store_explicit(&c->waiting, 1, memory_order_release);
}

/* Whether the peer has shut down its sending side with nothing left unread. */
static int peer_closed(int fd)
{
    char byte;
    return recv(fd, &byte, 1, MSG_PEEK | MSG_DONTWAIT) == 0;
}

unsigned slow_clients_sweep(slow_clients *l, int64_t limit_ms)
{
    unsigned cut = 0;
    int64_t now = now_ms();
    /* Under the lock: an entry's fd stays open until it is removed. */
    pthread_mutex_lock(&l->lock);
    for (slow_client *c = l->head.next; c != &l->head; c = c->next) {
        if (!atomic_load_explicit(&c->waiting, memory_order_acquire)) {
            c->eof_sweeps = 0;
            continue;
        }
        c->eof_sweeps = peer_closed(c->fd) ? c->eof_sweeps + 1 : 0;
        if (c->eof_sweeps < 2 && now - atomic_load_explicit(&c->since_ms, memory_order_relaxed) <= limit_ms)
            continue;
        shutdown(c->fd, SHUT_RDWR);
        atomic_store_explicit(&c->waiting, 0, memory_order_relaxed); /* once is enough */
        cut++;
    }
    pthread_mutex_unlock(&l->lock);
    return cut;
}
