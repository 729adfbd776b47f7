/* Conv2D + bias + activation + 2x2 stride-2 max-pool blocks (every block of
 * the article's model), written over vec.h and compiled per ISA
 * (compiled once per ISA):
 *  - forward (conv2d_pool2_fwd): a tile is PX pooled pixels of one pooled
 *    row: 2 conv rows x 2 PX conv columns x NV channel vectors of
 *    accumulators (16 of AVX-512's 32 registers, 8 of AVX2's 16). The loop
 *    walks (ky, kx, ci) exactly as the plain conv tile (conv_tile.h) does, so
 *    each conv output is the same float; then the activation and the 2x2 max
 *    with its argmax are taken in registers, as maxpool_fwd does. The conv
 *    output never reaches memory: per pooled pixel only its NV vectors and
 *    argmax bytes are stored. A 3x3 stride-1 conv with one input channel
 *    has its own tile, with the weights in registers (see its section);
 *  - backward (conv2d_pool2_bwd_filter, conv2d_pool2_bwd_data): straight from
 *    the pooled gradient and the argmax, without the conv-sized gradient
 *    (3/4 structural zeros); see each section. */
#include <string.h>

#include "kernels/ref/ref.h"
#include "kernels/kernels.h"
#include "kernels/simd/vec.h"

#include "kernels/simd/conv_tile.h"

/* pooled pixels per tile with one channel vector: 16 accumulators (8 with
 * AVX2) leave room for the weights and the pool epilogue's constants; with
 * 24, GCC spills the weight vectors and every FMA takes a load */
#define CP_PXMAX (ACC * 2 / 3 / 4)

typedef struct cp_tile_args {
    const float *x;       /* conv pixel (2 py, 2 px0), first tap, ci = 0 */
    ptrdiff_t xpix, xrow; /* floats between conv columns / conv rows */
    ptrdiff_t xky, xkx;   /* floats per ky / kx step */
    const float *w;       /* tap (0, 0), ci = 0, first output channel */
    ptrdiff_t wky, wkx, wk;
    int nky, nkx, nk;
    const float *b; /* bias at the first channel, or NULL */
    int relu;
    float *z;       /* pooled pixel px0, first channel */
    uint8_t *am;    /* its argmax bytes */
    ptrdiff_t zpix; /* floats (and bytes) between pooled pixels */
    int nc;         /* channels in this block (<= NV * VL) */
    VMASK tail;
} cp_tile_args;

/* The activation and the 2x2 max of one channel vector of a window's four
 * conv outputs q0..q3 (window order), stored with its argmax bytes (am may be
 * NULL) as maxpool_fwd does; LAST: z takes only the lanes of tail. */
PN_INLINE void cp_pool_store(const int LAST, V q0, V q1, V q2, V q3, int relu, float *z, uint8_t *am, int nc,
                             VMASK tail)
{
    V best, at;
    if (relu) {
        q0 = vmax_gt(q0, vzero());
        q1 = vmax_gt(q1, vzero());
        q2 = vmax_gt(q2, vzero());
        q3 = vmax_gt(q3, vzero());
    }
    best = vmax4_first(q0, q1, q2, q3, &at);
    if (LAST)
        vstore_m(z, tail, best);
    else
        vstore(z, best);
    if (am)
        vstore_u8(am, nc, at);
}

/* XP: the pixel stride a->xpix when known at compile time (0: not), which
 * frees the registers that would otherwise hold the twelve pixel offsets. */
PN_INLINE void cp_tile(const int PX, const int NV, const int MASKED, const int XP, const cp_tile_args *a)
{
    V acc[2][2 * CP_PXMAX][NVMAX]; /* [conv row][conv column][vector]; PX <= CP_PXMAX */
    const VMASK tail = a->tail;
    const ptrdiff_t xpix = XP ? XP : a->xpix, xrow = a->xrow, wk = a->wk;
    const int nk = a->nk;
    const float *xr = a->x, *wr = a->w;

    for (int r = 0; r < 2; r++)
        for (int p = 0; p < 2 * PX; p++)
            for (int v = 0; v < NV; v++)
                acc[r][p][v] = a->b ? LDV(a->b + v * VL, v) : vzero();
    for (int ky = 0; ky < a->nky; ky++) {
        const float *xc = xr, *wc = wr;
        for (int kx = 0; kx < a->nkx; kx++) {
            const float *xk = xc, *wp = wc;
            for (int k = 0; k < nk; k++) {
                V wv[NVMAX];
                for (int v = 0; v < NV; v++)
                    wv[v] = LDV(wp + v * VL, v);
                for (int r = 0; r < 2; r++)
                    for (int p = 0; p < 2 * PX; p++) {
                        const V bx = vbcast(xk + r * xrow + p * xpix);
                        for (int v = 0; v < NV; v++)
                            acc[r][p][v] = vfma(bx, wv[v], acc[r][p][v]);
                    }
                xk++;
                wp += wk;
            }
            xc += a->xkx;
            wc += a->wkx;
        }
        xr += a->xky;
        wr += a->wky;
    }
    for (int j = 0; j < PX; j++)
        for (int v = 0; v < NV; v++)
            cp_pool_store(MASKED && v == NV - 1, acc[0][2 * j][v], acc[0][2 * j + 1][v], acc[1][2 * j][v],
                          acc[1][2 * j + 1][v], a->relu, a->z + j * a->zpix + v * VL,
                          a->am ? a->am + j * a->zpix + v * VL : NULL,
                          MASKED && v == NV - 1 ? a->nc - v * VL : VL, tail);
}

/* npix pooled pixels of one pooled row, advancing the tile pointers: tiles of
 * the widest PX the registers allow, then narrower ones (PX is a constant in
 * each call so the accumulators live in registers). */
PN_INLINE void cp_run(const int NV, const int MASKED, const int XP, cp_tile_args *a, int npix)
{
    const int PXMAX = CP_PXMAX / NV > 0 ? CP_PXMAX / NV : 1;
#define CP_STEP(P)                           \
    if (PXMAX >= (P))                        \
        for (; npix >= (P); npix -= (P)) {   \
            cp_tile((P), NV, MASKED, XP, a); \
            a->x += 2 * (P)*a->xpix;         \
            a->z += (P)*a->zpix;             \
            if (a->am)                       \
                a->am += (P)*a->zpix;        \
        }
    CP_STEP(6)
    CP_STEP(3)
    CP_STEP(2)
    CP_STEP(1)
#undef CP_STEP
}

typedef void (*cp_run_fn)(cp_tile_args *a, int npix);
/* instances per (vectors, masked tail, pixel stride: 1, 32, 64 floats or any) */
/* clang-format off */
#define CP_RUN_INST(nv, m, xp)                                                                    \
    PN_NOINLINE void cp_run_##nv##_##m##_##xp(cp_tile_args *a, int npix) { cp_run(nv, m, xp, a, npix); }
#define CP_RUN_INST_NV(nv)                                                                        \
    CP_RUN_INST(nv, 0, 0) CP_RUN_INST(nv, 1, 0) CP_RUN_INST(nv, 0, 1) CP_RUN_INST(nv, 1, 1)       \
    CP_RUN_INST(nv, 0, 32) CP_RUN_INST(nv, 1, 32) CP_RUN_INST(nv, 0, 64) CP_RUN_INST(nv, 1, 64)
/* clang-format on */
CP_RUN_INST_NV(1)
CP_RUN_INST_NV(2)
#if NVMAX > 2
CP_RUN_INST_NV(3)
CP_RUN_INST_NV(4)
#endif

static cp_run_fn cp_run_for(int nv, int masked, ptrdiff_t xpix)
{
#define CP_ROW(nv)                                                                       \
    {                                                                                    \
        {cp_run_##nv##_0_0, cp_run_##nv##_0_1, cp_run_##nv##_0_32, cp_run_##nv##_0_64},  \
        {                                                                                \
            cp_run_##nv##_1_0, cp_run_##nv##_1_1, cp_run_##nv##_1_32, cp_run_##nv##_1_64 \
        }                                                                                \
    }
    static const cp_run_fn table[NVMAX][2][4] = {
        CP_ROW(1),
        CP_ROW(2),
#if NVMAX > 2
        CP_ROW(3),
        CP_ROW(4),
#endif
    };
#undef CP_ROW
    const int xs = xpix == 1 ? 1 : xpix == 32 ? 2 : xpix == 64 ? 3 : 0;
    return table[nv - 1][masked][xs];
}

/* ------------------------------------------ forward, one input channel */

/* Conv 3x3, stride 1, one input channel: each input pixel feeds 32 channels
 * x 9 taps, so a channel block's nine weight vectors are loaded once per
 * pooled row and kept in registers (where they fit), and each input value of
 * a tile's 4 x (2 PX + 2) patch is broadcast once and multiplied into every
 * conv output of the tile it reaches. Walking the patch in row order gives
 * each conv output its taps in (ky, kx) order after the bias, as the conv
 * tile does, so the values stay those of conv2d_fwd bit for bit. */
#define CPG_NV (NREG >= 32 ? 2 : 1) /* channel vectors per block */
#define CPG_PX (NREG >= 32 ? 1 : 2) /* pooled pixels per tile */

PN_INLINE void cpg_tile(const int PX, const int NV, const int MASKED, const float *x, ptrdiff_t iw,
                        const V (*w)[CPG_NV], const V *bias, int relu, float *z, uint8_t *am, ptrdiff_t zpix,
                        int nc, VMASK tail)
{
    V acc[2][2 * CPG_PX][CPG_NV];
    for (int i = 0; i < 2; i++)
        for (int j = 0; j < 2 * PX; j++)
            for (int v = 0; v < NV; v++)
                acc[i][j][v] = bias[v];
#pragma GCC unroll 4
    for (int r = 0; r < 4; r++)
#pragma GCC unroll 8
        for (int c = 0; c < 2 * PX + 2; c++) {
            const V bx = vbcast(x + r * iw + c);
            for (int i = 0; i < 2; i++) {
                const int ky = r - i;
                if (ky < 0 || ky > 2)
                    continue;
                for (int j = 0; j < 2 * PX; j++) {
                    const int kx = c - j;
                    if (kx < 0 || kx > 2)
                        continue;
                    for (int v = 0; v < NV; v++)
                        acc[i][j][v] = vfma(bx, w[ky * 3 + kx][v], acc[i][j][v]);
                }
            }
        }
    for (int j = 0; j < PX; j++)
        for (int v = 0; v < NV; v++)
            cp_pool_store(MASKED && v == NV - 1, acc[0][2 * j][v], acc[0][2 * j + 1][v], acc[1][2 * j][v],
                          acc[1][2 * j + 1][v], relu, z + j * zpix + v * VL,
                          am ? am + j * zpix + v * VL : NULL, MASKED && v == NV - 1 ? nc - v * VL : VL, tail);
}

/* pw pooled pixels of one pooled row for one channel block */
PN_INLINE void cpg_row(const int NV, const int MASKED, const float *x, ptrdiff_t iw, const float *wt,
                       ptrdiff_t wtap, const float *b, int relu, float *z, uint8_t *am, ptrdiff_t zpix,
                       int pw, int nc, VMASK tail)
{
    V w[9][CPG_NV], bias[CPG_NV];
    int px = 0;
    for (int v = 0; v < NV; v++) {
        bias[v] = b ? LDV(b + v * VL, v) : vzero();
        for (int t = 0; t < 9; t++)
            w[t][v] = LDV(wt + t * wtap + v * VL, v);
    }
    for (; px + CPG_PX <= pw; px += CPG_PX)
        cpg_tile(CPG_PX, NV, MASKED, x + 2 * px, iw, (const V(*)[CPG_NV])w, bias, relu, z + px * zpix,
                 am ? am + px * zpix : NULL, zpix, nc, tail);
    for (; px < pw; px++)
        cpg_tile(1, NV, MASKED, x + 2 * px, iw, (const V(*)[CPG_NV])w, bias, relu, z + px * zpix,
                 am ? am + px * zpix : NULL, zpix, nc, tail);
}

PN_NOINLINE void cpg_full(const float *x, ptrdiff_t iw, const float *wt, ptrdiff_t wtap, const float *b,
                          int relu, float *z, uint8_t *am, ptrdiff_t zpix, int pw)
{
    cpg_row(CPG_NV, 0, x, iw, wt, wtap, b, relu, z, am, zpix, pw, CPG_NV * VL, vmask_all());
}

PN_NOINLINE void cpg_part(const float *x, ptrdiff_t iw, const float *wt, ptrdiff_t wtap, const float *b,
                          int relu, float *z, uint8_t *am, ptrdiff_t zpix, int pw, int nc)
{
    const VMASK tail = vmask_n(nc % VL ? nc % VL : VL);
#if CPG_NV > 1
    if (nc > VL) {
        cpg_row(CPG_NV, 1, x, iw, wt, wtap, b, relu, z, am, zpix, pw, nc, tail);
        return;
    }
#endif
    cpg_row(1, 1, x, iw, wt, wtap, b, relu, z, am, zpix, pw, nc, tail);
}

static void cpg_gray(const pn_conv2d_shape *s, pn_act act, int32_t ph, int32_t pw, const float *x,
                     const float *w, const float *b, float *z, uint8_t *argmax)
{
    const int oc = s->oc;
    const ptrdiff_t iw = s->iw;
    for (int n = 0; n < s->n; n++)
        for (int py = 0; py < ph; py++) {
            const float *xr = x + ((size_t)n * s->ih + (size_t)(2 * py)) * (size_t)iw;
            const size_t zo = ((size_t)n * ph + (size_t)py) * (size_t)pw * (size_t)oc;
            for (int co0 = 0; co0 < oc; co0 += CPG_NV * VL) {
                const int nc = pn_min_i(CPG_NV * VL, oc - co0);
                uint8_t *am = argmax ? argmax + zo + co0 : NULL;
                if (nc == CPG_NV * VL)
                    cpg_full(xr, iw, w + co0, oc, b ? b + co0 : NULL, act == PN_ACT_RELU, z + zo + co0, am,
                             oc, pw);
                else
                    cpg_part(xr, iw, w + co0, oc, b ? b + co0 : NULL, act == PN_ACT_RELU, z + zo + co0, am,
                             oc, pw, nc);
            }
        }
}

void PN_FN(conv2d_pool2_fwd)(const pn_conv2d_shape *s, pn_act act, int32_t ph, int32_t pw, const float *x,
                             const float *w, const float *b, float *z, uint8_t *argmax)
{
    const int ic = s->ic, oc = s->oc;
    const ptrdiff_t xpix = (ptrdiff_t)s->sw * ic, xrow = (ptrdiff_t)s->sh * s->iw * ic;
    const size_t in_size = (size_t)s->ih * s->iw * (size_t)ic;
    const size_t zrow = (size_t)pw * (size_t)oc;

    if (ic == 1 && s->kh == 3 && s->kw == 3 && s->sh == 1 && s->sw == 1) {
        cpg_gray(s, act, ph, pw, x, w, b, z, argmax);
        return;
    }
    for (int n = 0; n < s->n; n++)
        for (int py = 0; py < ph; py++) {
            const float *xrow0 = x + (size_t)n * in_size + (size_t)(2 * py) * (size_t)xrow;
            const size_t zo = ((size_t)n * ph + (size_t)py) * zrow;
            for (int co0 = 0; co0 < oc; co0 += NVMAX * VL) {
                const int nc = pn_min_i(NVMAX * VL, oc - co0);
                const chan_block cb = chan_block_of(nc);
                cp_tile_args a;
                a.x = xrow0;
                a.xpix = xpix;
                a.xrow = xrow;
                a.xky = (ptrdiff_t)s->iw * ic;
                a.xkx = ic;
                a.w = w + co0;
                a.wky = (ptrdiff_t)s->kw * ic * oc;
                a.wkx = (ptrdiff_t)ic * oc;
                a.wk = oc;
                a.nky = s->kh;
                a.nkx = s->kw;
                a.nk = ic;
                a.b = b ? b + co0 : NULL;
                a.relu = act == PN_ACT_RELU;
                a.z = z + zo + (size_t)co0;
                a.am = argmax ? argmax + zo + (size_t)co0 : NULL;
                a.zpix = oc;
                a.nc = nc;
                a.tail = cb.tail;
                cp_run_for(cb.nv, cb.masked, xpix)(&a, pw);
            }
        }
}

/* ------------------------------------------ backward filter, one input channel */

/* Conv 3x3, stride 1, one input channel (a first layer on grayscale images):
 * a pooled gradient reaches only its window's maximum, so tap t's weight
 * gradient for channel c gains x[maximum of c, shifted by t] dz[c]: one FMA
 * per pooled pixel, tap and channel vector, the 3/4 structural zeros of the
 * conv-sized gradient never multiplied. For a chunk of CPB_CHUNK pooled
 * pixels of a pooled row, cand[t][px] holds the four inputs tap t sees from
 * the window's four positions (in argmax order); vperm4 picks each lane's by
 * its argmax. The nine taps x CPB_NV channel vectors of sums stay in
 * registers over the chunk and are added to dw after it, so a sum runs over
 * at most CPB_CHUNK terms before it reaches dw. */
#define CPB_NV (NREG >= 32 ? 2 : 1) /* 9 x NV accumulators */
#define CPB_CHUNK 64

PN_INLINE void cpb_block(const int NV, const int MASKED, const float *cand, const float *dz,
                         const uint8_t *am, ptrdiff_t zpix, int np, float *dw, float *db, int nc, VMASK tail)
{
    V acc[9][CPB_NV], accb[CPB_NV];
    const ptrdiff_t tap = zpix;
    for (int v = 0; v < NV; v++) {
        accb[v] = vzero();
        for (int t = 0; t < 9; t++)
            acc[t][v] = vzero();
    }
    for (int p = 0; p < np; p++) {
        const float *cp = cand + 4 * p;
        V g[CPB_NV];
        VIDX q[CPB_NV];
        for (int v = 0; v < NV; v++) {
            g[v] = LDV(dz + p * zpix + v * VL, v);
            q[v] = vload_idx_u8(am + p * zpix + v * VL, MASKED && v == NV - 1 ? nc - v * VL : VL);
            accb[v] = vadd(accb[v], g[v]);
        }
        for (int t = 0; t < 9; t++) {
            const V c = vbcast4(cp + t * 4 * CPB_CHUNK);
            for (int v = 0; v < NV; v++)
                acc[t][v] = vfma(vperm4(c, q[v]), g[v], acc[t][v]);
        }
    }
    for (int t = 0; t < 9; t++)
        for (int v = 0; v < NV; v++) {
            float *p = dw + t * tap + v * VL;
            STV(p, v, vadd(LDV(p, v), acc[t][v]));
        }
    if (db)
        for (int v = 0; v < NV; v++)
            STV(db + v * VL, v, vadd(LDV(db + v * VL, v), accb[v]));
}

PN_NOINLINE void cpb_full(const float *cand, const float *dz, const uint8_t *am, ptrdiff_t zpix, int np,
                          float *dw, float *db)
{
    cpb_block(CPB_NV, 0, cand, dz, am, zpix, np, dw, db, CPB_NV * VL, vmask_all());
}

PN_NOINLINE void cpb_part(const float *cand, const float *dz, const uint8_t *am, ptrdiff_t zpix, int np,
                          float *dw, float *db, int nc)
{
    const VMASK tail = vmask_n(nc % VL ? nc % VL : VL);
#if CPB_NV > 1
    if (nc > VL) {
        cpb_block(CPB_NV, 1, cand, dz, am, zpix, np, dw, db, nc, tail);
        return;
    }
#endif
    cpb_block(1, 1, cand, dz, am, zpix, np, dw, db, nc, tail);
}

static void cpb_gray(const pn_conv2d_shape *s, int32_t ph, int32_t pw, const float *x, const float *dz,
                     const uint8_t *argmax, float *dw, float *db)
{
    const int oc = s->oc;
    const ptrdiff_t iw = s->iw;
    float cand[CPB_CHUNK * 36];
    for (int n = 0; n < s->n; n++)
        for (int py = 0; py < ph; py++)
            for (int px0 = 0; px0 < pw; px0 += CPB_CHUNK) {
                const int np = pn_min_i(CPB_CHUNK, pw - px0);
                const size_t zo = (((size_t)n * ph + (size_t)py) * pw + (size_t)px0) * (size_t)oc;
                const float *xr = x + ((size_t)n * s->ih + (size_t)(2 * py)) * (size_t)iw + (size_t)(2 * px0);
                for (int t = 0; t < 9; t++) {
                    const float *xt = xr + (t / 3) * iw + t % 3;
                    vpairs2(cand + t * 4 * CPB_CHUNK, xt, xt + iw, np);
                }
                for (int co0 = 0; co0 < oc; co0 += CPB_NV * VL) {
                    const int nc = pn_min_i(CPB_NV * VL, oc - co0);
                    if (nc == CPB_NV * VL)
                        cpb_full(cand, dz + zo + co0, argmax + zo + co0, oc, np, dw + co0,
                                 db ? db + co0 : NULL);
                    else
                        cpb_part(cand, dz + zo + co0, argmax + zo + co0, oc, np, dw + co0,
                                 db ? db + co0 : NULL, nc);
                }
            }
}

/* Several input channels: one output channel at a time over a chunk of
 * PBF_CHUNK pooled pixels of a pooled row (their 4 x (2 PBF_CHUNK + 2) input
 * pixels stay in L1), the nine taps x PBF_NV input-channel vectors of its
 * weight gradient in registers: per pooled pixel, the input under the taps
 * from its window maximum times the broadcast gradient. Zero gradients
 * (ReLU-inactive windows) are multiplied too: a branch per pixel and channel
 * would cost more. The sums go to dwt[co][tap][ci] in scratch, added into the
 * HWIO dw at the end. */
#define PBF_NV PN_PBF_NV
#define PBF_CHUNK 16

PN_INLINE void pbf_co(const int NV, const int MASKED, const float *x, ptrdiff_t xrow, ptrdiff_t xpix,
                      const float *g, const uint8_t *am, ptrdiff_t zpix, int np, float *out, ptrdiff_t icp,
                      VMASK tail)
{
    V acc[9][PBF_NV];
    for (int t = 0; t < 9; t++)
        for (int v = 0; v < NV; v++)
            acc[t][v] = vzero();
    for (int p = 0; p < np; p++) {
        const V gv = vbcast(g + p * zpix);
        const int q = am[p * zpix] & 3;
        const float *xp = x + (2 * p + (q & 1)) * xpix + (q >> 1) * xrow;
        for (int t = 0; t < 9; t++)
            for (int v = 0; v < NV; v++)
                acc[t][v] = vfma(gv, LDV(xp + (t / 3) * xrow + (t % 3) * xpix + v * VL, v), acc[t][v]);
    }
    for (int t = 0; t < 9; t++)
        for (int v = 0; v < NV; v++)
            vstore(out + t * icp + v * VL, vadd(vload(out + t * icp + v * VL), acc[t][v]));
}

PN_NOINLINE void pbf_full(const float *x, ptrdiff_t xrow, ptrdiff_t xpix, const float *g, const uint8_t *am,
                          ptrdiff_t zpix, int np, float *out, ptrdiff_t icp)
{
    pbf_co(PBF_NV, 0, x, xrow, xpix, g, am, zpix, np, out, icp, vmask_all());
}

PN_NOINLINE void pbf_part(const float *x, ptrdiff_t xrow, ptrdiff_t xpix, const float *g, const uint8_t *am,
                          ptrdiff_t zpix, int np, float *out, ptrdiff_t icp, VMASK tail, int nv)
{
#if PBF_NV > 1
    if (nv > 1) {
        pbf_co(PBF_NV, 1, x, xrow, xpix, g, am, zpix, np, out, icp, tail);
        return;
    }
#endif
    (void)nv;
    pbf_co(1, 1, x, xrow, xpix, g, am, zpix, np, out, icp, tail);
}

void PN_FN(conv2d_pool2_bwd_filter)(const pn_conv2d_shape *s, int32_t ph, int32_t pw, const float *x,
                                    const float *dz, const uint8_t *argmax, float *dw, float *db,
                                    float *scratch)
{
    const int ic = s->ic, oc = s->oc;
    const ptrdiff_t icp = (ic + 15) & ~15, xpix = ic, xrow = (ptrdiff_t)s->iw * ic;
    const size_t in_size = (size_t)s->ih * s->iw * (size_t)ic;
    float *dwt = scratch;
    if (!pn_pool2_bwd_fast(s)) {
        pn_f32_conv2d_pool2_bwd_filter__ref(s, ph, pw, x, dz, argmax, dw, db, scratch);
        return;
    }
    if (ic == 1) {
        cpb_gray(s, ph, pw, x, dz, argmax, dw, db);
        return;
    }
    memset(dwt, 0, (size_t)oc * 9 * (size_t)icp * sizeof(float));
    for (int n = 0; n < s->n; n++)
        for (int py = 0; py < ph; py++)
            for (int px0 = 0; px0 < pw; px0 += PBF_CHUNK) {
                const int np = pn_min_i(PBF_CHUNK, pw - px0);
                const size_t o = (((size_t)n * ph + (size_t)py) * pw + (size_t)px0) * (size_t)oc;
                const float *xc = x + (size_t)n * in_size + (size_t)(2 * py) * (size_t)xrow +
                                  (size_t)(2 * px0) * ic;
                for (int ci0 = 0; ci0 < ic; ci0 += PBF_NV * VL) {
                    const int nci = pn_min_i(PBF_NV * VL, ic - ci0);
                    for (int co = 0; co < oc; co++) {
                        float *out = dwt + (size_t)co * 9 * (size_t)icp + (size_t)ci0;
                        if (nci == PBF_NV * VL)
                            pbf_full(xc + ci0, xrow, xpix, dz + o + co, argmax + o + co, oc, np, out, icp);
                        else
                            pbf_part(xc + ci0, xrow, xpix, dz + o + co, argmax + o + co, oc, np, out, icp,
                                     vmask_n(nci % VL ? nci % VL : VL), (nci + VL - 1) / VL);
                    }
                }
            }
    for (int t = 0; t < 9; t++)
        for (int ci = 0; ci < ic; ci++)
            for (int co = 0; co < oc; co++)
                dw[((size_t)t * ic + (size_t)ci) * oc + (size_t)co] +=
                    dwt[((size_t)co * 9 + (size_t)t) * icp + (size_t)ci];
    if (db)
        for (int n = 0; n < s->n; n++)
            for (int p = 0; p < ph * pw; p++) {
                const float *g = dz + ((size_t)n * ph * pw + (size_t)p) * (size_t)oc;
                for (int c0 = 0; c0 < oc; c0 += VL) {
                    const VMASK m = vmask_n(pn_min_i(VL, oc - c0));
                    vstore_m(db + c0, m, vadd(vload_m(db + c0, m), vload_m(g + c0, m)));
                }
            }
}

/* ---------------------------------------------- backward data, from the pooled gradient */

/* One vector of input channels at a time (the outer loop, so that its slice
 * of the transposed kernel, wt[co][tap][lane], stays in L1 while every pooled
 * pixel of the sample goes by): a pooled pixel's channels with a non-zero
 * gradient are grouped by the window position q of their maximum (zero
 * gradients, ReLU-inactive windows, are dropped), and g[co] wt[co][tap] is
 * summed in registers over the 4x4 input patch the window's taps reach (16
 * accumulators with AVX-512's 32 registers; per group, 9, with AVX2's 16),
 * then added to dx once. No weight is reused across pixels, unlike the dense
 * backward-data, but 3/4 of its work (the structural zeros) is skipped. */

/* The channels with a non-zero gradient, by window position of their maximum
 * (ascending within each list). */
static void pbd_lists(const float *g, const uint8_t *am, int oc, int (*list)[PN_POOL2_MAX_OC], int *cnt)
{
    int co = 0;
    cnt[0] = cnt[1] = cnt[2] = cnt[3] = 0;
#if defined(PN_HAVE_VPOOL_LISTS)
    vpool_lists(g, am, oc, list, cnt, &co);
#endif
    for (; co < oc; co++) {
        const int q = am[co] & 3;
        list[q][cnt[q]] = co;
        cnt[q] += g[co] != 0.0f;
    }
}

/* The 4x4 patch at d (dx pixels dpix apart, rows drow apart) += the four
 * groups' contributions; wt: this channel vector's slice, co rows 9 VL apart. */
PN_INLINE void pbd_patch(const int MASKED, const float *g, int (*list)[PN_POOL2_MAX_OC], const int *cnt,
                         const float *wt, float *d, ptrdiff_t drow, ptrdiff_t dpix, VMASK tail)
{
    const int NV = 1;
#if NREG >= 32
    V acc[16];
    for (int i = 0; i < 16; i++)
        acc[i] = vzero();
    for (int q = 0; q < 4; q++)
        for (int i = 0; i < cnt[q]; i++) {
            const V bx = vbcast(g + list[q][i]);
            const float *wp = wt + (ptrdiff_t)list[q][i] * 9 * VL;
            for (int t = 0; t < 9; t++) {
                const int at = (q / 2 + t / 3) * 4 + q % 2 + t % 3;
                acc[at] = vfma(bx, vload(wp + t * VL), acc[at]);
            }
        }
    for (int i = 0; i < 16; i++) {
        float *p = d + (i / 4) * drow + (i % 4) * dpix;
        STV(p, 0, vadd(LDV(p, 0), acc[i]));
    }
#else
    for (int q = 0; q < 4; q++) {
        float *dq = d + (q / 2) * drow + (q % 2) * dpix;
        V acc[9];
        if (!cnt[q])
            continue;
        for (int t = 0; t < 9; t++)
            acc[t] = vzero();
        for (int i = 0; i < cnt[q]; i++) {
            const V bx = vbcast(g + list[q][i]);
            const float *wp = wt + (ptrdiff_t)list[q][i] * 9 * VL;
            for (int t = 0; t < 9; t++)
                acc[t] = vfma(bx, vload(wp + t * VL), acc[t]);
        }
        for (int t = 0; t < 9; t++) {
            float *p = dq + (t / 3) * drow + (t % 3) * dpix;
            STV(p, 0, vadd(LDV(p, 0), acc[t]));
        }
    }
#endif
    (void)NV;
}

PN_NOINLINE void pbd_patch_full(const float *g, int (*list)[PN_POOL2_MAX_OC], const int *cnt, const float *wt,
                                float *d, ptrdiff_t drow, ptrdiff_t dpix)
{
    pbd_patch(0, g, list, cnt, wt, d, drow, dpix, vmask_all());
}

PN_NOINLINE void pbd_patch_part(const float *g, int (*list)[PN_POOL2_MAX_OC], const int *cnt, const float *wt,
                                float *d, ptrdiff_t drow, ptrdiff_t dpix, VMASK tail)
{
    pbd_patch(1, g, list, cnt, wt, d, drow, dpix, tail);
}

void PN_FN(conv2d_pool2_bwd_data)(const pn_conv2d_shape *s, int32_t ph, int32_t pw, const float *dz,
                                  const uint8_t *argmax, const float *w, float *dx, float *scratch)
{
    const int ic = s->ic, oc = s->oc, iw = s->iw;
    const size_t in_size = (size_t)s->ih * iw * (size_t)ic;
    const ptrdiff_t wtap = (ptrdiff_t)oc * ic, drow = (ptrdiff_t)iw * ic;
    const int nblk = (ic + VL - 1) / VL;
    const size_t wblk = (size_t)oc * 9 * VL; /* floats per channel-vector slice */
    float *wt = scratch;
    int list[4][PN_POOL2_MAX_OC];
    if (!pn_pool2_bwd_fast(s) || oc > PN_POOL2_MAX_OC) {
        pn_f32_conv2d_pool2_bwd_data__ref(s, ph, pw, dz, argmax, w, dx, scratch);
        return;
    }
    /* wt[block][co][tap][lane] = w[tap][block VL + lane][co], zero past ic */
    for (int bk = 0; bk < nblk; bk++)
        for (int co = 0; co < oc; co++)
            for (int t = 0; t < 9; t++)
                for (int l = 0; l < VL; l++) {
                    const int ci = bk * VL + l;
                    wt[(size_t)bk * wblk + ((size_t)co * 9 + (size_t)t) * VL + (size_t)l] =
                        ci < ic ? w[(size_t)t * wtap + (size_t)ci * oc + (size_t)co] : 0.0f;
                }
    memset(dx, 0, (size_t)s->n * in_size * sizeof(float));
    for (int n = 0; n < s->n; n++)
        for (int bk = 0; bk < nblk; bk++) {
            const int ci0 = bk * VL, nci = pn_min_i(VL, ic - ci0);
            const float *wb = wt + (size_t)bk * wblk;
            for (int py = 0; py < ph; py++)
                for (int px = 0; px < pw; px++) {
                    const size_t o = (((size_t)n * ph + (size_t)py) * pw + (size_t)px) * (size_t)oc;
                    float *d = dx + (size_t)n * in_size + (size_t)(2 * py) * (size_t)drow +
                               (size_t)(2 * px) * ic + ci0;
                    int cnt[4];
                    pbd_lists(dz + o, argmax + o, oc, list, cnt);
                    if (nci == VL)
                        pbd_patch_full(dz + o, list, cnt, wb, d, drow, ic);
                    else
                        pbd_patch_part(dz + o, list, cnt, wb, d, drow, ic, vmask_n(nci));
                }
        }
}
