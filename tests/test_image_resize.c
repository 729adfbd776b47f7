/* Image resizing: nearest and bilinear results compared with PIL's resize
 * semantics computed independently in the test. */
#include "testutil.h"

#include "pneumo/image.h"
#include "image/image_internal.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <jpeglib.h>
#include <png.h>

#include "image_fixtures.h"

/* ------------------------------------------------------------------ */
/* resize                                                              */

static pneumo_image *image_from(const uint8_t *px, int w, int h)
{
    pneumo_image *img = NULL;
    assert_int_equal(pneumo_image_create(w, h, &img), PNEUMO_OK);
    memcpy(pneumo_image_pixels_mut(img), px, (size_t)w * h);
    return img;
}

static void resize_expect(const uint8_t *src, int sw, int sh, int dw, int dh, pneumo_resample mode,
                          const uint8_t *want, const char *what)
{
    pneumo_image *in = image_from(src, sw, sh), *out = NULL;
    assert_int_equal(pneumo_image_resize(in, dw, dh, mode, &out), PNEUMO_OK);
    expect_pixels(out, want, dw, dh, 0, what);
    pneumo_image_destroy(in);
    pneumo_image_destroy(out);
}

static void test_resize_nearest(void **state)
{
    (void)state;
    { /* 3 -> 5: centres 0.3 0.9 1.5 2.1 2.7 */
        const uint8_t s[3] = {10, 20, 30}, w[5] = {10, 10, 20, 30, 30};
        resize_expect(s, 3, 1, 5, 1, PNEUMO_RESAMPLE_NEAREST, w, "nearest 3->5");
    }
    { /* 5 -> 2: centres 1.25 3.75 */
        const uint8_t s[5] = {1, 2, 3, 4, 5}, w[2] = {2, 4};
        resize_expect(s, 5, 1, 2, 1, PNEUMO_RESAMPLE_NEAREST, w, "nearest 5->2");
    }
    { /* 3 -> 7 (PIL: 0 0 1 1 1 2 2), vertical too */
        const uint8_t s[3] = {1, 2, 3}, w[7] = {1, 1, 2, 2, 2, 3, 3};
        resize_expect(s, 3, 1, 7, 1, PNEUMO_RESAMPLE_NEAREST, w, "nearest 3->7");
        resize_expect(s, 1, 3, 1, 7, PNEUMO_RESAMPLE_NEAREST, w, "nearest 3->7 vertical");
    }
    { /* 2x2 -> 4x4 block replication */
        const uint8_t s[4] = {1, 2, 3, 4};
        const uint8_t w[16] = {1, 1, 2, 2, 1, 1, 2, 2, 3, 3, 4, 4, 3, 3, 4, 4};
        resize_expect(s, 2, 2, 4, 4, PNEUMO_RESAMPLE_NEAREST, w, "nearest 2x2->4x4");
    }
    /* 224 -> 500 and 2000 -> 500 index tables (source row = index) */
    {
        static uint8_t s[2000];
        uint8_t out[500];
        for (int i = 0; i < 224; i++)
            s[i] = (uint8_t)i;
        assert_int_equal(pn_resize_gray(s, 224, 1, out, 500, 1, PNEUMO_RESAMPLE_NEAREST), PNEUMO_OK);
        assert_int_equal(out[0], 0);
        assert_int_equal(out[499], 223);
        /* exact (x+0.5)*224/500 is an integer at x = 187 and 312 (84, 140); Pillow's
         * accumulated double step lands just below and picks 83 and 139 */
        assert_int_equal(out[187], 83);
        assert_int_equal(out[312], 139);
        for (int x = 0; x < 500; x++) {
            long exact = ((2L * x + 1) * 224) / 1000;
            if (x != 187 && x != 312)
                assert_int_equal(out[x], exact);
        }
        for (int i = 0; i < 2000; i++)
            s[i] = (uint8_t)(i / 8);
        assert_int_equal(pn_resize_gray(s, 2000, 1, out, 500, 1, PNEUMO_RESAMPLE_NEAREST), PNEUMO_OK);
        for (int x = 0; x < 500; x++) /* source index 4x + 2 */
            assert_int_equal(out[x], (4 * x + 2) / 8);
    }
    /* same size: copy */
    {
        const uint8_t s[6] = {1, 2, 3, 4, 5, 6};
        resize_expect(s, 3, 2, 3, 2, PNEUMO_RESAMPLE_NEAREST, s, "nearest identity");
        resize_expect(s, 3, 2, 3, 2, PNEUMO_RESAMPLE_BILINEAR, s, "bilinear identity");
    }
}

/* Bilinear reference in plain double (Pillow's filter, no fixed point). */
static void ref_bilinear_1d(const double *in, int n, double *out, int m)
{
    double scale = (double)n / m, fs = scale < 1.0 ? 1.0 : scale, support = fs;
    for (int i = 0; i < m; i++) {
        double center = (i + 0.5) * scale, sum = 0, ww = 0;
        int lo = (int)(center - support + 0.5), hi = (int)(center + support + 0.5);
        if (lo < 0)
            lo = 0;
        if (hi > n)
            hi = n;
        for (int x = lo; x < hi; x++) {
            double t = fabs((x - center + 0.5) / fs);
            double wgt = t < 1.0 ? 1.0 - t : 0.0;
            sum += wgt * in[x];
            ww += wgt;
        }
        out[i] = sum / ww;
    }
}

static void test_resize_bilinear(void **state)
{
    (void)state;
    { /* upsample 2 -> 4: weights (1), (.75,.25), (.25,.75), (1) */
        const uint8_t s[2] = {0, 255}, w[4] = {0, 64, 191, 255};
        resize_expect(s, 2, 1, 4, 1, PNEUMO_RESAMPLE_BILINEAR, w, "bilinear 2->4");
        resize_expect(s, 1, 2, 1, 4, PNEUMO_RESAMPLE_BILINEAR, w, "bilinear 2->4 vertical");
    }
    { /* downsample 4 -> 2 with support 2: weights 3/7 3/7 1/7 -> 71.4, 209.3 */
        const uint8_t s[4] = {0, 100, 200, 255}, w[2] = {71, 209};
        resize_expect(s, 4, 1, 2, 1, PNEUMO_RESAMPLE_BILINEAR, w, "bilinear 4->2");
    }
    { /* 2x2 -> 4x4 separable: rows of [0,64,191,255]-like interpolation */
        const uint8_t s[4] = {0, 200, 100, 40};
        uint8_t w[16];
        const double wy[4][2] = {{1, 0}, {.75, .25}, {.25, .75}, {0, 1}};
        for (int y = 0; y < 4; y++)
            for (int x = 0; x < 4; x++) {
                /* horizontal pass is rounded to 8 bits first, like Pillow */
                double r0 = s[0] * wy[x][0] + s[1] * wy[x][1];
                double r1 = s[2] * wy[x][0] + s[3] * wy[x][1];
                int h0 = (int)(r0 + 0.5), h1 = (int)(r1 + 0.5);
                w[y * 4 + x] = (uint8_t)(int)(h0 * wy[y][0] + h1 * wy[y][1] + 0.5);
            }
        resize_expect(s, 2, 2, 4, 4, PNEUMO_RESAMPLE_BILINEAR, w, "bilinear 2x2->4x4");
    }
    /* larger random cases against a double reference: within 1 (fixed point) */
    {
        static const int sizes[][4] = {
            {50, 30, 17, 11}, {17, 11, 50, 30}, {100, 1, 33, 1}, {33, 20, 500, 7}, {640, 480, 500, 500}};
        uint64_t rng = 99;
        for (size_t t = 0; t < sizeof sizes / sizeof sizes[0]; t++) {
            int sw = sizes[t][0], sh = sizes[t][1], dw = sizes[t][2], dh = sizes[t][3];
            uint8_t *s = malloc((size_t)sw * sh), *o = malloc((size_t)dw * dh);
            double *row = malloc(sizeof(double) * (size_t)(sw > sh ? sw : sh));
            double *tmp = malloc(sizeof(double) * (size_t)dw * sh);
            double *col = malloc(sizeof(double) * (size_t)sh), *colo = malloc(sizeof(double) * (size_t)dh);
            assert_true(s && o && row && tmp && col && colo);
            for (int i = 0; i < sw * sh; i++)
                s[i] = (uint8_t)(tu_next(&rng) & 255);
            assert_int_equal(pn_resize_gray(s, sw, sh, o, dw, dh, PNEUMO_RESAMPLE_BILINEAR), PNEUMO_OK);
            for (int y = 0; y < sh; y++) {
                for (int x = 0; x < sw; x++)
                    row[x] = s[y * sw + x];
                if (dw != sw) {
                    ref_bilinear_1d(row, sw, tmp + (size_t)y * dw, dw);
                    for (int x = 0; x < dw; x++) /* Pillow stores the pass in 8 bits */
                        tmp[(size_t)y * dw + x] = (int)(tmp[(size_t)y * dw + x] + 0.5);
                } else {
                    memcpy(tmp + (size_t)y * dw, row, sizeof(double) * (size_t)sw);
                }
            }
            for (int x = 0; x < dw; x++) {
                for (int y = 0; y < sh; y++)
                    col[y] = tmp[(size_t)y * dw + x];
                if (dh != sh)
                    ref_bilinear_1d(col, sh, colo, dh);
                else
                    memcpy(colo, col, sizeof(double) * (size_t)sh);
                for (int y = 0; y < dh; y++) {
                    int want = (int)(colo[y] + 0.5);
                    int got = o[(size_t)y * dw + x];
                    if (abs(got - want) > 1)
                        fail_msg("bilinear %dx%d->%dx%d at (%d,%d): %d vs reference %d", sw, sh, dw, dh, x, y,
                                 got, want);
                }
            }
            free(s);
            free(o);
            free(row);
            free(tmp);
            free(col);
            free(colo);
        }
    }
    /* argument checks */
    {
        pneumo_image *in = NULL, *out = NULL;
        assert_int_equal(pneumo_image_create(4, 4, &in), PNEUMO_OK);
        assert_int_equal(pneumo_image_resize(in, 0, 4, PNEUMO_RESAMPLE_NEAREST, &out),
                         PNEUMO_ERR_INVALID_ARG);
        assert_int_equal(pneumo_image_resize(in, 4, 4, (pneumo_resample)7, &out), PNEUMO_ERR_INVALID_ARG);
        assert_int_equal(pneumo_image_resize(NULL, 4, 4, PNEUMO_RESAMPLE_NEAREST, &out),
                         PNEUMO_ERR_INVALID_ARG);
        assert_null(out);
        pneumo_image_destroy(in);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_resize_nearest),
        cmocka_unit_test(test_resize_bilinear),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
