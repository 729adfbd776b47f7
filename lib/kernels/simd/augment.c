/* The augmentation's bilinear row warp (kernels.h, warp_bilinear_row), VL
 * output pixels per step. Each lane carries its 32.32 position as two 32-bit
 * halves advanced by an exact 64-bit add (vpos_add), its four neighbours come
 * from two 32-bit gathers of byte pairs (vgather_quad; byte loads on NEON),
 * and the interpolation repeats the reference's float operations one by one
 * (no fused multiply-add), so every tier gives the reference's bits. Rows
 * shorter than a vector, the last n % VL samples and images whose byte offsets
 * would not fit 32 bits take the reference. */
#include "kernels/ref/ref.h"
#include "kernels/simd/vec.h"

/* The high and low 32 bits of a 64-bit value, as the lanes hold them. */
static inline int32_t pn_hi32(int64_t v) { return (int32_t)(uint32_t)((uint64_t)v >> 32); }
static inline int32_t pn_lo32(int64_t v) { return (int32_t)(uint32_t)(uint64_t)v; }

void PN_FN(warp_bilinear_row)(const uint8_t *src, int32_t stride, int64_t y, int64_t x, int64_t dy,
                              int64_t dx, int32_t n, float scale, float *o, int32_t step)
{
    int32_t yh[VL], yl[VL], xh[VL], xl[VL];
    int32_t c = 0;

    if (n >= VL && pn_warp_fits_i32(stride, y, x, dy, dx, n)) {
        for (int l = 0; l < VL; l++) {
            yh[l] = pn_hi32(y + dy * l);
            yl[l] = pn_lo32(y + dy * l);
            xh[l] = pn_hi32(x + dx * l);
            xl[l] = pn_lo32(x + dx * l);
        }
        VI ph = viload(yh), pl = viload(yl), qh = viload(xh), ql = viload(xl);
        const VI syh = viset1(pn_hi32(dy * VL)), syl = viset1(pn_lo32(dy * VL));
        const VI sxh = viset1(pn_hi32(dx * VL)), sxl = viset1(pn_lo32(dx * VL));
        const VI vs = viset1(stride);
        const V sc = vset1(scale);
        for (; c + VL <= n; c += VL) {
            V p00, p01, p10, p11;
            vgather_quad(src, stride, viadd(vimul(ph, vs), qh), &p00, &p01, &p10, &p11);
            const V fy = vfrac24(pl), fx = vfrac24(ql);
            const V top = vadd(p00, vmul(fx, vsub(p01, p00)));
            const V bot = vadd(p10, vmul(fx, vsub(p11, p10)));
            const V r = vmul(vadd(top, vmul(fy, vsub(bot, top))), sc);
            if (step > 0)
                vstore(o + c, r);
            else
                vstore(o - c - (VL - 1), vreverse(r));
            vpos_add(&ph, &pl, syh, syl);
            vpos_add(&qh, &ql, sxh, sxl);
        }
    }
    if (c < n)
        pn_f32_warp_bilinear_row__ref(src, stride, y + dy * c, x + dx * c, dy, dx, n - c, scale,
                                      o + (ptrdiff_t)c * step, step);
}

/* Brightness: the minimum and maximum in vectors (exact in any order for the
 * finite values the op takes), then the per-value arithmetic of the reference
 * with truncations as vtrunc, a masked vector for the tail. */
void PN_FN(pil_brightness)(size_t n, float *x, float factor, int32_t stretch, float rs)
{
    if (n < VL) {
        pn_f32_pil_brightness__ref(n, x, factor, stretch, rs);
        return;
    }
    V vmn = vload(x), vmx = vmn;
    size_t i = VL;
    for (; i + VL <= n; i += VL) {
        const V v = vload(x + i);
        vmn = vsel_gt(vmn, v, v, vmn);
        vmx = vmax_gt(v, vmx);
    }
    float lo[VL], hi[VL];
    vstore(lo, vmn);
    vstore(hi, vmx);
    float mn = lo[0], mx = hi[0];
    for (int l = 1; l < VL; l++) {
        mn = lo[l] < mn ? lo[l] : mn;
        mx = hi[l] > mx ? hi[l] : mx;
    }
    for (; i < n; i++) {
        mn = x[i] < mn ? x[i] : mn;
        mx = x[i] > mx ? x[i] : mx;
    }
    const int local_scale = mn < 0.0f || mx > 255.0f;
    const int do_stretch = stretch || local_scale, unstretch = !stretch && local_scale;
    const float range = mx - mn;
    const V zero = vzero(), k255 = vset1(255.0f), vf = vset1(factor), vr = vset1(rs);
    const V vlo = vset1(mn), vrange = vset1(range);

    for (i = 0; i < n; i += VL) {
        const int full = i + VL <= n;
        const VMASK m = full ? vmask_all() : vmask_n((int)(n - i));
        V v = full ? vload(x + i) : vload_m(x + i, m);
        if (do_stretch) {
            v = vsub(v, vlo);
            if (range != 0.0f)
                v = vdiv(v, vrange);
            v = vmul(v, k255);
        }
        /* 0 for v <= 0, 255 for v >= 255, else truncated */
        const V u = vsel_gt(k255, v, vsel_gt(v, zero, vtrunc(v), zero), k255);
        const V t = vmul(vf, u);
        V y = vsel_gt(k255, t, vtrunc(t), k255);
        if (unstretch)
            y = vadd(vmul(vdiv(y, k255), vrange), vlo);
        y = vmul(y, vr);
        if (full)
            vstore(x + i, y);
        else
            vstore_m(x + i, m, y);
    }
}
