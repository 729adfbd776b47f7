/* Pooling, dense, activation, loss and optimizer kernels over vec.h, compiled per
 * ISA by lib/meson.build. Dense forward reuses the conv tile kernel
 * (a dense layer is a 1x1 convolution whose pixels are the batch), so this
 * file uses conv_tile.h. Where the reference's expression order can be
 * kept (ReLU, pooling, Adam, SGD, bias sums) it is, so those kernels match the
 * reference bit for bit; sigmoid, tanh and the loss use vec.h's exp / log1p
 * polynomials (within ~2 ulp of libm's). */
#include <string.h>

#include "kernels/ref/ref.h"
#include "kernels/kernels.h"
#include "kernels/simd/conv_tile.h"

/* Apply op to count floats: full vectors, then one masked tail. */
#define PN_VLOOP(count, BODY_FULL, BODY_TAIL)           \
    do {                                                \
        size_t i_ = 0;                                  \
        for (; i_ + VL <= (count); i_ += VL) {          \
            const size_t i = i_;                        \
            BODY_FULL;                                  \
        }                                               \
        if (i_ < (count)) {                             \
            const size_t i = i_;                        \
            const VMASK m = vmask_n((int)((count)-i_)); \
            BODY_TAIL;                                  \
        }                                               \
    } while (0)

/* ---------------------------------------------------------------- activations */

void PN_FN(act_fwd)(pn_act act, size_t count, float *y)
{
    if (act == PN_ACT_LINEAR)
        return;
    if (act == PN_ACT_SIGMOID)
        PN_VLOOP(count, vstore(y + i, vsigmoid(vload(y + i))),
                 vstore_m(y + i, m, vsigmoid(vload_m(y + i, m))));
    else if (act == PN_ACT_TANH)
        PN_VLOOP(count, vstore(y + i, vtanh(vload(y + i))), vstore_m(y + i, m, vtanh(vload_m(y + i, m))));
    else
        PN_VLOOP(count, vstore(y + i, vmax_gt(vload(y + i), vzero())),
                 vstore_m(y + i, m, vmax_gt(vload_m(y + i, m), vzero())));
}

/* ---------------------------------------------------------------- loss */

/* The reference's BCE from logits with the per-sample terms in vectors; the
 * sums are added in double in sample order, as the reference does. */
void PN_FN(bce_logits)(size_t n, const float *z, const float *y, const float *weights, float smoothing,
                       float *p, float *dz, double *loss_sum, double *acc_sum, double *w_sum)
{
    double loss = 0.0, acc = 0.0, wsum = 0.0;
    const V inv_n = vset1(1.0f / (float)n), half = vset1(0.5f), one = vset1(1.0f),
            keep = vset1(1.0f - smoothing), add = vset1(0.5f * smoothing);
    for (size_t i = 0; i < n; i += VL) {
        const int cnt = n - i >= VL ? VL : (int)(n - i);
        const VMASK m = vmask_n(cnt);
        const V zv = vload_m(z + i, m), yv = vload_m(y + i, m), tv = vadd(vmul(yv, keep), add);
        const V wv = weights ? vload_m(weights + i, m) : one;
        const V e = vexp_nonpos(vsub(vzero(), vabs(zv))), den = vadd(one, e);
        const V pv = vsel_gt(vzero(), zv, vdiv(e, den), vdiv(one, den));
        const V lv = vadd(vfnma(zv, tv, vmax_gt(zv, vzero())), vlog1p_unit(e));
        const V hit = vsel_eq(vsel_gt(pv, half, one, vzero()), yv, wv, vzero());
        float lb[VL], wb[VL], hb[VL];
        vstore_m(p + i, m, pv);
        if (dz)
            vstore_m(dz + i, m, vmul(vmul(wv, vsub(pv, tv)), inv_n));
        vstore(lb, lv);
        vstore(wb, wv);
        vstore(hb, hit);
        for (int j = 0; j < cnt; j++) {
            loss += (double)wb[j] * (double)lb[j];
            acc += (double)hb[j];
            wsum += (double)wb[j];
        }
    }
    *loss_sum = loss;
    *acc_sum = acc;
    *w_sum = wsum;
}

void PN_FN(act_bwd)(pn_act act, size_t count, const float *y, float *dy)
{
    const V one = vset1(1.0f);
    switch (act) {
    case PN_ACT_RELU:
        PN_VLOOP(count, vstore(dy + i, vsel_gt0(vload(y + i), vload(dy + i))),
                 vstore_m(dy + i, m, vsel_gt0(vload_m(y + i, m), vload_m(dy + i, m))));
        break;
    case PN_ACT_SIGMOID:
        PN_VLOOP(
            count,
            {
                const V yv = vload(y + i);
                vstore(dy + i, vmul(vload(dy + i), vmul(yv, vsub(one, yv))));
            },
            {
                const V yv = vload_m(y + i, m);
                vstore_m(dy + i, m, vmul(vload_m(dy + i, m), vmul(yv, vsub(one, yv))));
            });
        break;
    case PN_ACT_TANH:
        PN_VLOOP(
            count,
            {
                const V yv = vload(y + i);
                vstore(dy + i, vmul(vload(dy + i), vsub(one, vmul(yv, yv))));
            },
            {
                const V yv = vload_m(y + i, m);
                vstore_m(dy + i, m, vmul(vload_m(dy + i, m), vsub(one, vmul(yv, yv))));
            });
        break;
    case PN_ACT_LINEAR: break;
    }
}

/* ---------------------------------------------------------------- optimizers */

void PN_FN(adam_update)(size_t count, float *w, const float *g, float *m_, float *v_, float lr_t,
                        float beta_1, float beta_2, float epsilon, float keep)
{
    const V b1 = vset1(beta_1), b2 = vset1(beta_2), ob1 = vset1(1.0f - beta_1), ob2 = vset1(1.0f - beta_2),
            lr = vset1(lr_t), eps = vset1(epsilon), kp = vset1(keep);
#define ADAM_STEP(LD, ST)                                                               \
    {                                                                                   \
        const V gi = LD(g + i), mi = vadd(vmul(b1, LD(m_ + i)), vmul(ob1, gi));         \
        const V vi = vadd(vmul(b2, LD(v_ + i)), vmul(vmul(ob2, gi), gi));               \
        ST(m_ + i, mi);                                                                 \
        ST(v_ + i, vi);                                                                 \
        ST(w + i, vsub(vmul(kp, LD(w + i)), vdiv(vmul(lr, mi), vadd(vsqrt(vi), eps)))); \
    }
#define LDF(p) vload(p)
#define STF(p, val) vstore((p), (val))
#define LDM(p) vload_m((p), m)
#define STM(p, val) vstore_m((p), m, (val))
    PN_VLOOP(count, ADAM_STEP(LDF, STF), ADAM_STEP(LDM, STM));
}

void PN_FN(sgd_update)(size_t count, float *w, const float *g, float *vel, float lr_, float momentum,
                       int nesterov)
{
    const V mom = vset1(momentum), lr = vset1(lr_);
#define SGD_STEP(LD, ST)                                                             \
    {                                                                                \
        const V gi = LD(g + i), v = vsub(vmul(mom, LD(vel + i)), vmul(lr, gi));      \
        ST(vel + i, v);                                                              \
        ST(w + i, vadd(LD(w + i), nesterov ? vsub(vmul(mom, v), vmul(lr, gi)) : v)); \
    }
    PN_VLOOP(count, SGD_STEP(LDF, STF), SGD_STEP(LDM, STM));
}

/* ---------------------------------------------------------------- gradient sums */

/* One vadd per element, as the reference's +=: bit for bit the same. */
void PN_FN(accumulate)(size_t count, float *dst, const float *src)
{
    PN_VLOOP(count, STF(dst + i, vadd(LDF(dst + i), LDF(src + i))),
             STM(dst + i, vadd(LDM(dst + i), LDM(src + i))));
}
#undef LDF
#undef STF
#undef LDM
#undef STM

/* ---------------------------------------------------------------- max pooling */

/* The article's pooling: 2x2 windows, stride 2, no padding. */
static void maxpool_fwd_2x2(const pn_pool2d_shape *s, const float *x, float *y, uint8_t *argmax)
{
    const int c = s->c;
    const size_t row = (size_t)s->iw * (size_t)c;
    for (int n = 0; n < s->n; n++)
        for (int oy = 0; oy < s->oh; oy++) {
            const float *xr = x + ((size_t)n * s->ih + (size_t)oy * 2) * row;
            const size_t o0 = ((size_t)n * s->oh + (size_t)oy) * s->ow * (size_t)c;
            for (int ox = 0; ox < s->ow; ox++) {
                const float *p = xr + (size_t)ox * 2 * c;
                const size_t o = o0 + (size_t)ox * c;
                for (int c0 = 0; c0 < c; c0 += VL) {
                    const int nc = pn_min_i(VL, c - c0);
                    const VMASK m = vmask_n(nc);
                    const V a0 = vload_m(p + c0, m), a1 = vload_m(p + c + c0, m);
                    const V a2 = vload_m(p + row + c0, m), a3 = vload_m(p + row + c + c0, m);
                    V at;
                    const V best = vmax4_first(a0, a1, a2, a3, &at);
                    vstore_m(y + o + (size_t)c0, m, best);
                    vstore_u8(argmax + o + (size_t)c0, nc, at);
                }
            }
        }
}

void PN_FN(maxpool_fwd)(const pn_pool2d_shape *s, const float *x, float *y, uint8_t *argmax)
{
    const int c = s->c;
    if (s->ph == 2 && s->pw == 2 && s->sh == 2 && s->sw == 2 && s->pad_top == 0 && s->pad_left == 0 &&
        s->oh * 2 <= s->ih && s->ow * 2 <= s->iw) {
        maxpool_fwd_2x2(s, x, y, argmax);
        return;
    }
    for (int n = 0; n < s->n; n++)
        for (int oy = 0; oy < s->oh; oy++)
            for (int ox = 0; ox < s->ow; ox++) {
                const size_t o = (((size_t)n * s->oh + (size_t)oy) * s->ow + (size_t)ox) * (size_t)c;
                for (int c0 = 0; c0 < c; c0 += VL) {
                    const int nc = pn_min_i(VL, c - c0);
                    const VMASK m = vmask_n(nc);
                    V best = vzero(), at = vzero(); /* window offset as float (exact < 2^24) */
                    int found = 0;
                    for (int ky = 0; ky < s->ph; ky++) {
                        const int iy = oy * s->sh - s->pad_top + ky;
                        if (iy < 0 || iy >= s->ih)
                            continue;
                        for (int kx = 0; kx < s->pw; kx++) {
                            const int ix = ox * s->sw - s->pad_left + kx;
                            const V idx = vset1((float)(ky * s->pw + kx));
                            V v;
                            if (ix < 0 || ix >= s->iw)
                                continue;
                            v = vload_m(x +
                                            (((size_t)n * s->ih + (size_t)iy) * s->iw + (size_t)ix) *
                                                (size_t)c +
                                            (size_t)c0,
                                        m);
                            if (!found) {
                                best = v;
                                at = idx;
                                found = 1;
                            } else {
                                /* strict '>' keeps the first maximum, like the reference */
                                at = vsel_gt(v, best, idx, at);
                                best = vmax_gt(v, best);
                            }
                        }
                    }
                    vstore_m(y + o + (size_t)c0, m, best);
                    vstore_u8(argmax + o + (size_t)c0, nc, at);
                }
            }
}

void PN_FN(maxpool_bwd)(const pn_pool2d_shape *s, const float *dy, const uint8_t *argmax, float *dx)
{
    const int c = s->c;
    const size_t row = (size_t)s->iw * (size_t)c;
    /* Tiling windows (window == stride, no padding): every covered dx cell has
     * exactly one writer, so write dy-or-zero once and zero the uncovered
     * bottom rows / right columns; no memset pass. */
    const int tiling = s->ph == s->sh && s->pw == s->sw && s->pad_top == 0 && s->pad_left == 0 &&
                       s->oh * s->sh <= s->ih && s->ow * s->sw <= s->iw;
    if (!tiling) {
        memset(dx, 0, (size_t)s->n * s->ih * row * sizeof(float));
    } else {
        for (int n = 0; n < s->n; n++) {
            float *img = dx + (size_t)n * s->ih * row;
            const size_t covered = (size_t)s->ow * s->sw * (size_t)c;
            for (int iy = 0; iy < s->oh * s->sh; iy++)
                memset(img + iy * row + covered, 0, (row - covered) * sizeof(float));
            memset(img + (size_t)s->oh * s->sh * row, 0,
                   (size_t)(s->ih - s->oh * s->sh) * row * sizeof(float));
        }
    }
    for (int n = 0; n < s->n; n++)
        for (int oy = 0; oy < s->oh; oy++)
            for (int ox = 0; ox < s->ow; ox++) {
                const size_t o = (((size_t)n * s->oh + (size_t)oy) * s->ow + (size_t)ox) * (size_t)c;
                for (int c0 = 0; c0 < c; c0 += VL) {
                    const int nc = pn_min_i(VL, c - c0);
                    const VMASK m = vmask_n(nc);
                    const V d = vload_m(dy + o + (size_t)c0, m);
                    const V at = vload_u8(argmax + o + (size_t)c0, nc);
                    for (int ky = 0; ky < s->ph; ky++) {
                        const int iy = oy * s->sh - s->pad_top + ky;
                        if (iy < 0 || iy >= s->ih)
                            continue;
                        for (int kx = 0; kx < s->pw; kx++) {
                            const int ix = ox * s->sw - s->pad_left + kx;
                            const V idx = vset1((float)(ky * s->pw + kx));
                            /* lanes whose argmax is this cell: at == idx */
                            const V hit = vsel_eq(at, idx, d, vzero());
                            float *p;
                            if (ix < 0 || ix >= s->iw)
                                continue;
                            p = dx + ((size_t)n * s->ih + (size_t)iy) * row + (size_t)ix * c + (size_t)c0;
                            if (tiling)
                                vstore_m(p, m, hit);
                            else
                                vstore_m(p, m, vadd(vload_m(p, m), hit));
                        }
                    }
                }
            }
}

/* ---------------------------------------------------------------- dense */

void PN_FN(dense_fwd)(int32_t n, int32_t in, int32_t out, const float *x, const float *w, const float *b,
                      float *y)
{
    /* 1x1 convolution whose pixels are the samples: tiles of samples x 64
     * outputs, w streamed once per sample tile instead of once per sample. */
    for (int o0 = 0; o0 < out; o0 += NVMAX * VL) {
        const chan_block cb = chan_block_of(pn_min_i(NVMAX * VL, out - o0));
        conv_tile_args a;
        a.x = x;
        a.xpix = in;
        a.xky = 0;
        a.xkx = 0;
        a.w = w + o0;
        a.wky = 0;
        a.wkx = 0;
        a.wk = out;
        a.nky = 1;
        a.nkx = 1;
        a.nk = in;
        a.y = y + o0;
        a.ypix = out;
        a.b = b ? b + o0 : NULL;
        a.accum = 0;
        a.tail = cb.tail;
        conv_run_for(cb.nv, cb.masked)(&a, n);
    }
}

void PN_FN(dense_bwd_data)(int32_t n, int32_t in, int32_t out, const float *dy, const float *w, float *dx)
{
    /* dot products over out, 4 samples at a time sharing each w row load */
    for (int i = 0; i < in; i++) {
        const float *wr = w + (size_t)i * (size_t)out;
        int s0 = 0;
        for (; s0 < n; s0 += 4) {
            const int ns = pn_min_i(4, n - s0);
            V acc[4] = {vzero(), vzero(), vzero(), vzero()};
            for (int o = 0; o < out; o += VL) {
                const VMASK m = vmask_n(pn_min_i(VL, out - o));
                const V wv = vload_m(wr + o, m);
                for (int j = 0; j < ns; j++)
                    acc[j] = vfma(vload_m(dy + (size_t)(s0 + j) * out + (size_t)o, m), wv, acc[j]);
            }
            for (int j = 0; j < ns; j++)
                dx[(size_t)(s0 + j) * in + (size_t)i] = vhsum(acc[j]);
        }
    }
}

void PN_FN(dense_bwd_weights)(int32_t n, int32_t in, int32_t out, const float *x, const float *dy, float *dw,
                              float *db)
{
    /* Per dw element the samples are added in order, as in the reference
     * (which also skips x == 0: ReLU outputs). */
    if (db)
        for (int o = 0; o < out; o += VL) {
            const VMASK m = vmask_n(pn_min_i(VL, out - o));
            V acc = vload_m(db + o, m);
            for (int s = 0; s < n; s++)
                acc = vadd(acc, vload_m(dy + (size_t)s * out + (size_t)o, m));
            vstore_m(db + o, m, acc);
        }
    for (int i = 0; i < in; i++) {
        float *dwr = dw + (size_t)i * (size_t)out;
        for (int o0 = 0; o0 < out; o0 += NVMAX * VL) {
            V acc[NVMAX];
            const int nv = (pn_min_i(NVMAX * VL, out - o0) + VL - 1) / VL;
            for (int v = 0; v < nv; v++)
                acc[v] = vload_m(dwr + o0 + v * VL, vmask_n(pn_min_i(VL, out - o0 - v * VL)));
            for (int s = 0; s < n; s++) {
                const float xv = x[(size_t)s * in + (size_t)i];
                const float *d = dy + (size_t)s * out + (size_t)o0;
                V bx;
                if (xv == 0.0f)
                    continue;
                bx = vset1(xv);
                for (int v = 0; v < nv; v++)
                    acc[v] = vfma(bx, vload_m(d + v * VL, vmask_n(pn_min_i(VL, out - o0 - v * VL))), acc[v]);
            }
            for (int v = 0; v < nv; v++)
                vstore_m(dwr + o0 + v * VL, vmask_n(pn_min_i(VL, out - o0 - v * VL)), acc[v]);
        }
    }
}
