/* pneumo-serve: what the server makes of a request, without a socket or
 * libmicrohttpd: routing, the header values that matter (Content-Type,
 * Content-Length, ?heatmap), the upload body within its limits and the
 * multipart/form-data parser. http.c feeds it what libmicrohttpd parsed;
 * the fuzz target and the allocation-failure test feed it buffers.
 *
 * A request is begun with its method, path and headers; a diagnosis upload
 * then takes its body in pieces and is ended once complete. Every decision
 * that is not a diagnosis job is an answer: an HTTP status and a message
 * (the JSON error body is built from it), or a GET route to render. */
#ifndef PNEUMO_SERVE_REQUEST_H
#define PNEUMO_SERVE_REQUEST_H

#include <pthread.h>
#include <stddef.h>

enum sreq_route { ROUTE_NONE, ROUTE_PAGE, ROUTE_HEALTH, ROUTE_MODEL, ROUTE_METRICS, ROUTE_DIAGNOSE };
enum sreq_body { BODY_RAW, BODY_MULTIPART };

/* What every upload buffer together may hold (--max-buffered-mb); shared by
 * all requests of a server. */
typedef struct upload_budget {
    pthread_mutex_t lock;
    size_t max;
    size_t used;
} upload_budget;

void budget_init(upload_budget *b, size_t max);
void budget_destroy(upload_budget *b);
size_t budget_used(upload_budget *b);

#define SREQ_BOUNDARY_MAX 70 /* RFC 2046 */

typedef struct sreq {
    upload_budget *budget;
    size_t max_upload; /* largest body in bytes (413 above) */
    enum sreq_route route;
    enum sreq_body kind;
    char boundary[SREQ_BOUNDARY_MAX + 1];
    unsigned char *body; /* the whole body as it arrived; after sreq_end the image */
    size_t len, cap;     /* cap bytes are taken from the budget */
    int heatmap;         /* ?heatmap=1 or ?heatmap=true */
    int reject;          /* an HTTP status decided while the body still arrives */
    char reject_msg[160];
    int status;    /* the answer decided: its status (0: none yet) */
    char msg[512]; /* and its message */
} sreq;

/* What sreq_begin() and sreq_end() decided. */
enum sreq_next {
    SREQ_ANSWER, /* answer r->status with r->msg */
    SREQ_GET,    /* render r->route (GET or HEAD of a known route) */
    SREQ_BODY,   /* read the body: sreq_body() for each piece, then sreq_end() */
    SREQ_JOB     /* r->body holds r->len bytes of image to diagnose */
};

/* A request whose headers arrived. method and path are NUL-terminated (path
 * without the query); content_type, content_length and heatmap are the raw
 * values or NULL when absent; draining: the server is shutting down. */
enum sreq_next sreq_begin(sreq *r, upload_budget *budget, size_t max_upload, const char *method,
                          const char *path, const char *content_type, const char *content_length,
                          const char *heatmap, int draining);

/* n more bytes of the body (no-op once the request is rejected). */
void sreq_body(sreq *r, const void *data, size_t n);

/* The body is complete: SREQ_ANSWER or SREQ_JOB. */
enum sreq_next sreq_end(sreq *r);

/* Release the body and give its bytes back to the budget. */
void sreq_free(sreq *r);

/* The media type of a Content-Type value, lowercased, without parameters. */
void sreq_media_type(const char *v, char *buf, size_t size);

#endif
