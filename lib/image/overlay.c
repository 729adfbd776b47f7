/* Grad-CAM rendering: bilinear upsampling of a map and a colour overlay over
 * the grayscale X-ray, encoded as an RGB PNG (pneumo/gradcam.h). */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "core/alloc.h"
#include "core/error.h"
#include "core/tensor.h"
#include "core/atomic_file.h"
#include "image/image_internal.h"
#include "pneumo/gradcam.h"
#include "pneumo/image_write.h"

void pneumo_overlay_default_options(pneumo_overlay_options *o)
{
    if (!o)
        return;
    memset(o, 0, sizeof *o);
    o->size = sizeof *o;
    o->alpha = 0.5f;
    o->max_side = 1024;
}

/* Source coordinate of output index i for an n_in -> n_out resize with pixel
 * centres aligned: (i + 0.5) * n_in / n_out - 0.5, clamped to the edges. */
static void linear_taps(int32_t i, int32_t n_in, int32_t n_out, int32_t *i0, int32_t *i1, float *f)
{
    double s = ((double)i + 0.5) * (double)n_in / (double)n_out - 0.5;
    if (s < 0.0)
        s = 0.0;
    *i0 = (int32_t)s;
    if (*i0 > n_in - 1)
        *i0 = n_in - 1;
    *i1 = *i0 + 1 < n_in ? *i0 + 1 : n_in - 1;
    *f = (float)(s - (double)*i0);
}

static void upsample(const float *src, int32_t sh, int32_t sw, float *dst, int32_t dh, int32_t dw)
{
    for (int32_t y = 0; y < dh; y++) {
        int32_t y0, y1;
        float fy;
        linear_taps(y, sh, dh, &y0, &y1, &fy);
        for (int32_t x = 0; x < dw; x++) {
            int32_t x0, x1;
            float fx;
            linear_taps(x, sw, dw, &x0, &x1, &fx);
            {
                const float a = src[(size_t)y0 * sw + x0], b = src[(size_t)y0 * sw + x1];
                const float c = src[(size_t)y1 * sw + x0], d = src[(size_t)y1 * sw + x1];
                const float top = a + (b - a) * fx, bottom = c + (d - c) * fx;
                dst[(size_t)y * dw + x] = top + (bottom - top) * fy;
            }
        }
    }
}

static pneumo_status check_map(const pneumo_tensor *map, const char *fn)
{
    if (!map)
        return pn_error(PNEUMO_ERR_INVALID_ARG, "%s: map is NULL", fn);
    if (map->ndim != 2 || map->shape[0] < 1 || map->shape[1] < 1 || map->shape[0] > INT32_MAX ||
        map->shape[1] > INT32_MAX) {
        char got[96];
        return pn_error(PNEUMO_ERR_INVALID_ARG, "%s: map shape %s, expected (height, width)", fn,
                        pn_shape_format(map->ndim, map->shape, got, sizeof got));
    }
    return PNEUMO_OK;
}

pneumo_status pneumo_gradcam_upsample(const pneumo_tensor *map, int32_t height, int32_t width,
                                      pneumo_tensor **out)
{
    const char *fn = "pneumo_gradcam_upsample";
    int64_t shape[2] = {height, width};
    pneumo_status st;
    if (out)
        *out = NULL;
    if (!out)
        return pn_error(PNEUMO_ERR_INVALID_ARG, "%s: out is NULL", fn);
    if ((st = check_map(map, fn)) != PNEUMO_OK)
        return st;
    if (height < 1 || width < 1)
        return pn_error(PNEUMO_ERR_INVALID_ARG, "%s: size %d x %d must be positive", fn, height, width);
    if ((int64_t)height * width > ((int64_t)1 << 28))
        return pn_error(PNEUMO_ERR_LIMIT, "%s: %d x %d is more than 2^28 values", fn, height, width);
    if ((st = pneumo_tensor_create(2, shape, out)) != PNEUMO_OK)
        return st;
    upsample(map->data, (int32_t)map->shape[0], (int32_t)map->shape[1], (*out)->data, height, width);
    return PNEUMO_OK;
}

/* matplotlib's "inferno" (perceptually uniform, dark to bright) as the
 * degree-6 polynomial fit of Matt Zucker's published approximation, per
 * channel in [0, 1]. */
static void inferno(float t, uint8_t rgb[3])
{
    static const double c[7][3] = {
        {0.0002189403691192265, 0.001651004631001012, -0.01948089843709184},
        {0.1065134194856116, 0.5639564367884091, 3.932712388889277},
        {11.60249308247187, -3.972853965665698, -15.9423941062914},
        {-41.70399613139459, 17.43639888205313, 44.35414519872813},
        {77.162935699427, -33.40235894210092, -81.80730925738993},
        {-71.31942824499214, 32.62606426397723, 73.20951985803202},
        {25.13112622477341, -12.24266895238567, -23.07032500287172},
    };
    for (int k = 0; k < 3; k++) {
        double v = c[6][k];
        for (int d = 5; d >= 0; d--)
            v = v * t + c[d][k];
        v = v < 0.0 ? 0.0 : v > 1.0 ? 1.0 : v;
        rgb[k] = (uint8_t)lrint(v * 255.0);
    }
}

static pneumo_status render(const pneumo_image *img, const pneumo_tensor *map,
                            const pneumo_overlay_options *o, const char *fn, void **png, size_t *png_size)
{
    pneumo_overlay_options defaults;
    pneumo_image *base = NULL;
    const pneumo_image *gray = img;
    int32_t w, h;
    float *up = NULL, most = 0.0f;
    uint8_t *rgb = NULL, lut[256][3];
    pneumo_status st;
    if (!img)
        return pn_error(PNEUMO_ERR_INVALID_ARG, "%s: image is NULL", fn);
    if ((st = check_map(map, fn)) != PNEUMO_OK)
        return st;
    if (!o) {
        pneumo_overlay_default_options(&defaults);
        o = &defaults;
    }
    if (o->size != sizeof *o)
        return pn_error(PNEUMO_ERR_INVALID_ARG,
                        "%s: options size is %u, expected %zu (use pneumo_overlay_default_options)", fn,
                        o->size, sizeof *o);
    for (size_t i = 0; i < sizeof o->reserved / sizeof o->reserved[0]; i++)
        if (o->reserved[i])
            return pn_error(PNEUMO_ERR_INVALID_ARG, "%s: reserved option fields must be zero", fn);
    if (!(o->alpha >= 0.0f && o->alpha <= 1.0f) || o->max_side < 0)
        return pn_error(PNEUMO_ERR_INVALID_ARG, "%s: alpha %g must be in [0, 1] and max_side %d >= 0", fn,
                        (double)o->alpha, o->max_side);
    w = pneumo_image_width(img);
    h = pneumo_image_height(img);
    if (o->max_side && (w > o->max_side || h > o->max_side)) {
        double scale = (double)o->max_side / (double)(w > h ? w : h);
        int32_t nw = (int32_t)lrint(w * scale), nh = (int32_t)lrint(h * scale);
        if ((st = pneumo_image_resize(img, nw < 1 ? 1 : nw, nh < 1 ? 1 : nh, PNEUMO_RESAMPLE_BILINEAR,
                                      &base)) != PNEUMO_OK)
            return st;
        gray = base;
        w = pneumo_image_width(base);
        h = pneumo_image_height(base);
    }
    up = pn_malloc((size_t)w * (size_t)h * sizeof *up);
    rgb = pn_malloc((size_t)w * (size_t)h * 3);
    if (!up || !rgb) {
        st = pn_error_nomem(fn, (size_t)w * (size_t)h * (3 + sizeof *up));
        goto done;
    }
    upsample(map->data, (int32_t)map->shape[0], (int32_t)map->shape[1], up, h, w);
    for (int64_t i = 0; i < map->shape[0] * map->shape[1]; i++)
        if (map->data[i] > most)
            most = map->data[i];
    for (int i = 0; i < 256; i++)
        inferno((float)i / 255.0f, lut[i]);
    {
        const uint8_t *px = pneumo_image_pixels(gray);
        for (size_t i = 0; i < (size_t)w * (size_t)h; i++) {
            float v = most > 0.0f && up[i] > 0.0f ? up[i] / most : 0.0f;
            int idx;
            float a;
            if (v > 1.0f)
                v = 1.0f;
            idx = (int)lrintf(v * 255.0f);
            a = o->alpha * v;
            for (int k = 0; k < 3; k++)
                rgb[i * 3 + (size_t)k] = (uint8_t)lrintf((1.0f - a) * (float)px[i] + a * (float)lut[idx][k]);
        }
    }
    st = pn_png_encode_rgb(rgb, w, h, fn, png, png_size);
done:
    free(up);
    free(rgb);
    pneumo_image_destroy(base);
    return st;
}

pneumo_status pneumo_gradcam_overlay_png(const pneumo_image *img, const pneumo_tensor *map,
                                         const pneumo_overlay_options *o, void **png, size_t *png_size)
{
    const char *fn = "pneumo_gradcam_overlay_png";
    if (png)
        *png = NULL;
    if (png_size)
        *png_size = 0;
    if (!png || !png_size)
        return pn_error(PNEUMO_ERR_INVALID_ARG, "%s: output pointer is NULL", fn);
    return render(img, map, o, fn, png, png_size);
}

pneumo_status pneumo_gradcam_save_overlay(const pneumo_image *img, const pneumo_tensor *map,
                                          const pneumo_overlay_options *o, const char *path)
{
    void *png = NULL;
    size_t size = 0;
    pneumo_status st;
    if (!path || !path[0])
        return pn_error(PNEUMO_ERR_INVALID_ARG, "pneumo_gradcam_save_overlay: path is NULL or empty");
    if ((st = render(img, map, o, path, &png, &size)) != PNEUMO_OK)
        return st;
    st = pn_atomic_write(path, png, size);
    free(png);
    return st;
}
