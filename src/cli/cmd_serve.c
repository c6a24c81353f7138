#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "serve/serve.h"

static void usage(FILE *out)
{
    fprintf(out,
            "usage: mfkv serve [options] [STORE]\n"
            "\n"
            "Serve a store over HTTP.  The predict API is TF Serving's REST API, so\n"
            "clients written for a TF Serving recommender work unchanged.\n"
            "\n"
            "endpoints:\n"
            "  POST /v1/models/NAME[/versions/V]:predict\n"
            "        {\"instances\":[{\"user_id\":1},...]}  -> {\"predictions\":[{\"predicted_rating\":[..],\"predicted_item_id\":[..]}]}\n"
            "        {\"inputs\":{\"user_id\":[1,2]}}       -> {\"outputs\":{\"predicted_rating\":[[..]],\"predicted_item_id\":[[..]]}}\n"
            "        optional \"n\": keep the first n items.  Same bytes as mfkv get --format predict\n"
            "        when every user is known.  An unknown user gets the store's fallback list (empty\n"
            "        without one) and every row \"fallback\":true|false, so one unknown id never costs\n"
            "        the others their answers; \"unknown_users\":\"error\" asks for TF Serving's 404.\n"
            "        {\"user_id\":1,\"exclude\":[\"3382\"]} hides items; the next stored ones fill in\n"
            "        (build with a larger -k than you serve).  Options may also come in Vertex AI's\n"
            "        \"parameters\":{\"n\":5,\"unknown_users\":\"error\"}.\n"
            "  GET  /v1/models/NAME[/versions/V]           status of every version (AVAILABLE, or END with the error)\n"
            "  GET  /v1/models/NAME[/versions/V]/metadata  signature\n"
            "  GET  /v1/users/ID/recommendations[?n=10][&format=json|html][&exclude=ID,ID]\n"
            "        titles, genres and scores; strong ETag, Cache-Control, 304 on If-None-Match\n"
            "  GET  /            a page to look users up      GET /healthz, /readyz, /metrics (Prometheus)\n"
            "  $AIP_PREDICT_ROUTE, $AIP_HEALTH_ROUTE (Vertex AI) add paths for predict and /readyz.\n"
            "Errors are {\"error\":\"...\"} with TF Serving's statuses: 400 bad request, 404 unknown\n"
            "model/version/user/path, 405 wrong method, 413 body too large, 431 headers too large,\n"
            "503 overloaded or a store found changed under the server (it is reopened; retry).\n"
            "\n"
            "options:\n"
            "  -s, --store FILE          store to serve (or STORE; else $MFKV_STORE, else ./" MFKV_DEFAULT_STORE ");\n"
            "                            its version is its build time (raised if a swap is not newer)\n"
            "      --model-base-path DIR serve numbered versions DIR/1.mfkv, DIR/2.mfkv, ... as TF Serving\n"
            "                            does: the newest that load, at /versions/N; publish with\n"
            "                            mfkv build -o DIR/N.mfkv; removing or breaking the newest\n"
            "                            rolls back to the one before\n"
            "      --versions-to-keep N  versions of a base path kept loaded (default 2)\n"
            "      --model NAME=PATH     one more model: a store file or a base path (repeatable);\n"
            "                            routes without a model name use the first model\n"
            "  -l, --listen ADDR         HOST:PORT, [IPV6]:PORT, :PORT (every IPv4 address, 0.0.0.0)\n"
            "                            or PORT (on 127.0.0.1); HOST may be a name, e.g. localhost\n"
            "                            (its first address).  Default 127.0.0.1:8501, or\n"
            "                            0.0.0.0:$AIP_HTTP_PORT / 0.0.0.0:$PORT when set (Vertex AI,\n"
            "                            Cloud Run).  Port 0 picks a free one, printed on stderr\n"
            "  -m, --model-name NAME     model name in the URLs (default recommender_model)\n"
            "      --threads N           worker threads (default 4, not the CPU count: in a container\n"
            "                            that is the host's, not the quota; -t N, the old spelling,\n"
            "                            still works)\n"
            "      --fallback            snippets of unknown users show the store's fallback list\n"
            "                            instead of 404\n"
            "      --max-body BYTES      largest request body; larger gets 413 (default 1048576)\n"
            "      --max-users N         most users in one predict request (default 1000)\n"
            "      --answer-cache N      answers kept in memory per store version, so that a\n"
            "                            repeated request is not worked out again (default 4096;\n"
            "                            answers over 8 KiB, e.g. batches, are not kept; 0: none)\n"
            "      --cache-max-age S     snippet Cache-Control max-age (default 300)\n"
            "      --stale-while-revalidate S   snippet Cache-Control (default 60)\n"
            "      --connection-limit N  open connections served; requests on more get 503, and\n"
            "                            beyond N+64 connections are refused (default 1024)\n"
            "      --timeout S           close connections idle this long, or that take longer to\n"
            "                            send a whole request (slow clients; default 30)\n"
            "      --shutdown-grace S    on SIGTERM/SIGINT, let open connections finish (default 5)\n"
            "      --poll-ms MS          check the store file for replacement this often; 0: only\n"
            "                            on SIGHUP (default 200)\n"
            "      --access-log FILE     one line per request (Common Log Format + ms); - for stdout\n"
            "      --cors-origin ORIGIN  let pages of ORIGIN (or * for any) read the GET endpoints:\n"
            "                            Access-Control-Allow-Origin, Vary: Origin, OPTIONS preflight\n"
            "                            answered (default: no CORS)\n"
            "  -h, --help                this text\n"
            "\n"
            "Hot swap: replace the store file by rename (or send SIGHUP), or add a version file;\n"
            "the new store is checked (mfkv_open) before it is served, and one that fails is\n"
            "refused while the old one keeps serving (logged, counted in /metrics).  Never\n"
            "overwrite a served file in place (cp onto it): rename a finished file over it.\n"
            "\n"
            "examples:\n"
            "  mfkv serve recs.store\n"
            "  mfkv serve --listen 0.0.0.0:8080 --fallback --access-log - recs.store\n"
            "  mfkv serve --model-base-path /models/recs --model movies=movies.store\n"
            "  curl -d '{\"instances\":[{\"user_id\":1}]}' localhost:8501/v1/models/recommender_model:predict\n"
            "\n"
            "exit codes:\n"
            "  0  stopped by SIGTERM or SIGINT\n"
            "  2  usage error\n"
            "  3  cannot read the store or listen on the address\n"
            "  4  the store is corrupt, foreign, or of a newer major version\n");
}

/* HOST:PORT, [IPV6]:PORT, :PORT (every IPv4 address) or PORT (the default
 * address).  HOST may be a name; the server listens on its first address. */
static int parse_listen(const char *arg, char *host, size_t host_size, const char **host_out, uint16_t *port)
{
    const char *colon = strrchr(arg, ':');
    const char *port_text = colon ? colon + 1 : arg;
    if (colon) {
        const char *h = arg;
        size_t hlen = (size_t)(colon - arg);
        int bracketed = hlen >= 2 && h[0] == '[' && h[hlen - 1] == ']';
        if (bracketed) h++, hlen -= 2;
        if (!bracketed && memchr(h, ':', hlen)) {
            cli_error("--listen: write an IPv6 address in brackets, e.g. [::1]:8501 (got '%s')", arg);
            return -1;
        }
        if (hlen >= host_size || (bracketed && hlen == 0)) {
            cli_error("--listen: bad address in '%s'", arg);
            return -1;
        }
        memcpy(host, h, hlen);
        host[hlen] = '\0';
        *host_out = hlen ? host : "0.0.0.0";
    }
    uint32_t p;
    if (cli_parse_u32("--listen port", port_text, 0, 65535, &p)) return -1;
    *port = (uint16_t)p;
    return 0;
}

/* Cloud Run and Vertex AI: the platform names the port and the paths. */
static int from_environment(serve_config *c, int listen_given)
{
    const char *port = getenv("AIP_HTTP_PORT");
    const char *name = "$AIP_HTTP_PORT";
    if (!port || !*port) port = getenv("PORT"), name = "$PORT";
    if (!listen_given && port && *port) {
        uint32_t p;
        if (cli_parse_u32(name, port, 1, 65535, &p)) return -1;
        c->listen_host = "0.0.0.0"; /* the platform's proxy connects from outside */
        c->listen_port = (uint16_t)p;
    }
    const char *routes[2][2] = {{"AIP_PREDICT_ROUTE", NULL}, {"AIP_HEALTH_ROUTE", NULL}};
    for (int i = 0; i < 2; i++) {
        const char *v = getenv(routes[i][0]);
        if (v && *v && v[0] != '/') {
            cli_error("$%s must be a path starting with '/', got '%s'", routes[i][0], v);
            return -1;
        }
        routes[i][1] = v && *v ? v : NULL;
    }
    c->predict_route = routes[0][1];
    c->health_route = routes[1][1];
    return 0;
}

enum {
    OPT_FALLBACK = 256, OPT_MAX_BODY, OPT_MAX_USERS, OPT_MAX_AGE, OPT_SWR, OPT_CONN_LIMIT,
    OPT_TIMEOUT, OPT_GRACE, OPT_POLL, OPT_ACCESS_LOG, OPT_CORS, OPT_MODEL, OPT_BASE_PATH, OPT_KEEP,
    OPT_ANSWER_CACHE,
};

#define MAX_MODELS 64

/* A model name as it appears in /v1/models/NAME. */
static int check_model_name(const char *name, size_t len)
{
    if (!len || memchr(name, '/', len) || memchr(name, ':', len)) {
        cli_error("model names must be non-empty without '/' or ':' (got '%.*s')", (int)len, name);
        return -1;
    }
    return 0;
}

/* --model NAME=PATH; the name is cut off in place. */
static int parse_model(char *arg, serve_model_spec *out)
{
    char *eq = strchr(arg, '=');
    if (!eq || !eq[1]) {
        cli_error("--model: expected NAME=PATH, got '%s'", arg);
        return -1;
    }
    if (check_model_name(arg, (size_t)(eq - arg))) return -1;
    *eq = '\0';
    out->name = arg;
    out->path = eq + 1;
    return 0;
}

int cmd_serve(int argc, char **argv)
{
    static const struct option options[] = {
        {"store", required_argument, NULL, 's'},
        {"listen", required_argument, NULL, 'l'},
        {"model-name", required_argument, NULL, 'm'},
        {"threads", required_argument, NULL, 't'},
        {"fallback", no_argument, NULL, OPT_FALLBACK},
        {"max-body", required_argument, NULL, OPT_MAX_BODY},
        {"max-users", required_argument, NULL, OPT_MAX_USERS},
        {"answer-cache", required_argument, NULL, OPT_ANSWER_CACHE},
        {"cache-max-age", required_argument, NULL, OPT_MAX_AGE},
        {"stale-while-revalidate", required_argument, NULL, OPT_SWR},
        {"connection-limit", required_argument, NULL, OPT_CONN_LIMIT},
        {"timeout", required_argument, NULL, OPT_TIMEOUT},
        {"shutdown-grace", required_argument, NULL, OPT_GRACE},
        {"poll-ms", required_argument, NULL, OPT_POLL},
        {"access-log", required_argument, NULL, OPT_ACCESS_LOG},
        {"cors-origin", required_argument, NULL, OPT_CORS},
        {"model", required_argument, NULL, OPT_MODEL},
        {"model-base-path", required_argument, NULL, OPT_BASE_PATH},
        {"versions-to-keep", required_argument, NULL, OPT_KEEP},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    serve_config c;
    serve_config_defaults(&c);
    const char *store_flag = NULL, *access_log = NULL, *base_path = NULL, *model_name = "recommender_model";
    serve_model_spec models[MAX_MODELS];
    size_t n_models = 1; /* models[0]: STORE or --model-base-path, when given */
    char host[256];
    int listen_given = 0;
    uint32_t body = (uint32_t)c.max_body;
    int opt;
    optind = 1;
    while ((opt = getopt_long(argc, argv, "s:l:m:t:h", options, NULL)) != -1) {
        int bad = 0;
        switch (opt) {
        case 's': store_flag = optarg; break;
        case 'l':
            bad = parse_listen(optarg, host, sizeof host, &c.listen_host, &c.listen_port);
            listen_given = 1;
            break;
        case 'm':
            bad = check_model_name(optarg, strlen(optarg));
            model_name = optarg;
            break;
        case OPT_MODEL:
            if (n_models == MAX_MODELS) {
                cli_error("--model: at most %d models", MAX_MODELS - 1);
                bad = 1;
            } else {
                bad = parse_model(optarg, &models[n_models++]);
            }
            break;
        case OPT_BASE_PATH: base_path = optarg; break;
        case OPT_KEEP: bad = cli_parse_u32("--versions-to-keep", optarg, 1, 100, &c.versions_to_keep); break;
        case 't': bad = cli_parse_u32("--threads", optarg, 1, 1024, &c.threads); break;
        case OPT_FALLBACK: c.fallback = 1; break;
        case OPT_MAX_BODY: bad = cli_parse_u32("--max-body", optarg, 16, UINT32_MAX, &body); break;
        case OPT_MAX_USERS: bad = cli_parse_u32("--max-users", optarg, 1, 1000000, &c.max_users); break;
        case OPT_ANSWER_CACHE: bad = cli_parse_u32("--answer-cache", optarg, 0, 1u << 24, &c.answer_cache); break;
        case OPT_MAX_AGE: bad = cli_parse_u32("--cache-max-age", optarg, 0, UINT32_MAX, &c.cache_max_age); break;
        case OPT_SWR: bad = cli_parse_u32("--stale-while-revalidate", optarg, 0, UINT32_MAX, &c.stale_while_revalidate); break;
        case OPT_CONN_LIMIT: bad = cli_parse_u32("--connection-limit", optarg, 1, 1000000, &c.connection_limit); break;
        case OPT_TIMEOUT: bad = cli_parse_u32("--timeout", optarg, 1, 86400, &c.connection_timeout); break;
        case OPT_GRACE: bad = cli_parse_u32("--shutdown-grace", optarg, 0, 3600, &c.shutdown_grace); break;
        case OPT_POLL: bad = cli_parse_u32("--poll-ms", optarg, 0, 3600000, &c.poll_ms); break;
        case OPT_ACCESS_LOG: access_log = optarg; break;
        case OPT_CORS:
            if (!*optarg || strpbrk(optarg, "\r\n ,")) {
                cli_error("--cors-origin: one origin (https://shop.example) or *");
                bad = 1;
            }
            c.cors_origin = optarg;
            break;
        case 'h': usage(stdout); return MFKV_EXIT_OK;
        default: usage(stderr); return MFKV_EXIT_USAGE;
        }
        if (bad) return MFKV_EXIT_USAGE;
    }
    const char *store = argc - optind == 1 ? argv[optind] : store_flag;
    if (argc - optind > 1 || (argc - optind == 1 && store_flag) || (store && base_path)) {
        cli_error("serve: give the store once, as STORE, --store or --model-base-path");
        return MFKV_EXIT_USAGE;
    }
    if (from_environment(&c, listen_given)) return MFKV_EXIT_USAGE;
    /* The main model (STORE, the base path, or by default $MFKV_STORE or
     * ./mfkv.store) unless only --model ones were given. */
    size_t first = 0;
    if (store || base_path || n_models == 1)
        models[0] = (serve_model_spec){.name = model_name, .path = base_path ? base_path : cli_store_path(store)};
    else
        first = 1;
    for (size_t i = first; i < n_models; i++)
        for (size_t j = first; j < i; j++)
            if (!strcmp(models[i].name, models[j].name)) {
                cli_error("serve: model %s given twice", models[i].name);
                return MFKV_EXIT_USAGE;
            }
    c.models = models + first;
    c.n_models = n_models - first;
    c.max_body = body;
    if (access_log) {
        c.access_log = strcmp(access_log, "-") ? fopen(access_log, "a") : stdout;
        if (!c.access_log) {
            cli_error("--access-log: cannot open %s", access_log);
            return MFKV_EXIT_INPUT;
        }
    }
    mfkv_diag d = {0};
    int rc = serve_run(&c, &d);
    if (rc) cli_error("serve: %s", d.msg);
    if (c.access_log && c.access_log != stdout) fclose(c.access_log);
    return cli_exit_for(rc);
}
