/* JPEG decoding: every fixture is generated with libjpeg
 * (image_fixtures.h), decoded with pneumo_image_*, and compared with
 * libjpeg's own decode and PIL's convert('L') computed in the test. */
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

/* PIL: CMYK JPEG samples are inverted ("CMYK;I"), then cmyk2rgb, then L. */
static uint8_t ref_cmyk_jpeg_luma(const uint8_t *s)
{
    int k = 255 - s[3];
    int nk = 255 - k;
    int rgb[3];
    for (int c = 0; c < 3; c++) {
        int ink = 255 - s[c];
        int t = ink * nk + 128;
        int v = nk - (((t >> 8) + t) >> 8);
        rgb[c] = v < 0 ? 0 : v > 255 ? 255 : v;
    }
    return ref_luma(rgb[0], rgb[1], rgb[2]);
}

/* Decode with plain libjpeg (the reference) into out_cs samples. */
static uint8_t *jpeg_ref_decode(const membuf *m, J_COLOR_SPACE out_cs, int *w, int *h, int *comps)
{
    struct jpeg_decompress_struct d;
    struct test_jerr err;
    uint8_t *volatile px = NULL;
    memset(&d, 0, sizeof d);
    d.err = jpeg_std_error(&err.pub);
    err.pub.error_exit = test_jerr_exit;
    err.pub.emit_message = test_jerr_silent;
    if (setjmp(err.jump))
        fail_msg("reference libjpeg decode failed");
    jpeg_create_decompress(&d);
    jpeg_mem_src(&d, m->data, (unsigned long)m->size);
    jpeg_read_header(&d, TRUE);
    d.out_color_space = out_cs;
    jpeg_start_decompress(&d);
    *w = (int)d.output_width;
    *h = (int)d.output_height;
    *comps = d.output_components;
    px = malloc((size_t)*w * (size_t)*h * (size_t)*comps);
    assert_non_null(px);
    while (d.output_scanline < d.output_height) {
        JSAMPROW row = (JSAMPROW)(px + (size_t)d.output_scanline * (size_t)*w * (size_t)*comps);
        jpeg_read_scanlines(&d, &row, 1);
    }
    jpeg_finish_decompress(&d);
    jpeg_destroy_decompress(&d);
    return px;
}

/* Number of components in the JPEG's frame header. */
static int jpeg_components(const membuf *m)
{
    struct jpeg_decompress_struct d;
    struct test_jerr err;
    int n;
    memset(&d, 0, sizeof d);
    d.err = jpeg_std_error(&err.pub);
    err.pub.error_exit = test_jerr_exit;
    err.pub.emit_message = test_jerr_silent;
    if (setjmp(err.jump))
        fail_msg("probe failed");
    jpeg_create_decompress(&d);
    jpeg_mem_src(&d, m->data, (unsigned long)m->size);
    jpeg_read_header(&d, TRUE);
    n = d.num_components;
    jpeg_destroy_decompress(&d);
    return n;
}

/* Our gray output must equal PIL's path computed from a plain libjpeg decode:
 * 1 component as is, 3 -> RGB -> L24, 4 -> CMYK -> inverted -> cmyk2rgb -> L24. */
static void check_jpeg_against_reference(const membuf *m, const char *what)
{
    int w, h, comps, n = jpeg_components(m);
    pneumo_image *img = decode_ok(m, what);
    uint8_t *want = malloc((size_t)JW * JH), *ref;
    assert_non_null(want);
    if (n == 1) {
        ref = jpeg_ref_decode(m, JCS_GRAYSCALE, &w, &h, &comps);
        memcpy(want, ref, (size_t)JW * JH);
    } else if (n == 3) {
        ref = jpeg_ref_decode(m, JCS_RGB, &w, &h, &comps);
        for (int i = 0; i < JW * JH; i++)
            want[i] = ref_luma(ref[i * 3], ref[i * 3 + 1], ref[i * 3 + 2]);
    } else {
        assert_int_equal(n, 4);
        ref = jpeg_ref_decode(m, JCS_CMYK, &w, &h, &comps);
        for (int i = 0; i < JW * JH; i++)
            want[i] = ref_cmyk_jpeg_luma(&ref[i * 4]);
    }
    assert_int_equal(w, JW);
    assert_int_equal(h, JH);
    expect_pixels(img, want, w, h, 0, what);
    free(ref);
    free(want);
    pneumo_image_destroy(img);
}

static void test_jpeg_gray_baseline(void **state)
{
    uint8_t px[JW * JH];
    pneumo_image *img;
    (void)state;
    make_smooth(px, JW, JH, 1, 3);
    {
        membuf m = jpeg_make(JW, JH, 1, JCS_GRAYSCALE, JCS_UNKNOWN, 0, 100, px, NULL, 0);
        check_jpeg_against_reference(&m, "gray baseline");
        img = decode_ok(&m, "gray q100");
        expect_pixels(img, px, JW, JH, 3, "gray q100 vs source");
        pneumo_image_destroy(img);
        free(m.data);
    }
}

static void test_jpeg_ycbcr_and_progressive(void **state)
{
    uint8_t px[JW * JH * 3];
    uint8_t src_l[JW * JH];
    (void)state;
    make_smooth(px, JW, JH, 3, 5);
    for (int i = 0; i < JW * JH; i++)
        src_l[i] = ref_luma(px[i * 3], px[i * 3 + 1], px[i * 3 + 2]);
    for (int prog = 0; prog <= 1; prog++) {
        membuf m = jpeg_make(JW, JH, 3, JCS_RGB, JCS_UNKNOWN, prog, 95, px, NULL, 0);
        pneumo_image *img;
        check_jpeg_against_reference(&m, prog ? "ycbcr progressive" : "ycbcr baseline");
        img = decode_ok(&m, "ycbcr");
        expect_pixels(img, src_l, JW, JH, 6, "ycbcr vs source luma");
        pneumo_image_destroy(img);
        free(m.data);
    }
    /* RGB-coded (Adobe transform 0) JPEG */
    {
        membuf m = jpeg_make(JW, JH, 3, JCS_RGB, JCS_RGB, 0, 95, px, NULL, 0);
        check_jpeg_against_reference(&m, "rgb-coded jpeg");
        free(m.data);
    }
    /* progressive gray */
    {
        uint8_t g[JW * JH];
        membuf m;
        make_smooth(g, JW, JH, 1, 9);
        m = jpeg_make(JW, JH, 1, JCS_GRAYSCALE, JCS_UNKNOWN, 1, 90, g, NULL, 0);
        check_jpeg_against_reference(&m, "gray progressive");
        free(m.data);
    }
}

static void test_jpeg_cmyk_ycck(void **state)
{
    uint8_t px[JW * JH * 4];
    (void)state;
    make_smooth(px, JW, JH, 4, 11);
    {
        membuf m = jpeg_make(JW, JH, 4, JCS_CMYK, JCS_CMYK, 0, 95, px, NULL, 0);
        check_jpeg_against_reference(&m, "cmyk");
        free(m.data);
    }
    {
        membuf m = jpeg_make(JW, JH, 4, JCS_CMYK, JCS_YCCK, 0, 95, px, NULL, 0);
        check_jpeg_against_reference(&m, "ycck");
        free(m.data);
    }
    /* hand-checked corner: stored (0,0,0,255) -> PIL CMYK (255,255,255,0)
     * -> RGB (0,0,0); stored (255,255,255,255) -> CMYK 0 -> white. */
    {
        uint8_t s1[4] = {0, 0, 0, 255}, s2[4] = {255, 255, 255, 255}, s3[4] = {255, 255, 255, 0};
        assert_int_equal(ref_cmyk_jpeg_luma(s1), 0);
        assert_int_equal(ref_cmyk_jpeg_luma(s2), 255);
        assert_int_equal(ref_cmyk_jpeg_luma(s3), 0);
    }
}

static void test_jpeg_exif_not_rotated(void **state)
{
    /* "Exif\0\0" + big-endian TIFF, one IFD entry: Orientation (0x0112) = 6 */
    static const uint8_t exif[] = {'E',  'x',  'i', 'f', 0, 0, 'M', 'M', 0, 42, 0, 0, 0, 8, 0, 1,
                                   0x01, 0x12, 0,   3,   0, 0, 0,   1,   0, 6,  0, 0, 0, 0, 0, 0};
    uint8_t px[JW * JH * 3];
    membuf plain, rotated;
    pneumo_image *a, *b;
    (void)state;
    make_smooth(px, JW, JH, 3, 13);
    plain = jpeg_make(JW, JH, 3, JCS_RGB, JCS_UNKNOWN, 0, 90, px, NULL, 0);
    rotated = jpeg_make(JW, JH, 3, JCS_RGB, JCS_UNKNOWN, 0, 90, px, exif, sizeof exif);
    assert_true(rotated.size > plain.size);
    a = decode_ok(&plain, "plain.jpg");
    b = decode_ok(&rotated, "exif6.jpg");
    assert_int_equal(pneumo_image_width(b), JW); /* not swapped */
    assert_int_equal(pneumo_image_height(b), JH);
    expect_pixels(b, pneumo_image_pixels(a), JW, JH, 0, "EXIF orientation ignored");
    pneumo_image_destroy(a);
    pneumo_image_destroy(b);
    free(plain.data);
    free(rotated.data);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_jpeg_gray_baseline),
        cmocka_unit_test(test_jpeg_ycbcr_and_progressive),
        cmocka_unit_test(test_jpeg_cmyk_ycck),
        cmocka_unit_test(test_jpeg_exif_not_rotated),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
