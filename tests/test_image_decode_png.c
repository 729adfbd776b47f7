/* Image objects and PNG decoding: every fixture is generated with libpng
 * (image_fixtures.h), decoded with pneumo_image_*, and compared with PIL's
 * convert('L') computed independently in the test. */
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

/* Deterministic, smooth-ish test pattern value for (x, y, channel). */
static uint8_t pattern(int x, int y, int c, uint64_t *rng)
{
    int v = (x * 7 + y * 3 + c * 60) % 256;
    v += (int)(tu_next(rng) % 9) - 4;
    return (uint8_t)(v < 0 ? 0 : v > 255 ? 255 : v);
}

/* ------------------------------------------------------------------ */
/* luma and basics                                                     */

static void test_luma_weights(void **state)
{
    (void)state;
    /* Hand-computed with Pillow's L24: (r*19595 + g*38470 + b*7471 + 0x8000) >> 16 */
    assert_int_equal(pn_luma(255, 0, 0), 76);  /* 76.245 */
    assert_int_equal(pn_luma(0, 255, 0), 150); /* 149.685: rounds, unlike G*587/1000 */
    assert_int_equal(pn_luma(0, 0, 255), 29);  /* 29.07 */
    assert_int_equal(pn_luma(255, 255, 255), 255);
    assert_int_equal(pn_luma(0, 0, 0), 0);
    assert_int_equal(pn_luma(10, 200, 30), 124); /* 123.81 */
    assert_int_equal(pn_luma(128, 128, 128), 128);
    for (int v = 0; v < 256; v++)
        assert_int_equal(pn_luma((unsigned)v, (unsigned)v, (unsigned)v), v);

    /* Same through an RGB PNG: R, G, B, white, black, mixed */
    {
        const uint8_t raw[] = {255, 0, 0, 0, 255, 0, 0, 0, 255, 255, 255, 255, 0, 0, 0, 10, 200, 30};
        const uint8_t want[] = {76, 150, 29, 255, 0, 124};
        membuf m = png_make(6, 1, PNG_COLOR_TYPE_RGB, 8, 0, raw, sizeof raw, NULL, 0, NULL, 0);
        pneumo_image *img = decode_ok(&m, "rgb-luma.png");
        expect_pixels(img, want, 6, 1, 0, "rgb luma");
        pneumo_image_destroy(img);
        free(m.data);
    }
}

static void test_image_object(void **state)
{
    pneumo_image *img = NULL;
    pneumo_decode_limits lim;
    (void)state;
    assert_int_equal(pneumo_image_create(3, 2, &img), PNEUMO_OK);
    assert_int_equal(pneumo_image_width(img), 3);
    assert_int_equal(pneumo_image_height(img), 2);
    for (int i = 0; i < 6; i++)
        assert_int_equal(pneumo_image_pixels(img)[i], 0);
    pneumo_image_pixels_mut(img)[5] = 9;
    assert_int_equal(pneumo_image_pixels(img)[5], 9);
    pneumo_image_destroy(img);
    pneumo_image_destroy(NULL);
    assert_int_equal(pneumo_image_width(NULL), 0);
    assert_null(pneumo_image_pixels(NULL));
    assert_int_equal(pneumo_image_create(0, 2, &img), PNEUMO_ERR_INVALID_ARG);
    assert_null(img);
    assert_int_equal(pneumo_image_create(65536, 65536, &img), PNEUMO_ERR_LIMIT);
    assert_int_equal(pneumo_image_create(1, 1, NULL), PNEUMO_ERR_INVALID_ARG);

    pneumo_decode_default_limits(&lim);
    assert_int_equal(lim.max_side, 16384);
    assert_true(lim.max_pixels == (int64_t)128 * 1024 * 1024);
    assert_true(lim.max_file_bytes == (int64_t)256 * 1024 * 1024);
    lim.reserved[3] = 1;
    {
        const uint8_t raw[] = {1, 2, 3, 4};
        membuf m = png_make(2, 2, PNG_COLOR_TYPE_GRAY, 8, 0, raw, 2, NULL, 0, NULL, 0);
        assert_int_equal(pneumo_image_decode(m.data, m.size, "x.png", &lim, &img), PNEUMO_ERR_INVALID_ARG);
        pneumo_decode_default_limits(&lim);
        lim.max_side = 0;
        assert_int_equal(pneumo_image_decode(m.data, m.size, "x.png", &lim, &img), PNEUMO_ERR_INVALID_ARG);
        assert_int_equal(pneumo_image_decode(m.data, m.size, "x.png", NULL, NULL), PNEUMO_ERR_INVALID_ARG);
        free(m.data);
    }
}

/* ------------------------------------------------------------------ */
/* PNG variants                                                        */

static void test_png_gray8_rgb_rgba_ga(void **state)
{
    enum { W = 37, H = 23 };
    uint64_t rng = 1;
    uint8_t src[W * H * 4];
    uint8_t want[W * H];
    (void)state;
    for (int y = 0; y < H; y++)
        for (int x = 0; x < W; x++)
            for (int c = 0; c < 4; c++)
                src[(y * W + x) * 4 + c] = pattern(x, y, c, &rng);

    for (int ch = 1; ch <= 4; ch++) {
        static const int types[5] = {0, PNG_COLOR_TYPE_GRAY, PNG_COLOR_TYPE_GRAY_ALPHA, PNG_COLOR_TYPE_RGB,
                                     PNG_COLOR_TYPE_RGB_ALPHA};
        uint8_t raw[W * H * 4];
        for (int i = 0; i < W * H; i++) {
            const uint8_t *p = &src[i * 4];
            memcpy(&raw[i * ch], p, (size_t)ch);
            want[i] = ch <= 2 ? p[0] : ref_luma(p[0], p[1], p[2]);
        }
        for (int interlace = 0; interlace <= 1; interlace++) {
            char what[64];
            membuf m = png_make(W, H, types[ch], 8, interlace, raw, (size_t)W * ch, NULL, 0, NULL, 0);
            pneumo_image *img;
            snprintf(what, sizeof what, "png %d channels%s", ch, interlace ? " interlaced" : "");
            img = decode_ok(&m, what);
            expect_pixels(img, want, W, H, 0, what);
            pneumo_image_destroy(img);
            free(m.data);
        }
    }
}

static void test_png_palette(void **state)
{
    enum { W = 19, H = 11 };
    png_color pal[16];
    uint8_t trns[16];
    uint8_t raw8[W * H], raw4[H * ((W + 1) / 2)];
    uint8_t want[W * H];
    (void)state;
    for (int i = 0; i < 16; i++) {
        pal[i].red = (png_byte)(i * 17);
        pal[i].green = (png_byte)(255 - i * 13);
        pal[i].blue = (png_byte)((i * 101) % 256);
        trns[i] = (uint8_t)(i * 16); /* varying alpha: must be ignored */
    }
    memset(raw4, 0, sizeof raw4);
    for (int y = 0; y < H; y++)
        for (int x = 0; x < W; x++) {
            int idx = (x * 3 + y * 5) % 16;
            raw8[y * W + x] = (uint8_t)idx;
            raw4[y * ((W + 1) / 2) + x / 2] |= (uint8_t)(x % 2 ? idx : idx << 4);
            want[y * W + x] = ref_luma(pal[idx].red, pal[idx].green, pal[idx].blue);
        }
    for (int variant = 0; variant < 6; variant++) {
        int with_trns = variant & 1, depth4 = (variant >> 1) & 1, interlace = variant >> 2;
        char what[64];
        membuf m = png_make(W, H, PNG_COLOR_TYPE_PALETTE, depth4 ? 4 : 8, interlace, depth4 ? raw4 : raw8,
                            depth4 ? (W + 1) / 2 : W, pal, 16, with_trns ? trns : NULL, with_trns ? 16 : 0);
        pneumo_image *img;
        snprintf(what, sizeof what, "palette %d-bit%s%s", depth4 ? 4 : 8, with_trns ? " tRNS" : "",
                 interlace ? " interlaced" : "");
        img = decode_ok(&m, what);
        expect_pixels(img, want, W, H, 0, what);
        pneumo_image_destroy(img);
        free(m.data);
    }
}

static void test_png_16bit_and_low_depth(void **state)
{
    enum { W = 13, H = 7 };
    uint8_t raw16g[W * H * 2], raw16rgb[W * H * 6], raw16rgba[W * H * 8];
    uint8_t want_g[W * H], want_rgb[W * H];
    uint64_t rng = 7;
    (void)state;
    for (int i = 0; i < W * H; i++) {
        uint16_t v[4];
        for (int c = 0; c < 4; c++)
            v[c] = (uint16_t)(tu_next(&rng) & 0xFFFF);
        v[0] = (uint16_t)(i == 0 ? 0x00FF : i == 1 ? 0xFF80 : v[0]); /* edge cases */
        raw16g[i * 2] = (uint8_t)(v[0] >> 8);
        raw16g[i * 2 + 1] = (uint8_t)v[0];
        want_g[i] = (uint8_t)(v[0] >> 8);
        for (int c = 0; c < 4; c++) {
            if (c < 3) {
                raw16rgb[i * 6 + c * 2] = (uint8_t)(v[c] >> 8);
                raw16rgb[i * 6 + c * 2 + 1] = (uint8_t)v[c];
            }
            raw16rgba[i * 8 + c * 2] = (uint8_t)(v[c] >> 8);
            raw16rgba[i * 8 + c * 2 + 1] = (uint8_t)v[c];
        }
        want_rgb[i] = ref_luma(v[0] >> 8, v[1] >> 8, v[2] >> 8);
    }
    {
        membuf m = png_make(W, H, PNG_COLOR_TYPE_GRAY, 16, 0, raw16g, W * 2, NULL, 0, NULL, 0);
        pneumo_image *img = decode_ok(&m, "gray16.png");
        expect_pixels(img, want_g, W, H, 0, "16-bit gray (high byte)");
        assert_int_equal(pneumo_image_pixels(img)[0], 0);
        assert_int_equal(pneumo_image_pixels(img)[1], 255);
        pneumo_image_destroy(img);
        free(m.data);
    }
    for (int interlace = 0; interlace <= 1; interlace++) {
        membuf m = png_make(W, H, PNG_COLOR_TYPE_RGB, 16, interlace, raw16rgb, W * 6, NULL, 0, NULL, 0);
        membuf m2 = png_make(W, H, PNG_COLOR_TYPE_RGB_ALPHA, 16, interlace, raw16rgba, W * 8, NULL, 0, NULL,
                             0);
        pneumo_image *img = decode_ok(&m, "rgb16.png");
        pneumo_image *img2 = decode_ok(&m2, "rgba16.png");
        expect_pixels(img, want_rgb, W, H, 0, "16-bit RGB");
        expect_pixels(img2, want_rgb, W, H, 0, "16-bit RGBA");
        pneumo_image_destroy(img);
        pneumo_image_destroy(img2);
        free(m.data);
        free(m2.data);
    }
    /* 1, 2, 4-bit gray: values scale by bit replication (PIL "1", "L;2", "L;4") */
    {
        static const int depths[3] = {1, 2, 4};
        for (int d = 0; d < 3; d++) {
            int bits = depths[d], maxv = (1 << bits) - 1;
            size_t rowbytes = ((size_t)W * (size_t)bits + 7) / 8;
            uint8_t raw[H * 8];
            uint8_t want[W * H];
            memset(raw, 0, sizeof raw);
            for (int y = 0; y < H; y++)
                for (int x = 0; x < W; x++) {
                    int v = (x + y) % (maxv + 1);
                    int bitpos = x * bits;
                    raw[(size_t)y * rowbytes + (size_t)(bitpos / 8)] |= (uint8_t)(v
                                                                                  << (8 - bits - bitpos % 8));
                    want[y * W + x] = (uint8_t)(v * 255 / maxv);
                }
            for (int interlace = 0; interlace <= 1; interlace++) {
                membuf m = png_make(W, H, PNG_COLOR_TYPE_GRAY, bits, interlace, raw, rowbytes, NULL, 0, NULL,
                                    0);
                pneumo_image *img = decode_ok(&m, "lowbit.png");
                expect_pixels(img, want, W, H, 0, "low bit depth gray");
                pneumo_image_destroy(img);
                free(m.data);
            }
        }
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_luma_weights),
        cmocka_unit_test(test_image_object),
        cmocka_unit_test(test_png_gray8_rgb_rgba_ga),
        cmocka_unit_test(test_png_palette),
        cmocka_unit_test(test_png_16bit_and_low_depth),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
