/* Pooling, dense, activation, loss and optimizer kernels over vec.h, compiled per
 * ISA by lib/meson.build. Where the reference's expression order can be
 * kept (ReLU, pooling, Adam, SGD, bias sums) it is, so those kernels match the
 * reference bit for bit; sigmoid, tanh and the loss use vec.h's exp / log1p
 * polynomials (within ~2 ulp of libm's). */
#include <string.h>

#include "kernels/ref/ref.h"
#include "kernels/kernels.h"
#include "kernels/simd/vec.h"

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

/* Forward and the weight gradient are one register-blocked product,
 * acc[p][v] += x[p][k] * w[k][v], MR rows x NV vectors of columns held in
 * registers while k runs; forward: rows = samples, k = inputs, columns =
 * outputs; weight gradient: rows = inputs, k = samples, columns = outputs,
 * starting from dw. Every output element is one FMA chain in order of k, so
 * neither the tiling, nor the batch size, nor how threads split the columns or
 * rows changes a value. Forward walks w once per call: blocks of DENSE_KB rows
 * of w, each used by every sample tile while it sits in L1. */
#define DENSE_NV 8   /* widest tile: 8 vectors of columns */
#define DENSE_MR 8   /* tallest tile */
#define DENSE_KB 256 /* rows of w per block (forward) */
#define DENSE_RB 48  /* rows of dw per block (weight gradient): its lines are finished together */
#define DENSE_MR_OF(nv) (PN_TILE_ACC / (nv) < DENSE_MR ? PN_TILE_ACC / (nv) : DENSE_MR)

typedef struct dense_args {
    const float *x;     /* tile row 0 at k = 0 */
    ptrdiff_t xrow, xk; /* floats between tile rows / k steps of x */
    const float *w;     /* k = 0, first column of the block */
    ptrdiff_t wk;       /* floats between k steps of w */
    int nk;
    float *y; /* tile row 0, first column */
    ptrdiff_t yrow;
    const float *b; /* bias at the first column, or NULL */
    int load_y;     /* start from y (else from b, or zero) */
    VMASK tail;     /* lanes of the block's last vector (when MASKED) */
} dense_args;

#define DLDV(p, v) ((MASKED && (v) == NV - 1) ? vload_m((p), a->tail) : vload(p))

PN_INLINE void dense_tile(const int MR, const int NV, const int MASKED, const dense_args *a)
{
    V acc[DENSE_MR][DENSE_NV];
    const float *xp = a->x, *wp = a->w;
    for (int p = 0; p < MR; p++)
        for (int v = 0; v < NV; v++)
            acc[p][v] = a->load_y ? DLDV(a->y + p * a->yrow + v * VL, v)
                        : a->b    ? DLDV(a->b + v * VL, v)
                                  : vzero();
    for (int k = 0; k < a->nk; k++) {
        V wv[DENSE_NV];
        for (int v = 0; v < NV; v++)
            wv[v] = DLDV(wp + v * VL, v);
        for (int p = 0; p < MR; p++) {
            const V bx = vbcast(xp + p * a->xrow);
            for (int v = 0; v < NV; v++)
                acc[p][v] = vfma(bx, wv[v], acc[p][v]);
        }
        xp += a->xk;
        wp += a->wk;
    }
    for (int p = 0; p < MR; p++)
        for (int v = 0; v < NV; v++) {
            float *q = a->y + p * a->yrow + v * VL;
            if (MASKED && v == NV - 1)
                vstore_m(q, a->tail, acc[p][v]);
            else
                vstore(q, acc[p][v]);
        }
}

/* m rows, advancing a->x and a->y: full tiles, then 4 / 2 / 1 row tails. */
PN_INLINE void dense_run(const int NV, const int MASKED, dense_args *a, int m)
{
    const int MR = DENSE_MR_OF(NV);
    for (; m >= MR; m -= MR) {
        dense_tile(MR, NV, MASKED, a);
        a->x += MR * a->xrow;
        a->y += MR * a->yrow;
    }
    if (MR > 4)
        for (; m >= 4; m -= 4) {
            dense_tile(MR > 4 ? 4 : 1, NV, MASKED, a);
            a->x += 4 * a->xrow;
            a->y += 4 * a->yrow;
        }
    if (MR > 2)
        for (; m >= 2; m -= 2) {
            dense_tile(MR > 2 ? 2 : 1, NV, MASKED, a);
            a->x += 2 * a->xrow;
            a->y += 2 * a->yrow;
        }
    for (; m >= 1; m--) {
        dense_tile(1, NV, MASKED, a);
        a->x += a->xrow;
        a->y += a->yrow;
    }
}

typedef void (*dense_run_fn)(dense_args *a, int m);
#define DENSE_RUN_INST(nv)                                                                \
    PN_NOINLINE void dense_run_##nv##_0(dense_args *a, int m) { dense_run(nv, 0, a, m); } \
    PN_NOINLINE void dense_run_##nv##_1(dense_args *a, int m) { dense_run(nv, 1, a, m); }
DENSE_RUN_INST(1)
DENSE_RUN_INST(2)
DENSE_RUN_INST(3)
DENSE_RUN_INST(4)
DENSE_RUN_INST(5)
DENSE_RUN_INST(6)
DENSE_RUN_INST(7)
DENSE_RUN_INST(8)

static dense_run_fn dense_run_for(int nv, int masked)
{
    static const dense_run_fn table[DENSE_NV][2] = {
        {dense_run_1_0, dense_run_1_1}, {dense_run_2_0, dense_run_2_1}, {dense_run_3_0, dense_run_3_1},
        {dense_run_4_0, dense_run_4_1}, {dense_run_5_0, dense_run_5_1}, {dense_run_6_0, dense_run_6_1},
        {dense_run_7_0, dense_run_7_1}, {dense_run_8_0, dense_run_8_1},
    };
    return table[nv - 1][masked];
}

/* Vectors per column block for `rows` tile rows: tiles as tall as the rows
 * allow (up to 6), as wide as the accumulators then allow. */
static int dense_block_nv(int rows, int nvec)
{
    const int t = pn_min_i(rows, 6), nv = pn_min_i(DENSE_NV, PN_TILE_ACC / t);
    return pn_min_i(nv, nvec);
}

/* Columns [c0, c1) of the product in blocks of nvb vectors (a->x, a->w, a->y
 * and a->b at column 0; a->nk, a->load_y set) over m rows. */
static void dense_columns(const dense_args *base, int c0, int c1, int nvb, int m)
{
    const int nvec = (c1 - c0 + VL - 1) / VL;
    for (int v0 = 0; v0 < nvec; v0 += nvb) {
        const int nv = pn_min_i(nvb, nvec - v0), c = c0 + v0 * VL, cols = pn_min_i(nv * VL, c1 - c);
        dense_args a = *base;
        a.w += c;
        a.y += c;
        a.b = a.b ? a.b + c : NULL;
        a.tail = vmask_n(cols % VL ? cols % VL : VL);
        dense_run_for(nv, cols % VL != 0)(&a, m);
    }
}

void PN_FN(dense_fwd)(int32_t n, int32_t in, int32_t out, int32_t o0, int32_t o1, const float *x,
                      const float *w, const float *b, float *y)
{
    int nvb;
    if (n <= 0 || o1 <= o0)
        return;
    nvb = dense_block_nv(n, (o1 - o0 + VL - 1) / VL);
    for (int32_t k0 = 0; k0 == 0 || k0 < in; k0 += DENSE_KB) {
        dense_args a;
        a.x = x + k0;
        a.xrow = in;
        a.xk = 1;
        a.w = w + (size_t)k0 * (size_t)out;
        a.wk = out;
        a.nk = pn_min_i(DENSE_KB, in - k0);
        a.y = y;
        a.yrow = out;
        a.b = k0 == 0 ? b : NULL;
        a.load_y = k0 > 0;
        dense_columns(&a, o0, o1, nvb, n);
    }
}

void PN_FN(dense_bwd_weights)(int32_t n, int32_t in, int32_t out, int32_t i0, int32_t i1, const float *x,
                              const float *dy, float *dw, float *db)
{
    int nvb;
    /* db: the samples added in order, as the reference does */
    if (db)
        for (int o = 0; o < out; o += VL) {
            const VMASK m = vmask_n(pn_min_i(VL, out - o));
            V acc = vload_m(db + o, m);
            for (int s = 0; s < n; s++)
                acc = vadd(acc, vload_m(dy + (size_t)s * out + (size_t)o, m));
            vstore_m(db + o, m, acc);
        }
    if (n <= 0 || i1 <= i0)
        return;
    nvb = dense_block_nv(pn_min_i(DENSE_RB, i1 - i0), (out + VL - 1) / VL);
    for (int32_t r0 = i0; r0 < i1; r0 += DENSE_RB)
        for (int32_t k0 = 0; k0 < n; k0 += DENSE_KB) {
            dense_args a;
            a.x = x + (size_t)k0 * (size_t)in + r0;
            a.xrow = 1;
            a.xk = in;
            a.w = dy + (size_t)k0 * (size_t)out;
            a.wk = out;
            a.nk = pn_min_i(DENSE_KB, n - k0);
            a.y = dw + (size_t)r0 * (size_t)out;
            a.yrow = out;
            a.b = NULL;
            a.load_y = 1;
            dense_columns(&a, 0, out, nvb, pn_min_i(DENSE_RB, i1 - r0));
        }
}

/* The input gradient as the same product, transposed: rows = inputs i
 * (broadcasting w[i][o]), k = outputs o, columns = up to DENSE_XS samples of
 * dy transposed into dyt; each dx value is one FMA chain in order of o. The
 * tile's dx^T block goes back to dx row by row. */
#define DENSE_XS 16 /* samples per chunk */
#define DENSE_RX 96 /* rows of w per block */

void PN_FN(dense_bwd_data)(int32_t n, int32_t in, int32_t out, int32_t i0, int32_t i1, const float *dy,
                           const float *w, float *dx)
{
    float dyt[DENSE_KB * DENSE_XS] __attribute__((aligned(64)));
    float dxt[DENSE_RX * DENSE_XS] __attribute__((aligned(64)));
    for (int32_t s0 = 0; s0 < n; s0 += DENSE_XS) {
        const int ns = pn_min_i(DENSE_XS, n - s0);
        const int nvb = dense_block_nv(DENSE_RX, (ns + VL - 1) / VL);
        for (int32_t r0 = i0; r0 < i1; r0 += DENSE_RX) {
            const int rows = pn_min_i(DENSE_RX, i1 - r0);
            for (int32_t k0 = 0; k0 < out; k0 += DENSE_KB) {
                const int nk = pn_min_i(DENSE_KB, out - k0);
                dense_args a;
                if (r0 == i0 || out > DENSE_KB)
                    for (int j = 0; j < ns; j++) {
                        const float *d = dy + (size_t)(s0 + j) * (size_t)out + (size_t)k0;
                        for (int k = 0; k < nk; k++)
                            dyt[k * DENSE_XS + j] = d[k];
                    }
                a.x = w + (size_t)r0 * (size_t)out + (size_t)k0;
                a.xrow = out;
                a.xk = 1;
                a.w = dyt;
                a.wk = DENSE_XS;
                a.nk = nk;
                a.y = dxt;
                a.yrow = DENSE_XS;
                a.b = NULL;
                a.load_y = k0 > 0;
                dense_columns(&a, 0, ns, nvb, rows);
            }
            for (int j = 0; j < ns; j++) {
                float *d = dx + (size_t)(s0 + j) * (size_t)in + (size_t)r0;
                for (int r = 0; r < rows; r++)
                    d[r] = dxt[r * DENSE_XS + j];
            }
        }
    }
}
