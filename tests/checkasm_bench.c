/* checkasm --bench: per-kernel timings at the article's layer shapes. */
#include "checkasm.h"

#if defined(__x86_64__)
#include <immintrin.h>
#endif

/* ------------------------------------------------------------------ bench */

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
/* Single-core FP32 FMA peak: 16 independent chains of 16-lane FMAs. */
__attribute__((target("avx512f"), noinline)) static double fma_peak_avx512(long iters)
{
    __m512 a[16];
    const __m512 m = _mm512_set1_ps(0.999999f), c = _mm512_set1_ps(1e-7f);
    float sink = 0.0f;
    for (int i = 0; i < 16; i++)
        a[i] = _mm512_set1_ps((float)i);
    for (long it = 0; it < iters; it++)
        for (int i = 0; i < 16; i++)
            a[i] = _mm512_fmadd_ps(a[i], m, c);
    for (int i = 0; i < 16; i++)
        sink += _mm512_reduce_add_ps(a[i]);
    return (double)sink;
}

__attribute__((target("avx2,fma"), noinline)) static double fma_peak_avx2(long iters)
{
    __m256 a[12];
    const __m256 m = _mm256_set1_ps(0.999999f), c = _mm256_set1_ps(1e-7f);
    float tmp[8], sink = 0.0f;
    for (int i = 0; i < 12; i++)
        a[i] = _mm256_set1_ps((float)i);
    for (long it = 0; it < iters; it++)
        for (int i = 0; i < 12; i++)
            a[i] = _mm256_fmadd_ps(a[i], m, c);
    for (int i = 0; i < 12; i++) {
        _mm256_storeu_ps(tmp, a[i]);
        sink += tmp[0];
    }
    return (double)sink;
}
#endif

/* GFLOP/s of one core's FMA units for the best tier (0 if unknown). */
static double measure_peak(const char **how)
{
#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
    /* best of several short runs, so a busy neighbour does not lower it */
    const long iters = 4000000;
    volatile double sink;
    double best = 0.0;
    if ((pn_cpu_flags() & PN_CPU_FLAG_AVX2)) {
        const int avx512 = (pn_cpu_flags() & PN_CPU_FLAG_AVX512) != 0;
        sink = avx512 ? fma_peak_avx512(iters / 4) : fma_peak_avx2(iters / 4);
        for (int r = 0; r < 12; r++) {
            double t = now_s(), g;
            sink = avx512 ? fma_peak_avx512(iters) : fma_peak_avx2(iters);
            t = now_s() - t;
            g = (avx512 ? 2.0 * 16 * 16 : 2.0 * 8 * 12) * (double)iters / t * 1e-9;
            if (g > best)
                best = g;
        }
        (void)sink;
        *how = avx512 ? "AVX-512 FMA loop, best of 12" : "AVX2 FMA loop, best of 12";
        return best;
    }
#endif
    *how = "no FMA";
    return 0.0;
}

typedef struct bench_layer {
    const char *name;
    int ih, iw, ic, oc;
} bench_layer;

static const bench_layer layers[] = {
    {"conv1 500x500x1->32", 500, 500, 1, 32},   {"conv2 249x249x32->32", 249, 249, 32, 32},
    {"conv3 123x123x32->32", 123, 123, 32, 32}, {"conv4 60x60x32->64", 60, 60, 32, 64},
    {"conv5 29x29x64->64", 29, 29, 64, 64},
};

/* Median-free best-of timing: repeat until ~min_time, report the fastest run. */
#define BENCH(min_time, best, CALL)                                   \
    do {                                                              \
        double t_total = 0.0;                                         \
        int reps_ = 0;                                                \
        best = 1e30;                                                  \
        while (reps_ < 2 || (t_total < (min_time) && reps_ < 1000)) { \
            double t0_ = now_s(), dt_;                                \
            CALL;                                                     \
            dt_ = now_s() - t0_;                                      \
            t_total += dt_;                                           \
            if (dt_ < best)                                           \
                best = dt_;                                           \
            reps_++;                                                  \
        }                                                             \
    } while (0)

static const char *bench_pattern; /* --bench=PATTERN */

static int bench_want(const char *kernel) { return !bench_pattern || strstr(kernel, bench_pattern) != NULL; }

/* The augmentation's warp of a side x side image rotated by 10 degrees and
 * zoomed by 0.9 about its centre, row by row: the columns of each row whose
 * samples keep their four neighbours inside. Returns the pixels warped. */
static int inside(double y, double x, int32_t side)
{
    return y >= 0 && y < side - 1 && x >= 0 && x < side - 1;
}

static long bench_warp_image(const pn_kernels *k, const uint8_t *img, float *out, int32_t side)
{
    const double one = 4294967296.0, cs = 0.9 * cos(0.1745), sn = 0.9 * sin(0.1745), m = side / 2.0;
    long px = 0;
    for (int32_t r = 0; r < side; r++) {
        const double by = m + (r - m) * cs, bx = m - (r - m) * sn;
        int32_t c0 = 0, c1 = side;
        while (c0 < c1 && !inside(by + (c0 - m) * sn, bx + (c0 - m) * cs, side))
            c0++;
        while (c1 > c0 && !inside(by + (c1 - 1 - m) * sn, bx + (c1 - 1 - m) * cs, side))
            c1--;
        if (c1 > c0)
            k->warp_bilinear_row(img, side, (int64_t)((by + (c0 - m) * sn) * one),
                                 (int64_t)((bx + (c0 - m) * cs) * one), (int64_t)(sn * one),
                                 (int64_t)(cs * one), c1 - c0, 1.0f / 255.0f,
                                 out + (size_t)r * (size_t)side + (size_t)c0, 1);
        px += c1 - c0;
    }
    return px;
}

void run_bench(const pn_kernels *const *tiers, int ntiers, int quick, const char *pattern)
{
    const char *how;
    const double peak = measure_peak(&how);
    const double min_time = quick ? 0.05 : 0.3;
    bench_pattern = pattern;
    printf("\nbench: single thread, batch 1, best of repeated runs\n");
    printf("FP32 peak of one core: %.1f GFLOP/s (%s)\n\n", peak, how);
    printf("%-22s %-18s %-7s %10s %9s %7s\n", "layer", "kernel", "isa", "ms", "GFLOP/s", "%peak");
    for (size_t li = 0; li < sizeof layers / sizeof layers[0]; li++) {
        const bench_layer *L = &layers[li];
        pn_conv2d_shape s;
        size_t nx, ny, nw;
        float *x, *w, *b, *y, *dy, *dx, *dw, *db;
        double flops;
        conv_make_shape(&s, 1, L->ih, L->iw, L->ic, L->oc, 3, 3, 1, 1, 0);
        nx = (size_t)s.ih * s.iw * s.ic;
        ny = (size_t)s.oh * s.ow * s.oc;
        nw = (size_t)9 * s.ic * s.oc;
        x = rand_buf(nx, 0.3f);
        w = rand_buf(nw, 0.0f);
        b = rand_buf((size_t)s.oc, 0.0f);
        dy = rand_buf(ny, 0.3f);
        y = rand_buf(ny, 0.3f); /* the conv output, also when --bench skips the conv */
        dx = xmalloc(nx * 4);
        dw = calloc(nw, 4);
        db = calloc((size_t)s.oc, 4);
        flops = 2.0 * (double)ny * 9.0 * s.ic;
        for (int t = 0; t < ntiers; t++) {
            const pn_kernels *k = tiers[t];
            double best;
            const double mt = k == &pn_kernels_ref ? 0.0 : min_time; /* scalar: 2 runs */
            if (bench_want("conv2d_fwd")) {
                BENCH(mt, best, k->conv2d_fwd(&s, x, w, b, y));
                printf("%-22s %-18s %-7s %10.3f %9.1f %6.1f%%\n", L->name, "conv2d_fwd", k->isa, best * 1e3,
                       flops / best * 1e-9, peak > 0 ? 100.0 * flops / best * 1e-9 / peak : 0.0);
            }
            {
                float *pz = xmalloc(ny / 4 * 4 + 64);
                uint8_t *pam = xmalloc(ny / 4 + 16);
                if (bench_want("conv2d_pool2_fwd")) {
                    BENCH(mt, best,
                          k->conv2d_pool2_fwd(&s, PN_ACT_RELU, s.oh / 2, s.ow / 2, x, w, b, pz, pam));
                    printf("%-22s %-18s %-7s %10.3f %9.1f %6.1f%%\n", L->name, "conv2d_pool2_fwd", k->isa,
                           best * 1e3, flops / best * 1e-9,
                           peak > 0 ? 100.0 * flops / best * 1e-9 / peak : 0.0);
                }
                if (bench_want("conv2d_pool2_fwd")) {
                    BENCH(mt, best,
                          k->conv2d_pool2_fwd(&s, PN_ACT_RELU, s.oh / 2, s.ow / 2, x, w, b, pz, NULL));
                    printf("%-22s %-18s %-7s %10.3f %9.1f %6.1f%%\n", L->name, "  without argmax", k->isa,
                           best * 1e3, flops / best * 1e-9,
                           peak > 0 ? 100.0 * flops / best * 1e-9 / peak : 0.0);
                }
                free(pz);
                free(pam);
            }
            if (s.ic >= PN_WINO_MIN_IC) { /* dense-equivalent GFLOP/s */
                float *pz = xmalloc(ny / 4 * 4 + 64);
                float *v = xmalloc(pn_wino_weights_size(&s) * 4), *sc = xmalloc(pn_wino_scratch(&s) * 4);
                k->wino_weights(s.ic, s.oc, w, v);
                if (bench_want("conv2d_pool2_wino_fwd")) {
                    BENCH(mt, best,
                          k->conv2d_pool2_wino_fwd(&s, PN_ACT_RELU, s.oh / 2, s.ow / 2, x, v, b, pz, sc));
                    printf("%-22s %-18s %-7s %10.3f %9.1f %6.1f%%\n", L->name, "conv2d_pool2_wino", k->isa,
                           best * 1e3, flops / best * 1e-9,
                           peak > 0 ? 100.0 * flops / best * 1e-9 / peak : 0.0);
                }
                free(pz);
                free(v);
                free(sc);
            }
            if (li > 0) { /* the first layer needs no dx */
                if (bench_want("conv2d_bwd_data")) {
                    BENCH(mt, best, k->conv2d_bwd_data(&s, dy, w, dx));
                    printf("%-22s %-18s %-7s %10.3f %9.1f %6.1f%%\n", L->name, "conv2d_bwd_data", k->isa,
                           best * 1e3, flops / best * 1e-9,
                           peak > 0 ? 100.0 * flops / best * 1e-9 / peak : 0.0);
                }
            }
            if (li > 0) {
                /* from a pooled gradient with half the windows ReLU-inactive */
                const size_t npz = (size_t)(s.oh / 2) * (s.ow / 2) * s.oc;
                float *pz = rand_buf(npz, 0.5f), *sc = xmalloc(pn_pool2_bwd_scratch(&s) * 4);
                uint8_t *pam = xmalloc(npz + 16);
                for (size_t i = 0; i < npz; i++)
                    pam[i] = (uint8_t)(rnd() % 4);
                if (bench_want("conv2d_pool2_bwd_data")) {
                    BENCH(mt, best, k->conv2d_pool2_bwd_data(&s, s.oh / 2, s.ow / 2, pz, pam, w, dx, sc));
                    printf("%-22s %-18s %-7s %10.3f %9.1f %6.1f%%\n", L->name, "conv2d_pool2_bwd_d", k->isa,
                           best * 1e3, flops / best * 1e-9,
                           peak > 0 ? 100.0 * flops / best * 1e-9 / peak : 0.0);
                }
                free(pz);
                free(sc);
                free(pam);
            }
            if (pn_pool2_bwd_fast(&s)) {
                uint8_t *pam = xmalloc(ny / 4 + 16);
                float *sc = xmalloc(pn_pool2_bwd_scratch(&s) * 4);
                for (size_t i = 0; i < ny / 4; i++)
                    pam[i] = (uint8_t)(rnd() % 4);
                if (bench_want("conv2d_pool2_bwd_filter")) {
                    BENCH(mt, best,
                          k->conv2d_pool2_bwd_filter(&s, s.oh / 2, s.ow / 2, x, dy, pam, dw, db, sc));
                    printf("%-22s %-18s %-7s %10.3f %9.1f %6.1f%%\n", L->name, "conv2d_pool2_bwd_f", k->isa,
                           best * 1e3, flops / best * 1e-9,
                           peak > 0 ? 100.0 * flops / best * 1e-9 / peak : 0.0);
                }
                free(sc);
                free(pam);
            }
            if (bench_want("conv2d_bwd_filter")) {
                BENCH(mt, best, k->conv2d_bwd_filter(&s, x, dy, dw, db));
                printf("%-22s %-18s %-7s %10.3f %9.1f %6.1f%%\n", L->name, "conv2d_bwd_filter", k->isa,
                       best * 1e3, flops / best * 1e-9, peak > 0 ? 100.0 * flops / best * 1e-9 / peak : 0.0);
            }
        }
        /* ReLU and 2x2 pool on this layer's output */
        {
            pn_pool2d_shape ps;
            float *py, *pdx;
            uint8_t *am;
            ps.n = 1;
            ps.ih = s.oh;
            ps.iw = s.ow;
            ps.c = s.oc;
            ps.ph = ps.pw = ps.sh = ps.sw = 2;
            ps.oh = pn_window_out(ps.ih, 2, 2, 0, &ps.pad_top);
            ps.ow = pn_window_out(ps.iw, 2, 2, 0, &ps.pad_left);
            py = xmalloc((size_t)ps.oh * ps.ow * ps.c * 4);
            pdx = xmalloc(ny * 4);
            am = xmalloc((size_t)ps.oh * ps.ow * ps.c);
            pn_kernels_ref.maxpool_fwd(&ps, y, py, am); /* maxpool_bwd's argmax, also without maxpool_fwd */
            for (int t = 0; t < ntiers; t++) {
                const pn_kernels *k = tiers[t];
                double best;
                if (bench_want("act_fwd")) {
                    BENCH(min_time, best, k->act_fwd(PN_ACT_RELU, ny, y));
                    printf("%-22s %-18s %-7s %10.3f %8.1f GB/s\n", L->name, "act_fwd relu", k->isa,
                           best * 1e3, 2.0 * (double)ny * 4 / best * 1e-9);
                }
                if (bench_want("act_bwd")) {
                    BENCH(min_time, best, k->act_bwd(PN_ACT_RELU, ny, y, dy));
                    printf("%-22s %-18s %-7s %10.3f %8.1f GB/s\n", L->name, "act_bwd relu", k->isa,
                           best * 1e3, 3.0 * (double)ny * 4 / best * 1e-9);
                }
                if (bench_want("maxpool_fwd")) {
                    BENCH(min_time, best, k->maxpool_fwd(&ps, y, py, am));
                    printf("%-22s %-18s %-7s %10.3f %8.1f GB/s\n", L->name, "maxpool_fwd 2x2", k->isa,
                           best * 1e3, 1.3 * (double)ny * 4 / best * 1e-9);
                }
                if (bench_want("maxpool_bwd")) {
                    BENCH(min_time, best, k->maxpool_bwd(&ps, py, am, pdx));
                    printf("%-22s %-18s %-7s %10.3f %8.1f GB/s\n", L->name, "maxpool_bwd 2x2", k->isa,
                           best * 1e3, 1.3 * (double)ny * 4 / best * 1e-9);
                }
            }
            free(py);
            free(pdx);
            free(am);
        }
        free(x);
        free(w);
        free(b);
        free(y);
        free(dy);
        free(dx);
        free(dw);
        free(db);
    }
    /* dense 10816 -> 128 at batch 16, and Adam over the model's 1.4 M parameters */
    {
        const int n = 16, in = 10816, out = 128;
        const size_t np = 1400000;
        float *x = rand_buf((size_t)n * in, 0.5f), *w = rand_buf((size_t)in * out, 0.0f);
        float *b = rand_buf((size_t)out, 0.0f), *y = xmalloc((size_t)n * out * 4);
        float *dx = xmalloc((size_t)n * in * 4), *dw = calloc((size_t)in * out, 4),
              *db = calloc((size_t)out, 4);
        float *pw = rand_buf(np, 0.0f), *pg = rand_buf(np, 0.0f), *pm = calloc(np, 4), *pv = calloc(np, 4);
        const double fl = 2.0 * n * in * out;
        for (int t = 0; t < ntiers; t++) {
            const pn_kernels *k = tiers[t];
            double best;
            if (bench_want("dense_fwd")) {
                BENCH(min_time, best, k->dense_fwd(n, in, out, 0, out, x, w, b, y));
                printf("%-22s %-18s %-7s %10.3f %9.1f\n", "dense 10816->128 n16", "dense_fwd", k->isa,
                       best * 1e3, fl / best * 1e-9);
                BENCH(min_time, best, k->dense_fwd(1, in, out, 0, out, x, w, b, y));
                printf("%-22s %-18s %-7s %10.3f %9.1f\n", "dense 10816->128 n1", "dense_fwd", k->isa,
                       best * 1e3, fl / n / best * 1e-9);
            }
            if (bench_want("dense_bwd_data")) {
                BENCH(min_time, best, k->dense_bwd_data(n, in, out, 0, in, y, w, dx));
                printf("%-22s %-18s %-7s %10.3f %9.1f\n", "dense 10816->128 n16", "dense_bwd_data", k->isa,
                       best * 1e3, fl / best * 1e-9);
            }
            if (bench_want("dense_bwd_weights")) {
                BENCH(min_time, best, k->dense_bwd_weights(n, in, out, 0, in, x, y, dw, db));
                printf("%-22s %-18s %-7s %10.3f %9.1f\n", "dense 10816->128 n16", "dense_bwd_weights", k->isa,
                       best * 1e3, fl / best * 1e-9);
            }
            if (bench_want("adam_update")) {
                BENCH(min_time, best, k->adam_update(np, pw, pg, pm, pv, 1e-3f, 0.9f, 0.999f, 1e-7f, 1.0f));
                printf("%-22s %-18s %-7s %10.3f %8.1f GB/s\n", "adam 1.4M params", "adam_update", k->isa,
                       best * 1e3, 28.0 * (double)np / best * 1e-9);
            }
            if (bench_want("accumulate")) { /* a thread's gradient partial into the sum: 12 bytes/float */
                BENCH(min_time, best, k->accumulate(np, pm, pg));
                printf("%-22s %-18s %-7s %10.3f %8.1f GB/s\n", "sum 1.4M gradients", "accumulate", k->isa,
                       best * 1e3, 12.0 * (double)np / best * 1e-9);
            }
        }
        free(x);
        free(w);
        free(b);
        free(y);
        free(dx);
        free(dw);
        free(db);
        free(pw);
        free(pg);
        free(pm);
        free(pv);
    }
    if (bench_want("warp_bilinear_row")) {
        const int32_t side = 224;
        uint8_t *img = xmalloc((size_t)side * side);
        float *out = xmalloc((size_t)side * side * 4);
        for (size_t i = 0; i < (size_t)side * side; i++)
            img[i] = (uint8_t)rnd();
        for (int t = 0; t < ntiers; t++) {
            double best;
            long px = 0;
            BENCH(min_time, best, px = bench_warp_image(tiers[t], img, out, side));
            printf("%-22s %-18s %-7s %10.3f %8.1f Mpx/s\n", "warp 224x224 rot 10", "warp_bilinear_row",
                   tiers[t]->isa, best * 1e3, (double)px / best * 1e-6);
        }
        free(img);
        free(out);
    }
}
