/* Random augmentation with keras_preprocessing ImageDataGenerator semantics.
 *
 * Sources of the formulas (keras-team/keras-preprocessing, 1.1.x):
 *   image_data_generator.py  get_random_transform(), apply_transform(),
 *                            standardize() (rescale after the transform);
 *   affine_transformations.py apply_affine_transform(),
 *                            transform_matrix_offset_center(),
 *                            apply_brightness_shift(); utils.py array_to_img();
 * resampling as scipy.ndimage.affine_transform(order=1) (ni_interpolation.c:
 * map_coordinate() and NI_GeometricTransform()), brightness as Pillow's
 * ImageEnhance.Brightness = Image.blend(black, image, factor) (Blend.c). */
#include "data/augment.h"

#include "core/alloc.h"
#include "core/error.h"
#include "kernels/kernels.h"

#include <math.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#define PN_PI 3.14159265358979323846

/* ---------------------------------------------------------------------------
 * Per-image random stream */

static uint64_t pn_mix64(uint64_t z)
{
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

void pn_augment_rng_init(pn_augment_rng *r, uint64_t seed, uint64_t epoch, uint64_t index)
{
    /* mix64 is a bijection and each step xors in an injective function of one
     * key part, so distinct (epoch, index) under one seed start distinct
     * streams. */
    uint64_t h = pn_mix64(seed + 0x9E3779B97F4A7C15ull);
    h = pn_mix64(h ^ (epoch * 0xD1B54A32D192ED03ull + 0x8CB92BA72F3D8DD7ull));
    h = pn_mix64(h ^ (index * 0xAEF17502108EF2D9ull + 0x2545F4914F6CDD1Dull));
    r->state = h;
}

uint64_t pn_augment_rng_next(pn_augment_rng *r)
{
    r->state += 0x9E3779B97F4A7C15ull;
    return pn_mix64(r->state);
}

double pn_augment_rng_uniform(pn_augment_rng *r)
{
    return (double)(pn_augment_rng_next(r) >> 11) * (1.0 / 9007199254740992.0);
}

/* numpy.random.uniform(lo, hi) = lo + (hi - lo) * random() */
static double pn_uniform(pn_augment_rng *r, double lo, double hi)
{
    return lo + (hi - lo) * pn_augment_rng_uniform(r);
}

/* ---------------------------------------------------------------------------
 * Options and parameters */

void pneumo_augment_default_options(pneumo_augment_options *o)
{
    if (!o)
        return;
    memset(o, 0, sizeof *o);
    o->size = sizeof *o;
    o->zoom_lo = 1.0;
    o->zoom_hi = 1.0;
    o->brightness_stretch = 1;
    o->fill_mode = PNEUMO_FILL_NEAREST;
    o->cval = 0.0f;
    o->rescale = (float)(1.0 / 255.0);
}

void pneumo_augment_article_options(pneumo_augment_options *o)
{
    if (!o)
        return;
    pneumo_augment_default_options(o);
    o->shear_range = 0.2;
    o->zoom_lo = 1.0 - 0.2;
    o->zoom_hi = 1.0 + 0.2;
    o->horizontal_flip = 1;
}

void pneumo_augment_identity_params(pneumo_augment_params *p)
{
    if (!p)
        return;
    memset(p, 0, sizeof *p);
    p->size = sizeof *p;
    p->zx = 1.0;
    p->zy = 1.0;
}

static int pn_in(double v, double lo, double hi) { return isfinite(v) && v >= lo && v <= hi; }

pneumo_status pneumo_augment_validate_options(const pneumo_augment_options *o)
{
    pneumo_status st;
    if (!o)
        return pn_error(PNEUMO_ERR_INVALID_ARG, "augment options: NULL pointer");
    if ((st = PN_CHECK_STRUCT("augment options", pneumo_augment_options, o)) != PNEUMO_OK)
        return st;
    if (!pn_in(o->rotation_range, 0.0, 360.0))
        return pn_error(PNEUMO_ERR_INVALID_ARG,
                        "augment options: rotation_range %g must be in [0, 360] degrees", o->rotation_range);
    if (!pn_in(o->width_shift_range, 0.0, 1.0) || o->width_shift_range >= 1.0)
        return pn_error(PNEUMO_ERR_INVALID_ARG,
                        "augment options: width_shift_range %g must be a fraction in [0, 1)",
                        o->width_shift_range);
    if (!pn_in(o->height_shift_range, 0.0, 1.0) || o->height_shift_range >= 1.0)
        return pn_error(PNEUMO_ERR_INVALID_ARG,
                        "augment options: height_shift_range %g must be a fraction in [0, 1)",
                        o->height_shift_range);
    if (!pn_in(o->shear_range, 0.0, 360.0))
        return pn_error(PNEUMO_ERR_INVALID_ARG, "augment options: shear_range %g must be in [0, 360] degrees",
                        o->shear_range);
    if (!pn_in(o->zoom_lo, 0.0, 1000.0) || !pn_in(o->zoom_hi, 0.0, 1000.0) || o->zoom_lo > o->zoom_hi)
        return pn_error(PNEUMO_ERR_INVALID_ARG,
                        "augment options: zoom range [%g, %g] must satisfy "
                        "0 <= zoom_lo <= zoom_hi <= 1000",
                        o->zoom_lo, o->zoom_hi);
    if (o->horizontal_flip != 0 && o->horizontal_flip != 1)
        return pn_error(PNEUMO_ERR_INVALID_ARG, "augment options: horizontal_flip must be 0 or 1, not %d",
                        (int)o->horizontal_flip);
    if (o->vertical_flip != 0 && o->vertical_flip != 1)
        return pn_error(PNEUMO_ERR_INVALID_ARG, "augment options: vertical_flip must be 0 or 1, not %d",
                        (int)o->vertical_flip);
    if (!(o->brightness_lo == 0.0 && o->brightness_hi == 0.0) &&
        (!pn_in(o->brightness_lo, 0.0, 1000.0) || !pn_in(o->brightness_hi, 0.0, 1000.0) ||
         o->brightness_lo <= 0.0 || o->brightness_lo > o->brightness_hi))
        return pn_error(PNEUMO_ERR_INVALID_ARG,
                        "augment options: brightness range [%g, %g] must be [0, 0] (off) or "
                        "satisfy 0 < brightness_lo <= brightness_hi <= 1000",
                        o->brightness_lo, o->brightness_hi);
    if (!(o->contrast_lo == 0.0f && o->contrast_hi == 0.0f) &&
        (!pn_in(o->contrast_lo, 0.0, 1000.0) || !pn_in(o->contrast_hi, 0.0, 1000.0) ||
         o->contrast_lo <= 0.0f || o->contrast_lo > o->contrast_hi))
        return pn_error(PNEUMO_ERR_INVALID_ARG,
                        "augment options: contrast range [contrast_lo %g, contrast_hi %g] must be [0, 0] "
                        "(off) or satisfy 0 < contrast_lo <= contrast_hi <= 1000",
                        (double)o->contrast_lo, (double)o->contrast_hi);
    if (!(o->gamma_lo == 0.0f && o->gamma_hi == 0.0f) &&
        (!pn_in(o->gamma_lo, 0.0, 1000.0) || !pn_in(o->gamma_hi, 0.0, 1000.0) || o->gamma_lo <= 0.0f ||
         o->gamma_lo > o->gamma_hi))
        return pn_error(PNEUMO_ERR_INVALID_ARG,
                        "augment options: gamma range [gamma_lo %g, gamma_hi %g] must be [0, 0] (off) or "
                        "satisfy 0 < gamma_lo <= gamma_hi <= 1000",
                        (double)o->gamma_lo, (double)o->gamma_hi);
    if (!pn_in(o->crop_lo, 0.0, 1.0))
        return pn_error(PNEUMO_ERR_INVALID_ARG,
                        "augment options: crop_lo %g must be in [0, 1] (0 or 1 = no crop)",
                        (double)o->crop_lo);
    if (o->brightness_stretch != 0 && o->brightness_stretch != 1)
        return pn_error(PNEUMO_ERR_INVALID_ARG, "augment options: brightness_stretch must be 0 or 1, not %d",
                        (int)o->brightness_stretch);
    if (o->fill_mode < PNEUMO_FILL_NEAREST || o->fill_mode > PNEUMO_FILL_WRAP)
        return pn_error(PNEUMO_ERR_INVALID_ARG,
                        "augment options: unknown fill_mode %d (nearest 0, constant 1, "
                        "reflect 2, wrap 3)",
                        (int)o->fill_mode);
    if (!isfinite(o->cval))
        return pn_error(PNEUMO_ERR_INVALID_ARG, "augment options: cval is not finite");
    if (!isfinite(o->rescale))
        return pn_error(PNEUMO_ERR_INVALID_ARG, "augment options: rescale is not finite");
    return PNEUMO_OK;
}

static pneumo_status pn_check_size(const char *fn, int32_t width, int32_t height)
{
    if (width < 1 || height < 1)
        return pn_error(PNEUMO_ERR_INVALID_ARG, "%s: image size %dx%d must be at least 1x1", fn, (int)width,
                        (int)height);
    if (width > PN_AUGMENT_MAX_SIDE || height > PN_AUGMENT_MAX_SIDE)
        return pn_error(PNEUMO_ERR_LIMIT, "%s: image size %dx%d exceeds %d pixels per side", fn, (int)width,
                        (int)height, PN_AUGMENT_MAX_SIDE);
    return PNEUMO_OK;
}

/* 1 if the crop window of scale s starting at `off` keeps its last sample,
 * fl(fl(s * (n - 1)) + off) as the resampler computes it, within [0, n - 1]. */
static int pn_crop_inside(double s, double off, int32_t n)
{
    return off >= 0.0 && s * (double)(n - 1) + off <= (double)(n - 1);
}

static int pn_has_crop(const pneumo_augment_params *p)
{
    return p->crop_scale != 0.0f && p->crop_scale != 1.0f;
}

static pneumo_status pn_check_params(const pneumo_augment_params *p, int32_t width, int32_t height)
{
    pneumo_status st;
    if ((st = PN_CHECK_STRUCT("augment params", pneumo_augment_params, p)) != PNEUMO_OK)
        return st;
    if (!pn_in(p->theta_deg, -1e4, 1e4))
        return pn_error(PNEUMO_ERR_INVALID_ARG,
                        "augment params: theta_deg %g must be finite with |theta| <= 1e4", p->theta_deg);
    if (!pn_in(p->tx, -1e7, 1e7) || !pn_in(p->ty, -1e7, 1e7))
        return pn_error(PNEUMO_ERR_INVALID_ARG,
                        "augment params: shift (tx %g, ty %g) must be finite within +-1e7 pixels", p->tx,
                        p->ty);
    if (!pn_in(p->shear_deg, -1e4, 1e4))
        return pn_error(PNEUMO_ERR_INVALID_ARG,
                        "augment params: shear_deg %g must be finite with |shear| <= 1e4", p->shear_deg);
    if (!pn_in(p->zx, -1e4, 1e4) || !pn_in(p->zy, -1e4, 1e4))
        return pn_error(PNEUMO_ERR_INVALID_ARG,
                        "augment params: zoom (zx %g, zy %g) must be finite within +-1e4", p->zx, p->zy);
    if (p->flip_h != 0 && p->flip_h != 1)
        return pn_error(PNEUMO_ERR_INVALID_ARG, "augment params: flip_h must be 0 or 1, not %d",
                        (int)p->flip_h);
    if (p->flip_v != 0 && p->flip_v != 1)
        return pn_error(PNEUMO_ERR_INVALID_ARG, "augment params: flip_v must be 0 or 1, not %d",
                        (int)p->flip_v);
    if (!pn_in(p->brightness, 0.0, 1000.0))
        return pn_error(PNEUMO_ERR_INVALID_ARG,
                        "augment params: brightness %g must be in [0, 1000] (0 = off)", p->brightness);
    if (!pn_in(p->contrast, 0.0, 1000.0))
        return pn_error(PNEUMO_ERR_INVALID_ARG, "augment params: contrast %g must be in [0, 1000] (0 = off)",
                        (double)p->contrast);
    if (!pn_in(p->gamma, 0.0, 1000.0))
        return pn_error(PNEUMO_ERR_INVALID_ARG, "augment params: gamma %g must be in [0, 1000] (0 = off)",
                        (double)p->gamma);
    if (!pn_in(p->crop_scale, 0.0, 1.0))
        return pn_error(PNEUMO_ERR_INVALID_ARG,
                        "augment params: crop_scale %g must be in [0, 1] (0 or 1 = no crop)",
                        (double)p->crop_scale);
    if (!pn_has_crop(p) ? (p->crop_row != 0.0f || p->crop_col != 0.0f)
                        : (!isfinite(p->crop_row) || !isfinite(p->crop_col) ||
                           !pn_crop_inside(p->crop_scale, p->crop_row, height) ||
                           !pn_crop_inside(p->crop_scale, p->crop_col, width)))
        return pn_error(PNEUMO_ERR_INVALID_ARG,
                        "augment params: crop window (crop_scale %g, crop_row %g, crop_col %g) must lie "
                        "inside the %dx%d image (offsets 0 without a crop)",
                        (double)p->crop_scale, (double)p->crop_row, (double)p->crop_col, (int)width,
                        (int)height);
    return PNEUMO_OK;
}

pneumo_status pneumo_augment_draw(const pneumo_augment_options *o, uint64_t seed, uint64_t epoch,
                                  uint64_t index, int32_t width, int32_t height, pneumo_augment_params *out)
{
    pneumo_status st;
    pn_augment_rng rng;
    pneumo_augment_params p;

    if (!o || !out)
        return pn_error(PNEUMO_ERR_INVALID_ARG, "pneumo_augment_draw: NULL argument");
    if ((st = pneumo_augment_validate_options(o)) != PNEUMO_OK)
        return st;
    if ((st = pn_check_size("pneumo_augment_draw", width, height)) != PNEUMO_OK)
        return st;

    pn_augment_rng_init(&rng, seed, epoch, index);
    pneumo_augment_identity_params(&p);

    /* Same order and the same on/off tests as Keras' get_random_transform(). */
    if (o->rotation_range != 0.0)
        p.theta_deg = pn_uniform(&rng, -o->rotation_range, o->rotation_range);
    if (o->height_shift_range != 0.0)
        p.tx = pn_uniform(&rng, -o->height_shift_range, o->height_shift_range) * height;
    if (o->width_shift_range != 0.0)
        p.ty = pn_uniform(&rng, -o->width_shift_range, o->width_shift_range) * width;
    if (o->shear_range != 0.0)
        p.shear_deg = pn_uniform(&rng, -o->shear_range, o->shear_range);
    if (!(o->zoom_lo == 1.0 && o->zoom_hi == 1.0)) {
        p.zx = pn_uniform(&rng, o->zoom_lo, o->zoom_hi);
        p.zy = pn_uniform(&rng, o->zoom_lo, o->zoom_hi);
    }
    /* Keras draws both flip numbers whether or not the flip is enabled. */
    p.flip_h = (pn_augment_rng_uniform(&rng) < 0.5) && o->horizontal_flip;
    p.flip_v = (pn_augment_rng_uniform(&rng) < 0.5) && o->vertical_flip;
    if (!(o->brightness_lo == 0.0 && o->brightness_hi == 0.0))
        p.brightness = pn_uniform(&rng, o->brightness_lo, o->brightness_hi);
    /* Beyond Keras: drawn after every Keras number, none when disabled. */
    if (!(o->contrast_lo == 0.0f && o->contrast_hi == 0.0f))
        p.contrast = (float)pn_uniform(&rng, o->contrast_lo, o->contrast_hi);
    if (!(o->gamma_lo == 0.0f && o->gamma_hi == 0.0f))
        p.gamma = (float)pn_uniform(&rng, o->gamma_lo, o->gamma_hi);
    if (o->crop_lo != 0.0f && o->crop_lo != 1.0f) {
        const float s = (float)pn_uniform(&rng, o->crop_lo, 1.0);
        const double ur = pn_augment_rng_uniform(&rng), uc = pn_augment_rng_uniform(&rng);
        float r0 = (float)(ur * ((double)(height - 1) - (double)s * (height - 1)));
        float c0 = (float)(uc * ((double)(width - 1) - (double)s * (width - 1)));
        /* the float offsets may round up past the last position */
        while (r0 > 0.0f && !pn_crop_inside(s, r0, height))
            r0 = nextafterf(r0, 0.0f);
        while (c0 > 0.0f && !pn_crop_inside(s, c0, width))
            c0 = nextafterf(c0, 0.0f);
        p.crop_scale = s;
        p.crop_row = r0;
        p.crop_col = c0;
    }

    *out = p;
    return PNEUMO_OK;
}

/* ---------------------------------------------------------------------------
 * Transform matrix */

int pn_augment_is_affine_identity(const pneumo_augment_params *p)
{
    return p->theta_deg == 0.0 && p->tx == 0.0 && p->ty == 0.0 && p->shear_deg == 0.0 && p->zx == 1.0 &&
           p->zy == 1.0 && !pn_has_crop(p);
}

/* c = a . b for 3x3 matrices, summing k = 0, 1, 2 in order like numpy.dot. */
static void pn_matmul3(const double a[3][3], const double b[3][3], double c[3][3])
{
    for (int i = 0; i < 3; i++)
        for (int j = 0; j < 3; j++)
            c[i][j] = a[i][0] * b[0][j] + a[i][1] * b[1][j] + a[i][2] * b[2][j];
}

void pn_augment_matrix(const pneumo_augment_params *p, int32_t width, int32_t height, double a[6])
{
    /* np.deg2rad(x) = x * (pi / 180) */
    const double t = p->theta_deg * (PN_PI / 180.0);
    const double s = p->shear_deg * (PN_PI / 180.0);
    const double rot[3][3] = {{cos(t), -sin(t), 0}, {sin(t), cos(t), 0}, {0, 0, 1}};
    const double shift[3][3] = {{1, 0, p->tx}, {0, 1, p->ty}, {0, 0, 1}};
    const double shear[3][3] = {{1, -sin(s), 0}, {0, cos(s), 0}, {0, 0, 1}};
    const double zoom[3][3] = {{p->zx, 0, 0}, {0, p->zy, 0}, {0, 0, 1}};
    /* transform_matrix_offset_center(matrix, h, w): o = size / 2 + 0.5 with the
     * ROW count first, as keras_preprocessing 1.1.x does. */
    const double ox = (double)height / 2 + 0.5;
    const double oy = (double)width / 2 + 0.5;
    const double offset[3][3] = {{1, 0, ox}, {0, 1, oy}, {0, 0, 1}};
    const double reset[3][3] = {{1, 0, -ox}, {0, 1, -oy}, {0, 0, 1}};
    double m1[3][3], m2[3][3], m[3][3];

    /* Keras multiplies only the non-identity factors; multiplying by an exact
     * identity changes no bit, so the full product gives the same matrix. */
    pn_matmul3(rot, shift, m1);
    pn_matmul3(m1, shear, m2);
    pn_matmul3(m2, zoom, m);
    pn_matmul3(offset, m, m1);
    pn_matmul3(m1, reset, m2);

    a[0] = m2[0][0];
    a[1] = m2[0][1];
    a[2] = m2[0][2];
    a[3] = m2[1][0];
    a[4] = m2[1][1];
    a[5] = m2[1][2];
    if (pn_has_crop(p)) {
        /* input = crop + s * (Keras map): a zoom by s and a shift, composed */
        const double cs = p->crop_scale;
        for (int i = 0; i < 6; i++)
            a[i] *= cs;
        a[2] += p->crop_row;
        a[5] += p->crop_col;
    }
}

/* ---------------------------------------------------------------------------
 * Resampling */

typedef struct pn_warp {
    const uint8_t *src;
    int32_t w, h;
    double a[6];
    int flip_h, flip_v;
    float scale; /* applied to each output value (rescale, or 1 before brightness) */
    float cval;
    int mode;
    const pn_kernels *kern; /* warp_bilinear_row */
} pn_warp;

/* Where output row `r` lands after the vertical flip, and the first output
 * pointer and step for the horizontal flip. */
static float *pn_out_row(const pn_warp *k, float *dst, int32_t r, ptrdiff_t *step)
{
    const int32_t orow = k->flip_v ? k->h - 1 - r : r;
    float *o = dst + (size_t)orow * (size_t)k->w;
    if (k->flip_h) {
        *step = -1;
        return o + (k->w - 1);
    }
    *step = 1;
    return o;
}

/* Range [*c0, *c1) of columns where lo <= base + d * c < hi, within [0, w).
 * Solved in floating point, then the ends are checked against the very
 * expression the pixel loop evaluates: fl(base + fl(d * c)) is monotonic in c,
 * so if both ends pass every column between them does. */
static void pn_span(double base, double d, double lo, double hi, int32_t w, int32_t *c0, int32_t *c1)
{
    double a, b;
    int32_t s, e;
    if (d == 0.0) {
        if (base >= lo && base < hi) {
            *c0 = 0;
            *c1 = w;
        } else {
            *c0 = *c1 = 0;
        }
        return;
    }
    a = (lo - base) / d;
    b = (hi - base) / d;
    if (a > b) {
        const double t = a;
        a = b;
        b = t;
    }
    a = ceil(a) + 1.0;
    b = floor(b) - 1.0;
    if (!(a <= b) || b < 0.0 || a >= (double)w) {
        *c0 = *c1 = 0;
        return;
    }
    s = a < 0.0 ? 0 : (int32_t)a;
    e = b >= (double)(w - 1) ? w - 1 : (int32_t)b;
    while (s <= e) {
        const double v = base + d * s;
        if (v >= lo && v < hi)
            break;
        s++;
    }
    while (e >= s) {
        const double v = base + d * e;
        if (v >= lo && v < hi)
            break;
        e--;
    }
    *c0 = s;
    *c1 = e + 1 > s ? e + 1 : s;
}

/* Bilinear sample with the coordinate clamped to the image (mode nearest). */
static inline float pn_bilinear_clamped(const uint8_t *src, int32_t w, int32_t h, double y, double x)
{
    const double ymax = (double)(h - 1), xmax = (double)(w - 1);
    y = y < 0.0 ? 0.0 : (y > ymax ? ymax : y);
    x = x < 0.0 ? 0.0 : (x > xmax ? xmax : x);
    const int32_t iy = (int32_t)y, ix = (int32_t)x;
    const double fy = y - iy, fx = x - ix;
    const int32_t ix1 = ix + (ix < w - 1);
    const uint8_t *p0 = src + (size_t)iy * (size_t)w;
    const uint8_t *p1 = p0 + (iy < h - 1 ? (size_t)w : 0);
    const double top = p0[ix] + fx * (double)(p0[ix1] - p0[ix]);
    const double bot = p1[ix] + fx * (double)(p1[ix1] - p1[ix]);
    return (float)(top + fy * (bot - top));
}

/* The interior columns [cs, ce) of one row in 32.32 fixed point, through the
 * warp_bilinear_row kernel (kernels.h): the coordinates advance by an integer
 * add per pixel and only the two 24-bit fractions become floats. The position
 * error is below 1e-6 pixel, far under scipy-vs-float32 noise. Returns 0
 * (caller falls back to doubles) if the fixed-point ends are not strictly
 * inside the image, which can only happen through rounding right at the
 * border. */
static int pn_interior_fixed(const pn_warp *k, double by, double bx, int32_t cs, int32_t ce, float *o,
                             ptrdiff_t step)
{
    const double one = 4294967296.0; /* 2^32 */
    const int64_t n = (int64_t)(ce - cs) - 1;
    const int64_t y0 = (int64_t)floor((by + k->a[1] * cs) * one + 0.5);
    const int64_t x0 = (int64_t)floor((bx + k->a[4] * cs) * one + 0.5);
    const int64_t dyf = (int64_t)floor(k->a[1] * one + 0.5);
    const int64_t dxf = (int64_t)floor(k->a[4] * one + 0.5);
    const int64_t ylim = (int64_t)(k->h - 1) << 32, xlim = (int64_t)(k->w - 1) << 32;
    /* |d| * n is bounded by the image size here (both ends were checked in
     * double), so these products cannot overflow. */
    const int64_t y1 = y0 + dyf * n, x1 = x0 + dxf * n;
    if (y0 < 0 || y1 < 0 || y0 >= ylim || y1 >= ylim || x0 < 0 || x1 < 0 || x0 >= xlim || x1 >= xlim)
        return 0;
    k->kern->warp_bilinear_row(k->src, k->w, y0, x0, dyf, dxf, ce - cs, k->scale, o + cs * step,
                               (int32_t)step);
    return 1;
}

/* mode='nearest' (the article's): scipy maps any coordinate outside [0, n-1]
 * to the edge, which for order 1 equals clamping the coordinate. Columns whose
 * four neighbours are all inside the image (the bulk of a 500x500 image) take
 * a loop without clamps; the rest clamp. The affine step along a row is constant,
 * so the coordinates are a base per row plus c times a fixed step. */
static void pn_warp_nearest(const pn_warp *k, float *dst)
{
    const uint8_t *src = k->src;
    const int32_t w = k->w, h = k->h;
    const size_t ws = (size_t)w;
    const double dy = k->a[1], dx = k->a[4];
    const float scale = k->scale;

    for (int32_t r = 0; r < h; r++) {
        const double by = k->a[0] * r + k->a[2];
        const double bx = k->a[3] * r + k->a[5];
        int32_t ys, ye, xs, xe, cs, ce, c;
        ptrdiff_t step;
        float *o = pn_out_row(k, dst, r, &step);

        /* interior: 0 <= y < h - 1 and 0 <= x < w - 1 */
        pn_span(by, dy, 0.0, (double)(h - 1), w, &ys, &ye);
        pn_span(bx, dx, 0.0, (double)(w - 1), w, &xs, &xe);
        cs = ys > xs ? ys : xs;
        ce = ye < xe ? ye : xe;
        if (ce < cs)
            ce = cs;

        for (c = 0; c < cs; c++)
            o[c * step] = pn_bilinear_clamped(src, w, h, by + dy * c, bx + dx * c) * scale;
        if (ce > cs && pn_interior_fixed(k, by, bx, cs, ce, o, step))
            c = ce;
        for (; c < ce; c++) {
            const double y = by + dy * c, x = bx + dx * c;
            const int32_t iy = (int32_t)y, ix = (int32_t)x;
            const double fy = y - iy, fx = x - ix;
            const uint8_t *p = src + (size_t)iy * ws + (size_t)ix;
            const double top = p[0] + fx * (double)(p[1] - p[0]);
            const double bot = p[ws] + fx * (double)(p[ws + 1] - p[ws]);
            o[c * step] = (float)(top + fy * (bot - top)) * scale;
        }
        for (; c < w; c++)
            o[c * step] = pn_bilinear_clamped(src, w, h, by + dy * c, bx + dx * c) * scale;
    }
}

/* Half-sample symmetric index (dcba|abcd|dcba), period 2n. */
static int64_t pn_reflect_index(int64_t i, int64_t n)
{
    const int64_t p = 2 * n;
    if (n <= 1)
        return 0;
    i %= p;
    if (i < 0)
        i += p;
    return i >= n ? p - 1 - i : i;
}

/* scipy's map_coordinate() for mode 'wrap' (period n - 1). */
static double pn_wrap_coordinate(double in, int64_t n)
{
    if (n <= 1)
        return 0.0;
    const double sz = (double)(n - 1);
    if (in < 0.0)
        in += sz * (double)((int64_t)(-in / sz) + 1);
    else if (in > sz)
        in -= sz * (double)(int64_t)(in / sz);
    return in;
}

/* Neighbours and weight along one axis; returns 0 when the pixel takes cval. */
static int pn_axis(int mode, double v, int32_t n, int64_t *i0, int64_t *i1, double *f)
{
    const double vmax = (double)(n - 1);
    double fl;
    switch (mode) {
    case PNEUMO_FILL_CONSTANT:
        if (!(v >= 0.0 && v <= vmax))
            return 0;
        *i0 = (int64_t)v;
        *f = v - (double)*i0;
        *i1 = *i0 + (*i0 < n - 1);
        return 1;
    case PNEUMO_FILL_REFLECT:
        fl = floor(v);
        *f = v - fl;
        *i0 = pn_reflect_index((int64_t)fl, n);
        *i1 = pn_reflect_index((int64_t)fl + 1, n);
        return 1;
    case PNEUMO_FILL_WRAP:
        v = pn_wrap_coordinate(v, n);
        v = v < 0.0 ? 0.0 : (v > vmax ? vmax : v); /* guards rounding only */
        *i0 = (int64_t)v;
        *f = v - (double)*i0;
        *i1 = *i0 + (*i0 < n - 1);
        return 1;
    default: /* nearest */
        v = v < 0.0 ? 0.0 : (v > vmax ? vmax : v);
        *i0 = (int64_t)v;
        *f = v - (double)*i0;
        *i1 = *i0 + (*i0 < n - 1);
        return 1;
    }
}

/* Other fill modes: same map, a per-pixel boundary rule. */
static void pn_warp_generic(const pn_warp *k, float *dst)
{
    const uint8_t *src = k->src;
    const int32_t w = k->w, h = k->h;
    const size_t ws = (size_t)w;

    for (int32_t r = 0; r < h; r++) {
        const double by = k->a[0] * r + k->a[2];
        const double bx = k->a[3] * r + k->a[5];
        ptrdiff_t step;
        float *o = pn_out_row(k, dst, r, &step);
        for (int32_t c = 0; c < w; c++, o += step) {
            int64_t y0, y1, x0, x1;
            double fy, fx;
            if (!pn_axis(k->mode, by + k->a[1] * c, h, &y0, &y1, &fy) ||
                !pn_axis(k->mode, bx + k->a[4] * c, w, &x0, &x1, &fx)) {
                *o = k->cval * k->scale;
                continue;
            }
            const uint8_t *p0 = src + (size_t)y0 * ws;
            const uint8_t *p1 = src + (size_t)y1 * ws;
            const double top = p0[x0] + fx * (double)(p0[x1] - p0[x0]);
            const double bot = p1[x0] + fx * (double)(p1[x1] - p1[x0]);
            *o = (float)(top + fy * (bot - top)) * k->scale;
        }
    }
}

/* No affine transform (Keras skips scipy then): convert, flip, scale. */
static void pn_copy_flip(const pn_warp *k, float *dst)
{
    const int32_t w = k->w;
    for (int32_t r = 0; r < k->h; r++) {
        const uint8_t *s = k->src + (size_t)r * (size_t)w;
        ptrdiff_t step;
        float *o = pn_out_row(k, dst, r, &step);
        for (int32_t c = 0; c < w; c++, o += step)
            *o = (float)s[c] * k->scale;
    }
}

/* ---------------------------------------------------------------------------
 * Brightness: keras apply_brightness_shift(x, factor, scale):
 *   local_scale = min(x) < 0 or max(x) > 255
 *   img = array_to_img(x, scale=local_scale or scale)   # stretch, astype uint8
 *   img = ImageEnhance.Brightness(img).enhance(factor)  # PIL blend with black
 *   x = img_to_array(img)                               # float32
 *   if not scale and local_scale: x = x / 255 * (max - min) + min
 * then standardize() multiplies by rescale. All arithmetic in float32 as numpy
 * does on the float32 image; PIL's blend uses a C float factor and truncates.
 * The pil_brightness kernel (kernels.h) does all of it on the warped image. */

/* Pillow's Image.blend(constant grey m, img, alpha) of one pixel, Blend.c's
 * float arithmetic: truncation, and clipping to 0..255 only outside
 * 0 <= alpha <= 1 (inside it cannot leave). ImageEnhance.Brightness blends
 * with black (m = 0), ImageEnhance.Contrast with m = int(ImageStat mean + 0.5). */
static uint8_t pn_pil_blend(float alpha, int m, uint8_t u)
{
    const float t = (float)m + alpha * (float)((int)u - m);
    if (alpha >= 0.0f && alpha <= 1.0f)
        return (uint8_t)t;
    if (t <= 0.0f)
        return 0;
    if (t >= 255.0f)
        return 255;
    return (uint8_t)t;
}

/* ---------------------------------------------------------------------------
 * Contrast and gamma on the 8-bit input: both are functions of the byte value
 * alone (the contrast mean is fixed per image), so they compose into one
 * 256-entry table applied by a lookup pass. */

void pn_augment_intensity_lut(const pneumo_augment_params *p, const uint8_t *src, size_t n, uint8_t lut[256])
{
    for (int i = 0; i < 256; i++)
        lut[i] = (uint8_t)i;
    if (p->contrast != 0.0f) {
        uint64_t hist[256] = {0}, sum = 0;
        for (size_t i = 0; i < n; i++)
            hist[src[i]]++;
        for (int i = 0; i < 256; i++)
            sum += hist[i] * (uint64_t)i;
        /* ImageStat: float(sum) / count in double, then int(mean + 0.5) */
        const int m = (int)((double)sum / (double)n + 0.5);
        for (int i = 0; i < 256; i++)
            lut[i] = pn_pil_blend(p->contrast, m, lut[i]);
    }
    if (p->gamma != 0.0f) {
        /* torchvision F_pil.adjust_gamma: int((255 + 1 - 1e-3) * pow(i / 255.0, g)) */
        uint8_t g[256];
        for (int i = 0; i < 256; i++) {
            const double v = (255.0 + 1.0 - 1e-3) * pow(i / 255.0, (double)p->gamma);
            g[i] = v >= 255.0 ? 255 : (uint8_t)v;
        }
        for (int i = 0; i < 256; i++)
            lut[i] = g[lut[i]];
    }
}

void pn_augment_map_u8(const uint8_t *src, uint8_t *dst, size_t n, const uint8_t lut[256])
{
    for (size_t i = 0; i < n; i++)
        dst[i] = lut[src[i]];
}

/* ---------------------------------------------------------------------------
 * Entry points */

pneumo_status pneumo_augment_apply(const pneumo_augment_options *o, const pneumo_augment_params *p,
                                   const uint8_t *src, size_t src_size, int32_t width, int32_t height,
                                   float *dst, size_t dst_count)
{
    pneumo_status st;
    pn_warp k;

    if (!o || !p || !src || !dst)
        return pn_error(PNEUMO_ERR_INVALID_ARG, "pneumo_augment_apply: NULL argument");
    if ((st = pneumo_augment_validate_options(o)) != PNEUMO_OK)
        return st;
    if ((st = pn_check_size("pneumo_augment_apply", width, height)) != PNEUMO_OK)
        return st;
    if ((st = pn_check_params(p, width, height)) != PNEUMO_OK)
        return st;
    if ((st = pn_check_buffer("pneumo_augment_apply", "src", src_size, (size_t)width * (size_t)height)) !=
            PNEUMO_OK ||
        (st = pn_check_buffer("pneumo_augment_apply", "dst", dst_count, (size_t)width * (size_t)height)) !=
            PNEUMO_OK)
        return st;

    const float rs = o->rescale != 0.0f ? o->rescale : 1.0f;
    const int bright = p->brightness != 0.0;

    const size_t npix = (size_t)width * (size_t)height;
    uint8_t *mapped = NULL;
    if (p->contrast != 0.0f || p->gamma != 0.0f) {
        uint8_t lut[256];
        if (!(mapped = pn_malloc(npix)))
            return pn_error(PNEUMO_ERR_NOMEM,
                            "pneumo_augment_apply: %zu-byte contrast/gamma copy of the %dx%d image", npix,
                            (int)width, (int)height);
        pn_augment_intensity_lut(p, src, npix, lut);
        pn_augment_map_u8(src, mapped, npix, lut);
        src = mapped;
    }

    memset(&k, 0, sizeof k);
    k.src = src;
    k.w = width;
    k.h = height;
    k.flip_h = p->flip_h;
    k.flip_v = p->flip_v;
    k.scale = bright ? 1.0f : rs; /* brightness needs the 0..255 values first */
    k.cval = o->cval;
    k.mode = o->fill_mode;
    k.kern = pn_kernels_get();

    if (pn_augment_is_affine_identity(p)) {
        pn_copy_flip(&k, dst);
    } else {
        pn_augment_matrix(p, width, height, k.a);
        if (k.mode == PNEUMO_FILL_NEAREST)
            pn_warp_nearest(&k, dst);
        else
            pn_warp_generic(&k, dst);
    }
    if (bright)
        k.kern->pil_brightness(npix, dst, (float)p->brightness, o->brightness_stretch, rs);
    free(mapped);
    return PNEUMO_OK;
}

pneumo_status pneumo_augment_image(const pneumo_augment_options *o, uint64_t seed, uint64_t epoch,
                                   uint64_t index, const uint8_t *src, size_t src_size, int32_t width,
                                   int32_t height, float *dst, size_t dst_count,
                                   pneumo_augment_params *params_out)
{
    pneumo_augment_params p;
    pneumo_status st;

    if (!src || !dst)
        return pn_error(PNEUMO_ERR_INVALID_ARG, "pneumo_augment_image: NULL argument");
    if ((st = pneumo_augment_draw(o, seed, epoch, index, width, height, &p)) != PNEUMO_OK)
        return st;
    if ((st = pneumo_augment_apply(o, &p, src, src_size, width, height, dst, dst_count)) != PNEUMO_OK)
        return st;
    if (params_out)
        *params_out = p;
    return PNEUMO_OK;
}
