/* The NEON (AArch64 Advanced SIMD, which always has FMA) vector layer for
 * lib/kernels/simd/ (included by vec.h when PN_SIMD_NEON is defined). 4 lanes
 * and 32 registers: the register blocking follows AVX-512's (the same number
 * of registers), with a quarter of the channels per vector. NEON has no masked
 * loads or stores: VMASK is the number of valid lanes and a partial vector
 * goes through a 4-float copy, so no memory outside the valid lanes is read
 * or written. Rounding (vround, vpow2i, vstore_u8) is to nearest even, as
 * the x86 headers' defaults. */
#ifndef PN_KERNELS_ARM_VEC_NEON_H
#define PN_KERNELS_ARM_VEC_NEON_H

#include <arm_neon.h>

#define PN_SFX neon
#define VL 4
#define NREG 32
#define PN_TILE_NV 4   /* conv tile: 16 output channels */
#define PN_TILE_ACC 24 /* accumulator registers (of 32) */
#define PN_PBF_NV 2    /* pooled backward-filter: 2 x 9 accumulators */
typedef float32x4_t V;
typedef int VMASK; /* valid lanes, 1..4 */

PN_INLINE V vzero(void) { return vdupq_n_f32(0.0f); }
PN_INLINE V vset1(float f) { return vdupq_n_f32(f); }
PN_INLINE V vload(const float *p) { return vld1q_f32(p); }
PN_INLINE V vload_m(const float *p, VMASK m)
{
    float t[4] = {0.0f, 0.0f, 0.0f, 0.0f};
    if (m == 4)
        return vld1q_f32(p);
    for (int j = 0; j < m; j++)
        t[j] = p[j];
    return vld1q_f32(t);
}
PN_INLINE void vstore(float *p, V v) { vst1q_f32(p, v); }
PN_INLINE void vstore_m(float *p, VMASK m, V v)
{
    float t[4];
    if (m == 4) {
        vst1q_f32(p, v);
        return;
    }
    vst1q_f32(t, v);
    for (int j = 0; j < m; j++)
        p[j] = t[j];
}
PN_INLINE V vbcast(const float *p) { return vld1q_dup_f32(p); }
/* a b + c and c - a b, fused (one rounding), as FMA3's vfmadd / vfnmadd */
PN_INLINE V vfma(V a, V b, V c) { return vfmaq_f32(c, a, b); }
PN_INLINE V vfnma(V a, V b, V c) { return vfmsq_f32(c, a, b); }
PN_INLINE V vadd(V a, V b) { return vaddq_f32(a, b); }
PN_INLINE V vsub(V a, V b) { return vsubq_f32(a, b); }
PN_INLINE V vmul(V a, V b) { return vmulq_f32(a, b); }
PN_INLINE V vdiv(V a, V b) { return vdivq_f32(a, b); }
PN_INLINE V vsqrt(V a) { return vsqrtq_f32(a); }
/* a > b ? t : f (ordered: a NaN compares false) */
PN_INLINE V vsel_gt(V a, V b, V t, V f) { return vbslq_f32(vcgtq_f32(a, b), t, f); }
PN_INLINE V vsel_eq(V a, V b, V t, V f) { return vbslq_f32(vceqq_f32(a, b), t, f); }
/* Load n (<= VL) bytes as floats (lanes past n are 0); reads only n bytes. */
PN_INLINE V vload_u8(const uint8_t *p, int n)
{
    uint32_t t[4] = {0, 0, 0, 0};
    for (int j = 0; j < n; j++)
        t[j] = p[j];
    return vcvtq_f32_u32(vld1q_u32(t));
}
/* Store the low n (<= VL) lanes, rounded to integers, as bytes. */
PN_INLINE void vstore_u8(uint8_t *p, int n, V v)
{
    uint32_t t[4];
    vst1q_u32(t, vreinterpretq_u32_s32(vcvtnq_s32_f32(v)));
    for (int j = 0; j < n; j++)
        p[j] = (uint8_t)t[j];
}
/* y > 0 ? v : 0 */
PN_INLINE V vsel_gt0(V y, V v)
{
    return vreinterpretq_f32_u32(vandq_u32(vcgtq_f32(y, vdupq_n_f32(0.0f)), vreinterpretq_u32_f32(v)));
}
PN_INLINE VMASK vmask_all(void) { return 4; }
PN_INLINE VMASK vmask_n(int n) { return n; } /* 1 <= n <= VL */
PN_INLINE float vhsum(V v) { return vaddvq_f32(v); }
PN_INLINE V vabs(V v) { return vabsq_f32(v); }
PN_INLINE V vround(V v) { return vrndnq_f32(v); }
PN_INLINE V vtrunc(V v) { return vrndq_f32(v); }
/* 2^n for integral n in [-126, 127] */
PN_INLINE V vpow2i(V n)
{
    const int32x4_t e = vaddq_s32(vcvtnq_s32_f32(n), vdupq_n_s32(127));
    return vreinterpretq_f32_s32(vshlq_n_s32(e, 23));
}

/* Per-lane selection among four floats (the one-input-channel pooled
 * backward-filter): VIDX holds a 2-bit index per lane, vbcast4 loads p[0..3]
 * (one group of four lanes: the whole vector) and vperm4 picks lane l's value
 * c[i[l] & 3] by a byte table lookup. */
typedef uint32x4_t VIDX;
PN_INLINE VIDX vload_idx_u8(const uint8_t *p, int n)
{
    uint32_t t[4] = {0, 0, 0, 0};
    for (int j = 0; j < n; j++)
        t[j] = p[j];
    return vld1q_u32(t);
}
PN_INLINE V vbcast4(const float *p) { return vld1q_f32(p); }
PN_INLINE V vperm4(V c, VIDX i)
{
    const uint32x4_t q = vandq_u32(i, vdupq_n_u32(3u));
    const uint8x16_t idx = vreinterpretq_u8_u32(vmlaq_n_u32(vdupq_n_u32(0x03020100u), q, 0x04040404u));
    return vreinterpretq_f32_u8(vqtbl1q_u8(vreinterpretq_u8_f32(c), idx));
}

/* dst[4 p .. 4 p + 3] = r0[2 p], r0[2 p + 1], r1[2 p], r1[2 p + 1] for p < np:
 * pairs of two rows interleaved, 64 bits at a time */
PN_INLINE void vpairs2(float *dst, const float *r0, const float *r1, int np)
{
    int p = 0;
    for (; p + 2 <= np; p += 2) {
        const float64x2_t a = vreinterpretq_f64_f32(vld1q_f32(r0 + 2 * p));
        const float64x2_t b = vreinterpretq_f64_f32(vld1q_f32(r1 + 2 * p));
        vst1q_f32(dst + 4 * p, vreinterpretq_f32_f64(vzip1q_f64(a, b)));
        vst1q_f32(dst + 4 * p + 4, vreinterpretq_f32_f64(vzip2q_f64(a, b)));
    }
    for (; p < np; p++) {
        dst[4 * p] = r0[2 * p];
        dst[4 * p + 1] = r0[2 * p + 1];
        dst[4 * p + 2] = r1[2 * p];
        dst[4 * p + 3] = r1[2 * p + 1];
    }
}

/* The bilinear warp (simd/warp.c): VI holds VL 32-bit integers; a 32.32
 * fixed-point position per lane is a pair of VI, hi (the integer part) and lo
 * (the fraction bits, unsigned). */
typedef int32x4_t VI;
PN_INLINE VI viload(const int32_t *p) { return vld1q_s32(p); }
PN_INLINE VI viset1(int32_t v) { return vdupq_n_s32(v); }
PN_INLINE VI viadd(VI a, VI b) { return vaddq_s32(a, b); }
PN_INLINE VI vimul(VI a, VI b) { return vmulq_s32(a, b); }
/* (hi, lo) += (shi, slo) as 64-bit integers (carry: lo + slo < slo unsigned,
 * an all-ones lane, i.e. -1, subtracted) */
PN_INLINE void vpos_add(VI *hi, VI *lo, VI shi, VI slo)
{
    const uint32x4_t s = vaddq_u32(vreinterpretq_u32_s32(*lo), vreinterpretq_u32_s32(slo));
    const uint32x4_t carry = vcltq_u32(s, vreinterpretq_u32_s32(slo));
    *hi = vsubq_s32(vaddq_s32(*hi, shi), vreinterpretq_s32_u32(carry));
    *lo = vreinterpretq_s32_u32(s);
}
/* the top 24 of lo's 32 fraction bits as a float in [0, 1) */
PN_INLINE V vfrac24(VI lo)
{
    const uint32x4_t f = vshrq_n_u32(vreinterpretq_u32_s32(lo), 8);
    return vmulq_f32(vcvtq_f32_s32(vreinterpretq_s32_u32(f)), vdupq_n_f32(1.0f / 16777216.0f));
}
/* p00..p11 = src[off], src[off + 1], src[off + stride], src[off + stride + 1]
 * per lane, as floats (NEON has no gather: four lanes of byte loads) */
PN_INLINE void vgather_quad(const uint8_t *src, int32_t stride, VI off, V *p00, V *p01, V *p10, V *p11)
{
    int32_t o[4];
    float a[4], b[4], c[4], d[4];
    vst1q_s32(o, off);
    for (int l = 0; l < 4; l++) {
        const uint8_t *p = src + o[l];
        a[l] = p[0];
        b[l] = p[1];
        c[l] = p[stride];
        d[l] = p[stride + 1];
    }
    *p00 = vld1q_f32(a);
    *p01 = vld1q_f32(b);
    *p10 = vld1q_f32(c);
    *p11 = vld1q_f32(d);
}
/* the lanes in reverse order */
PN_INLINE V vreverse(V v)
{
    const V r = vrev64q_f32(v);
    return vextq_f32(r, r, 2);
}

#endif
