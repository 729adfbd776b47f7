/* pneumo-bench: FP32 FMA peak of one core (examples/meson.build builds this
 * file twice on x86_64: with -DBENCH_PEAK_AVX512 -mavx512f -mfma and with
 * -DBENCH_PEAK_AVX2 -mavx2 -mfma). Independent FMA chains, enough of them to
 * cover the FMA latency (4 cycles) times the number of FMA ports (2), so the
 * loop is bound by FMA throughput only. The caller checks the CPU supports the
 * instructions before calling (bench_model.c). */
#include "bench_model.h"

#if defined(__x86_64__) && (defined(BENCH_PEAK_AVX512) || defined(BENCH_PEAK_AVX2))
#include <immintrin.h>

#if defined(BENCH_PEAK_AVX512)
#define VEC __m512
#define LANES 16
#define SET1 _mm512_set1_ps
#define FMA _mm512_fmadd_ps
#define ADD _mm512_add_ps
#define STORE _mm512_storeu_ps
#define FN bench_peak_fma_avx512
#else
#define VEC __m256
#define LANES 8
#define SET1 _mm256_set1_ps
#define FMA _mm256_fmadd_ps
#define ADD _mm256_add_ps
#define STORE _mm256_storeu_ps
#define FN bench_peak_fma_avx2
#endif

/* 12 chains x LANES lanes x 2 flops per iteration; returns the flops done. A
 * multiplier just below 1 and a small addend keep values finite and normal. */
double FN(long iters, float seed)
{
    VEC a0 = SET1(seed), a1 = SET1(seed + 0.1f), a2 = SET1(seed + 0.2f), a3 = SET1(seed + 0.3f);
    VEC a4 = SET1(seed + 0.4f), a5 = SET1(seed + 0.5f), a6 = SET1(seed + 0.6f);
    VEC a7 = SET1(seed + 0.7f), a8 = SET1(seed + 0.8f), a9 = SET1(seed + 0.9f);
    VEC a10 = SET1(seed + 1.0f), a11 = SET1(seed + 1.1f);
    const VEC mul = SET1(0.999999f), add = SET1(1e-6f);
    float out[LANES];
    volatile float sink;
    for (long i = 0; i < iters; i++) {
        a0 = FMA(a0, mul, add);
        a1 = FMA(a1, mul, add);
        a2 = FMA(a2, mul, add);
        a3 = FMA(a3, mul, add);
        a4 = FMA(a4, mul, add);
        a5 = FMA(a5, mul, add);
        a6 = FMA(a6, mul, add);
        a7 = FMA(a7, mul, add);
        a8 = FMA(a8, mul, add);
        a9 = FMA(a9, mul, add);
        a10 = FMA(a10, mul, add);
        a11 = FMA(a11, mul, add);
    }
    a0 = ADD(ADD(ADD(a0, a1), ADD(a2, a3)), ADD(ADD(a4, a5), ADD(a6, a7)));
    a0 = ADD(a0, ADD(ADD(a8, a9), ADD(a10, a11)));
    STORE(out, a0);
    sink = out[0];
    (void)sink;
    return (double)iters * 12.0 * LANES * 2.0;
}
#else
/* Not x86_64 (or built without the ISA define): nothing to compile here. */
typedef int bench_peak_empty;
#endif
