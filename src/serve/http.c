#include "http.h"

#include <arpa/inet.h>
#include <errno.h>
#include <http_parser.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "access_log.h"
#include "linger.h"

/* With this much queued for a client, pipelined requests wait until it is
 * sent: a client that sends without reading cannot make a connection buffer
 * without bound. */
#define OUT_HIGH (256u * 1024)
/* An output or body buffer grown past this is freed once used rather than
 * kept for the connection's next request. */
#define KEEP_MAX (64u * 1024)
/* Connections taken per wake-up, so that a burst spreads over the workers. */
#define ACCEPT_BATCH 32
/* Out of descriptors: how long a worker stops accepting (the listening
 * socket stays readable, and polling it meanwhile would spin). */
#define ACCEPT_PAUSE_NS (100u * 1000 * 1000)

/* A run of bytes in a connection's input buffer. */
typedef struct span {
    uint32_t off, len;
} span;

/* The request headers serve_handle() needs; http-parser itself reads
 * Content-Length, Transfer-Encoding and Connection. */
enum { HDR_IF_NONE_MATCH, HDR_ORIGIN, HDR_EXPECT, HDR_COUNT };
static const char *const hdr_names[HDR_COUNT] = {"if-none-match", "origin", "expect"};

typedef struct worker worker;

typedef struct conn {
    struct conn *prev, *next; /* the worker's connections, in deadline order */
    worker *w;
    int fd;
    uint64_t deadline; /* CLOCK_MONOTONIC ns */
    struct sockaddr_storage peer;
    http_parser parser;
    /* The request being read.  Its line and headers stay where they were
     * read in in[] until it is answered, so the spans stay valid. */
    int in_request;  /* its first byte is parsed */
    int head_done;   /* its headers are parsed */
    int complete;    /* parsed whole (the parser is paused): answer it */
    unsigned refuse; /* answer this status before reading on, then close; 0: none */
    uint64_t start_ns;
    span url, field, hdr[HDR_COUNT];
    int in_field; /* the last callback was for a header name */
    int cur_hdr;  /* the header whose value is being read, or -1 */
    uint32_t head_keep; /* the bytes of in[] the spans need, and one for a NUL */
    mfkv_buf body;
    /* The connection. */
    int readable;       /* edge-triggered: the socket may hold unread bytes */
    int closing;        /* close once out is sent */
    int answered_early; /* refused before its request was read whole */
    mfkv_buf out;       /* answers, sent from out.data + sent */
    size_t sent;
    uint32_t in_len, fed; /* bytes in in[]; of those, given to the parser */
    char in[SERVE_HEAD_MAX];
} conn;

struct worker {
    serve_http *h;
    pthread_t thread;
    int epoll_fd, wake_fd;
    int listening;          /* the listening socket is in epoll_fd */
    uint64_t accept_resume; /* accepting paused until then; 0: not paused */
    conn list;              /* sentinel */
    time_t date_sec;
    char date[64]; /* "Date: ...\r\n" for date_sec */
};

struct serve_http {
    serve_state *st;
    int listen_fd;
    unsigned port;
    uint64_t timeout_ns;
    atomic_int stopping; /* stop accepting */
    atomic_int stop_now; /* close everything and return */
    atomic_uint quiesced; /* workers that took the listening socket out of their set */
    unsigned n_workers;
    worker *workers;
};

static uint64_t now_ns(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (uint64_t)t.tv_sec * 1000000000u + (uint64_t)t.tv_nsec;
}

/* ------------------------------------------------------------ buffers */

/* Appends to the output buffer (mfkv_buf: an allocation failure is found
 * once the answer is assembled). */
static void put(conn *c, const void *p, size_t n) { mfkv_buf_put(&c->out, p, n); }

static void puts_(conn *c, const char *s) { mfkv_buf_puts(&c->out, s); }

static void put_uint(conn *c, size_t v)
{
    char tmp[24], *p = tmp + sizeof tmp;
    do *--p = (char)('0' + v % 10);
    while (v /= 10);
    put(c, p, (size_t)(tmp + sizeof tmp - p));
}

static void put_header(conn *c, const char *name, const char *value)
{
    puts_(c, name);
    put(c, ": ", 2);
    puts_(c, value);
    put(c, "\r\n", 2);
}

/* ------------------------------------------------------------ connections */

static void list_unlink(conn *c)
{
    c->prev->next = c->next;
    c->next->prev = c->prev;
}

static void list_append(worker *w, conn *c)
{
    c->prev = w->list.prev;
    c->next = &w->list;
    w->list.prev->next = c;
    w->list.prev = c;
}

/* The connection waits (again) for a request, or a client reads: its
 * deadline is --timeout from now.  Every deadline is now + the same timeout,
 * so moving the connection to the tail keeps the list in deadline order. */
static void rearm(conn *c, uint64_t now)
{
    c->deadline = now + c->w->h->timeout_ns;
    list_unlink(c);
    list_append(c->w, c);
}

static void request_reset(conn *c)
{
    c->in_request = c->head_done = c->complete = 0;
    c->refuse = 0;
    c->url = c->field = (span){0, 0};
    memset(c->hdr, 0, sizeof c->hdr);
    c->in_field = 0;
    c->cur_hdr = -1;
    c->head_keep = 0;
    c->body.len = 0;
    /* Up to --max-body: not kept for every idle connection. */
    if (c->body.cap > KEEP_MAX || mfkv_buf_status(&c->body)) mfkv_buf_free(&c->body);
}

/* A header's value (trailing blanks cut), or NULL when it is absent. */
static const char *header(conn *c, int which)
{
    span s = c->hdr[which];
    while (s.len && (c->in[s.off + s.len - 1] == ' ' || c->in[s.off + s.len - 1] == '\t')) s.len--;
    if (!s.len) return NULL;
    c->in[s.off + s.len] = '\0'; /* the byte after a value is its line's end, already parsed */
    return c->in + s.off;
}

static int hex(char c) { return c <= '9' ? c - '0' : (c | 0x20) - 'a' + 10; }

static int is_hex(char c) { return (c >= '0' && c <= '9') || ((c | 0x20) >= 'a' && (c | 0x20) <= 'f'); }

/* Percent-decode @p s in place, and '+' to a space in query arguments.  A
 * '%' not followed by two hex digits stays as it is.  Like libmicrohttpd
 * before, a decoded NUL ends the string. */
static void url_decode(char *s, int plus)
{
    char *o = s;
    for (const char *p = s; *p; p++) {
        if (*p == '%' && is_hex(p[1]) && is_hex(p[2])) {
            *o++ = (char)(hex(p[1]) << 4 | hex(p[2]));
            p += 2;
        } else {
            *o++ = plus && *p == '+' ? ' ' : *p;
        }
    }
    *o = '\0';
}

/* The request's decoded path, and its query arguments ?n=, ?format= and
 * ?exclude= (the first of each; NULL when absent or given without '=').
 * Decodes in place: call once per request. */
static char *request_path(conn *c, serve_request *req)
{
    char *url = c->in + c->url.off;
    url[c->url.len] = '\0'; /* the byte after the URL is the space before the version */
    char *q = strchr(url, '?');
    if (q) *q++ = '\0';
    url_decode(url, 0);
    unsigned found = 0;
    while (q) {
        char *next = strchr(q, '&'), *value = strchr(q, '=');
        if (next) *next++ = '\0';
        if (value && (!next || value < next)) *value++ = '\0';
        else value = NULL;
        url_decode(q, 1);
        static const char *const names[] = {"n", "format", "exclude"};
        const char **slots[] = {&req->query_n, &req->query_format, &req->query_exclude};
        for (unsigned i = 0; i < 3; i++) {
            if (found >> i & 1 || strcmp(q, names[i])) continue;
            found |= 1u << i;
            if (value) url_decode(value, 1);
            *slots[i] = value;
        }
        q = next;
    }
    return url;
}

static const char *reason(unsigned status)
{
    switch (status) {
    case 200: return "OK";
    case 204: return "No Content";
    case 304: return "Not Modified";
    case 400: return "Bad Request";
    case 404: return "Not Found";
    case 405: return "Method Not Allowed";
    case 413: return "Content Too Large";
    case 431: return "Request Header Fields Too Large";
    case 500: return "Internal Server Error";
    case 503: return "Service Unavailable";
    case 505: return "HTTP Version Not Supported";
    default: return "Unknown";
    }
}

static void refresh_date(worker *w)
{
    time_t now = time(NULL);
    if (now == w->date_sec) return;
    struct tm tm;
    w->date_sec = now;
    strftime(w->date, sizeof w->date, "Date: %a, %d %b %Y %H:%M:%S GMT\r\n", gmtime_r(&now, &tm));
}

/* Append @p res to the connection's output: status line, the headers in
 * the order libmicrohttpd used to send them, the body unless @p head. */
static void put_response(conn *c, const serve_response *res, int keep_alive, int head)
{
    refresh_date(c->w);
    size_t at = c->out.len;
    put(c, "HTTP/1.1 ", 9);
    put_uint(c, res->status);
    put(c, " ", 1);
    puts_(c, reason(res->status));
    put(c, "\r\n", 2);
    puts_(c, c->w->date);
    if (!keep_alive) puts_(c, "Connection: close\r\n");
    else if (c->parser.http_minor == 0) puts_(c, "Connection: Keep-Alive\r\n");
    if (res->content_type) put_header(c, "Content-Type", res->content_type);
    if (res->etag[0]) put_header(c, "ETag", res->etag);
    if (res->cache_control[0]) put_header(c, "Cache-Control", res->cache_control);
    if (res->allow) put_header(c, "Allow", res->allow);
    if (res->allow_origin) put_header(c, "Access-Control-Allow-Origin", res->allow_origin);
    if (res->vary_origin) puts_(c, "Vary: Origin\r\n");
    if (res->preflight && res->allow_origin)
        puts_(c, "Access-Control-Allow-Methods: GET, HEAD\r\n"
                 "Access-Control-Allow-Headers: If-None-Match\r\n"
                 "Access-Control-Max-Age: 600\r\n");
    puts_(c, "X-Content-Type-Options: nosniff\r\n");
    if (res->status == 503) puts_(c, "Retry-After: 1\r\n");
    /* A 304 gives the length its 200 would have (RFC 9110 8.6), without the body. */
    if (res->status != 204) {
        puts_(c, "Content-Length: ");
        put_uint(c, res->body.len);
        put(c, "\r\n", 2);
    }
    put(c, "\r\n", 2);
    if (!head && res->status != 204 && res->status != 304) put(c, res->body.data, res->body.len);
    if (mfkv_buf_status(&c->out)) { /* out of memory: send the answers before this one, then close */
        c->out.len = at;
        c->out.failed = 0;
        c->closing = 1;
        return;
    }
    if (!keep_alive) c->closing = 1;
}

/* Count the request in the metrics and the access log. */
static void record(conn *c, serve_route_kind route, const char *path, unsigned status, size_t body_len)
{
    serve_state *st = c->w->h->st;
    uint64_t ns = now_ns() - c->start_ns;
    serve_metrics_request(&st->metrics, route, status, ns);
    if (st->config->access_log) {
        char version[16];
        snprintf(version, sizeof version, "HTTP/%u.%u", c->parser.http_major, c->parser.http_minor);
        serve_access_log(st->config->access_log, (const struct sockaddr *)&c->peer,
                         http_method_str((enum http_method)c->parser.method), path, version, status, body_len, ns);
    }
}

/* Answer an error before the request is read whole, then close (lingering:
 * the client may still be sending).  Requests whose headers were read are
 * counted, as they were with libmicrohttpd. */
static void refuse(conn *c, unsigned status, const char *msg)
{
    serve_response res;
    serve_response_init(&res);
    serve_error(&res, status, "%s", msg);
    c->refuse = status;
    c->answered_early = 1;
    put_response(c, &res, 0, c->head_done && c->parser.method == HTTP_HEAD);
    if (c->head_done) {
        serve_request req = {0};
        const char *path = request_path(c, &req);
        serve_route r;
        serve_route_parse(path, &r);
        record(c, r.kind, path, status, res.body.len);
    }
    serve_response_free(&res);
}

/* A whole request: hand it to serve_handle() and queue the answer. */
static void answer(conn *c)
{
    serve_state *st = c->w->h->st;
    serve_request req = {
        .method = http_method_str((enum http_method)c->parser.method),
        .if_none_match = header(c, HDR_IF_NONE_MATCH),
        .origin = header(c, HDR_ORIGIN),
        .body = c->body.len ? c->body.data : "",
        .body_len = c->body.len,
    };
    req.path = request_path(c, &req);
    serve_response res;
    serve_response_init(&res);
    serve_route_kind route = serve_handle(st, &req, &res);
    /* Draining or overloaded: tell keep-alive clients to reconnect later.
     * After an Upgrade request the rest of the stream is not HTTP. */
    int keep_alive = http_should_keep_alive(&c->parser) && !c->parser.upgrade && res.status != 503 &&
                     !atomic_load(&st->draining);
    put_response(c, &res, keep_alive, c->parser.method == HTTP_HEAD);
    record(c, route, req.path, res.status, res.body.len);
    serve_response_free(&res);
}

/* ------------------------------------------------------------ parser callbacks */

static conn *conn_of(http_parser *p) { return p->data; }

static uint32_t offset(conn *c, const char *at) { return (uint32_t)(at - c->in); }

static void keep_to(conn *c, uint32_t end)
{
    if (end + 1 > c->head_keep) c->head_keep = end + 1;
}

static int on_message_begin(http_parser *p)
{
    conn *c = conn_of(p);
    c->in_request = 1;
    c->start_ns = now_ns();
    return 0;
}

/* Name, URL and values may come in pieces (one per read); the pieces of one
 * are contiguous in in[], so a span only grows. */
static int on_url(http_parser *p, const char *at, size_t len)
{
    conn *c = conn_of(p);
    if (!c->url.len) c->url.off = offset(c, at);
    c->url.len += (uint32_t)len;
    keep_to(c, c->url.off + c->url.len);
    return 0;
}

static int on_header_field(http_parser *p, const char *at, size_t len)
{
    conn *c = conn_of(p);
    if (!c->in_field) {
        c->field = (span){offset(c, at), 0};
        c->in_field = 1;
    }
    c->field.len += (uint32_t)len;
    return 0;
}

static int on_header_value(http_parser *p, const char *at, size_t len)
{
    conn *c = conn_of(p);
    if (c->in_field) { /* a value's first piece: whose is it?  The first of repeated headers counts. */
        c->in_field = 0;
        c->cur_hdr = -1;
        for (int i = 0; i < HDR_COUNT; i++)
            if (!c->hdr[i].len && c->field.len == strlen(hdr_names[i]) &&
                !strncasecmp(c->in + c->field.off, hdr_names[i], c->field.len)) {
                c->cur_hdr = i;
                c->hdr[i].off = offset(c, at);
            }
    }
    if (c->cur_hdr >= 0) {
        span *s = &c->hdr[c->cur_hdr];
        s->len += (uint32_t)len;
        keep_to(c, s->off + s->len);
    }
    return 0;
}

static int on_headers_complete(http_parser *p)
{
    conn *c = conn_of(p);
    serve_state *st = c->w->h->st;
    const serve_config *cfg = st->config;
    c->head_done = 1;
    c->in_field = 0;
    if (p->http_major != 1) c->refuse = 505;
    else if (atomic_load(&st->open_connections) > cfg->connection_limit) c->refuse = 503;
    else if ((p->flags & F_CONTENTLENGTH) && p->content_length > cfg->max_body) c->refuse = 413; /* before reading it */
    if (c->refuse) {
        http_parser_pause(p, 1);
        return 0;
    }
    /* A client that asked to be told before it sends the body (curl does for
     * bodies over 1 KiB) waits a second for this otherwise. */
    const char *expect = header(c, HDR_EXPECT);
    if (expect && !strcasecmp(expect, "100-continue") && p->http_minor >= 1 &&
        ((p->flags & F_CHUNKED) || p->content_length > 0))
        puts_(c, "HTTP/1.1 100 Continue\r\n\r\n");
    return 0;
}

static int on_body(http_parser *p, const char *at, size_t len)
{
    conn *c = conn_of(p);
    const serve_config *cfg = c->w->h->st->config;
    /* A chunked body declares no length: it is refused once it passes the limit. */
    if (len > cfg->max_body - c->body.len) c->refuse = 413;
    else if (mfkv_buf_put(&c->body, at, len), mfkv_buf_status(&c->body)) c->refuse = 500;
    if (c->refuse) http_parser_pause(p, 1);
    return 0;
}

static int on_message_complete(http_parser *p)
{
    conn_of(p)->complete = 1;
    http_parser_pause(p, 1); /* answer it before parsing a pipelined next one */
    return 0;
}

static const http_parser_settings parser_settings = {
    .on_message_begin = on_message_begin,
    .on_url = on_url,
    .on_header_field = on_header_field,
    .on_header_value = on_header_value,
    .on_headers_complete = on_headers_complete,
    .on_body = on_body,
    .on_message_complete = on_message_complete,
};

static const char *refusal(unsigned status)
{
    switch (status) {
    case 413: return "request body larger than --max-body";
    case 503: return "overloaded: more than --connection-limit connections open";
    case 505: return "HTTP version not supported";
    default: return "out of memory";
    }
}

/* Parse what was read: answer each whole request in order (pipelining),
 * refuse a bad one. */
static void parse(conn *c)
{
    while (c->fed < c->in_len && !c->closing) {
        size_t n = http_parser_execute(&c->parser, &parser_settings, c->in + c->fed, c->in_len - c->fed);
        c->fed += (uint32_t)n;
        enum http_errno e = HTTP_PARSER_ERRNO(&c->parser);
        if (e == HPE_PAUSED && c->complete) {
            answer(c);
            /* The next request starts at the front of the buffer. */
            memmove(c->in, c->in + c->fed, c->in_len - c->fed);
            c->in_len -= c->fed;
            c->fed = 0;
            request_reset(c);
            http_parser_pause(&c->parser, 0);
            if (c->out.len >= OUT_HIGH) return;
        } else if (e == HPE_PAUSED) {
            refuse(c, c->refuse, refusal(c->refuse));
            return;
        } else if (e != HPE_OK) {
            char msg[128];
            snprintf(msg, sizeof msg, "malformed request: %s", http_errno_description(e));
            refuse(c, 400, msg);
            return;
        } else if (n == 0) {
            return; /* cannot happen: without an error the parser takes everything */
        }
    }
    if (c->closing) return;
    if (!c->in_request) {
        c->in_len = c->fed = 0; /* only the blank lines allowed between requests */
    } else if (c->head_done) {
        c->in_len = c->fed = c->head_keep; /* the body is copied out: make room */
    } else if (c->in_len == SERVE_HEAD_MAX) {
        char msg[64];
        snprintf(msg, sizeof msg, "request line and headers larger than %u bytes", SERVE_HEAD_MAX);
        refuse(c, 431, msg);
    }
}

/* ------------------------------------------------------------ the loop */

/* Whether closing now could reset the connection before the client reads
 * the answer: request bytes wait unread, or a request was answered before
 * its body came (a reset drops whatever the client has not read yet). */
static int must_linger(const conn *c)
{
    if (c->answered_early || c->fed < c->in_len) return 1;
    char byte;
    return recv(c->fd, &byte, 1, MSG_PEEK | MSG_DONTWAIT) > 0;
}

static void conn_close(conn *c, int answered)
{
    serve_state *st = c->w->h->st;
    if (c->head_done && !c->refuse && !c->complete) {
        /* Cut off (client gone, timeout) after its headers: counted as status 0, "other". */
        serve_request req = {0};
        const char *path = request_path(c, &req);
        serve_route r;
        serve_route_parse(path, &r);
        record(c, r.kind, path, 0, 0);
    }
    list_unlink(c);
    if (answered && st->linger && must_linger(c)) {
        epoll_ctl(c->w->epoll_fd, EPOLL_CTL_DEL, c->fd, NULL); /* the descriptor lives on there */
        serve_linger_add(st->linger, c->fd);
    } else {
        close(c->fd);
    }
    atomic_fetch_sub(&st->open_connections, 1);
    mfkv_buf_free(&c->out);
    mfkv_buf_free(&c->body);
    free(c);
}

/* Send what is queued.  @return 0 when all is sent, 1 when the socket is
 * full (EPOLLOUT resumes), -1 when the connection is broken. */
static int flush(conn *c, uint64_t now)
{
    size_t was = c->sent;
    while (c->sent < c->out.len) {
        ssize_t n = send(c->fd, c->out.data + c->sent, c->out.len - c->sent, MSG_NOSIGNAL);
        if (n > 0) {
            c->sent += (size_t)n;
        } else if (n < 0 && errno == EINTR) {
            continue;
        } else if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
            if (c->sent > was) rearm(c, now); /* the client reads: not idle */
            return 1;
        } else {
            return -1;
        }
    }
    c->out.len = c->sent = 0;
    if (c->out.cap > KEEP_MAX) mfkv_buf_free(&c->out);
    rearm(c, now); /* answered: waiting for the next request starts now */
    return 0;
}

/* Everything a connection can do now: send, parse, read, until it would
 * block.  Reads only with nothing left to send, so each batch of answers
 * (several when the client pipelines) goes out in one send. */
static void drive(conn *c, uint64_t now)
{
    for (;;) {
        if (c->out.len) {
            int r = flush(c, now);
            if (r < 0) {
                conn_close(c, 0);
                return;
            }
            if (r > 0) return;
        }
        if (c->closing) {
            conn_close(c, 1);
            return;
        }
        if (c->fed < c->in_len) {
            parse(c);
            if (c->out.len || c->closing) continue;
        }
        if (!c->readable) return;
        ssize_t n = recv(c->fd, c->in + c->in_len, SERVE_HEAD_MAX - c->in_len, 0);
        if (n > 0) {
            c->in_len += (uint32_t)n;
        } else if (n < 0 && errno == EINTR) {
            continue;
        } else if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
            c->readable = 0;
            return;
        } else {
            /* The client's EOF or an error: everything it sent whole is
             * answered; a request still in progress can never complete. */
            conn_close(c, 0);
            return;
        }
    }
}

static void accept_some(worker *w, uint64_t now)
{
    serve_http *h = w->h;
    serve_state *st = h->st;
    unsigned max_open = st->config->connection_limit + SERVE_CONNECTION_HEADROOM;
    for (int i = 0; i < ACCEPT_BATCH; i++) {
        struct sockaddr_storage peer;
        socklen_t peer_len = sizeof peer;
        int fd = accept4(h->listen_fd, (struct sockaddr *)&peer, &peer_len, SOCK_NONBLOCK | SOCK_CLOEXEC);
        if (fd < 0) {
            if (errno == EINTR || errno == ECONNABORTED) continue;
            if (errno == EMFILE || errno == ENFILE || errno == ENOBUFS || errno == ENOMEM) {
                epoll_ctl(w->epoll_fd, EPOLL_CTL_DEL, h->listen_fd, NULL);
                w->listening = 0;
                w->accept_resume = now + ACCEPT_PAUSE_NS;
            }
            return; /* EAGAIN: another worker took it, or none is left */
        }
        if (atomic_fetch_add(&st->open_connections, 1) >= max_open) {
            atomic_fetch_sub(&st->open_connections, 1);
            close(fd);
            continue;
        }
        conn *c = malloc(sizeof *c);
        if (c) memset(c, 0, offsetof(conn, in)); /* in[] needs no zeroes */
        /* Edge-triggered, in and out at once: no epoll_ctl per request. */
        struct epoll_event ev = {.events = EPOLLIN | EPOLLOUT | EPOLLRDHUP | EPOLLET, .data.ptr = c};
        if (!c || epoll_ctl(w->epoll_fd, EPOLL_CTL_ADD, fd, &ev)) {
            atomic_fetch_sub(&st->open_connections, 1);
            close(fd);
            free(c);
            continue;
        }
        c->w = w;
        c->fd = fd;
        memcpy(&c->peer, &peer, sizeof peer);
        http_parser_init(&c->parser, HTTP_REQUEST);
        c->parser.data = c;
        request_reset(c);
        /* Answers go out whole in one send each: Nagle's wait would only
         * delay the next batch of a pipelining client. */
        int one = 1;
        setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
        c->deadline = now + h->timeout_ns;
        list_append(w, c);
    }
}

/* Close the connections whose deadline has passed. */
static void expire(worker *w, uint64_t now)
{
    serve_state *st = w->h->st;
    while (w->list.next != &w->list && w->list.next->deadline <= now) {
        conn *c = w->list.next;
        /* Part of a request came but not all of it in time (slowloris). */
        if (c->in_len || c->in_request) serve_metrics_slow_clients(&st->metrics, 1);
        conn_close(c, 0);
    }
}

static int listen_in(worker *w)
{
    struct epoll_event ev = {.events = EPOLLIN | EPOLLEXCLUSIVE, .data.ptr = NULL};
    if (epoll_ctl(w->epoll_fd, EPOLL_CTL_ADD, w->h->listen_fd, &ev)) return -1;
    w->listening = 1;
    return 0;
}

static void *work(void *arg)
{
    worker *w = arg;
    serve_http *h = w->h;
    struct epoll_event ev[64];
    while (!atomic_load(&h->stop_now)) {
        uint64_t now = now_ns(), next = UINT64_MAX;
        if (w->list.next != &w->list) next = w->list.next->deadline;
        if (w->accept_resume && w->accept_resume < next) next = w->accept_resume;
        int wait_ms = next == UINT64_MAX ? -1 : next <= now ? 0 : (int)((next - now) / 1000000u + 1);
        int n = epoll_wait(w->epoll_fd, ev, 64, wait_ms);
        now = now_ns();
        for (int i = 0; i < n; i++) {
            void *p = ev[i].data.ptr;
            if (!p) {
                accept_some(w, now);
            } else if (p == w) {
                uint64_t v;
                ssize_t ignored = read(w->wake_fd, &v, sizeof v);
                (void)ignored;
            } else {
                conn *c = p;
                if (ev[i].events & (EPOLLIN | EPOLLRDHUP | EPOLLHUP | EPOLLERR)) c->readable = 1;
                drive(c, now);
            }
        }
        if (atomic_load(&h->stopping)) {
            if (w->listening) epoll_ctl(w->epoll_fd, EPOLL_CTL_DEL, h->listen_fd, NULL);
            if (w->listening || w->accept_resume) atomic_fetch_add(&h->quiesced, 1);
            w->listening = 0;
            w->accept_resume = 0;
        } else if (w->accept_resume && now >= w->accept_resume) {
            w->accept_resume = 0;
            listen_in(w);
        }
        expire(w, now);
    }
    while (w->list.next != &w->list) conn_close(w->list.next, 0);
    return NULL;
}

static void wake_all(serve_http *h)
{
    uint64_t one = 1;
    for (unsigned i = 0; i < h->n_workers; i++) {
        ssize_t ignored = write(h->workers[i].wake_fd, &one, sizeof one);
        (void)ignored;
    }
}

/* Stop and free the workers started so far, and the socket. */
static void destroy(serve_http *h, unsigned running)
{
    atomic_store(&h->stop_now, 1);
    wake_all(h);
    for (unsigned i = 0; i < running; i++) pthread_join(h->workers[i].thread, NULL);
    for (unsigned i = 0; i < h->n_workers; i++) {
        if (h->workers[i].epoll_fd >= 0) close(h->workers[i].epoll_fd);
        if (h->workers[i].wake_fd >= 0) close(h->workers[i].wake_fd);
    }
    if (h->listen_fd >= 0) close(h->listen_fd);
    free(h->workers);
    free(h);
}

/* The listening socket, bound to the configured address; fills
 * st->listen_addr.  @return the descriptor, or -1 with @p d filled. */
static int open_listener(serve_state *st, unsigned *port, mfkv_diag *d)
{
    const serve_config *c = st->config;
    /* Names ("localhost", a container's hostname) listen on the first
     * address they resolve to, as most servers do. */
    struct addrinfo hints = {.ai_flags = AI_PASSIVE, .ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM}, *ai;
    int gai = getaddrinfo(c->listen_host, NULL, &hints, &ai);
    if (gai) {
        mfkv_fail(d, MFKV_INVAL, "--listen: cannot resolve '%s': %s", c->listen_host, gai_strerror(gai));
        return -1;
    }
    struct sockaddr_storage addr;
    memset(&addr, 0, sizeof addr);
    memcpy(&addr, ai->ai_addr, ai->ai_addrlen);
    socklen_t addr_len = ai->ai_addrlen;
    freeaddrinfo(ai);
    const void *ip;
    if (addr.ss_family == AF_INET6) {
        struct sockaddr_in6 *v6 = (struct sockaddr_in6 *)&addr;
        v6->sin6_port = htons(c->listen_port);
        ip = &v6->sin6_addr;
    } else {
        struct sockaddr_in *v4 = (struct sockaddr_in *)&addr;
        v4->sin_port = htons(c->listen_port);
        ip = &v4->sin_addr;
    }
    inet_ntop(addr.ss_family, ip, st->listen_addr, sizeof st->listen_addr);
    int fd = socket(addr.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    int one = 1;
    /* SO_REUSEADDR: restart at once though old connections linger in
     * TIME_WAIT.  SO_REUSEPORT, as libmicrohttpd set it: a new server can
     * start on the port before the old one is told to stop. */
    if (fd < 0 || setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one) ||
        setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof one) ||
        (addr.ss_family == AF_INET6 && setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof one)) ||
        bind(fd, (struct sockaddr *)&addr, addr_len) || listen(fd, SOMAXCONN) ||
        getsockname(fd, (struct sockaddr *)&addr, &addr_len)) {
        mfkv_fail_errno(d, "cannot listen on %s port %u", c->listen_host, (unsigned)c->listen_port);
        if (fd >= 0) close(fd);
        return -1;
    }
    *port = ntohs(addr.ss_family == AF_INET6 ? ((struct sockaddr_in6 *)&addr)->sin6_port
                                             : ((struct sockaddr_in *)&addr)->sin_port);
    return fd;
}

serve_http *serve_http_start(serve_state *st, mfkv_diag *d)
{
    serve_http *h = calloc(1, sizeof *h);
    if (!h) {
        mfkv_fail(d, MFKV_NOMEM, "serve: out of memory");
        return NULL;
    }
    h->st = st;
    h->timeout_ns = (uint64_t)st->config->connection_timeout * 1000000000u;
    h->n_workers = st->config->threads ? st->config->threads : 1;
    h->workers = calloc(h->n_workers, sizeof *h->workers);
    h->listen_fd = -1;
    if (!h->workers) {
        free(h);
        mfkv_fail(d, MFKV_NOMEM, "serve: out of memory");
        return NULL;
    }
    for (unsigned i = 0; i < h->n_workers; i++) h->workers[i].epoll_fd = h->workers[i].wake_fd = -1;
    h->listen_fd = open_listener(st, &h->port, d);
    if (h->listen_fd < 0) {
        destroy(h, 0);
        return NULL;
    }
    /* One listening socket in every worker's epoll set, EPOLLEXCLUSIVE so
     * that a connection wakes one worker, not all: an idle worker takes the
     * next connection, where SO_REUSEPORT's per-worker sockets would hash it
     * to a worker that may be busy, and a connection left in a closed
     * worker socket's queue would be reset. */
    for (unsigned i = 0; i < h->n_workers; i++) {
        worker *w = &h->workers[i];
        w->h = h;
        w->list.next = w->list.prev = &w->list;
        w->epoll_fd = epoll_create1(EPOLL_CLOEXEC);
        w->wake_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
        struct epoll_event wake = {.events = EPOLLIN, .data.ptr = w};
        if (w->epoll_fd < 0 || w->wake_fd < 0 || epoll_ctl(w->epoll_fd, EPOLL_CTL_ADD, w->wake_fd, &wake) ||
            listen_in(w) || (errno = pthread_create(&w->thread, NULL, work, w)) != 0) {
            mfkv_fail_errno(d, "serve: cannot start worker %u", i);
            destroy(h, i);
            return NULL;
        }
    }
    return h;
}

unsigned serve_http_port(const serve_http *h) { return h->port; }

int serve_http_replay(serve_state *st, const char *in, size_t len, size_t piece, mfkv_buf *out)
{
    serve_http h = {.st = st, .listen_fd = -1};
    worker w = {.h = &h};
    conn *c = calloc(1, sizeof *c);
    if (!c) return -1;
    c->w = &w;
    c->fd = -1;
    http_parser_init(&c->parser, HTTP_REQUEST);
    c->parser.data = c;
    request_reset(c);
    size_t at = 0;
    if (!piece) piece = len;
    for (;;) {
        parse(c); /* what drive() does between a read and a send */
        mfkv_buf_put(out, c->out.data, c->out.len);
        c->out.len = 0;
        if (c->closing || (c->fed == c->in_len && at == len)) break;
        if (c->fed < c->in_len) continue; /* stopped at OUT_HIGH: the answers are out now */
        size_t n = len - at < piece ? len - at : piece;
        if (n > SERVE_HEAD_MAX - c->in_len) n = SERVE_HEAD_MAX - c->in_len;
        memcpy(c->in + c->in_len, in + at, n);
        c->in_len += (uint32_t)n;
        at += n;
    }
    int closing = c->closing;
    mfkv_buf_free(&c->out);
    mfkv_buf_free(&c->body);
    free(c);
    return mfkv_buf_status(out) ? -1 : closing;
}

void serve_http_stop(serve_http *h, unsigned grace_s)
{
    atomic_store(&h->stopping, 1);
    wake_all(h);
    /* New connections are refused once no worker polls the socket and it is
     * closed; each worker says when it has let go of it. */
    struct timespec step = {0, 1000 * 1000};
    while (atomic_load(&h->quiesced) < h->n_workers) nanosleep(&step, NULL);
    close(h->listen_fd);
    h->listen_fd = -1;
    uint64_t end = now_ns() + (uint64_t)grace_s * 1000000000u;
    step.tv_nsec = 20 * 1000 * 1000;
    while (atomic_load(&h->st->open_connections) > 0 && now_ns() < end) nanosleep(&step, NULL);
    destroy(h, h->n_workers);
}
