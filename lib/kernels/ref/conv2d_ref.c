#include <string.h>

#include "kernels/ref/ref.h"

/* Element offsets in NHWC / HWIO layouts. */
static inline size_t nhwc(const pn_conv2d_shape *s, int32_t n, int32_t y, int32_t x, int in)
{
    if (in)
        return (((size_t)n * s->ih + (size_t)y) * s->iw + (size_t)x) * s->ic;
    return (((size_t)n * s->oh + (size_t)y) * s->ow + (size_t)x) * s->oc;
}

void pn_f32_conv2d_fwd__ref(const pn_conv2d_shape *s, const float *x, const float *w, const float *b,
                            float *y)
{
    const int32_t oc = s->oc, ic = s->ic;
    for (int32_t n = 0; n < s->n; n++)
        for (int32_t oy = 0; oy < s->oh; oy++)
            for (int32_t ox = 0; ox < s->ow; ox++) {
                float *yp = y + nhwc(s, n, oy, ox, 0);
                for (int32_t co = 0; co < oc; co++)
                    yp[co] = b ? b[co] : 0.0f;
                for (int32_t ky = 0; ky < s->kh; ky++) {
                    int32_t iy = oy * s->sh - s->pad_top + ky;
                    if (iy < 0 || iy >= s->ih)
                        continue;
                    for (int32_t kx = 0; kx < s->kw; kx++) {
                        int32_t ix = ox * s->sw - s->pad_left + kx;
                        const float *xp, *wp;
                        if (ix < 0 || ix >= s->iw)
                            continue;
                        xp = x + nhwc(s, n, iy, ix, 1);
                        wp = w + ((size_t)ky * s->kw + (size_t)kx) * (size_t)ic * (size_t)oc;
                        for (int32_t ci = 0; ci < ic; ci++) {
                            const float xv = xp[ci];
                            const float *wr = wp + (size_t)ci * (size_t)oc;
                            for (int32_t co = 0; co < oc; co++)
                                yp[co] += xv * wr[co];
                        }
                    }
                }
            }
}

void pn_f32_conv2d_bwd_data__ref(const pn_conv2d_shape *s, const float *dy, const float *w, float *dx)
{
    const int32_t oc = s->oc, ic = s->ic;
    memset(dx, 0, (size_t)s->n * s->ih * s->iw * ic * sizeof(float));
    for (int32_t n = 0; n < s->n; n++)
        for (int32_t oy = 0; oy < s->oh; oy++)
            for (int32_t ox = 0; ox < s->ow; ox++) {
                const float *dyp = dy + nhwc(s, n, oy, ox, 0);
                for (int32_t ky = 0; ky < s->kh; ky++) {
                    int32_t iy = oy * s->sh - s->pad_top + ky;
                    if (iy < 0 || iy >= s->ih)
                        continue;
                    for (int32_t kx = 0; kx < s->kw; kx++) {
                        int32_t ix = ox * s->sw - s->pad_left + kx;
                        float *dxp;
                        const float *wp;
                        if (ix < 0 || ix >= s->iw)
                            continue;
                        dxp = dx + nhwc(s, n, iy, ix, 1);
                        wp = w + ((size_t)ky * s->kw + (size_t)kx) * (size_t)ic * (size_t)oc;
                        for (int32_t ci = 0; ci < ic; ci++) {
                            const float *wr = wp + (size_t)ci * (size_t)oc;
                            float acc = 0.0f;
                            for (int32_t co = 0; co < oc; co++)
                                acc += dyp[co] * wr[co];
                            dxp[ci] += acc;
                        }
                    }
                }
            }
}

void pn_f32_conv2d_bwd_filter__ref(const pn_conv2d_shape *s, const float *x, const float *dy, float *dw,
                                   float *db)
{
    const int32_t oc = s->oc, ic = s->ic;
    for (int32_t n = 0; n < s->n; n++)
        for (int32_t oy = 0; oy < s->oh; oy++)
            for (int32_t ox = 0; ox < s->ow; ox++) {
                const float *dyp = dy + nhwc(s, n, oy, ox, 0);
                if (db)
                    for (int32_t co = 0; co < oc; co++)
                        db[co] += dyp[co];
                for (int32_t ky = 0; ky < s->kh; ky++) {
                    int32_t iy = oy * s->sh - s->pad_top + ky;
                    if (iy < 0 || iy >= s->ih)
                        continue;
                    for (int32_t kx = 0; kx < s->kw; kx++) {
                        int32_t ix = ox * s->sw - s->pad_left + kx;
                        const float *xp;
                        float *dwp;
                        if (ix < 0 || ix >= s->iw)
                            continue;
                        xp = x + nhwc(s, n, iy, ix, 1);
                        dwp = dw + ((size_t)ky * s->kw + (size_t)kx) * (size_t)ic * (size_t)oc;
                        for (int32_t ci = 0; ci < ic; ci++) {
                            const float xv = xp[ci];
                            float *dwr = dwp + (size_t)ci * (size_t)oc;
                            for (int32_t co = 0; co < oc; co++)
                                dwr[co] += xv * dyp[co];
                        }
                    }
                }
            }
}
