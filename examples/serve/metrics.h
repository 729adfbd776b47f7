/* pneumo-serve: request counters and the Prometheus text exposition of /metrics.
 * All functions are thread-safe (one mutex; each call is a few additions). */
#ifndef PNEUMO_SERVE_METRICS_H
#define PNEUMO_SERVE_METRICS_H

#include <stdint.h>

#include "strbuf.h"

typedef struct serve_metrics serve_metrics;

serve_metrics *metrics_create(void);
void metrics_destroy(serve_metrics *m);

/* A request began (headers received): the in-flight gauge rises. */
void metrics_request_begin(serve_metrics *m);
/* A request ended with HTTP `status` after `seconds`: counted by status, the
 * latency histogram updated, the in-flight gauge lowered. Status 0: it ended
 * without an answer (counted as aborted). */
void metrics_request_end(serve_metrics *m, int status, double seconds);
/* Requests begun and not yet ended. */
int64_t metrics_in_flight(serve_metrics *m);
/* One predict call over `images` images. */
void metrics_batch(serve_metrics *m, int images);

/* Append the exposition (text format 0.0.4); queue_depth and queue_capacity
 * are the batcher's and buffered the bytes of upload buffers at the time of
 * the scrape. */
void metrics_render(serve_metrics *m, int64_t queue_depth, int64_t queue_capacity, size_t buffered,
                    strbuf *out);

#endif
