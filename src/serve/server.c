#include <errno.h>
#include <signal.h>
#include <unistd.h>
#include <fcntl.h>
#include <poll.h>
#include <string.h>

#include "common/clock.h"
#include "http.h"
#include "linger.h"
#include "models.h"
#include "serve.h"

void serve_config_defaults(serve_config *c)
{
    memset(c, 0, sizeof *c);
    c->listen_host = "127.0.0.1";
    c->listen_port = 8501;
    c->versions_to_keep = 2;
    c->threads = 4;
    c->max_body = 1u << 20;
    c->max_users = 1000;
    c->answer_cache = 4096;
    c->cache_max_age = 300;
    c->stale_while_revalidate = 60;
    c->connection_limit = 1024;
    c->connection_timeout = 30;
    c->shutdown_grace = 5;
    c->poll_ms = 200;
    c->log = stderr;
}

/* Signals arrive through handlers that only record them and wake the main
 * loop through a pipe.  Blocking them and using sigtimedwait is not enough:
 * threads created before main (OpenBLAS starts its pool when the library
 * loads) keep them unblocked, and a SIGTERM delivered to one of those would
 * kill the process with the default action. */
static volatile sig_atomic_t got_stop, got_hup;
static int wake_pipe[2] = {-1, -1};

static void on_signal(int sig)
{
    int saved = errno;
    if (sig == SIGHUP) got_hup = sig;
    else got_stop = sig;
    if (wake_pipe[1] >= 0) {
        ssize_t ignored = write(wake_pipe[1], "x", 1);
        (void)ignored;
    }
    errno = saved;
}

static int install_signals(mfkv_diag *d)
{
    if (pipe2(wake_pipe, O_CLOEXEC | O_NONBLOCK) != 0) return mfkv_fail_errno(d, "serve: pipe");
    struct sigaction sa = {0};
    sa.sa_handler = on_signal;
    sigemptyset(&sa.sa_mask);
    sa.sa_flags = SA_RESTART;
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGHUP, &sa, NULL);
    signal(SIGPIPE, SIG_IGN);
    return MFKV_OK;
}

/* The main thread's loop: signals, and polls of the store path every
 * poll_ms (the HTTP workers keep their own deadlines, http.h). */
static void wait_for_shutdown(serve_state *st)
{
    const serve_config *c = st->config;
    int wait_ms = c->poll_ms ? (int)c->poll_ms : -1;
    double next_poll = mfkv_now() + c->poll_ms / 1000.0;
    while (!got_stop) {
        struct pollfd p = {.fd = wake_pipe[0], .events = POLLIN};
        int n = poll(&p, 1, wait_ms);
        char drain[64];
        while (n > 0 && read(wake_pipe[0], drain, sizeof drain) > 0) {
        }
        if (got_stop) break;
        if (got_hup) {
            got_hup = 0;
            serve_models_poll(st, 1);
        } else if (c->poll_ms && mfkv_now() >= next_poll) {
            serve_models_poll(st, 0);
            next_poll = mfkv_now() + c->poll_ms / 1000.0;
        }
    }
    fprintf(c->log, "mfkv serve: %s, shutting down\n", strsignal(got_stop));
    fflush(c->log);
}

int serve_run(const serve_config *c, mfkv_diag *d)
{
    int rc = install_signals(d);
    if (rc) return rc;
    serve_state st = {.config = c};
    serve_metrics_init(&st.metrics);
    atomic_init(&st.draining, 0);
    atomic_init(&st.open_connections, 0);
    rc = serve_models_open(&st, d);
    if (rc) return rc;
    serve_http *http = NULL;
    if (!serve_linger_start(c->connection_limit + SERVE_CONNECTION_HEADROOM, &st.linger, d))
        http = serve_http_start(&st, d);
    if (!http) {
        serve_linger_stop(st.linger);
        serve_models_close(&st);
        return d->status;
    }
    for (size_t i = 0; i < st.n_models; i++) {
        served_versions *v = store_slot_acquire(&st.models[i].slot);
        served_store *s = v->stores[0];
        fprintf(c->log, "mfkv serve: model %s: %s, version %s%s (digest %s, %u users)\n", st.models[i].name,
                st.models[i].path, s->version, v->n > 1 ? " and older ones" : "", s->digest_hex, s->info.n_users);
        served_versions_release(v);
    }
    fprintf(c->log, "mfkv serve: serving %s as model %s on http://%s%s%s:%u/\n", c->models[0].path,
            c->models[0].name, strchr(st.listen_addr, ':') ? "[" : "", st.listen_addr,
            strchr(st.listen_addr, ':') ? "]" : "", serve_http_port(http));
    fflush(c->log);

    wait_for_shutdown(&st);
    atomic_store(&st.draining, 1);
    serve_http_stop(http, c->shutdown_grace);
    serve_linger_stop(st.linger);
    serve_models_close(&st);
    fprintf(c->log, "mfkv serve: stopped\n");
    fflush(c->log);
    return MFKV_OK;
}
