/* Fixtures shared by the dataset tests (dataset_fixtures.h). */
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

/* ------------------------------------------------------------------------ */
/* Fixtures.                                                                 */

void pjoin(char *out, const char *a, const char *b)
{
    int n = snprintf(out, 4096, "%s/%s", a, b);
    assert_true(n > 0 && n < 4096);
}

void mkdir_ok(const char *path)
{
    if (mkdir(path, 0755) != 0 && errno != EEXIST)
        fail_msg("mkdir %s: %s", path, strerror(errno));
}

static uint8_t pattern_px(int x, int y, int k)
{
    return (uint8_t)((x * 37 + y * 11 + k * 53 + (x * y) % 7) & 255);
}

/* Gray 8-bit PNG of w x h with pattern k. */
void write_png(const char *path, int w, int h, int k)
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
    png_set_IHDR(png, info, (png_uint_32)w, (png_uint_32)h, 8, PNG_COLOR_TYPE_GRAY, PNG_INTERLACE_NONE,
                 PNG_COMPRESSION_TYPE_DEFAULT, PNG_FILTER_TYPE_DEFAULT);
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

void write_bytes(const char *path, const void *data, size_t n)
{
    FILE *f = fopen(path, "wb");
    assert_non_null(f);
    if (n)
        assert_int_equal(fwrite(data, 1, n, f), n);
    assert_int_equal(fclose(f), 0);
}

static int rm_entry(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
    (void)sb;
    (void)flag;
    (void)ftw;
    remove(path);
    return 0;
}

void rm_rf(const char *path) { nftw(path, rm_entry, 16, FTW_DEPTH | FTW_PHYS); }

void new_tmp(char *out)
{
    const char *t = tu_tmpdir();
    assert_non_null(t);
    snprintf(out, 4096, "%s", t);
}

pneumo_dataset_options small_opts(int w, int h, int threads)
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
void make_dataset(const char *root, int per_class)
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

void expect_error(pneumo_status got, pneumo_status want, const char *needle)
{
    if (got != want || !strstr(pneumo_last_error(), needle))
        fail_msg("expected status %d with '%s' in the message, got %d: %s", (int)want, needle, (int)got,
                 pneumo_last_error());
}
