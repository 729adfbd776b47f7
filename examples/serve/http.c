/* pneumo-serve: HTTP layer (see http.h). */
#include "http.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <microhttpd.h>

#include "strbuf.h"

#define POST_BUFFER 16384

enum route { ROUTE_NONE, ROUTE_PAGE, ROUTE_HEALTH, ROUTE_MODEL, ROUTE_METRICS, ROUTE_DIAGNOSE };
enum body_kind { BODY_RAW, BODY_MULTIPART };
enum job_state { JOB_NONE, JOB_QUEUED, JOB_DONE };

struct http_server {
    http_config cfg;
    char *model_json;
    struct MHD_Daemon *daemon;
    batcher *batcher;
    serve_metrics *metrics;
    pthread_mutex_t lock; /* guards draining, buffered and each request's job state */
    int draining;
    size_t buffered;      /* bytes of upload buffers held by all requests */
};

typedef struct request {
    http_server *srv;
    struct MHD_Connection *conn;
    double t_start;
    char method[16];
    char path[128];
    char client[64];
    int status;          /* the status answered, 0 while none */
    uint64_t bytes_out;
    /* diagnosis upload */
    enum body_kind kind;
    struct MHD_PostProcessor *pp;
    unsigned char *body;
    size_t len, cap;
    int reject;          /* an HTTP status decided while the body still arrives */
    char reject_msg[160];
    int files;           /* file parts seen in a multipart body */
    int arriving;        /* counted in batcher_arriving() */
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
    if (server_draining(r->srv) || r->reject)
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

static enum MHD_Result send_error(request *r, int status, const char *fmt, ...)
{
    char msg[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    strbuf sb;
    sb_init(&sb);
    sb_json_error(&sb, status, msg);
    return send_json(r, status, &sb);
}

static void reject(request *r, int status, const char *msg)
{
    if (r->reject)
        return;
    r->reject = status;
    snprintf(r->reject_msg, sizeof r->reject_msg, "%s", msg);
}

/* Take n bytes from the budget of all upload buffers (--max-buffered-mb);
 * 0 on success, -1 when it would overflow. */
static int budget_take(http_server *s, size_t n)
{
    pthread_mutex_lock(&s->lock);
    int ok = n <= s->cfg.max_buffered - s->buffered;
    if (ok)
        s->buffered += n;
    pthread_mutex_unlock(&s->lock);
    return ok ? 0 : -1;
}

static void body_release(request *r)
{
    free(r->body);
    r->body = NULL;
    pthread_mutex_lock(&r->srv->lock);
    r->srv->buffered -= r->cap;
    pthread_mutex_unlock(&r->srv->lock);
    r->len = r->cap = 0;
}

static void reject_busy(request *r)
{
    char msg[160];
    snprintf(msg, sizeof msg, "too many uploads in progress (%zu MiB buffered); retry later",
             r->srv->cfg.max_buffered >> 20);
    reject(r, 503, msg);
}

/* Make room for `cap` bytes of body; 0, or -1 after rejecting the request. */
static int body_reserve(request *r, size_t cap)
{
    if (budget_take(r->srv, cap - r->cap) != 0) {
        reject_busy(r);
        body_release(r);
        return -1;
    }
    unsigned char *b = realloc(r->body, cap);
    if (!b) {
        pthread_mutex_lock(&r->srv->lock);
        r->srv->buffered -= cap - r->cap;
        pthread_mutex_unlock(&r->srv->lock);
        reject(r, 503, "out of memory for the upload");
        body_release(r);
        return -1;
    }
    r->body = b;
    r->cap = cap;
    return 0;
}

/* Append n bytes of the image to the request's body, within --max-upload-mb. */
static void body_append(request *r, const char *data, size_t n)
{
    if (r->reject)
        return;
    if (n > r->srv->cfg.max_upload - r->len) {
        char msg[160];
        snprintf(msg, sizeof msg, "the body exceeds the upload limit of %zu bytes", r->srv->cfg.max_upload);
        reject(r, 413, msg);
        body_release(r);
        return;
    }
    if (r->len + n > r->cap) {
        size_t cap = r->cap ? r->cap : 65536;
        while (cap < r->len + n)
            cap *= 2;
        if (cap > r->srv->cfg.max_upload)
            cap = r->srv->cfg.max_upload;
        if (body_reserve(r, cap) != 0)
            return;
    }
    memcpy(r->body + r->len, data, n);
    r->len += n;
}

/* The media type of a Content-Type value, lowercased, without parameters. */
static void media_type(const char *v, char *buf, size_t size)
{
    size_t n = 0;
    while (v && (*v == ' ' || *v == '\t'))
        v++;
    for (; v && *v && *v != ';' && *v != ' ' && n + 1 < size; v++)
        buf[n++] = (char)tolower((unsigned char)*v);
    buf[n] = '\0';
}

/* Media types of an upload; the decoder then tells the format by content
 * (a DICOM file needs a build with -Ddicom, else it is a 415). */
static int image_type(const char *type)
{
    return strcmp(type, "image/jpeg") == 0 || strcmp(type, "image/png") == 0 ||
           strcmp(type, "application/dicom") == 0;
}

static enum MHD_Result post_part(void *cls, enum MHD_ValueKind kind, const char *key, const char *filename,
                                 const char *content_type, const char *transfer_encoding, const char *data,
                                 uint64_t off, size_t size)
{
    request *r = cls;
    (void)kind, (void)key, (void)transfer_encoding;
    if (!filename)
        return MHD_YES; /* an ordinary form field: not ours */
    if (off == 0) {
        char type[64];
        media_type(content_type, type, sizeof type);
        if (++r->files > 1)
            reject(r, 400, "one image per request: the form holds more than one file");
        else if (type[0] && !image_type(type) && strcmp(type, "application/octet-stream") != 0) {
            char msg[160];
            snprintf(msg, sizeof msg, "unsupported file type '%s' (send image/jpeg, image/png or application/dicom)", type);
            reject(r, 415, msg);
        }
    }
    if (r->files == 1)
        body_append(r, data, size);
    return MHD_YES;
}

/* The first call of a POST /api/v1/diagnose: check type and length before
 * any byte of the body is read. Returns 0 or the error already queued. */
static int diagnose_begin(request *r, enum MHD_Result *ret)
{
    char type[64];
    const char *ct = MHD_lookup_connection_value(r->conn, MHD_HEADER_KIND, MHD_HTTP_HEADER_CONTENT_TYPE);
    const char *cl = MHD_lookup_connection_value(r->conn, MHD_HEADER_KIND, MHD_HTTP_HEADER_CONTENT_LENGTH);
    size_t declared = 0;
    media_type(ct, type, sizeof type);
    r->reject = -1; /* any answer from here on closes the connection: the body is not read */
    if (server_draining(r->srv)) {
        *ret = send_error(r, 503, "the server is shutting down");
        return 1;
    }
    if (cl) {
        char *end;
        unsigned long long n = strtoull(cl, &end, 10);
        if (end != cl && n > r->srv->cfg.max_upload) {
            *ret = send_error(r, 413, "the body of %llu bytes exceeds the upload limit of %zu bytes", n,
                              r->srv->cfg.max_upload);
            return 1;
        }
        if (end != cl)
            declared = (size_t)n;
    }
    if (image_type(type)) {
        r->kind = BODY_RAW;
    } else if (strcmp(type, "multipart/form-data") == 0) {
        r->kind = BODY_MULTIPART;
        r->pp = MHD_create_post_processor(r->conn, POST_BUFFER, post_part, r);
        if (!r->pp) {
            *ret = send_error(r, 400, "malformed multipart/form-data (no boundary?)");
            return 1;
        }
    } else {
        *ret = send_error(r, 415, "unsupported Content-Type '%s': send image/jpeg, image/png, "
                                  "application/dicom or multipart/form-data", ct ? ct : "(none)");
        return 1;
    }
    r->reject = 0;
    /* a raw body of declared length is buffered in one piece, taken from the budget now */
    if (r->kind == BODY_RAW && declared > 0 && body_reserve(r, declared) != 0) {
        *ret = send_error(r, r->reject, "%s", r->reject_msg);
        return 1;
    }
    r->arriving = 1;
    batcher_arriving(r->srv->batcher, 1);
    return 0;
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
        if (r->reject)
            return send_error(r, r->reject, "%s", r->reject_msg);
        if (r->kind == BODY_MULTIPART && r->files == 0)
            return send_error(r, 400, "the form holds no file (send the image as a file field)");
        if (r->len == 0)
            return send_error(r, 400, "empty body: send a JPEG or PNG image");
        const char *hm = MHD_lookup_connection_value(r->conn, MHD_GET_ARGUMENT_KIND, "heatmap");
        r->job.body = r->body;
        r->job.body_len = r->len;
        r->job.heatmap = hm && (strcmp(hm, "1") == 0 || strcmp(hm, "true") == 0);
        r->job.t_start = r->t_start;
        r->job.done = job_done;
        r->job.user = r;
        pthread_mutex_lock(&r->srv->lock);
        r->state = JOB_QUEUED;
        if (batcher_submit(r->srv->batcher, &r->job) != 0) {
            r->state = JOB_NONE;
            pthread_mutex_unlock(&r->srv->lock);
            return send_error(r, 503, "the queue is full (%lld images waiting); retry later",
                              (long long)batcher_capacity(r->srv->batcher));
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

static enum route find_route(const char *url)
{
    if (strcmp(url, "/") == 0 || strcmp(url, "/index.html") == 0)
        return ROUTE_PAGE;
    if (strcmp(url, "/healthz") == 0)
        return ROUTE_HEALTH;
    if (strcmp(url, "/api/v1/model") == 0)
        return ROUTE_MODEL;
    if (strcmp(url, "/metrics") == 0)
        return ROUTE_METRICS;
    if (strcmp(url, "/api/v1/diagnose") == 0)
        return ROUTE_DIAGNOSE;
    return ROUTE_NONE;
}

static enum MHD_Result serve_get(request *r, enum route route)
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
    case ROUTE_MODEL:
        sb_puts(&sb, s->model_json);
        return send_json(r, 200, &sb);
    case ROUTE_METRICS: {
        pthread_mutex_lock(&s->lock);
        size_t buffered = s->buffered;
        pthread_mutex_unlock(&s->lock);
        metrics_render(s->metrics, batcher_depth(s->batcher), batcher_capacity(s->batcher), buffered, &sb);
        size_t len;
        char *body = sb_take(&sb, &len);
        if (!body)
            return MHD_NO;
        return send_body(r, 200, "text/plain; version=0.0.4; charset=utf-8", body, len, MHD_RESPMEM_MUST_FREE);
    }
    default:
        return send_error(r, 404, "no such resource: %s", r->path);
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
        const union MHD_ConnectionInfo *ci = MHD_get_connection_info(conn, MHD_CONNECTION_INFO_CLIENT_ADDRESS);
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
        enum route route = find_route(url);
        int is_get = strcmp(method, "GET") == 0 || strcmp(method, "HEAD") == 0;
        if (route == ROUTE_DIAGNOSE) {
            if (strcmp(method, "POST") != 0)
                return send_error(r, 405, "%s takes POST", url);
            enum MHD_Result ret;
            if (diagnose_begin(r, &ret))
                return ret;
            return MHD_YES;
        }
        if (route != ROUTE_NONE && !is_get)
            return send_error(r, 405, "%s takes GET", url);
        return serve_get(r, route);
    }
    if (*upload_data_size > 0) {
        if (serve_now() - r->t_start > s->cfg.request_timeout_s)
            return MHD_NO; /* an upload this slow is dropped: the client holds nothing longer */
        if (r->kind == BODY_MULTIPART) {
            if (!r->reject && MHD_post_process(r->pp, upload_data, *upload_data_size) != MHD_YES)
                reject(r, 400, "malformed multipart/form-data body");
        } else {
            body_append(r, upload_data, *upload_data_size);
        }
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
    if (r->pp)
        MHD_destroy_post_processor(r->pp);
    free(r->job.answer);
    body_release(r);
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
    unsigned flags = MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_AUTO | MHD_ALLOW_SUSPEND_RESUME | MHD_USE_ERROR_LOG;
    if (cfg->addr.ss_family == AF_INET6)
        flags |= MHD_USE_IPv6;
    s->daemon = MHD_start_daemon(flags, 0, NULL, NULL, on_request, s,
                                 MHD_OPTION_EXTERNAL_LOGGER, mhd_log, NULL,
                                 MHD_OPTION_SOCK_ADDR, (const struct sockaddr *)&cfg->addr,
                                 MHD_OPTION_CONNECTION_TIMEOUT, cfg->idle_timeout_s,
                                 MHD_OPTION_CONNECTION_LIMIT, cfg->max_connections,
                                 MHD_OPTION_NOTIFY_COMPLETED, on_completed, s,
                                 MHD_OPTION_LISTENING_ADDRESS_REUSE, 1u,
                                 MHD_OPTION_END);
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
    free(s->model_json);
    free(s);
}
