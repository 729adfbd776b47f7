/* Allocation failure injection, as SQLite tests it: for N = 1, 2,
 * ... the N-th allocation the library makes during an operation fails
 * (pn_alloc_fail_nth, internal), until the operation runs without reaching N
 * allocations. Every run must return NOMEM or succeed, and leave the handles
 * usable (checked by running the operation again) or destroyable; leaks show
 * under LSan in the sanitizer build. libpng's allocations are routed; libjpeg's
 * memory manager calls malloc itself, and every request made through its
 * methods after jpeg_create_decompress counts as an allocation (lib/image/jpeg.c
 * wraps them), failed as libjpeg fails one. pneumo-serve's
 * request path (request.c, the batcher's worker, strbuf.c) is built into this
 * test on the library's allocator and covered from the upload to the JSON
 * answer; its NOMEM is the 503 answer. */
#include "testutil.h"
#include "batcher.h"
#include "core/alloc.h"
#include "core/error.h"
#include "metrics.h"
#include "request.h"
#include "strbuf.h"
#include "pneumo/dataset.h"
#include "pneumo/gradcam.h"
#include "pneumo/image.h"
#include "pneumo/image_write.h"
#include "pneumo/model.h"
#include "pneumo/optim.h"
#include "pneumo/train.h"
#include <stdio.h> /* before jpeglib.h, which needs FILE */
#include <jpeglib.h>
#include <math.h>
#include <setjmp.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define SIZE 96

typedef pneumo_status (*op_fn)(void *ctx);

/* Runs op with the N-th allocation failing for N = 1, 2, ...; `before` (may be
 * NULL) prepares each run without failures, `after` (may be NULL) checks the
 * state after it. Returns the number of allocation points the operation has. */
static long run_prepared(const char *name, void (*before)(void *ctx), op_fn op,
                         void (*after)(void *ctx, int failed), void *ctx)
{
    for (long n = 1; n < 200000; n++) {
        pneumo_status st;
        int fired;
        if (before)
            before(ctx);
        pneumo_clear_error();
        pn_alloc_fail_nth(n);
        st = op(ctx);
        fired = pn_alloc_fail_fired();
        pn_alloc_fail_nth(0);
        if (!fired) {
            if (st != PNEUMO_OK)
                fail_msg("%s: fails without an injected failure (N = %ld): %s", name, n,
                         pneumo_last_error());
            printf("  %-28s %5ld allocation points, each failure gave NOMEM or success\n", name,
                   n - 1);
            if (after)
                after(ctx, 0);
            return n - 1;
        }
        if (st != PNEUMO_OK && st != PNEUMO_ERR_NOMEM)
            fail_msg("%s: allocation %ld failed: status %d (%s), not NOMEM", name, n, st,
                     pneumo_last_error());
        if (st == PNEUMO_ERR_NOMEM && pneumo_last_error()[0] == '\0')
            fail_msg("%s: allocation %ld failed without a message", name, n);
        if (after)
            after(ctx, st != PNEUMO_OK);
    }
    fail_msg("%s: never succeeded", name);
    return -1;
}

static long run_until_success(const char *name, op_fn op, void (*after)(void *ctx, int failed),
                              void *ctx)
{
    return run_prepared(name, NULL, op, after, ctx);
}

/* ---- create_article ---- */

static pneumo_status op_create(void *ctx)
{
    pneumo_model **m = ctx;
    pneumo_status st = pneumo_model_create_article(SIZE, 3, m);
    if ((st == PNEUMO_OK) != (*m != NULL))
        fail_msg("create_article: status %d but model %p", st, (void *)*m);
    return st;
}

static void after_create(void *ctx, int failed)
{
    pneumo_model **m = ctx;
    (void)failed;
    pneumo_model_destroy(*m);
    *m = NULL;
}

/* ---- shared fixture ---- */

typedef struct {
    char *dir; /* one temporary folder for everything below */
    pneumo_model *m, *loaded;
    pneumo_optimizer *loaded_opt;
    pneumo_optimizer *opt;
    pneumo_tensor *x, *y, *out;
    float ref[2];
    char *path;
    unsigned char *saved;
    size_t saved_size;
    pneumo_image *img;
    float ref_prob;
    char *img_path;
    char *ds_dir;
    int32_t ds_threads;
    void *png;
    size_t png_size;
} fixture;

static unsigned char *slurp(const char *path, size_t *size)
{
    FILE *f = fopen(path, "rb");
    unsigned char *d;
    long n;
    assert_non_null(f);
    assert_int_equal(fseek(f, 0, SEEK_END), 0);
    n = ftell(f);
    assert_true(n > 0);
    rewind(f);
    d = malloc((size_t)n);
    assert_non_null(d);
    assert_int_equal(fread(d, 1, (size_t)n, f), (size_t)n);
    fclose(f);
    *size = (size_t)n;
    return d;
}

static void make_fixture(fixture *f)
{
    int64_t xs[4] = {2, SIZE, SIZE, 1}, ys[1] = {2}, os[2] = {2, 1};
    pneumo_adam_params ap;
    uint64_t rng = 5;
    pneumo_step_result r;
    memset(f, 0, sizeof *f);
    f->dir = strdup(tu_tmpdir());
    assert_non_null(f->dir);
    assert_int_equal(pneumo_model_create_article(SIZE, 3, &f->m), PNEUMO_OK);
    assert_int_equal(pneumo_model_set_threads(f->m, 2), PNEUMO_OK);
    pneumo_adam_default_params(&ap);
    assert_int_equal(pneumo_optimizer_create_adam(&ap, &f->opt), PNEUMO_OK);
    assert_int_equal(pneumo_tensor_create(4, xs, &f->x), PNEUMO_OK);
    assert_int_equal(pneumo_tensor_create(1, ys, &f->y), PNEUMO_OK);
    assert_int_equal(pneumo_tensor_create(2, os, &f->out), PNEUMO_OK);
    tu_fill(&rng, pneumo_tensor_data(f->x), (size_t)2 * SIZE * SIZE, 0, 1);
    pneumo_tensor_data(f->y)[1] = 1;
    assert_int_equal(pneumo_model_train_step(f->m, f->opt, f->x, f->y, NULL, &r), PNEUMO_OK);
    assert_int_equal(pneumo_model_predict(f->m, f->x, f->out), PNEUMO_OK);
    memcpy(f->ref, pneumo_tensor_data(f->out), sizeof f->ref);
    f->path = tu_join(f->dir, "m.safetensors");
    assert_int_equal(pneumo_model_save(f->m, f->opt, f->path), PNEUMO_OK);
    f->saved = slurp(f->path, &f->saved_size);
    /* an image, as a PNG file and as PNG bytes */
    assert_int_equal(pneumo_image_create(120, 100, &f->img), PNEUMO_OK);
    for (size_t i = 0; i < 120 * 100; i++)
        pneumo_image_pixels_mut(f->img)[i] = (uint8_t)(i * 7 % 251);
    assert_int_equal(pneumo_model_predict_image(f->m, f->img, &f->ref_prob), PNEUMO_OK);
    f->img_path = tu_join(f->dir, "x.png");
    assert_int_equal(pneumo_image_save_png(f->img, f->img_path), PNEUMO_OK);
    assert_int_equal(pneumo_image_encode_png(f->img, &f->png, &f->png_size), PNEUMO_OK);
    /* a dataset: two classes of three images */
    f->ds_dir = tu_join(f->dir, "ds");
    assert_int_equal(mkdir(f->ds_dir, 0700), 0);
    for (int c = 0; c < 2; c++) {
        char sub[64];
        char *dir;
        snprintf(sub, sizeof sub, "ds/%s", c ? "opacity" : "normal");
        dir = tu_join(f->dir, sub);
        assert_int_equal(mkdir(dir, 0700), 0);
        for (int i = 0; i < 3; i++) {
            char name[32];
            char *p;
            snprintf(name, sizeof name, "%d.png", i);
            p = tu_join(dir, name);
            pneumo_image_pixels_mut(f->img)[0] = (uint8_t)(c * 3 + i);
            assert_int_equal(pneumo_image_save_png(f->img, p), PNEUMO_OK);
            free(p);
        }
        free(dir);
    }
}

static void free_fixture(fixture *f)
{
    pneumo_model_destroy(f->m);
    pneumo_optimizer_destroy(f->opt);
    pneumo_tensor_destroy(f->x);
    pneumo_tensor_destroy(f->y);
    pneumo_tensor_destroy(f->out);
    pneumo_image_destroy(f->img);
    pneumo_free(f->png);
    free(f->saved);
    free(f->path);
    free(f->img_path);
    free(f->ds_dir);
    free(f->dir);
}

/* ---- save: the previous file stays byte-identical, no temporary is left ---- */

static pneumo_status op_save(void *ctx)
{
    fixture *f = ctx;
    return pneumo_model_save(f->m, f->opt, f->path);
}

static void after_save(void *ctx, int failed)
{
    fixture *f = ctx;
    size_t size;
    unsigned char *now = slurp(f->path, &size);
    int has_tmp = 0;
    (void)failed;
    assert_int_equal(size, f->saved_size);
    assert_memory_equal(now, f->saved, size);
    free(now);
    tu_count_entries(f->dir, &has_tmp);
    assert_false(has_tmp);
}

/* ---- load ---- */

static pneumo_status op_load(void *ctx)
{
    fixture *f = ctx;
    pneumo_status st = pneumo_model_load(f->path, &f->loaded, &f->loaded_opt);
    if (st != PNEUMO_OK && (f->loaded || f->loaded_opt))
        fail_msg("load failed with status %d but returned handles", st);
    return st;
}

/* a loaded model predicts as the saved one */
static void after_load(void *ctx, int failed)
{
    fixture *f = ctx;
    if (!failed) {
        pneumo_tensor *out = NULL;
        int64_t os[2] = {2, 1};
        assert_non_null(f->loaded_opt);
        assert_int_equal(pneumo_tensor_create(2, os, &out), PNEUMO_OK);
        assert_int_equal(pneumo_model_predict(f->loaded, f->x, out), PNEUMO_OK);
        assert_float_equal(pneumo_tensor_data(out)[1], f->ref[1], 1e-6);
        pneumo_tensor_destroy(out);
    }
    pneumo_model_destroy(f->loaded);
    pneumo_optimizer_destroy(f->loaded_opt);
    f->loaded = NULL;
    f->loaded_opt = NULL;
}

/* ---- predict, predict_image: afterwards the model predicts as before ---- */

static pneumo_status op_predict(void *ctx)
{
    fixture *f = ctx;
    return pneumo_model_predict(f->m, f->x, f->out);
}

static void after_predict(void *ctx, int failed)
{
    fixture *f = ctx;
    (void)failed;
    assert_int_equal(pneumo_model_predict(f->m, f->x, f->out), PNEUMO_OK);
    assert_float_equal(pneumo_tensor_data(f->out)[0], f->ref[0], 1e-6);
    assert_float_equal(pneumo_tensor_data(f->out)[1], f->ref[1], 1e-6);
}

static pneumo_status op_predict_image(void *ctx)
{
    fixture *f = ctx;
    float p = -1;
    pneumo_status st = pneumo_model_predict_image(f->m, f->img, &p);
    if (st == PNEUMO_OK && fabsf(p - f->ref_prob) > 1e-6f)
        fail_msg("predict_image: %g, expected %g", p, f->ref_prob);
    return st;
}

static pneumo_status op_predict_file(void *ctx)
{
    fixture *f = ctx;
    float p = -1;
    return pneumo_model_predict_file(f->m, f->img_path, &p);
}

/* The same on a model just loaded, whose first call allocates its buffers. */
static void load_fresh(void *ctx)
{
    fixture *f = ctx;
    pneumo_model_destroy(f->loaded);
    pneumo_optimizer_destroy(f->loaded_opt);
    assert_int_equal(pneumo_model_load(f->path, &f->loaded, &f->loaded_opt), PNEUMO_OK);
    assert_int_equal(pneumo_model_set_threads(f->loaded, 2), PNEUMO_OK);
}

static pneumo_status op_predict_fresh(void *ctx)
{
    fixture *f = ctx;
    return pneumo_model_predict(f->loaded, f->x, f->out);
}

static void after_predict_fresh(void *ctx, int failed)
{
    fixture *f = ctx;
    (void)failed;
    assert_int_equal(pneumo_model_predict(f->loaded, f->x, f->out), PNEUMO_OK);
    assert_float_equal(pneumo_tensor_data(f->out)[0], f->ref[0], 1e-6);
    assert_float_equal(pneumo_tensor_data(f->out)[1], f->ref[1], 1e-6);
}

static pneumo_status op_predict_image_fresh(void *ctx)
{
    fixture *f = ctx;
    float p = -1;
    pneumo_status st = pneumo_model_predict_image(f->loaded, f->img, &p);
    if (st == PNEUMO_OK && fabsf(p - f->ref_prob) > 1e-6f)
        fail_msg("predict_image: %g, expected %g", p, f->ref_prob);
    return st;
}

static pneumo_status op_train_step_fresh(void *ctx)
{
    fixture *f = ctx;
    pneumo_step_result r;
    return pneumo_model_train_step(f->loaded, f->loaded_opt, f->x, f->y, NULL, &r);
}

static void after_train_step_fresh(void *ctx, int failed)
{
    fixture *f = ctx;
    pneumo_step_result r;
    (void)failed;
    assert_int_equal(pneumo_model_train_step(f->loaded, f->loaded_opt, f->x, f->y, NULL, &r),
                     PNEUMO_OK);
    assert_true(isfinite(r.loss));
}

/* ---- Grad-CAM: a map of the model's last conv layer ---- */

static pneumo_status op_gradcam(void *ctx)
{
    fixture *f = ctx;
    pneumo_tensor *map = NULL;
    pneumo_status st = pneumo_model_gradcam_image(f->loaded ? f->loaded : f->m, f->img, NULL,
                                                  &map, NULL);
    if ((st == PNEUMO_OK) != (map != NULL))
        fail_msg("gradcam: status %d but map %p", st, (void *)map);
    pneumo_tensor_destroy(map);
    return st;
}

/* ---- one training step: afterwards a step still works ---- */

static pneumo_status op_train_step(void *ctx)
{
    fixture *f = ctx;
    pneumo_step_result r;
    pneumo_status st = pneumo_model_train_step(f->m, f->opt, f->x, f->y, NULL, &r);
    if (st == PNEUMO_OK && !isfinite(r.loss))
        fail_msg("train step: loss %g", r.loss);
    return st;
}

static void after_train_step(void *ctx, int failed)
{
    fixture *f = ctx;
    pneumo_step_result r;
    (void)failed;
    assert_int_equal(pneumo_model_train_step(f->m, f->opt, f->x, f->y, NULL, &r), PNEUMO_OK);
    assert_true(isfinite(r.loss));
}

/* ---- dataset open + one epoch of next_batch ---- */

static pneumo_status op_dataset(void *ctx)
{
    fixture *f = ctx;
    pneumo_dataset_options o;
    pneumo_dataset *ds = NULL;
    pneumo_status st;
    int64_t seen = 0;
    pneumo_dataset_default_options(&o);
    o.width = 24;
    o.height = 20;
    o.threads = f->ds_threads;
    st = pneumo_dataset_open_dir(f->ds_dir, &o, &ds);
    if (st != PNEUMO_OK) {
        assert_null(ds);
        return st;
    }
    if (pneumo_dataset_size(ds) != 6)
        fail_msg("dataset: %lld images after an allocation failure while opening",
                 (long long)pneumo_dataset_size(ds));
    st = pneumo_dataset_begin_epoch(ds, 0, 4);
    while (st == PNEUMO_OK) {
        pneumo_tensor *x = NULL, *y = NULL;
        st = pneumo_dataset_next_batch(ds, &x, &y, NULL);
        if (st != PNEUMO_OK || !x)
            break;
        seen += pneumo_tensor_dim(x, 0);
    }
    if (st == PNEUMO_OK && seen != 6)
        fail_msg("dataset: an epoch gave %lld of 6 images", (long long)seen);
    pneumo_dataset_destroy(ds);
    return st;
}

/* ---- image decode ---- */

static pneumo_status op_decode_png(void *ctx)
{
    fixture *f = ctx;
    pneumo_image *img = NULL;
    pneumo_status st = pneumo_image_decode(f->png, f->png_size, "x.png", NULL, &img);
    if (st == PNEUMO_OK)
        assert_memory_equal(pneumo_image_pixels(img) + 1, pneumo_image_pixels(f->img) + 1, 1000);
    else
        assert_null(img);
    pneumo_image_destroy(img);
    return st;
}

/* ---- JPEG decode: baseline and progressive (coefficient buffers) ---- */

typedef struct {
    unsigned char *data;
    unsigned long size;
    pneumo_image *ref; /* decoded without failures */
    long libjpeg_nomem; /* failures that hit libjpeg's memory manager */
} jpeg_case;

struct enc_err {
    struct jpeg_error_mgr pub;
    jmp_buf jump;
};

static void enc_error_exit(j_common_ptr c)
{
    longjmp(((struct enc_err *)c->err)->jump, 1);
}

/* f->img as a grayscale JPEG, progressive or baseline (libjpeg's encoder). */
static void encode_jpeg(const pneumo_image *img, int progressive, jpeg_case *out)
{
    struct jpeg_compress_struct c;
    struct enc_err err;
    const int32_t w = pneumo_image_width(img), h = pneumo_image_height(img);
    memset(out, 0, sizeof *out);
    c.err = jpeg_std_error(&err.pub);
    err.pub.error_exit = enc_error_exit;
    if (setjmp(err.jump))
        fail_msg("libjpeg encode failed");
    jpeg_create_compress(&c);
    jpeg_mem_dest(&c, &out->data, &out->size);
    c.image_width = (JDIMENSION)w;
    c.image_height = (JDIMENSION)h;
    c.input_components = 1;
    c.in_color_space = JCS_GRAYSCALE;
    jpeg_set_defaults(&c);
    jpeg_set_quality(&c, 90, TRUE);
    if (progressive)
        jpeg_simple_progression(&c);
    jpeg_start_compress(&c, TRUE);
    for (int32_t y = 0; y < h; y++) {
        JSAMPROW row = (JSAMPROW)(pneumo_image_pixels(img) + (size_t)y * (size_t)w);
        jpeg_write_scanlines(&c, &row, 1);
    }
    jpeg_finish_compress(&c);
    jpeg_destroy_compress(&c);
    assert_int_equal(pneumo_image_decode(out->data, out->size, "x.jpg", NULL, &out->ref), PNEUMO_OK);
}

static pneumo_status op_decode_jpeg(void *ctx)
{
    jpeg_case *jc = ctx;
    pneumo_image *img = NULL;
    pneumo_status st = pneumo_image_decode(jc->data, jc->size, "x.jpg", NULL, &img);
    if (st == PNEUMO_OK)
        assert_memory_equal(pneumo_image_pixels(img), pneumo_image_pixels(jc->ref),
                            (size_t)pneumo_image_width(img) * (size_t)pneumo_image_height(img));
    else
        assert_null(img);
    if (st == PNEUMO_ERR_NOMEM && strstr(pneumo_last_error(), "JPEG decoder out of memory"))
        jc->libjpeg_nomem++;
    pneumo_image_destroy(img);
    return st;
}

static long jpeg_decodes(fixture *f)
{
    long total = 0;
    for (int progressive = 0; progressive < 2; progressive++) {
        jpeg_case jc;
        encode_jpeg(f->img, progressive, &jc);
        long n = run_until_success(progressive ? "image decode (progressive JPEG)" : "image decode (JPEG)",
                                   op_decode_jpeg, NULL, &jc);
        /* libjpeg asks its memory manager for tables, buffers and (progressive) coefficients */
        printf("    of which %ld in libjpeg's memory manager\n", jc.libjpeg_nomem);
        assert_true(jc.libjpeg_nomem >= 10 && jc.libjpeg_nomem < n);
        total += n;
        free(jc.data);
        pneumo_image_destroy(jc.ref);
    }
    return total;
}

static pneumo_status op_load_png(void *ctx)
{
    fixture *f = ctx;
    pneumo_image *img = NULL;
    pneumo_status st = pneumo_image_load(f->img_path, NULL, &img);
    pneumo_image_destroy(img);
    return st;
}

/* ---- pneumo-serve's request path: upload, multipart, decode, predict, Grad-CAM, answer ---- */

typedef struct {
    batcher *b;
    serve_metrics *metrics;
    upload_budget budget;
    const unsigned char *body;
    size_t body_len;
    const char *content_type;
    int declare_length; /* send a Content-Length */
    int heatmap;
    float ref_prob;     /* the model's probability for the image */
    pthread_mutex_t lock;
    pthread_cond_t cond;
    int done;
} serve_ctx;

static void serve_job_done(serve_job *job, void *user)
{
    serve_ctx *s = user;
    (void)job;
    pthread_mutex_lock(&s->lock);
    s->done = 1;
    pthread_cond_signal(&s->cond);
    pthread_mutex_unlock(&s->lock);
}

/* One POST /api/v1/diagnose as http.c runs it, minus the socket: NOMEM when
 * the answer is the 503 the server gives when memory runs out. */
static pneumo_status op_serve_request(void *ctx)
{
    serve_ctx *s = ctx;
    sreq r;
    serve_job job;
    char cl[32];
    int status;
    char *answer = NULL;
    size_t answer_len = 0;
    memset(&job, 0, sizeof job);
    snprintf(cl, sizeof cl, "%zu", s->body_len);
    enum sreq_next next = sreq_begin(&r, &s->budget, 1 << 20, "POST", "/api/v1/diagnose", s->content_type,
                                     s->declare_length ? cl : NULL, s->heatmap ? "1" : NULL, 0);
    if (next == SREQ_BODY) {
        for (size_t off = 0; off < s->body_len; off += 1000)
            sreq_body(&r, s->body + off, s->body_len - off < 1000 ? s->body_len - off : 1000);
        next = sreq_end(&r);
    }
    if (next == SREQ_JOB) {
        job.body = r.body;
        job.body_len = r.len;
        job.heatmap = r.heatmap;
        job.done = serve_job_done;
        job.user = s;
        s->done = 0;
        assert_int_equal(batcher_submit(s->b, &job), 0);
        pthread_mutex_lock(&s->lock);
        while (!s->done)
            pthread_cond_wait(&s->cond, &s->lock);
        pthread_mutex_unlock(&s->lock);
        status = job.status;
        answer = job.answer;
        answer_len = job.answer_len;
    } else {
        assert_int_equal(next, SREQ_ANSWER);
        strbuf sb;
        sb_init(&sb);
        sb_json_error(&sb, r.status, r.msg);
        status = r.status;
        answer = sb_take(&sb, &answer_len);
    }
    sreq_free(&r);
    assert_int_equal(budget_used(&s->budget), 0);
    if (!answer) {
        /* http.c then answers 503 "out of memory for the answer" */
        assert_true(status == 200 || status == 503);
        return pn_error(PNEUMO_ERR_NOMEM, "pneumo-serve: out of memory for the answer (status %d)", status);
    }
    assert_int_equal(strlen(answer), answer_len);
    if (status == 200) {
        const char *p = strstr(answer, "\"probability_pneumonia\": ");
        assert_non_null(p);
        double prob = strtod(p + strlen("\"probability_pneumonia\": "), NULL);
        if (fabs(prob - s->ref_prob) > 1e-6)
            fail_msg("serve: probability %.9g, the model gives %.9g", prob, (double)s->ref_prob);
        /* base64 of the PNG signature */
        assert_true((strstr(answer, "\"png_base64\": \"iVBORw0KGgo") != NULL) == (s->heatmap != 0));
        free(answer);
        return PNEUMO_OK;
    }
    char want[32];
    snprintf(want, sizeof want, "{\"status\": %d,", status);
    assert_memory_equal(answer, want, strlen(want));
    if (status != 503)
        fail_msg("serve: answer %d under allocation failure, not 503: %s", status, answer);
    pneumo_status st = pn_error(PNEUMO_ERR_NOMEM, "pneumo-serve: %s", answer);
    free(answer);
    return st;
}

static long serve_request_path(fixture *f)
{
    serve_ctx s;
    batcher_config bc;
    char err[256];
    long total = 0;
    pneumo_image *img = NULL;
    memset(&s, 0, sizeof s);
    memset(&bc, 0, sizeof bc);
    bc.threads = 1;
    bc.worker_threads = 1;
    bc.queue_capacity = 4;
    bc.max_batch = 1;
    pneumo_decode_default_limits(&bc.limits);
    bc.model_name = "alloc-fail";
    assert_int_equal(pneumo_image_decode(f->png, f->png_size, "x.png", NULL, &img), PNEUMO_OK);
    assert_int_equal(pneumo_model_predict_image(f->m, img, &s.ref_prob), PNEUMO_OK);
    pneumo_image_destroy(img);
    s.metrics = metrics_create();
    assert_non_null(s.metrics);
    s.b = batcher_create(f->m, &bc, s.metrics, err, sizeof err);
    if (!s.b)
        fail_msg("batcher_create: %s", err);
    budget_init(&s.budget, 4 << 20);
    pthread_mutex_init(&s.lock, NULL);
    pthread_cond_init(&s.cond, NULL);
    /* a raw PNG body of declared length */
    s.body = f->png;
    s.body_len = f->png_size;
    s.content_type = "image/png";
    s.declare_length = 1;
    total += run_until_success("serve request (raw PNG)", op_serve_request, NULL, &s);
    /* a form with a text field and the image, chunked, with the Grad-CAM overlay */
    static const char head[] = "--b0undary\r\nContent-Disposition: form-data; name=\"note\"\r\n\r\nhi\r\n"
                               "--b0undary\r\nContent-Disposition: form-data; name=\"image\"; filename=\"x.png\"\r\n"
                               "Content-Type: image/png\r\n\r\n";
    static const char tail[] = "\r\n--b0undary--\r\n";
    size_t n = strlen(head) + f->png_size + strlen(tail);
    unsigned char *form = malloc(n);
    assert_non_null(form);
    memcpy(form, head, strlen(head));
    memcpy(form + strlen(head), f->png, f->png_size);
    memcpy(form + strlen(head) + f->png_size, tail, strlen(tail));
    s.body = form;
    s.body_len = n;
    s.content_type = "multipart/form-data; boundary=b0undary";
    s.declare_length = 0;
    s.heatmap = 1;
    total += run_until_success("serve request (form, heatmap)", op_serve_request, NULL, &s);
    free(form);
    batcher_destroy(s.b);
    metrics_destroy(s.metrics);
    budget_destroy(&s.budget);
    pthread_cond_destroy(&s.cond);
    pthread_mutex_destroy(&s.lock);
    return total;
}

static void test_alloc_failures(void **state)
{
    fixture f;
    pneumo_model *m = NULL;
    long total = 0;
    (void)state;
    make_fixture(&f);
    printf("allocation failure injection:\n");
    total += run_until_success("create_article", op_create, after_create, &m);
    total += run_until_success("save", op_save, after_save, &f);
    total += run_until_success("load", op_load, after_load, &f);
    total += run_until_success("predict", op_predict, after_predict, &f);
    total += run_prepared("predict (first call)", load_fresh, op_predict_fresh,
                          after_predict_fresh, &f);
    total += run_until_success("predict_image", op_predict_image, after_predict, &f);
    total += run_prepared("predict_image (first call)", load_fresh, op_predict_image_fresh,
                          NULL, &f);
    total += run_until_success("predict_file", op_predict_file, after_predict, &f);
    after_load(&f, 1);
    total += run_until_success("gradcam", op_gradcam, after_predict, &f);
    total += run_prepared("gradcam (first call)", load_fresh, op_gradcam, after_predict_fresh, &f);
    total += run_until_success("train_step", op_train_step, after_train_step, &f);
    total += run_prepared("train_step (first call)", load_fresh, op_train_step_fresh,
                          after_train_step_fresh, &f);
    after_load(&f, 1);
    f.ds_threads = 1;
    total += run_until_success("dataset (1 thread)", op_dataset, NULL, &f);
    f.ds_threads = 2;
    total += run_until_success("dataset (2 threads)", op_dataset, NULL, &f);
    total += run_until_success("image decode (PNG)", op_decode_png, NULL, &f);
    total += run_until_success("image load (PNG file)", op_load_png, NULL, &f);
    total += jpeg_decodes(&f);
    total += serve_request_path(&f);
    printf("  %ld allocation points in all\n", total);
    /* every operation allocates: a hook that never fires would pass trivially */
    assert_true(total > 100);
    free_fixture(&f);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_alloc_failures),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
