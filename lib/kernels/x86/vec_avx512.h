/* The AVX-512 (F/BW/VL/DQ) vector layer for lib/kernels/simd/ (included by vec.h when
 * PN_SIMD_AVX512 is defined; the file is compiled with -mavx512f -mavx512bw -mavx512vl -mavx512dq).
 * V: one vector of VL floats; VMASK: the lanes of a partial vector (from
 * vmask_n / vmask_all only); masked loads and stores never touch memory
 * outside the mask. Register blocking of the templates: PN_TILE_NV vectors x
 * PN_TILE_ACC pixels in conv_tile.h, PN_PBF_NV in conv_pool.c. */
#ifndef PN_KERNELS_X86_VEC_AVX512_H
#define PN_KERNELS_X86_VEC_AVX512_H

#include <immintrin.h>

#define PN_SFX avx512
#define VL 16
#define NREG 32
#define PN_TILE_NV 4   /* conv tile: 64 output channels */
#define PN_TILE_ACC 24 /* accumulator registers (of 32) */
#define PN_PBF_NV 2    /* pooled backward-filter: 2 x 9 accumulators */
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
PN_INLINE V vsel_gt(V a, V b, V t, V f)
{
    return _mm512_mask_blend_ps(_mm512_cmp_ps_mask(a, b, _CMP_GT_OQ), f, t);
}
/* a > b ? a : b, b when either is NaN and for equal values (MAXPS's
 * definition): vec.h's vmax_gt in one instruction */
#define PN_HAVE_VMAX_GT 1
PN_INLINE V vmax_gt(V a, V b) { return _mm512_max_ps(a, b); }
PN_INLINE V vsel_eq(V a, V b, V t, V f)
{
    return _mm512_mask_blend_ps(_mm512_cmp_ps_mask(a, b, _CMP_EQ_OQ), f, t);
}
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
PN_INLINE V vsel_gt0(V y, V v)
{
    return _mm512_maskz_mov_ps(_mm512_cmp_ps_mask(y, _mm512_setzero_ps(), _CMP_GT_OQ), v);
}
PN_INLINE VMASK vmask_all(void) { return (VMASK)0xffff; }
PN_INLINE VMASK vmask_n(int n) { return (VMASK)((1u << n) - 1u); } /* 1 <= n <= VL */
PN_INLINE float vhsum(V v) { return _mm512_reduce_add_ps(v); }
PN_INLINE V vabs(V v) { return _mm512_abs_ps(v); }
PN_INLINE V vround(V v) { return _mm512_roundscale_ps(v, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC); }
PN_INLINE V vtrunc(V v) { return _mm512_roundscale_ps(v, _MM_FROUND_TO_ZERO | _MM_FROUND_NO_EXC); }
/* 2^n for integral n in [-126, 127] */
PN_INLINE V vpow2i(V n)
{
    const __m512i e = _mm512_add_epi32(_mm512_cvtps_epi32(n), _mm512_set1_epi32(127));
    return _mm512_castsi512_ps(_mm512_slli_epi32(e, 23));
}


/* The channels co (of oc, from *co on, 16 at a time) with a non-zero
 * gradient g, appended to list[q] by the window position q = am & 3 of their
 * maximum; *co ends at the first channel not handled. */
#define PN_HAVE_VPOOL_LISTS 1
PN_INLINE void vpool_lists(const float *g, const uint8_t *am, int oc, int (*list)[PN_POOL2_MAX_OC], int *cnt,
                           int *co_io)
{
    int co = *co_io;
    const __m512i iota = _mm512_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15);
    for (; co + 16 <= oc; co += 16) {
        const __mmask16 nz = _mm512_cmp_ps_mask(_mm512_loadu_ps(g + co), _mm512_setzero_ps(), _CMP_NEQ_UQ);
        const __m512i q = _mm512_and_si512(_mm512_cvtepu8_epi32(
                                               _mm_loadu_si128((const __m128i *)(const void *)(am + co))),
                                           _mm512_set1_epi32(3));
        const __m512i idx = _mm512_add_epi32(iota, _mm512_set1_epi32(co));
        for (int k = 0; k < 4; k++) {
            const __mmask16 m = _mm512_mask_cmpeq_epi32_mask(nz, q, _mm512_set1_epi32(k));
            _mm512_mask_compressstoreu_epi32(list[k] + cnt[k], m, idx);
            cnt[k] += __builtin_popcount((unsigned)m);
        }
    }
    *co_io = co;
}

/* Per-lane selection among four floats (the one-input-channel pooled
 * backward-filter): VIDX holds a 2-bit index per lane, vbcast4 puts p[0..3]
 * into every group of four lanes and vperm4 picks lane l's value c[i[l] & 3]
 * from its group. */
typedef __m512i VIDX;
PN_INLINE VIDX vload_idx_u8(const uint8_t *p, int n)
{
    return _mm512_cvtepu8_epi32(_mm_maskz_loadu_epi8((__mmask16)((1u << n) - 1u), p));
}
PN_INLINE V vbcast4(const float *p) { return _mm512_broadcast_f32x4(_mm_loadu_ps(p)); }
PN_INLINE V vperm4(V c, VIDX i) { return _mm512_permutevar_ps(c, i); }

/* dst[4 p .. 4 p + 3] = r0[2 p], r0[2 p + 1], r1[2 p], r1[2 p + 1] for p < np:
 * pairs of two rows interleaved, 64 bits at a time */
PN_INLINE void vpairs2(float *dst, const float *r0, const float *r1, int np)
{
    int p = 0;
    for (; p + 4 <= np; p += 4) {
        const __m256d a = _mm256_castps_pd(_mm256_loadu_ps(r0 + 2 * p));
        const __m256d b = _mm256_castps_pd(_mm256_loadu_ps(r1 + 2 * p));
        const __m256d lo = _mm256_unpacklo_pd(a, b), hi = _mm256_unpackhi_pd(a, b);
        _mm256_storeu_pd((double *)(void *)(dst + 4 * p), _mm256_permute2f128_pd(lo, hi, 0x20));
        _mm256_storeu_pd((double *)(void *)(dst + 4 * p + 8), _mm256_permute2f128_pd(lo, hi, 0x31));
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
typedef __m512i VI;
PN_INLINE VI viload(const int32_t *p) { return _mm512_loadu_si512((const void *)p); }
PN_INLINE VI viset1(int32_t v) { return _mm512_set1_epi32(v); }
PN_INLINE VI viadd(VI a, VI b) { return _mm512_add_epi32(a, b); }
PN_INLINE VI vimul(VI a, VI b) { return _mm512_mullo_epi32(a, b); }
/* (hi, lo) += (shi, slo) as 64-bit integers (carry: lo + slo < slo unsigned) */
PN_INLINE void vpos_add(VI *hi, VI *lo, VI shi, VI slo)
{
    const __m512i s = _mm512_add_epi32(*lo, slo);
    const __mmask16 carry = _mm512_cmplt_epu32_mask(s, slo);
    const __m512i h = _mm512_add_epi32(*hi, shi);
    *hi = _mm512_mask_add_epi32(h, carry, h, _mm512_set1_epi32(1));
    *lo = s;
}
/* the top 24 of lo's 32 fraction bits as a float in [0, 1) */
PN_INLINE V vfrac24(VI lo)
{
    return _mm512_mul_ps(_mm512_cvtepi32_ps(_mm512_srli_epi32(lo, 8)), _mm512_set1_ps(1.0f / 16777216.0f));
}
/* p00..p11 = src[off], src[off + 1], src[off + stride], src[off + stride + 1]
 * per lane, as floats: two 32-bit gathers, the top pair from src + off (bytes
 * 0, 1), the bottom pair from src + off + stride - 2 (bytes 2, 3), so with
 * stride >= 2 no byte outside [off, off + stride + 1] is read. */
PN_INLINE void vgather_quad(const uint8_t *src, int32_t stride, VI off, V *p00, V *p01, V *p10, V *p11)
{
    const __m512i m = _mm512_set1_epi32(0xff);
    const __m512i t = _mm512_i32gather_epi32(off, (const void *)src, 1);
    const __m512i b = _mm512_i32gather_epi32(off, (const void *)(src + stride - 2), 1);
    *p00 = _mm512_cvtepi32_ps(_mm512_and_si512(t, m));
    *p01 = _mm512_cvtepi32_ps(_mm512_and_si512(_mm512_srli_epi32(t, 8), m));
    *p10 = _mm512_cvtepi32_ps(_mm512_and_si512(_mm512_srli_epi32(b, 16), m));
    *p11 = _mm512_cvtepi32_ps(_mm512_srli_epi32(b, 24));
}
/* the lanes in reverse order */
PN_INLINE V vreverse(V v)
{
    return _mm512_permutexvar_ps(_mm512_setr_epi32(15, 14, 13, 12, 11, 10, 9, 8, 7, 6, 5, 4, 3, 2, 1, 0), v);
}

#endif
