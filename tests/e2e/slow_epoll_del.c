/*
 * slow_epoll_del.c - an LD_PRELOAD shim for test_serve_stress.py that makes
 * every epoll_ctl(EPOLL_CTL_DEL) 3 ms slower.  Races between a thread that
 * checks "is the socket in the set" and removes it, and another doing the
 * same, are microseconds wide and almost never lost; this widens them so a
 * test meets them in a few runs.
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <sys/epoll.h>
#include <time.h>

int epoll_ctl(int epfd, int op, int fd, struct epoll_event *ev)
{
    static int (*real)(int, int, int, struct epoll_event *);
    if (!real) *(void **)&real = dlsym(RTLD_NEXT, "epoll_ctl");
    if (op == EPOLL_CTL_DEL) {
        struct timespec pause = {0, 3 * 1000 * 1000};
        nanosleep(&pause, NULL);
    }
    return real(epfd, op, fd, ev);
}
