/* The rules every public entry point follows (docs/abi.md): input structs
 * carry their size and zero reserved words, nested options are pointers with
 * NULL meaning the defaults, caller buffers come with their length. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pneumo/pneumo.h"
#include "testutil.h"

#define SIDE 16
#define PER_CLASS 6

static char root[4096];

static int setup(void **state)
{
    uint64_t rng = 99;
    const char *dir = tu_tmpdir();
    (void)state;
    if (!dir)
        return -1;
    snprintf(root, sizeof root, "%s", dir);
    tu_write_blob_split(root, "train", SIDE, PER_CLASS, &rng);
    return 0;
}

static int teardown(void **state)
{
    char cmd[4200];
    (void)state;
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", root);
    return system(cmd) == 0 ? 0 : -1;
}

/* `call` fails with INVALID_ARG and a message containing `what`. */
static void expect_invalid(pneumo_status st, const char *what)
{
    assert_int_equal(st, PNEUMO_ERR_INVALID_ARG);
    if (!strstr(pneumo_last_error(), what))
        fail_msg("message \"%s\" does not name \"%s\"", pneumo_last_error(), what);
}

static pneumo_dataset *open_train(const pneumo_dataset_options *o)
{
    pneumo_dataset *ds = NULL;
    char path[4200];
    snprintf(path, sizeof path, "%s/train", root);
    assert_int_equal(pneumo_dataset_open_dir(path, o, &ds), PNEUMO_OK);
    return ds;
}

static pneumo_dataset_options small_options(void)
{
    pneumo_dataset_options o;
    pneumo_dataset_default_options(&o);
    o.width = o.height = SIDE;
    o.shuffle = 0;
    o.threads = 1;
    return o;
}

static pneumo_model *small_model(void)
{
    pneumo_model *m = NULL;
    pneumo_conv2d_params c;
    assert_int_equal(pneumo_model_create(SIDE, SIDE, 1, 3, &m), PNEUMO_OK);
    pneumo_conv2d_default_params(&c);
    c.filters = 2;
    c.activation = PNEUMO_ACT_RELU;
    assert_int_equal(pneumo_model_add_conv2d(m, &c), PNEUMO_OK);
    assert_int_equal(pneumo_model_add_flatten(m), PNEUMO_OK);
    assert_int_equal(pneumo_model_add_dense(m, 1, PNEUMO_ACT_SIGMOID), PNEUMO_OK);
    return m;
}

/* Every default function sets the size field to the struct's size. */
static void test_defaults_set_size(void **state)
{
#define SIZE_SET(T, fill)                                                     \
    do {                                                                      \
        T s;                                                                  \
        memset(&s, 0xff, sizeof s);                                           \
        fill(&s);                                                             \
        assert_int_equal(s.size, sizeof(T));                                  \
        for (size_t i = 0; i < sizeof s.reserved / sizeof s.reserved[0]; i++) \
            assert_int_equal(s.reserved[i], 0);                               \
    } while (0)
    (void)state;
    SIZE_SET(pneumo_conv2d_params, pneumo_conv2d_default_params);
    SIZE_SET(pneumo_maxpool2d_params, pneumo_maxpool2d_default_params);
    SIZE_SET(pneumo_batchnorm_params, pneumo_batchnorm_default_params);
    SIZE_SET(pneumo_adam_params, pneumo_adam_default_params);
    SIZE_SET(pneumo_sgd_params, pneumo_sgd_default_params);
    SIZE_SET(pneumo_decode_limits, pneumo_decode_default_limits);
    SIZE_SET(pneumo_augment_options, pneumo_augment_default_options);
    SIZE_SET(pneumo_augment_options, pneumo_augment_article_options);
    SIZE_SET(pneumo_augment_params, pneumo_augment_identity_params);
    SIZE_SET(pneumo_dataset_options, pneumo_dataset_default_options);
    SIZE_SET(pneumo_early_stopping_params, pneumo_early_stopping_default_params);
    SIZE_SET(pneumo_reduce_lr_params, pneumo_reduce_lr_default_params);
    SIZE_SET(pneumo_fit_options, pneumo_fit_default_options);
    SIZE_SET(pneumo_data_parallel, pneumo_data_parallel_default);
    SIZE_SET(pneumo_gradcam_options, pneumo_gradcam_default_options);
    SIZE_SET(pneumo_overlay_options, pneumo_overlay_default_options);
    SIZE_SET(pneumo_onnx_options, pneumo_onnx_options_default);
    SIZE_SET(pneumo_preprocessing, pneumo_preprocessing_default);
    SIZE_SET(pneumo_provenance, pneumo_provenance_default);
    SIZE_SET(pneumo_ensemble_options, pneumo_ensemble_default_options);
#undef SIZE_SET
}

/* A wrong size (a struct from an older or newer header, or one never
 * initialised) and a non-zero reserved word are refused, naming the struct. */
static void test_size_and_reserved_checked(void **state)
{
    pneumo_model *m = small_model();
    pneumo_optimizer *opt = NULL;
    pneumo_image *img = NULL;
    pneumo_dataset *ds = NULL;
    const uint8_t png[] = {0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n'};
    (void)state;

    pneumo_ensemble_options eo;
    pneumo_ensemble_default_options(&eo);
    eo.size = sizeof eo + 4;
    expect_invalid(pneumo_ensemble_predict(&m, 1, &eo, NULL, NULL), "pneumo_ensemble_options.size");
    pneumo_ensemble_default_options(&eo);
    eo.reserved[7] = 1;
    expect_invalid(pneumo_ensemble_predict(&m, 1, &eo, NULL, NULL), "pneumo_ensemble_options.reserved[7]");

    pneumo_conv2d_params c;
    pneumo_conv2d_default_params(&c);
    c.filters = 2;
    c.size = sizeof c - 4;
    expect_invalid(pneumo_model_add_conv2d(m, &c), "pneumo_conv2d_params.size");
    pneumo_conv2d_default_params(&c);
    c.filters = 2;
    c.reserved[7] = 1;
    expect_invalid(pneumo_model_add_conv2d(m, &c), "pneumo_conv2d_params.reserved[7]");

    pneumo_maxpool2d_params mp;
    pneumo_maxpool2d_default_params(&mp);
    mp.size = 0;
    expect_invalid(pneumo_model_add_maxpool2d(m, &mp), "pneumo_maxpool2d_params.size");
    pneumo_maxpool2d_default_params(&mp);
    mp.reserved[0] = 5;
    expect_invalid(pneumo_model_add_maxpool2d(m, &mp), "pneumo_maxpool2d_params.reserved[0]");

    pneumo_batchnorm_params bp;
    pneumo_batchnorm_default_params(&bp);
    bp.size = sizeof bp - 4;
    expect_invalid(pneumo_model_add_batchnorm(m, &bp), "pneumo_batchnorm_params.size");
    pneumo_batchnorm_default_params(&bp);
    bp.reserved[7] = 2;
    expect_invalid(pneumo_model_add_batchnorm(m, &bp), "pneumo_batchnorm_params.reserved[7]");

    pneumo_adam_params ap;
    pneumo_adam_default_params(&ap);
    ap.size = sizeof ap + 8;
    expect_invalid(pneumo_optimizer_create_adam(&ap, &opt), "pneumo_adam_params.size");
    assert_null(opt);
    pneumo_adam_default_params(&ap);
    ap.reserved[3] = 1;
    expect_invalid(pneumo_optimizer_create_adam(&ap, &opt), "pneumo_adam_params.reserved[3]");
    pneumo_sgd_params sp;
    pneumo_sgd_default_params(&sp);
    sp.size = 1;
    expect_invalid(pneumo_optimizer_create_sgd(&sp, &opt), "pneumo_sgd_params.size");
    pneumo_sgd_default_params(&sp);
    sp.reserved[1] = 1;
    expect_invalid(pneumo_optimizer_create_sgd(&sp, &opt), "pneumo_sgd_params.reserved[1]");

    pneumo_decode_limits lim;
    pneumo_decode_default_limits(&lim);
    lim.size = 0;
    expect_invalid(pneumo_image_decode(png, sizeof png, NULL, &lim, &img), "pneumo_decode_limits.size");
    pneumo_decode_default_limits(&lim);
    lim.reserved[5] = 1;
    expect_invalid(pneumo_image_decode(png, sizeof png, NULL, &lim, &img),
                   "pneumo_decode_limits.reserved[5]");

    pneumo_augment_options ao;
    pneumo_augment_params pa;
    uint8_t src[4] = {0};
    float dst[4];
    pneumo_augment_default_options(&ao);
    pneumo_augment_identity_params(&pa);
    ao.size = 8;
    expect_invalid(pneumo_augment_validate_options(&ao), "pneumo_augment_options.size");
    expect_invalid(pneumo_augment_draw(&ao, 0, 0, 0, 2, 2, &pa), "pneumo_augment_options.size");
    pneumo_augment_default_options(&ao);
    ao.reserved[2] = 1;
    expect_invalid(pneumo_augment_apply(&ao, &pa, src, 4, 2, 2, dst, 4),
                   "pneumo_augment_options.reserved[2]");
    pneumo_augment_default_options(&ao);
    pa.size = 0;
    expect_invalid(pneumo_augment_apply(&ao, &pa, src, 4, 2, 2, dst, 4), "pneumo_augment_params.size");
    pneumo_augment_identity_params(&pa);
    pa.reserved[2] = 1;
    expect_invalid(pneumo_augment_apply(&ao, &pa, src, 4, 2, 2, dst, 4), "pneumo_augment_params.reserved[2]");

    pneumo_dataset_options dso = small_options();
    char path[4200];
    snprintf(path, sizeof path, "%s/train", root);
    dso.size = sizeof dso - 8;
    expect_invalid(pneumo_dataset_open_dir(path, &dso, &ds), "pneumo_dataset_options.size");
    assert_null(ds);
    dso = small_options();
    pneumo_augment_default_options(&ao);
    ao.size = 0;
    dso.augment_options = &ao;
    expect_invalid(pneumo_dataset_open_dir(path, &dso, &ds), "pneumo_augment_options.size");
    dso = small_options();
    pneumo_decode_default_limits(&lim);
    lim.reserved[0] = 1;
    dso.limits = &lim;
    expect_invalid(pneumo_dataset_open_dir(path, &dso, &ds), "pneumo_decode_limits.reserved[0]");

    pneumo_fit_options fo;
    pneumo_early_stopping_params es;
    pneumo_reduce_lr_params rl;
    assert_int_equal(pneumo_optimizer_create_adam(NULL, &opt), PNEUMO_OK);
    dso = small_options();
    ds = open_train(&dso);
    pneumo_fit_default_options(&fo);
    fo.epochs = 1;
    fo.size = 4;
    expect_invalid(pneumo_model_fit(m, opt, ds, NULL, &fo, NULL), "pneumo_fit_options.size");
    pneumo_fit_default_options(&fo);
    fo.reserved[3] = 1;
    expect_invalid(pneumo_model_fit(m, opt, ds, NULL, &fo, NULL), "pneumo_fit_options.reserved[3]");
    pneumo_fit_default_options(&fo);
    pneumo_early_stopping_default_params(&es);
    es.size = 0;
    fo.early_stopping = &es;
    expect_invalid(pneumo_model_fit(m, opt, ds, NULL, &fo, NULL), "pneumo_early_stopping_params.size");
    pneumo_fit_default_options(&fo);
    pneumo_reduce_lr_default_params(&rl);
    rl.reserved[7] = 1;
    fo.reduce_lr = &rl;
    expect_invalid(pneumo_model_fit(m, opt, ds, NULL, &fo, NULL), "pneumo_reduce_lr_params.reserved[7]");
    {
        pneumo_model *rm = m;
        pneumo_optimizer *ro = opt;
        expect_invalid(pneumo_model_fit_resume("unused.safetensors", ds, NULL, &fo, &rm, &ro, NULL),
                       "pneumo_reduce_lr_params.reserved[7]");
        assert_null(rm);
        assert_null(ro);
    }
    pneumo_optimizer_destroy(opt);
    pneumo_model_destroy(m);
    pneumo_dataset_destroy(ds);

    /* a result struct passed back in as input: its reserved words are checked too */
    pneumo_report *r = NULL;
    pneumo_evaluation ev;
    assert_int_equal(pneumo_report_create(NULL, &r), PNEUMO_OK);
    memset(&ev, 0, sizeof ev);
    ev.reserved[5] = 1;
    expect_invalid(pneumo_report_add_evaluation(r, "x", &ev, NULL, NULL, 0, NULL),
                   "pneumo_evaluation.reserved[5]");
    ev.reserved[5] = 0;
    assert_int_equal(pneumo_report_add_evaluation(r, "x", &ev, NULL, NULL, 0, NULL), PNEUMO_OK);
    pneumo_report_destroy(r);
}

/* NULL nested options are the defaults: the same batches and the same fit as
 * the default structs passed explicitly. */
static void test_null_nested_options_are_defaults(void **state)
{
    pneumo_dataset_options a = small_options(), b = small_options();
    pneumo_augment_options ao;
    pneumo_decode_limits lim;
    pneumo_dataset *da, *db;
    pneumo_tensor *xa, *ya, *xb, *yb;
    (void)state;
    pneumo_augment_default_options(&ao);
    pneumo_decode_default_limits(&lim);
    b.augment_options = &ao;
    b.limits = &lim;
    da = open_train(&a);
    db = open_train(&b);
    assert_int_equal(pneumo_dataset_begin_epoch(da, 0, 4), PNEUMO_OK);
    assert_int_equal(pneumo_dataset_begin_epoch(db, 0, 4), PNEUMO_OK);
    assert_int_equal(pneumo_dataset_next_batch(da, &xa, &ya, NULL), PNEUMO_OK);
    assert_int_equal(pneumo_dataset_next_batch(db, &xb, &yb, NULL), PNEUMO_OK);
    assert_int_equal(pneumo_tensor_numel(xa), 4 * SIDE * SIDE);
    assert_memory_equal(pneumo_tensor_data_const(xa), pneumo_tensor_data_const(xb),
                        sizeof(float) * 4 * SIDE * SIDE);
    assert_true(pneumo_tensor_data_const(xa)[0] >= 0.0f && pneumo_tensor_data_const(xa)[0] <= 1.0f);

    /* the same fit with NULL callbacks and with their default structs */
    pneumo_fit_options fo;
    pneumo_early_stopping_params es;
    pneumo_reduce_lr_params rl;
    pneumo_history *ha = NULL, *hb = NULL;
    pneumo_epoch_record ra, rb;
    pneumo_model *ma = small_model(), *mb = small_model();
    pneumo_optimizer *oa = NULL, *ob = NULL;
    assert_int_equal(pneumo_optimizer_create_adam(NULL, &oa), PNEUMO_OK);
    assert_int_equal(pneumo_optimizer_create_adam(NULL, &ob), PNEUMO_OK);
    pneumo_fit_default_options(&fo);
    fo.epochs = 2;
    fo.batch_size = 4;
    fo.threads = 1;
    assert_null(fo.early_stopping);
    assert_null(fo.reduce_lr);
    assert_int_equal(pneumo_model_fit(ma, oa, da, NULL, &fo, &ha), PNEUMO_OK);
    pneumo_early_stopping_default_params(&es);
    pneumo_reduce_lr_default_params(&rl);
    fo.early_stopping = &es;
    fo.reduce_lr = &rl;
    assert_int_equal(pneumo_model_fit(mb, ob, db, NULL, &fo, &hb), PNEUMO_OK);
    assert_int_equal(pneumo_history_size(ha), 2);
    assert_int_equal(pneumo_history_size(hb), 2);
    assert_int_equal(pneumo_history_get(ha, 1, &ra), PNEUMO_OK);
    assert_int_equal(pneumo_history_get(hb, 1, &rb), PNEUMO_OK);
    assert_true(isfinite(ra.loss) && ra.loss > 0.0);
    assert_true(ra.loss == rb.loss && ra.accuracy == rb.accuracy && ra.lr == rb.lr);
    pneumo_history_destroy(ha);
    pneumo_history_destroy(hb);
    pneumo_optimizer_destroy(oa);
    pneumo_optimizer_destroy(ob);
    pneumo_model_destroy(ma);
    pneumo_model_destroy(mb);
    pneumo_dataset_destroy(da);
    pneumo_dataset_destroy(db);
}

/* A caller buffer shorter than what would be written is refused before
 * anything is written, naming the buffer and the length needed. */
static void test_buffer_lengths_checked(void **state)
{
    pneumo_dataset_options o = small_options();
    pneumo_dataset *ds = open_train(&o);
    pneumo_model *m = small_model();
    pneumo_evaluation ev;
    pneumo_augment_options ao;
    pneumo_augment_params pa;
    pneumo_tensor *t = NULL;
    const int64_t n = pneumo_dataset_size(ds);
    float probs[2 * PER_CLASS], labels[2 * PER_CLASS], sample[SIDE * SIDE];
    uint8_t src[SIDE * SIDE] = {0};
    int64_t shape[2] = {3, 4};
    char msg[64];
    (void)state;
    assert_int_equal(n, 2 * PER_CLASS);

    snprintf(msg, sizeof msg, "probs holds %d values, %d are needed", 2 * PER_CLASS - 1, 2 * PER_CLASS);
    expect_invalid(pneumo_model_evaluate(m, ds, 4, 0.5f, &ev, probs, NULL, (size_t)n - 1), msg);
    snprintf(msg, sizeof msg, "labels holds 3 values, %d are needed", 2 * PER_CLASS);
    expect_invalid(pneumo_model_evaluate(m, ds, 4, 0.5f, &ev, NULL, labels, 3), msg);
    assert_int_equal(pneumo_model_evaluate(m, ds, 4, 0.5f, &ev, probs, labels, (size_t)n), PNEUMO_OK);
    assert_int_equal(ev.count, n);
    assert_true(labels[0] == 0.0f && labels[n - 1] == 1.0f);
    assert_int_equal(pneumo_model_evaluate(m, ds, 4, 0.5f, &ev, NULL, NULL, 0), PNEUMO_OK);

    snprintf(msg, sizeof msg, "dst holds %d values, %d are needed", SIDE * SIDE - 1, SIDE * SIDE);
    sample[0] = -1.0f;
    expect_invalid(pneumo_dataset_load_sample(ds, 0, sample, SIDE * SIDE - 1), msg);
    assert_true(sample[0] == -1.0f);
    assert_int_equal(pneumo_dataset_load_sample(ds, 0, sample, SIDE * SIDE), PNEUMO_OK);
    assert_true(sample[0] >= 0.0f && sample[0] <= 1.0f);

    pneumo_augment_default_options(&ao);
    pneumo_augment_identity_params(&pa);
    sample[0] = -1.0f;
    expect_invalid(pneumo_augment_apply(&ao, &pa, src, 10, 4, 4, sample, 16), "src holds 10 values, 16");
    expect_invalid(pneumo_augment_apply(&ao, &pa, src, 16, 4, 4, sample, 15), "dst holds 15 values, 16");
    expect_invalid(pneumo_augment_image(&ao, 1, 0, 0, src, 16, 4, 4, sample, 2, NULL), "dst holds 2");
    assert_true(sample[0] == -1.0f);
    assert_int_equal(pneumo_augment_apply(&ao, &pa, src, 16, 4, 4, sample, 16), PNEUMO_OK);
    assert_true(sample[0] == 0.0f);

    expect_invalid(pneumo_tensor_wrap(2, shape, probs, 11, &t), "data holds 11 values, 12 are needed");
    assert_null(t);
    assert_int_equal(pneumo_tensor_wrap(2, shape, probs, 12, &t), PNEUMO_OK);
    {
        int64_t got[PNEUMO_MAX_DIMS] = {0};
        assert_int_equal(pneumo_tensor_shape(t, got, 1), 0);
        assert_int_equal(got[0], 0);
        assert_int_equal(pneumo_tensor_shape(t, got, 2), 2);
        assert_int_equal(got[0], 3);
        assert_int_equal(got[1], 4);
    }
    pneumo_tensor_destroy(t);
    pneumo_model_destroy(m);
    pneumo_dataset_destroy(ds);
}

/* Collects what the library writes; fails with `fail_with` from call number
 * `fail_at` (0-based) on. */
typedef struct sink {
    char text[8192];
    size_t len;
    int calls, fail_at;
    pneumo_status fail_with;
} sink;

static pneumo_status sink_write(void *user, const void *data, size_t size)
{
    sink *k = user;
    if (k->fail_at >= 0 && k->calls >= k->fail_at) {
        k->calls++;
        return k->fail_with;
    }
    k->calls++;
    assert_true(k->len + size < sizeof k->text);
    memcpy(k->text + k->len, data, size);
    k->len += size;
    k->text[k->len] = '\0';
    return PNEUMO_OK;
}

/* Text goes to write callbacks, and a callback's failure is the call's. */
static void test_write_callbacks(void **state)
{
    pneumo_model *m = small_model();
    sink k = {.fail_at = -1};
    char want[8192];
    size_t needed = 0;
    (void)state;
    assert_int_equal(pneumo_model_summary(m, sink_write, &k), PNEUMO_OK);
    assert_int_equal(k.calls, 1);
    assert_int_equal(pneumo_model_summary_string(m, want, sizeof want, &needed), PNEUMO_OK);
    assert_int_equal(k.len, needed);
    assert_string_equal(k.text, want);
    assert_non_null(strstr(k.text, "Total params: "));
    memset(&k, 0, sizeof k);
    k.fail_with = PNEUMO_ERR_IO;
    expect_invalid(pneumo_model_summary(m, NULL, &k), "write");
    assert_int_equal(pneumo_model_summary(m, sink_write, &k), PNEUMO_ERR_IO);
    assert_non_null(strstr(pneumo_last_error(), "write callback failed"));

    /* fit's progress: the text of every epoch, then a failing callback stops it */
    pneumo_dataset_options o = small_options();
    pneumo_dataset *ds = open_train(&o);
    pneumo_optimizer *opt = NULL;
    pneumo_history *h = NULL;
    pneumo_fit_options fo;
    assert_int_equal(pneumo_optimizer_create_adam(NULL, &opt), PNEUMO_OK);
    pneumo_fit_default_options(&fo);
    fo.epochs = 2;
    fo.batch_size = 4;
    fo.progress = sink_write;
    fo.progress_user = &k;
    memset(&k, 0, sizeof k);
    k.fail_at = -1;
    assert_int_equal(pneumo_model_fit(m, opt, ds, NULL, &fo, &h), PNEUMO_OK);
    assert_non_null(strstr(k.text, "Epoch 1/2\n"));
    assert_non_null(strstr(k.text, "Epoch 2/2\n"));
    assert_non_null(strstr(k.text, "3/3 [==============================]"));
    assert_int_equal(k.calls, 4); /* begin and end of each epoch */
    pneumo_history_destroy(h);
    h = NULL;
    memset(&k, 0, sizeof k);
    k.fail_at = 1; /* the first epoch's closing line */
    k.fail_with = PNEUMO_ERR_CANCELLED;
    fo.epochs = 4;
    assert_int_equal(pneumo_model_fit(m, opt, ds, NULL, &fo, &h), PNEUMO_ERR_CANCELLED);
    assert_non_null(strstr(pneumo_last_error(), "progress write callback failed"));
    assert_int_equal(pneumo_history_size(h), 1);
    assert_int_equal(k.calls, 2);
    pneumo_history_destroy(h);
    h = NULL;
    memset(&k, 0, sizeof k);
    k.fail_at = 0; /* with a bar: the first line fails */
    k.fail_with = PNEUMO_ERR_IO;
    fo.progress_bar = 1;
    assert_int_equal(pneumo_model_fit(m, opt, ds, NULL, &fo, &h), PNEUMO_ERR_IO);
    assert_int_equal(pneumo_history_size(h), 0);
    assert_int_equal(k.calls, 1);
    pneumo_history_destroy(h);
    pneumo_optimizer_destroy(opt);
    pneumo_dataset_destroy(ds);
    pneumo_model_destroy(m);
}

/* The limits pneumo_model_create() documents: sides up to 16384, channels up
 * to 65536, at most 2^28 values per sample. */
static void test_model_limits_as_documented(void **state)
{
    pneumo_model *m = NULL;
    (void)state;
    assert_int_equal(pneumo_model_create(1, 1, 65536, 0, &m), PNEUMO_OK);
    assert_int_equal(pneumo_model_num_layers(m), 0);
    pneumo_model_destroy(m);
    m = NULL;
    assert_int_equal(pneumo_model_create(1, 1, 65537, 0, &m), PNEUMO_ERR_LIMIT);
    assert_non_null(strstr(pneumo_last_error(), "channels 65536"));
    assert_null(m);
    assert_int_equal(pneumo_model_create(16384, 1, 1, 0, &m), PNEUMO_OK);
    pneumo_model_destroy(m);
    m = NULL;
    assert_int_equal(pneumo_model_create(16385, 1, 1, 0, &m), PNEUMO_ERR_LIMIT);
    assert_int_equal(pneumo_model_create(16384, 16384, 1, 0, &m), PNEUMO_OK);
    pneumo_model_destroy(m);
    m = NULL;
    assert_int_equal(pneumo_model_create(16384, 16384, 2, 0, &m), PNEUMO_ERR_LIMIT);
    assert_null(m);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_defaults_set_size),
        cmocka_unit_test(test_size_and_reserved_checked),
        cmocka_unit_test(test_null_nested_options_are_defaults),
        cmocka_unit_test(test_buffer_lengths_checked),
        cmocka_unit_test(test_write_callbacks),
        cmocka_unit_test(test_model_limits_as_documented),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
