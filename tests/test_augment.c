/* Tests of the Keras-style augmentation (include/pneumo/augment.h).
 *
 * The affine results are compared with a straightforward reference written
 * here from the Keras formulas (apply_affine_transform +
 * transform_matrix_offset_center, scipy.ndimage order-1 resampling), not with
 * the library's own matrix code. */
#include "testutil.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "pneumo/augment.h"
#include "data/augment.h"

#define GH 9  /* grid rows */
#define GW 11 /* grid cols */

static const double kPi = 3.14159265358979323846;

/* A grid whose value depends non-linearly on both axes, so a swapped axis or
 * a sign error shows. */
static void make_grid(uint8_t *img, int w, int h)
{
    for (int r = 0; r < h; r++)
        for (int c = 0; c < w; c++)
            img[r * w + c] = (uint8_t)((r * 29 + c * c * 5 + r * c * 3) % 256);
}

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

static double ref_sample(const uint8_t *src, int w, int h, double y, double x, int mode,
                         double cval)
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
static void ref_affine(const pneumo_augment_params *p, const uint8_t *src, int w, int h,
                       int mode, double cval, double rescale, double *out)
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

static void check_against_ref(const pneumo_augment_options *o, const pneumo_augment_params *p,
                              int w, int h, double tol)
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
            fail_msg("pixel (%d, %d): got %.7f, reference %.7f (mode %d)", i / w, i % w,
                     (double)dst[i], ref[i], (int)o->fill_mode);
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
    assert_true(o.rotation_range == 0 && o.width_shift_range == 0 &&
                o.height_shift_range == 0 && o.shear_range == 0);
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
        assert_int_equal(pneumo_augment_apply(&o, &p, src, (size_t)W * H, W, H, dst, (size_t)W * H), PNEUMO_OK);
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
            assert_int_equal(pneumo_augment_apply(&o, &p, src, (size_t)W * H, W, H, dst, (size_t)W * H), PNEUMO_OK);
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

static void full_options(pneumo_augment_options *o);

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
                assert_int_equal(pneumo_augment_draw(&o, 99, (uint64_t)m, i, sizes[s][0],
                                                     sizes[s][1], &p),
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

static void shifted(int mode, double tx, double ty, float cval, const uint8_t *src,
                    float *dst)
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
    assert_int_equal(pneumo_augment_apply(&o, &p, src, (size_t)GW * GH, GW, GH, dst, (size_t)GW * GH), PNEUMO_OK);
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
                    fail_msg("shift (%d, %d) pixel (%d, %d): %g != %d", tx, ty, r, c,
                             (double)dst[r * GW + c], src[sr * GW + sc]);
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

/* ---- random draws ---------------------------------------------------------- */

static void full_options(pneumo_augment_options *o)
{
    pneumo_augment_article_options(o);
    o->rotation_range = 20;
    o->width_shift_range = 0.1;
    o->height_shift_range = 0.15;
    o->vertical_flip = 1;
    o->brightness_lo = 0.7;
    o->brightness_hi = 1.3;
}

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
    assert_int_equal(pneumo_augment_image(&o, 1234, 3, 17, src, (size_t)W * H, W, H, d1, (size_t)W * H, &a), PNEUMO_OK);
    assert_int_equal(pneumo_augment_draw(&o, 1234, 3, 17, W, H, &b), PNEUMO_OK);
    assert_memory_equal(&a, &b, sizeof a);
    assert_int_equal(pneumo_augment_apply(&o, &b, src, (size_t)W * H, W, H, d2, (size_t)W * H), PNEUMO_OK);
    assert_memory_equal(d1, d2, sizeof d1);
    assert_int_equal(pneumo_augment_image(&o, 1234, 3, 17, src, (size_t)W * H, W, H, d1, (size_t)W * H, NULL), PNEUMO_OK);
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
    assert_int_equal(pneumo_augment_apply(&o, &p, src, 16, 4, INT32_MIN, dst, 16),
                     PNEUMO_ERR_INVALID_ARG);
    assert_int_equal(pneumo_augment_apply(&o, &p, src, 16, 4, 65537, dst, 16), PNEUMO_ERR_LIMIT);
    assert_int_equal(pneumo_augment_image(&o, 0, 0, 0, NULL, 0, 4, 4, dst, 16, NULL),
                     PNEUMO_ERR_INVALID_ARG);
    assert_int_equal(pneumo_augment_image(&o, 0, 0, 0, src, 16, 4, 4, NULL, 0, NULL),
                     PNEUMO_ERR_INVALID_ARG);

#define BADP(stmt)                                                                      \
    do {                                                                                \
        pneumo_augment_identity_params(&p);                                             \
        stmt;                                                                           \
        assert_int_equal(pneumo_augment_apply(&o, &p, src, 16, 4, 4, dst, 16),          \
                         PNEUMO_ERR_INVALID_ARG);                                       \
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
        {1e4, 1e7, -1e7, 1e4, 1e4, -1e4},
        {-9999.5, -1e7, 1e7, 90, 0, 0},
        {45, 0.5, 0.5, -90, -1e4, 1e4},
        {0, 0, 0, 0, 1e-300, 1},
        {180, -3.75, 2.25, 0, -1, -1},
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
                assert_int_equal(pneumo_augment_apply(&o, &p, src, (size_t)W * H, W, H, dst, (size_t)W * H), PNEUMO_OK);
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
        cmocka_unit_test(test_draw_is_deterministic),
        cmocka_unit_test(test_draw_ranges_and_distribution),
        cmocka_unit_test(test_brightness),
        cmocka_unit_test(test_invalid_options_rejected),
        cmocka_unit_test(test_invalid_arguments_rejected),
        cmocka_unit_test(test_extreme_params_do_not_crash),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
