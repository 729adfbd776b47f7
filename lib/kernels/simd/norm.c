/* Batch-normalisation and global-average-pooling kernels over vec.h, compiled
 * per ISA by lib/meson.build. Channels are contiguous, so each kernel walks
 * rows and takes VL channels per vector (one masked vector for the channel
 * tail). Every sum keeps the reference's order (per channel, rows in order
 * within blocks of PN_CHAN_BLOCK, mul then add), so all of these match the
 * reference bit for bit. */
#include "kernels/ref/ref.h"
#include "kernels/kernels.h"
#include "kernels/simd/vec.h"

/* Load / store VL channels at p, or the nc < VL of a tail under mask m. */
#define LD(p) (full ? vload(p) : vload_m((p), m))
#define ST(p, v)                   \
    do {                           \
        if (full)                  \
            vstore((p), (v));      \
        else                       \
            vstore_m((p), m, (v)); \
    } while (0)

/* Add the lanes of a float partial sum into nc double accumulators. */
PN_INLINE void add_lanes(double *dst, V v, int nc)
{
    float t[VL];
    vstore(t, v);
    for (int i = 0; i < nc; i++)
        dst[i] += t[i];
}

void PN_FN(chan_sums)(size_t rows, int32_t c, const float *x, const float *shift, double *s1, double *s2)
{
    for (int32_t c0 = 0; c0 < c; c0 += VL) {
        const int nc = pn_min_i(VL, c - c0), full = nc == VL;
        const VMASK m = vmask_n(nc);
        const V sh = shift ? LD(shift + c0) : vzero();
        for (size_t r0 = 0; r0 < rows; r0 += PN_CHAN_BLOCK) {
            const size_t r1 = r0 + PN_CHAN_BLOCK < rows ? r0 + PN_CHAN_BLOCK : rows;
            V a1 = vzero(), a2 = vzero();
            for (size_t r = r0; r < r1; r++) {
                const V d = vsub(LD(x + r * (size_t)c + (size_t)c0), sh);
                a1 = vadd(a1, d);
                a2 = vadd(a2, vmul(d, d));
            }
            add_lanes(s1 + c0, a1, nc);
            add_lanes(s2 + c0, a2, nc);
        }
    }
}

void PN_FN(chan_grad_sums)(size_t rows, int32_t c, const float *x, const float *dy, const float *mean,
                           double *s_dy, double *s_dyxc)
{
    for (int32_t c0 = 0; c0 < c; c0 += VL) {
        const int nc = pn_min_i(VL, c - c0), full = nc == VL;
        const VMASK m = vmask_n(nc);
        const V mu = LD(mean + c0);
        for (size_t r0 = 0; r0 < rows; r0 += PN_CHAN_BLOCK) {
            const size_t r1 = r0 + PN_CHAN_BLOCK < rows ? r0 + PN_CHAN_BLOCK : rows;
            V a1 = vzero(), a2 = vzero();
            for (size_t r = r0; r < r1; r++) {
                const size_t i = r * (size_t)c + (size_t)c0;
                const V g = LD(dy + i);
                a1 = vadd(a1, g);
                a2 = vadd(a2, vmul(g, vsub(LD(x + i), mu)));
            }
            add_lanes(s_dy + c0, a1, nc);
            add_lanes(s_dyxc + c0, a2, nc);
        }
    }
}

void PN_FN(chan_affine)(size_t rows, int32_t c, const float *x, const float *a, const float *b, float *y)
{
    for (int32_t c0 = 0; c0 < c; c0 += VL) {
        const int nc = pn_min_i(VL, c - c0), full = nc == VL;
        const VMASK m = vmask_n(nc);
        const V va = LD(a + c0), vb = LD(b + c0);
        for (size_t r = 0; r < rows; r++) {
            const size_t i = r * (size_t)c + (size_t)c0;
            ST(y + i, vadd(vmul(LD(x + i), va), vb));
        }
    }
}

void PN_FN(chan_affine2)(size_t rows, int32_t c, const float *dy, const float *x, const float *mean,
                         const float *a, const float *b, const float *d, float *dx)
{
    for (int32_t c0 = 0; c0 < c; c0 += VL) {
        const int nc = pn_min_i(VL, c - c0), full = nc == VL;
        const VMASK m = vmask_n(nc);
        const V va = LD(a + c0), vb = LD(b + c0), vd = LD(d + c0), mu = LD(mean + c0);
        for (size_t r = 0; r < rows; r++) {
            const size_t i = r * (size_t)c + (size_t)c0;
            ST(dx + i, vadd(vadd(vmul(LD(dy + i), va), vmul(vsub(LD(x + i), mu), vb)), vd));
        }
    }
}

void PN_FN(gap_fwd)(int32_t n, int32_t hw, int32_t c, const float *x, float *y)
{
    const V div = vset1((float)hw);
    for (int32_t s = 0; s < n; s++) {
        const float *xs = x + (size_t)s * (size_t)hw * (size_t)c;
        for (int32_t c0 = 0; c0 < c; c0 += VL) {
            const int nc = pn_min_i(VL, c - c0), full = nc == VL;
            const VMASK m = vmask_n(nc);
            V sum = vzero();
            for (int32_t p = 0; p < hw; p++)
                sum = vadd(sum, LD(xs + (size_t)p * (size_t)c + (size_t)c0));
            ST(y + (size_t)s * (size_t)c + (size_t)c0, vdiv(sum, div));
        }
    }
}

void PN_FN(gap_bwd)(int32_t n, int32_t hw, int32_t c, const float *dy, float *dx)
{
    const V div = vset1((float)hw);
    for (int32_t s = 0; s < n; s++)
        for (int32_t c0 = 0; c0 < c; c0 += VL) {
            const int nc = pn_min_i(VL, c - c0), full = nc == VL;
            const VMASK m = vmask_n(nc);
            const V g = vdiv(LD(dy + (size_t)s * (size_t)c + (size_t)c0), div);
            for (int32_t p = 0; p < hw; p++)
                ST(dx + ((size_t)s * (size_t)hw + (size_t)p) * (size_t)c + (size_t)c0, g);
        }
}
