/* The register-blocked tile kernel shared by the conv and dense kernels: MR
 * output pixels x NV vectors of output channels held in registers while the
 * loop walks (ky, kx, k), broadcasting one input value per pixel and FMA-ing it
 * with a contiguous weight row. Included by conv2d_tmpl.h and misc_tmpl.h,
 * after vec.h. */
#ifndef PN_KERNELS_SIMD_CONV_TILE_H
#define PN_KERNELS_SIMD_CONV_TILE_H

#include "kernels/simd/vec.h"

#define NVMAX PN_TILE_NV /* register blocking: from the ISA's vector header */
#define ACC PN_TILE_ACC

#define WT_FLOATS PN_SIMD_WT_FLOATS /* bwd_data transposed-kernel stack buffer: 48 KiB */

typedef struct conv_tile_args {
    const float *x;     /* tile pixel 0, first tap, k = 0 */
    ptrdiff_t xpix;     /* floats between tile pixels */
    ptrdiff_t xky, xkx; /* floats per ky / kx step */
    const float *w;     /* first tap, k = 0, first output channel */
    ptrdiff_t wky, wkx, wk;
    int nky, nkx, nk;
    float *y;
    ptrdiff_t ypix;
    const float *b; /* bias at the first channel, or NULL */
    int accum;      /* start from y instead of b / zero */
    VMASK tail;     /* lanes of the last vector (when MASKED) */
} conv_tile_args;

#define LDV(p, v) ((MASKED && (v) == NV - 1) ? vload_m((p), tail) : vload(p))
#define STV(p, v, val)                  \
    do {                                \
        if (MASKED && (v) == NV - 1)    \
            vstore_m((p), tail, (val)); \
        else                            \
            vstore((p), (val));         \
    } while (0)

PN_INLINE void conv_tile(const int MR, const int NV, const int MASKED, const conv_tile_args *a)
{
    V acc[ACC][NVMAX];
    const VMASK tail = a->tail;
    const ptrdiff_t xpix = a->xpix, wk = a->wk;
    const int nk = a->nk;
    const float *xr = a->x, *wr = a->w;

    for (int p = 0; p < MR; p++)
        for (int v = 0; v < NV; v++)
            acc[p][v] = a->accum ? LDV(a->y + p * a->ypix + v * VL, v)
                        : a->b   ? LDV(a->b + v * VL, v)
                                 : vzero();
    for (int ky = 0; ky < a->nky; ky++) {
        const float *xc = xr, *wc = wr;
        for (int kx = 0; kx < a->nkx; kx++) {
            const float *xk = xc, *wp = wc;
            for (int k = 0; k < nk; k++) {
                V wv[NVMAX];
                for (int v = 0; v < NV; v++)
                    wv[v] = LDV(wp + v * VL, v);
                for (int p = 0; p < MR; p++) {
                    const V bx = vbcast(xk + p * xpix);
                    for (int v = 0; v < NV; v++)
                        acc[p][v] = vfma(bx, wv[v], acc[p][v]);
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
    for (int p = 0; p < MR; p++)
        for (int v = 0; v < NV; v++)
            STV(a->y + p * a->ypix + v * VL, v, acc[p][v]);
}

/* npix pixels, advancing a->x / a->y: full tiles, then 4 / 2 / 1 tails. */
PN_INLINE void conv_run(const int NV, const int MASKED, conv_tile_args *a, int npix)
{
    const int MR = ACC / NV;
    for (; npix >= MR; npix -= MR) {
        conv_tile(MR, NV, MASKED, a);
        a->x += MR * a->xpix;
        a->y += MR * a->ypix;
    }
    if (MR > 4)
        for (; npix >= 4; npix -= 4) {
            conv_tile(MR > 4 ? 4 : 1, NV, MASKED, a);
            a->x += 4 * a->xpix;
            a->y += 4 * a->ypix;
        }
    for (; npix >= 2; npix -= 2) {
        conv_tile(2, NV, MASKED, a);
        a->x += 2 * a->xpix;
        a->y += 2 * a->ypix;
    }
    if (npix)
        conv_tile(1, NV, MASKED, a);
}

typedef void (*conv_run_fn)(conv_tile_args *a, int npix);
#define CONV_RUN_INST(nv, m) \
    PN_NOINLINE void conv_run_##nv##_##m(conv_tile_args *a, int npix) { conv_run(nv, m, a, npix); }
CONV_RUN_INST(1, 0)
CONV_RUN_INST(1, 1)
CONV_RUN_INST(2, 0)
CONV_RUN_INST(2, 1)
#if NVMAX > 2
CONV_RUN_INST(3, 0)
CONV_RUN_INST(3, 1)
CONV_RUN_INST(4, 0)
CONV_RUN_INST(4, 1)
#endif

__attribute__((unused)) static conv_run_fn conv_run_for(int nv, int masked)
{
    static const conv_run_fn table[NVMAX][2] = {
        {conv_run_1_0, conv_run_1_1},
        {conv_run_2_0, conv_run_2_1},
#if NVMAX > 2
        {conv_run_3_0, conv_run_3_1},
        {conv_run_4_0, conv_run_4_1},
#endif
    };
    return table[nv - 1][masked];
}

/* Channel block [c0, c0 + n) of a vector tile: vector count, tail mask. */
typedef struct chan_block {
    int nv, masked;
    VMASK tail;
} chan_block;

static chan_block chan_block_of(int n)
{
    chan_block cb;
    cb.nv = (n + VL - 1) / VL;
    cb.masked = n % VL != 0;
    cb.tail = vmask_n(cb.masked ? n % VL : VL);
    return cb;
}

#endif
