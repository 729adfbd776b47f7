#include <string.h>

#include "kernels/ref/ref.h"

void pn_f32_maxpool_fwd__ref(const pn_pool2d_shape *s, const float *x, float *y, uint8_t *argmax)
{
    const int32_t c = s->c;
    for (int32_t n = 0; n < s->n; n++)
        for (int32_t oy = 0; oy < s->oh; oy++)
            for (int32_t ox = 0; ox < s->ow; ox++) {
                size_t o = (((size_t)n * s->oh + (size_t)oy) * s->ow + (size_t)ox) * (size_t)c;
                for (int32_t ch = 0; ch < c; ch++) {
                    float best = 0.0f;
                    int found = 0;
                    uint8_t at = 0;
                    for (int32_t ky = 0; ky < s->ph; ky++) {
                        int32_t iy = oy * s->sh - s->pad_top + ky;
                        if (iy < 0 || iy >= s->ih)
                            continue;
                        for (int32_t kx = 0; kx < s->pw; kx++) {
                            int32_t ix = ox * s->sw - s->pad_left + kx;
                            float v;
                            if (ix < 0 || ix >= s->iw)
                                continue;
                            v = x[(((size_t)n * s->ih + (size_t)iy) * s->iw + (size_t)ix) * (size_t)c +
                                  (size_t)ch];
                            /* strict '>' keeps the first maximum in scan order, as TF does */
                            if (!found || v > best) {
                                best = v;
                                at = (uint8_t)(ky * s->pw + kx);
                                found = 1;
                            }
                        }
                    }
                    y[o + (size_t)ch] = best;
                    argmax[o + (size_t)ch] = at;
                }
            }
}

void pn_f32_maxpool_bwd__ref(const pn_pool2d_shape *s, const float *dy, const uint8_t *argmax, float *dx)
{
    const int32_t c = s->c;
    memset(dx, 0, (size_t)s->n * s->ih * s->iw * (size_t)c * sizeof(float));
    for (int32_t n = 0; n < s->n; n++)
        for (int32_t oy = 0; oy < s->oh; oy++)
            for (int32_t ox = 0; ox < s->ow; ox++) {
                size_t o = (((size_t)n * s->oh + (size_t)oy) * s->ow + (size_t)ox) * (size_t)c;
                for (int32_t ch = 0; ch < c; ch++) {
                    int32_t at = argmax[o + (size_t)ch];
                    int32_t iy = oy * s->sh - s->pad_top + at / s->pw;
                    int32_t ix = ox * s->sw - s->pad_left + at % s->pw;
                    dx[(((size_t)n * s->ih + (size_t)iy) * s->iw + (size_t)ix) * (size_t)c + (size_t)ch] +=
                        dy[o + (size_t)ch];
                }
            }
}
