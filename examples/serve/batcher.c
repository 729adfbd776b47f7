/* pneumo-serve: queue and micro-batching workers (see batcher.h). */
#include "batcher.h"

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "strbuf.h"

typedef struct worker {
    batcher *b;
    pthread_t thread;
    pneumo_model *model;   /* this worker's inference clone */
    float *input;          /* max_batch x H x W floats */
    pneumo_image **images; /* decoded image per batch slot */
    float *probs;          /* max_batch outputs */
    int *slot;             /* per job of a batch: its input slot, -1 if it failed */
    double *decode_ms;     /* per job of a batch */
    serve_job **batch;     /* the jobs taken */
} worker;

struct batcher {
    batcher_config cfg;
    char *model_name;
    serve_metrics *metrics;
    const pneumo_model *model;
    pneumo_preprocessing prep;
    int32_t in_h, in_w;
    pthread_mutex_t lock;
    pthread_cond_t cond;
    serve_job *head, *tail;
    int64_t depth;
    int arriving;
    int stop;
    worker *workers;
    int started;
};

double serve_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

int batcher_submit(batcher *b, serve_job *job)
{
    pthread_mutex_lock(&b->lock);
    if (b->depth >= b->cfg.queue_capacity || b->stop) {
        pthread_mutex_unlock(&b->lock);
        return -1;
    }
    job->next = NULL;
    job->t_queued = serve_now();
    if (b->tail)
        b->tail->next = job;
    else
        b->head = job;
    b->tail = job;
    b->depth++;
    pthread_cond_signal(&b->cond);
    pthread_mutex_unlock(&b->lock);
    return 0;
}

void batcher_arriving(batcher *b, int delta)
{
    pthread_mutex_lock(&b->lock);
    b->arriving += delta;
    pthread_mutex_unlock(&b->lock);
}

int64_t batcher_depth(batcher *b)
{
    pthread_mutex_lock(&b->lock);
    int64_t d = b->depth;
    pthread_mutex_unlock(&b->lock);
    return d;
}

int64_t batcher_capacity(const batcher *b) { return b->cfg.queue_capacity; }

/* Move queued jobs into batch[*n...] up to max_batch; lock held. */
static void take_jobs(batcher *b, serve_job **batch, int *n)
{
    while (b->head && *n < b->cfg.max_batch) {
        serve_job *j = b->head;
        b->head = j->next;
        if (!b->head)
            b->tail = NULL;
        b->depth--;
        j->queue_ms = (serve_now() - j->t_queued) * 1e3;
        batch[(*n)++] = j;
    }
}

static void answer_error(serve_job *job, int status, const char *message)
{
    strbuf sb;
    sb_init(&sb);
    sb_json_error(&sb, status, message);
    job->status = status;
    job->answer = sb_take(&sb, &job->answer_len);
}

/* HTTP status of a failure after the decode: running out of memory is 503
 * (retry later), anything else 500. */
static int failure_status(pneumo_status st) { return st == PNEUMO_ERR_NOMEM ? 503 : 500; }

/* HTTP status for a failed decode: the decode limits are 422, running out of
 * memory is 503 (retry later), everything the decoder cannot read is 400. */
static int decode_status(pneumo_status st)
{
    switch (st) {
    case PNEUMO_ERR_LIMIT: return 422;
    case PNEUMO_ERR_NOMEM: return 503;
    case PNEUMO_ERR_UNSUPPORTED: return 415; /* e.g. DICOM in a build without DCMTK */
    default: return 400;
    }
}

/* Decode job's body and write its preprocessed pixels into `dst` (H x W
 * floats). Returns 0, or an HTTP status after answering the job. */
static int prepare(worker *w, serve_job *job, pneumo_image **out, float *dst)
{
    batcher *b = w->b;
    pneumo_image *img = NULL, *resized = NULL;
    pneumo_status st = pneumo_image_decode(job->body, job->body_len, "upload", &b->cfg.limits, &img);
    if (st != PNEUMO_OK) {
        int status = decode_status(st);
        answer_error(job, status, pneumo_last_error());
        return status;
    }
    const pneumo_image *src = img;
    if (pneumo_image_width(img) != b->in_w || pneumo_image_height(img) != b->in_h) {
        st = pneumo_image_resize(img, b->in_w, b->in_h, (pneumo_resample)b->prep.resample, &resized);
        if (st != PNEUMO_OK) {
            int status = failure_status(st);
            pneumo_image_destroy(img);
            answer_error(job, status, pneumo_last_error());
            return status;
        }
        src = resized;
    }
    const uint8_t *px = pneumo_image_pixels(src);
    const float rescale = b->prep.rescale;
    for (int64_t i = 0; i < (int64_t)b->in_h * b->in_w; i++)
        dst[i] = (float)px[i] * rescale;
    pneumo_image_destroy(resized);
    *out = img;
    return 0;
}

/* Append the "heatmap" object (overlay PNG in base64) for one image; PNEUMO_OK, or the
 * library's status with its message. */
static pneumo_status append_heatmap(worker *w, const pneumo_image *img, strbuf *sb, double *ms)
{
    double t0 = serve_now();
    pneumo_tensor *map = NULL;
    void *png = NULL;
    size_t png_size = 0;
    pneumo_gradcam_info info;
    memset(&info, 0, sizeof info);
    info.size = sizeof info;
    pneumo_status st = pneumo_model_gradcam_image(w->model, img, NULL, &map, &info);
    if (st == PNEUMO_OK)
        st = pneumo_gradcam_overlay_png(img, map, NULL, &png, &png_size);
    if (st != PNEUMO_OK) {
        pneumo_tensor_destroy(map);
        return st;
    }
    sb_printf(sb,
              ", \"heatmap\": {\"layer\": %d, \"target\": %d, \"height\": %d, \"width\": %d, "
              "\"png_base64\": \"",
              (int)info.layer, (int)info.target, (int)info.height, (int)info.width);
    sb_base64(sb, png, png_size);
    sb_puts(sb, "\"}");
    pneumo_free(png);
    pneumo_tensor_destroy(map);
    *ms = (serve_now() - t0) * 1e3;
    return PNEUMO_OK;
}

static void answer_diagnosis(worker *w, serve_job *job, const pneumo_image *img, float p, double decode_ms,
                             double inference_ms)
{
    batcher *b = w->b;
    char sentence[256], label[PNEUMO_CLASS_NAME_MAX + 1];
    int32_t cls = 0;
    pneumo_status st = pneumo_model_diagnosis_sentence(w->model, p, sentence, sizeof sentence, NULL, &cls);
    if (st != PNEUMO_OK) {
        answer_error(job, failure_status(st), pneumo_last_error());
        return;
    }
    pneumo_model_class_label(w->model, cls, label, sizeof label, NULL);
    strbuf sb;
    sb_init(&sb);
    sb_puts(&sb, "{\"label\": ");
    sb_json_string(&sb, label);
    sb_printf(&sb, ", \"class_index\": %d, \"probability_pneumonia\": ", (int)cls);
    sb_json_float(&sb, p);
    sb_puts(&sb, ", \"threshold\": ");
    sb_json_float(&sb, pneumo_model_threshold(w->model));
    sb_puts(&sb, ", \"sentence\": ");
    sb_json_string(&sb, sentence);
    sb_puts(&sb, ", \"model\": ");
    sb_json_string(&sb, b->model_name);
    sb_printf(&sb, ", \"image\": {\"width\": %d, \"height\": %d}", (int)pneumo_image_width(img),
              (int)pneumo_image_height(img));
    double heatmap_ms = 0.0;
    if (job->heatmap && (st = append_heatmap(w, img, &sb, &heatmap_ms)) != PNEUMO_OK) {
        sb_free(&sb);
        answer_error(job, failure_status(st), pneumo_last_error());
        return;
    }
    double now = serve_now();
    sb_printf(&sb,
              ", \"timing_ms\": {\"queue\": %.3f, \"decode\": %.3f, \"inference\": %.3f, \"heatmap\": %.3f, "
              "\"total\": %.3f}, \"batch_size\": %d}\n",
              job->queue_ms, decode_ms, inference_ms, heatmap_ms, (now - job->t_start) * 1e3,
              job->batch_size);
    job->status = 200;
    job->answer = sb_take(&sb, &job->answer_len);
    if (!job->answer)
        job->status = 503;
}

static void run_batch(worker *w, serve_job **batch, int n)
{
    batcher *b = w->b;
    const int64_t plane = (int64_t)b->in_h * b->in_w;
    int *slot = w->slot, k = 0;
    double *decode_ms = w->decode_ms;
    for (int i = 0; i < n; i++) {
        double t0 = serve_now();
        slot[i] = -1;
        if (prepare(w, batch[i], &w->images[k], w->input + (int64_t)k * plane) == 0)
            slot[i] = k++;
        decode_ms[i] = (serve_now() - t0) * 1e3;
    }
    double inference_ms = 0.0;
    if (k > 0) {
        int64_t xs[4] = {k, b->in_h, b->in_w, 1}, os[2] = {k, 1};
        pneumo_tensor *x = NULL, *out = NULL;
        double t0 = serve_now();
        pneumo_status st = pneumo_tensor_wrap(4, xs, w->input, (size_t)k * (size_t)plane, &x);
        if (st == PNEUMO_OK)
            st = pneumo_tensor_wrap(2, os, w->probs, (size_t)k, &out);
        if (st == PNEUMO_OK)
            st = pneumo_model_predict(w->model, x, out);
        inference_ms = (serve_now() - t0) * 1e3;
        pneumo_tensor_destroy(x);
        pneumo_tensor_destroy(out);
        if (st != PNEUMO_OK) {
            const char *msg = pneumo_last_error();
            for (int i = 0; i < n; i++)
                if (slot[i] >= 0) {
                    answer_error(batch[i], failure_status(st), msg);
                    slot[i] = -1;
                }
        }
        metrics_batch(b->metrics, k);
    }
    for (int i = 0; i < n; i++) {
        serve_job *job = batch[i];
        job->batch_size = k;
        if (slot[i] >= 0)
            answer_diagnosis(w, job, w->images[slot[i]], w->probs[slot[i]], decode_ms[i], inference_ms);
    }
    for (int i = 0; i < k; i++) {
        pneumo_image_destroy(w->images[i]);
        w->images[i] = NULL;
    }
    for (int i = 0; i < n; i++)
        batch[i]->done(batch[i], batch[i]->user);
}

static void *worker_main(void *arg)
{
    worker *w = arg;
    batcher *b = w->b;
    for (;;) {
        int n = 0;
        pthread_mutex_lock(&b->lock);
        while (!b->head && !b->stop)
            pthread_cond_wait(&b->cond, &b->lock);
        if (!b->head) {
            pthread_mutex_unlock(&b->lock);
            break;
        }
        take_jobs(b, w->batch, &n);
        if (n < b->cfg.max_batch && b->arriving > 0 && b->cfg.wait_us > 0 && !b->stop) {
            struct timespec deadline;
            clock_gettime(CLOCK_MONOTONIC, &deadline);
            deadline.tv_nsec += (long)b->cfg.wait_us * 1000L;
            deadline.tv_sec += deadline.tv_nsec / 1000000000L;
            deadline.tv_nsec %= 1000000000L;
            while (n < b->cfg.max_batch && b->arriving > 0 && !b->stop) {
                int rc = pthread_cond_timedwait(&b->cond, &b->lock, &deadline);
                take_jobs(b, w->batch, &n);
                if (rc == ETIMEDOUT)
                    break;
            }
        }
        /* jobs may remain (this batch is full): let another worker start on them */
        if (b->head)
            pthread_cond_signal(&b->cond);
        pthread_mutex_unlock(&b->lock);
        run_batch(w, w->batch, n);
    }
    return NULL;
}

static void worker_free(worker *w)
{
    pneumo_model_destroy(w->model);
    free(w->input);
    free(w->images);
    free(w->probs);
    free(w->slot);
    free(w->decode_ms);
    free(w->batch);
}

batcher *batcher_create(const pneumo_model *model, const batcher_config *cfg, serve_metrics *metrics,
                        char *err, size_t err_size)
{
    batcher *b = calloc(1, sizeof *b);
    int32_t c = 0;
    if (!b) {
        snprintf(err, err_size, "out of memory");
        return NULL;
    }
    b->cfg = *cfg;
    b->metrics = metrics;
    b->model = model;
    b->model_name = strdup(cfg->model_name ? cfg->model_name : "");
    pneumo_preprocessing_default(&b->prep);
    if (!b->model_name || pneumo_model_preprocessing(model, &b->prep) != PNEUMO_OK ||
        pneumo_model_input_shape(model, &b->in_h, &b->in_w, &c) != PNEUMO_OK) {
        snprintf(err, err_size, "%s", b->model_name ? pneumo_last_error() : "out of memory");
        free(b->model_name);
        free(b);
        return NULL;
    }
    if (c != 1 || pneumo_model_output_size(model) != 1) {
        snprintf(err, err_size, "the model must take one grayscale channel and give one output");
        free(b->model_name);
        free(b);
        return NULL;
    }
    pthread_mutex_init(&b->lock, NULL);
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&b->cond, &ca);
    pthread_condattr_destroy(&ca);
    b->workers = calloc((size_t)cfg->threads, sizeof *b->workers);
    if (!b->workers) {
        snprintf(err, err_size, "out of memory");
        batcher_destroy(b);
        return NULL;
    }
    const size_t mb = (size_t)cfg->max_batch;
    for (int i = 0; i < cfg->threads; i++) {
        worker *w = &b->workers[i];
        w->b = b;
        if (pneumo_model_clone_inference(model, &w->model) != PNEUMO_OK ||
            pneumo_model_set_threads(w->model, cfg->worker_threads) != PNEUMO_OK) {
            snprintf(err, err_size, "%s", pneumo_last_error());
            batcher_destroy(b);
            return NULL;
        }
        size_t in_bytes = (mb * (size_t)b->in_h * (size_t)b->in_w * sizeof(float) + 63) / 64 * 64;
        w->input = aligned_alloc(64, in_bytes);
        w->images = calloc(mb, sizeof *w->images);
        w->probs = calloc(mb, sizeof *w->probs);
        w->slot = calloc(mb, sizeof *w->slot);
        w->decode_ms = calloc(mb, sizeof *w->decode_ms);
        w->batch = calloc(mb, sizeof *w->batch);
        if (!w->input || !w->images || !w->probs || !w->slot || !w->decode_ms || !w->batch) {
            snprintf(err, err_size, "out of memory for %d worker buffers of %zu images", cfg->threads, mb);
            batcher_destroy(b);
            return NULL;
        }
    }
    for (int i = 0; i < cfg->threads; i++) {
        if (pthread_create(&b->workers[i].thread, NULL, worker_main, &b->workers[i]) != 0) {
            snprintf(err, err_size, "cannot start worker thread %d", i);
            batcher_destroy(b);
            return NULL;
        }
        b->started++;
    }
    return b;
}

void batcher_destroy(batcher *b)
{
    if (!b)
        return;
    pthread_mutex_lock(&b->lock);
    b->stop = 1;
    pthread_cond_broadcast(&b->cond);
    pthread_mutex_unlock(&b->lock);
    for (int i = 0; i < b->started; i++)
        pthread_join(b->workers[i].thread, NULL);
    if (b->workers)
        for (int i = 0; i < b->cfg.threads; i++)
            worker_free(&b->workers[i]);
    free(b->workers);
    pthread_cond_destroy(&b->cond);
    pthread_mutex_destroy(&b->lock);
    free(b->model_name);
    free(b);
}
