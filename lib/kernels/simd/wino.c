/* Winograd F(4x4, 3x3) inference forward of a 3x3 conv + bias + activation +
 * 2x2 max-pool block (the algorithm and its transforms: kernels/ref/wino_ref.c),
 * written over vec.h and compiled once per ISA.
 *
 * Channels sit on the vector lanes, as everywhere (NHWC). A row of patches
 * goes through in blocks of PN_WINO_TILES:
 *   1. input transform: each patch's 6x6 x ic values -> u[pos][tile][ci];
 *   2. 36 GEMMs m[pos] (tiles x oc) = u[pos] (tiles x ic) x v[pos] (ic x oc),
 *      run by the register-blocked conv tile kernel (conv_tile.h) as a 1x1
 *      conv over the block's tiles;
 *   3. output transform of each tile's 36 products per channel vector, then
 *      the 2x2 max, the bias and the activation, stored straight to z.
 * A block's u and m (36 x 24 tiles x 32 channels: 108 KiB each for the
 * article's 32-channel layers) stay in L2; one position's slices (3 KiB + the
 * 4 KiB v[pos]) in L1 while its GEMM runs. */
#include "kernels/ref/ref.h"
#include "kernels/kernels.h"
#include "kernels/simd/vec.h"

#include "kernels/simd/conv_tile.h"

#define WT PN_WINO_TILES

/* t = B^T d along one axis (the reference's bt6) */
PN_INLINE void wbt6(const V d[6], V t[6])
{
    const V d42 = vsub(d[4], d[2]), d31 = vsub(d[3], d[1]);
    const V two = vset1(2.0f), four = vset1(4.0f), five = vset1(5.0f);
    t[0] = vfnma(five, d[2], vfma(four, d[0], d[4]));
    t[1] = vfnma(four, vadd(d[1], d[2]), vadd(d[3], d[4]));
    t[2] = vfma(four, vsub(d[1], d[2]), vsub(d[4], d[3]));
    t[3] = vfma(two, d31, d42);
    t[4] = vfnma(two, d31, d42);
    t[5] = vfnma(five, d[3], vfma(four, d[1], d[5]));
}

/* y = A^T m along one axis (the reference's at6) */
PN_INLINE void wat6(const V m[6], V y[4])
{
    const V s12 = vadd(m[1], m[2]), d12 = vsub(m[1], m[2]);
    const V s34 = vadd(m[3], m[4]), d34 = vsub(m[3], m[4]);
    y[0] = vadd(vadd(m[0], s12), s34);
    y[1] = vfma(vset1(2.0f), d34, d12);
    y[2] = vfma(vset1(4.0f), s34, s12);
    y[3] = vadd(vfma(vset1(8.0f), d34, d12), m[5]);
}

/* t = G g along one axis (the reference's g3) */
PN_INLINE void wg3(const V g[3], V t[6])
{
    const V a = vadd(g[0], g[2]), c = vmul(g[1], vset1(1.0f / 12));
    const V b = vfma(g[0], vset1(1.0f / 24), vmul(g[2], vset1(1.0f / 6)));
    t[0] = vmul(g[0], vset1(0.25f));
    t[1] = vmul(vadd(a, g[1]), vset1(-1.0f / 6));
    t[2] = vmul(vsub(a, g[1]), vset1(-1.0f / 6));
    t[3] = vadd(b, c);
    t[4] = vsub(b, c);
    t[5] = g[2];
}

void PN_FN(wino_weights)(int32_t ic, int32_t oc, const float *w, float *v)
{
    const ptrdiff_t plane = (ptrdiff_t)ic * oc;
    for (ptrdiff_t i = 0; i < plane; i += VL) {
        const int full = plane - i >= VL;
        const VMASK m = vmask_n(full ? VL : (int)(plane - i));
        V t[6][3];
        for (int c = 0; c < 3; c++) {
            V col[3], o[6];
            for (int r = 0; r < 3; r++)
                col[r] = full ? vload(w + (r * 3 + c) * plane + i) : vload_m(w + (r * 3 + c) * plane + i, m);
            wg3(col, o);
            for (int r = 0; r < 6; r++)
                t[r][c] = o[r];
        }
        for (int r = 0; r < 6; r++) {
            V o[6];
            wg3(t[r], o);
            for (int c = 0; c < 6; c++) {
                float *q = v + (r * 6 + c) * plane + i;
                if (full)
                    vstore(q, o[c]);
                else
                    vstore_m(q, m, o[c]);
            }
        }
    }
}

/* Input transform of nt patches along a row (patch t at column 4 t of x),
 * into u[pos * upos + t * ic + ci]; nr rows of the patches are inside the
 * input, and only the first ncol input columns. */
PN_INLINE void wino_input(const int EDGE, const float *x, ptrdiff_t xrow, int ic, int nt, int nr, int ncol,
                          float *u, ptrdiff_t upos)
{
    for (int t = 0; t < nt; t++) {
        const float *p = x + (ptrdiff_t)(4 * t) * ic;
        const int nc = EDGE ? pn_min_i(6, ncol - 4 * t) : 6;
        for (int c0 = 0; c0 < ic; c0 += VL) {
            const int full = ic - c0 >= VL;
            const VMASK m = vmask_n(full ? VL : ic - c0);
            V tmp[6][6];
            for (int c = 0; c < 6; c++) {
                V d[6], o[6];
                for (int r = 0; r < 6; r++) {
                    const float *q = p + r * xrow + (ptrdiff_t)c * ic + c0;
                    if (EDGE && (r >= nr || c >= nc))
                        d[r] = vzero();
                    else
                        d[r] = full ? vload(q) : vload_m(q, m);
                }
                wbt6(d, o);
                for (int r = 0; r < 6; r++)
                    tmp[r][c] = o[r];
            }
            for (int r = 0; r < 6; r++) {
                V o[6];
                wbt6(tmp[r], o);
                for (int c = 0; c < 6; c++) {
                    float *q = u + (ptrdiff_t)(r * 6 + c) * upos + (ptrdiff_t)t * ic + c0;
                    if (full)
                        vstore(q, o[c]);
                    else
                        vstore_m(q, m, o[c]);
                }
            }
        }
    }
}

PN_NOINLINE void wino_input_full(const float *x, ptrdiff_t xrow, int ic, int nt, float *u, ptrdiff_t upos)
{
    wino_input(0, x, xrow, ic, nt, 6, 6 + 4 * nt, u, upos);
}

PN_NOINLINE void wino_input_edge(const float *x, ptrdiff_t xrow, int ic, int nt, int nr, int ncol, float *u,
                                 ptrdiff_t upos)
{
    wino_input(1, x, xrow, ic, nt, nr, ncol, u, upos);
}

/* m[pos] = u[pos] x v[pos] for the block's nt tiles */
static void wino_gemm(int ic, int oc, int nt, const float *u, ptrdiff_t upos, const float *v, float *m,
                      ptrdiff_t mpos)
{
    for (int pos = 0; pos < 36; pos++)
        for (int co0 = 0; co0 < oc; co0 += NVMAX * VL) {
            const chan_block cb = chan_block_of(pn_min_i(NVMAX * VL, oc - co0));
            conv_tile_args a;
            a.x = u + pos * upos;
            a.xpix = ic;
            a.xky = a.xkx = 0;
            a.w = v + ((size_t)pos * ic) * oc + co0;
            a.wky = a.wkx = 0;
            a.wk = oc;
            a.nky = a.nkx = 1;
            a.nk = ic;
            a.y = m + pos * mpos + co0;
            a.ypix = oc;
            a.b = NULL;
            a.accum = 0;
            a.tail = cb.tail;
            conv_run_for(cb.nv, cb.masked)(&a, nt);
        }
}

/* Output transform of nt tiles (tile t = pooled columns 2 (t0 + t) ..) and
 * pooled rows [0, nrow) of the tile row (nrow 1 or 2) */
static void wino_output(int oc, int nt, int t0, int32_t pw, int nrow, pn_act act, const float *m,
                        ptrdiff_t mpos, const float *b, float *z, ptrdiff_t zrow)
{
    for (int t = 0; t < nt; t++) {
        const int ncol = pn_min_i(2, pw - 2 * (t0 + t));
        for (int c0 = 0; c0 < oc; c0 += VL) {
            const int full = oc - c0 >= VL;
            const VMASK mk = vmask_n(full ? VL : oc - c0);
            const float *mp = m + (ptrdiff_t)t * oc + c0;
            V s[4][6], y[4][4];
            for (int c = 0; c < 6; c++) {
                V col[6], o[4];
                for (int r = 0; r < 6; r++)
                    col[r] = full ? vload(mp + (r * 6 + c) * mpos) : vload_m(mp + (r * 6 + c) * mpos, mk);
                wat6(col, o);
                for (int r = 0; r < 4; r++)
                    s[r][c] = o[r];
            }
            for (int r = 0; r < 4; r++)
                wat6(s[r], y[r]);
            {
                const V bias = b ? (full ? vload(b + c0) : vload_m(b + c0, mk)) : vzero();
                for (int qy = 0; qy < nrow; qy++)
                    for (int qx = 0; qx < ncol; qx++) {
                        V best = y[2 * qy][2 * qx];
                        float *q = z + qy * zrow + (ptrdiff_t)(2 * (t0 + t) + qx) * oc + c0;
                        best = vmax_gt(y[2 * qy][2 * qx + 1], best);
                        best = vmax_gt(y[2 * qy + 1][2 * qx], best);
                        best = vmax_gt(y[2 * qy + 1][2 * qx + 1], best);
                        best = vadd(best, bias);
                        if (act == PN_ACT_RELU)
                            best = vsel_gt0(best, best);
                        if (full)
                            vstore(q, best);
                        else
                            vstore_m(q, mk, best);
                    }
            }
        }
    }
}

void PN_FN(conv2d_pool2_wino_fwd)(const pn_conv2d_shape *s, pn_act act, int32_t ph, int32_t pw,
                                  const float *x, const float *v, const float *b, float *z, float *scratch)
{
    const int ic = s->ic, oc = s->oc, ntiles = (pw + 1) / 2;
    const ptrdiff_t xrow = (ptrdiff_t)s->iw * ic, zrow = (ptrdiff_t)pw * oc;
    const ptrdiff_t upos = (ptrdiff_t)pn_wino_plane(ic), mpos = (ptrdiff_t)pn_wino_plane(oc);
    float *u = scratch, *m = scratch + 36 * upos;
    for (int32_t n = 0; n < s->n; n++) {
        const float *xn = x + (size_t)n * s->ih * xrow;
        float *zn = z + (size_t)n * ph * zrow;
        for (int32_t ty = 0; 2 * ty < ph; ty++) {
            const int nr = pn_min_i(6, s->ih - 4 * ty), nrow = pn_min_i(2, ph - 2 * ty);
            for (int t0 = 0; t0 < ntiles; t0 += WT) {
                const int nt = pn_min_i(WT, ntiles - t0);
                const float *xp = xn + (ptrdiff_t)(4 * ty) * xrow + (ptrdiff_t)(4 * t0) * ic;
                const int ncol = s->iw - 4 * t0; /* input columns from the block's first */
                if (nr == 6 && 4 * (nt - 1) + 6 <= ncol)
                    wino_input_full(xp, xrow, ic, nt, u, upos);
                else
                    wino_input_edge(xp, xrow, ic, nt, nr, ncol, u, upos);
                wino_gemm(ic, oc, nt, u, upos, v, m, mpos);
                wino_output(oc, nt, t0, pw, nrow, act, m, mpos, b, zn + (ptrdiff_t)(2 * ty) * zrow, zrow);
            }
        }
    }
}
