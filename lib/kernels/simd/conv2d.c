/* Conv2D forward / backward-data / backward-filter for NHWC activations and
 * HWIO weights, written once over the vector layer in vec.h and
 * compiled once per ISA by lib/meson.build.
 *
 * All three kernels are register-blocked outer products:
 *  - forward: a tile of MR output pixels x NV channel vectors stays in
 *    registers while the loop walks (ky, kx, ci), broadcasting one input value
 *    per pixel and FMA-ing it with the weight row w[ky][kx][ci][co..];
 *  - backward-data is the same tile kernel run on dy with the kernel
 *    transposed to [ky][kx][co][ci] in a stack buffer (<= 48 KiB), the taps
 *    walked in reverse, and strided outputs split by phase;
 *  - backward-filter keeps a (CIB input channels x NV output vectors) block of
 *    dw for one tap in registers while it sweeps a strip of output rows.
 * Column edges (padding) are handled by cutting each row into runs of pixels
 * that see the same clipped tap range, so there is no separate edge code.
 * Summation order depends only on the shape: results are deterministic. */
#include <string.h>

#include "kernels/ref/ref.h"
#include "kernels/kernels.h"
#include "kernels/simd/vec.h"

#include "kernels/simd/conv_tile.h"

/* Taps k (0 <= k < kn) that reach position `pos` of an axis of length `len`
 * through out = (pos + pad - k) / stride, 0 <= out < olen, (pos + pad - k) %
 * stride == 0: the first such k, their count, and the out of the first. */
static int taps_reaching(int pos, int pad, int kn, int stride, int olen, int *kfirst, int *ofirst)
{
    const int r = pos + pad;
    int lo = r - (olen - 1) * stride, hi = r, kf, kl;
    if (lo < 0)
        lo = 0;
    if (hi > kn - 1)
        hi = kn - 1;
    if (hi < lo)
        return 0;
    kf = lo + (r - lo) % stride;
    if (kf > hi)
        return 0;
    kl = hi - (hi - kf) % stride;
    *kfirst = kf;
    *ofirst = (r - kf) / stride;
    return (kl - kf) / stride + 1;
}

/* ---------------------------------------------------------------- forward */

/* Floats of weights a tile may walk and still find in L1 next time (with
 * its inputs): larger kernels are applied a few kernel rows at a time, the
 * partial sums going through memory (same summation order, same results).
 * The article's conv2 (3x3x32x32, 36 KB): 11.5 -> 10.4 ms per image. */
#define W_L1_FLOATS 4096

/* Kernel rows per pass when one kernel row holds row_floats weights. */
static int rows_per_pass(size_t row_floats, int kh)
{
    const size_t r = W_L1_FLOATS / (row_floats ? row_floats : 1);
    return r >= (size_t)kh ? kh : r < 1 ? 1 : (int)r;
}

void PN_FN(conv2d_fwd)(const pn_conv2d_shape *s, const float *x, const float *w, const float *b, float *y)
{
    const int ic = s->ic, oc = s->oc, kh = s->kh, kw = s->kw, sh = s->sh, sw = s->sw;
    const int ih = s->ih, iw = s->iw, oh = s->oh, ow = s->ow;
    const ptrdiff_t wtap = (ptrdiff_t)ic * oc;
    const int kyg = rows_per_pass((size_t)kw * ic * pn_min_i(oc, NVMAX * VL), kh);

    for (int n = 0; n < s->n; n++)
        for (int oy = 0; oy < oh; oy++) {
            const int iy0 = oy * sh - s->pad_top;
            const int ky0 = pn_max_i(0, -iy0), ky1 = pn_min_i(kh, ih - iy0);
            float *yrow = y + ((size_t)n * oh + (size_t)oy) * (size_t)ow * (size_t)oc;
            for (int co0 = 0; co0 < oc; co0 += NVMAX * VL) {
                const chan_block cb = chan_block_of(pn_min_i(NVMAX * VL, oc - co0));
                const conv_run_fn run = conv_run_for(cb.nv, cb.masked);
                int ox = 0;
                while (ox < ow) {
                    /* a run of pixels with the same clipped kx range */
                    const int ix0 = ox * sw - s->pad_left;
                    const int kx0 = pn_max_i(0, -ix0), kx1 = pn_min_i(kw, iw - ix0);
                    int end = ox + 1;
                    conv_tile_args a;
                    while (end < ow) {
                        const int jx = end * sw - s->pad_left;
                        if (pn_max_i(0, -jx) != kx0 || pn_min_i(kw, iw - jx) != kx1)
                            break;
                        end++;
                    }
                    a.nkx = pn_max_i(0, kx1 - kx0);
                    a.xpix = (ptrdiff_t)sw * ic;
                    a.xky = (ptrdiff_t)iw * ic;
                    a.xkx = ic;
                    a.wky = (ptrdiff_t)kw * wtap;
                    a.wkx = wtap;
                    a.wk = oc;
                    a.nk = ic;
                    a.ypix = oc;
                    a.b = b ? b + co0 : NULL;
                    a.tail = cb.tail;
                    /* kernel rows [g0, g0 + kyg) per pass; one pass if none fit */
                    for (int g0 = ky0; g0 < pn_max_i(ky1, ky0 + 1); g0 += kyg) {
                        a.nky = pn_max_i(0, pn_min_i(ky1, g0 + kyg) - g0);
                        a.x = x;
                        a.w = w;
                        if (a.nky && a.nkx) {
                            a.x = x + (((size_t)n * ih + (size_t)(iy0 + g0)) * iw + (size_t)(ix0 + kx0)) *
                                          (size_t)ic;
                            a.w = w + ((size_t)g0 * kw + (size_t)kx0) * (size_t)wtap + (size_t)co0;
                        }
                        a.y = yrow + (size_t)ox * oc + (size_t)co0;
                        a.accum = g0 > ky0;
                        run(&a, end - ox);
                    }
                    ox = end;
                }
            }
        }
}

/* ---------------------------------------------------------------- backward data */

void PN_FN(conv2d_bwd_data)(const pn_conv2d_shape *s, const float *dy, const float *w, float *dx)
{
    const int ic = s->ic, oc = s->oc, kh = s->kh, kw = s->kw, sh = s->sh, sw = s->sw;
    const int ih = s->ih, iw = s->iw, oh = s->oh, ow = s->ow;
    int cbv, rows_per_group;
    _Alignas(64) float wt[WT_FLOATS];

    /* ci-block width (vectors) such that one ky row of transposed taps fits. */
    cbv = WT_FLOATS / ((int)pn_min_i(WT_FLOATS, kw * oc) * VL);
    if (!pn_simd_bwd_data_fits(s, VL) || cbv < 1) { /* kernels.h: coverage */
        pn_f32_conv2d_bwd_data__ref(s, dy, w, dx);
        return;
    }
    if (cbv > NVMAX)
        cbv = NVMAX;
    if (cbv * VL > ic)
        cbv = (ic + VL - 1) / VL;

    for (int ci0 = 0; ci0 < ic; ci0 += cbv * VL) {
        const int nci = pn_min_i(cbv * VL, ic - ci0);
        const chan_block cb = chan_block_of(nci);
        const int cbs = cb.nv * VL; /* row stride of wt */
        const ptrdiff_t wtap = (ptrdiff_t)oc * cbs;
        const conv_run_fn run = conv_run_for(cb.nv, cb.masked);
        rows_per_group = (int)(WT_FLOATS / ((size_t)kw * (size_t)wtap));
        for (int g0 = 0; g0 < kh; g0 += rows_per_group) {
            const int g1 = pn_min_i(kh, g0 + rows_per_group);
            /* wt[ky - g0][kx][co][c] = w[ky][kx][ci0 + c][co], zero-padded lanes */
            for (int ky = g0; ky < g1; ky++)
                for (int kx = 0; kx < kw; kx++) {
                    float *t = wt + ((size_t)(ky - g0) * kw + (size_t)kx) * (size_t)wtap;
                    const float *src = w + ((size_t)ky * kw + (size_t)kx) * (size_t)ic * oc;
                    for (int co = 0; co < oc; co++) {
                        float *tr = t + (size_t)co * cbs;
                        for (int c = 0; c < nci; c++)
                            tr[c] = src[(size_t)(ci0 + c) * oc + (size_t)co];
                        for (int c = nci; c < cbs; c++)
                            tr[c] = 0.0f;
                    }
                }
            for (int n = 0; n < s->n; n++)
                for (int iy = 0; iy < ih; iy++) {
                    int kyf = 0, oyf = 0;
                    int nky = taps_reaching(iy, s->pad_top, g1, sh, oh, &kyf, &oyf);
                    float *dxrow = dx + ((size_t)n * ih + (size_t)iy) * (size_t)iw * ic + (size_t)ci0;
                    if (nky && kyf < g0) {
                        /* keep only taps inside this group: skip those below g0 */
                        const int skip = (g0 - kyf + sh - 1) / sh;
                        kyf += skip * sh;
                        oyf -= skip;
                        nky -= skip;
                        if (nky < 0)
                            nky = 0;
                    }
                    for (int phase = 0; phase < sw && phase < iw; phase++) {
                        int ix = phase;
                        while (ix < iw) {
                            int kxf = 0, oxf = 0, nkx, end = ix + sw;
                            conv_tile_args a;
                            nkx = taps_reaching(ix, s->pad_left, kw, sw, ow, &kxf, &oxf);
                            for (; end < iw; end += sw) {
                                int kf2 = 0, of2 = 0;
                                const int n2 = taps_reaching(end, s->pad_left, kw, sw, ow, &kf2, &of2);
                                if (n2 != nkx || (n2 && kf2 != kxf))
                                    break;
                            }
                            a.nky = nky;
                            a.nkx = nkx;
                            a.x = dy;
                            a.w = wt;
                            if (nky && nkx) {
                                a.x = dy + (((size_t)n * oh + (size_t)oyf) * ow + (size_t)oxf) * oc;
                                a.w = wt + ((size_t)(kyf - g0) * kw + (size_t)kxf) * (size_t)wtap;
                            }
                            a.xpix = oc;
                            a.xky = -(ptrdiff_t)ow * oc;
                            a.xkx = -(ptrdiff_t)oc;
                            a.wky = (ptrdiff_t)sh * kw * wtap;
                            a.wkx = (ptrdiff_t)sw * wtap;
                            a.wk = cbs;
                            a.nk = oc;
                            a.y = dxrow + (size_t)ix * ic;
                            a.ypix = (ptrdiff_t)sw * ic;
                            a.b = NULL;
                            a.accum = g0 > 0;
                            a.tail = cb.tail;
                            run(&a, (end - ix) / sw);
                            ix = end;
                        }
                    }
                }
        }
    }
}

/* ---------------------------------------------------------------- backward filter */

typedef struct bwf_args {
    const float *x;
    ptrdiff_t xpix, xrow;
    const float *dy;
    ptrdiff_t dypix, dyrow;
    int npix, nrows;
    float *dw;
    ptrdiff_t dwci;
    VMASK tail;
} bwf_args;

PN_INLINE void bwf_tile(const int CIB, const int NV, const int MASKED, const bwf_args *a)
{
    V acc[ACC][NVMAX];
    const VMASK tail = a->tail;
    for (int c = 0; c < CIB; c++)
        for (int v = 0; v < NV; v++)
            acc[c][v] = vzero();
    for (int r = 0; r < a->nrows; r++) {
        const float *xp = a->x + r * a->xrow, *dp = a->dy + r * a->dyrow;
        for (int p = 0; p < a->npix; p++) {
            V d[NVMAX];
            for (int v = 0; v < NV; v++)
                d[v] = LDV(dp + v * VL, v);
            for (int c = 0; c < CIB; c++) {
                const V bx = vbcast(xp + c);
                for (int v = 0; v < NV; v++)
                    acc[c][v] = vfma(bx, d[v], acc[c][v]);
            }
            xp += a->xpix;
            dp += a->dypix;
        }
    }
    for (int c = 0; c < CIB; c++)
        for (int v = 0; v < NV; v++) {
            float *p = a->dw + c * a->dwci + v * VL;
            STV(p, v, vadd(LDV(p, v), acc[c][v]));
        }
}

PN_INLINE void bwf_run(const int NV, const int MASKED, bwf_args *a, int nci)
{
    const int CIB = ACC / NV;
    for (; nci >= CIB; nci -= CIB) {
        bwf_tile(CIB, NV, MASKED, a);
        a->x += CIB;
        a->dw += CIB * a->dwci;
    }
#define BWF_TAIL(t)                                       \
    if (CIB > (t))                                        \
        for (; nci >= (t); nci -= (t)) {                  \
            bwf_tile(CIB > (t) ? (t) : 1, NV, MASKED, a); \
            a->x += (t);                                  \
            a->dw += (t)*a->dwci;                         \
        }
    BWF_TAIL(8)
    BWF_TAIL(4)
    BWF_TAIL(2)
    BWF_TAIL(1)
#undef BWF_TAIL
}

typedef void (*bwf_run_fn)(bwf_args *a, int nci);
#define BWF_RUN_INST(nv, m) \
    PN_NOINLINE void bwf_run_##nv##_##m(bwf_args *a, int nci) { bwf_run(nv, m, a, nci); }
BWF_RUN_INST(1, 0)
BWF_RUN_INST(1, 1)
BWF_RUN_INST(2, 0)
BWF_RUN_INST(2, 1)
#if NVMAX > 2
BWF_RUN_INST(3, 0)
BWF_RUN_INST(3, 1)
BWF_RUN_INST(4, 0)
BWF_RUN_INST(4, 1)
#endif

static bwf_run_fn bwf_run_for(int nv, int masked)
{
    static const bwf_run_fn table[NVMAX][2] = {
        {bwf_run_1_0, bwf_run_1_1},
        {bwf_run_2_0, bwf_run_2_1},
#if NVMAX > 2
        {bwf_run_3_0, bwf_run_3_1},
        {bwf_run_4_0, bwf_run_4_1},
#endif
    };
    return table[nv - 1][masked];
}

/* Cin = 1, 3x3 taps all inside the input (the article's first layer): all nine
 * taps x NV output vectors in registers, so each pixel costs NV loads and nine
 * broadcasts for 9 NV FMAs instead of one pass per tap. */
#define BWF1_NV (ACC / 9)

PN_INLINE void bwf1_tile(const int NV, const int MASKED, const bwf_args *a, ptrdiff_t xky)
{
    V acc[9][NVMAX];
    const VMASK tail = a->tail;
    for (int t = 0; t < 9; t++)
        for (int v = 0; v < NV; v++)
            acc[t][v] = vzero();
    for (int r = 0; r < a->nrows; r++) {
        const float *xp = a->x + r * a->xrow, *dp = a->dy + r * a->dyrow;
        for (int p = 0; p < a->npix; p++) {
            V d[NVMAX];
            for (int v = 0; v < NV; v++)
                d[v] = LDV(dp + v * VL, v);
            for (int t = 0; t < 9; t++) {
                const V bx = vbcast(xp + (t / 3) * xky + (t % 3));
                for (int v = 0; v < NV; v++)
                    acc[t][v] = vfma(bx, d[v], acc[t][v]);
            }
            xp += a->xpix;
            dp += a->dypix;
        }
    }
    for (int t = 0; t < 9; t++)
        for (int v = 0; v < NV; v++) {
            float *p = a->dw + t * a->dwci + v * VL;
            STV(p, v, vadd(LDV(p, v), acc[t][v]));
        }
}

PN_NOINLINE void bwf1_full(const bwf_args *a, ptrdiff_t xky) { bwf1_tile(BWF1_NV, 0, a, xky); }
PN_NOINLINE void bwf1_part(const bwf_args *a, ptrdiff_t xky, int nv, int masked)
{
#if BWF1_NV > 1
    if (nv == 1 && !masked) {
        bwf1_tile(1, 0, a, xky);
        return;
    }
#endif
    (void)nv;
    (void)masked;
    bwf1_tile(1, 1, a, xky); /* one (possibly partial) vector */
}

static int bwf1_applies(const pn_conv2d_shape *s)
{
    /* with 16 registers (AVX2) nine taps leave room for one vector only, which
     * is load-bound and slower than the per-tap path */
    return BWF1_NV >= 2 && s->ic == 1 && s->kh == 3 && s->kw == 3 && s->pad_top == 0 && s->pad_left == 0 &&
           (s->oh - 1) * s->sh + 3 <= s->ih && (s->ow - 1) * s->sw + 3 <= s->iw;
}

/* db += dy over rows [oy0, oy1) of image n, pixel by pixel (the reference's order). */
static void bias_grad_rows(const pn_conv2d_shape *s, const float *dy, float *db, int n, int oy0, int oy1)
{
    const int oc = s->oc;
    const size_t npix = (size_t)(oy1 - oy0) * (size_t)s->ow;
    const float *d0 = dy + ((size_t)n * s->oh + (size_t)oy0) * (size_t)s->ow * oc;
    for (int co0 = 0; co0 < oc; co0 += VL) {
        const int nc = pn_min_i(VL, oc - co0);
        const VMASK m = vmask_n(nc);
        V acc = vload_m(db + co0, m);
        const float *d = d0 + co0;
        for (size_t p = 0; p < npix; p++, d += oc)
            acc = vadd(acc, vload_m(d, m));
        vstore_m(db + co0, m, acc);
    }
}

/* Output columns per pass over the taps: 48 pixels of x (three rows) and dy
 * stay in L1 while all taps and input-channel blocks sweep them (conv2 of the
 * article: 12.2 -> 10.7 ms; a whole 247-pixel row streamed from L2 each
 * sweep). */
#define BWF_COLS 48

void PN_FN(conv2d_bwd_filter)(const pn_conv2d_shape *s, const float *x, const float *dy, float *dw, float *db)
{
    const int ic = s->ic, oc = s->oc, kh = s->kh, kw = s->kw, sh = s->sh, sw = s->sw;
    const int ih = s->ih, iw = s->iw, oh = s->oh, ow = s->ow;
    /* strips of about 256 output pixels (whole rows) are summed per call and
     * sample, in column chunks of BWF_COLS */
    const int strip = pn_max_i(1, 256 / pn_max_i(1, ow));
    const int cin1 = bwf1_applies(s);

    for (int n = 0; n < s->n; n++)
        for (int oy0 = 0; oy0 < oh; oy0 += strip) {
            const int oy1 = pn_min_i(oh, oy0 + strip);
            if (db)
                bias_grad_rows(s, dy, db, n, oy0, oy1);
            if (cin1) {
                for (int co0 = 0; co0 < oc;) {
                    const int nco = pn_min_i(BWF1_NV * VL, oc - co0);
                    const chan_block cb = chan_block_of(nco < BWF1_NV * VL ? pn_min_i(VL, nco) : nco);
                    const int step = nco < BWF1_NV * VL ? pn_min_i(VL, nco) : nco;
                    bwf_args a;
                    a.x = x + ((size_t)n * ih + (size_t)oy0 * sh) * iw;
                    a.xpix = sw;
                    a.xrow = (ptrdiff_t)sh * iw;
                    a.dy = dy + ((size_t)n * oh + (size_t)oy0) * ow * (size_t)oc + (size_t)co0;
                    a.dypix = oc;
                    a.dyrow = (ptrdiff_t)ow * oc;
                    a.npix = ow;
                    a.nrows = oy1 - oy0;
                    a.dw = dw + co0;
                    a.dwci = oc;
                    a.tail = cb.tail;
                    if (step == BWF1_NV * VL)
                        bwf1_full(&a, iw);
                    else
                        bwf1_part(&a, iw, cb.nv, cb.masked);
                    co0 += step;
                }
                continue;
            }
            for (int ox0 = 0; ox0 < ow; ox0 += BWF_COLS)
                for (int ky = 0; ky < kh; ky++) {
                    /* rows oy in [oya, oyb) with 0 <= oy*sh - pad_top + ky < ih */
                    int oya = oy0, oyb = oy1;
                    while (oya < oyb && oya * sh - s->pad_top + ky < 0)
                        oya++;
                    while (oyb > oya && (oyb - 1) * sh - s->pad_top + ky >= ih)
                        oyb--;
                    if (oya >= oyb)
                        continue;
                    for (int kx = 0; kx < kw; kx++) {
                        int oxa = ox0, oxb = pn_min_i(ow, ox0 + BWF_COLS);
                        while (oxa < oxb && oxa * sw - s->pad_left + kx < 0)
                            oxa++;
                        while (oxb > oxa && (oxb - 1) * sw - s->pad_left + kx >= iw)
                            oxb--;
                        if (oxa >= oxb)
                            continue;
                        for (int co0 = 0; co0 < oc; co0 += NVMAX * VL) {
                            const chan_block cb = chan_block_of(pn_min_i(NVMAX * VL, oc - co0));
                            bwf_args a;
                            a.x = x + (((size_t)n * ih + (size_t)(oya * sh - s->pad_top + ky)) * iw +
                                       (size_t)(oxa * sw - s->pad_left + kx)) *
                                          (size_t)ic;
                            a.xpix = (ptrdiff_t)sw * ic;
                            a.xrow = (ptrdiff_t)sh * iw * ic;
                            a.dy = dy + (((size_t)n * oh + (size_t)oya) * ow + (size_t)oxa) * oc +
                                   (size_t)co0;
                            a.dypix = oc;
                            a.dyrow = (ptrdiff_t)ow * oc;
                            a.npix = oxb - oxa;
                            a.nrows = oyb - oya;
                            a.dw = dw + ((size_t)ky * kw + (size_t)kx) * (size_t)ic * oc + (size_t)co0;
                            a.dwci = oc;
                            a.tail = cb.tail;
                            bwf_run_for(cb.nv, cb.masked)(&a, ic);
                        }
                    }
                }
        }
}
