/* Contrast, gamma and random crops (include/pneumo/augment.h): the images of
 * every pre-existing setting are bit-identical to the code before these
 * options existed, hand-computed PIL/torchvision pixels, the crop against a
 * direct crop + bilinear resize, the window staying inside the image,
 * determinism and the refusals. */
#include "testutil.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "pneumo/augment.h"
#include "data/augment.h"

#include "augment_fixtures.h"

enum { RW = 37, RH = 29, RN = 6 };

static uint64_t fnv1a(uint64_t h, const void *data, size_t n)
{
    const unsigned char *b = data;
    for (size_t i = 0; i < n; i++) {
        h ^= b[i];
        h *= 0x100000001B3ull;
    }
    return h;
}

/* Checksum of RN augmented images (pixels and the nine original parameters,
 * field by field so the new fields do not enter it). */
static uint64_t batch_checksum(const pneumo_augment_options *o)
{
    uint8_t src[RW * RH];
    float dst[RW * RH];
    uint64_t h = 0xCBF29CE484222325ull;
    make_grid(src, RW, RH);
    for (int i = 0; i < RN; i++) {
        pneumo_augment_params p;
        assert_int_equal(pneumo_augment_image(o, 42, 3, (uint64_t)i, src, sizeof src, RW, RH, dst, RW * RH,
                                              &p),
                         PNEUMO_OK);
        h = fnv1a(h, dst, sizeof dst);
        const double d[] = {p.theta_deg, p.tx, p.ty, p.shear_deg, p.zx, p.zy, p.brightness};
        h = fnv1a(h, d, sizeof d);
        h = fnv1a(h, &p.flip_h, sizeof p.flip_h);
        h = fnv1a(h, &p.flip_v, sizeof p.flip_v);
    }
    return h;
}

/* Values recorded from the code before contrast, gamma and crop existed. */
static void test_existing_settings_unchanged(void **state)
{
    (void)state;
    pneumo_augment_options o;
    uint64_t got[6];
    pneumo_augment_default_options(&o);
    got[0] = batch_checksum(&o);
    pneumo_augment_article_options(&o);
    got[1] = batch_checksum(&o);
    full_options(&o);
    got[2] = batch_checksum(&o);
    full_options(&o);
    o.fill_mode = PNEUMO_FILL_CONSTANT;
    o.cval = 77;
    o.brightness_stretch = 0;
    got[3] = batch_checksum(&o);
    full_options(&o);
    o.fill_mode = PNEUMO_FILL_REFLECT;
    o.rescale = 0;
    got[4] = batch_checksum(&o);
    full_options(&o);
    o.fill_mode = PNEUMO_FILL_WRAP;
    o.horizontal_flip = 0;
    got[5] = batch_checksum(&o);
    const uint64_t want[6] = {0x06b7e1c533cbc799ull, 0x49592bb199853eccull, 0xb6f89c682c3abb59ull,
                              0x3da5ccf990c1d831ull, 0xf74b5711cc0be1ccull, 0x4bfafa682fa3fd31ull};
    for (int i = 0; i < 6; i++)
        assert_true(got[i] == want[i]);
}

/* Applies contrast c and gamma g to a 2x2 image, no geometry, rescale off. */
static void apply_intensity(const uint8_t src[4], float c, float g, float out[4])
{
    pneumo_augment_options o;
    pneumo_augment_params p;
    pneumo_augment_default_options(&o);
    o.rescale = 0;
    pneumo_augment_identity_params(&p);
    p.contrast = c;
    p.gamma = g;
    assert_int_equal(pneumo_augment_apply(&o, &p, src, 4, 2, 2, out, 4), PNEUMO_OK);
}

static void test_contrast_and_gamma_pixels(void **state)
{
    (void)state;
    const uint8_t src[4] = {0, 100, 200, 255};
    float out[4];
    /* mean 555 / 4 = 138.75 -> grey 139; out = trunc(139 + c (x - 139)) */
    apply_intensity(src, 0.5f, 0, out);
    assert_true(out[0] == 69 && out[1] == 119 && out[2] == 169 && out[3] == 197);
    /* c > 1 extrapolates and clips: -69.5 -> 0, 80.5 -> 80, 230.5 -> 230, 313 -> 255 */
    apply_intensity(src, 1.5f, 0, out);
    assert_true(out[0] == 0 && out[1] == 80 && out[2] == 230 && out[3] == 255);
    /* c = 1 is the identity */
    apply_intensity(src, 1.0f, 0, out);
    assert_true(out[0] == 0 && out[1] == 100 && out[2] == 200 && out[3] == 255);
    /* gamma 2: trunc(255.999 (x/255)^2): 39.37 -> 39, 157.48 -> 157, 255.999 -> 255 */
    apply_intensity(src, 0, 2.0f, out);
    assert_true(out[0] == 0 && out[1] == 39 && out[2] == 157 && out[3] == 255);
    /* gamma 0.5: 160.31 -> 160, 226.72 -> 226 */
    apply_intensity(src, 0, 0.5f, out);
    assert_true(out[0] == 0 && out[1] == 160 && out[2] == 226 && out[3] == 255);
    /* contrast first, then gamma: 69, 119, 169, 197 squared -> 18, 55, 112, 152 */
    apply_intensity(src, 0.5f, 2.0f, out);
    assert_true(out[0] == 18 && out[1] == 55 && out[2] == 112 && out[3] == 152);

    /* the table and the lookup pass themselves */
    pneumo_augment_params p;
    uint8_t lut[256], mapped[4];
    pneumo_augment_identity_params(&p);
    p.gamma = 2.0f;
    pn_augment_intensity_lut(&p, src, 4, lut);
    assert_int_equal(lut[1], 0);
    assert_int_equal(lut[128], 64); /* 255.999 * (128/255)^2 = 64.50 */
    pn_augment_map_u8(src, mapped, 4, lut);
    assert_true(mapped[1] == 39 && mapped[2] == 157);
}

/* Bilinear sample of src at (y, x), both inside [0, n - 1], in double. */
static double bilinear(const uint8_t *src, int w, int h, double y, double x)
{
    const int iy = (int)y, ix = (int)x;
    const int iy1 = iy < h - 1 ? iy + 1 : iy, ix1 = ix < w - 1 ? ix + 1 : ix;
    const double fy = y - iy, fx = x - ix;
    const double top = src[iy * w + ix] + fx * (src[iy * w + ix1] - src[iy * w + ix]);
    const double bot = src[iy1 * w + ix] + fx * (src[iy1 * w + ix1] - src[iy1 * w + ix]);
    return top + fy * (bot - top);
}

static void test_crop_is_crop_and_resize(void **state)
{
    (void)state;
    enum { W = 37, H = 29 };
    uint8_t src[W * H];
    float dst[W * H];
    pneumo_augment_options o;
    pneumo_augment_params p;
    make_grid(src, W, H);
    pneumo_augment_default_options(&o);
    o.rescale = 0;
    o.crop_lo = 0.5f;
    for (uint64_t i = 0; i < 20; i++) {
        assert_int_equal(pneumo_augment_image(&o, 7, 1, i, src, sizeof src, W, H, dst, W * H, &p), PNEUMO_OK);
        assert_true(p.crop_scale >= 0.5f && p.crop_scale < 1.0f);
        assert_true(p.crop_row >= 0 && p.crop_col >= 0);
        double maxerr = 0;
        for (int r = 0; r < H; r++)
            for (int c = 0; c < W; c++) {
                const double want = bilinear(src, W, H, p.crop_row + (double)p.crop_scale * r,
                                             p.crop_col + (double)p.crop_scale * c);
                const double e = fabs(want - dst[r * W + c]);
                maxerr = e > maxerr ? e : maxerr;
            }
        assert_true(maxerr < 2e-3);
    }
}

static void test_crop_window_stays_inside(void **state)
{
    (void)state;
    enum { W = 23, H = 17 };
    uint8_t src[W * H];
    float dst[W * H];
    pneumo_augment_options o;
    pneumo_augment_params p;
    make_grid(src, W, H);
    pneumo_augment_default_options(&o);
    o.rescale = 0;
    o.fill_mode = PNEUMO_FILL_CONSTANT;
    o.cval = 1000; /* any fill pixel shows as 1000 */
    o.horizontal_flip = 1;
    o.vertical_flip = 1;
    o.crop_lo = 0.05f;
    double smin = 1, rmax = 0;
    for (uint64_t i = 0; i < 3000; i++) {
        assert_int_equal(pneumo_augment_image(&o, 99, i % 3, i, src, sizeof src, W, H, dst, W * H, &p),
                         PNEUMO_OK);
        assert_true((double)p.crop_scale * (H - 1) + p.crop_row <= H - 1);
        assert_true((double)p.crop_scale * (W - 1) + p.crop_col <= W - 1);
        smin = p.crop_scale < smin ? p.crop_scale : smin;
        const double rel = p.crop_row / ((1.0 - p.crop_scale) * (H - 1));
        rmax = rel > rmax ? rel : rmax;
        for (int k = 0; k < W * H; k++)
            assert_true(dst[k] >= 0 && dst[k] <= 255);
    }
    /* the draws cover the range: small windows and windows at the far edge */
    assert_true(smin < 0.06);
    assert_true(rmax > 0.99);
}

static void test_new_draws_deterministic_and_last(void **state)
{
    (void)state;
    pneumo_augment_options o, base;
    pneumo_augment_params a, b, k;
    full_options(&base);
    o = base;
    o.contrast_lo = 0.5f;
    o.contrast_hi = 1.5f;
    o.gamma_lo = 0.7f;
    o.gamma_hi = 1.4f;
    o.crop_lo = 0.6f;
    assert_int_equal(pneumo_augment_draw(&o, 11, 2, 5, 64, 48, &a), PNEUMO_OK);
    assert_int_equal(pneumo_augment_draw(&o, 11, 2, 5, 64, 48, &b), PNEUMO_OK);
    assert_memory_equal(&a, &b, sizeof a);
    assert_true(a.contrast >= 0.5f && a.contrast <= 1.5f && a.gamma >= 0.7f && a.gamma <= 1.4f);
    /* the Keras parameters are those drawn without the new options */
    assert_int_equal(pneumo_augment_draw(&base, 11, 2, 5, 64, 48, &k), PNEUMO_OK);
    assert_true(a.theta_deg == k.theta_deg && a.zx == k.zx && a.zy == k.zy && a.brightness == k.brightness &&
                a.flip_h == k.flip_h && a.flip_v == k.flip_v && a.tx == k.tx && a.shear_deg == k.shear_deg);
    assert_true(k.contrast == 0 && k.gamma == 0 && k.crop_scale == 0 && k.crop_row == 0);
    /* another (seed, epoch, index) gives other numbers */
    assert_int_equal(pneumo_augment_draw(&o, 11, 2, 6, 64, 48, &b), PNEUMO_OK);
    assert_true(a.contrast != b.contrast && a.gamma != b.gamma && a.crop_scale != b.crop_scale);
    assert_int_equal(pneumo_augment_draw(&o, 11, 3, 5, 64, 48, &b), PNEUMO_OK);
    assert_true(a.contrast != b.contrast && a.crop_row != b.crop_row);
    assert_int_equal(pneumo_augment_draw(&o, 12, 2, 5, 64, 48, &b), PNEUMO_OK);
    assert_true(a.gamma != b.gamma && a.crop_col != b.crop_col);
}

static void expect_bad(const pneumo_augment_options *o, const char *field)
{
    assert_int_equal(pneumo_augment_validate_options(o), PNEUMO_ERR_INVALID_ARG);
    assert_non_null(strstr(pneumo_last_error(), field));
}

static void test_new_options_rejected(void **state)
{
    (void)state;
    pneumo_augment_options o;
    pneumo_augment_default_options(&o);
    o.contrast_lo = 1.2f;
    o.contrast_hi = 0.8f;
    expect_bad(&o, "contrast_lo");
    o.contrast_lo = 0;
    o.contrast_hi = 1;
    expect_bad(&o, "contrast_hi");
    o.contrast_hi = NAN;
    expect_bad(&o, "contrast");
    pneumo_augment_default_options(&o);
    o.gamma_lo = -1;
    o.gamma_hi = 2;
    expect_bad(&o, "gamma_lo");
    o.gamma_lo = 1;
    o.gamma_hi = 2000;
    expect_bad(&o, "gamma_hi");
    pneumo_augment_default_options(&o);
    o.crop_lo = 1.5f;
    expect_bad(&o, "crop_lo");
    o.crop_lo = -0.1f;
    expect_bad(&o, "crop_lo");
    o.crop_lo = 1.0f;
    assert_int_equal(pneumo_augment_validate_options(&o), PNEUMO_OK);

    /* parameters: a window outside the image, offsets without a crop */
    pneumo_augment_params p;
    uint8_t src[16] = {0};
    float dst[16] = {-7};
    pneumo_augment_default_options(&o);
    pneumo_augment_identity_params(&p);
    p.crop_scale = 0.5f;
    p.crop_row = 1.6f; /* 0.5 * 3 + 1.6 > 3 */
    assert_int_equal(pneumo_augment_apply(&o, &p, src, 16, 4, 4, dst, 16), PNEUMO_ERR_INVALID_ARG);
    assert_non_null(strstr(pneumo_last_error(), "crop window"));
    p.crop_row = 1.5f;
    assert_int_equal(pneumo_augment_apply(&o, &p, src, 16, 4, 4, dst, 16), PNEUMO_OK);
    pneumo_augment_identity_params(&p);
    p.crop_col = 1;
    dst[0] = -7;
    assert_int_equal(pneumo_augment_apply(&o, &p, src, 16, 4, 4, dst, 16), PNEUMO_ERR_INVALID_ARG);
    assert_true(dst[0] == -7);
    pneumo_augment_identity_params(&p);
    p.gamma = -1;
    assert_int_equal(pneumo_augment_apply(&o, &p, src, 16, 4, 4, dst, 16), PNEUMO_ERR_INVALID_ARG);
    assert_non_null(strstr(pneumo_last_error(), "gamma"));
    pneumo_augment_identity_params(&p);
    p.contrast = NAN;
    assert_int_equal(pneumo_augment_apply(&o, &p, src, 16, 4, 4, dst, 16), PNEUMO_ERR_INVALID_ARG);
    assert_non_null(strstr(pneumo_last_error(), "contrast"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_existing_settings_unchanged),
        cmocka_unit_test(test_contrast_and_gamma_pixels),
        cmocka_unit_test(test_crop_is_crop_and_resize),
        cmocka_unit_test(test_crop_window_stays_inside),
        cmocka_unit_test(test_new_draws_deterministic_and_last),
        cmocka_unit_test(test_new_options_rejected),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
