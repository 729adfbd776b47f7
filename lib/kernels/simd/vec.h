/* The vector layer the SIMD kernel templates (the .c files of lib/kernels/simd/) are
 * written over, so one source serves AVX2, AVX-512 and NEON. lib/meson.build
 * compiles each template once per ISA with -DPN_SIMD_<ISA> and that ISA's
 * flags; the ISA's header (x86/vec_avx2.h, x86/vec_avx512.h, arm/vec_neon.h,
 * the only places intrinsics appear) defines V, VMASK, VL, NREG, PN_SFX, the
 * primitive operations and the register blocking. Built on those, this file
 * adds exp/log1p/sigmoid/tanh and the op__isa naming. */
#ifndef PN_KERNELS_SIMD_VEC_H
#define PN_KERNELS_SIMD_VEC_H

#include <stddef.h>
#include <stdint.h>

#include "kernels/kernels.h"

#define PN_CAT_(a, b) a##b
#define PN_CAT(a, b) PN_CAT_(a, b)
#define PN_INLINE static inline __attribute__((always_inline))
#define PN_NOINLINE static __attribute__((noinline))

#if defined(PN_SIMD_AVX512)
#include "kernels/x86/vec_avx512.h"
#elif defined(PN_SIMD_AVX2)
#include "kernels/x86/vec_avx2.h"
#elif defined(PN_SIMD_NEON)
#include "kernels/arm/vec_neon.h"
#else
#error "define PN_SIMD_AVX512, PN_SIMD_AVX2 or PN_SIMD_NEON (lib/meson.build does)"
#endif

/* a > b ? a : b with the reference's NaN behaviour (b kept unless a > b); an
 * ISA header whose max instruction means exactly that defines its own. */
#if !defined(PN_HAVE_VMAX_GT)
PN_INLINE V vmax_gt(V a, V b) { return vsel_gt(a, b, a, b); }
#endif

/* The first maximum of a 2x2 window (q0..q3 in window order) and, through
 * *at, its offset 0..3 as floats: strict '>' keeps the first maximum, as the
 * reference maxpool does (and TF). */
PN_INLINE V vmax4_first(V q0, V q1, V q2, V q3, V *at)
{
    V best = q0, a = vzero();
    a = vsel_gt(q1, best, vset1(1.0f), a);
    best = vmax_gt(q1, best);
    a = vsel_gt(q2, best, vset1(2.0f), a);
    best = vmax_gt(q2, best);
    a = vsel_gt(q3, best, vset1(3.0f), a);
    best = vmax_gt(q3, best);
    *at = a;
    return best;
}

/* e^x for x <= 0 (Cephes' expf: x = n ln2 + r with ln2 split in two, a
 * degree-6 polynomial in r; within 2 ulp of expf); 0 below -87.3, where expf
 * is subnormal. */
PN_INLINE V vexp_nonpos(V x)
{
    const V lo = vset1(-87.33654f);
    const V xc = vmax_gt(x, lo);
    const V n = vround(vmul(xc, vset1(1.44269504088896341f)));
    V r = vfnma(n, vset1(0.693359375f), xc), p;
    r = vfnma(n, vset1(-2.12194440e-4f), r);
    p = vfma(vset1(1.9875691500e-4f), r, vset1(1.3981999507e-3f));
    p = vfma(p, r, vset1(8.3334519073e-3f));
    p = vfma(p, r, vset1(4.1665795894e-2f));
    p = vfma(p, r, vset1(1.6666665459e-1f));
    p = vfma(p, r, vset1(5.0000001201e-1f));
    p = vadd(vfma(p, vmul(r, r), r), vset1(1.0f));
    return vsel_gt(lo, x, vzero(), vmul(p, vpow2i(n)));
}

/* log(1 + t) for 0 <= t <= 1 (Cephes' logf on u = 1 + t, then the
 * log(u) t / (u - 1) correction for the rounding of u) */
PN_INLINE V vlog1p_unit(V t)
{
    const V one = vset1(1.0f), u = vadd(one, t), d = vsub(u, one);
    const V big = vsel_gt(u, vset1(1.41421356f), one, vzero()); /* e: 1 or 0 */
    const V x = vsub(vfnma(vmul(big, vset1(0.5f)), u, u), one); /* u / 2^e - 1 */
    const V z = vmul(x, x);
    V y = vfma(vset1(7.0376836292e-2f), x, vset1(-1.1514610310e-1f)), lg;
    y = vfma(y, x, vset1(1.1676998740e-1f));
    y = vfma(y, x, vset1(-1.2420140846e-1f));
    y = vfma(y, x, vset1(1.4249322787e-1f));
    y = vfma(y, x, vset1(-1.6668057665e-1f));
    y = vfma(y, x, vset1(2.0000714765e-1f));
    y = vfma(y, x, vset1(-2.4999993993e-1f));
    y = vfma(y, x, vset1(3.3333331174e-1f));
    y = vmul(vmul(y, x), z);
    y = vfma(big, vset1(-2.12194440e-4f), y);
    y = vfnma(vset1(0.5f), z, y);
    lg = vfma(big, vset1(0.693359375f), vadd(x, y));
    return vsel_eq(d, vzero(), t, vmul(lg, vdiv(t, d)));
}

/* The reference's stable sigmoid: 1 / (1 + e^-z) for z >= 0, e^z / (1 + e^z) below */
PN_INLINE V vsigmoid(V z)
{
    const V e = vexp_nonpos(vsub(vzero(), vabs(z))), den = vadd(vset1(1.0f), e);
    return vsel_gt(vzero(), z, vdiv(e, den), vdiv(vset1(1.0f), den));
}

/* tanh: Cephes' tanhf (an odd polynomial below |x| = 0.625, (1 - t) / (1 + t)
 * with t = e^-2|x| above) */
PN_INLINE V vtanh(V x)
{
    const V ax = vabs(x), z = vmul(x, x);
    const V t = vexp_nonpos(vmul(vset1(-2.0f), ax));
    const V big = vdiv(vsub(vset1(1.0f), t), vadd(vset1(1.0f), t));
    V p = vfma(vset1(-5.70498872745e-3f), z, vset1(2.06390887954e-2f));
    p = vfma(p, z, vset1(-5.37397155531e-2f));
    p = vfma(p, z, vset1(1.33314422036e-1f));
    p = vfma(p, z, vset1(-3.33332819422e-1f));
    p = vfma(vmul(p, z), x, x);
    return vsel_gt(vset1(0.625f), ax, p, vsel_gt(vzero(), x, vsub(vzero(), big), big));
}

/* this tier's prototypes, pn_f32_<op>__<PN_SFX> */
PN_KERNEL_PROTOS(PN_SFX)

#define PN_FN(op) PN_CAT(PN_CAT(pn_f32_, op), PN_CAT(__, PN_SFX))

static inline int pn_min_i(int a, int b) { return a < b ? a : b; }
static inline int pn_max_i(int a, int b) { return a > b ? a : b; }

#endif
