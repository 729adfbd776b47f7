/* Allocation failure injection, as SQLite tests it: for N = 1, 2,
 * ... the N-th allocation the library makes during an operation fails
 * (pn_alloc_fail_nth, internal), until the operation runs without reaching N
 * allocations. Every run must return NOMEM or succeed, and leave the handles
 * usable (checked by running the operation again) or destroyable; leaks show
 * under LSan in the sanitizer build. libpng's allocations are routed; libjpeg's
 * memory manager calls malloc itself, and every request made through its
 * methods after jpeg_create_decompress counts as an allocation (lib/image/jpeg.c
 * wraps them), failed as libjpeg fails one. The harness is in
 * alloc_fail_fixtures.c; pneumo-serve's request path in test_alloc_fail_serve.c. */
#include "testutil.h"
#include "pneumo/augment.h"
#include "pneumo/dataset.h"
#include "pneumo/gradcam.h"
#include "pneumo/image.h"
#include "pneumo/model.h"
#include "pneumo/optim.h"
#include "pneumo/train.h"
#include <stdio.h> /* before jpeglib.h, which needs FILE */
#include <jpeglib.h>
#include <math.h>
#include <setjmp.h>
#include <stdlib.h>
#include <string.h>

#include "alloc_fail_fixtures.h"

/* ---- create_article ---- */

static pneumo_status op_create(void *ctx)
{
    pneumo_model **m = ctx;
    pneumo_status st = pneumo_model_create_article(AF_SIZE, 3, m);
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
    unsigned char *now = tu_read_all(f->path, &size);
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
    assert_int_equal(pneumo_model_train_step(f->loaded, f->loaded_opt, f->x, f->y, NULL, &r), PNEUMO_OK);
    assert_true(isfinite(r.loss));
}

/* ---- Grad-CAM: a map of the model's last conv layer ---- */

static pneumo_status op_gradcam(void *ctx)
{
    fixture *f = ctx;
    pneumo_tensor *map = NULL;
    pneumo_status st = pneumo_model_gradcam_image(f->loaded ? f->loaded : f->m, f->img, NULL, &map, NULL);
    if ((st == PNEUMO_OK) != (map != NULL))
        fail_msg("gradcam: status %d but map %p", st, (void *)map);
    pneumo_tensor_destroy(map);
    return st;
}

/* ---- a BatchNormalization model: build, one training step, folded predict
 * (Conv2D -> BatchNormalization, BatchNormalization -> Conv2D run fused with
 * its pool, BatchNormalization -> GlobalAveragePooling2D -> Dense) ---- */

static pneumo_status op_batchnorm(void *ctx)
{
    int64_t xs[4] = {4, 8, 8, 2}, ys[1] = {4}, ps[2] = {4, 1};
    pneumo_model *m = NULL;
    pneumo_optimizer *o = NULL;
    pneumo_tensor *x = NULL, *y = NULL, *p = NULL;
    pneumo_conv2d_params conv, relu;
    pneumo_step_result r;
    pneumo_status st;
    (void)ctx;
    pneumo_conv2d_default_params(&conv);
    conv.filters = 4;
    relu = conv;
    relu.activation = PNEUMO_ACT_RELU;
    if ((st = pneumo_model_create(8, 8, 2, 1, &m)) == PNEUMO_OK &&
        (st = pneumo_model_add_conv2d(m, &conv)) == PNEUMO_OK &&
        (st = pneumo_model_add_batchnorm(m, NULL)) == PNEUMO_OK &&
        (st = pneumo_model_add_activation(m, PNEUMO_ACT_RELU)) == PNEUMO_OK &&
        (st = pneumo_model_add_batchnorm(m, NULL)) == PNEUMO_OK &&
        (st = pneumo_model_add_conv2d(m, &relu)) == PNEUMO_OK &&
        (st = pneumo_model_add_maxpool2d(m, NULL)) == PNEUMO_OK &&
        (st = pneumo_model_add_batchnorm(m, NULL)) == PNEUMO_OK &&
        (st = pneumo_model_add_global_avgpool2d(m)) == PNEUMO_OK &&
        (st = pneumo_model_add_dense(m, 1, PNEUMO_ACT_SIGMOID)) == PNEUMO_OK &&
        (st = pneumo_optimizer_create_adam(NULL, &o)) == PNEUMO_OK &&
        (st = pneumo_tensor_create(4, xs, &x)) == PNEUMO_OK &&
        (st = pneumo_tensor_create(1, ys, &y)) == PNEUMO_OK &&
        (st = pneumo_tensor_create(2, ps, &p)) == PNEUMO_OK) {
        for (int i = 0; i < 4 * 128; i++)
            pneumo_tensor_data(x)[i] = (float)(i % 7) * 0.25f;
        for (int i = 0; i < 4; i++)
            pneumo_tensor_data(y)[i] = (float)(i % 2);
        if ((st = pneumo_model_train_step(m, o, x, y, NULL, &r)) == PNEUMO_OK)
            st = pneumo_model_predict(m, x, p);
    }
    pneumo_tensor_destroy(x);
    pneumo_tensor_destroy(y);
    pneumo_tensor_destroy(p);
    pneumo_optimizer_destroy(o);
    pneumo_model_destroy(m);
    return st;
}

/* ---- data-parallel fit of a BatchNormalization model: one rank, two parts
 * per batch (the parts' batch statistics travel in the exchange buffers) ---- */

typedef struct dp_case {
    fixture *f;
    int32_t exchange;
} dp_case;

/* One rank's collectives: nothing to send or receive, the sums are its own. */
static pneumo_status one_rank(const pneumo_collective *c, void *user)
{
    (void)user;
    if (c->op != PNEUMO_COLLECTIVE_SUM && c->op != PNEUMO_COLLECTIVE_BCAST &&
        c->op != PNEUMO_COLLECTIVE_ALLGATHER)
        fail_msg("one rank: collective %d", c->op);
    return PNEUMO_OK;
}

static pneumo_status op_fit_parallel_batchnorm(void *ctx)
{
    const dp_case *dc = ctx;
    pneumo_dataset_options dso;
    pneumo_dataset *ds = NULL;
    pneumo_model *m = NULL;
    pneumo_optimizer *o = NULL;
    pneumo_conv2d_params conv;
    pneumo_data_parallel dp;
    pneumo_fit_options fo;
    pneumo_status st;
    pneumo_dataset_default_options(&dso);
    dso.width = dso.height = 12;
    dso.threads = 1;
    pneumo_conv2d_default_params(&conv);
    conv.filters = 2;
    pneumo_data_parallel_default(&dp);
    dp.parts = 2;
    dp.exchange = dc->exchange;
    dp.collective = one_rank;
    pneumo_fit_default_options(&fo);
    fo.epochs = 1;
    fo.batch_size = 4;
    fo.threads = 1;
    fo.parallel = &dp;
    if ((st = pneumo_dataset_open_dir(dc->f->ds_dir, &dso, &ds)) == PNEUMO_OK &&
        (st = pneumo_model_create(12, 12, 1, 1, &m)) == PNEUMO_OK &&
        (st = pneumo_model_add_batchnorm(m, NULL)) == PNEUMO_OK &&
        (st = pneumo_model_add_conv2d(m, &conv)) == PNEUMO_OK &&
        (st = pneumo_model_add_batchnorm(m, NULL)) == PNEUMO_OK &&
        (st = pneumo_model_add_global_avgpool2d(m)) == PNEUMO_OK &&
        (st = pneumo_model_add_dense(m, 1, PNEUMO_ACT_SIGMOID)) == PNEUMO_OK &&
        (st = pneumo_optimizer_create_adam(NULL, &o)) == PNEUMO_OK)
        st = pneumo_model_fit(m, o, ds, NULL, &fo, NULL);
    pneumo_optimizer_destroy(o);
    pneumo_model_destroy(m);
    pneumo_dataset_destroy(ds);
    return st;
}

/* ---- ONNX export of BatchNormalization (without gamma, without beta) and
 * GlobalAveragePooling2D ---- */

static pneumo_status op_onnx_batchnorm(void *ctx)
{
    pneumo_model *m = NULL;
    pneumo_conv2d_params conv;
    pneumo_batchnorm_params bn, flat;
    size_t needed = 0;
    pneumo_status st;
    (void)ctx;
    pneumo_conv2d_default_params(&conv);
    conv.filters = 3;
    pneumo_batchnorm_default_params(&bn);
    bn.scale = 0;
    pneumo_batchnorm_default_params(&flat);
    flat.center = 0;
    if ((st = pneumo_model_create(6, 6, 1, 1, &m)) == PNEUMO_OK &&
        (st = pneumo_model_add_conv2d(m, &conv)) == PNEUMO_OK &&
        (st = pneumo_model_add_batchnorm(m, &bn)) == PNEUMO_OK &&
        (st = pneumo_model_add_global_avgpool2d(m)) == PNEUMO_OK &&
        (st = pneumo_model_add_batchnorm(m, &flat)) == PNEUMO_OK &&
        (st = pneumo_model_add_dense(m, 1, PNEUMO_ACT_SIGMOID)) == PNEUMO_OK) {
        st = pneumo_model_export_onnx_memory(m, NULL, NULL, 0, &needed);
        if (st == PNEUMO_OK && needed == 0)
            fail_msg("onnx export: OK with an empty graph");
    }
    pneumo_model_destroy(m);
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

/* ---- augmentation: the contrast/gamma copy of the input ---- */

static pneumo_status op_augment_intensity(void *ctx)
{
    pneumo_augment_options o;
    uint8_t src[6 * 5];
    float dst[6 * 5];
    (void)ctx;
    for (int i = 0; i < 30; i++)
        src[i] = (uint8_t)(i * 8);
    pneumo_augment_default_options(&o);
    o.contrast_lo = o.contrast_hi = 1.5f;
    o.rescale = 0;
    pneumo_status st = pneumo_augment_image(&o, 1, 0, 0, src, sizeof src, 6, 5, dst, 30, NULL);
    if (st == PNEUMO_OK && dst[0] != 0.0f)
        fail_msg("augment: contrast 1.5 of a 0 below the mean gave %g", (double)dst[0]);
    return st;
}

/* ---- patient-grouped split of the same folder ---- */

static pneumo_status op_split(void *ctx)
{
    fixture *f = ctx;
    pneumo_dataset_options o;
    pneumo_split_options s;
    pneumo_dataset *train = NULL, *val = NULL;
    pneumo_status st;
    pneumo_dataset_default_options(&o);
    o.width = 24;
    o.height = 20;
    o.threads = f->ds_threads;
    pneumo_split_default_options(&s);
    s.val_fraction = 0.34;
    st = pneumo_dataset_open_split(f->ds_dir, &s, &o, &o, &train, &val);
    if (st != PNEUMO_OK) {
        assert_null(train);
        assert_null(val);
        return st;
    }
    if (pneumo_dataset_size(train) != 4 || pneumo_dataset_size(val) != 2)
        fail_msg("split: %lld + %lld images after an allocation failure while opening",
                 (long long)pneumo_dataset_size(train), (long long)pneumo_dataset_size(val));
    pneumo_dataset_destroy(train);
    pneumo_dataset_destroy(val);
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
    pneumo_image *ref;  /* decoded without failures */
    long libjpeg_nomem; /* failures that hit libjpeg's memory manager */
} jpeg_case;

struct enc_err {
    struct jpeg_error_mgr pub;
    jmp_buf jump;
};

static void enc_error_exit(j_common_ptr c) { longjmp(((struct enc_err *)c->err)->jump, 1); }

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

static void test_library_alloc_failures(void **state)
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
    total += run_prepared("predict (first call)", load_fresh, op_predict_fresh, after_predict_fresh, &f);
    total += run_until_success("predict_image", op_predict_image, after_predict, &f);
    total += run_prepared("predict_image (first call)", load_fresh, op_predict_image_fresh, NULL, &f);
    total += run_until_success("predict_file", op_predict_file, after_predict, &f);
    after_load(&f, 1);
    total += run_until_success("gradcam", op_gradcam, after_predict, &f);
    total += run_prepared("gradcam (first call)", load_fresh, op_gradcam, after_predict_fresh, &f);
    total += run_until_success("train_step", op_train_step, after_train_step, &f);
    total += run_until_success("batchnorm model", op_batchnorm, NULL, &f);
    total += run_until_success("onnx export (batchnorm)", op_onnx_batchnorm, NULL, &f);
    total += run_prepared("train_step (first call)", load_fresh, op_train_step_fresh, after_train_step_fresh,
                          &f);
    after_load(&f, 1);
    f.ds_threads = 1;
    total += run_until_success("dataset (1 thread)", op_dataset, NULL, &f);
    {
        dp_case gather = {&f, PNEUMO_EXCHANGE_GATHER}, sliced = {&f, PNEUMO_EXCHANGE_SLICED};
        total += run_until_success("parallel fit (bn, gather)", op_fit_parallel_batchnorm, NULL, &gather);
        total += run_until_success("parallel fit (bn, sliced)", op_fit_parallel_batchnorm, NULL, &sliced);
    }
    f.ds_threads = 2;
    total += run_until_success("dataset (2 threads)", op_dataset, NULL, &f);
    total += run_until_success("augment (contrast copy)", op_augment_intensity, NULL, &f);
    total += run_until_success("dataset split", op_split, NULL, &f);
    total += run_until_success("image decode (PNG)", op_decode_png, NULL, &f);
    total += run_until_success("image load (PNG file)", op_load_png, NULL, &f);
    total += jpeg_decodes(&f);
    printf("  %ld allocation points in all\n", total);
    /* every operation allocates: a hook that never fires would pass trivially */
    assert_true(total > 100);
    free_fixture(&f);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_library_alloc_failures),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
