/* Dataset tests: listing rules (label order, extensions, hidden files), skip
 * policy and strict mode, bad directories (nonexistent, a file, dangling link,
 * symbolic-link loops, no/one class, empty class), class weights (sklearn
 * 'balanced', the article's values), report, batches (sizes, labels, pixels),
 * determinism of shuffle and augmentation across thread counts, cache on/off,
 * cancelling and destroying mid-epoch, and the shared chest X-ray folders.
 * Fixtures are PNG/JPEG files written here with libpng/libjpeg. */
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

/* ------------------------------------------------------------------------ */
/* Fixtures.                                                                 */

static void pjoin(char *out, const char *a, const char *b)
{
    int n = snprintf(out, 4096, "%s/%s", a, b);
    assert_true(n > 0 && n < 4096);
}

static void mkdir_ok(const char *path)
{
    if (mkdir(path, 0755) != 0 && errno != EEXIST)
        fail_msg("mkdir %s: %s", path, strerror(errno));
}

static uint8_t pattern_px(int x, int y, int k)
{
    return (uint8_t)((x * 37 + y * 11 + k * 53 + (x * y) % 7) & 255);
}

/* Gray 8-bit PNG of w x h with pattern k. */
static void write_png(const char *path, int w, int h, int k)
{
    FILE *f = fopen(path, "wb");
    png_structp png;
    png_infop info;
    uint8_t *row = malloc((size_t)w);
    assert_non_null(f);
    assert_non_null(row);
    png = png_create_write_struct(PNG_LIBPNG_VER_STRING, NULL, NULL, NULL);
    assert_non_null(png);
    info = png_create_info_struct(png);
    assert_non_null(info);
    if (setjmp(png_jmpbuf(png)))
        fail_msg("libpng failed writing %s", path);
    png_init_io(png, f);
    png_set_IHDR(png, info, (png_uint_32)w, (png_uint_32)h, 8, PNG_COLOR_TYPE_GRAY,
                 PNG_INTERLACE_NONE, PNG_COMPRESSION_TYPE_DEFAULT, PNG_FILTER_TYPE_DEFAULT);
    png_write_info(png, info);
    for (int y = 0; y < h; y++) {
        for (int x = 0; x < w; x++)
            row[x] = pattern_px(x, y, k);
        png_write_row(png, row);
    }
    png_write_end(png, info);
    png_destroy_write_struct(&png, &info);
    free(row);
    assert_int_equal(fclose(f), 0);
}

/* RGB baseline JPEG of w x h with pattern k. */
static void write_jpeg(const char *path, int w, int h, int k)
{
    struct jpeg_compress_struct c;
    struct jpeg_error_mgr jerr;
    FILE *f = fopen(path, "wb");
    uint8_t *row = malloc((size_t)w * 3);
    assert_non_null(f);
    assert_non_null(row);
    c.err = jpeg_std_error(&jerr);
    jpeg_create_compress(&c);
    jpeg_stdio_dest(&c, f);
    c.image_width = (JDIMENSION)w;
    c.image_height = (JDIMENSION)h;
    c.input_components = 3;
    c.in_color_space = JCS_RGB;
    jpeg_set_defaults(&c);
    jpeg_set_quality(&c, 90, TRUE);
    jpeg_start_compress(&c, TRUE);
    for (int y = 0; y < h; y++) {
        JSAMPROW rp = row;
        for (int x = 0; x < w; x++) {
            row[3 * x] = pattern_px(x, y, k);
            row[3 * x + 1] = pattern_px(y, x, k + 1);
            row[3 * x + 2] = (uint8_t)(x * 5);
        }
        jpeg_write_scanlines(&c, &rp, 1);
    }
    jpeg_finish_compress(&c);
    jpeg_destroy_compress(&c);
    free(row);
    assert_int_equal(fclose(f), 0);
}

static void write_bytes(const char *path, const void *data, size_t n)
{
    FILE *f = fopen(path, "wb");
    assert_non_null(f);
    if (n)
        assert_int_equal(fwrite(data, 1, n, f), n);
    assert_int_equal(fclose(f), 0);
}

static void png_in(const char *root, const char *cls, const char *name, int w, int h, int k)
{
    char d[4096], p[4096];
    pjoin(d, root, cls);
    mkdir_ok(d);
    pjoin(p, d, name);
    write_png(p, w, h, k);
}

static int rm_entry(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
    (void)sb;
    (void)flag;
    (void)ftw;
    remove(path);
    return 0;
}

static void rm_rf(const char *path)
{
    nftw(path, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
}

static void new_tmp(char *out)
{
    const char *t = tu_tmpdir();
    assert_non_null(t);
    snprintf(out, 4096, "%s", t);
}

static pneumo_dataset_options small_opts(int w, int h, int threads)
{
    pneumo_dataset_options o;
    pneumo_dataset_default_options(&o);
    o.width = w;
    o.height = h;
    o.threads = threads;
    o.shuffle = 0;
    return o;
}

/* A two-class folder of n images per class with different sizes, PNG and JPEG. */
static void make_dataset(const char *root, int per_class)
{
    char d[4096], p[4096], name[64];
    const char *cls[2] = {"Normal", "Opacity"};
    for (int c = 0; c < 2; c++) {
        pjoin(d, root, cls[c]);
        mkdir_ok(d);
        for (int i = 0; i < per_class; i++) {
            int k = c * 100 + i;
            int w = 7 + (k * 5) % 23, h = 5 + (k * 3) % 17;
            snprintf(name, sizeof name, "img%03d.%s", i, i % 3 == 2 ? "jpg" : "png");
            pjoin(p, d, name);
            if (i % 3 == 2)
                write_jpeg(p, w, h, k);
            else
                write_png(p, w, h, k);
        }
    }
}

static void expect_error(pneumo_status got, pneumo_status want, const char *needle)
{
    if (got != want || !strstr(pneumo_last_error(), needle))
        fail_msg("expected status %d with '%s' in the message, got %d: %s", (int)want, needle,
                 (int)got, pneumo_last_error());
}

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

/* ------------------------------------------------------------------------ */
/* Tests.                                                                    */

static void test_class_weights(void **state)
{
    const int64_t counts[2] = {1082, 3110};
    double w[2];
    (void)state;
    assert_int_equal(pn_ds_class_weights(counts, 2, w), PNEUMO_OK);
    /* Exactly the doubles sklearn prints ({0: 1.9371534195933457, 1: 0.6739549839228296}). */
    assert_true(w[0] == 1.9371534195933457);
    assert_true(w[1] == 0.6739549839228296);
    {
        char buf[64];
        snprintf(buf, sizeof buf, "%.17g", w[0]);
        assert_string_equal(buf, "1.9371534195933457");
    }
    const int64_t zero[2] = {5, 0};
    expect_error(pn_ds_class_weights(zero, 2, w), PNEUMO_ERR_STATE, "class 1");
}

/* 1082 + 3110 entries of the same tiny file through open_files: the public
 * function gives the article's weights. */
static void test_class_weights_open_files(void **state)
{
    char root[4096], p[4096];
    const int64_t n = 1082 + 3110;
    const char **paths = malloc((size_t)n * sizeof *paths);
    int32_t *labels = malloc((size_t)n * sizeof *labels);
    const char *names[2] = {"Normal", "Opacity"};
    pneumo_dataset_options o = small_opts(2, 2, 2);
    pneumo_dataset *ds;
    double w[2];
    char rep[128];
    (void)state;
    assert_true(paths && labels);
    new_tmp(root);
    pjoin(p, root, "tiny.png");
    write_png(p, 3, 2, 1);
    for (int64_t i = 0; i < n; i++) {
        paths[i] = p;
        labels[i] = i < 1082 ? 0 : 1;
    }
    assert_int_equal(pneumo_dataset_open_files(paths, labels, n, 2, names, &o, &ds), PNEUMO_OK);
    assert_int_equal(pneumo_dataset_size(ds), 4192);
    assert_int_equal(pneumo_dataset_class_count(ds, 0), 1082);
    assert_int_equal(pneumo_dataset_class_count(ds, 1), 3110);
    assert_int_equal(pneumo_dataset_class_weights(ds, w, 2), PNEUMO_OK);
    assert_true(w[0] == 1.9371534195933457);
    assert_true(w[1] == 0.6739549839228296);
    expect_error(pneumo_dataset_class_weights(ds, w, 3), PNEUMO_ERR_INVALID_ARG, "num_classes");
    assert_int_equal(pneumo_dataset_report(ds, rep, sizeof rep, NULL), PNEUMO_OK);
    assert_string_equal(rep, "Found 4192 images belonging to 2 classes.");
    assert_string_equal(tu_ds_class(ds, 1), "Opacity");
    pneumo_dataset_destroy(ds);
    free(paths);
    free(labels);
    rm_rf(root);
}

static void test_open_files_rules(void **state)
{
    char root[4096], a[4096], b[4096];
    const char *paths[3];
    int32_t labels[3] = {0, 0, 0};
    pneumo_dataset_options o = small_opts(4, 4, 1);
    pneumo_dataset *ds = NULL;
    double w[3];
    (void)state;
    new_tmp(root);
    pjoin(a, root, "a.png");
    pjoin(b, root, "b.weird"); /* the extension does not matter for a file list */
    write_png(a, 5, 5, 1);
    write_png(b, 6, 3, 2);
    paths[0] = b;
    paths[1] = a;
    paths[2] = b;
    /* One class, names defaulted, caller's order kept. */
    assert_int_equal(pneumo_dataset_open_files(paths, labels, 3, 1, NULL, &o, &ds), PNEUMO_OK);
    assert_int_equal(pneumo_dataset_num_classes(ds), 1);
    assert_string_equal(tu_ds_class(ds, 0), "0");
    assert_int_equal(pneumo_dataset_class_name(ds, 1, NULL, 0, NULL), PNEUMO_ERR_INVALID_ARG);
    assert_string_equal(tu_ds_path(ds, 0), b);
    assert_string_equal(tu_ds_path(ds, 1), a);
    assert_int_equal(pneumo_dataset_path(ds, 3, NULL, 0, NULL), PNEUMO_ERR_INVALID_ARG);
    assert_int_equal(pneumo_dataset_label(ds, 5), -1);
    pneumo_dataset_destroy(ds);
    /* An empty class is allowed, but has no balanced weight. */
    labels[1] = 2;
    assert_int_equal(pneumo_dataset_open_files(paths, labels, 3, 3, NULL, &o, &ds), PNEUMO_OK);
    assert_int_equal(pneumo_dataset_class_count(ds, 1), 0);
    assert_int_equal(pneumo_dataset_class_count(ds, 2), 1);
    expect_error(pneumo_dataset_class_weights(ds, w, 3), PNEUMO_ERR_STATE, "'1'");
    pneumo_dataset_destroy(ds);
    /* Argument errors. */
    labels[1] = 3;
    expect_error(pneumo_dataset_open_files(paths, labels, 3, 3, NULL, &o, &ds),
                 PNEUMO_ERR_INVALID_ARG, "labels[1]");
    assert_null(ds);
    labels[1] = 0;
    expect_error(pneumo_dataset_open_files(paths, labels, 0, 1, NULL, &o, &ds),
                 PNEUMO_ERR_INVALID_ARG, "count");
    expect_error(pneumo_dataset_open_files(paths, labels, 3, 0, NULL, &o, &ds),
                 PNEUMO_ERR_INVALID_ARG, "num_classes");
    expect_error(pneumo_dataset_open_files(NULL, labels, 3, 1, NULL, &o, &ds),
                 PNEUMO_ERR_INVALID_ARG, "paths");
    {
        const char *names[2] = {"x", NULL};
        expect_error(pneumo_dataset_open_files(paths, labels, 3, 2, names, &o, &ds),
                     PNEUMO_ERR_INVALID_ARG, "class_names[1]");
    }
    /* Nothing usable. */
    {
        char bad[4096];
        const char *bp[1];
        pjoin(bad, root, "bad.png");
        write_bytes(bad, "not an image", 12);
        bp[0] = bad;
        expect_error(pneumo_dataset_open_files(bp, labels, 1, 1, NULL, &o, &ds),
                     PNEUMO_ERR_FORMAT, "bad.png");
    }
    /* Images over the decode limits are skipped with the reason (strict: LIMIT). */
    {
        char big[4096];
        const char *lp[2];
        int32_t ll[2] = {0, 0};
        pneumo_decode_limits lim;
        pneumo_decode_default_limits(&lim);
        pjoin(big, root, "big.png");
        write_png(big, 40, 3, 3);
        lp[0] = a;
        lp[1] = big;
        lim.max_side = 16;
        o.limits = &lim;
        assert_int_equal(pneumo_dataset_open_files(lp, ll, 2, 1, NULL, &o, &ds), PNEUMO_OK);
        assert_int_equal(pneumo_dataset_size(ds), 1);
        assert_int_equal(pneumo_dataset_num_skipped(ds), 1);
        assert_non_null(strstr(tu_ds_skipped(ds, 0), "big.png: "));
        assert_non_null(strstr(tu_ds_skipped(ds, 0), "limit"));
        pneumo_dataset_destroy(ds);
        o.strict = 1;
        expect_error(pneumo_dataset_open_files(lp, ll, 2, 1, NULL, &o, &ds), PNEUMO_ERR_LIMIT,
                     "big.png");
        lim.max_side = 0;
        expect_error(pneumo_dataset_open_files(lp, ll, 2, 1, NULL, &o, &ds),
                     PNEUMO_ERR_INVALID_ARG, "limits");
        o = small_opts(4, 4, 1);
    }
    /* Bad options. */
    o.width = 0;
    expect_error(pneumo_dataset_open_files(paths, labels, 3, 1, NULL, &o, &ds),
                 PNEUMO_ERR_INVALID_ARG, "target size");
    o = small_opts(4, 4, 1);
    o.reserved[2] = 1;
    expect_error(pneumo_dataset_open_files(paths, labels, 3, 1, NULL, &o, &ds),
                 PNEUMO_ERR_INVALID_ARG, "reserved");
    o = small_opts(4, 4, 1);
    {
        pneumo_augment_options aug;
        pneumo_augment_default_options(&aug);
        aug.zoom_lo = 2.0;
        o.augment_options = &aug;
        assert_int_equal(pneumo_dataset_open_files(paths, labels, 3, 1, NULL, &o, &ds),
                         PNEUMO_ERR_INVALID_ARG);
    }
    o = small_opts(4, 4, -1);
    expect_error(pneumo_dataset_open_files(paths, labels, 3, 1, NULL, &o, &ds),
                 PNEUMO_ERR_INVALID_ARG, "threads");
    o = small_opts(4, 4, 1);
    o.prefetch_batches = 1000;
    expect_error(pneumo_dataset_open_files(paths, labels, 3, 1, NULL, &o, &ds),
                 PNEUMO_ERR_INVALID_ARG, "prefetch");
    assert_null(ds);
    rm_rf(root);
}

static void test_label_order(void **state)
{
    char root[4096];
    pneumo_dataset_options o = small_opts(4, 4, 2);
    pneumo_dataset *ds;
    (void)state;
    new_tmp(root);
    png_in(root, "Opacity", "x.png", 5, 5, 1);
    png_in(root, "Opacity", "y.png", 5, 5, 2);
    png_in(root, "Normal", "z.png", 5, 5, 3);
    assert_int_equal(pneumo_dataset_open_dir(root, &o, &ds), PNEUMO_OK);
    assert_int_equal(pneumo_dataset_num_classes(ds), 2);
    assert_string_equal(tu_ds_class(ds, 0), "Normal");
    assert_string_equal(tu_ds_class(ds, 1), "Opacity");
    assert_int_equal(pneumo_dataset_label(ds, 0), 0);
    assert_int_equal(pneumo_dataset_label(ds, 1), 1);
    assert_int_equal(pneumo_dataset_label(ds, 2), 1);
    assert_non_null(strstr(tu_ds_path(ds, 0), "/Normal/z.png"));
    assert_non_null(strstr(tu_ds_path(ds, 1), "/Opacity/x.png"));
    assert_non_null(strstr(tu_ds_path(ds, 2), "/Opacity/y.png"));
    pneumo_dataset_destroy(ds);
    rm_rf(root);

    /* strcmp order: "C" < "a" < "b" (byte values, as Python's sorted()). */
    new_tmp(root);
    png_in(root, "b", "1.png", 4, 4, 1);
    png_in(root, "a", "1.png", 4, 4, 2);
    png_in(root, "C", "1.png", 4, 4, 3);
    png_in(root, "a", "0.png", 4, 4, 4);
    assert_int_equal(pneumo_dataset_open_dir(root, &o, &ds), PNEUMO_OK);
    assert_int_equal(pneumo_dataset_num_classes(ds), 3);
    assert_string_equal(tu_ds_class(ds, 0), "C");
    assert_string_equal(tu_ds_class(ds, 1), "a");
    assert_string_equal(tu_ds_class(ds, 2), "b");
    assert_int_equal(pneumo_dataset_class_count(ds, 1), 2);
    assert_non_null(strstr(tu_ds_path(ds, 1), "/a/0.png"));
    assert_non_null(strstr(tu_ds_path(ds, 2), "/a/1.png"));
    assert_int_equal(pneumo_dataset_label(ds, 3), 2);
    pneumo_dataset_destroy(ds);
    rm_rf(root);
}

static void test_extension_filtering(void **state)
{
    char root[4096], d[4096], p[4096];
    pneumo_dataset_options o = small_opts(4, 4, 2);
    pneumo_dataset *ds;
    (void)state;
    new_tmp(root);
    png_in(root, "A", "one.JPG", 5, 4, 1); /* content decides the format, not the name */
    png_in(root, "A", "two.Png", 5, 4, 2);
    png_in(root, "A", "three.jpeg", 5, 4, 3);
    png_in(root, "A", "four.PNG", 5, 4, 4);
    png_in(root, "A", "notes.txt", 5, 4, 5);
    png_in(root, "A", "noext", 5, 4, 5);
    png_in(root, "A", "png", 5, 4, 5);
    png_in(root, "A", ".hidden.png", 5, 4, 6);
    pjoin(d, root, "A/sub.png"); /* a folder with an image name is not an image */
    mkdir_ok(d);
    pjoin(p, d, "deep.png"); /* not searched: no recursion below class folders */
    write_png(p, 4, 4, 7);
    pjoin(d, root, "A/.hiddendir");
    mkdir_ok(d);
    pjoin(p, d, "x.png");
    write_png(p, 4, 4, 7);
    png_in(root, "B", "b.png", 4, 4, 8);
    png_in(root, ".hiddenclass", "h.png", 4, 4, 9);
    pjoin(p, root, "README.png"); /* a plain file next to the classes is ignored */
    write_png(p, 4, 4, 9);
    /* A symbolic link to an image counts. */
    pjoin(p, root, "B/link.png");
    pjoin(d, root, "A/one.JPG");
    assert_int_equal(symlink(d, p), 0);

    assert_int_equal(pneumo_dataset_open_dir(root, &o, &ds), PNEUMO_OK);
    assert_int_equal(pneumo_dataset_num_classes(ds), 2);
    assert_int_equal(pneumo_dataset_class_count(ds, 0), 4);
    assert_int_equal(pneumo_dataset_class_count(ds, 1), 2);
    assert_int_equal(pneumo_dataset_num_skipped(ds), 0);
    /* strcmp order within the class: "four.PNG" < "one.JPG" < "three.jpeg" < "two.Png". */
    assert_non_null(strstr(tu_ds_path(ds, 0), "/A/four.PNG"));
    assert_non_null(strstr(tu_ds_path(ds, 1), "/A/one.JPG"));
    assert_non_null(strstr(tu_ds_path(ds, 2), "/A/three.jpeg"));
    assert_non_null(strstr(tu_ds_path(ds, 3), "/A/two.Png"));
    assert_non_null(strstr(tu_ds_path(ds, 4), "/B/b.png"));
    assert_non_null(strstr(tu_ds_path(ds, 5), "/B/link.png"));
    pneumo_dataset_destroy(ds);
    rm_rf(root);
}

static void test_skipped_and_strict(void **state)
{
    char root[4096], p[4096], rep[256];
    pneumo_dataset_options o = small_opts(6, 5, 3);
    pneumo_dataset *ds;
    size_t needed = 0;
    (void)state;
    new_tmp(root);
    make_dataset(root, 4);
    pjoin(p, root, "Normal/broken.png");
    write_bytes(p, "\x89PNG\r\n\x1a\n garbage that is not a PNG", 34);
    pjoin(p, root, "Opacity/empty.jpg");
    write_bytes(p, "", 0);
    pjoin(p, root, "Opacity/dangling.png");
    assert_int_equal(symlink("/nonexistent/pneumo/target.png", p), 0);

    assert_int_equal(pneumo_dataset_open_dir(root, &o, &ds), PNEUMO_OK);
    assert_int_equal(pneumo_dataset_size(ds), 8);
    assert_int_equal(pneumo_dataset_class_count(ds, 0), 4);
    assert_int_equal(pneumo_dataset_class_count(ds, 1), 4);
    assert_int_equal(pneumo_dataset_num_skipped(ds), 3);
    /* Listed in dataset order, "path: reason". */
    assert_non_null(strstr(tu_ds_skipped(ds, 0), "/Normal/broken.png: "));
    assert_non_null(strstr(tu_ds_skipped(ds, 1), "/Opacity/dangling.png: "));
    assert_non_null(strstr(tu_ds_skipped(ds, 2), "/Opacity/empty.jpg: "));
    assert_non_null(strstr(tu_ds_skipped(ds, 2), "empty"));
    assert_int_equal(pneumo_dataset_skipped(ds, 3, NULL, 0, NULL), PNEUMO_ERR_INVALID_ARG);
    for (int64_t i = 0; i < pneumo_dataset_size(ds); i++)
        assert_null(strstr(tu_ds_path(ds, i), "broken"));
    assert_int_equal(pneumo_dataset_report(ds, rep, sizeof rep, &needed), PNEUMO_OK);
    assert_string_equal(rep, "Found 8 images belonging to 2 classes.\n"
                             "Skipped 3 unreadable image files.");
    assert_int_equal(needed, strlen(rep));
    /* snprintf semantics. */
    assert_int_equal(pneumo_dataset_report(ds, rep, 6, &needed), PNEUMO_OK);
    assert_string_equal(rep, "Found");
    assert_int_equal(needed, strlen("Found 8 images belonging to 2 classes.\n"
                                    "Skipped 3 unreadable image files."));
    assert_int_equal(pneumo_dataset_report(ds, NULL, 0, &needed), PNEUMO_OK);
    assert_int_equal(pneumo_dataset_report(ds, NULL, 4, &needed), PNEUMO_ERR_INVALID_ARG);
    pneumo_dataset_destroy(ds);

    o.strict = 1;
    ds = (pneumo_dataset *)1;
    expect_error(pneumo_dataset_open_dir(root, &o, &ds), PNEUMO_ERR_FORMAT, "broken.png");
    assert_null(ds);
    assert_non_null(strstr(pneumo_last_error(), "strict"));

    /* A class whose only images are unreadable is an error even when not strict. */
    o.strict = 0;
    png_in(root, "Zempty", "bad.png", 1, 1, 0);
    pjoin(p, root, "Zempty/bad.png");
    write_bytes(p, "junk", 4);
    expect_error(pneumo_dataset_open_dir(root, &o, &ds), PNEUMO_ERR_FORMAT, "Zempty");
    rm_rf(root);
}

static void test_bad_directories(void **state)
{
    char root[4096], p[4096], q[4096];
    pneumo_dataset_options o = small_opts(4, 4, 2);
    pneumo_dataset *ds = NULL;
    (void)state;
    new_tmp(root);

    pjoin(p, root, "missing");
    expect_error(pneumo_dataset_open_dir(p, &o, &ds), PNEUMO_ERR_IO, "no such directory");
    assert_non_null(strstr(pneumo_last_error(), p));
    assert_null(ds);

    pjoin(p, root, "file.png");
    write_png(p, 4, 4, 1);
    expect_error(pneumo_dataset_open_dir(p, &o, &ds), PNEUMO_ERR_IO, "not a directory");
    pjoin(q, p, "sub");
    expect_error(pneumo_dataset_open_dir(q, &o, &ds), PNEUMO_ERR_IO, "not a directory");

    pjoin(p, root, "dangling");
    assert_int_equal(symlink("/nonexistent/pneumo-dir", p), 0);
    expect_error(pneumo_dataset_open_dir(p, &o, &ds), PNEUMO_ERR_IO, "dangling symbolic link");

    pjoin(p, root, "selfloop");
    assert_int_equal(symlink("selfloop", p), 0);
    expect_error(pneumo_dataset_open_dir(p, &o, &ds), PNEUMO_ERR_IO, "symbolic link loop");

    pjoin(p, root, "empty");
    mkdir_ok(p);
    expect_error(pneumo_dataset_open_dir(p, &o, &ds), PNEUMO_ERR_FORMAT, "no class sub-folders");
    assert_non_null(strstr(pneumo_last_error(), "empty"));

    pjoin(p, root, "one");
    mkdir_ok(p);
    png_in(p, "Normal", "a.png", 4, 4, 1);
    expect_error(pneumo_dataset_open_dir(p, &o, &ds), PNEUMO_ERR_FORMAT,
                 "needs at least 2 classes");
    assert_non_null(strstr(pneumo_last_error(), "Normal"));

    /* A class folder without images (only a text file). */
    png_in(p, "Opacity", "readme.txt", 4, 4, 1);
    expect_error(pneumo_dataset_open_dir(p, &o, &ds), PNEUMO_ERR_FORMAT,
                 "class folder without images");
    assert_non_null(strstr(pneumo_last_error(), "/one/Opacity"));
    png_in(p, "Opacity", "b.png", 4, 4, 2);
    assert_int_equal(pneumo_dataset_open_dir(p, &o, &ds), PNEUMO_OK);
    pneumo_dataset_destroy(ds);
    ds = NULL;

    /* Symbolic-link loops must not hang: a class folder linked to itself,
     * to the dataset folder and to its parent. */
    pjoin(q, p, "Loop");
    assert_int_equal(symlink("Loop", q), 0);
    expect_error(pneumo_dataset_open_dir(p, &o, &ds), PNEUMO_ERR_IO, "symbolic link loop");
    assert_non_null(strstr(pneumo_last_error(), "Loop"));
    assert_int_equal(unlink(q), 0);
    assert_int_equal(symlink(".", q), 0);
    expect_error(pneumo_dataset_open_dir(p, &o, &ds), PNEUMO_ERR_IO, "symbolic link loop");
    assert_int_equal(unlink(q), 0);
    assert_int_equal(symlink("..", q), 0);
    expect_error(pneumo_dataset_open_dir(p, &o, &ds), PNEUMO_ERR_IO, "symbolic link loop");
    assert_int_equal(unlink(q), 0);
    /* A dangling link among the classes is not a class (as Keras' isdir()). */
    assert_int_equal(symlink("/nonexistent/pneumo-class", q), 0);
    assert_int_equal(pneumo_dataset_open_dir(p, &o, &ds), PNEUMO_OK);
    assert_int_equal(pneumo_dataset_num_classes(ds), 2);
    pneumo_dataset_destroy(ds);
    ds = NULL;
    assert_int_equal(unlink(q), 0);
    /* A class folder that is a link to another folder outside is followed. */
    {
        char ext[4096];
        pjoin(ext, root, "outside");
        mkdir_ok(ext);
        png_in(ext, "x", "c.png", 4, 4, 3);
        pjoin(ext, root, "outside/x");
        assert_int_equal(symlink(ext, q), 0);
        assert_int_equal(pneumo_dataset_open_dir(p, &o, &ds), PNEUMO_OK);
        assert_int_equal(pneumo_dataset_num_classes(ds), 3);
        assert_string_equal(tu_ds_class(ds, 0), "Loop");
        assert_int_equal(pneumo_dataset_class_count(ds, 0), 1);
        pneumo_dataset_destroy(ds);
        ds = NULL;
    }

    expect_error(pneumo_dataset_open_dir(NULL, &o, &ds), PNEUMO_ERR_INVALID_ARG, "dir");
    expect_error(pneumo_dataset_open_dir("", &o, &ds), PNEUMO_ERR_INVALID_ARG, "empty");
    expect_error(pneumo_dataset_open_dir(p, &o, NULL), PNEUMO_ERR_INVALID_ARG, "out");
    rm_rf(root);
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
        assert_int_equal(pneumo_image_resize(img, W, H, PNEUMO_RESAMPLE_BILINEAR, &rs),
                         PNEUMO_OK);
        px = pneumo_image_pixels(rs);
        assert_int_equal(pneumo_dataset_load_sample(ds, idx, sample, (size_t)W * H), PNEUMO_OK);
        for (int k = 0; k < W * H; k++) {
            float want = (float)px[k] * (float)(1.0 / 255.0);
            if (e.x[(size_t)i * W * H + (size_t)k] != want || sample[k] != want)
                fail_msg("image %lld pixel %d: batch %g sample %g expected %g", (long long)idx,
                         k, (double)e.x[(size_t)i * W * H + (size_t)k], (double)sample[k],
                         (double)want);
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
    open_dir_ok(root, &o, &d[0]);           /* 1 thread, cached */
    o.threads = 3;
    open_dir_ok(root, &o, &d[1]);           /* 3 threads, cached */
    o.cache_bytes = 0;
    open_dir_ok(root, &o, &d[2]);           /* 3 threads, no cache */
    o.cache_bytes = 5 * W * H;              /* 5 of 14 images cached */
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
    expect_error(pneumo_dataset_next_batch(ds, &x, &y, &idx), PNEUMO_ERR_FORMAT,
                 tu_ds_path(ds, 5));
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
        expect_error(pneumo_dataset_load_sample(ds, 5, buf, 36), PNEUMO_ERR_FORMAT,
                     tu_ds_path(ds, 5));
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
        cmocka_unit_test(test_class_weights),
        cmocka_unit_test(test_class_weights_open_files),
        cmocka_unit_test(test_open_files_rules),
        cmocka_unit_test(test_label_order),
        cmocka_unit_test(test_extension_filtering),
        cmocka_unit_test(test_skipped_and_strict),
        cmocka_unit_test(test_bad_directories),
        cmocka_unit_test(test_batches_and_pixels),
        cmocka_unit_test(test_next_batch_state),
        cmocka_unit_test(test_shuffle_determinism),
        cmocka_unit_test(test_augment_threads_and_cache),
        cmocka_unit_test(test_cancel_and_destroy_mid_epoch),
        cmocka_unit_test(test_file_changed_after_open),
        cmocka_unit_test(test_real_data),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
