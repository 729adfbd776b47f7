/* Fused Conv2D + activation + 2x2 max-pool: the reference computes each conv
 * output exactly as pn_f32_conv2d_fwd__ref does (bias, then taps in (ky, kx,
 * ci) order), applies the activation as pn_f32_act_fwd__ref and pools as
 * pn_f32_maxpool_fwd__ref (strict '>' keeps the first maximum), so the fused
 * result equals the three unfused kernels bit for bit. */
#include <string.h>

#include "kernels/ref/ref.h"

#define CP_CB 64 /* output channels per block */

void pn_f32_conv2d_pool2_fwd__ref(const pn_conv2d_shape *s, pn_act act, int32_t ph, int32_t pw,
                                  const float *x, const float *w, const float *b, float *z, uint8_t *argmax)
{
    const int32_t oc = s->oc, ic = s->ic;
    float acc[4][CP_CB];
    for (int32_t n = 0; n < s->n; n++) {
        const float *xn = x + (size_t)n * s->ih * s->iw * ic;
        for (int32_t py = 0; py < ph; py++)
            for (int32_t px = 0; px < pw; px++) {
                const size_t o = (((size_t)n * ph + (size_t)py) * pw + (size_t)px) * (size_t)oc;
                for (int32_t c0 = 0; c0 < oc; c0 += CP_CB) {
                    const int32_t nc = oc - c0 < CP_CB ? oc - c0 : CP_CB;
                    /* the window's four conv outputs, each summed as conv2d_fwd__ref does */
                    for (int q = 0; q < 4; q++)
                        for (int32_t c = 0; c < nc; c++)
                            acc[q][c] = b ? b[c0 + c] : 0.0f;
                    for (int32_t ky = 0; ky < s->kh; ky++)
                        for (int32_t kx = 0; kx < s->kw; kx++) {
                            const float *wp = w + ((size_t)ky * s->kw + (size_t)kx) * (size_t)ic * oc +
                                              (size_t)c0;
                            for (int q = 0; q < 4; q++) {
                                const int32_t iy = (2 * py + q / 2) * s->sh + ky,
                                              ix = (2 * px + q % 2) * s->sw + kx;
                                const float *xp = xn + ((size_t)iy * s->iw + (size_t)ix) * ic;
                                for (int32_t ci = 0; ci < ic; ci++) {
                                    const float xv = xp[ci];
                                    const float *wr = wp + (size_t)ci * oc;
                                    for (int32_t c = 0; c < nc; c++)
                                        acc[q][c] += xv * wr[c];
                                }
                            }
                        }
                    for (int32_t c = 0; c < nc; c++) {
                        float best = 0.0f;
                        uint8_t at = 0;
                        for (int q = 0; q < 4; q++) {
                            float v = acc[q][c];
                            if (act == PN_ACT_RELU)
                                v = v > 0.0f ? v : 0.0f;
                            /* strict '>' keeps the first maximum, as maxpool_fwd */
                            if (q == 0 || v > best) {
                                best = v;
                                at = (uint8_t)q;
                            }
                        }
                        z[o + (size_t)(c0 + c)] = best;
                        if (argmax)
                            argmax[o + (size_t)(c0 + c)] = at;
                    }
                }
            }
    }
}

void pn_f32_conv2d_pool2_bwd_filter__ref(const pn_conv2d_shape *s, int32_t ph, int32_t pw, const float *x,
                                         const float *dz, const uint8_t *argmax, float *dw, float *db,
                                         float *scratch)
{
    const int32_t oc = s->oc, ic = s->ic;
    (void)scratch;
    for (int32_t n = 0; n < s->n; n++) {
        const float *xn = x + (size_t)n * s->ih * s->iw * ic;
        for (int32_t py = 0; py < ph; py++)
            for (int32_t px = 0; px < pw; px++) {
                const size_t o = (((size_t)n * ph + (size_t)py) * pw + (size_t)px) * (size_t)oc;
                const float *g = dz + o;
                const uint8_t *am = argmax + o;
                /* the input under the window's top-left conv output: each
                 * channel's maximum q moves it by (q / 2, q % 2) conv pixels */
                const float *x0 = xn + ((size_t)(2 * py * s->sh) * s->iw + (size_t)(2 * px * s->sw)) * ic;
                const ptrdiff_t qoff[4] = {0, (ptrdiff_t)s->sw * ic, (ptrdiff_t)s->sh * s->iw * ic,
                                           ((ptrdiff_t)s->sh * s->iw + s->sw) * ic};
                if (db)
                    for (int32_t co = 0; co < oc; co++)
                        db[co] += g[co];
                for (int32_t ky = 0; ky < s->kh; ky++)
                    for (int32_t kx = 0; kx < s->kw; kx++) {
                        const float *xt = x0 + ((size_t)ky * s->iw + (size_t)kx) * ic;
                        float *wp = dw + ((size_t)ky * s->kw + (size_t)kx) * (size_t)ic * oc;
                        for (int32_t ci = 0; ci < ic; ci++)
                            for (int32_t co = 0; co < oc; co++)
                                wp[(size_t)ci * oc + (size_t)co] += xt[qoff[am[co] & 3] + ci] * g[co];
                    }
            }
    }
}

void pn_f32_conv2d_pool2_bwd_data__ref(const pn_conv2d_shape *s, int32_t ph, int32_t pw, const float *dz,
                                       const uint8_t *argmax, const float *w, float *dx, float *scratch)
{
    const int32_t oc = s->oc, ic = s->ic;
    const size_t in_size = (size_t)s->ih * s->iw * ic;
    (void)scratch;
    memset(dx, 0, (size_t)s->n * in_size * sizeof(float));
    for (int32_t n = 0; n < s->n; n++) {
        float *dxn = dx + (size_t)n * in_size;
        for (int32_t py = 0; py < ph; py++)
            for (int32_t px = 0; px < pw; px++) {
                const size_t o = (((size_t)n * ph + (size_t)py) * pw + (size_t)px) * (size_t)oc;
                for (int32_t co = 0; co < oc; co++) {
                    const float g = dz[o + (size_t)co];
                    const int q = argmax[o + (size_t)co] & 3;
                    const int32_t oy = 2 * py + q / 2, ox = 2 * px + q % 2;
                    if (g == 0.0f)
                        continue;
                    for (int32_t ky = 0; ky < s->kh; ky++)
                        for (int32_t kx = 0; kx < s->kw; kx++) {
                            float *d = dxn +
                                       ((size_t)(oy * s->sh + ky) * s->iw + (size_t)(ox * s->sw + kx)) * ic;
                            const float *wp = w + ((size_t)ky * s->kw + (size_t)kx) * (size_t)ic * oc +
                                              (size_t)co;
                            for (int32_t ci = 0; ci < ic; ci++)
                                d[ci] += g * wp[(size_t)ci * oc];
                        }
                }
            }
    }
}
