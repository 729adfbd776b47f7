/* A thin vector abstraction so one kernel source serves AVX2 and AVX-512.
 * Include after defining PN_SIMD_AVX512 or PN_SIMD_AVX2 (the per-ISA .c files
 * do this); the file is then compiled with that ISA's -m flags. Tail lanes are
 * handled with masked loads/stores, which never touch memory outside the mask. */
#ifndef PN_KERNELS_X86_SIMD_H
#define PN_KERNELS_X86_SIMD_H

#include <immintrin.h>
#include <stddef.h>
#include <stdint.h>

#include "kernels/kernels.h"

#define PN_CAT_(a, b) a##b
#define PN_CAT(a, b) PN_CAT_(a, b)
#define PN_INLINE static inline __attribute__((always_inline))
#define PN_NOINLINE static __attribute__((noinline))

#if defined(PN_SIMD_AVX512)

#define PN_SFX avx512
#define VL 16
#define NREG 32
typedef __m512 V;
typedef __mmask16 VMASK;

PN_INLINE V vzero(void) { return _mm512_setzero_ps(); }
PN_INLINE V vset1(float f) { return _mm512_set1_ps(f); }
PN_INLINE V vload(const float *p) { return _mm512_loadu_ps(p); }
PN_INLINE V vload_m(const float *p, VMASK m) { return _mm512_maskz_loadu_ps(m, p); }
PN_INLINE void vstore(float *p, V v) { _mm512_storeu_ps(p, v); }
PN_INLINE void vstore_m(float *p, VMASK m, V v) { _mm512_mask_storeu_ps(p, m, v); }
PN_INLINE V vbcast(const float *p) { return _mm512_set1_ps(*p); }
PN_INLINE V vfma(V a, V b, V c) { return _mm512_fmadd_ps(a, b, c); }
PN_INLINE V vfnma(V a, V b, V c) { return _mm512_fnmadd_ps(a, b, c); }
PN_INLINE V vadd(V a, V b) { return _mm512_add_ps(a, b); }
PN_INLINE V vsub(V a, V b) { return _mm512_sub_ps(a, b); }
PN_INLINE V vmul(V a, V b) { return _mm512_mul_ps(a, b); }
PN_INLINE V vdiv(V a, V b) { return _mm512_div_ps(a, b); }
PN_INLINE V vsqrt(V a) { return _mm512_sqrt_ps(a); }
/* a > b ? t : f (ordered: a NaN compares false) */
PN_INLINE V vsel_gt(V a, V b, V t, V f) { return _mm512_mask_blend_ps(_mm512_cmp_ps_mask(a, b, _CMP_GT_OQ), f, t); }
PN_INLINE V vsel_eq(V a, V b, V t, V f) { return _mm512_mask_blend_ps(_mm512_cmp_ps_mask(a, b, _CMP_EQ_OQ), f, t); }
/* Load n (<= VL) bytes as floats (lanes past n are 0); reads only n bytes. */
PN_INLINE V vload_u8(const uint8_t *p, int n)
{
    return _mm512_cvtepi32_ps(_mm512_cvtepu8_epi32(_mm_maskz_loadu_epi8((__mmask16)((1u << n) - 1u), p)));
}
/* Store the low n (<= VL) lanes, rounded to integers, as bytes. */
PN_INLINE void vstore_u8(uint8_t *p, int n, V v)
{
    _mm_mask_storeu_epi8(p, (__mmask16)((1u << n) - 1u), _mm512_cvtepi32_epi8(_mm512_cvtps_epi32(v)));
}
/* y > 0 ? v : 0 */
PN_INLINE V vsel_gt0(V y, V v) { return _mm512_maskz_mov_ps(_mm512_cmp_ps_mask(y, _mm512_setzero_ps(), _CMP_GT_OQ), v); }
PN_INLINE VMASK vmask_all(void) { return (VMASK)0xffff; }
PN_INLINE VMASK vmask_n(int n) { return (VMASK)((1u << n) - 1u); } /* 1 <= n <= VL */
PN_INLINE float vhsum(V v) { return _mm512_reduce_add_ps(v); }
PN_INLINE V vabs(V v) { return _mm512_abs_ps(v); }
PN_INLINE V vround(V v) { return _mm512_roundscale_ps(v, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC); }
/* 2^n for integral n in [-126, 127] */
PN_INLINE V vpow2i(V n)
{
    const __m512i e = _mm512_add_epi32(_mm512_cvtps_epi32(n), _mm512_set1_epi32(127));
    return _mm512_castsi512_ps(_mm512_slli_epi32(e, 23));
}

#elif defined(PN_SIMD_AVX2)

#define PN_SFX avx2
#define VL 8
#define NREG 16
typedef __m256 V;
typedef __m256i VMASK;

PN_INLINE V vzero(void) { return _mm256_setzero_ps(); }
PN_INLINE V vset1(float f) { return _mm256_set1_ps(f); }
PN_INLINE V vload(const float *p) { return _mm256_loadu_ps(p); }
PN_INLINE V vload_m(const float *p, VMASK m) { return _mm256_maskload_ps(p, m); }
PN_INLINE void vstore(float *p, V v) { _mm256_storeu_ps(p, v); }
PN_INLINE void vstore_m(float *p, VMASK m, V v) { _mm256_maskstore_ps(p, m, v); }
PN_INLINE V vbcast(const float *p) { return _mm256_broadcast_ss(p); }
PN_INLINE V vfma(V a, V b, V c) { return _mm256_fmadd_ps(a, b, c); }
PN_INLINE V vfnma(V a, V b, V c) { return _mm256_fnmadd_ps(a, b, c); }
PN_INLINE V vadd(V a, V b) { return _mm256_add_ps(a, b); }
PN_INLINE V vsub(V a, V b) { return _mm256_sub_ps(a, b); }
PN_INLINE V vmul(V a, V b) { return _mm256_mul_ps(a, b); }
PN_INLINE V vdiv(V a, V b) { return _mm256_div_ps(a, b); }
PN_INLINE V vsqrt(V a) { return _mm256_sqrt_ps(a); }
PN_INLINE V vsel_gt(V a, V b, V t, V f) { return _mm256_blendv_ps(f, t, _mm256_cmp_ps(a, b, _CMP_GT_OQ)); }
PN_INLINE V vsel_eq(V a, V b, V t, V f) { return _mm256_blendv_ps(f, t, _mm256_cmp_ps(a, b, _CMP_EQ_OQ)); }
PN_INLINE V vload_u8(const uint8_t *p, int n)
{
    __m128i q;
    if (n == 8) {
        q = _mm_loadl_epi64((const __m128i *)(const void *)p);
    } else {
        uint8_t tmp[16] = {0};
        for (int j = 0; j < n; j++)
            tmp[j] = p[j];
        q = _mm_loadu_si128((const __m128i *)(const void *)tmp);
    }
    return _mm256_cvtepi32_ps(_mm256_cvtepu8_epi32(q));
}
PN_INLINE void vstore_u8(uint8_t *p, int n, V v)
{
    const __m256i i32 = _mm256_cvtps_epi32(v);
    const __m256i b = _mm256_packus_epi16(_mm256_packs_epi32(i32, i32), _mm256_setzero_si256());
    const __m128i q = _mm_unpacklo_epi32(_mm256_castsi256_si128(b), _mm256_extracti128_si256(b, 1));
    if (n == 8) {
        _mm_storel_epi64((__m128i *)(void *)p, q);
    } else {
        uint8_t tmp[16];
        _mm_storeu_si128((__m128i *)(void *)tmp, q);
        for (int j = 0; j < n; j++)
            p[j] = tmp[j];
    }
}
PN_INLINE V vsel_gt0(V y, V v) { return _mm256_and_ps(_mm256_cmp_ps(y, _mm256_setzero_ps(), _CMP_GT_OQ), v); }
PN_INLINE VMASK vmask_all(void) { return _mm256_set1_epi32(-1); }
PN_INLINE VMASK vmask_n(int n)
{
    return _mm256_cmpgt_epi32(_mm256_set1_epi32(n), _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7));
}
PN_INLINE float vhsum(V v)
{
    __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
    s = _mm_add_ps(s, _mm_movehl_ps(s, s));
    s = _mm_add_ss(s, _mm_movehdup_ps(s));
    return _mm_cvtss_f32(s);
}
PN_INLINE V vabs(V v) { return _mm256_andnot_ps(_mm256_set1_ps(-0.0f), v); }
PN_INLINE V vround(V v) { return _mm256_round_ps(v, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC); }
/* 2^n for integral n in [-126, 127] */
PN_INLINE V vpow2i(V n)
{
    const __m256i e = _mm256_add_epi32(_mm256_cvtps_epi32(n), _mm256_set1_epi32(127));
    return _mm256_castsi256_ps(_mm256_slli_epi32(e, 23));
}

#else
#error "define PN_SIMD_AVX512 or PN_SIMD_AVX2 before including simd.h"
#endif

/* a > b ? a : b with the reference's NaN behaviour (b kept unless a > b). */
PN_INLINE V vmax_gt(V a, V b) { return vsel_gt(a, b, a, b); }

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
