#include "linger.h"

#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <unistd.h>

#include "common/clock.h"
#include "mfkv.h"

typedef struct linger_slot {
    int fd; /* -1: free */
    double started, last_read;
    uint64_t discarded;
} linger_slot;

struct serve_linger {
    pthread_t thread;
    int epoll_fd, stop_fd;
    pthread_mutex_t lock; /* slots[].fd, free list, count */
    linger_slot *slots;
    unsigned *free_list, n_free, max;
};

/* Under the lock. */
static void release(serve_linger *l, unsigned i)
{
    epoll_ctl(l->epoll_fd, EPOLL_CTL_DEL, l->slots[i].fd, NULL);
    close(l->slots[i].fd);
    l->slots[i].fd = -1;
    l->free_list[l->n_free++] = i;
}

/* Discard what the client sent; whether the socket should close now. */
static int drain(linger_slot *s, double now)
{
    static char sink[16384]; /* only written, never read: sharing is harmless */
    for (;;) {
        ssize_t n = recv(s->fd, sink, sizeof sink, MSG_DONTWAIT);
        if (n == 0) return 1; /* the client's EOF: it has read what it wanted */
        if (n < 0) return errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR;
        s->last_read = now;
        s->discarded += (uint64_t)n;
        if (s->discarded > SERVE_LINGER_MAX_BYTES) return 1;
    }
}

static int expired(const linger_slot *s, double now)
{
    return now - s->started > SERVE_LINGER_TIME_S || now - s->last_read > SERVE_LINGER_TIMEOUT_S;
}

static void *run(void *arg)
{
    serve_linger *l = arg;
    struct epoll_event ev[64];
    double next_sweep = 0;
    for (;;) {
        int n = epoll_wait(l->epoll_fd, ev, 64, 500);
        double now = mfkv_now();
        pthread_mutex_lock(&l->lock);
        for (int i = 0; i < n; i++) {
            if (ev[i].data.u32 == UINT32_MAX) {
                pthread_mutex_unlock(&l->lock);
                return NULL;
            }
            linger_slot *s = &l->slots[ev[i].data.u32];
            if (s->fd >= 0 && drain(s, now)) release(l, ev[i].data.u32);
        }
        if (now >= next_sweep) { /* the time bounds, twice a second at most */
            for (unsigned i = 0; i < l->max; i++)
                if (l->slots[i].fd >= 0 && expired(&l->slots[i], now)) release(l, i);
            next_sweep = now + 0.5;
        }
        pthread_mutex_unlock(&l->lock);
    }
}

static void destroy(serve_linger *l)
{
    if (l->epoll_fd >= 0) close(l->epoll_fd);
    if (l->stop_fd >= 0) close(l->stop_fd);
    pthread_mutex_destroy(&l->lock);
    free(l->slots);
    free(l->free_list);
    free(l);
}

int serve_linger_start(unsigned max_sockets, serve_linger **out, mfkv_diag *d)
{
    *out = NULL;
    serve_linger *l = calloc(1, sizeof *l);
    if (!l) return mfkv_fail(d, MFKV_NOMEM, "serve: out of memory");
    pthread_mutex_init(&l->lock, NULL);
    l->max = max_sockets;
    l->slots = calloc(max_sockets, sizeof *l->slots);
    l->free_list = calloc(max_sockets, sizeof *l->free_list);
    l->epoll_fd = epoll_create1(EPOLL_CLOEXEC);
    l->stop_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
    if (!l->slots || !l->free_list) {
        destroy(l);
        return mfkv_fail(d, MFKV_NOMEM, "serve: out of memory");
    }
    for (unsigned i = 0; i < max_sockets; i++) {
        l->slots[i].fd = -1;
        l->free_list[i] = max_sockets - 1 - i;
    }
    l->n_free = max_sockets;
    struct epoll_event stop = {.events = EPOLLIN, .data.u32 = UINT32_MAX};
    if (l->epoll_fd < 0 || l->stop_fd < 0 || epoll_ctl(l->epoll_fd, EPOLL_CTL_ADD, l->stop_fd, &stop) ||
        (errno = pthread_create(&l->thread, NULL, run, l)) != 0) {
        int rc = mfkv_fail_errno(d, "serve: lingering close");
        destroy(l);
        return rc;
    }
    *out = l;
    return MFKV_OK;
}

void serve_linger_add(serve_linger *l, int fd)
{
    /* The answer is out: the FIN tells the client no more comes. */
    shutdown(fd, SHUT_WR);
    pthread_mutex_lock(&l->lock);
    if (!l->n_free) {
        pthread_mutex_unlock(&l->lock);
        close(fd);
        return;
    }
    unsigned i = l->free_list[--l->n_free];
    double now = mfkv_now();
    l->slots[i] = (linger_slot){.fd = fd, .started = now, .last_read = now};
    struct epoll_event ev = {.events = EPOLLIN | EPOLLRDHUP, .data.u32 = i};
    if (epoll_ctl(l->epoll_fd, EPOLL_CTL_ADD, fd, &ev)) release(l, i);
    pthread_mutex_unlock(&l->lock);
}

unsigned serve_linger_count(serve_linger *l)
{
    pthread_mutex_lock(&l->lock);
    unsigned n = l->max - l->n_free;
    pthread_mutex_unlock(&l->lock);
    return n;
}

void serve_linger_stop(serve_linger *l)
{
    if (!l) return;
    uint64_t one = 1;
    ssize_t ignored = write(l->stop_fd, &one, sizeof one);
    (void)ignored;
    pthread_join(l->thread, NULL);
    for (unsigned i = 0; i < l->max; i++)
        if (l->slots[i].fd >= 0) release(l, i);
    destroy(l);
}
