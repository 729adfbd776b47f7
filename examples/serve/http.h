/* pneumo-serve: the HTTP layer on libmicrohttpd: routing, uploads (raw image
 * bodies and multipart/form-data), limits, JSON errors, per-request logging.
 *
 * One internal polling thread (epoll where available) serves every
 * connection; a diagnosis request is suspended while its job is queued and
 * resumed by the worker that answered it, so network I/O never waits for the
 * model and a slow client costs a socket, not a worker. Uploads go to the
 * batcher only once complete. */
#ifndef PNEUMO_SERVE_HTTP_H
#define PNEUMO_SERVE_HTTP_H

#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#include "batcher.h"
#include "metrics.h"

typedef struct http_config {
    struct sockaddr_storage addr; /* where to listen (port 0: any free port) */
    socklen_t addr_len;
    size_t max_upload;        /* largest request body in bytes (413 above) */
    size_t max_buffered;      /* all upload buffers together at most (503 above) */
    unsigned idle_timeout_s;  /* a connection idle this long is closed */
    double request_timeout_s; /* an upload not complete after this long is dropped */
    unsigned max_connections; /* concurrent connections */
    const char *model_json;   /* body of GET /api/v1/model (copied) */
} http_config;

typedef struct http_server http_server;

/* Listen and serve. Returns NULL after writing the reason into err. */
http_server *http_start(const http_config *cfg, batcher *b, serve_metrics *m, char *err, size_t err_size);

/* The port actually bound. */
uint16_t http_port(http_server *s);

/* Stop accepting connections: the listening socket is closed; requests on open
 * connections that arrive from now on get 503 and "Connection: close". */
void http_quiesce(http_server *s);

/* Close every connection and free the server. Only call once no request is
 * waiting for the batcher. NULL is a no-op. */
void http_stop(http_server *s);

/* The page served at GET / (page_html.c, generated from page.html). */
extern const char serve_page_html[];
extern const size_t serve_page_html_len;

#endif
