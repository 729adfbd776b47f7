/* The Keras-style affine augmentation (include/pneumo/augment.h): identity,
 * flips, zoom, shear, shifts and their combinations in every fill mode.
 *
 * The affine results are compared with a straightforward reference written
 * from the Keras formulas (apply_affine_transform +
 * transform_matrix_offset_center, scipy.ndimage order-1 resampling), not with
 * the library's own matrix code. */
#include "testutil.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "pneumo/augment.h"
#include "data/augment.h"

#include "augment_fixtures.h"

#define GH 9  /* grid rows */
#define GW 11 /* grid cols */

static const double kPi = 3.14159265358979323846;

/* ---- reference resampler (scipy.ndimage.affine_transform, order=1) ------- */

static int ref_reflect(int i, int n)
{
    if (n == 1)
        return 0;
    while (i < 0 || i >= n)
        i = i < 0 ? -i - 1 : 2 * n - 1 - i;
    return i;
}

/* scipy's map_coordinate() for 'wrap', written out. */
static double ref_wrap(double v, int n)
{
    double sz = n - 1;
    if (n <= 1)
        return 0;
    if (v < 0)
        v += sz * (double)((long long)(-v / sz) + 1);
    else if (v > sz)
        v -= sz * (double)(long long)(v / sz);
    return v;
}

static double ref_sample(const uint8_t *src, int w, int h, double y, double x, int mode, double cval)
{
    int y0, y1, x0, x1;
    double fy, fx;
    if (mode == PNEUMO_FILL_CONSTANT && (y < 0 || y > h - 1 || x < 0 || x > w - 1))
        return cval;
    if (mode == PNEUMO_FILL_WRAP) {
        y = ref_wrap(y, h);
        x = ref_wrap(x, w);
    }
    if (mode == PNEUMO_FILL_NEAREST) {
        y = fmin(fmax(y, 0), h - 1);
        x = fmin(fmax(x, 0), w - 1);
    }
    fy = y - floor(y);
    fx = x - floor(x);
    y0 = (int)floor(y);
    x0 = (int)floor(x);
    y1 = y0 + 1;
    x1 = x0 + 1;
    if (mode == PNEUMO_FILL_REFLECT) {
        y0 = ref_reflect(y0, h);
        y1 = ref_reflect(y1, h);
        x0 = ref_reflect(x0, w);
        x1 = ref_reflect(x1, w);
    } else { /* only reached with weight 0 at the last sample */
        if (y1 > h - 1)
            y1 = h - 1;
        if (x1 > w - 1)
            x1 = w - 1;
    }
    return (1 - fy) * ((1 - fx) * src[y0 * w + x0] + fx * src[y0 * w + x1]) +
           fy * ((1 - fx) * src[y1 * w + x0] + fx * src[y1 * w + x1]);
}

/* Keras: M = R.T.S.Z = [R.S.Z | R.t]; input = M (output - o) + o with
 * o = (h/2 + 0.5, w/2 + 0.5), all in (row, col). */
static void ref_affine(const pneumo_augment_params *p, const uint8_t *src, int w, int h, int mode,
                       double cval, double rescale, double *out)
{
    double t = p->theta_deg * kPi / 180, s = p->shear_deg * kPi / 180;
    double R[2][2] = {{cos(t), -sin(t)}, {sin(t), cos(t)}};
    double SZ[2][2] = {{p->zx, -sin(s) * p->zy}, {0, cos(s) * p->zy}};
    double A[2][2];
    for (int i = 0; i < 2; i++)
        for (int j = 0; j < 2; j++)
            A[i][j] = R[i][0] * SZ[0][j] + R[i][1] * SZ[1][j];
    double sh0 = R[0][0] * p->tx + R[0][1] * p->ty;
    double sh1 = R[1][0] * p->tx + R[1][1] * p->ty;
    double ox = h / 2.0 + 0.5, oy = w / 2.0 + 0.5;
    for (int r = 0; r < h; r++) {
        for (int c = 0; c < w; c++) {
            double y = A[0][0] * (r - ox) + A[0][1] * (c - oy) + sh0 + ox;
            double x = A[1][0] * (r - ox) + A[1][1] * (c - oy) + sh1 + oy;
            double v = ref_sample(src, w, h, y, x, mode, cval);
            int orow = p->flip_v ? h - 1 - r : r;
            int ocol = p->flip_h ? w - 1 - c : c;
            out[orow * w + ocol] = v * rescale;
        }
    }
}

static void check_against_ref(const pneumo_augment_options *o, const pneumo_augment_params *p, int w, int h,
                              double tol)
{
    uint8_t *src = malloc((size_t)w * h);
    float *dst = malloc(sizeof(float) * w * h);
    double *ref = malloc(sizeof(double) * w * h);
    double rs = o->rescale != 0 ? (double)o->rescale : 1.0;
    assert_non_null(src);
    assert_non_null(dst);
    assert_non_null(ref);
    make_grid(src, w, h);
    assert_int_equal(pneumo_augment_apply(o, p, src, (size_t)w * h, w, h, dst, (size_t)w * h), PNEUMO_OK);
    ref_affine(p, src, w, h, o->fill_mode, o->cval, rs, ref);
    for (int i = 0; i < w * h; i++) {
        if (fabs(dst[i] - ref[i]) > tol)
            fail_msg("pixel (%d, %d): got %.7f, reference %.7f (mode %d)", i / w, i % w, (double)dst[i],
                     ref[i], (int)o->fill_mode);
    }
    free(src);
    free(dst);
    free(ref);
}

/* ---- options and identity ------------------------------------------------ */

static void test_default_and_article_options(void **state)
{
    (void)state;
    pneumo_augment_options o;
    pneumo_augment_params p;
    pneumo_augment_default_options(&o);
    assert_int_equal(pneumo_augment_validate_options(&o), PNEUMO_OK);
    assert_true(o.rotation_range == 0 && o.width_shift_range == 0 && o.height_shift_range == 0 &&
                o.shear_range == 0);
    assert_true(o.zoom_lo == 1 && o.zoom_hi == 1);
    assert_int_equal(o.horizontal_flip, 0);
    assert_int_equal(o.vertical_flip, 0);
    assert_true(o.brightness_lo == 0 && o.brightness_hi == 0);
    assert_int_equal(o.fill_mode, PNEUMO_FILL_NEAREST);
    assert_true(o.rescale == (float)(1.0 / 255.0));
    for (uint64_t i = 0; i < 50; i++) {
        assert_int_equal(pneumo_augment_draw(&o, 7, 1, i, 32, 16, &p), PNEUMO_OK);
        assert_true(pn_augment_is_affine_identity(&p));
        assert_int_equal(p.flip_h, 0);
        assert_int_equal(p.flip_v, 0);
        assert_true(p.brightness == 0);
    }

    pneumo_augment_article_options(&o);
    assert_int_equal(pneumo_augment_validate_options(&o), PNEUMO_OK);
    assert_true(o.shear_range == 0.2);
    assert_true(fabs(o.zoom_lo - 0.8) < 1e-15 && fabs(o.zoom_hi - 1.2) < 1e-15);
    assert_int_equal(o.horizontal_flip, 1);
    assert_int_equal(o.vertical_flip, 0);
    assert_true(o.rescale == (float)(1.0 / 255.0));

    /* NULL initialisers are no-ops */
    pneumo_augment_default_options(NULL);
    pneumo_augment_article_options(NULL);
    pneumo_augment_identity_params(NULL);
}

static void test_identity_is_exact(void **state)
{
    (void)state;
    enum { W = 37, H = 23 };
    uint8_t src[W * H];
    float dst[W * H];
    uint64_t s = 42;
    pneumo_augment_options o;
    pneumo_augment_params p;
    for (int i = 0; i < W * H; i++)
        src[i] = (uint8_t)(tu_next(&s) & 0xff);
    src[0] = 0;
    src[1] = 255;
    pneumo_augment_default_options(&o);
    pneumo_augment_identity_params(&p);
    assert_int_equal(pneumo_augment_apply(&o, &p, src, (size_t)W * H, W, H, dst, (size_t)W * H), PNEUMO_OK);
    for (int i = 0; i < W * H; i++)
        assert_true(dst[i] == (float)src[i] * (float)(1.0 / 255.0));

    o.rescale = 0; /* Keras rescale=None: values stay 0..255 */
    assert_int_equal(pneumo_augment_apply(&o, &p, src, (size_t)W * H, W, H, dst, (size_t)W * H), PNEUMO_OK);
    for (int i = 0; i < W * H; i++)
        assert_true(dst[i] == (float)src[i]);

    /* every fill mode takes the same exact copy path */
    o.rescale = 0.5f;
    for (int m = PNEUMO_FILL_NEAREST; m <= PNEUMO_FILL_WRAP; m++) {
        o.fill_mode = m;
        assert_int_equal(pneumo_augment_apply(&o, &p, src, (size_t)W * H, W, H, dst, (size_t)W * H),
                         PNEUMO_OK);
        for (int i = 0; i < W * H; i++)
            assert_true(dst[i] == (float)src[i] * 0.5f);
    }
}

static void test_flips_are_exact(void **state)
{
    (void)state;
    enum { W = 8, H = 5 };
    uint8_t src[W * H];
    float dst[W * H];
    pneumo_augment_options o;
    pneumo_augment_params p;
    const float rs = (float)(1.0 / 255.0);
    make_grid(src, W, H);
    pneumo_augment_default_options(&o);

    for (int fh = 0; fh <= 1; fh++) {
        for (int fv = 0; fv <= 1; fv++) {
            pneumo_augment_identity_params(&p);
            p.flip_h = fh;
            p.flip_v = fv;
            assert_int_equal(pneumo_augment_apply(&o, &p, src, (size_t)W * H, W, H, dst, (size_t)W * H),
                             PNEUMO_OK);
            for (int r = 0; r < H; r++)
                for (int c = 0; c < W; c++) {
                    int sr = fv ? H - 1 - r : r, sc = fh ? W - 1 - c : c;
                    assert_true(dst[r * W + c] == (float)src[sr * W + sc] * rs);
                }
        }
    }
}

/* ---- affine transforms against the reference ----------------------------- */

static void test_zoom_matches_reference(void **state)
{
    (void)state;
    pneumo_augment_options o;
    pneumo_augment_params p;
    pneumo_augment_default_options(&o);
    const double zooms[][2] = {{1.15, 0.85}, {0.8, 1.2}, {1.2, 1.2}, {0.5, 2.0}, {0.93, 1.0}};
    for (size_t i = 0; i < sizeof zooms / sizeof zooms[0]; i++) {
        pneumo_augment_identity_params(&p);
        p.zx = zooms[i][0];
        p.zy = zooms[i][1];
        check_against_ref(&o, &p, GW, GH, 1e-4);
    }
}

static void test_zoom_axes_follow_keras(void **state)
{
    (void)state;
    /* zx scales ROWS: with zx != 1 and zy == 1 every column of an image whose
     * value depends only on the column stays unchanged. */
    enum { W = 11, H = 9 };
    uint8_t src[W * H];
    float dst[W * H];
    pneumo_augment_options o;
    pneumo_augment_params p;
    pneumo_augment_default_options(&o);
    o.rescale = 0;
    for (int r = 0; r < H; r++)
        for (int c = 0; c < W; c++)
            src[r * W + c] = (uint8_t)(c * 20);
    pneumo_augment_identity_params(&p);
    p.zx = 1.3;
    assert_int_equal(pneumo_augment_apply(&o, &p, src, (size_t)W * H, W, H, dst, (size_t)W * H), PNEUMO_OK);
    for (int i = 0; i < W * H; i++)
        assert_true(fabsf(dst[i] - (float)src[i]) < 1e-4f);
    pneumo_augment_identity_params(&p);
    p.zy = 1.3;
    assert_int_equal(pneumo_augment_apply(&o, &p, src, (size_t)W * H, W, H, dst, (size_t)W * H), PNEUMO_OK);
    int changed = 0;
    for (int i = 0; i < W * H; i++)
        changed += fabsf(dst[i] - (float)src[i]) > 1e-3f;
    assert_true(changed > 0);
}

static void test_shear_matches_reference(void **state)
{
    (void)state;
    pneumo_augment_options o;
    pneumo_augment_params p;
    pneumo_augment_default_options(&o);
    const double shears[] = {0.2, -0.2, 12.5, -30.0, 45.0};
    for (size_t i = 0; i < sizeof shears / sizeof shears[0]; i++) {
        pneumo_augment_identity_params(&p);
        p.shear_deg = shears[i];
        check_against_ref(&o, &p, GW, GH, 1e-4);
    }
}

static void test_combined_matches_reference_all_modes(void **state)
{
    (void)state;
    pneumo_augment_options o;
    pneumo_augment_params p;
    pneumo_augment_default_options(&o);
    o.cval = 77.0f;
    pneumo_augment_identity_params(&p);
    p.theta_deg = 17.0;
    p.tx = 1.3;
    p.ty = -2.6;
    p.shear_deg = 8.0;
    p.zx = 1.1;
    p.zy = 0.9;
    for (int m = PNEUMO_FILL_NEAREST; m <= PNEUMO_FILL_WRAP; m++) {
        o.fill_mode = m;
        for (int f = 0; f < 4; f++) {
            p.flip_h = f & 1;
            p.flip_v = f >> 1;
            check_against_ref(&o, &p, GW, GH, 1e-4);
            check_against_ref(&o, &p, 1, 1, 1e-4);
            check_against_ref(&o, &p, 1, 6, 1e-4);
            check_against_ref(&o, &p, 7, 2, 1e-4);
        }
    }
    /* zoom-out far beyond the image exercises every boundary rule */
    p.zx = 3.5;
    p.zy = 2.7;
    p.tx = 11.0;
    for (int m = PNEUMO_FILL_NEAREST; m <= PNEUMO_FILL_WRAP; m++) {
        o.fill_mode = m;
        check_against_ref(&o, &p, GW, GH, 1e-4);
    }
}

static void test_random_params_match_reference(void **state)
{
    (void)state;
    /* larger images, so the bulk of each row takes the fast interior loop */
    pneumo_augment_options o;
    pneumo_augment_params p;
    const int sizes[][2] = {{64, 48}, {33, 71}, {120, 5}};
    for (int m = PNEUMO_FILL_NEAREST; m <= PNEUMO_FILL_WRAP; m++) {
        for (size_t s = 0; s < sizeof sizes / sizeof sizes[0]; s++) {
            for (uint64_t i = 0; i < 12; i++) {
                full_options(&o);
                o.shear_range = 30;
                o.zoom_lo = 0.6;
                o.zoom_hi = 1.5;
                o.brightness_lo = o.brightness_hi = 0;
                o.fill_mode = m;
                o.cval = 12.0f;
                assert_int_equal(pneumo_augment_draw(&o, 99, (uint64_t)m, i, sizes[s][0], sizes[s][1], &p),
                                 PNEUMO_OK);
                check_against_ref(&o, &p, sizes[s][0], sizes[s][1], 1e-4);
            }
        }
    }
    /* the article's settings */
    pneumo_augment_article_options(&o);
    for (uint64_t i = 0; i < 20; i++) {
        assert_int_equal(pneumo_augment_draw(&o, 5, 0, i, 50, 50, &p), PNEUMO_OK);
        check_against_ref(&o, &p, 50, 50, 1e-4);
    }
}

/* ---- shifts: exact results ------------------------------------------------ */

static void shifted(int mode, double tx, double ty, float cval, const uint8_t *src, float *dst)
{
    pneumo_augment_options o;
    pneumo_augment_params p;
    pneumo_augment_default_options(&o);
    o.fill_mode = mode;
    o.cval = cval;
    o.rescale = 0;
    pneumo_augment_identity_params(&p);
    p.tx = tx;
    p.ty = ty;
    assert_int_equal(pneumo_augment_apply(&o, &p, src, (size_t)GW * GH, GW, GH, dst, (size_t)GW * GH),
                     PNEUMO_OK);
}

static int clampi(int v, int lo, int hi) { return v < lo ? lo : (v > hi ? hi : v); }

static void test_integer_shift_nearest_exact(void **state)
{
    (void)state;
    uint8_t src[GW * GH];
    float dst[GW * GH];
    make_grid(src, GW, GH);
    /* Keras' shift matrix maps output (r, c) to input (r + tx, c + ty). */
    const int shifts[][2] = {{2, -3}, {-4, 5}, {0, 1}, {1, 0}, {-8, -10}, {12, 0}};
    for (size_t s = 0; s < sizeof shifts / sizeof shifts[0]; s++) {
        int tx = shifts[s][0], ty = shifts[s][1];
        shifted(PNEUMO_FILL_NEAREST, tx, ty, 0, src, dst);
        for (int r = 0; r < GH; r++)
            for (int c = 0; c < GW; c++) {
                int sr = clampi(r + tx, 0, GH - 1), sc = clampi(c + ty, 0, GW - 1);
                if (dst[r * GW + c] != (float)src[sr * GW + sc])
                    fail_msg("shift (%d, %d) pixel (%d, %d): %g != %d", tx, ty, r, c, (double)dst[r * GW + c],
                             src[sr * GW + sc]);
            }
    }
}

static void test_shift_constant_reflect_wrap(void **state)
{
    (void)state;
    uint8_t src[GW * GH];
    float dst[GW * GH];
    make_grid(src, GW, GH);

    /* constant: outside -> cval, inside exact */
    shifted(PNEUMO_FILL_CONSTANT, -2, 3, 99.5f, src, dst);
    for (int r = 0; r < GH; r++)
        for (int c = 0; c < GW; c++) {
            int sr = r - 2, sc = c + 3;
            float want = (sr < 0 || sc >= GW) ? 99.5f : (float)src[sr * GW + sc];
            assert_true(dst[r * GW + c] == want);
        }

    /* reflect: dcba|abcd|dcba */
    shifted(PNEUMO_FILL_REFLECT, 3, -4, 0, src, dst);
    for (int r = 0; r < GH; r++)
        for (int c = 0; c < GW; c++) {
            int sr = r + 3, sc = c - 4;
            if (sr >= GH)
                sr = 2 * GH - 1 - sr;
            if (sc < 0)
                sc = -sc - 1;
            assert_true(dst[r * GW + c] == (float)src[sr * GW + sc]);
        }

    /* wrap: scipy's period n - 1 */
    shifted(PNEUMO_FILL_WRAP, 0, 4, 0, src, dst);
    for (int r = 0; r < GH; r++)
        for (int c = 0; c < GW; c++) {
            int sc = c + 4;
            if (sc > GW - 1)
                sc -= GW - 1;
            assert_true(dst[r * GW + c] == (float)src[r * GW + sc]);
        }
    shifted(PNEUMO_FILL_WRAP, -3, 0, 0, src, dst);
    for (int r = 0; r < GH; r++)
        for (int c = 0; c < GW; c++) {
            int sr = r - 3;
            if (sr < 0)
                sr += GH - 1;
            assert_true(dst[r * GW + c] == (float)src[sr * GW + c]);
        }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_default_and_article_options),
        cmocka_unit_test(test_identity_is_exact),
        cmocka_unit_test(test_flips_are_exact),
        cmocka_unit_test(test_zoom_matches_reference),
        cmocka_unit_test(test_zoom_axes_follow_keras),
        cmocka_unit_test(test_shear_matches_reference),
        cmocka_unit_test(test_combined_matches_reference_all_modes),
        cmocka_unit_test(test_random_params_match_reference),
        cmocka_unit_test(test_integer_shift_nearest_exact),
        cmocka_unit_test(test_shift_constant_reflect_wrap),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
