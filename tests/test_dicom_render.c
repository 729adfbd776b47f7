/* DICOM rendering to 8-bit pixels: preamble variants, 16-bit monochrome,
 * window centre/width and VOI LUTs checked against the formulas of DICOM
 * PS3.3 C.11 (dicom_fixtures.h), and colour pictures native and
 * JPEG-compressed. */
#include "testutil.h"

#include "pneumo/dataset.h"
#include "pneumo/image.h"
#include "pneumo/model.h"
#include "pneumo/train.h"

#include <dirent.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "dicom_fixtures.h"

/* Pillow's luma (what a colour JPEG becomes). */
static uint8_t luma(int r, int g, int b)
{
    return (uint8_t)((r * 19595 + g * 38470 + b * 7471 + 0x8000) >> 16);
}

static int clampi(double v) { return v < 0 ? 0 : v > 255 ? 255 : (int)floor(v + 0.5); }

/* YCbCr (full range, JFIF / PS3.3 C.7.6.3.1.2) to luma in floating point. */
static uint8_t ycc_luma_ref(int y, int cb, int cr)
{
    return luma(clampi(y + 1.402 * (cr - 128)), clampi(y - 0.344136 * (cb - 128) - 0.714136 * (cr - 128)),
                clampi(y + 1.772 * (cb - 128)));
}

/* ---- detection and the 8-bit path ---- */

static void test_preamble_variants(void **state)
{
    (void)state;
    uint8_t px[W * H];
    int32_t v[W * H];
    uint8_t want[W * H];
    render_ref r = {.slope = 1};
    picture8(px, v);
    expected_mono(v, W * H, &r, want); /* no window, no LUT: min/max of the pixel data */
    assert_int_equal(want[0], 0);      /* the fallback stretches 20..240 to 0..255 */
    for (int pre = 0; pre <= 2; pre++) {
        fixture fx = {.rows = H,
                      .cols = W,
                      .spp = 1,
                      .bits_allocated = 8,
                      .bits_stored = 8,
                      .photometric = "MONOCHROME2",
                      .pixels = px,
                      .preamble = pre};
        dbuf b = {0};
        pneumo_image *img = NULL;
        char name[32];
        snprintf(name, sizeof name, "pre%d.dcm", pre);
        char *path = write_fixture(&fx, name);
        img = load_ok(path);
        assert_pixels(img, W, H, want, 0, name);
        pneumo_image_destroy(img);
        build(&b, &fx);
        assert_int_equal(pneumo_image_decode(b.p, b.n, NULL, NULL, &img), PNEUMO_OK);
        assert_pixels(img, W, H, want, 0, name);
        pneumo_image_destroy(img);
        free(b.p);
        free(path);
    }
}

/* ---- rendering of 16-bit data ---- */

static void check_mono16(const char *name, const char *photometric, int pixel_rep, const char *slope,
                         const char *intercept, const char *center, const char *width, const char *function)
{
    uint16_t px[W * H];
    int32_t v[W * H];
    uint8_t want[W * H];
    render_ref r = {.slope = slope ? atof(slope) : 1,
                    .intercept = intercept ? atof(intercept) : 0,
                    .window = center != NULL,
                    .c = center ? atof(center) : 0,
                    .w = width ? atof(width) : 0,
                    .function = function,
                    .invert = strcmp(photometric, "MONOCHROME1") == 0};
    picture12(px, v);
    if (pixel_rep) /* signed 12-bit: shift the ramp to -2048..2047, stored in 12 bits */
        for (int i = 0; i < W * H; i++) {
            v[i] -= 2048;
            px[i] = (uint16_t)(v[i] & 0x0FFF);
        }
    fixture fx = {.rows = H,
                  .cols = W,
                  .spp = 1,
                  .bits_allocated = 16,
                  .bits_stored = 12,
                  .pixel_rep = pixel_rep,
                  .photometric = photometric,
                  .pixels = px,
                  .slope = slope,
                  .intercept = intercept,
                  .center = center,
                  .width = width,
                  .function = function};
    char *path = write_fixture(&fx, name);
    pneumo_image *img = load_ok(path);
    expected_mono(v, W * H, &r, want);
    assert_pixels(img, W, H, want, 0, name);
    pneumo_image_destroy(img);
    free(path);
}

static void test_render16(void **state)
{
    (void)state;
    check_mono16("m2_window.dcm", "MONOCHROME2", 0, NULL, NULL, "2048", "1000", NULL);
    check_mono16("m1_window.dcm", "MONOCHROME1", 0, NULL, NULL, "2048", "1000", NULL);
    check_mono16("m2_minmax.dcm", "MONOCHROME2", 0, NULL, NULL, NULL, NULL, NULL);
    check_mono16("m1_minmax.dcm", "MONOCHROME1", 0, NULL, NULL, NULL, NULL, NULL);
    check_mono16("rescale.dcm", "MONOCHROME2", 0, "0.5", "-1024", "0", "1500", NULL);
    check_mono16("neg_slope.dcm", "MONOCHROME2", 0, "-1", "100", NULL, NULL, NULL);
    check_mono16("signed.dcm", "MONOCHROME2", 1, "1", "0", "-100", "2000", NULL);
    check_mono16("exact.dcm", "MONOCHROME2", 0, NULL, NULL, "1500", "3000", "LINEAR_EXACT");
    check_mono16("sigmoid.dcm", "MONOCHROME1", 0, NULL, NULL, "2000", "1200", "SIGMOID");
}

/* Window centre 2048, width 1000: stored 2048 maps to 128 (hand-computed:
 * ((2048 - 2047.5) / 999 + 0.5) * 255 = 127.63 -> 128), 1548 and below to 0,
 * 2548 and above to 255; MONOCHROME1 gives 255 - that. */
static void test_window_hand_values(void **state)
{
    (void)state;
    uint16_t px[4] = {2048, 1548, 2548, 1000};
    const uint8_t m2[4] = {128, 0, 255, 0}, m1[4] = {127, 255, 0, 255};
    for (int inv = 0; inv < 2; inv++) {
        fixture fx = {.rows = 1,
                      .cols = 4,
                      .spp = 1,
                      .bits_allocated = 16,
                      .bits_stored = 12,
                      .photometric = inv ? "MONOCHROME1" : "MONOCHROME2",
                      .pixels = px,
                      .center = "2048",
                      .width = "1000"};
        char *path = write_fixture(&fx, "hand.dcm");
        pneumo_image *img = load_ok(path);
        assert_memory_equal(pneumo_image_pixels(img), inv ? m1 : m2, 4);
        pneumo_image_destroy(img);
        free(path);
    }
}

static void test_voi_lut(void **state)
{
    (void)state;
    uint16_t px[W * H], lut[3000];
    int32_t v[W * H];
    uint8_t want[W * H];
    picture12(px, v);
    for (int i = 0; i < 3000; i++) /* a gamma-like curve over stored 500..3499 */
        lut[i] = (uint16_t)(65535.0 * sqrt(i / 2999.0));
    fixture fx = {.rows = H,
                  .cols = W,
                  .spp = 1,
                  .bits_allocated = 16,
                  .bits_stored = 12,
                  .photometric = "MONOCHROME2",
                  .pixels = px,
                  .lut_entries = 3000,
                  .lut_first = 500,
                  .lut_bits = 16,
                  .lut = lut};
    render_ref r = {.slope = 1, .lut_entries = 3000, .lut_first = 500, .lut_bits = 16, .lut = lut};
    char *path = write_fixture(&fx, "voilut.dcm");
    pneumo_image *img = load_ok(path);
    expected_mono(v, W * H, &r, want);
    assert_pixels(img, W, H, want, 0, "VOI LUT");
    pneumo_image_destroy(img);
    if (have_tools()) { /* the LUT in implicit VR (US or OW by dictionary) and big endian */
        check_transcoded("dcmconv", "+ti", path, "voilut_implicit.dcm", want, 0);
        check_transcoded("dcmconv", "+tb", path, "voilut_big.dcm", want, 0);
    }
    free(path);
}

/* ---- colour ---- */

static void colour_picture(uint8_t *rgb)
{
    for (int y = 0; y < H; y++)
        for (int x = 0; x < W; x++) {
            uint8_t *p = rgb + 3 * (y * W + x);
            p[0] = (uint8_t)(x * 4);
            p[1] = (uint8_t)(y * 5);
            p[2] = (uint8_t)(((x / 4 + y / 4) & 1) ? 200 : 30);
        }
}

static void test_colour_native(void **state)
{
    (void)state;
    uint8_t rgb[W * H * 3], planar[W * H * 3], ybr[W * H * 3], ybr422[W * H * 2];
    uint8_t want[W * H], want_ybr[W * H], want_422[W * H];
    colour_picture(rgb);
    for (int i = 0; i < W * H; i++) {
        want[i] = luma(rgb[3 * i], rgb[3 * i + 1], rgb[3 * i + 2]);
        for (int c = 0; c < 3; c++)
            planar[c * W * H + i] = rgb[3 * i + c];
        /* Any Y, Cb, Cr triple: reuse the RGB bytes as YCbCr samples. */
        ybr[3 * i] = rgb[3 * i];
        ybr[3 * i + 1] = rgb[3 * i + 1];
        ybr[3 * i + 2] = rgb[3 * i + 2];
        want_ybr[i] = ycc_luma_ref(rgb[3 * i], rgb[3 * i + 1], rgb[3 * i + 2]);
    }
    for (int i = 0; i < W * H; i += 2) {
        ybr422[2 * i] = rgb[3 * i];
        ybr422[2 * i + 1] = rgb[3 * i + 3];
        ybr422[2 * i + 2] = rgb[3 * i + 1];
        ybr422[2 * i + 3] = rgb[3 * i + 2];
        want_422[i] = ycc_luma_ref(rgb[3 * i], rgb[3 * i + 1], rgb[3 * i + 2]);
        want_422[i + 1] = ycc_luma_ref(rgb[3 * i + 3], rgb[3 * i + 1], rgb[3 * i + 2]);
    }
    struct {
        const char *photometric;
        int planar;
        const void *px;
        size_t bytes;
        const uint8_t *want;
        int tol;
    } cases[] = {
        {"RGB", 0, rgb, 0, want, 0},
        {"RGB", 1, planar, 0, want, 0},
        {"YBR_FULL", 0, ybr, 0, want_ybr, 1},
        {"YBR_FULL_422", 0, ybr422, sizeof ybr422, want_422, 1},
    };
    for (size_t k = 0; k < sizeof cases / sizeof cases[0]; k++) {
        fixture fx = {.rows = H,
                      .cols = W,
                      .spp = 3,
                      .bits_allocated = 8,
                      .bits_stored = 8,
                      .planar = cases[k].planar,
                      .photometric = cases[k].photometric,
                      .pixels = cases[k].px,
                      .pixel_bytes = cases[k].bytes};
        char *path = write_fixture(&fx, "colour.dcm");
        pneumo_image *img = load_ok(path);
        assert_pixels(img, W, H, cases[k].want, cases[k].tol, cases[k].photometric);
        pneumo_image_destroy(img);
        free(path);
    }
}

/* The JPEG inside an encapsulated DICOM file (one fragment after an empty
 * offset table), as a malloc'ed copy. */
static uint8_t *embedded_jpeg(const char *path, size_t *len)
{
    size_t n;
    uint8_t *d = tu_read_all(path, &n), *j;
    for (size_t i = 8; i + 3 < n; i++)
        if (d[i] == 0xFF && d[i + 1] == 0xD8 && d[i + 2] == 0xFF && d[i - 8] == 0xFE && d[i - 7] == 0xFF &&
            d[i - 6] == 0x00 && d[i - 5] == 0xE0) {
            size_t l = (size_t)d[i - 4] | (size_t)d[i - 3] << 8 | (size_t)d[i - 2] << 16 |
                       (size_t)d[i - 1] << 24;
            assert_true(i + l <= n);
            j = malloc(l);
            assert_non_null(j);
            memcpy(j, d + i, l);
            free(d);
            *len = l;
            return j;
        }
    fail_msg("%s: no JPEG fragment found", path);
    return NULL;
}

/* A colour JPEG and its DICOM wrapping give the same pixels. */
static void test_colour_jpeg(void **state)
{
    (void)state;
    if (!have_tools())
        skip();
    uint8_t rgb[W * H * 3];
    colour_picture(rgb);
    fixture fx = {.rows = H,
                  .cols = W,
                  .spp = 3,
                  .bits_allocated = 8,
                  .bits_stored = 8,
                  .photometric = "RGB",
                  .pixels = rgb};
    char *src = write_fixture(&fx, "rgb.dcm");
    char *jp = transcode("dcmcjpeg", "+eb +q 90", src, "rgb_jpeg.dcm");
    size_t jlen = 0;
    uint8_t *jpeg = embedded_jpeg(jp, &jlen);
    pneumo_image *ref = NULL, *img = load_ok(jp);
    assert_int_equal(pneumo_image_decode(jpeg, jlen, "embedded.jpeg", NULL, &ref), PNEUMO_OK);
    assert_pixels(img, W, H, pneumo_image_pixels(ref), 0, "colour JPEG in DICOM");
    pneumo_image_destroy(ref);
    pneumo_image_destroy(img);
    free(jpeg);
    free(jp);
    free(src);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_preamble_variants),  cmocka_unit_test(test_render16),
        cmocka_unit_test(test_window_hand_values), cmocka_unit_test(test_voi_lut),
        cmocka_unit_test(test_colour_native),      cmocka_unit_test(test_colour_jpeg),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
