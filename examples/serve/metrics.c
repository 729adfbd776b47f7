/* pneumo-serve: metrics (see metrics.h). */
#include "metrics.h"

#include <pthread.h>
#include <stdlib.h>

/* Latency histogram bucket bounds in seconds (Prometheus' "le"), +Inf implied. */
static const double latency_bounds[] = {0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1,
                                        0.25,  0.5,    1.0,   2.5,  5.0,   10.0};
#define N_BOUNDS (sizeof latency_bounds / sizeof latency_bounds[0])

struct serve_metrics {
    pthread_mutex_t lock;
    uint64_t by_status[600];
    uint64_t buckets[N_BOUNDS + 1];
    double latency_sum;
    uint64_t latency_count;
    int64_t in_flight;
    uint64_t batches;
    uint64_t batch_images;
    uint64_t aborted;
};

serve_metrics *metrics_create(void)
{
    serve_metrics *m = calloc(1, sizeof *m);
    if (m && pthread_mutex_init(&m->lock, NULL) != 0) {
        free(m);
        return NULL;
    }
    return m;
}

void metrics_destroy(serve_metrics *m)
{
    if (!m)
        return;
    pthread_mutex_destroy(&m->lock);
    free(m);
}

void metrics_request_begin(serve_metrics *m)
{
    pthread_mutex_lock(&m->lock);
    m->in_flight++;
    pthread_mutex_unlock(&m->lock);
}

void metrics_request_end(serve_metrics *m, int status, double seconds)
{
    size_t b = 0;
    while (b < N_BOUNDS && seconds > latency_bounds[b])
        b++;
    pthread_mutex_lock(&m->lock);
    if (status >= 100 && status < 600) {
        m->by_status[status]++;
        m->buckets[b]++;
        m->latency_sum += seconds;
        m->latency_count++;
    } else {
        m->aborted++;
    }
    m->in_flight--;
    pthread_mutex_unlock(&m->lock);
}

int64_t metrics_in_flight(serve_metrics *m)
{
    pthread_mutex_lock(&m->lock);
    int64_t v = m->in_flight;
    pthread_mutex_unlock(&m->lock);
    return v;
}

void metrics_batch(serve_metrics *m, int images)
{
    pthread_mutex_lock(&m->lock);
    m->batches++;
    m->batch_images += (uint64_t)images;
    pthread_mutex_unlock(&m->lock);
}

void metrics_render(serve_metrics *m, int64_t queue_depth, int64_t queue_capacity, size_t buffered,
                    strbuf *out)
{
    serve_metrics s;
    pthread_mutex_lock(&m->lock);
    s = *m;
    pthread_mutex_unlock(&m->lock);

    sb_puts(out, "# HELP pneumo_serve_requests_total HTTP requests answered, by status code.\n"
                 "# TYPE pneumo_serve_requests_total counter\n");
    for (int code = 100; code < 600; code++)
        if (s.by_status[code])
            sb_printf(out, "pneumo_serve_requests_total{code=\"%d\"} %llu\n", code,
                      (unsigned long long)s.by_status[code]);
    sb_puts(out, "# HELP pneumo_serve_request_duration_seconds Time from the request's headers to the "
                 "end of its response.\n"
                 "# TYPE pneumo_serve_request_duration_seconds histogram\n");
    uint64_t cum = 0;
    for (size_t b = 0; b < N_BOUNDS; b++) {
        cum += s.buckets[b];
        sb_printf(out, "pneumo_serve_request_duration_seconds_bucket{le=\"%g\"} %llu\n", latency_bounds[b],
                  (unsigned long long)cum);
    }
    cum += s.buckets[N_BOUNDS];
    sb_printf(out, "pneumo_serve_request_duration_seconds_bucket{le=\"+Inf\"} %llu\n",
              (unsigned long long)cum);
    sb_printf(out, "pneumo_serve_request_duration_seconds_sum %.9g\n", s.latency_sum);
    sb_printf(out, "pneumo_serve_request_duration_seconds_count %llu\n", (unsigned long long)s.latency_count);
    sb_printf(out,
              "# HELP pneumo_serve_requests_in_flight Requests received and not yet answered.\n"
              "# TYPE pneumo_serve_requests_in_flight gauge\n"
              "pneumo_serve_requests_in_flight %lld\n"
              "# HELP pneumo_serve_queue_depth Images waiting for a worker.\n"
              "# TYPE pneumo_serve_queue_depth gauge\n"
              "pneumo_serve_queue_depth %lld\n"
              "# HELP pneumo_serve_queue_capacity Images the queue holds before answering 503.\n"
              "# TYPE pneumo_serve_queue_capacity gauge\n"
              "pneumo_serve_queue_capacity %lld\n"
              "# HELP pneumo_serve_upload_buffer_bytes Bytes of upload buffers held now.\n"
              "# TYPE pneumo_serve_upload_buffer_bytes gauge\n"
              "pneumo_serve_upload_buffer_bytes %zu\n"
              "# HELP pneumo_serve_requests_aborted_total Requests that ended without an answer "
              "(client gone, timeout).\n"
              "# TYPE pneumo_serve_requests_aborted_total counter\n"
              "pneumo_serve_requests_aborted_total %llu\n"
              "# HELP pneumo_serve_batches_total Predict calls (micro-batches) run.\n"
              "# TYPE pneumo_serve_batches_total counter\n"
              "pneumo_serve_batches_total %llu\n"
              "# HELP pneumo_serve_batch_images_total Images predicted in those batches.\n"
              "# TYPE pneumo_serve_batch_images_total counter\n"
              "pneumo_serve_batch_images_total %llu\n",
              (long long)s.in_flight, (long long)queue_depth, (long long)queue_capacity, buffered,
              (unsigned long long)s.aborted, (unsigned long long)s.batches,
              (unsigned long long)s.batch_images);
}
