/* The augmentation's random draws, brightness, and refusals
 * (include/pneumo/augment.h): determinism, ranges and distribution of the
 * drawn parameters, the brightness factor, invalid options and arguments, and
 * extreme parameters. */
#include "testutil.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "pneumo/augment.h"
#include "data/augment.h"

#include "augment_fixtures.h"

static void test_draw_is_deterministic(void **state)
{
    (void)state;
    pneumo_augment_options o;
    pneumo_augment_params a, b;
    full_options(&o);
    assert_int_equal(pneumo_augment_draw(&o, 1234, 3, 17, 500, 400, &a), PNEUMO_OK);
    assert_int_equal(pneumo_augment_draw(&o, 1234, 3, 17, 500, 400, &b), PNEUMO_OK);
    assert_memory_equal(&a, &b, sizeof a);

    assert_int_equal(pneumo_augment_draw(&o, 1234, 3, 18, 500, 400, &b), PNEUMO_OK);
    assert_true(a.theta_deg != b.theta_deg && a.zx != b.zx && a.shear_deg != b.shear_deg);
    assert_int_equal(pneumo_augment_draw(&o, 1234, 4, 17, 500, 400, &b), PNEUMO_OK);
    assert_true(a.theta_deg != b.theta_deg && a.zx != b.zx);
    assert_int_equal(pneumo_augment_draw(&o, 1235, 3, 17, 500, 400, &b), PNEUMO_OK);
    assert_true(a.theta_deg != b.theta_deg && a.zx != b.zx);

    /* (seed, epoch, index) are not interchangeable */
    pneumo_augment_params c, d;
    assert_int_equal(pneumo_augment_draw(&o, 5, 0, 1, 64, 64, &c), PNEUMO_OK);
    assert_int_equal(pneumo_augment_draw(&o, 5, 1, 0, 64, 64, &d), PNEUMO_OK);
    assert_true(c.zx != d.zx);

    /* the stream itself is a pure function of its key */
    pn_augment_rng r1, r2;
    pn_augment_rng_init(&r1, 9, 8, 7);
    pn_augment_rng_init(&r2, 9, 8, 7);
    for (int i = 0; i < 100; i++)
        assert_true(pn_augment_rng_next(&r1) == pn_augment_rng_next(&r2));

    /* image_ = draw + apply */
    enum { W = 20, H = 16 };
    uint8_t src[W * H];
    float d1[W * H], d2[W * H];
    make_grid(src, W, H);
    assert_int_equal(pneumo_augment_image(&o, 1234, 3, 17, src, (size_t)W * H, W, H, d1, (size_t)W * H, &a),
                     PNEUMO_OK);
    assert_int_equal(pneumo_augment_draw(&o, 1234, 3, 17, W, H, &b), PNEUMO_OK);
    assert_memory_equal(&a, &b, sizeof a);
    assert_int_equal(pneumo_augment_apply(&o, &b, src, (size_t)W * H, W, H, d2, (size_t)W * H), PNEUMO_OK);
    assert_memory_equal(d1, d2, sizeof d1);
    assert_int_equal(pneumo_augment_image(&o, 1234, 3, 17, src, (size_t)W * H, W, H, d1, (size_t)W * H, NULL),
                     PNEUMO_OK);
    assert_memory_equal(d1, d2, sizeof d1);
}

static void test_draw_ranges_and_distribution(void **state)
{
    (void)state;
    enum { N = 10000, W = 500, H = 400 };
    pneumo_augment_options o;
    pneumo_augment_params p;
    double sum_zx = 0, sum_zy = 0, sum_zxzy = 0, sum_zx2 = 0, sum_zy2 = 0;
    double sum_shear = 0, sum_theta = 0, sum_b = 0;
    int flips_h = 0, flips_v = 0;
    double min_zx = 10, max_zx = 0;
    full_options(&o);
    for (int i = 0; i < N; i++) {
        assert_int_equal(pneumo_augment_draw(&o, 2024, 0, (uint64_t)i, W, H, &p), PNEUMO_OK);
        assert_true(p.theta_deg >= -20 && p.theta_deg < 20);
        assert_true(p.tx >= -0.15 * H && p.tx < 0.15 * H); /* rows: height */
        assert_true(p.ty >= -0.1 * W && p.ty < 0.1 * W);   /* cols: width */
        assert_true(p.shear_deg >= -0.2 && p.shear_deg < 0.2);
        assert_true(p.zx >= 0.8 && p.zx < 1.2);
        assert_true(p.zy >= 0.8 && p.zy < 1.2);
        assert_true(p.brightness >= 0.7 && p.brightness < 1.3);
        assert_true(p.flip_h == 0 || p.flip_h == 1);
        assert_true(p.flip_v == 0 || p.flip_v == 1);
        sum_zx += p.zx;
        sum_zy += p.zy;
        sum_zx2 += p.zx * p.zx;
        sum_zy2 += p.zy * p.zy;
        sum_zxzy += p.zx * p.zy;
        sum_shear += p.shear_deg;
        sum_theta += p.theta_deg;
        sum_b += p.brightness;
        flips_h += p.flip_h;
        flips_v += p.flip_v;
        min_zx = fmin(min_zx, p.zx);
        max_zx = fmax(max_zx, p.zx);
    }
    double mzx = sum_zx / N, mzy = sum_zy / N;
    assert_true(fabs(mzx - 1.0) < 0.01);
    assert_true(fabs(mzy - 1.0) < 0.01);
    /* U(0.8, 1.2): variance 0.4^2 / 12 */
    double vzx = sum_zx2 / N - mzx * mzx;
    assert_true(fabs(vzx - 0.16 / 12) < 0.0015);
    /* zx and zy independent: correlation near 0 */
    double cov = sum_zxzy / N - mzx * mzy;
    double vzy = sum_zy2 / N - mzy * mzy;
    assert_true(fabs(cov / sqrt(vzx * vzy)) < 0.05);
    assert_true(min_zx < 0.81 && max_zx > 1.19);
    assert_true(fabs(sum_shear / N) < 0.01);
    assert_true(fabs(sum_theta / N) < 0.5);
    assert_true(fabs(sum_b / N - 1.0) < 0.01);
    assert_true(fabs((double)flips_h / N - 0.5) < 0.02);
    assert_true(fabs((double)flips_v / N - 0.5) < 0.02);

    /* disabled flips never fire */
    pneumo_augment_article_options(&o);
    o.horizontal_flip = 0;
    for (int i = 0; i < 1000; i++) {
        assert_int_equal(pneumo_augment_draw(&o, 1, 1, (uint64_t)i, W, H, &p), PNEUMO_OK);
        assert_int_equal(p.flip_h, 0);
        assert_int_equal(p.flip_v, 0);
        assert_true(p.theta_deg == 0 && p.tx == 0 && p.ty == 0 && p.brightness == 0);
    }
}

/* ---- brightness ----------------------------------------------------------- */

static void bright(const uint8_t *src, int n, double factor, int stretch, float *dst)
{
    pneumo_augment_options o;
    pneumo_augment_params p;
    pneumo_augment_default_options(&o);
    o.brightness_stretch = stretch;
    o.rescale = 0;
    pneumo_augment_identity_params(&p);
    p.brightness = factor;
    assert_int_equal(pneumo_augment_apply(&o, &p, src, (size_t)n, n, 1, dst, (size_t)n), PNEUMO_OK);
}

static void test_brightness(void **state)
{
    (void)state;
    float dst[4];
    /* full 0..255 range: the stretch is a no-op; PIL truncates and clips */
    const uint8_t full[4] = {0, 100, 201, 255};
    bright(full, 4, 0.5, 1, dst);
    assert_true(dst[0] == 0 && dst[1] == 50 && dst[2] == 100 && dst[3] == 127);
    bright(full, 4, 1.5, 1, dst);
    assert_true(dst[0] == 0 && dst[1] == 150 && dst[2] == 255 && dst[3] == 255);
    bright(full, 4, 1.0, 1, dst);
    assert_true(dst[0] == 0 && dst[1] == 100 && dst[2] == 201 && dst[3] == 255);

    /* keras_preprocessing (scale=True) stretches min..max to 0..255 first:
     * 50, 100, 150, 200 -> 0, 85, 170, 255 -> x 0.5 -> 0, 42, 85, 127 */
    const uint8_t mid[4] = {50, 100, 150, 200};
    bright(mid, 4, 0.5, 1, dst);
    assert_true(dst[0] == 0 && dst[1] == 42 && dst[2] == 85 && dst[3] == 127);
    /* Keras >= 2.9 (scale=False): no stretch */
    bright(mid, 4, 0.5, 0, dst);
    assert_true(dst[0] == 25 && dst[1] == 50 && dst[2] == 75 && dst[3] == 100);
    bright(mid, 4, 1.3, 0, dst);
    assert_true(dst[0] == 65 && dst[1] == 130 && dst[2] == 195 && dst[3] == 255);
    /* a constant image has max - min = 0: stretch gives 0 everywhere */
    const uint8_t flat[4] = {90, 90, 90, 90};
    bright(flat, 4, 1.2, 1, dst);
    assert_true(dst[0] == 0 && dst[3] == 0);

    /* rescale comes after brightness */
    pneumo_augment_options o;
    pneumo_augment_params p;
    pneumo_augment_default_options(&o);
    pneumo_augment_identity_params(&p);
    p.brightness = 0.5;
    p.flip_h = 1;
    assert_int_equal(pneumo_augment_apply(&o, &p, full, 4, 4, 1, dst, 4), PNEUMO_OK);
    const float rs = (float)(1.0 / 255.0);
    assert_true(dst[0] == 127 * rs && dst[1] == 100 * rs && dst[2] == 50 * rs && dst[3] == 0);

    /* after an affine pass the values are truncated to 8 bits like Keras' uint8 */
    enum { W = 11, H = 9 };
    uint8_t src[W * H];
    float a[W * H], b[W * H];
    make_grid(src, W, H);
    o.rescale = 0;
    o.brightness_stretch = 0;
    pneumo_augment_identity_params(&p);
    p.zx = 0.9;
    assert_int_equal(pneumo_augment_apply(&o, &p, src, (size_t)W * H, W, H, a, (size_t)W * H), PNEUMO_OK);
    p.brightness = 1.0;
    assert_int_equal(pneumo_augment_apply(&o, &p, src, (size_t)W * H, W, H, b, (size_t)W * H), PNEUMO_OK);
    for (int i = 0; i < W * H; i++)
        assert_true(b[i] == floorf(a[i]));
}

/* ---- validation and robustness ------------------------------------------- */

static void expect_bad_options(const pneumo_augment_options *o)
{
    pneumo_augment_params p;
    uint8_t src[4] = {1, 2, 3, 4};
    float dst[4] = {-7, -7, -7, -7};
    pneumo_augment_identity_params(&p);
    assert_int_equal(pneumo_augment_validate_options(o), PNEUMO_ERR_INVALID_ARG);
    assert_true(strlen(pneumo_last_error()) > 0);
    assert_int_equal(pneumo_augment_draw(o, 1, 2, 3, 2, 2, &p), PNEUMO_ERR_INVALID_ARG);
    assert_int_equal(pneumo_augment_apply(o, &p, src, 4, 2, 2, dst, 4), PNEUMO_ERR_INVALID_ARG);
    assert_true(dst[0] == -7 && dst[3] == -7);
}

static void test_invalid_options_rejected(void **state)
{
    (void)state;
    pneumo_augment_options o;
#define BAD(stmt)                           \
    do {                                    \
        pneumo_augment_default_options(&o); \
        stmt;                               \
        expect_bad_options(&o);             \
    } while (0)
    BAD(o.rotation_range = -1);
    BAD(o.rotation_range = NAN);
    BAD(o.rotation_range = 400);
    BAD(o.width_shift_range = -0.1);
    BAD(o.width_shift_range = 1.0);
    BAD(o.height_shift_range = 5);
    BAD(o.height_shift_range = INFINITY);
    BAD(o.shear_range = -0.2);
    BAD(o.zoom_lo = 1.2; o.zoom_hi = 0.8);
    BAD(o.zoom_lo = -0.5);
    BAD(o.zoom_hi = NAN);
    BAD(o.horizontal_flip = 2);
    BAD(o.vertical_flip = -1);
    BAD(o.brightness_lo = 1.2; o.brightness_hi = 0.8);
    BAD(o.brightness_lo = 0; o.brightness_hi = 0.8);
    BAD(o.brightness_lo = -1; o.brightness_hi = 1);
    BAD(o.brightness_stretch = 3);
    BAD(o.fill_mode = 4);
    BAD(o.fill_mode = -1);
    BAD(o.cval = NAN);
    BAD(o.rescale = INFINITY);
#undef BAD
    assert_int_equal(pneumo_augment_validate_options(NULL), PNEUMO_ERR_INVALID_ARG);
    pneumo_augment_default_options(&o);
    o.fill_mode = 17;
    assert_int_equal(pneumo_augment_validate_options(&o), PNEUMO_ERR_INVALID_ARG);
    assert_non_null(strstr(pneumo_last_error(), "fill_mode"));
}

static void test_invalid_arguments_rejected(void **state)
{
    (void)state;
    pneumo_augment_options o;
    pneumo_augment_params p;
    uint8_t src[16] = {0};
    float dst[16];
    for (int i = 0; i < 16; i++)
        dst[i] = -1;
    pneumo_augment_default_options(&o);
    pneumo_augment_identity_params(&p);

    assert_int_equal(pneumo_augment_draw(NULL, 0, 0, 0, 4, 4, &p), PNEUMO_ERR_INVALID_ARG);
    assert_int_equal(pneumo_augment_draw(&o, 0, 0, 0, 4, 4, NULL), PNEUMO_ERR_INVALID_ARG);
    assert_int_equal(pneumo_augment_draw(&o, 0, 0, 0, 0, 4, &p), PNEUMO_ERR_INVALID_ARG);
    assert_int_equal(pneumo_augment_draw(&o, 0, 0, 0, 4, -3, &p), PNEUMO_ERR_INVALID_ARG);
    assert_int_equal(pneumo_augment_draw(&o, 0, 0, 0, 70000, 4, &p), PNEUMO_ERR_LIMIT);

    assert_int_equal(pneumo_augment_apply(NULL, &p, src, 16, 4, 4, dst, 16), PNEUMO_ERR_INVALID_ARG);
    assert_int_equal(pneumo_augment_apply(&o, NULL, src, 16, 4, 4, dst, 16), PNEUMO_ERR_INVALID_ARG);
    assert_int_equal(pneumo_augment_apply(&o, &p, NULL, 0, 4, 4, dst, 16), PNEUMO_ERR_INVALID_ARG);
    assert_int_equal(pneumo_augment_apply(&o, &p, src, 16, 4, 4, NULL, 0), PNEUMO_ERR_INVALID_ARG);
    assert_int_equal(pneumo_augment_apply(&o, &p, src, 0, 0, 4, dst, 0), PNEUMO_ERR_INVALID_ARG);
    assert_int_equal(pneumo_augment_apply(&o, &p, src, 16, 4, INT32_MIN, dst, 16), PNEUMO_ERR_INVALID_ARG);
    assert_int_equal(pneumo_augment_apply(&o, &p, src, 16, 4, 65537, dst, 16), PNEUMO_ERR_LIMIT);
    assert_int_equal(pneumo_augment_image(&o, 0, 0, 0, NULL, 0, 4, 4, dst, 16, NULL), PNEUMO_ERR_INVALID_ARG);
    assert_int_equal(pneumo_augment_image(&o, 0, 0, 0, src, 16, 4, 4, NULL, 0, NULL), PNEUMO_ERR_INVALID_ARG);

#define BADP(stmt)                                                                                      \
    do {                                                                                                \
        pneumo_augment_identity_params(&p);                                                             \
        stmt;                                                                                           \
        assert_int_equal(pneumo_augment_apply(&o, &p, src, 16, 4, 4, dst, 16), PNEUMO_ERR_INVALID_ARG); \
    } while (0)
    BADP(p.theta_deg = NAN);
    BADP(p.theta_deg = 1e5);
    BADP(p.tx = INFINITY);
    BADP(p.ty = -2e7);
    BADP(p.shear_deg = NAN);
    BADP(p.zx = NAN);
    BADP(p.zy = 1e9);
    BADP(p.flip_h = 2);
    BADP(p.flip_v = -1);
    BADP(p.brightness = -0.5);
    BADP(p.brightness = NAN);
#undef BADP
    for (int i = 0; i < 16; i++)
        assert_true(dst[i] == -1); /* untouched by every failed call */
}

static void test_extreme_params_do_not_crash(void **state)
{
    (void)state;
    enum { W = 13, H = 7 };
    uint8_t src[W * H];
    float dst[W * H];
    pneumo_augment_options o;
    pneumo_augment_params p;
    make_grid(src, W, H);
    pneumo_augment_default_options(&o);
    o.rescale = 0;
    o.cval = 300.0f;
    const double vals[][6] = {
        /* theta, tx, ty, shear, zx, zy */
        {1e4, 1e7, -1e7, 1e4, 1e4, -1e4}, {-9999.5, -1e7, 1e7, 90, 0, 0}, {45, 0.5, 0.5, -90, -1e4, 1e4},
        {0, 0, 0, 0, 1e-300, 1},          {180, -3.75, 2.25, 0, -1, -1},
    };
    for (size_t v = 0; v < sizeof vals / sizeof vals[0]; v++) {
        for (int m = PNEUMO_FILL_NEAREST; m <= PNEUMO_FILL_WRAP; m++) {
            for (int bri = 0; bri <= 1; bri++) {
                o.fill_mode = m;
                pneumo_augment_identity_params(&p);
                p.theta_deg = vals[v][0];
                p.tx = vals[v][1];
                p.ty = vals[v][2];
                p.shear_deg = vals[v][3];
                p.zx = vals[v][4];
                p.zy = vals[v][5];
                p.brightness = bri ? 3.5 : 0;
                assert_int_equal(pneumo_augment_apply(&o, &p, src, (size_t)W * H, W, H, dst, (size_t)W * H),
                                 PNEUMO_OK);
                for (int i = 0; i < W * H; i++)
                    assert_true(isfinite(dst[i]) && dst[i] >= 0 && dst[i] <= 300);
                assert_int_equal(pneumo_augment_apply(&o, &p, src, 1, 1, 1, dst, 1), PNEUMO_OK);
                assert_true(isfinite(dst[0]));
            }
        }
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_draw_is_deterministic),
        cmocka_unit_test(test_draw_ranges_and_distribution),
        cmocka_unit_test(test_brightness),
        cmocka_unit_test(test_invalid_options_rejected),
        cmocka_unit_test(test_invalid_arguments_rejected),
        cmocka_unit_test(test_extreme_params_do_not_crash),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
