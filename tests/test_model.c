/* Model building, summary, API misuse, and model files (round trip and
 * rejection of corrupt or hostile files). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "format/json.h"
#include "format/safetensors.h"
#include "pneumo/pneumo.h"
#include "testutil.h"

/* A small model touching every layer kind, trained a few steps so weights and
 * optimizer state are not trivial. */
static pneumo_model *small_model(uint64_t seed)
{
    pneumo_model *m = NULL;
    pneumo_conv2d_params c;
    pneumo_maxpool2d_params p;
    assert_int_equal(pneumo_model_create(9, 7, 2, seed, &m), PNEUMO_OK);
    pneumo_conv2d_default_params(&c);
    c.filters = 4;
    c.padding = PNEUMO_PADDING_SAME;
    c.activation = PNEUMO_ACT_RELU;
    assert_int_equal(pneumo_model_add_conv2d(m, &c), PNEUMO_OK);
    pneumo_maxpool2d_default_params(&p);
    assert_int_equal(pneumo_model_add_maxpool2d(m, &p), PNEUMO_OK);
    c.filters = 3;
    c.kernel_h = 2;
    c.stride_w = 2;
    c.padding = PNEUMO_PADDING_VALID;
    c.activation = PNEUMO_ACT_TANH;
    assert_int_equal(pneumo_model_add_conv2d(m, &c), PNEUMO_OK);
    assert_int_equal(pneumo_model_add_flatten(m), PNEUMO_OK);
    assert_int_equal(pneumo_model_add_dense(m, 5, PNEUMO_ACT_RELU), PNEUMO_OK);
    assert_int_equal(pneumo_model_add_dropout(m, 0.25f), PNEUMO_OK);
    assert_int_equal(pneumo_model_add_dense(m, 1, PNEUMO_ACT_LINEAR), PNEUMO_OK);
    assert_int_equal(pneumo_model_add_activation(m, PNEUMO_ACT_SIGMOID), PNEUMO_OK);
    return m;
}

typedef struct batch {
    pneumo_tensor *x, *y, *w;
} batch;

static batch make_batch(int n, int h, int w, int c, uint64_t seed)
{
    batch b;
    int64_t xs[4] = {n, h, w, c}, ys[1] = {n};
    uint64_t st = seed;
    assert_int_equal(pneumo_tensor_create(4, xs, &b.x), PNEUMO_OK);
    assert_int_equal(pneumo_tensor_create(1, ys, &b.y), PNEUMO_OK);
    assert_int_equal(pneumo_tensor_create(1, ys, &b.w), PNEUMO_OK);
    tu_fill(&st, pneumo_tensor_data(b.x), (size_t)n * h * w * c, 0.0f, 1.0f);
    for (int i = 0; i < n; i++) {
        pneumo_tensor_data(b.y)[i] = (float)(i % 2);
        pneumo_tensor_data(b.w)[i] = i % 2 ? 0.6739549839228296f : 1.9371534195933457f;
    }
    return b;
}

static void free_batch(batch *b)
{
    pneumo_tensor_destroy(b->x);
    pneumo_tensor_destroy(b->y);
    pneumo_tensor_destroy(b->w);
}

static void train(pneumo_model *m, pneumo_optimizer *o, batch *b, int steps)
{
    for (int i = 0; i < steps; i++)
        assert_int_equal(pneumo_model_train_step(m, o, b->x, b->y, b->w, NULL), PNEUMO_OK);
}

static void assert_same_params(pneumo_model *a, pneumo_model *b)
{
    assert_int_equal(pneumo_model_num_param_tensors(a), pneumo_model_num_param_tensors(b));
    for (int32_t i = 0; i < pneumo_model_num_param_tensors(a); i++) {
        pneumo_tensor *ta = NULL, *tb = NULL;
        assert_string_equal(tu_param_name(a, i), tu_param_name(b, i));
        assert_int_equal(pneumo_model_param(a, i, &ta), PNEUMO_OK);
        assert_int_equal(pneumo_model_param(b, i, &tb), PNEUMO_OK);
        assert_int_equal(pneumo_tensor_numel(ta), pneumo_tensor_numel(tb));
        assert_memory_equal(pneumo_tensor_data(ta), pneumo_tensor_data(tb),
                            (size_t)pneumo_tensor_numel(ta) * sizeof(float));
        pneumo_tensor_destroy(ta);
        pneumo_tensor_destroy(tb);
    }
}

static void test_article_summary(void **state)
{
    pneumo_model *m = NULL;
    size_t needed = 0;
    char *text;
    (void)state;
    assert_int_equal(pneumo_model_create_article(500, 1, &m), PNEUMO_OK);
    assert_int_equal(pneumo_model_num_params(m), 1467137);
    assert_int_equal(pneumo_model_num_layers(m), 14);
    assert_int_equal(pneumo_model_output_size(m), 1);
    assert_int_equal(pneumo_model_summary_string(m, NULL, 0, &needed), PNEUMO_OK);
    text = malloc(needed + 1);
    assert_int_equal(pneumo_model_summary_string(m, text, needed + 1, NULL), PNEUMO_OK);
    assert_int_equal(strlen(text), needed);
    /* Every output shape and parameter count of ARTICLE.md's table. */
    {
        static const char *rows[] = {"conv2d (Conv2D)              (None, 498, 498, 32)      320\n",
                                     "max_pooling2d (MaxPooling2D) (None, 249, 249, 32)      0\n",
                                     "(None, 247, 247, 32)      9248\n",
                                     "(None, 123, 123, 32)",
                                     "(None, 121, 121, 32)      9248\n",
                                     "(None, 60, 60, 32)",
                                     "(None, 58, 58, 64)        18496\n",
                                     "(None, 29, 29, 64)",
                                     "(None, 27, 27, 64)        36928\n",
                                     "(None, 13, 13, 64)",
                                     "flatten (Flatten)            (None, 10816)             0\n",
                                     "dense (Dense)                (None, 128)               1384576\n",
                                     "dense_1 (Dense)              (None, 64)                8256\n",
                                     "dense_2 (Dense)              (None, 1)                 65\n",
                                     "Total params: 1,467,137\n",
                                     "Trainable params: 1,467,137\n",
                                     "Non-trainable params: 0\n"};
        for (size_t i = 0; i < sizeof rows / sizeof rows[0]; i++)
            if (!strstr(text, rows[i]))
                fail_msg("summary lacks \"%s\":\n%s", rows[i], text);
    }
    /* Truncation keeps a NUL terminator. */
    {
        char small[10];
        assert_int_equal(pneumo_model_summary_string(m, small, sizeof small, NULL), PNEUMO_OK);
        assert_int_equal(strlen(small), 9);
    }
    assert_string_equal(tu_param_name(m, 0), "conv2d/kernel");
    assert_string_equal(tu_param_name(m, 15), "dense_2/bias");
    assert_int_equal(pneumo_model_param_name(m, 16, NULL, 0, NULL), PNEUMO_ERR_INVALID_ARG);
    free(text);
    pneumo_model_destroy(m);
}

static void test_init_is_keras_glorot(void **state)
{
    pneumo_model *a = NULL, *b = NULL, *c = NULL;
    pneumo_tensor *k = NULL, *bias = NULL;
    double limit = 0.0, sum = 0.0, sumsq = 0.0;
    (void)state;
    assert_int_equal(pneumo_model_create_article(100, 42, &a), PNEUMO_OK);
    assert_int_equal(pneumo_model_create_article(100, 42, &b), PNEUMO_OK);
    assert_int_equal(pneumo_model_create_article(100, 43, &c), PNEUMO_OK);
    assert_same_params(a, b);
    /* conv2d_1/kernel: (3, 3, 32, 32) -> limit sqrt(6 / (288 + 288)) */
    assert_int_equal(pneumo_model_param(a, 2, &k), PNEUMO_OK);
    assert_int_equal(pneumo_tensor_dim(k, 0), 3);
    assert_int_equal(pneumo_tensor_dim(k, 2), 32);
    limit = sqrt(6.0 / (288.0 + 288.0));
    for (int64_t i = 0; i < pneumo_tensor_numel(k); i++) {
        double v = pneumo_tensor_data(k)[i];
        assert_true(v >= -limit && v <= limit);
        sum += v;
        sumsq += v * v;
    }
    /* U(-l, l) has mean 0 and variance l^2 / 3 */
    assert_true(fabs(sum / 9216.0) < 0.01);
    assert_true(fabs(sumsq / 9216.0 - limit * limit / 3.0) < 0.1 * limit * limit / 3.0);
    assert_int_equal(pneumo_model_param(a, 3, &bias), PNEUMO_OK);
    for (int64_t i = 0; i < pneumo_tensor_numel(bias); i++)
        assert_true(pneumo_tensor_data(bias)[i] == 0.0f);
    pneumo_tensor_destroy(k);
    pneumo_tensor_destroy(bias);
    assert_int_equal(pneumo_model_param(c, 0, &k), PNEUMO_OK);
    assert_int_equal(pneumo_model_param(a, 0, &bias), PNEUMO_OK);
    assert_memory_not_equal(pneumo_tensor_data(k), pneumo_tensor_data(bias), 288 * sizeof(float) / 32 * 10);
    pneumo_tensor_destroy(k);
    pneumo_tensor_destroy(bias);
    pneumo_model_destroy(a);
    pneumo_model_destroy(b);
    pneumo_model_destroy(c);
}

static void test_misuse(void **state)
{
    pneumo_model *m = NULL, *other = NULL;
    pneumo_optimizer *o = NULL;
    pneumo_conv2d_params c;
    pneumo_tensor *out = NULL, *bad = NULL;
    int64_t bad_shape[4] = {2, 9, 8, 2}, out_shape[2] = {2, 1};
    batch b;
    (void)state;
    assert_int_equal(pneumo_model_create(0, 5, 1, 0, &m), PNEUMO_ERR_INVALID_ARG);
    assert_int_equal(pneumo_model_create(20000, 5, 1, 0, &m), PNEUMO_ERR_LIMIT);
    assert_int_equal(pneumo_model_create(5, 5, 1, 0, NULL), PNEUMO_ERR_INVALID_ARG);
    assert_int_equal(pneumo_model_create_article(93, 0, &m), PNEUMO_ERR_SHAPE);
    assert_null(m);
    assert_int_equal(pneumo_model_add_flatten(NULL), PNEUMO_ERR_INVALID_ARG);
    pneumo_model_destroy(NULL);
    pneumo_optimizer_destroy(NULL);

    assert_int_equal(pneumo_model_create(9, 7, 2, 0, &m), PNEUMO_OK);
    b = make_batch(2, 9, 7, 2, 5);
    assert_int_equal(pneumo_optimizer_create_adam(NULL, &o), PNEUMO_OK);
    /* wrong order of calls: an empty model cannot predict or train */
    assert_int_equal(pneumo_tensor_create(2, out_shape, &out), PNEUMO_OK);
    assert_int_equal(pneumo_model_predict(m, b.x, out), PNEUMO_ERR_STATE);
    assert_int_equal(pneumo_model_train_step(m, o, b.x, b.y, NULL, NULL), PNEUMO_ERR_STATE);
    assert_int_equal(pneumo_model_save(m, NULL, "/tmp/never-written.pneumo"), PNEUMO_ERR_STATE);
    /* Dense straight after an image: needs Flatten */
    assert_int_equal(pneumo_model_add_dense(m, 4, PNEUMO_ACT_RELU), PNEUMO_ERR_SHAPE);
    assert_non_null(strstr(pneumo_last_error(), "Flatten"));
    pneumo_conv2d_default_params(&c);
    assert_int_equal(pneumo_model_add_conv2d(m, &c), PNEUMO_ERR_INVALID_ARG); /* filters 0 */
    c.filters = 2;
    c.kernel_h = 10; /* larger than the 9-row input */
    assert_int_equal(pneumo_model_add_conv2d(m, &c), PNEUMO_ERR_SHAPE);
    assert_non_null(strstr(pneumo_last_error(), "(None, 9, 7, 2)"));
    c.kernel_h = 3;
    c.activation = 17;
    assert_int_equal(pneumo_model_add_conv2d(m, &c), PNEUMO_ERR_INVALID_ARG);
    c.activation = PNEUMO_ACT_RELU;
    assert_int_equal(pneumo_model_add_conv2d(m, &c), PNEUMO_OK);
    assert_int_equal(pneumo_model_add_dropout(m, 1.0f), PNEUMO_ERR_INVALID_ARG);
    assert_int_equal(pneumo_model_add_flatten(m), PNEUMO_OK);
    assert_int_equal(pneumo_model_add_dense(m, 3, PNEUMO_ACT_RELU), PNEUMO_OK);
    /* the loss needs one sigmoid output */
    assert_int_equal(pneumo_model_train_step(m, o, b.x, b.y, NULL, NULL), PNEUMO_ERR_STATE);
    assert_non_null(strstr(pneumo_last_error(), "dense"));
    assert_int_equal(pneumo_model_add_dense(m, 1, PNEUMO_ACT_SIGMOID), PNEUMO_OK);
    /* wrong input shape, named in the message */
    assert_int_equal(pneumo_tensor_create(4, bad_shape, &bad), PNEUMO_OK);
    assert_int_equal(pneumo_model_predict(m, bad, out), PNEUMO_ERR_SHAPE);
    assert_non_null(strstr(pneumo_last_error(), "(2, 9, 8, 2)"));
    assert_int_equal(pneumo_model_train_step(m, o, bad, b.y, NULL, NULL), PNEUMO_ERR_SHAPE);
    /* wrong label count, bad label values, bad weights */
    assert_int_equal(pneumo_model_train_step(m, o, b.x, b.x, NULL, NULL), PNEUMO_ERR_SHAPE);
    pneumo_tensor_data(b.y)[0] = 2.0f;
    assert_int_equal(pneumo_model_train_step(m, o, b.x, b.y, NULL, NULL), PNEUMO_ERR_INVALID_ARG);
    pneumo_tensor_data(b.y)[0] = 0.0f;
    pneumo_tensor_data(b.w)[1] = -1.0f;
    assert_int_equal(pneumo_model_train_step(m, o, b.x, b.y, b.w, NULL), PNEUMO_ERR_INVALID_ARG);
    pneumo_tensor_data(b.w)[1] = 1.0f;
    assert_int_equal(pneumo_model_train_step(m, NULL, b.x, b.y, NULL, NULL), PNEUMO_ERR_INVALID_ARG);
    assert_int_equal(pneumo_model_train_step(m, o, NULL, b.y, NULL, NULL), PNEUMO_ERR_INVALID_ARG);
    assert_int_equal(pneumo_model_predict(m, b.x, NULL), PNEUMO_ERR_INVALID_ARG);
    assert_int_equal(pneumo_model_predict(m, b.x, bad), PNEUMO_ERR_SHAPE);
    /* a valid step, then the optimizer refuses another model */
    assert_int_equal(pneumo_model_train_step(m, o, b.x, b.y, b.w, NULL), PNEUMO_OK);
    assert_int_equal(pneumo_model_predict(m, b.x, out), PNEUMO_OK);
    other = small_model(1);
    assert_int_equal(pneumo_model_train_step(other, o, b.x, b.y, NULL, NULL), PNEUMO_ERR_STATE);
    assert_int_equal(pneumo_model_save(other, o, "/tmp/never-written.pneumo"), PNEUMO_ERR_STATE);
    pneumo_tensor_destroy(bad);
    assert_int_equal(pneumo_model_param(m, 99, &bad), PNEUMO_ERR_INVALID_ARG);
    assert_null(bad);
    assert_int_equal(pneumo_model_summary(m, NULL, NULL), PNEUMO_ERR_INVALID_ARG);
    assert_int_equal(access("/tmp/never-written.pneumo", F_OK), -1);
    pneumo_tensor_destroy(out);
    free_batch(&b);
    pneumo_optimizer_destroy(o);
    pneumo_model_destroy(m);
    pneumo_model_destroy(other);
}

/* Save with optimizer state, load, and continue: both copies must stay
 * bit-identical step after step. */
static void test_save_load_round_trip(void **state)
{
    const char *dir = tu_tmpdir();
    char path[4200];
    pneumo_model *a = small_model(7), *b = NULL;
    pneumo_optimizer *oa = NULL, *ob = NULL;
    pneumo_tensor *pa = NULL, *pb = NULL;
    int64_t ps[2] = {6, 1};
    batch bt = make_batch(6, 9, 7, 2, 11);
    (void)state;
    assert_non_null(dir);
    snprintf(path, sizeof path, "%s/model.safetensors", dir);
    assert_int_equal(pneumo_optimizer_create_adam(NULL, &oa), PNEUMO_OK);
    train(a, oa, &bt, 3);
    assert_int_equal(pneumo_model_save(a, oa, path), PNEUMO_OK);
    assert_int_equal(pneumo_model_load(path, &b, &ob), PNEUMO_OK);
    assert_non_null(ob);
    assert_int_equal(pneumo_optimizer_iterations(ob), 3);
    assert_true(pneumo_optimizer_learning_rate(ob) == pneumo_optimizer_learning_rate(oa));
    assert_same_params(a, b);
    assert_int_equal(pneumo_tensor_create(2, ps, &pa), PNEUMO_OK);
    assert_int_equal(pneumo_tensor_create(2, ps, &pb), PNEUMO_OK);
    assert_int_equal(pneumo_model_predict(a, bt.x, pa), PNEUMO_OK);
    assert_int_equal(pneumo_model_predict(b, bt.x, pb), PNEUMO_OK);
    assert_memory_equal(pneumo_tensor_data(pa), pneumo_tensor_data(pb), 6 * sizeof(float));
    /* resuming: same optimizer state and dropout stream */
    train(a, oa, &bt, 2);
    train(b, ob, &bt, 2);
    assert_same_params(a, b);
    {
        char summary_a[4096], summary_b[4096];
        assert_int_equal(pneumo_model_summary_string(a, summary_a, sizeof summary_a, NULL), PNEUMO_OK);
        assert_int_equal(pneumo_model_summary_string(b, summary_b, sizeof summary_b, NULL), PNEUMO_OK);
        assert_string_equal(summary_a, summary_b);
    }
    /* loading without asking for the optimizer works too */
    pneumo_model_destroy(b);
    assert_int_equal(pneumo_model_load(path, &b, NULL), PNEUMO_OK);
    pneumo_model_destroy(b);
    /* overwrite in place: no temporary files remain */
    assert_int_equal(pneumo_model_save(a, NULL, path), PNEUMO_OK);
    {
        int has_tmp;
        assert_int_equal(tu_count_entries(dir, &has_tmp), 1);
        assert_false(has_tmp);
    }
    pneumo_optimizer_destroy(ob);
    ob = NULL;
    assert_int_equal(pneumo_model_load(path, &b, &ob), PNEUMO_OK);
    assert_null(ob); /* saved without an optimizer */
    pneumo_model_destroy(b);
    /* a failing save leaves the old file intact */
    {
        char bad[4300];
        struct stat before, after;
        assert_int_equal(stat(path, &before), 0);
        snprintf(bad, sizeof bad, "%s/missing-dir/model.safetensors", dir);
        assert_int_equal(pneumo_model_save(a, oa, bad), PNEUMO_ERR_IO);
        assert_non_null(strstr(pneumo_last_error(), "missing-dir"));
        assert_int_equal(stat(path, &after), 0);
        assert_int_equal(before.st_size, after.st_size);
    }
    unlink(path);
    rmdir(dir);
    pneumo_tensor_destroy(pa);
    pneumo_tensor_destroy(pb);
    free_batch(&bt);
    pneumo_optimizer_destroy(oa);
    pneumo_optimizer_destroy(ob);
    pneumo_model_destroy(a);
}

static uint8_t *model_bytes(pneumo_model *m, pneumo_optimizer *o, size_t *size)
{
    const char *dir = tu_tmpdir();
    char path[4200];
    FILE *f;
    uint8_t *data;
    long len;
    snprintf(path, sizeof path, "%s/m.safetensors", dir);
    assert_int_equal(pneumo_model_save(m, o, path), PNEUMO_OK);
    f = fopen(path, "rb");
    assert_non_null(f);
    fseek(f, 0, SEEK_END);
    len = ftell(f);
    fseek(f, 0, SEEK_SET);
    data = malloc((size_t)len);
    assert_int_equal(fread(data, 1, (size_t)len, f), (size_t)len);
    fclose(f);
    unlink(path);
    rmdir(dir);
    *size = (size_t)len;
    return data;
}

static void test_truncated_and_flipped_files_rejected(void **state)
{
    pneumo_model *m = small_model(3), *got = NULL;
    pneumo_optimizer *o = NULL, *go = NULL;
    batch bt = make_batch(4, 9, 7, 2, 2);
    size_t size;
    uint8_t *data;
    uint64_t rng = 99;
    int accepted = 0;
    (void)state;
    assert_int_equal(pneumo_optimizer_create_adam(NULL, &o), PNEUMO_OK);
    train(m, o, &bt, 1);
    data = model_bytes(m, o, &size);
    assert_int_equal(pneumo_model_load_memory(data, size, &got, &go), PNEUMO_OK);
    pneumo_model_destroy(got);
    pneumo_optimizer_destroy(go);
    for (size_t cut = 0; cut < size; cut += (cut < 64 ? 1 : 97)) {
        pneumo_status st = pneumo_model_load_memory(data, cut, &got, &go);
        assert_int_not_equal(st, PNEUMO_OK);
        assert_null(got);
        assert_null(go);
        assert_true(st == PNEUMO_ERR_FORMAT || st == PNEUMO_ERR_LIMIT);
        assert_true(strlen(pneumo_last_error()) > 0);
    }
    /* random byte flips inside the header must never crash */
    {
        uint64_t hlen = 0;
        memcpy(&hlen, data, 8);
        for (int i = 0; i < 3000; i++) {
            uint8_t *copy = malloc(size);
            size_t at = 8 + (size_t)(tu_next(&rng) % hlen);
            memcpy(copy, data, size);
            copy[at] = (uint8_t)tu_next(&rng);
            if (pneumo_model_load_memory(copy, size, &got, &go) == PNEUMO_OK) {
                accepted++;
                pneumo_model_destroy(got);
                pneumo_optimizer_destroy(go);
            }
            free(copy);
        }
    }
    assert_true(accepted < 3000);
    /* a NaN weight is refused */
    {
        uint64_t hlen;
        float nan = NAN;
        memcpy(&hlen, data, 8);
        memcpy(data + 8 + hlen, &nan, sizeof nan);
        assert_int_equal(pneumo_model_load_memory(data, size, &got, NULL), PNEUMO_ERR_FORMAT);
        assert_non_null(strstr(pneumo_last_error(), "non-finite"));
    }
    assert_int_equal(pneumo_model_load("/nonexistent/dir/model.safetensors", &got, NULL), PNEUMO_ERR_IO);
    assert_int_equal(pneumo_model_load("/tmp", &got, NULL) != PNEUMO_OK, 1);
    assert_int_equal(pneumo_model_load(NULL, &got, NULL), PNEUMO_ERR_INVALID_ARG);
    free(data);
    free_batch(&bt);
    pneumo_optimizer_destroy(o);
    pneumo_model_destroy(m);
}

/* Build a file from hand-written metadata and tensors. */
static pneumo_status load_crafted(const char *arch, const pn_st_tensor *t, size_t nt, const char *format)
{
    pn_st_meta meta[4] = {{"format", format}, {"architecture", arch}, {"seed", "1"}, {"train_steps", "0"}};
    pn_buf b;
    pneumo_model *m = NULL;
    pneumo_status st;
    pn_buf_init(&b);
    assert_int_equal(pn_safetensors_serialize("crafted", meta, 4, t, nt, &b), PNEUMO_OK);
    st = pneumo_model_load_memory(b.data, b.len, &m, NULL);
    if (st == PNEUMO_OK)
        pneumo_model_destroy(m);
    pn_buf_free(&b);
    return st;
}

static void test_crafted_files_rejected(void **state)
{
    static float w[12], bias[3];
    const char *good =
        "{\"format\":\"libpneumo\",\"format_version\":1,\"input_shape\":[1,1,4],"
        "\"layers\":[{\"class\":\"Dense\",\"name\":\"dense\",\"units\":3,\"activation\":\"relu\"}]}";
    pn_st_tensor t[3] = {{"dense/kernel", 2, {4, 3}, w},
                         {"dense/bias", 1, {3}, bias},
                         {"extra", 1, {3}, bias}};
    pn_st_tensor wrong_shape[2] = {{"dense/kernel", 2, {3, 4}, w}, {"dense/bias", 1, {3}, bias}};
    (void)state;
    assert_int_equal(load_crafted(good, t, 2, "libpneumo"), PNEUMO_OK);
    assert_int_equal(load_crafted(good, t, 2, "other"), PNEUMO_ERR_FORMAT);
    assert_int_equal(load_crafted(good, t, 1, "libpneumo"), PNEUMO_ERR_FORMAT);
    assert_non_null(strstr(pneumo_last_error(), "dense/bias"));
    assert_int_equal(load_crafted(good, t, 3, "libpneumo"), PNEUMO_ERR_FORMAT);
    assert_non_null(strstr(pneumo_last_error(), "extra"));
    assert_int_equal(load_crafted(good, wrong_shape, 2, "libpneumo"), PNEUMO_ERR_FORMAT);
    assert_non_null(strstr(pneumo_last_error(), "(3, 4)"));
    assert_int_equal(load_crafted("not json", t, 2, "libpneumo"), PNEUMO_ERR_FORMAT);
    assert_int_equal(load_crafted("{\"format_version\":2,\"input_shape\":[1,1,4],\"layers\":[]}", t, 2,
                                  "libpneumo"),
                     PNEUMO_ERR_FORMAT);
    /* hostile: huge layers need far more weights than the file holds; refused
     * before any large allocation */
    assert_int_equal(
        load_crafted("{\"format_version\":1,\"input_shape\":[1,1,4096],\"layers\":["
                     "{\"class\":\"Dense\",\"name\":\"dense\",\"units\":4096,\"activation\":\"relu\"}]}",
                     t, 2, "libpneumo"),
        PNEUMO_ERR_FORMAT);
    assert_non_null(strstr(pneumo_last_error(), "parameters"));
    assert_int_not_equal(
        load_crafted("{\"format_version\":1,\"input_shape\":[16384,16384,4096],\"layers\":[]}", t, 2,
                     "libpneumo"),
        PNEUMO_OK);
    assert_int_equal(
        load_crafted("{\"format_version\":1,\"input_shape\":[1,1,4],\"layers\":["
                     "{\"class\":\"Dense\",\"name\":\"dense\",\"units\":3.5,\"activation\":\"relu\"}]}",
                     t, 2, "libpneumo"),
        PNEUMO_ERR_FORMAT);
    assert_int_equal(
        load_crafted("{\"format_version\":1,\"input_shape\":[1,1,4],\"layers\":["
                     "{\"class\":\"Dense\",\"name\":\"other\",\"units\":3,\"activation\":\"relu\"}]}",
                     t, 2, "libpneumo"),
        PNEUMO_ERR_FORMAT);
    assert_int_equal(
        load_crafted("{\"format_version\":1,\"input_shape\":[1,1,4],\"layers\":["
                     "{\"class\":\"Dense\",\"name\":\"dense\",\"units\":3,\"activation\":\"gelu\"}]}",
                     t, 2, "libpneumo"),
        PNEUMO_ERR_FORMAT);
    assert_int_equal(load_crafted("{\"format_version\":1,\"input_shape\":[1,1,4],\"layers\":["
                                  "{\"class\":\"Lambda\",\"name\":\"dense\"}]}",
                                  t, 2, "libpneumo"),
                     PNEUMO_ERR_FORMAT);
    assert_non_null(strstr(pneumo_last_error(), "Lambda"));
}

/* Threads split batches; a fixed thread count gives bit-identical training,
 * predictions never depend on it, and the gradients agree across counts to
 * rounding. */
static void train_with_threads(int threads, pneumo_model **out, float *pred)
{
    pneumo_model *m = small_model(21);
    pneumo_optimizer *o = NULL;
    pneumo_tensor *p = NULL;
    int64_t ps[2] = {7, 1};
    batch b = make_batch(7, 9, 7, 2, 33);
    assert_int_equal(pneumo_model_set_threads(m, threads), PNEUMO_OK);
    assert_int_equal(pneumo_model_threads(m), threads);
    assert_int_equal(pneumo_optimizer_create_adam(NULL, &o), PNEUMO_OK);
    train(m, o, &b, 4);
    assert_int_equal(pneumo_tensor_create(2, ps, &p), PNEUMO_OK);
    assert_int_equal(pneumo_model_predict(m, b.x, p), PNEUMO_OK);
    memcpy(pred, pneumo_tensor_data(p), 7 * sizeof(float));
    pneumo_tensor_destroy(p);
    pneumo_optimizer_destroy(o);
    free_batch(&b);
    *out = m;
}

static void test_threads_deterministic(void **state)
{
    pneumo_model *a = NULL, *b = NULL, *c = NULL;
    float pa[7], pb[7], pc[7];
    (void)state;
    train_with_threads(3, &a, pa);
    train_with_threads(3, &b, pb);
    assert_same_params(a, b);
    assert_memory_equal(pa, pb, sizeof pa);
    train_with_threads(1, &c, pc);
    for (int i = 0; i < 7; i++)
        assert_true(fabsf(pa[i] - pc[i]) < 1e-4f);
    /* inference alone is independent of the thread count */
    {
        pneumo_tensor *p1 = NULL;
        int64_t ps[2] = {7, 1};
        batch bt = make_batch(7, 9, 7, 2, 34);
        float first[7];
        assert_int_equal(pneumo_tensor_create(2, ps, &p1), PNEUMO_OK);
        assert_int_equal(pneumo_model_set_threads(c, 1), PNEUMO_OK);
        assert_int_equal(pneumo_model_predict(c, bt.x, p1), PNEUMO_OK);
        memcpy(first, pneumo_tensor_data(p1), sizeof first);
        assert_int_equal(pneumo_model_set_threads(c, 4), PNEUMO_OK);
        assert_int_equal(pneumo_model_predict(c, bt.x, p1), PNEUMO_OK);
        assert_memory_equal(first, pneumo_tensor_data(p1), sizeof first);
        pneumo_tensor_destroy(p1);
        free_batch(&bt);
    }
    /* one sample and several threads: the fused conv+pool rows are shared out */
    {
        pneumo_tensor *p1 = NULL;
        int64_t ps[2] = {1, 1};
        batch one = make_batch(1, 9, 7, 2, 35);
        float single;
        assert_int_equal(pneumo_tensor_create(2, ps, &p1), PNEUMO_OK);
        assert_int_equal(pneumo_model_set_threads(c, 1), PNEUMO_OK);
        assert_int_equal(pneumo_model_predict(c, one.x, p1), PNEUMO_OK);
        single = pneumo_tensor_data(p1)[0];
        assert_int_equal(pneumo_model_set_threads(c, 3), PNEUMO_OK);
        assert_int_equal(pneumo_model_predict(c, one.x, p1), PNEUMO_OK);
        assert_true(single == pneumo_tensor_data(p1)[0]);
        pneumo_tensor_destroy(p1);
        free_batch(&one);
    }
    /* the same on the article model, whose strips are many */
    {
        pneumo_model *art = NULL;
        pneumo_tensor *p1 = NULL, *x = NULL;
        int64_t ps[2] = {1, 1}, xs[4] = {1, 94, 94, 1};
        uint64_t rng = 5;
        float single;
        assert_int_equal(pneumo_model_create_article(94, 3, &art), PNEUMO_OK);
        assert_int_equal(pneumo_tensor_create(2, ps, &p1), PNEUMO_OK);
        assert_int_equal(pneumo_tensor_create(4, xs, &x), PNEUMO_OK);
        tu_fill(&rng, pneumo_tensor_data(x), 94 * 94, 0.0f, 1.0f);
        assert_int_equal(pneumo_model_set_threads(art, 1), PNEUMO_OK);
        assert_int_equal(pneumo_model_predict(art, x, p1), PNEUMO_OK);
        single = pneumo_tensor_data(p1)[0];
        assert_int_equal(pneumo_model_set_threads(art, 2), PNEUMO_OK);
        assert_int_equal(pneumo_model_predict(art, x, p1), PNEUMO_OK);
        assert_true(single == pneumo_tensor_data(p1)[0]);
        pneumo_tensor_destroy(p1);
        pneumo_tensor_destroy(x);
        pneumo_model_destroy(art);
    }
    assert_int_equal(pneumo_model_set_threads(c, 65), PNEUMO_ERR_INVALID_ARG);
    assert_int_equal(pneumo_model_set_threads(c, -1), PNEUMO_ERR_INVALID_ARG);
    pneumo_model_destroy(a);
    pneumo_model_destroy(b);
    pneumo_model_destroy(c);
}

/* Dense layers split their outputs / input rows between threads, each taking
 * the whole batch: their gradients are bit-identical for any thread count, and
 * a prediction is the same alone or in a batch (the first layer is large
 * enough to be split even for one sample). */
static void test_dense_split(void **state)
{
    const int n = 8, size = 48;
    pneumo_model *m = NULL;
    batch b = make_batch(n, size, size, 1, 41);
    pneumo_tensor *p = NULL, *one = NULL, *po = NULL;
    int64_t ps[2] = {n, 1}, xs[4] = {1, size, size, 1}, s1[2] = {1, 1};
    float *first[6] = {NULL}, batch_pred[8];
    (void)state;
    assert_int_equal(pneumo_model_create(size, size, 1, 17, &m), PNEUMO_OK);
    assert_int_equal(pneumo_model_add_flatten(m), PNEUMO_OK);
    assert_int_equal(pneumo_model_add_dense(m, 300, PNEUMO_ACT_RELU), PNEUMO_OK);
    assert_int_equal(pneumo_model_add_dense(m, 40, PNEUMO_ACT_TANH), PNEUMO_OK);
    assert_int_equal(pneumo_model_add_dense(m, 1, PNEUMO_ACT_SIGMOID), PNEUMO_OK);
    assert_int_equal(pneumo_model_num_param_tensors(m), 6);
    for (int threads = 1; threads <= 3; threads++) {
        assert_int_equal(pneumo_model_set_threads(m, threads), PNEUMO_OK);
        assert_int_equal(pneumo_model_compute_gradients(m, b.x, b.y, b.w, NULL), PNEUMO_OK);
        for (int32_t t = 0; t < 6; t++) {
            pneumo_tensor *g = NULL;
            assert_int_equal(pneumo_model_grad(m, t, &g), PNEUMO_OK);
            if (threads == 1) {
                first[t] = malloc((size_t)pneumo_tensor_numel(g) * sizeof(float));
                assert_non_null(first[t]);
                memcpy(first[t], pneumo_tensor_data(g), (size_t)pneumo_tensor_numel(g) * sizeof(float));
            } else {
                assert_memory_equal(first[t], pneumo_tensor_data(g),
                                    (size_t)pneumo_tensor_numel(g) * sizeof(float));
            }
            pneumo_tensor_destroy(g);
        }
    }
    assert_int_equal(pneumo_tensor_create(2, ps, &p), PNEUMO_OK);
    assert_int_equal(pneumo_tensor_create(4, xs, &one), PNEUMO_OK);
    assert_int_equal(pneumo_tensor_create(2, s1, &po), PNEUMO_OK);
    assert_int_equal(pneumo_model_predict(m, b.x, p), PNEUMO_OK);
    memcpy(batch_pred, pneumo_tensor_data(p), sizeof batch_pred);
    assert_int_equal(pneumo_model_set_threads(m, 1), PNEUMO_OK);
    assert_int_equal(pneumo_model_predict(m, b.x, p), PNEUMO_OK);
    assert_memory_equal(batch_pred, pneumo_tensor_data(p), sizeof batch_pred);
    assert_int_equal(pneumo_model_set_threads(m, 2), PNEUMO_OK);
    for (int i = 0; i < n; i++) {
        memcpy(pneumo_tensor_data(one), pneumo_tensor_data(b.x) + (size_t)i * size * size,
               (size_t)size * size * sizeof(float));
        assert_int_equal(pneumo_model_predict(m, one, po), PNEUMO_OK);
        assert_memory_equal(pneumo_tensor_data(po), batch_pred + i, sizeof(float));
    }
    for (int t = 0; t < 6; t++)
        free(first[t]);
    pneumo_tensor_destroy(p);
    pneumo_tensor_destroy(one);
    pneumo_tensor_destroy(po);
    pneumo_model_destroy(m);
    free_batch(&b);
}

/* The training settings a program records: saved and loaded with the card,
 * kept by a clone, "" for a model that has none, checked on the way in. */
static void test_training_settings(void **state)
{
    const char *dir = tu_tmpdir();
    char path[4200], big[PNEUMO_TRAINING_SETTINGS_MAX + 2];
    pneumo_model *a = small_model(3), *b = NULL, *c = NULL;
    (void)state;
    snprintf(path, sizeof path, "%s/settings.safetensors", dir);
    assert_string_equal(tu_training_settings(a), "");
    assert_int_equal(pneumo_model_training_settings(NULL, NULL, 0, NULL), PNEUMO_ERR_INVALID_ARG);
    assert_int_equal(pneumo_model_save(a, NULL, path), PNEUMO_OK);
    assert_int_equal(pneumo_model_load(path, &b, NULL), PNEUMO_OK);
    assert_string_equal(tu_training_settings(b), "");
    pneumo_model_destroy(b);
    assert_int_equal(pneumo_model_set_training_settings(a, "epochs=3\nname=\"q\\\"\tx\n"), PNEUMO_OK);
    assert_int_equal(pneumo_model_save(a, NULL, path), PNEUMO_OK);
    assert_int_equal(pneumo_model_load(path, &b, NULL), PNEUMO_OK);
    assert_string_equal(tu_training_settings(b), "epochs=3\nname=\"q\\\"\tx\n");
    assert_int_equal(pneumo_model_clone_inference(b, &c), PNEUMO_OK);
    assert_string_equal(tu_training_settings(c), "epochs=3\nname=\"q\\\"\tx\n");
    /* refused: NULL, a control character, one byte too many; the old text stays */
    assert_int_equal(pneumo_model_set_training_settings(NULL, "x"), PNEUMO_ERR_INVALID_ARG);
    assert_int_equal(pneumo_model_set_training_settings(b, NULL), PNEUMO_ERR_INVALID_ARG);
    assert_int_equal(pneumo_model_set_training_settings(b, "a\rb"), PNEUMO_ERR_INVALID_ARG);
    assert_non_null(strstr(pneumo_last_error(), "control character"));
    memset(big, 'x', sizeof big - 1);
    big[sizeof big - 1] = '\0';
    assert_int_equal(pneumo_model_set_training_settings(b, big), PNEUMO_ERR_INVALID_ARG);
    assert_non_null(strstr(pneumo_last_error(), "4096 bytes, more than the 4095 allowed"));
    big[PNEUMO_TRAINING_SETTINGS_MAX] = '\0';
    assert_int_equal(pneumo_model_set_training_settings(b, big), PNEUMO_OK);
    assert_int_equal(strlen(tu_training_settings(b)), PNEUMO_TRAINING_SETTINGS_MAX);
    assert_int_equal(pneumo_model_set_training_settings(b, ""), PNEUMO_OK);
    assert_string_equal(tu_training_settings(b), "");
    pneumo_model_destroy(c);
    pneumo_model_destroy(b);
    pneumo_model_destroy(a);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_article_summary),
        cmocka_unit_test(test_init_is_keras_glorot),
        cmocka_unit_test(test_misuse),
        cmocka_unit_test(test_save_load_round_trip),
        cmocka_unit_test(test_truncated_and_flipped_files_rejected),
        cmocka_unit_test(test_crafted_files_rejected),
        cmocka_unit_test(test_threads_deterministic),
        cmocka_unit_test(test_dense_split),
        cmocka_unit_test(test_training_settings),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
