/* Resizing 8-bit gray images exactly like Pillow's Image.resize (mode 'L').
 *
 * NEAREST: Pillow's _resize turns NEAREST into an affine transform with
 * a[0] = src_w / dst_w (double) and runs ImagingScaleAffine, which starts at
 * xo = a[0] * 0.5, takes (int)xo for each output column and then adds a[0]
 * (the same for rows). The repeated double addition is reproduced as is: it
 * equals floor((x + 0.5) * src_w / dst_w) except where the exact value is an
 * integer and rounding error lands below it, and Pillow's answer is the one
 * Keras training saw. Positions outside the source (impossible for a plain
 * resize, but Pillow checks) give 0 like Pillow's fill.
 *
 * BILINEAR: Pillow's ImagingResample: separable, horizontal pass first (only
 * over the rows the vertical pass needs), triangle filter of support
 * 1 * max(scale, 1) (so shrinking averages over the footprint), coefficients
 * normalised in double, converted to 22-bit fixed point with round half away
 * from zero, accumulated from 1 << 21 and clipped to 0..255. A pass is skipped
 * when its size is unchanged, like Pillow. */
#include "image/image_internal.h"

#include "core/alloc.h"
#include "core/error.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#define PN_PRECISION_BITS (32 - 8 - 2)

static void resize_nearest(const uint8_t *src, int32_t sw, int32_t sh, uint8_t *dst, int32_t dw, int32_t dh,
                           int32_t *xtab)
{
    const double ax = (double)sw / dw;
    const double ay = (double)sh / dh;
    double xo = ax * 0.5, yo = ay * 0.5;
    for (int32_t x = 0; x < dw; x++) {
        int xin = xo < 0.0 ? -1 : (int)xo;
        xtab[x] = (xin >= 0 && xin < sw) ? xin : -1;
        xo += ax;
    }
    for (int32_t y = 0; y < dh; y++) {
        int yi = yo < 0.0 ? -1 : (int)yo;
        uint8_t *out = dst + (size_t)y * dw;
        if (yi >= 0 && yi < sh) {
            const uint8_t *in = src + (size_t)yi * sw;
            for (int32_t x = 0; x < dw; x++)
                out[x] = xtab[x] >= 0 ? in[xtab[x]] : 0;
        } else {
            memset(out, 0, (size_t)dw);
        }
        yo += ay;
    }
}

static double bilinear_filter(double x)
{
    if (x < 0.0)
        x = -x;
    if (x < 1.0)
        return 1.0 - x;
    return 0.0;
}

/* Pillow precompute_coeffs + normalize_coeffs_8bpc for the bilinear filter.
 * Fills bounds[2*out] (first source index, count) and kk[out*ksize] fixed-point
 * weights; returns ksize or 0 on allocation failure. */
static int precompute_coeffs(int in_size, int out_size, int **boundsp, int32_t **kkp)
{
    double scale, filterscale, support;
    int ksize;
    double *pre;
    int32_t *kk;
    int *bounds;

    filterscale = scale = (double)in_size / out_size;
    if (filterscale < 1.0)
        filterscale = 1.0;
    support = 1.0 * filterscale;
    ksize = (int)ceil(support) * 2 + 1;

    pre = pn_malloc((size_t)out_size * (size_t)ksize * sizeof *pre);
    kk = pn_malloc((size_t)out_size * (size_t)ksize * sizeof *kk);
    bounds = pn_malloc((size_t)out_size * 2 * sizeof *bounds);
    if (!pre || !kk || !bounds) {
        free(pre);
        free(kk);
        free(bounds);
        return 0;
    }
    for (int xx = 0; xx < out_size; xx++) {
        double center = (xx + 0.5) * scale;
        double ww = 0.0, ss = 1.0 / filterscale;
        double *k = &pre[(size_t)xx * ksize];
        int x, xmin, xmax;
        xmin = (int)(center - support + 0.5);
        if (xmin < 0)
            xmin = 0;
        xmax = (int)(center + support + 0.5);
        if (xmax > in_size)
            xmax = in_size;
        xmax -= xmin;
        for (x = 0; x < xmax; x++) {
            double w = bilinear_filter((x + xmin - center + 0.5) * ss);
            k[x] = w;
            ww += w;
        }
        for (x = 0; x < xmax; x++)
            if (ww != 0.0)
                k[x] /= ww;
        for (; x < ksize; x++)
            k[x] = 0;
        bounds[xx * 2 + 0] = xmin;
        bounds[xx * 2 + 1] = xmax;
    }
    for (size_t i = 0; i < (size_t)out_size * (size_t)ksize; i++) {
        if (pre[i] < 0)
            kk[i] = (int32_t)(-0.5 + pre[i] * (1 << PN_PRECISION_BITS));
        else
            kk[i] = (int32_t)(0.5 + pre[i] * (1 << PN_PRECISION_BITS));
    }
    free(pre);
    *boundsp = bounds;
    *kkp = kk;
    return ksize;
}

static inline uint8_t clip8(int32_t v)
{
    /* Pillow: clip8_lookups[v >> PRECISION_BITS] (floor division) */
    int32_t q = v >= 0 ? v >> PN_PRECISION_BITS
                       : -(int32_t)((-(int64_t)v + (1 << PN_PRECISION_BITS) - 1) >> PN_PRECISION_BITS);
    return (uint8_t)(q < 0 ? 0 : q > 255 ? 255 : q);
}

static pneumo_status resize_bilinear(const uint8_t *src, int32_t sw, int32_t sh, uint8_t *dst, int32_t dw,
                                     int32_t dh)
{
    int *bounds_v = NULL, *bounds_h = NULL;
    int32_t *kk_v = NULL, *kk_h = NULL;
    int ksize_v, ksize_h = 0;
    uint8_t *tmp = NULL;
    const uint8_t *vin = src; /* input of the vertical pass */
    int32_t vin_w = sw;
    int need_h = dw != sw, need_v = dh != sh;
    int ybox_first, ybox_last;

    ksize_v = precompute_coeffs(sh, dh, &bounds_v, &kk_v);
    if (!ksize_v)
        return pn_error_nomem("bilinear resize coefficients", (size_t)dh * 3 * sizeof(double));
    ybox_first = bounds_v[0];
    ybox_last = bounds_v[dh * 2 - 2] + bounds_v[dh * 2 - 1];

    if (need_h) {
        int rows = ybox_last - ybox_first;
        ksize_h = precompute_coeffs(sw, dw, &bounds_h, &kk_h);
        tmp = ksize_h ? pn_malloc((size_t)dw * (size_t)rows) : NULL;
        if (!tmp) {
            free(bounds_v);
            free(kk_v);
            free(bounds_h);
            free(kk_h);
            return pn_error_nomem("bilinear resize buffer", (size_t)dw * (size_t)rows);
        }
        for (int i = 0; i < dh; i++)
            bounds_v[i * 2] -= ybox_first;
        for (int yy = 0; yy < rows; yy++) {
            const uint8_t *in = src + (size_t)(yy + ybox_first) * sw;
            uint8_t *o = tmp + (size_t)yy * dw;
            for (int32_t xx = 0; xx < dw; xx++) {
                int xmin = bounds_h[xx * 2 + 0], xmax = bounds_h[xx * 2 + 1];
                const int32_t *k = &kk_h[(size_t)xx * ksize_h];
                int32_t ss0 = 1 << (PN_PRECISION_BITS - 1);
                for (int x = 0; x < xmax; x++)
                    ss0 += (int32_t)in[x + xmin] * k[x];
                o[xx] = clip8(ss0);
            }
        }
        free(bounds_h);
        free(kk_h);
        vin = tmp;
        vin_w = dw;
    }

    if (need_v) {
        for (int32_t yy = 0; yy < dh; yy++) {
            const int32_t *k = &kk_v[(size_t)yy * ksize_v];
            int ymin = bounds_v[yy * 2 + 0], ymax = bounds_v[yy * 2 + 1];
            uint8_t *o = dst + (size_t)yy * dw;
            for (int32_t xx = 0; xx < vin_w; xx++) {
                int32_t ss0 = 1 << (PN_PRECISION_BITS - 1);
                for (int y = 0; y < ymax; y++)
                    ss0 += (int32_t)vin[(size_t)(y + ymin) * vin_w + xx] * k[y];
                o[xx] = clip8(ss0);
            }
        }
    } else {
        memcpy(dst, vin, (size_t)dw * (size_t)dh);
    }
    free(bounds_v);
    free(kk_v);
    free(tmp);
    return PNEUMO_OK;
}

pneumo_status pn_resize_gray(const uint8_t *src, int32_t sw, int32_t sh, uint8_t *dst, int32_t dw, int32_t dh,
                             pneumo_resample mode)
{
    if (!src || !dst)
        return pn_error(PNEUMO_ERR_INVALID_ARG, "resize: NULL buffer");
    if (sw < 1 || sh < 1 || dw < 1 || dh < 1)
        return pn_error(PNEUMO_ERR_INVALID_ARG, "resize: sizes %dx%d -> %dx%d must be positive", (int)sw,
                        (int)sh, (int)dw, (int)dh);
    if ((int64_t)dw * dh > INT32_MAX)
        return pn_error(PNEUMO_ERR_LIMIT, "resize: %dx%d exceeds 2^31 - 1 pixels", (int)dw, (int)dh);
    if (sw == dw && sh == dh) {
        memcpy(dst, src, (size_t)sw * (size_t)sh);
        return PNEUMO_OK;
    }
    switch (mode) {
    case PNEUMO_RESAMPLE_NEAREST: {
        int32_t *xtab = pn_malloc((size_t)dw * sizeof *xtab);
        if (!xtab)
            return pn_error_nomem("nearest resize table", (size_t)dw * sizeof *xtab);
        resize_nearest(src, sw, sh, dst, dw, dh, xtab);
        free(xtab);
        return PNEUMO_OK;
    }
    case PNEUMO_RESAMPLE_BILINEAR: return resize_bilinear(src, sw, sh, dst, dw, dh);
    default: return pn_error(PNEUMO_ERR_INVALID_ARG, "resize: unknown resampling mode %d", (int)mode);
    }
}

pneumo_status pneumo_image_resize(const pneumo_image *src, int32_t width, int32_t height,
                                  pneumo_resample mode, pneumo_image **out)
{
    pneumo_image *img = NULL;
    pneumo_status st;
    if (!out)
        return pn_error(PNEUMO_ERR_INVALID_ARG, "pneumo_image_resize: out is NULL");
    *out = NULL;
    if (!src)
        return pn_error(PNEUMO_ERR_INVALID_ARG, "pneumo_image_resize: src is NULL");
    if (mode != PNEUMO_RESAMPLE_NEAREST && mode != PNEUMO_RESAMPLE_BILINEAR)
        return pn_error(PNEUMO_ERR_INVALID_ARG, "pneumo_image_resize: unknown mode %d", (int)mode);
    if (width < 1 || height < 1)
        return pn_error(PNEUMO_ERR_INVALID_ARG, "pneumo_image_resize: size %dx%d is not positive", (int)width,
                        (int)height);
    st = pn_image_alloc(width, height, "pneumo_image_resize", &img);
    if (st != PNEUMO_OK)
        return st;
    st = pn_resize_gray(src->pixels, src->width, src->height, img->pixels, width, height, mode);
    if (st != PNEUMO_OK) {
        pneumo_image_destroy(img);
        return st;
    }
    *out = img;
    return PNEUMO_OK;
}
