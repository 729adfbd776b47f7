/* pneumo-serve: the bounded queue of diagnosis jobs and the worker threads that
 * decode them and run them through the model in micro-batches.
 *
 * Each worker owns an inference clone of the model (pneumo_model_clone_
 * inference(), one thread each) and a preallocated input tensor of max_batch
 * samples. A worker takes every job waiting (up to max_batch); when it got
 * fewer and other uploads are still arriving, it waits at most wait_us for
 * them, so a lone request is never delayed. Decoding and preprocessing happen
 * in the workers, so the network threads never do model work and a slow
 * client never holds a worker. */
#ifndef PNEUMO_SERVE_BATCHER_H
#define PNEUMO_SERVE_BATCHER_H

#include <stddef.h>
#include <stdint.h>

#include <pneumo/pneumo.h>

#include "metrics.h"

typedef struct serve_job serve_job;

struct serve_job {
    /* set by the submitter; body is only read, and must stay valid until done() */
    const unsigned char *body;
    size_t body_len;
    int heatmap;                              /* add the Grad-CAM overlay PNG (base64) to the answer */
    double t_start;                           /* monotonic seconds when the request's headers arrived */
    void (*done)(serve_job *job, void *user); /* called once, from a worker thread */
    void *user;
    /* set by the worker before done() */
    int status;   /* HTTP status of the answer */
    char *answer; /* JSON body (malloc; the receiver frees it), NULL if out of memory */
    size_t answer_len;
    int batch_size; /* images in the predict call this job was part of */
    /* queue link, the batcher's */
    serve_job *next;
    double t_queued;
    double queue_ms;
};

typedef struct batcher_config {
    int threads;        /* workers, >= 1 */
    int worker_threads; /* threads of each worker's model clone, >= 1 */
    int queue_capacity; /* jobs waiting at most, >= 1 */
    int max_batch;      /* images per predict call at most, >= 1 */
    int wait_us;        /* longest wait for a batch to fill, 0 = never wait */
    pneumo_decode_limits limits;
    const char *model_name; /* shown in every answer; copied */
} batcher_config;

typedef struct batcher batcher;

/* Start cfg->threads workers on clones of `model` (only read; it must outlive
 * the batcher). Returns NULL after writing the reason into err. */
batcher *batcher_create(const pneumo_model *model, const batcher_config *cfg, serve_metrics *metrics,
                        char *err, size_t err_size);

/* Queue a job; 0 on success (done() will be called), -1 when the queue is full. */
int batcher_submit(batcher *b, serve_job *job);

/* An upload started (+1) or ended (-1): workers wait for a fuller batch only
 * while uploads are arriving. */
void batcher_arriving(batcher *b, int delta);

/* Jobs waiting for a worker. */
int64_t batcher_depth(batcher *b);
int64_t batcher_capacity(const batcher *b);

/* Finish every queued job, stop the workers and free everything. NULL is a no-op. */
void batcher_destroy(batcher *b);

/* Monotonic clock in seconds. */
double serve_now(void);

#endif
