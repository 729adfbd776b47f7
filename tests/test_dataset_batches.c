/* Dataset batches: sizes, labels and pixels, the batch iterator's state,
 * determinism of shuffle and augmentation across thread counts, cache on/off,
 * cancelling and destroying mid-epoch, files changed after opening, and the
 * shared chest X-ray folders. */
#define _XOPEN_SOURCE 700 /* nftw */
#include <errno.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <jpeglib.h>
#include <png.h>

#include "testutil.h"

#include "pneumo/pneumo.h"
#include "data/dataset_internal.h"
#include "core/tensor.h"

#include "dataset_fixtures.h"

/* Everything an epoch yields, concatenated. */
typedef struct epoch_data {
    float *x;
    float *y;
    int64_t *idx;
    int64_t n;
    int64_t batches;
    int32_t sizes[64];
} epoch_data;

static epoch_data run_epoch(pneumo_dataset *ds, int64_t epoch, int32_t bs)
{
    epoch_data e = {0};
    int64_t n = pneumo_dataset_size(ds);
    size_t px = 0;
    assert_int_equal(pneumo_dataset_begin_epoch(ds, epoch, bs), PNEUMO_OK);
    for (;;) {
        pneumo_tensor *x, *y;
        const int64_t *idx;
        int64_t b;
        pneumo_status st = pneumo_dataset_next_batch(ds, &x, &y, &idx);
        if (st != PNEUMO_OK)
            fail_msg("next_batch: %s", pneumo_last_error());
        if (!x) {
            assert_null(y);
            assert_null(idx);
            break;
        }
        b = pneumo_tensor_dim(x, 0);
        assert_int_equal(pneumo_tensor_ndim(x), 4);
        assert_int_equal(pneumo_tensor_dim(x, 3), 1);
        assert_int_equal(pneumo_tensor_ndim(y), 1);
        assert_int_equal(pneumo_tensor_dim(y, 0), b);
        if (!e.x) {
            px = (size_t)(pneumo_tensor_dim(x, 1) * pneumo_tensor_dim(x, 2));
            e.x = malloc((size_t)n * px * sizeof(float));
            e.y = malloc((size_t)n * sizeof(float));
            e.idx = malloc((size_t)n * sizeof(int64_t));
            assert_true(e.x && e.y && e.idx);
        }
        assert_true(e.n + b <= n);
        memcpy(e.x + (size_t)e.n * px, pneumo_tensor_data(x), (size_t)b * px * sizeof(float));
        memcpy(e.y + e.n, pneumo_tensor_data(y), (size_t)b * sizeof(float));
        memcpy(e.idx + e.n, idx, (size_t)b * sizeof(int64_t));
        if (e.batches < 64)
            e.sizes[e.batches] = (int32_t)b;
        e.batches++;
        e.n += b;
    }
    assert_int_equal(e.n, n);
    /* End of the epoch stays the end. */
    {
        pneumo_tensor *x = (pneumo_tensor *)1, *y = (pneumo_tensor *)1;
        assert_int_equal(pneumo_dataset_next_batch(ds, &x, &y, NULL), PNEUMO_OK);
        assert_null(x);
        assert_null(y);
    }
    return e;
}

static void epoch_free(epoch_data *e)
{
    free(e->x);
    free(e->y);
    free(e->idx);
}

static void expect_same_epoch(const epoch_data *a, const epoch_data *b, size_t px)
{
    assert_int_equal(a->n, b->n);
    assert_memory_equal(a->idx, b->idx, (size_t)a->n * sizeof(int64_t));
    assert_memory_equal(a->y, b->y, (size_t)a->n * sizeof(float));
    assert_memory_equal(a->x, b->x, (size_t)a->n * px * sizeof(float));
}

/* Every batch value equals the decoded, resized image times (float)(1/255). */
static void test_batches_and_pixels(void **state)
{
    char root[4096];
    const int W = 9, H = 6;
    pneumo_dataset_options o = small_opts(W, H, 2);
    pneumo_dataset *ds;
    epoch_data e;
    float *sample = malloc((size_t)W * H * sizeof(float));
    (void)state;
    assert_non_null(sample);
    new_tmp(root);
    make_dataset(root, 6); /* 12 images */
    o.resample = PNEUMO_RESAMPLE_BILINEAR;
    assert_int_equal(pneumo_dataset_open_dir(root, &o, &ds), PNEUMO_OK);
    assert_int_equal(pneumo_dataset_size(ds), 12);
    assert_int_equal(pneumo_dataset_num_batches(ds, 5), 3);
    assert_int_equal(pneumo_dataset_num_batches(ds, 12), 1);
    assert_int_equal(pneumo_dataset_num_batches(ds, 100), 1);
    assert_int_equal(pneumo_dataset_num_batches(ds, 0), 0);

    e = run_epoch(ds, 0, 5);
    assert_int_equal(e.batches, 3);
    assert_int_equal(e.sizes[0], 5);
    assert_int_equal(e.sizes[1], 5);
    assert_int_equal(e.sizes[2], 2);
    for (int64_t i = 0; i < e.n; i++) {
        pneumo_image *img, *rs;
        const uint8_t *px;
        int64_t idx = e.idx[i];
        assert_int_equal(idx, i); /* no shuffle: dataset order */
        assert_true(e.y[i] == (float)pneumo_dataset_label(ds, idx));
        assert_int_equal(pneumo_image_load(tu_ds_path(ds, idx), NULL, &img), PNEUMO_OK);
        assert_int_equal(pneumo_image_resize(img, W, H, PNEUMO_RESAMPLE_BILINEAR, &rs), PNEUMO_OK);
        px = pneumo_image_pixels(rs);
        assert_int_equal(pneumo_dataset_load_sample(ds, idx, sample, (size_t)W * H), PNEUMO_OK);
        for (int k = 0; k < W * H; k++) {
            float want = (float)px[k] * (float)(1.0 / 255.0);
            if (e.x[(size_t)i * W * H + (size_t)k] != want || sample[k] != want)
                fail_msg("image %lld pixel %d: batch %g sample %g expected %g", (long long)idx, k,
                         (double)e.x[(size_t)i * W * H + (size_t)k], (double)sample[k], (double)want);
        }
        pneumo_image_destroy(img);
        pneumo_image_destroy(rs);
    }
    epoch_free(&e);
    /* Labels: 6 Normal then 6 Opacity. */
    for (int64_t i = 0; i < 12; i++)
        assert_int_equal(pneumo_dataset_label(ds, i), i < 6 ? 0 : 1);
    /* A batch larger than the dataset gives one partial batch. */
    e = run_epoch(ds, 0, 64);
    assert_int_equal(e.batches, 1);
    assert_int_equal(e.sizes[0], 12);
    epoch_free(&e);
    /* Argument errors. */
    expect_error(pneumo_dataset_begin_epoch(ds, -1, 4), PNEUMO_ERR_INVALID_ARG, "epoch");
    expect_error(pneumo_dataset_begin_epoch(ds, 0, 0), PNEUMO_ERR_INVALID_ARG, "batch_size");
    expect_error(pneumo_dataset_load_sample(ds, 12, sample, (size_t)W * H), PNEUMO_ERR_INVALID_ARG, "index");
    expect_error(pneumo_dataset_load_sample(ds, 0, NULL, 0), PNEUMO_ERR_INVALID_ARG, "dst");
    pneumo_dataset_destroy(ds);
    free(sample);
    rm_rf(root);
}

static void test_next_batch_state(void **state)
{
    char root[4096];
    pneumo_dataset_options o = small_opts(5, 5, 2);
    pneumo_dataset *ds;
    pneumo_tensor *x, *y;
    (void)state;
    new_tmp(root);
    make_dataset(root, 3);
    assert_int_equal(pneumo_dataset_open_dir(root, &o, &ds), PNEUMO_OK);
    expect_error(pneumo_dataset_next_batch(ds, &x, &y, NULL), PNEUMO_ERR_STATE, "begin_epoch");
    expect_error(pneumo_dataset_next_batch(ds, NULL, &y, NULL), PNEUMO_ERR_INVALID_ARG, "x");
    expect_error(pneumo_dataset_next_batch(NULL, &x, &y, NULL), PNEUMO_ERR_INVALID_ARG, "ds");
    pneumo_dataset_destroy(ds);
    rm_rf(root);
}

static void open_dir_ok(const char *root, const pneumo_dataset_options *o, pneumo_dataset **ds)
{
    if (pneumo_dataset_open_dir(root, o, ds) != PNEUMO_OK)
        fail_msg("open %s: %s", root, pneumo_last_error());
}

/* Shuffled order: a permutation, the same for 1 and 3 threads and any
 * prefetch depth, different between epochs and seeds. */
static void test_shuffle_determinism(void **state)
{
    char root[4096];
    const int W = 8, H = 7;
    pneumo_dataset_options o1 = small_opts(W, H, 1), o3 = small_opts(W, H, 3);
    pneumo_dataset *d1, *d3, *d5;
    epoch_data a0, b0, a1, b1, c0, a0bis;
    int same = 1;
    (void)state;
    new_tmp(root);
    make_dataset(root, 10); /* 20 images */
    o1.shuffle = o3.shuffle = 1;
    o1.seed = o3.seed = 1234;
    o1.prefetch_batches = 0;
    o3.prefetch_batches = 3;
    open_dir_ok(root, &o1, &d1);
    open_dir_ok(root, &o3, &d3);
    a0 = run_epoch(d1, 0, 3);
    b0 = run_epoch(d3, 0, 3);
    expect_same_epoch(&a0, &b0, (size_t)W * H);
    a1 = run_epoch(d1, 1, 3);
    b1 = run_epoch(d3, 1, 3);
    expect_same_epoch(&a1, &b1, (size_t)W * H);
    a0bis = run_epoch(d1, 0, 3);
    expect_same_epoch(&a0, &a0bis, (size_t)W * H);
    {
        int seen[20] = {0}, identity = 1;
        for (int i = 0; i < 20; i++) {
            assert_true(a0.idx[i] >= 0 && a0.idx[i] < 20);
            seen[a0.idx[i]]++;
            if (a0.idx[i] != i)
                identity = 0;
            assert_true(a0.y[i] == (float)pneumo_dataset_label(d1, a0.idx[i]));
        }
        for (int i = 0; i < 20; i++)
            assert_int_equal(seen[i], 1);
        assert_false(identity);
    }
    for (int i = 0; i < 20; i++)
        if (a0.idx[i] != a1.idx[i])
            same = 0;
    assert_false(same); /* a new order each epoch */
    /* Another seed gives another order. */
    o1.seed = 99;
    open_dir_ok(root, &o1, &d5);
    c0 = run_epoch(d5, 0, 3);
    same = 1;
    for (int i = 0; i < 20; i++)
        if (a0.idx[i] != c0.idx[i])
            same = 0;
    assert_false(same);
    epoch_free(&a0);
    epoch_free(&b0);
    epoch_free(&a1);
    epoch_free(&b1);
    epoch_free(&c0);
    epoch_free(&a0bis);
    pneumo_dataset_destroy(d1);
    pneumo_dataset_destroy(d3);
    pneumo_dataset_destroy(d5);
    rm_rf(root);
}

/* Augmented batches: identical for 1 and 3 threads and with or without the
 * cache (full, partial, none); different from the plain images. */
static void test_augment_threads_and_cache(void **state)
{
    char root[4096];
    pneumo_augment_options aug;
    const int W = 16, H = 12;
    pneumo_dataset_options o = small_opts(W, H, 1);
    pneumo_dataset *d[4];
    epoch_data e[4], plain;
    int differs = 0;
    (void)state;
    new_tmp(root);
    make_dataset(root, 7); /* 14 images */
    o.augment = 1;
    pneumo_augment_article_options(&aug);
    aug.rotation_range = 10; /* make every image change */
    o.augment_options = &aug;
    o.shuffle = 1;
    o.seed = 7;
    open_dir_ok(root, &o, &d[0]); /* 1 thread, cached */
    o.threads = 3;
    open_dir_ok(root, &o, &d[1]); /* 3 threads, cached */
    o.cache_bytes = 0;
    open_dir_ok(root, &o, &d[2]); /* 3 threads, no cache */
    o.cache_bytes = 5 * W * H;    /* 5 of 14 images cached */
    o.threads = 2;
    open_dir_ok(root, &o, &d[3]);
    assert_int_equal(d[3]->cache_cap, 5);
    assert_int_equal(d[2]->cache_cap, 0);
    assert_int_equal(d[0]->cache_cap, 14);
    for (int epoch = 0; epoch < 2; epoch++) {
        for (int i = 0; i < 4; i++)
            e[i] = run_epoch(d[i], epoch, 4);
        for (int i = 1; i < 4; i++)
            expect_same_epoch(&e[0], &e[i], (size_t)W * H);
        for (int i = 0; i < 4; i++)
            epoch_free(&e[i]);
    }
    /* Without augmentation the same order gives other pixels. */
    {
        pneumo_dataset *p;
        o.augment = 0;
        o.threads = 2;
        o.cache_bytes = (int64_t)1 << 20;
        open_dir_ok(root, &o, &p);
        plain = run_epoch(p, 0, 4);
        e[0] = run_epoch(d[0], 0, 4);
        assert_memory_equal(plain.idx, e[0].idx, 14 * sizeof(int64_t));
        for (size_t k = 0; k < (size_t)14 * W * H; k++)
            if (plain.x[k] != e[0].x[k])
                differs = 1;
        assert_true(differs);
        epoch_free(&plain);
        epoch_free(&e[0]);
        pneumo_dataset_destroy(p);
    }
    for (int i = 0; i < 4; i++)
        pneumo_dataset_destroy(d[i]);
    rm_rf(root);
}

/* Contrast, gamma and crops: the same batches for 1 and 3 threads. */
static void test_intensity_crop_threads(void **state)
{
    char root[4096];
    pneumo_augment_options aug;
    const int W = 16, H = 12;
    pneumo_dataset_options o = small_opts(W, H, 1);
    pneumo_dataset *d[2];
    epoch_data e[2];
    (void)state;
    new_tmp(root);
    make_dataset(root, 7);
    o.augment = 1;
    pneumo_augment_default_options(&aug);
    aug.contrast_lo = 0.5f;
    aug.contrast_hi = 1.5f;
    aug.gamma_lo = 0.7f;
    aug.gamma_hi = 1.4f;
    aug.crop_lo = 0.6f;
    o.augment_options = &aug;
    o.shuffle = 1;
    o.seed = 3;
    open_dir_ok(root, &o, &d[0]);
    o.threads = 3;
    open_dir_ok(root, &o, &d[1]);
    for (int epoch = 0; epoch < 2; epoch++) {
        for (int i = 0; i < 2; i++)
            e[i] = run_epoch(d[i], epoch, 4);
        expect_same_epoch(&e[0], &e[1], (size_t)W * H);
        for (int i = 0; i < 2; i++)
            epoch_free(&e[i]);
    }
    for (int i = 0; i < 2; i++)
        pneumo_dataset_destroy(d[i]);
    rm_rf(root);
}

/* begin_epoch in the middle of an epoch cancels it; destroy mid-epoch neither
 * hangs nor leaks. */
static void test_cancel_and_destroy_mid_epoch(void **state)
{
    char root[4096];
    pneumo_augment_options aug;
    const int W = 32, H = 32;
    pneumo_dataset_options o = small_opts(W, H, 3);
    pneumo_dataset *ds, *ref;
    pneumo_tensor *x, *y;
    epoch_data full, again;
    (void)state;
    new_tmp(root);
    make_dataset(root, 12); /* 24 images */
    o.augment = 1;
    pneumo_augment_article_options(&aug);
    o.augment_options = &aug;
    o.shuffle = 1;
    o.cache_bytes = 0; /* decode every epoch: workers are busy when we cancel */
    open_dir_ok(root, &o, &ds);
    o.threads = 1;
    open_dir_ok(root, &o, &ref);
    full = run_epoch(ref, 3, 2);

    for (int rep = 0; rep < 5; rep++) {
        assert_int_equal(pneumo_dataset_begin_epoch(ds, 2, 3), PNEUMO_OK);
        if (rep & 1) {
            assert_int_equal(pneumo_dataset_next_batch(ds, &x, &y, NULL), PNEUMO_OK);
            assert_non_null(x);
        }
    }
    again = run_epoch(ds, 3, 2); /* after cancelled epochs: exactly the reference */
    expect_same_epoch(&full, &again, (size_t)W * H);
    epoch_free(&full);
    epoch_free(&again);

    /* Destroy while the workers are filling batches. */
    assert_int_equal(pneumo_dataset_begin_epoch(ds, 0, 4), PNEUMO_OK);
    assert_int_equal(pneumo_dataset_next_batch(ds, &x, &y, NULL), PNEUMO_OK);
    pneumo_dataset_destroy(ds);
    /* And right after begin_epoch. */
    o.threads = 2;
    open_dir_ok(root, &o, &ds);
    assert_int_equal(pneumo_dataset_begin_epoch(ds, 0, 1), PNEUMO_OK);
    pneumo_dataset_destroy(ds);
    pneumo_dataset_destroy(ref);
    pneumo_dataset_destroy(NULL);
    rm_rf(root);
}

/* A file replaced by garbage after open: the batch fails naming it and the
 * next call goes on with the following batch. */
static void test_file_changed_after_open(void **state)
{
    char root[4096];
    pneumo_dataset_options o = small_opts(6, 6, 2);
    pneumo_dataset *ds;
    pneumo_tensor *x, *y;
    const int64_t *idx;
    int64_t got = 0;
    (void)state;
    new_tmp(root);
    make_dataset(root, 4); /* 8 images */
    o.cache_bytes = 0;
    open_dir_ok(root, &o, &ds);
    write_bytes(tu_ds_path(ds, 5), "junk", 4); /* in batch 1 of size 3 */
    assert_int_equal(pneumo_dataset_begin_epoch(ds, 0, 3), PNEUMO_OK);
    assert_int_equal(pneumo_dataset_next_batch(ds, &x, &y, &idx), PNEUMO_OK);
    assert_non_null(x);
    got += pneumo_tensor_dim(x, 0);
    expect_error(pneumo_dataset_next_batch(ds, &x, &y, &idx), PNEUMO_ERR_FORMAT, tu_ds_path(ds, 5));
    assert_null(x);
    assert_int_equal(pneumo_dataset_next_batch(ds, &x, &y, &idx), PNEUMO_OK);
    assert_non_null(x);
    assert_int_equal(idx[0], 6);
    got += pneumo_tensor_dim(x, 0);
    assert_int_equal(pneumo_dataset_next_batch(ds, &x, &y, &idx), PNEUMO_OK);
    assert_null(x);
    assert_int_equal(got, 5);
    {
        float buf[36];
        expect_error(pneumo_dataset_load_sample(ds, 5, buf, 36), PNEUMO_ERR_FORMAT, tu_ds_path(ds, 5));
        assert_int_equal(pneumo_dataset_load_sample(ds, 4, buf, 36), PNEUMO_OK);
    }
    pneumo_dataset_destroy(ds);
    rm_rf(root);
}

/* The shared chest X-ray folders (the article's layout). */
static void test_real_data(void **state)
{
    const char *data = tu_shared_data();
    char dir[4096], rep[128];
    pneumo_augment_options aug;
    pneumo_dataset_options o = small_opts(64, 64, 0);
    pneumo_dataset *ds;
    pneumo_tensor *x, *y;
    const int64_t *idx;
    double w[2];
    (void)state;
    if (!data)
        return;
    o.shuffle = 1;
    o.augment = 1;
    pneumo_augment_article_options(&aug);
    o.augment_options = &aug;

    pjoin(dir, data, "chest_xray_224/train");
    open_dir_ok(dir, &o, &ds);
    assert_int_equal(pneumo_dataset_size(ds), 4176);
    assert_int_equal(pneumo_dataset_num_classes(ds), 2);
    assert_string_equal(tu_ds_class(ds, 0), "Normal");
    assert_string_equal(tu_ds_class(ds, 1), "Opacity");
    assert_int_equal(pneumo_dataset_class_count(ds, 0), 1074);
    assert_int_equal(pneumo_dataset_class_count(ds, 1), 3102);
    assert_int_equal(pneumo_dataset_num_skipped(ds), 0);
    assert_int_equal(pneumo_dataset_report(ds, rep, sizeof rep, NULL), PNEUMO_OK);
    assert_string_equal(rep, "Found 4176 images belonging to 2 classes.");
    assert_int_equal(pneumo_dataset_class_weights(ds, w, 2), PNEUMO_OK);
    assert_true(w[0] == 4176.0 / (2.0 * 1074.0));
    assert_int_equal(pneumo_dataset_num_batches(ds, 16), 261);
    assert_int_equal(pneumo_dataset_begin_epoch(ds, 0, 16), PNEUMO_OK);
    for (int b = 0; b < 3; b++) {
        const float *px;
        float lo = 1, hi = 0;
        assert_int_equal(pneumo_dataset_next_batch(ds, &x, &y, &idx), PNEUMO_OK);
        assert_non_null(x);
        assert_int_equal(pneumo_tensor_dim(x, 0), 16);
        assert_int_equal(pneumo_tensor_dim(x, 1), 64);
        assert_int_equal(pneumo_tensor_dim(x, 2), 64);
        px = pneumo_tensor_data_const(x);
        for (size_t k = 0; k < (size_t)16 * 64 * 64; k++) {
            lo = px[k] < lo ? px[k] : lo;
            hi = px[k] > hi ? px[k] : hi;
        }
        assert_true(lo >= 0.0f && hi <= 1.0f && hi > lo);
        for (int i = 0; i < 16; i++)
            assert_true(pneumo_tensor_data_const(y)[i] == (float)pneumo_dataset_label(ds, idx[i]));
    }
    pneumo_dataset_destroy(ds);

    pjoin(dir, data, "chest_xray_224/val");
    o.augment = 0;
    o.shuffle = 0;
    open_dir_ok(dir, &o, &ds);
    assert_int_equal(pneumo_dataset_size(ds), 1040);
    assert_int_equal(pneumo_dataset_class_count(ds, 0), 267);
    assert_int_equal(pneumo_dataset_class_count(ds, 1), 773);
    assert_int_equal(pneumo_dataset_report(ds, rep, sizeof rep, NULL), PNEUMO_OK);
    assert_string_equal(rep, "Found 1040 images belonging to 2 classes.");
    assert_int_equal(pneumo_dataset_num_batches(ds, 16), 65);
    assert_int_equal(pneumo_dataset_begin_epoch(ds, 0, 32), PNEUMO_OK);
    assert_int_equal(pneumo_dataset_next_batch(ds, &x, &y, &idx), PNEUMO_OK);
    assert_int_equal(idx[0], 0); /* not shuffled: sorted order */
    assert_int_equal(idx[31], 31);
    assert_true(pneumo_tensor_data_const(y)[0] == 0.0f);
    pneumo_dataset_destroy(ds);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_batches_and_pixels),      cmocka_unit_test(test_next_batch_state),
        cmocka_unit_test(test_shuffle_determinism),     cmocka_unit_test(test_augment_threads_and_cache),
        cmocka_unit_test(test_intensity_crop_threads),  cmocka_unit_test(test_cancel_and_destroy_mid_epoch),
        cmocka_unit_test(test_file_changed_after_open), cmocka_unit_test(test_real_data),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
