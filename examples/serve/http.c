/* pneumo-serve: HTTP layer (see http.h). */
#include "http.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <microhttpd.h>

#include "request.h"
#include "strbuf.h"

enum job_state { JOB_NONE, JOB_QUEUED, JOB_DONE };

struct http_server {
    http_config cfg;
    char *model_json;
    struct MHD_Daemon *daemon;
    batcher *batcher;
    serve_metrics *metrics;
    upload_budget budget; /* all upload buffers together (--max-buffered-mb) */
    pthread_mutex_t lock; /* guards draining and each request's job state */
    int draining;
};

typedef struct request {
    http_server *srv;
    struct MHD_Connection *conn;
    double t_start;
    char method[16];
    char path[128];
    char client[64];
    int status; /* the status answered, 0 while none */
    uint64_t bytes_out;
    int close;    /* answer with "Connection: close" (the body is not read) */
    sreq core;    /* routing, limits and the body (request.c) */
    int arriving; /* counted in batcher_arriving() */
    /* the job */
    serve_job job;
    enum job_state state;
    int suspended;
} request;

static int server_draining(http_server *s)
{
    pthread_mutex_lock(&s->lock);
    int d = s->draining;
    pthread_mutex_unlock(&s->lock);
    return d;
}

static enum MHD_Result send_body(request *r, int status, const char *type, char *body, size_t len,
                                 enum MHD_ResponseMemoryMode mode)
{
    struct MHD_Response *resp = MHD_create_response_from_buffer(len, body, mode);
    if (!resp) {
        if (mode == MHD_RESPMEM_MUST_FREE)
            free(body);
        return MHD_NO;
    }
    MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE, type);
    MHD_add_response_header(resp, "X-Content-Type-Options", "nosniff");
    if (r->path[0] && strcmp(r->path, "/") == 0) {
        /* the page is self-contained: nothing may load from anywhere else */
        MHD_add_response_header(resp, "Content-Security-Policy",
                                "default-src 'none'; script-src 'unsafe-inline'; style-src 'unsafe-inline'; "
                                "img-src 'self' blob: data:; connect-src 'self'; form-action 'none'; "
                                "base-uri 'none'; frame-ancestors 'none'");
        MHD_add_response_header(resp, "Referrer-Policy", "no-referrer");
    } else {
        MHD_add_response_header(resp, MHD_HTTP_HEADER_CACHE_CONTROL, "no-store");
    }
    if (status == 405)
        MHD_add_response_header(resp, MHD_HTTP_HEADER_ALLOW,
                                strcmp(r->path, "/api/v1/diagnose") == 0 ? "POST" : "GET, HEAD");
    if (server_draining(r->srv) || r->close || r->core.reject)
        MHD_add_response_header(resp, MHD_HTTP_HEADER_CONNECTION, "close");
    r->status = status;
    r->bytes_out = len;
    enum MHD_Result ret = MHD_queue_response(r->conn, (unsigned)status, resp);
    MHD_destroy_response(resp);
    return ret;
}

static enum MHD_Result send_json(request *r, int status, strbuf *sb)
{
    size_t len;
    char *body = sb_take(sb, &len);
    if (!body)
        return MHD_NO;
    return send_body(r, status, "application/json", body, len, MHD_RESPMEM_MUST_FREE);
}

static enum MHD_Result send_error(request *r, int status, const char *msg)
{
    strbuf sb;
    sb_init(&sb);
    sb_json_error(&sb, status, msg);
    return send_json(r, status, &sb);
}

static void job_done(serve_job *job, void *user)
{
    request *r = user;
    (void)job;
    pthread_mutex_lock(&r->srv->lock);
    r->state = JOB_DONE;
    if (r->suspended) {
        r->suspended = 0;
        MHD_resume_connection(r->conn);
    }
    pthread_mutex_unlock(&r->srv->lock);
}

static void stop_arriving(request *r)
{
    if (r->arriving) {
        r->arriving = 0;
        batcher_arriving(r->srv->batcher, -1);
    }
}

/* The body is complete: queue the job (or answer what was decided). */
static enum MHD_Result diagnose_end(request *r)
{
    if (r->state == JOB_NONE) {
        stop_arriving(r);
        if (sreq_end(&r->core) != SREQ_JOB)
            return send_error(r, r->core.status, r->core.msg);
        r->job.body = r->core.body;
        r->job.body_len = r->core.len;
        r->job.heatmap = r->core.heatmap;
        r->job.t_start = r->t_start;
        r->job.done = job_done;
        r->job.user = r;
        pthread_mutex_lock(&r->srv->lock);
        r->state = JOB_QUEUED;
        if (batcher_submit(r->srv->batcher, &r->job) != 0) {
            r->state = JOB_NONE;
            pthread_mutex_unlock(&r->srv->lock);
            char msg[160];
            snprintf(msg, sizeof msg, "the queue is full (%lld images waiting); retry later",
                     (long long)batcher_capacity(r->srv->batcher));
            return send_error(r, 503, msg);
        }
        /* the worker may already have answered; suspend only if not */
        if (r->state != JOB_DONE) {
            r->suspended = 1;
            MHD_suspend_connection(r->conn);
            pthread_mutex_unlock(&r->srv->lock);
            return MHD_YES;
        }
        pthread_mutex_unlock(&r->srv->lock);
    }
    pthread_mutex_lock(&r->srv->lock);
    enum job_state st = r->state;
    pthread_mutex_unlock(&r->srv->lock);
    if (st != JOB_DONE)
        return MHD_YES;
    if (!r->job.answer)
        return send_error(r, 503, "out of memory for the answer");
    char *answer = r->job.answer;
    r->job.answer = NULL;
    return send_body(r, r->job.status, "application/json", answer, r->job.answer_len, MHD_RESPMEM_MUST_FREE);
}

static enum MHD_Result serve_get(request *r, enum sreq_route route)
{
    http_server *s = r->srv;
    strbuf sb;
    sb_init(&sb);
    switch (route) {
    case ROUTE_PAGE:
        return send_body(r, 200, "text/html; charset=utf-8", (char *)serve_page_html, serve_page_html_len,
                         MHD_RESPMEM_PERSISTENT);
    case ROUTE_HEALTH: {
        int draining = server_draining(s);
        sb_printf(&sb, "{\"status\": \"%s\", \"queue_depth\": %lld, \"in_flight\": %lld}\n",
                  draining ? "shutting down" : "ok", (long long)batcher_depth(s->batcher),
                  (long long)metrics_in_flight(s->metrics));
        return send_json(r, draining ? 503 : 200, &sb);
    }
    case ROUTE_MODEL: sb_puts(&sb, s->model_json); return send_json(r, 200, &sb);
    case ROUTE_METRICS: {
        metrics_render(s->metrics, batcher_depth(s->batcher), batcher_capacity(s->batcher),
                       budget_used(&s->budget), &sb);
        size_t len;
        char *body = sb_take(&sb, &len);
        if (!body)
            return MHD_NO;
        return send_body(r, 200, "text/plain; version=0.0.4; charset=utf-8", body, len,
                         MHD_RESPMEM_MUST_FREE);
    }
    default: return send_error(r, 404, "no such resource");
    }
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *conn, const char *url, const char *method,
                                  const char *version, const char *upload_data, size_t *upload_data_size,
                                  void **con_cls)
{
    http_server *s = cls;
    request *r = *con_cls;
    (void)version;
    if (!r) {
        r = calloc(1, sizeof *r);
        if (!r)
            return MHD_NO;
        r->srv = s;
        r->conn = conn;
        r->t_start = serve_now();
        snprintf(r->method, sizeof r->method, "%s", method);
        snprintf(r->path, sizeof r->path, "%s", url);
        const union MHD_ConnectionInfo *ci = MHD_get_connection_info(conn,
                                                                     MHD_CONNECTION_INFO_CLIENT_ADDRESS);
        if (ci && ci->client_addr) {
            const struct sockaddr *sa = ci->client_addr;
            if (sa->sa_family == AF_INET)
                inet_ntop(AF_INET, &((const struct sockaddr_in *)(const void *)sa)->sin_addr, r->client,
                          sizeof r->client);
            else if (sa->sa_family == AF_INET6)
                inet_ntop(AF_INET6, &((const struct sockaddr_in6 *)(const void *)sa)->sin6_addr, r->client,
                          sizeof r->client);
        }
        if (!r->client[0])
            snprintf(r->client, sizeof r->client, "-");
        *con_cls = r;
        metrics_request_begin(s->metrics);
        const char *ct = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, MHD_HTTP_HEADER_CONTENT_TYPE);
        const char *cl = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, MHD_HTTP_HEADER_CONTENT_LENGTH);
        const char *hm = MHD_lookup_connection_value(conn, MHD_GET_ARGUMENT_KIND, "heatmap");
        switch (sreq_begin(&r->core, &s->budget, s->cfg.max_upload, method, url, ct, cl, hm,
                           server_draining(s))) {
        case SREQ_GET: return serve_get(r, r->core.route);
        case SREQ_BODY:
            r->arriving = 1;
            batcher_arriving(s->batcher, 1);
            return MHD_YES;
        default:
            /* an upload refused before its body is read: the connection closes */
            r->close = r->core.route == ROUTE_DIAGNOSE && strcmp(method, "POST") == 0;
            return send_error(r, r->core.status, r->core.msg);
        }
    }
    if (*upload_data_size > 0) {
        if (serve_now() - r->t_start > s->cfg.request_timeout_s)
            return MHD_NO; /* an upload this slow is dropped: the client holds nothing longer */
        sreq_body(&r->core, upload_data, *upload_data_size);
        *upload_data_size = 0;
        return MHD_YES;
    }
    if (r->status)
        return MHD_YES; /* answered in the first call */
    return diagnose_end(r);
}

static void on_completed(void *cls, struct MHD_Connection *conn, void **con_cls,
                         enum MHD_RequestTerminationCode toe)
{
    http_server *s = cls;
    request *r = *con_cls;
    (void)conn;
    if (!r)
        return;
    double seconds = serve_now() - r->t_start;
    int status = toe == MHD_REQUEST_TERMINATED_COMPLETED_OK ? r->status : 0;
    stop_arriving(r);
    metrics_request_end(s->metrics, status, seconds);
    char stamp[32], line[512];
    time_t now = time(NULL);
    struct tm tm;
    gmtime_r(&now, &tm);
    strftime(stamp, sizeof stamp, "%Y-%m-%dT%H:%M:%SZ", &tm);
    char st[32];
    if (status)
        snprintf(st, sizeof st, "%d", status);
    else
        snprintf(st, sizeof st, "aborted(%d)", (int)toe);
    char batch[32] = "";
    if (r->job.batch_size > 0)
        snprintf(batch, sizeof batch, " batch=%d", r->job.batch_size);
    int n = snprintf(line, sizeof line, "%s %s \"%s %s\" %s %llu %.3fms%s\n", stamp, r->client, r->method,
                     r->path, st, (unsigned long long)r->bytes_out, seconds * 1e3, batch);
    if (n > 0) {
        ssize_t w = write(STDERR_FILENO, line, strlen(line));
        (void)w;
    }
    free(r->job.answer);
    sreq_free(&r->core);
    free(r);
    *con_cls = NULL;
}

static void mhd_log(void *cls, const char *fmt, va_list ap)
{
    char msg[512];
    (void)cls;
    vsnprintf(msg, sizeof msg, fmt, ap);
    size_t n = strlen(msg);
    while (n && msg[n - 1] == '\n')
        msg[--n] = '\0';
    fprintf(stderr, "pneumo-serve: libmicrohttpd: %s\n", msg);
}

http_server *http_start(const http_config *cfg, batcher *b, serve_metrics *m, char *err, size_t err_size)
{
    http_server *s = calloc(1, sizeof *s);
    if (!s || !(s->model_json = strdup(cfg->model_json))) {
        free(s);
        snprintf(err, err_size, "out of memory");
        return NULL;
    }
    s->cfg = *cfg;
    s->batcher = b;
    s->metrics = m;
    pthread_mutex_init(&s->lock, NULL);
    budget_init(&s->budget, cfg->max_buffered);
    unsigned flags = MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_AUTO | MHD_ALLOW_SUSPEND_RESUME |
                     MHD_USE_ERROR_LOG;
    if (cfg->addr.ss_family == AF_INET6)
        flags |= MHD_USE_IPv6;
    s->daemon = MHD_start_daemon(flags, 0, NULL, NULL, on_request, s, MHD_OPTION_EXTERNAL_LOGGER, mhd_log,
                                 NULL, MHD_OPTION_SOCK_ADDR, (const struct sockaddr *)&cfg->addr,
                                 MHD_OPTION_CONNECTION_TIMEOUT, cfg->idle_timeout_s,
                                 MHD_OPTION_CONNECTION_LIMIT, cfg->max_connections,
                                 MHD_OPTION_NOTIFY_COMPLETED, on_completed, s,
                                 MHD_OPTION_LISTENING_ADDRESS_REUSE, 1u, MHD_OPTION_END);
    if (!s->daemon) {
        char host[INET6_ADDRSTRLEN] = "?";
        unsigned port = 0;
        if (cfg->addr.ss_family == AF_INET) {
            const struct sockaddr_in *a = (const void *)&cfg->addr;
            inet_ntop(AF_INET, &a->sin_addr, host, sizeof host);
            port = ntohs(a->sin_port);
        } else {
            const struct sockaddr_in6 *a = (const void *)&cfg->addr;
            inet_ntop(AF_INET6, &a->sin6_addr, host, sizeof host);
            port = ntohs(a->sin6_port);
        }
        snprintf(err, err_size, "cannot listen on %s port %u (in use, or not an address of this host?)", host,
                 port);
        pthread_mutex_destroy(&s->lock);
        budget_destroy(&s->budget);
        free(s->model_json);
        free(s);
        return NULL;
    }
    return s;
}

uint16_t http_port(http_server *s)
{
    const union MHD_DaemonInfo *di = MHD_get_daemon_info(s->daemon, MHD_DAEMON_INFO_BIND_PORT);
    return di ? di->port : 0;
}

void http_quiesce(http_server *s)
{
    pthread_mutex_lock(&s->lock);
    s->draining = 1;
    pthread_mutex_unlock(&s->lock);
    MHD_socket fd = MHD_quiesce_daemon(s->daemon);
    if (fd != MHD_INVALID_SOCKET)
        close(fd);
}

void http_stop(http_server *s)
{
    if (!s)
        return;
    MHD_stop_daemon(s->daemon);
    pthread_mutex_destroy(&s->lock);
    budget_destroy(&s->budget);
    free(s->model_json);
    free(s);
}
