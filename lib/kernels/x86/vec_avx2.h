/* The AVX2 + FMA3 vector layer for lib/kernels/simd/ (included by vec.h when
 * PN_SIMD_AVX2 is defined; the file is compiled with -mavx2 -mfma).
 * V: one vector of VL floats; VMASK: the lanes of a partial vector (from
 * vmask_n / vmask_all only); masked loads and stores never touch memory
 * outside the mask. Register blocking of the templates: PN_TILE_NV vectors x
 * PN_TILE_ACC pixels in conv_tile.h, PN_PBF_NV in conv_pool.c. */
#ifndef PN_KERNELS_X86_VEC_AVX2_H
#define PN_KERNELS_X86_VEC_AVX2_H

#include <immintrin.h>

#define PN_SFX avx2
#define VL 8
#define NREG 16
#define PN_TILE_NV 2   /* conv tile: 16 output channels */
#define PN_TILE_ACC 12 /* accumulator registers (of 16) */
#define PN_PBF_NV 1    /* pooled backward-filter: 9 accumulators */
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
/* a > b ? a : b, b when either is NaN and for equal values (MAXPS's
 * definition): vec.h's vmax_gt in one instruction */
#define PN_HAVE_VMAX_GT 1
PN_INLINE V vmax_gt(V a, V b) { return _mm256_max_ps(a, b); }
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
PN_INLINE V vtrunc(V v) { return _mm256_round_ps(v, _MM_FROUND_TO_ZERO | _MM_FROUND_NO_EXC); }
/* 2^n for integral n in [-126, 127] */
PN_INLINE V vpow2i(V n)
{
    const __m256i e = _mm256_add_epi32(_mm256_cvtps_epi32(n), _mm256_set1_epi32(127));
    return _mm256_castsi256_ps(_mm256_slli_epi32(e, 23));
}

/* Per-lane selection among four floats (the one-input-channel pooled
 * backward-filter): VIDX holds a 2-bit index per lane, vbcast4 puts p[0..3]
 * into every group of four lanes and vperm4 picks lane l's value c[i[l] & 3]
 * from its group. */
typedef __m256i VIDX;
PN_INLINE VIDX vload_idx_u8(const uint8_t *p, int n)
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
    return _mm256_cvtepu8_epi32(q);
}
PN_INLINE V vbcast4(const float *p) { return _mm256_broadcast_ps((const __m128 *)(const void *)p); }
PN_INLINE V vperm4(V c, VIDX i) { return _mm256_permutevar_ps(c, i); }

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
typedef __m256i VI;
PN_INLINE VI viload(const int32_t *p) { return _mm256_loadu_si256((const __m256i *)(const void *)p); }
PN_INLINE VI viset1(int32_t v) { return _mm256_set1_epi32(v); }
PN_INLINE VI viadd(VI a, VI b) { return _mm256_add_epi32(a, b); }
PN_INLINE VI vimul(VI a, VI b) { return _mm256_mullo_epi32(a, b); }
/* (hi, lo) += (shi, slo) as 64-bit integers: the carry of lo's unsigned add
 * is lo + slo < slo, compared signed after flipping the sign bits */
PN_INLINE void vpos_add(VI *hi, VI *lo, VI shi, VI slo)
{
    const __m256i sign = _mm256_set1_epi32((int32_t)0x80000000u);
    const __m256i s = _mm256_add_epi32(*lo, slo);
    const __m256i carry = _mm256_cmpgt_epi32(_mm256_xor_si256(slo, sign), _mm256_xor_si256(s, sign));
    *hi = _mm256_sub_epi32(_mm256_add_epi32(*hi, shi), carry);
    *lo = s;
}
/* the top 24 of lo's 32 fraction bits as a float in [0, 1) */
PN_INLINE V vfrac24(VI lo)
{
    return _mm256_mul_ps(_mm256_cvtepi32_ps(_mm256_srli_epi32(lo, 8)), _mm256_set1_ps(1.0f / 16777216.0f));
}
/* p00 = src[off], p01 = src[off + 1], p10 = src[off + stride], p11 =
 * src[off + stride + 1] per lane, as floats. Two 32-bit gathers: the top pair
 * from src + off (bytes 0, 1), the bottom pair from src + off + stride - 2
 * (bytes 2, 3), so with stride >= 2 no byte outside [off, off + stride + 1]
 * is read. */
PN_INLINE void vgather_quad(const uint8_t *src, int32_t stride, VI off, V *p00, V *p01, V *p10, V *p11)
{
    const __m256i m = _mm256_set1_epi32(0xff);
    const __m256i t = _mm256_i32gather_epi32((const int *)(const void *)src, off, 1);
    const __m256i b = _mm256_i32gather_epi32((const int *)(const void *)(src + stride - 2), off, 1);
    *p00 = _mm256_cvtepi32_ps(_mm256_and_si256(t, m));
    *p01 = _mm256_cvtepi32_ps(_mm256_and_si256(_mm256_srli_epi32(t, 8), m));
    *p10 = _mm256_cvtepi32_ps(_mm256_and_si256(_mm256_srli_epi32(b, 16), m));
    *p11 = _mm256_cvtepi32_ps(_mm256_srli_epi32(b, 24));
}
/* the lanes in reverse order */
PN_INLINE V vreverse(V v) { return _mm256_permutevar8x32_ps(v, _mm256_setr_epi32(7, 6, 5, 4, 3, 2, 1, 0)); }

#endif
