#include <errno.h>
#include <signal.h>
#include <string.h>

#include "http.h"
#include "reload.h"
#include "serve.h"

void serve_config_defaults(serve_config *c)
{
    memset(c, 0, sizeof *c);
    c->listen_host = "127.0.0.1";
    c->listen_port = 8501;
    c->model_name = "recommender_model";
    c->threads = 4;
    c->max_body = 1u << 20;
    c->max_users = 1000;
    c->cache_max_age = 300;
    c->stale_while_revalidate = 60;
    c->connection_limit = 1024;
    c->connection_timeout = 30;
    c->shutdown_grace = 5;
    c->poll_ms = 200;
    c->log = stderr;
}

/* Signals are taken synchronously by this thread only: every other thread
 * (libmicrohttpd's) inherits the blocked mask. */
static void block_signals(sigset_t *set)
{
    sigemptyset(set);
    sigaddset(set, SIGTERM);
    sigaddset(set, SIGINT);
    sigaddset(set, SIGHUP);
    pthread_sigmask(SIG_BLOCK, set, NULL);
    signal(SIGPIPE, SIG_IGN);
}

static void wait_for_shutdown(serve_state *st, const sigset_t *set)
{
    const serve_config *c = st->config;
    serve_watch watch = {0};
    unsigned wait_ms = c->poll_ms ? c->poll_ms : 1000;
    struct timespec tick = {wait_ms / 1000, (long)(wait_ms % 1000) * 1000000L};
    for (;;) {
        int sig = sigtimedwait(set, NULL, &tick);
        if (sig == SIGTERM || sig == SIGINT) {
            fprintf(c->log, "mfkv serve: %s, shutting down\n", strsignal(sig));
            fflush(c->log);
            return;
        }
        if (sig == SIGHUP) serve_reload(st, &watch);
        else if (sig < 0 && errno == EAGAIN && c->poll_ms) serve_watch_poll(st, &watch);
    }
}

int serve_run(const serve_config *c, mfkv_diag *d)
{
    sigset_t set;
    block_signals(&set);
    served_store *first;
    struct stat file;
    int rc = serve_open_store(c, &file, &first, d);
    if (rc) return rc;

    serve_state st = {.config = c};
    serve_metrics_init(&st.metrics);
    atomic_init(&st.draining, 0);
    atomic_init(&st.open_connections, 0);
    store_slot_init(&st.slot, first);
    struct MHD_Daemon *daemon = serve_http_start(&st, d);
    if (!daemon) {
        store_slot_destroy(&st.slot);
        return d->status;
    }
    const union MHD_DaemonInfo *port = MHD_get_daemon_info(daemon, MHD_DAEMON_INFO_BIND_PORT);
    fprintf(c->log, "mfkv serve: serving %s (version %s, digest %s, %u users) as model %s on http://%s%s%s:%u/\n",
            c->store_path, first->version, first->digest_hex, first->info.n_users, c->model_name,
            strchr(c->listen_host, ':') ? "[" : "", c->listen_host, strchr(c->listen_host, ':') ? "]" : "",
            port ? (unsigned)port->port : (unsigned)c->listen_port);
    fflush(c->log);

    wait_for_shutdown(&st, &set);
    atomic_store(&st.draining, 1);
    serve_http_stop(daemon, c->shutdown_grace);
    store_slot_destroy(&st.slot);
    fprintf(c->log, "mfkv serve: stopped\n");
    fflush(c->log);
    return MFKV_OK;
}
