/* pneumo-serve: the diagnosis server: the article's web app as an
 * HTTP/1.1 service with a self-contained page, micro-batched inference and
 * Grad-CAM overlays. See docs/serving.md.
 *
 *   pneumo-serve --model M [--listen 127.0.0.1:8080] [--threads N] [--max-upload-mb 20] ...
 *
 * main.c: options, the model, startup and the SIGTERM drain; http.c: the
 * HTTP layer on libmicrohttpd; request.c: routing, limits, the body and the
 * multipart parser, without the transport; batcher.c: queue and workers;
 * metrics.c: /metrics; page.html: the page (embedded at build time). */
#include <arpa/inet.h>
#include <netdb.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <pneumo/pneumo.h>

#include "batcher.h"
#include "http.h"
#include "metrics.h"
#include "strbuf.h"

#define PROG "pneumo-serve"

static int usage(FILE *f)
{
    fprintf(
        f, "usage: " PROG " --model MODEL [options]\n"
           "  --listen ADDR:PORT     address to listen on (default 127.0.0.1:8080; [::1]:8080 for IPv6,\n"
           "                         port 0 = any free port)\n"
           "  --threads N            inference workers (default: online cores)\n"
           "  --worker-threads N     threads each worker's predict call uses (default 1)\n"
           "  --max-batch N          images per predict call at most (default 8)\n"
           "  --batch-wait-us N      longest wait for a batch to fill while uploads arrive (default 1000)\n"
           "  --queue N              images waiting at most before 503 (default 64)\n"
           "  --max-upload-mb N      largest request body in MiB (default 20)\n"
           "  --max-buffered-mb N    all upload buffers together at most, in MiB, before 503 (default 256)\n"
           "  --max-pixels N         largest decoded image in pixels (default 50000000)\n"
           "  --max-side N           largest image side in pixels (default 16384)\n"
           "  --timeout S            close connections idle for S seconds (default 10)\n"
           "  --request-timeout S    drop uploads not complete after S seconds (default 30)\n"
           "  --max-connections N    concurrent connections (default 256)\n"
           "  --drain-timeout S      on SIGTERM, wait at most S seconds for requests in flight (default 30)\n"
           "  --name NAME            model name shown in answers (default: the file's name)\n");
    return f == stdout ? 0 : 2;
}

static long opt_long(const char *flag, const char *v, long lo, long hi)
{
    char *end;
    long x = strtol(v, &end, 10);
    if (!*v || *end || x < lo || x > hi) {
        fprintf(stderr, PROG ": %s must be an integer in %ld..%ld (got '%s')\n", flag, lo, hi, v);
        exit(2);
    }
    return x;
}

/* "127.0.0.1:8080", "[::1]:8080", "localhost:8080" into addr. 0 on success. */
static int parse_listen(const char *spec, struct sockaddr_storage *addr, socklen_t *len)
{
    char host[256];
    const char *port;
    if (spec[0] == '[') {
        const char *close = strchr(spec, ']');
        if (!close || close[1] != ':' || (size_t)(close - spec - 1) >= sizeof host)
            return -1;
        memcpy(host, spec + 1, (size_t)(close - spec - 1));
        host[close - spec - 1] = '\0';
        port = close + 2;
    } else {
        const char *colon = strrchr(spec, ':');
        if (!colon || (size_t)(colon - spec) >= sizeof host)
            return -1;
        memcpy(host, spec, (size_t)(colon - spec));
        host[colon - spec] = '\0';
        port = colon + 1;
    }
    char *end;
    long p = strtol(port, &end, 10);
    if (!*port || *end || p < 0 || p > 65535)
        return -1;
    struct addrinfo hints, *res = NULL;
    memset(&hints, 0, sizeof hints);
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    hints.ai_flags = AI_NUMERICSERV;
    if (getaddrinfo(host[0] ? host : "0.0.0.0", port, &hints, &res) != 0 || !res)
        return -1;
    memcpy(addr, res->ai_addr, res->ai_addrlen);
    *len = res->ai_addrlen;
    freeaddrinfo(res);
    return 0;
}

static const char *base_name(const char *path)
{
    const char *s = strrchr(path, '/');
    return s ? s + 1 : path;
}

/* Body of GET /api/v1/model: the name, the model card and the server's limits. */
static char *model_json(const pneumo_model *m, const char *name, const char *path, const batcher_config *bc,
                        size_t max_upload)
{
    size_t need = 0;
    if (pneumo_model_info_json(m, NULL, 0, &need) != PNEUMO_OK)
        return NULL;
    char *card = malloc(need + 1);
    if (!card || pneumo_model_info_json(m, card, need + 1, NULL) != PNEUMO_OK) {
        free(card);
        return NULL;
    }
    strbuf sb;
    sb_init(&sb);
    sb_puts(&sb, "{\"name\": ");
    sb_json_string(&sb, name);
    sb_puts(&sb, ", \"file\": ");
    sb_json_string(&sb, base_name(path));
    sb_puts(&sb, ", \"library_version\": ");
    sb_json_string(&sb, pneumo_version());
    sb_printf(&sb,
              ", \"server\": {\"threads\": %d, \"max_batch\": %d, \"queue_capacity\": %d, "
              "\"max_upload_bytes\": %zu, \"max_pixels\": %lld, \"max_side\": %d}",
              bc->threads, bc->max_batch, bc->queue_capacity, max_upload, (long long)bc->limits.max_pixels,
              (int)bc->limits.max_side);
    sb_puts(&sb, ", \"card\": ");
    sb_puts(&sb, card);
    sb_puts(&sb, "}");
    free(card);
    return sb_take(&sb, NULL);
}

int main(int argc, char **argv)
{
    const char *model_path = NULL, *listen = "127.0.0.1:8080", *name = NULL;
    long online = sysconf(_SC_NPROCESSORS_ONLN);
    batcher_config bc;
    memset(&bc, 0, sizeof bc);
    bc.threads = online > 0 ? (int)(online > 64 ? 64 : online) : 1;
    bc.worker_threads = 1;
    bc.max_batch = 8;
    bc.wait_us = 1000;
    bc.queue_capacity = 64;
    pneumo_decode_default_limits(&bc.limits);
    bc.limits.max_pixels = 50000000;
    http_config hc;
    memset(&hc, 0, sizeof hc);
    long max_upload_mb = 20, max_buffered_mb = 256, drain_s = 30;
    hc.idle_timeout_s = 10;
    hc.request_timeout_s = 30;
    hc.max_connections = 256;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (strcmp(a, "--help") == 0)
            return usage(stdout);
        if (!v)
            return usage(stderr);
        i++;
        if (strcmp(a, "--model") == 0)
            model_path = v;
        else if (strcmp(a, "--listen") == 0)
            listen = v;
        else if (strcmp(a, "--name") == 0)
            name = v;
        else if (strcmp(a, "--threads") == 0)
            bc.threads = (int)opt_long(a, v, 1, 64);
        else if (strcmp(a, "--worker-threads") == 0)
            bc.worker_threads = (int)opt_long(a, v, 1, 64);
        else if (strcmp(a, "--max-batch") == 0)
            bc.max_batch = (int)opt_long(a, v, 1, 256);
        else if (strcmp(a, "--batch-wait-us") == 0)
            bc.wait_us = (int)opt_long(a, v, 0, 100000);
        else if (strcmp(a, "--queue") == 0)
            bc.queue_capacity = (int)opt_long(a, v, 1, 1000000);
        else if (strcmp(a, "--max-upload-mb") == 0)
            max_upload_mb = opt_long(a, v, 1, 4096);
        else if (strcmp(a, "--max-buffered-mb") == 0)
            max_buffered_mb = opt_long(a, v, 1, 65536);
        else if (strcmp(a, "--max-pixels") == 0)
            bc.limits.max_pixels = opt_long(a, v, 1, 1L << 31);
        else if (strcmp(a, "--max-side") == 0)
            bc.limits.max_side = (int32_t)opt_long(a, v, 1, 1 << 20);
        else if (strcmp(a, "--timeout") == 0)
            hc.idle_timeout_s = (unsigned)opt_long(a, v, 1, 3600);
        else if (strcmp(a, "--request-timeout") == 0)
            hc.request_timeout_s = (double)opt_long(a, v, 1, 3600);
        else if (strcmp(a, "--max-connections") == 0)
            hc.max_connections = (unsigned)opt_long(a, v, 1, 100000);
        else if (strcmp(a, "--drain-timeout") == 0)
            drain_s = opt_long(a, v, 0, 3600);
        else
            return usage(stderr);
    }
    if (!model_path)
        return usage(stderr);
    if (parse_listen(listen, &hc.addr, &hc.addr_len) != 0) {
        fprintf(stderr, PROG ": --listen '%s' is not ADDR:PORT (e.g. 127.0.0.1:8080 or [::1]:8080)\n",
                listen);
        return 2;
    }
    hc.max_upload = (size_t)max_upload_mb << 20;
    hc.max_buffered = (size_t)max_buffered_mb << 20;
    if (!name)
        name = base_name(model_path);
    bc.model_name = name;

    /* SIGTERM and SIGINT are taken by sigwait() below, in this thread only:
     * block them before any thread starts so every thread inherits the mask. */
    sigset_t sigs;
    sigemptyset(&sigs);
    sigaddset(&sigs, SIGTERM);
    sigaddset(&sigs, SIGINT);
    pthread_sigmask(SIG_BLOCK, &sigs, NULL);
    signal(SIGPIPE, SIG_IGN);

    pneumo_model *model = NULL;
    if (pneumo_model_load(model_path, &model, NULL) != PNEUMO_OK) {
        fprintf(stderr, PROG ": %s\n", pneumo_last_error());
        return 1;
    }
    char *info = model_json(model, name, model_path, &bc, hc.max_upload);
    if (!info) {
        fprintf(stderr, PROG ": %s\n", pneumo_last_error());
        pneumo_model_destroy(model);
        return 1;
    }
    hc.model_json = info;
    char err[512];
    serve_metrics *metrics = metrics_create();
    batcher *b = metrics ? batcher_create(model, &bc, metrics, err, sizeof err) : NULL;
    if (!b) {
        fprintf(stderr, PROG ": %s\n", metrics ? err : "out of memory");
        metrics_destroy(metrics);
        free(info);
        pneumo_model_destroy(model);
        return 1;
    }
    http_server *srv = http_start(&hc, b, metrics, err, sizeof err);
    if (!srv) {
        fprintf(stderr, PROG ": %s\n", err);
        batcher_destroy(b);
        metrics_destroy(metrics);
        free(info);
        pneumo_model_destroy(model);
        return 1;
    }
    char host[INET6_ADDRSTRLEN] = "?";
    if (hc.addr.ss_family == AF_INET6)
        inet_ntop(AF_INET6, &((const struct sockaddr_in6 *)(const void *)&hc.addr)->sin6_addr, host,
                  sizeof host);
    else
        inet_ntop(AF_INET, &((const struct sockaddr_in *)(const void *)&hc.addr)->sin_addr, host,
                  sizeof host);
    int32_t h = 0, w = 0, c = 0;
    pneumo_model_input_shape(model, &h, &w, &c);
    int v6 = hc.addr.ss_family == AF_INET6;
    fprintf(stderr,
            PROG ": serving %s (%dx%d input) with %d workers, batches of up to %d, on http://%s%s%s:%u/\n",
            name, (int)h, (int)w, bc.threads, bc.max_batch, v6 ? "[" : "", host, v6 ? "]" : "",
            (unsigned)http_port(srv));

    int sig = 0;
    sigwait(&sigs, &sig);
    fprintf(stderr, PROG ": %s: no new connections; finishing %lld requests in flight\n",
            sig == SIGTERM ? "SIGTERM" : "SIGINT", (long long)metrics_in_flight(metrics));
    http_quiesce(srv);
    double deadline = serve_now() + (double)drain_s;
    while (metrics_in_flight(metrics) > 0 && serve_now() < deadline) {
        struct timespec ts = {0, 10 * 1000 * 1000};
        nanosleep(&ts, NULL);
    }
    int64_t left = metrics_in_flight(metrics);
    /* the batcher finishes what is queued first, so no connection stays suspended */
    batcher_destroy(b);
    http_stop(srv);
    metrics_destroy(metrics);
    free(info);
    pneumo_model_destroy(model);
    if (left > 0) {
        fprintf(stderr, PROG ": stopped with %lld requests unfinished after %ld s\n", (long long)left,
                drain_s);
        return 1;
    }
    fprintf(stderr, PROG ": stopped\n");
    return 0;
}
