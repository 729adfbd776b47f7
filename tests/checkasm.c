/* checkasm: every kernel slot of every ISA tier this CPU supports, against the
 * scalar reference (lib/kernels/ref), in the style of dav1d's tests/checkasm.
 *
 *   checkasm [--seed=N] [--isa=NAME] [--bench] [--quick]
 *
 * Correctness: random shapes including odd edges (channels 1, 3, 17, 32, 64,
 * 80; widths 1..40; strides 1 and 2; valid and same padding; kernels 1x1, 3x3,
 * 5x3 and random; batch 1-3). Every output buffer sits between guard zones
 * filled with a canary pattern that must survive the call. Backward kernels
 * accumulate, so dw/db start non-zero.
 *
 * Tolerance: kernels that sum many products (conv, dense) are compared with a
 * normalised error |got - ref| <= TOL_SUM * B, where B is the same kernel run
 * in the reference on |inputs| (the sum of the magnitudes of all terms, so the
 * bound is scale-free and robust to cancellation). Summing K terms in another
 * order moves the result by at most ~K * 2^-24 * B, typically sqrt(K) * 2^-24
 * * B; TOL_SUM = 2e-5 covers the observed worst case (printed per kernel) with
 * margin for K up to a few thousand. Pooling and ReLU must match bit for bit;
 * element-wise arithmetic (sigmoid/tanh backward, Adam, SGD) within TOL_ELT =
 * 1e-6 relative (they match exactly unless the reference is FMA-contracted).
 *
 * --bench: per-kernel timings at the article's layer shapes (500x500x1 input,
 * 5 x [conv 3x3 valid + ReLU, maxpool 2x2]), GFLOP/s and the share of the
 * single-core FP32 FMA peak measured here with an FMA loop. */
#include <float.h>
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "kernels/cpu.h"
#include "kernels/kernels.h"

#if defined(__x86_64__)
#include <immintrin.h>
#endif

#define TOL_SUM 2e-5
#define TOL_ELT 1e-6
#define GUARD 64 /* floats (or bytes) of canary either side of an output */

/* ------------------------------------------------------------------ utilities */

static uint64_t rng_state = 1;

static uint64_t rnd(void)
{
    uint64_t z = (rng_state += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

static int rnd_int(int lo, int hi) { return lo + (int)(rnd() % (uint64_t)(hi - lo + 1)); }
static float rnd_f(void) { return (float)((double)(rnd() >> 11) / 9007199254740992.0) * 2.0f - 1.0f; }
static int pick(const int *v, int n) { return v[rnd() % (uint64_t)n]; }

static void *xmalloc(size_t n)
{
    void *p = malloc(n ? n : 1);
    if (!p) {
        fprintf(stderr, "checkasm: out of memory\n");
        exit(2);
    }
    return p;
}

/* A float buffer of n values with GUARD canary floats either side. */
typedef struct gbuf {
    float *base, *p;
    size_t n;
} gbuf;

static const uint32_t CANARY = 0x7fa5a5a5u; /* a NaN nobody computes */

static gbuf gb_new(size_t n)
{
    gbuf g;
    g.n = n;
    g.base = xmalloc((n + 2 * GUARD) * sizeof(float));
    for (size_t i = 0; i < n + 2 * GUARD; i++)
        memcpy(&g.base[i], &CANARY, 4);
    g.p = g.base + GUARD;
    return g;
}

static int gb_guard_ok(const gbuf *g)
{
    for (size_t i = 0; i < GUARD; i++)
        if (memcmp(&g->base[i], &CANARY, 4) || memcmp(&g->p[g->n + i], &CANARY, 4))
            return 0;
    return 1;
}

static void gb_free(gbuf *g) { free(g->base); }

static float *rand_buf(size_t n, float zero_frac)
{
    float *p = xmalloc(n * sizeof(float));
    for (size_t i = 0; i < n; i++)
        p[i] = (zero_frac > 0.0f && (float)(rnd() % 1000) < zero_frac * 1000.0f) ? 0.0f : rnd_f();
    return p;
}

static float *abs_copy(const float *p, size_t n)
{
    float *q = xmalloc(n * sizeof(float));
    for (size_t i = 0; i < n; i++)
        q[i] = fabsf(p[i]);
    return q;
}

/* Per-kernel statistics. */
typedef struct stat {
    const char *name;
    int calls, fails;
    double worst; /* max |got - ref| / bound */
    int fallbacks; /* checks whose shape the tier's kernel hands to the reference */
} stat;

static int total_fail;

static void report_fail(stat *st, const char *isa, const char *what, const char *shape)
{
    st->fails++;
    total_fail++;
    if (st->fails <= 5)
        fprintf(stderr, "FAIL %-18s %-7s %s: %s\n", st->name, isa, what, shape);
}

/* Compare with the normalised bound (tol > 0) or exactly (tol == 0). */
static int compare(stat *st, const float *got, const float *ref, const float *bound, size_t n,
                   double tol, const char *isa, const char *shape)
{
    char what[160];
    for (size_t i = 0; i < n; i++) {
        double d = fabs((double)got[i] - (double)ref[i]);
        if (tol == 0.0) {
            if (memcmp(&got[i], &ref[i], 4) != 0) {
                snprintf(what, sizeof what, "[%zu] got %.9g want %.9g (exact)", i, got[i], ref[i]);
                report_fail(st, isa, what, shape);
                return 0;
            }
            continue;
        }
        {
            double b = bound ? (double)bound[i] : fabs((double)ref[i]);
            double r = d / (b > 1e-30 ? b : 1e-30);
            if (!(d <= tol * b + 1e-30)) {
                snprintf(what, sizeof what, "[%zu] got %.9g want %.9g (bound %.3g)", i, got[i], ref[i], b);
                report_fail(st, isa, what, shape);
                return 0;
            }
            if (r > st->worst)
                st->worst = r;
        }
    }
    return 1;
}

static void check_guard(stat *st, const gbuf *g, const char *isa, const char *shape)
{
    if (!gb_guard_ok(g))
        report_fail(st, isa, "wrote outside its output (guard zone)", shape);
}

/* ------------------------------------------------------------------ conv */

static stat st_conv_fwd = {"conv2d_fwd", 0, 0, 0, 0}, st_conv_bd = {"conv2d_bwd_data", 0, 0, 0, 0},
            st_conv_bf = {"conv2d_bwd_filter", 0, 0, 0, 0};

static int conv_make_shape(pn_conv2d_shape *s, int n, int ih, int iw, int ic, int oc, int kh, int kw,
                           int sh, int sw, int same)
{
    s->n = n;
    s->ih = ih;
    s->iw = iw;
    s->ic = ic;
    s->oc = oc;
    s->kh = kh;
    s->kw = kw;
    s->sh = sh;
    s->sw = sw;
    s->oh = pn_window_out(ih, kh, sh, same, &s->pad_top);
    s->ow = pn_window_out(iw, kw, sw, same, &s->pad_left);
    return s->oh > 0 && s->ow > 0;
}

static void conv_shape_str(const pn_conv2d_shape *s, char *buf, size_t len)
{
    snprintf(buf, len, "n%d %dx%dx%d -> %dx%dx%d k%dx%d s%dx%d pad %d,%d", s->n, s->ih, s->iw, s->ic,
             s->oh, s->ow, s->oc, s->kh, s->kw, s->sh, s->sw, s->pad_top, s->pad_left);
}

static void check_conv(const pn_kernels *k, const pn_conv2d_shape *s)
{
    const size_t nx = (size_t)s->n * s->ih * s->iw * s->ic, ny = (size_t)s->n * s->oh * s->ow * s->oc;
    const size_t nw = (size_t)s->kh * s->kw * s->ic * s->oc;
    char shape[160];
    float *x = rand_buf(nx, 0.3f), *w = rand_buf(nw, 0.0f), *b = rand_buf((size_t)s->oc, 0.0f);
    float *dy = rand_buf(ny, 0.2f), *dw0 = rand_buf(nw, 0.0f), *db0 = rand_buf((size_t)s->oc, 0.0f);
    float *ax = abs_copy(x, nx), *aw = abs_copy(w, nw), *ab = abs_copy(b, (size_t)s->oc);
    float *ady = abs_copy(dy, ny), *adw0 = abs_copy(dw0, nw), *adb0 = abs_copy(db0, (size_t)s->oc);
    float *ref = xmalloc((ny > nx ? ny : nx) * sizeof(float)), *bnd = xmalloc((ny > nx ? ny : nx) * sizeof(float));
    float *rdw = xmalloc(nw * sizeof(float)), *rdb = xmalloc((size_t)s->oc * sizeof(float));
    float *bdw = xmalloc(nw * sizeof(float)), *bdb = xmalloc((size_t)s->oc * sizeof(float));
    const int with_bias = (int)(rnd() & 1);
    conv_shape_str(s, shape, sizeof shape);

    /* forward */
    {
        gbuf y = gb_new(ny);
        pn_kernels_ref.conv2d_fwd(s, x, w, with_bias ? b : NULL, ref);
        pn_kernels_ref.conv2d_fwd(s, ax, aw, with_bias ? ab : NULL, bnd);
        k->conv2d_fwd(s, x, w, with_bias ? b : NULL, y.p);
        st_conv_fwd.calls++;
        compare(&st_conv_fwd, y.p, ref, bnd, ny, TOL_SUM, k->isa, shape);
        check_guard(&st_conv_fwd, &y, k->isa, shape);
        gb_free(&y);
    }
    /* backward data (dx overwritten: start from garbage) */
    {
        gbuf dx = gb_new(nx);
        for (size_t i = 0; i < nx; i++)
            dx.p[i] = 1e30f;
        pn_kernels_ref.conv2d_bwd_data(s, dy, w, ref);
        pn_kernels_ref.conv2d_bwd_data(s, ady, aw, bnd);
        k->conv2d_bwd_data(s, dy, w, dx.p);
        st_conv_bd.calls++;
        st_conv_bd.fallbacks += pn_kernel_falls_back(k, PN_KOP_conv2d_bwd_data, s);
        compare(&st_conv_bd, dx.p, ref, bnd, nx, TOL_SUM, k->isa, shape);
        check_guard(&st_conv_bd, &dx, k->isa, shape);
        gb_free(&dx);
    }
    /* backward filter: accumulates into non-zero dw / db */
    {
        gbuf dw = gb_new(nw), db = gb_new((size_t)s->oc);
        memcpy(rdw, dw0, nw * sizeof(float));
        memcpy(rdb, db0, (size_t)s->oc * sizeof(float));
        memcpy(bdw, adw0, nw * sizeof(float));
        memcpy(bdb, adb0, (size_t)s->oc * sizeof(float));
        memcpy(dw.p, dw0, nw * sizeof(float));
        memcpy(db.p, db0, (size_t)s->oc * sizeof(float));
        pn_kernels_ref.conv2d_bwd_filter(s, x, dy, rdw, with_bias ? rdb : NULL);
        pn_kernels_ref.conv2d_bwd_filter(s, ax, ady, bdw, with_bias ? bdb : NULL);
        k->conv2d_bwd_filter(s, x, dy, dw.p, with_bias ? db.p : NULL);
        st_conv_bf.calls++;
        compare(&st_conv_bf, dw.p, rdw, bdw, nw, TOL_SUM, k->isa, shape);
        compare(&st_conv_bf, db.p, rdb, bdb, (size_t)s->oc, TOL_SUM, k->isa, shape);
        check_guard(&st_conv_bf, &dw, k->isa, shape);
        check_guard(&st_conv_bf, &db, k->isa, shape);
        gb_free(&dw);
        gb_free(&db);
    }
    free(x); free(w); free(b); free(dy); free(dw0); free(db0);
    free(ax); free(aw); free(ab); free(ady); free(adw0); free(adb0);
    free(ref); free(bnd); free(rdw); free(rdb); free(bdw); free(bdb);
}

static void test_conv(const pn_kernels *k, int iters)
{
    static const int chans[] = {1, 3, 17, 32, 64, 16, 48, 80};
    static const int ksz[][2] = {{1, 1}, {3, 3}, {5, 3}, {3, 3}, {2, 4}};
    pn_conv2d_shape s;
    /* the article's layers, spatially shrunk; plus wide channel counts */
    static const int fixed[][11] = {
        /* n ih iw ic oc kh kw sh sw same */
        {2, 40, 37, 1, 32, 3, 3, 1, 1, 0, 0},  {1, 33, 30, 32, 32, 3, 3, 1, 1, 0, 0},
        {2, 20, 21, 32, 64, 3, 3, 1, 1, 0, 0}, {1, 29, 29, 64, 64, 3, 3, 1, 1, 0, 0},
        {1, 9, 11, 64, 64, 3, 3, 2, 2, 1, 0},  {1, 7, 6, 20, 300, 3, 3, 1, 1, 1, 0},
        {1, 5, 40, 3, 130, 5, 3, 2, 1, 1, 0},  {3, 1, 1, 17, 17, 1, 1, 1, 1, 0, 0},
        {1, 1, 40, 17, 32, 3, 3, 1, 2, 1, 0},  {1, 12, 12, 5, 7, 7, 7, 3, 3, 1, 0},
    };
    for (size_t i = 0; i < sizeof fixed / sizeof fixed[0]; i++) {
        const int *f = fixed[i];
        if (conv_make_shape(&s, f[0], f[1], f[2], f[3], f[4], f[5], f[6], f[7], f[8], f[9]))
            check_conv(k, &s);
    }
    for (int it = 0; it < iters; it++) {
        const int *kk = ksz[rnd() % 5];
        int kh = kk[0], kw = kk[1], ih, iw;
        if (rnd() % 5 == 0) {
            kh = rnd_int(1, 5);
            kw = rnd_int(1, 5);
        }
        ih = rnd_int(1, 24);
        iw = rnd_int(1, 40);
        if (!conv_make_shape(&s, rnd_int(1, 3), ih, iw, rnd() % 4 ? pick(chans, 8) : rnd_int(1, 70),
                             rnd() % 4 ? pick(chans, 8) : rnd_int(1, 70), kh, kw, rnd_int(1, 2),
                             rnd_int(1, 2), (int)(rnd() & 1)))
            continue;
        check_conv(k, &s);
    }
    /* one shape past conv2d_bwd_data's SIMD coverage: its reference fallback */
    if (k->lanes > 1 &&
        conv_make_shape(&s, 1, 4, 5, 3, PN_SIMD_WT_FLOATS / (3 * k->lanes) + 1, 3, 3, 1, 1, 0))
        check_conv(k, &s);
}

/* ------------------------------------------------------------------ pooling */

static stat st_pool_fwd = {"maxpool_fwd", 0, 0, 0, 0}, st_pool_bwd = {"maxpool_bwd", 0, 0, 0, 0};

static void check_pool(const pn_kernels *k, const pn_pool2d_shape *s)
{
    const size_t nx = (size_t)s->n * s->ih * s->iw * s->c, ny = (size_t)s->n * s->oh * s->ow * s->c;
    char shape[160];
    float *x = rand_buf(nx, 0.3f), *dy = rand_buf(ny, 0.0f);
    float *ry = xmalloc(ny * sizeof(float)), *rdx = xmalloc(nx * sizeof(float));
    uint8_t *ram = xmalloc(ny);
    gbuf y = gb_new(ny), dx = gb_new(nx);
    uint8_t *am = xmalloc(ny + 2 * GUARD);
    snprintf(shape, sizeof shape, "n%d %dx%dx%d -> %dx%d win %dx%d s%dx%d pad %d,%d", s->n, s->ih, s->iw,
             s->c, s->oh, s->ow, s->ph, s->pw, s->sh, s->sw, s->pad_top, s->pad_left);
    /* ties: quantise some inputs so equal maxima occur */
    for (size_t i = 0; i < nx; i += 3)
        x[i] = roundf(x[i] * 2.0f) * 0.5f;
    memset(am, 0xa5, ny + 2 * GUARD);
    pn_kernels_ref.maxpool_fwd(s, x, ry, ram);
    k->maxpool_fwd(s, x, y.p, am + GUARD);
    st_pool_fwd.calls++;
    compare(&st_pool_fwd, y.p, ry, NULL, ny, 0.0, k->isa, shape);
    if (memcmp(am + GUARD, ram, ny))
        report_fail(&st_pool_fwd, k->isa, "argmax differs", shape);
    for (size_t i = 0; i < GUARD; i++)
        if (am[i] != 0xa5 || am[GUARD + ny + i] != 0xa5) {
            report_fail(&st_pool_fwd, k->isa, "argmax guard zone", shape);
            break;
        }
    check_guard(&st_pool_fwd, &y, k->isa, shape);

    for (size_t i = 0; i < nx; i++)
        dx.p[i] = 1e30f;
    pn_kernels_ref.maxpool_bwd(s, dy, ram, rdx);
    k->maxpool_bwd(s, dy, ram, dx.p);
    st_pool_bwd.calls++;
    compare(&st_pool_bwd, dx.p, rdx, NULL, nx, 0.0, k->isa, shape);
    check_guard(&st_pool_bwd, &dx, k->isa, shape);
    gb_free(&y);
    gb_free(&dx);
    free(x); free(dy); free(ry); free(rdx); free(ram); free(am);
}

static void test_pool(const pn_kernels *k, int iters)
{
    static const int chans[] = {1, 3, 17, 32, 64, 8, 16};
    for (int it = 0; it < iters; it++) {
        pn_pool2d_shape s;
        const int same = (int)(rnd() & 1);
        s.n = rnd_int(1, 3);
        s.ih = rnd_int(1, 20);
        s.iw = rnd_int(1, 40);
        s.c = rnd() % 4 ? pick(chans, 7) : rnd_int(1, 70);
        if (rnd() % 2) {
            s.ph = s.pw = 2;
            s.sh = s.sw = 2;
        } else {
            s.ph = rnd_int(1, 3);
            s.pw = rnd_int(1, 3);
            s.sh = rnd_int(1, 3);
            s.sw = rnd_int(1, 3);
        }
        s.oh = pn_window_out(s.ih, s.ph, s.sh, same, &s.pad_top);
        s.ow = pn_window_out(s.iw, s.pw, s.sw, same, &s.pad_left);
        if (s.oh < 1 || s.ow < 1)
            continue;
        check_pool(k, &s);
    }
}

/* ------------------------------------------------------------------ fused conv + pool */

static stat st_cpool = {"conv2d_pool2_fwd", 0, 0, 0, 0}, st_cpool_bf = {"conv2d_pool2_bwd_filter", 0, 0, 0, 0},
            st_cpool_bd = {"conv2d_pool2_bwd_data", 0, 0, 0, 0};

/* k's fused kernel must equal k's own conv2d_fwd + act_fwd + maxpool_fwd bit
 * for bit (values and argmax), for the reference tier and for k; and k's
 * pooled values must match the reference within the conv tolerance. */
static void check_conv_pool_tier(const pn_kernels *k, const pn_conv2d_shape *s,
                                 pn_act act, int32_t ph, int32_t pw, const float *x, const float *w,
                                 const float *b, float *ref_z, const char *shape)
{
    const size_t ny = (size_t)s->n * s->oh * s->ow * s->oc, nz = (size_t)s->n * ph * pw * s->oc;
    float *y = xmalloc(ny * sizeof(float)), *pz = xmalloc(nz * sizeof(float));
    uint8_t *pam = xmalloc(nz), *am = xmalloc(nz + 2 * GUARD);
    gbuf z = gb_new(nz);
    /* the pool of the conv output's first 2 ph rows and 2 pw columns */
    const pn_pool2d_shape ps = {s->n, 2 * ph, 2 * pw, s->oc, ph, pw, 2, 2, 2, 2, 0, 0};
    char what[200];
    k->conv2d_fwd(s, x, w, b, y);
    k->act_fwd(act, ny, y);
    {
        /* the conv output may be taller / wider than 2 ph x 2 pw: pool a cropped copy */
        float *crop = xmalloc((size_t)s->n * 4 * ph * pw * s->oc * sizeof(float));
        for (int n = 0; n < s->n; n++)
            for (int r = 0; r < 2 * ph; r++)
                memcpy(crop + (((size_t)n * 2 * ph + r) * 2 * pw) * s->oc,
                       y + (((size_t)n * s->oh + r) * s->ow) * s->oc, (size_t)2 * pw * s->oc * sizeof(float));
        k->maxpool_fwd(&ps, crop, pz, pam);
        free(crop);
    }
    memset(am, 0xa5, nz + 2 * GUARD);
    k->conv2d_pool2_fwd(s, act, ph, pw, x, w, b, z.p, am + GUARD);
    st_cpool.calls++;
    {
        /* without argmax (inference): the same values */
        float *z2 = xmalloc(nz * sizeof(float));
        k->conv2d_pool2_fwd(s, act, ph, pw, x, w, b, z2, NULL);
        if (memcmp(z2, z.p, nz * sizeof(float)))
            report_fail(&st_cpool, k->isa, "values differ without argmax", shape);
        free(z2);
    }
    snprintf(what, sizeof what, "%s (%s fused vs its unfused kernels)", shape, k->isa);
    compare(&st_cpool, z.p, pz, NULL, nz, 0.0, k->isa, what);
    if (memcmp(am + GUARD, pam, nz))
        report_fail(&st_cpool, k->isa, "argmax differs from conv2d_fwd + maxpool_fwd", what);
    for (size_t i = 0; i < GUARD; i++)
        if (am[i] != 0xa5 || am[GUARD + nz + i] != 0xa5) {
            report_fail(&st_cpool, k->isa, "argmax guard zone", what);
            break;
        }
    check_guard(&st_cpool, &z, k->isa, what);
    if (ref_z)
        memcpy(ref_z, z.p, nz * sizeof(float));
    gb_free(&z);
    free(y);
    free(pz);
    free(pam);
    free(am);
}

static void check_conv_pool(const pn_kernels *k, const pn_conv2d_shape *s, pn_act act, int32_t ph,
                            int32_t pw)
{
    const size_t nx = (size_t)s->n * s->ih * s->iw * s->ic, nw = (size_t)s->kh * s->kw * s->ic * s->oc;
    const size_t nz = (size_t)s->n * ph * pw * s->oc;
    float *x = rand_buf(nx, 0.3f), *w = rand_buf(nw, 0.0f), *b = rand_buf((size_t)s->oc, 0.0f);
    float *ax = abs_copy(x, nx), *aw = abs_copy(w, nw), *ab = abs_copy(b, (size_t)s->oc);
    float *rz = xmalloc(nz * sizeof(float)), *kz = xmalloc(nz * sizeof(float));
    float *bnd = xmalloc(nz * sizeof(float));
    uint8_t *bam = xmalloc(nz);
    const int with_bias = (int)(rnd() & 1);
    char shape[200];
    snprintf(shape, sizeof shape, "n%d %dx%dx%d k%dx%d s%dx%d -> conv %dx%dx%d, pool %dx%d %s%s", s->n, s->ih,
             s->iw, s->ic, s->kh, s->kw, s->sh, s->sw, s->oh, s->ow, s->oc, ph, pw,
             act == PN_ACT_RELU ? "relu" : "linear", with_bias ? " bias" : "");
    check_conv_pool_tier(&pn_kernels_ref, s, act, ph, pw, x, w, with_bias ? b : NULL, rz, shape);
    check_conv_pool_tier(k, s, act, ph, pw, x, w, with_bias ? b : NULL, kz, shape);
    /* bound: the largest sum of |terms| in each window (linear, |inputs|) */
    pn_kernels_ref.conv2d_pool2_fwd(s, PN_ACT_LINEAR, ph, pw, ax, aw, with_bias ? ab : NULL, bnd, bam);
    compare(&st_cpool, kz, rz, bnd, nz, TOL_SUM, k->isa, shape);
    free(x); free(w); free(b); free(ax); free(aw); free(ab);
    free(rz); free(kz); free(bnd); free(bam);
}

/* The block's parameter gradients from the pooled gradient, against the
 * reference, and the reference against the rebuilt conv gradient (maxpool_bwd
 * then conv2d_bwd_filter): accumulating into non-zero dw / db. */
static void check_conv_pool_bwd(const pn_kernels *k, const pn_conv2d_shape *s, int32_t ph, int32_t pw)
{
    const size_t nx = (size_t)s->n * s->ih * s->iw * s->ic, nw = (size_t)s->kh * s->kw * s->ic * s->oc;
    const size_t nz = (size_t)s->n * ph * pw * s->oc, ny = (size_t)s->n * s->oh * s->ow * s->oc;
    const size_t oc = (size_t)s->oc;
    float *x = rand_buf(nx, 0.3f), *dz = rand_buf(nz, 0.3f), *dw0 = rand_buf(nw, 0.0f), *db0 = rand_buf(oc, 0.0f);
    float *ax = abs_copy(x, nx), *adz = abs_copy(dz, nz), *adw0 = abs_copy(dw0, nw), *adb0 = abs_copy(db0, oc);
    float *rdw = xmalloc(nw * 4), *rdb = xmalloc(oc * 4), *bdw = xmalloc(nw * 4), *bdb = xmalloc(oc * 4);
    float *cdw = xmalloc(nw * 4), *cdb = xmalloc(oc * 4), *dy = xmalloc(ny * 4);
    uint8_t *am = xmalloc(nz);
    gbuf dw = gb_new(nw), db = gb_new(oc);
    const int with_bias = (int)(rnd() & 1);
    char shape[200];
    snprintf(shape, sizeof shape, "n%d %dx%dx%d k%dx%d s%dx%d -> conv %dx%dx%d, pool %dx%d%s", s->n, s->ih,
             s->iw, s->ic, s->kh, s->kw, s->sh, s->sw, s->oh, s->ow, s->oc, ph, pw, with_bias ? " bias" : "");
    for (size_t i = 0; i < nz; i++)
        am[i] = (uint8_t)(rnd() % 4);
    memcpy(rdw, dw0, nw * 4);
    memcpy(rdb, db0, oc * 4);
    memcpy(bdw, adw0, nw * 4);
    memcpy(bdb, adb0, oc * 4);
    memcpy(cdw, dw0, nw * 4);
    memcpy(cdb, db0, oc * 4);
    memcpy(dw.p, dw0, nw * 4);
    memcpy(db.p, db0, oc * 4);
    {
        gbuf sc = gb_new(pn_pool2_bwd_scratch(s));
        pn_kernels_ref.conv2d_pool2_bwd_filter(s, ph, pw, x, dz, am, rdw, with_bias ? rdb : NULL, sc.p);
        pn_kernels_ref.conv2d_pool2_bwd_filter(s, ph, pw, ax, adz, am, bdw, with_bias ? bdb : NULL, sc.p);
        k->conv2d_pool2_bwd_filter(s, ph, pw, x, dz, am, dw.p, with_bias ? db.p : NULL, sc.p);
        check_guard(&st_cpool_bf, &sc, k->isa, shape);
        gb_free(&sc);
    }
    st_cpool_bf.calls++;
    st_cpool_bf.fallbacks += pn_kernel_falls_back(k, PN_KOP_conv2d_pool2_bwd_filter, s);
    compare(&st_cpool_bf, dw.p, rdw, bdw, nw, TOL_SUM, k->isa, shape);
    compare(&st_cpool_bf, db.p, rdb, bdb, oc, TOL_SUM, k->isa, shape);
    check_guard(&st_cpool_bf, &dw, k->isa, shape);
    check_guard(&st_cpool_bf, &db, k->isa, shape);
    /* the definition: scatter dz to the conv output (rows / columns past the
     * windows get zero), then the plain weight gradient */
    {
        const pn_pool2d_shape ps = {1, 2 * ph, 2 * pw, s->oc, ph, pw, 2, 2, 2, 2, 0, 0};
        memset(dy, 0, ny * 4);
        for (int n = 0; n < s->n; n++) {
            float *tmp = xmalloc((size_t)4 * ph * pw * oc * 4);
            pn_kernels_ref.maxpool_bwd(&ps, dz + (size_t)n * ph * pw * oc, am + (size_t)n * ph * pw * oc, tmp);
            for (int r = 0; r < 2 * ph; r++)
                memcpy(dy + (((size_t)n * s->oh + r) * s->ow) * oc, tmp + (size_t)r * 2 * pw * oc,
                       (size_t)2 * pw * oc * 4);
            free(tmp);
        }
        pn_kernels_ref.conv2d_bwd_filter(s, x, dy, cdw, with_bias ? cdb : NULL);
        compare(&st_cpool_bf, cdw, rdw, bdw, nw, TOL_SUM, "scalar", shape);
        compare(&st_cpool_bf, cdb, rdb, bdb, oc, TOL_SUM, "scalar", shape);
        /* backward data: k and the reference against the dense definition
         * (conv2d_bwd_data of the rebuilt gradient); dx starts as garbage */
        {
            float *w = rand_buf(nw, 0.0f), *aw = abs_copy(w, nw), *ady = abs_copy(dy, ny);
            float *ddx = xmalloc(nx * 4), *bdx = xmalloc(nx * 4), *rdx = xmalloc(nx * 4);
            gbuf dx = gb_new(nx), sc = gb_new(pn_pool2_bwd_scratch(s)), rsc = gb_new(pn_pool2_bwd_scratch(s));
            pn_kernels_ref.conv2d_bwd_data(s, dy, w, ddx);
            pn_kernels_ref.conv2d_bwd_data(s, ady, aw, bdx);
            for (size_t i = 0; i < nx; i++)
                dx.p[i] = rdx[i] = 1e30f;
            pn_kernels_ref.conv2d_pool2_bwd_data(s, ph, pw, dz, am, w, rdx, rsc.p);
            k->conv2d_pool2_bwd_data(s, ph, pw, dz, am, w, dx.p, sc.p);
            st_cpool_bd.calls++;
            st_cpool_bd.fallbacks += pn_kernel_falls_back(k, PN_KOP_conv2d_pool2_bwd_data, s);
            compare(&st_cpool_bd, rdx, ddx, bdx, nx, TOL_SUM, "scalar", shape);
            compare(&st_cpool_bd, dx.p, ddx, bdx, nx, TOL_SUM, k->isa, shape);
            check_guard(&st_cpool_bd, &dx, k->isa, shape);
            check_guard(&st_cpool_bd, &sc, k->isa, shape);
            free(w); free(aw); free(ady); free(ddx); free(bdx); free(rdx);
            gb_free(&dx);
            gb_free(&sc);
            gb_free(&rsc);
        }
    }
    free(x); free(dz); free(dw0); free(db0); free(ax); free(adz); free(adw0); free(adb0);
    free(rdw); free(rdb); free(bdw); free(bdb); free(cdw); free(cdb); free(dy); free(am);
    gb_free(&dw);
    gb_free(&db);
}

static void test_conv_pool(const pn_kernels *k, int iters)
{
    static const int chans[] = {1, 3, 17, 32, 64, 16, 48, 80};
    /* the article's blocks, spatially shrunk */
    static const int fixed[][5] = {
        /* ic oc ph pw n */
        {1, 32, 9, 19, 2}, {32, 32, 6, 13, 1}, {32, 64, 4, 7, 2}, {64, 64, 3, 5, 1}, {1, 8, 1, 1, 1},
    };
    for (size_t i = 0; i < sizeof fixed / sizeof fixed[0]; i++) {
        pn_conv2d_shape s;
        const int *f = fixed[i];
        if (conv_make_shape(&s, f[4], 2 * f[2] + 2 + (int)(i % 2), 2 * f[3] + 2, f[0], f[1], 3, 3, 1, 1, 0))
            check_conv_pool(k, &s, PN_ACT_RELU, f[2], f[3]);
    }
    for (int it = 0; it < iters; it++) {
        pn_conv2d_shape s;
        const int kh = rnd_int(1, 5), kw = rnd_int(1, 5), sh = rnd_int(1, 2), sw = rnd_int(1, 2);
        const int32_t ph = rnd_int(1, 5), pw = rnd_int(1, 14);
        const int ih = (2 * ph - 1) * sh + kh + rnd_int(0, 2), iw = (2 * pw - 1) * sw + kw + rnd_int(0, 2);
        if (!conv_make_shape(&s, rnd_int(1, 2), ih, iw, rnd() % 4 ? pick(chans, 8) : rnd_int(1, 70),
                             rnd() % 4 ? pick(chans, 8) : rnd_int(1, 70), kh, kw, sh, sw, 0))
            continue;
        check_conv_pool(k, &s, rnd() % 4 ? PN_ACT_RELU : PN_ACT_LINEAR, ph, pw);
        check_conv_pool_bwd(k, &s, ph, pw);
    }
    /* the fast paths: 3x3, stride 1 (backward-data), one input channel
     * (backward-filter); channel counts with partial vectors */
    for (int it = 0; it < iters / 2 + 6; it++) {
        static const int ocs[] = {32, 1, 8, 17, 33, 64, 20, 48};
        pn_conv2d_shape s;
        const int32_t ph = rnd_int(1, 6), pw = rnd_int(1, 20);
        if (conv_make_shape(&s, rnd_int(1, 2), 2 * ph + 2 + rnd_int(0, 1), 2 * pw + 2 + rnd_int(0, 1),
                            it % 2 ? 1 : ocs[(it / 2 + 3) % 8], it < 8 ? ocs[it] : pick(ocs, 8), 3, 3, 1, 1, 0))
            check_conv_pool_bwd(k, &s, ph, pw);
    }
}

/* ------------------------------------------------------------------ Winograd conv + pool */

/* Winograd F(4x4, 3x3) sums through transforms with coefficients up to 8 (A),
 * 5 (B) and 1/4 (G): its rounding error relative to the sum of |terms| is
 * larger than a reordered direct sum's. TOL_WINO covers the observed worst
 * case (printed as "worst err/B") with margin. */
#define TOL_WINO 5e-5

static stat st_wino = {"conv2d_pool2_wino", 0, 0, 0, 0};

/* Bound for the transformed kernel: |G| |g| |G|^T, the sum of |terms| of
 * each element (the reference's arithmetic, written out here on its own). */
static void wino_weights_bound(int ic, int oc, const float *w, float *bound)
{
    static const double G[6][3] = {{1.0 / 4, 0, 0},           {1.0 / 6, 1.0 / 6, 1.0 / 6},
                                   {1.0 / 6, 1.0 / 6, 1.0 / 6}, {1.0 / 24, 1.0 / 12, 1.0 / 6},
                                   {1.0 / 24, 1.0 / 12, 1.0 / 6}, {0, 0, 1}};
    const size_t plane = (size_t)ic * oc;
    for (size_t i = 0; i < plane; i++)
        for (int r = 0; r < 6; r++)
            for (int c = 0; c < 6; c++) {
                double sum = 0.0;
                for (int a = 0; a < 3; a++)
                    for (int b = 0; b < 3; b++)
                        sum += G[r][a] * fabs((double)w[(size_t)(a * 3 + b) * plane + i]) * G[c][b];
                bound[(size_t)(r * 6 + c) * plane + i] = (float)sum;
            }
}

/* The reference Winograd against the definition (the direct reference
 * conv2d_pool2_fwd), and k's against the reference; z and scratch between
 * guard zones. k may be the reference itself (scalar-only builds). */
static void check_wino(const pn_kernels *k, const pn_conv2d_shape *s, pn_act act, int32_t ph, int32_t pw)
{
    const size_t nx = (size_t)s->n * s->ih * s->iw * s->ic, nw = (size_t)9 * s->ic * s->oc;
    const size_t nz = (size_t)s->n * ph * pw * s->oc;
    float *x = rand_buf(nx, 0.3f), *w = rand_buf(nw, 0.0f), *b = rand_buf((size_t)s->oc, 0.0f);
    float *ax = abs_copy(x, nx), *aw = abs_copy(w, nw), *ab = abs_copy(b, (size_t)s->oc);
    float *v = xmalloc(pn_wino_weights_size(s) * sizeof(float)), *dz = xmalloc(nz * sizeof(float));
    float *rz = xmalloc(nz * sizeof(float)), *bnd = xmalloc(nz * sizeof(float));
    uint8_t *am = xmalloc(nz);
    gbuf z = gb_new(nz), rsc = gb_new(pn_wino_scratch(s)), sc = gb_new(pn_wino_scratch(s));
    const int with_bias = (int)(rnd() & 1);
    char shape[200];
    snprintf(shape, sizeof shape, "n%d %dx%dx%d -> conv %dx%dx%d, pool %dx%d %s%s", s->n, s->ih, s->iw,
             s->ic, s->oh, s->ow, s->oc, ph, pw, act == PN_ACT_RELU ? "relu" : "linear",
             with_bias ? " bias" : "");
    pn_kernels_ref.wino_weights(s->ic, s->oc, w, v);
    pn_kernels_ref.conv2d_pool2_fwd(s, act, ph, pw, x, w, with_bias ? b : NULL, dz, am);
    pn_kernels_ref.conv2d_pool2_fwd(s, PN_ACT_LINEAR, ph, pw, ax, aw, with_bias ? ab : NULL, bnd, am);
    pn_kernels_ref.conv2d_pool2_wino_fwd(s, act, ph, pw, x, v, with_bias ? b : NULL, rz, rsc.p);
    st_wino.calls++;
    compare(&st_wino, rz, dz, bnd, nz, TOL_WINO, "scalar", shape);
    check_guard(&st_wino, &rsc, "scalar", shape);
    if (k != &pn_kernels_ref) {
        /* k's transformed kernel against the reference's, then k's kernel on
         * the reference's transform */
        const size_t nv = pn_wino_weights_size(s);
        float *av = xmalloc(nv * sizeof(float));
        gbuf kv = gb_new(nv);
        k->wino_weights(s->ic, s->oc, w, kv.p);
        wino_weights_bound(s->ic, s->oc, w, av);
        compare(&st_wino, kv.p, v, av, nv, TOL_ELT, k->isa, shape);
        check_guard(&st_wino, &kv, k->isa, shape);
        free(av);
        gb_free(&kv);
        k->conv2d_pool2_wino_fwd(s, act, ph, pw, x, v, with_bias ? b : NULL, z.p, sc.p);
        compare(&st_wino, z.p, rz, bnd, nz, TOL_WINO, k->isa, shape);
        check_guard(&st_wino, &z, k->isa, shape);
        check_guard(&st_wino, &sc, k->isa, shape);
    }
    free(x); free(w); free(b); free(ax); free(aw); free(ab);
    free(v); free(dz); free(rz); free(bnd); free(am);
    gb_free(&z);
    gb_free(&rsc);
    gb_free(&sc);
}

static void test_wino(const pn_kernels *k, int iters)
{
    static const int ics[] = {8, 9, 17, 32, 64, 16, 40, 80}, ocs[] = {1, 8, 17, 32, 33, 64, 70, 16};
    /* the article's blocks, spatially shrunk; a row of more than PN_WINO_TILES patches */
    static const int fixed[][5] = {
        /* ic oc ph pw n */
        {32, 32, 6, 13, 1}, {32, 32, 3, 61, 1}, {32, 64, 4, 7, 2}, {64, 64, 3, 5, 1}, {64, 64, 1, 1, 1},
    };
    for (size_t i = 0; i < sizeof fixed / sizeof fixed[0]; i++) {
        pn_conv2d_shape s;
        const int *f = fixed[i];
        if (conv_make_shape(&s, f[4], 2 * f[2] + 2 + (int)(i % 2), 2 * f[3] + 2 + (int)(i % 3), f[0], f[1],
                            3, 3, 1, 1, 0))
            check_wino(k, &s, PN_ACT_RELU, f[2], f[3]);
    }
    for (int it = 0; it < iters; it++) {
        pn_conv2d_shape s;
        const int32_t ph = rnd_int(1, 7), pw = rnd_int(1, it % 4 ? 20 : 70);
        if (conv_make_shape(&s, rnd_int(1, 2), 2 * ph + 2 + rnd_int(0, 3), 2 * pw + 2 + rnd_int(0, 3),
                            rnd() % 4 ? pick(ics, 8) : rnd_int(PN_WINO_MIN_IC, 70),
                            rnd() % 4 ? pick(ocs, 8) : rnd_int(1, 70), 3, 3, 1, 1, 0))
            check_wino(k, &s, rnd() % 4 ? PN_ACT_RELU : PN_ACT_LINEAR, ph, pw);
    }
}

/* ------------------------------------------------------------------ dense */

static stat st_dense_fwd = {"dense_fwd", 0, 0, 0, 0}, st_dense_bd = {"dense_bwd_data", 0, 0, 0, 0},
            st_dense_bw = {"dense_bwd_weights", 0, 0, 0, 0};

static void check_dense(const pn_kernels *k, int n, int in, int out)
{
    const size_t nx = (size_t)n * in, ny = (size_t)n * out, nw = (size_t)in * out;
    char shape[96];
    float *x = rand_buf(nx, 0.4f), *w = rand_buf(nw, 0.0f), *b = rand_buf((size_t)out, 0.0f);
    float *dy = rand_buf(ny, 0.0f), *dw0 = rand_buf(nw, 0.0f), *db0 = rand_buf((size_t)out, 0.0f);
    float *ax = abs_copy(x, nx), *aw = abs_copy(w, nw), *ab = abs_copy(b, (size_t)out);
    float *ady = abs_copy(dy, ny), *adw0 = abs_copy(dw0, nw), *adb0 = abs_copy(db0, (size_t)out);
    float *ref = xmalloc((nx > ny ? nx : ny) * sizeof(float)), *bnd = xmalloc((nx > ny ? nx : ny) * sizeof(float));
    gbuf y = gb_new(ny), dx = gb_new(nx), dw = gb_new(nw), db = gb_new((size_t)out);
    const int with_bias = (int)(rnd() & 1);
    snprintf(shape, sizeof shape, "n%d in%d out%d", n, in, out);

    pn_kernels_ref.dense_fwd(n, in, out, x, w, with_bias ? b : NULL, ref);
    pn_kernels_ref.dense_fwd(n, in, out, ax, aw, with_bias ? ab : NULL, bnd);
    k->dense_fwd(n, in, out, x, w, with_bias ? b : NULL, y.p);
    st_dense_fwd.calls++;
    compare(&st_dense_fwd, y.p, ref, bnd, ny, TOL_SUM, k->isa, shape);
    check_guard(&st_dense_fwd, &y, k->isa, shape);

    pn_kernels_ref.dense_bwd_data(n, in, out, dy, w, ref);
    pn_kernels_ref.dense_bwd_data(n, in, out, ady, aw, bnd);
    k->dense_bwd_data(n, in, out, dy, w, dx.p);
    st_dense_bd.calls++;
    compare(&st_dense_bd, dx.p, ref, bnd, nx, TOL_SUM, k->isa, shape);
    check_guard(&st_dense_bd, &dx, k->isa, shape);

    {
        float *rdw = xmalloc(nw * sizeof(float)), *rdb = xmalloc((size_t)out * sizeof(float));
        float *bdw = xmalloc(nw * sizeof(float)), *bdb = xmalloc((size_t)out * sizeof(float));
        memcpy(rdw, dw0, nw * 4);
        memcpy(bdw, adw0, nw * 4);
        memcpy(dw.p, dw0, nw * 4);
        memcpy(rdb, db0, (size_t)out * 4);
        memcpy(bdb, adb0, (size_t)out * 4);
        memcpy(db.p, db0, (size_t)out * 4);
        pn_kernels_ref.dense_bwd_weights(n, in, out, x, dy, rdw, with_bias ? rdb : NULL);
        pn_kernels_ref.dense_bwd_weights(n, in, out, ax, ady, bdw, with_bias ? bdb : NULL);
        k->dense_bwd_weights(n, in, out, x, dy, dw.p, with_bias ? db.p : NULL);
        st_dense_bw.calls++;
        compare(&st_dense_bw, dw.p, rdw, bdw, nw, TOL_SUM, k->isa, shape);
        compare(&st_dense_bw, db.p, rdb, bdb, (size_t)out, TOL_SUM, k->isa, shape);
        check_guard(&st_dense_bw, &dw, k->isa, shape);
        check_guard(&st_dense_bw, &db, k->isa, shape);
        free(rdw); free(rdb); free(bdw); free(bdb);
    }
    gb_free(&y); gb_free(&dx); gb_free(&dw); gb_free(&db);
    free(x); free(w); free(b); free(dy); free(dw0); free(db0);
    free(ax); free(aw); free(ab); free(ady); free(adw0); free(adb0); free(ref); free(bnd);
}

static void test_dense(const pn_kernels *k, int iters)
{
    static const int sizes[] = {1, 3, 17, 32, 64, 128, 10, 100};
    check_dense(k, 3, 10816, 128); /* the article's first dense layer */
    check_dense(k, 16, 128, 64);
    check_dense(k, 16, 64, 1);
    for (int it = 0; it < iters; it++)
        check_dense(k, rnd_int(1, 17), rnd() % 3 ? pick(sizes, 8) : rnd_int(1, 300),
                    rnd() % 3 ? pick(sizes, 8) : rnd_int(1, 150));
}

/* ------------------------------------------------------------------ element-wise */

static stat st_act_fwd = {"act_fwd", 0, 0, 0, 0}, st_act_bwd = {"act_bwd", 0, 0, 0, 0},
            st_adam = {"adam_update", 0, 0, 0, 0}, st_sgd = {"sgd_update", 0, 0, 0, 0},
            st_bce = {"bce_logits", 0, 0, 0, 0};

static void test_eltwise(const pn_kernels *k, int iters)
{
    static const pn_act acts[] = {PN_ACT_LINEAR, PN_ACT_RELU, PN_ACT_SIGMOID, PN_ACT_TANH};
    for (int it = 0; it < iters; it++) {
        const size_t n = rnd() % 3 ? (size_t)rnd_int(0, 70) : (size_t)rnd_int(71, 5000);
        char shape[64];
        float *a = rand_buf(n, 0.1f), *d = rand_buf(n, 0.0f), *r = xmalloc((n ? n : 1) * 4);
        gbuf y = gb_new(n);
        /* mostly [-4, 4]; every fourth set reaches +-120 (exp's underflow,
         * sigmoid and tanh saturating) */
        for (size_t i = 0; i < n; i++)
            a[i] *= it % 4 == 3 ? 120.0f : 4.0f;
        for (int ai = 0; ai < 4; ai++) {
            const pn_act act = acts[ai];
            snprintf(shape, sizeof shape, "count %zu act %d", n, (int)act);
            /* forward: y = act(a) */
            memcpy(r, a, n * 4);
            memcpy(y.p, a, n * 4);
            pn_kernels_ref.act_fwd(act, n, r);
            k->act_fwd(act, n, y.p);
            st_act_fwd.calls++;
            compare(&st_act_fwd, y.p, r, NULL, n, act == PN_ACT_RELU || act == PN_ACT_LINEAR ? 0.0 : TOL_ELT,
                    k->isa, shape);
            check_guard(&st_act_fwd, &y, k->isa, shape);
            /* backward through the activation's output (r) */
            {
                float *rd = xmalloc((n ? n : 1) * 4);
                memcpy(rd, d, n * 4);
                memcpy(y.p, d, n * 4);
                pn_kernels_ref.act_bwd(act, n, r, rd);
                k->act_bwd(act, n, r, y.p);
                st_act_bwd.calls++;
                compare(&st_act_bwd, y.p, rd, NULL, n,
                        act == PN_ACT_RELU || act == PN_ACT_LINEAR ? 0.0 : TOL_ELT, k->isa, shape);
                check_guard(&st_act_bwd, &y, k->isa, shape);
                free(rd);
            }
        }
        /* Adam and SGD: w, m, v (vel) all outputs */
        {
            float *g = rand_buf(n, 0.1f), *w0 = rand_buf(n, 0.0f), *m0 = rand_buf(n, 0.0f),
                  *v0 = rand_buf(n, 0.0f);
            float *rw = xmalloc((n ? n : 1) * 4), *rm = xmalloc((n ? n : 1) * 4), *rv = xmalloc((n ? n : 1) * 4);
            gbuf w = gb_new(n), m = gb_new(n), v = gb_new(n);
            for (size_t i = 0; i < n; i++)
                v0[i] = fabsf(v0[i]) * 0.01f;
            snprintf(shape, sizeof shape, "count %zu", n);
            memcpy(rw, w0, n * 4); memcpy(rm, m0, n * 4); memcpy(rv, v0, n * 4);
            memcpy(w.p, w0, n * 4); memcpy(m.p, m0, n * 4); memcpy(v.p, v0, n * 4);
            pn_kernels_ref.adam_update(n, rw, g, rm, rv, 1e-3f, 0.9f, 0.999f, 1e-7f);
            k->adam_update(n, w.p, g, m.p, v.p, 1e-3f, 0.9f, 0.999f, 1e-7f);
            st_adam.calls++;
            compare(&st_adam, w.p, rw, NULL, n, TOL_ELT, k->isa, shape);
            compare(&st_adam, m.p, rm, NULL, n, TOL_ELT, k->isa, shape);
            compare(&st_adam, v.p, rv, NULL, n, TOL_ELT, k->isa, shape);
            check_guard(&st_adam, &w, k->isa, shape);
            check_guard(&st_adam, &m, k->isa, shape);
            check_guard(&st_adam, &v, k->isa, shape);
            for (int nesterov = 0; nesterov < 2; nesterov++) {
                memcpy(rw, w0, n * 4); memcpy(rm, m0, n * 4);
                memcpy(w.p, w0, n * 4); memcpy(m.p, m0, n * 4);
                pn_kernels_ref.sgd_update(n, rw, g, rm, 0.01f, 0.9f, nesterov);
                k->sgd_update(n, w.p, g, m.p, 0.01f, 0.9f, nesterov);
                st_sgd.calls++;
                compare(&st_sgd, w.p, rw, NULL, n, TOL_ELT, k->isa, shape);
                compare(&st_sgd, m.p, rm, NULL, n, TOL_ELT, k->isa, shape);
                check_guard(&st_sgd, &w, k->isa, shape);
                check_guard(&st_sgd, &m, k->isa, shape);
            }
            /* BCE from logits */
            if (n > 0) {
                float *lab = xmalloc(n * 4), *rp = xmalloc(n * 4), *rdz = xmalloc(n * 4);
                float *sw = xmalloc(n * 4), *bnd = xmalloc(n * 4);
                double rl, ra, rws, gl, ga, gws;
                for (size_t i = 0; i < n; i++) {
                    lab[i] = (float)(rnd() & 1);
                    sw[i] = 0.25f + fabsf(g[i]) * 20.0f; /* class-weight-like */
                }
                for (int wt = 0; wt < 2; wt++) {
                    const float *wts = wt ? sw : NULL;
                    pn_kernels_ref.bce_logits(n, a, lab, wts, rp, rdz, &rl, &ra, &rws);
                    k->bce_logits(n, a, lab, wts, w.p, m.p, &gl, &ga, &gws);
                    st_bce.calls++;
                    compare(&st_bce, w.p, rp, NULL, n, TOL_ELT, k->isa, shape);
                    /* dz = w (p - y) / n: error relative to w (|p| + |y|) / n */
                    for (size_t i = 0; i < n; i++)
                        bnd[i] = (wts ? wts[i] : 1.0f) * (fabsf(rp[i]) + lab[i]) / (float)n;
                    compare(&st_bce, m.p, rdz, bnd, n, TOL_ELT, k->isa, shape);
                    if (fabs(gl - rl) > 1e-6 * (fabs(rl) + 1.0) || ga != ra || gws != rws)
                        report_fail(&st_bce, k->isa, "sums differ", shape);
                    check_guard(&st_bce, &w, k->isa, shape);
                    check_guard(&st_bce, &m, k->isa, shape);
                }
                free(lab); free(rp); free(rdz); free(sw); free(bnd);
            }
            gb_free(&w); gb_free(&m); gb_free(&v);
            free(g); free(w0); free(m0); free(v0); free(rw); free(rm); free(rv);
        }
        gb_free(&y);
        free(a); free(d); free(r);
    }
}

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
    {"conv1 500x500x1->32", 500, 500, 1, 32}, {"conv2 249x249x32->32", 249, 249, 32, 32},
    {"conv3 123x123x32->32", 123, 123, 32, 32}, {"conv4 60x60x32->64", 60, 60, 32, 64},
    {"conv5 29x29x64->64", 29, 29, 64, 64},
};

/* Median-free best-of timing: repeat until ~min_time, report the fastest run. */
#define BENCH(min_time, best, CALL)                                                               \
    do {                                                                                          \
        double t_total = 0.0;                                                                     \
        int reps_ = 0;                                                                            \
        best = 1e30;                                                                              \
        while (reps_ < 2 || (t_total < (min_time) && reps_ < 1000)) {                             \
            double t0_ = now_s(), dt_;                                                            \
            CALL;                                                                                 \
            dt_ = now_s() - t0_;                                                                  \
            t_total += dt_;                                                                       \
            if (dt_ < best)                                                                       \
                best = dt_;                                                                       \
            reps_++;                                                                              \
        }                                                                                         \
    } while (0)

static const char *bench_pattern; /* --bench=PATTERN */

static int bench_want(const char *kernel)
{
    return !bench_pattern || strstr(kernel, bench_pattern) != NULL;
}

static void run_bench(const pn_kernels *const *tiers, int ntiers, int quick, const char *pattern)
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
        y = xmalloc(ny * 4);
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
                    BENCH(mt, best, k->conv2d_pool2_fwd(&s, PN_ACT_RELU, s.oh / 2, s.ow / 2, x, w, b, pz, pam));
                    printf("%-22s %-18s %-7s %10.3f %9.1f %6.1f%%\n", L->name, "conv2d_pool2_fwd", k->isa,
                       best * 1e3, flops / best * 1e-9, peak > 0 ? 100.0 * flops / best * 1e-9 / peak : 0.0);
                }
                if (bench_want("without argmax")) {
                    BENCH(mt, best, k->conv2d_pool2_fwd(&s, PN_ACT_RELU, s.oh / 2, s.ow / 2, x, w, b, pz, NULL));
                    printf("%-22s %-18s %-7s %10.3f %9.1f %6.1f%%\n", L->name, "  without argmax", k->isa,
                       best * 1e3, flops / best * 1e-9, peak > 0 ? 100.0 * flops / best * 1e-9 / peak : 0.0);
                }
                free(pz);
                free(pam);
            }
            if (s.ic >= PN_WINO_MIN_IC) { /* dense-equivalent GFLOP/s */
                float *pz = xmalloc(ny / 4 * 4 + 64);
                float *v = xmalloc(pn_wino_weights_size(&s) * 4), *sc = xmalloc(pn_wino_scratch(&s) * 4);
                k->wino_weights(s.ic, s.oc, w, v);
                if (bench_want("conv2d_pool2_wino")) {
                    BENCH(mt, best, k->conv2d_pool2_wino_fwd(&s, PN_ACT_RELU, s.oh / 2, s.ow / 2, x, v, b, pz, sc));
                    printf("%-22s %-18s %-7s %10.3f %9.1f %6.1f%%\n", L->name, "conv2d_pool2_wino", k->isa,
                       best * 1e3, flops / best * 1e-9, peak > 0 ? 100.0 * flops / best * 1e-9 / peak : 0.0);
                }
                free(pz);
                free(v);
                free(sc);
            }
            if (li > 0) { /* the first layer needs no dx */
                if (bench_want("conv2d_bwd_data")) {
                    BENCH(mt, best, k->conv2d_bwd_data(&s, dy, w, dx));
                    printf("%-22s %-18s %-7s %10.3f %9.1f %6.1f%%\n", L->name, "conv2d_bwd_data", k->isa,
                       best * 1e3, flops / best * 1e-9, peak > 0 ? 100.0 * flops / best * 1e-9 / peak : 0.0);
                }
            }
            if (li > 0) {
                /* from a pooled gradient with half the windows ReLU-inactive */
                const size_t npz = (size_t)(s.oh / 2) * (s.ow / 2) * s.oc;
                float *pz = rand_buf(npz, 0.5f), *sc = xmalloc(pn_pool2_bwd_scratch(&s) * 4);
                uint8_t *pam = xmalloc(npz + 16);
                for (size_t i = 0; i < npz; i++)
                    pam[i] = (uint8_t)(rnd() % 4);
                if (bench_want("conv2d_pool2_bwd_d")) {
                    BENCH(mt, best, k->conv2d_pool2_bwd_data(&s, s.oh / 2, s.ow / 2, pz, pam, w, dx, sc));
                    printf("%-22s %-18s %-7s %10.3f %9.1f %6.1f%%\n", L->name, "conv2d_pool2_bwd_d", k->isa,
                       best * 1e3, flops / best * 1e-9, peak > 0 ? 100.0 * flops / best * 1e-9 / peak : 0.0);
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
                if (bench_want("conv2d_pool2_bwd_f")) {
                    BENCH(mt, best, k->conv2d_pool2_bwd_filter(&s, s.oh / 2, s.ow / 2, x, dy, pam, dw, db, sc));
                    printf("%-22s %-18s %-7s %10.3f %9.1f %6.1f%%\n", L->name, "conv2d_pool2_bwd_f", k->isa,
                       best * 1e3, flops / best * 1e-9, peak > 0 ? 100.0 * flops / best * 1e-9 / peak : 0.0);
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
            ps.n = 1; ps.ih = s.oh; ps.iw = s.ow; ps.c = s.oc; ps.ph = ps.pw = ps.sh = ps.sw = 2;
            ps.oh = pn_window_out(ps.ih, 2, 2, 0, &ps.pad_top);
            ps.ow = pn_window_out(ps.iw, 2, 2, 0, &ps.pad_left);
            py = xmalloc((size_t)ps.oh * ps.ow * ps.c * 4);
            pdx = xmalloc(ny * 4);
            am = xmalloc((size_t)ps.oh * ps.ow * ps.c);
            for (int t = 0; t < ntiers; t++) {
                const pn_kernels *k = tiers[t];
                double best;
                if (bench_want("act_fwd relu")) {
                    BENCH(min_time, best, k->act_fwd(PN_ACT_RELU, ny, y));
                    printf("%-22s %-18s %-7s %10.3f %8.1f GB/s\n", L->name, "act_fwd relu", k->isa, best * 1e3,
                       2.0 * (double)ny * 4 / best * 1e-9);
                }
                if (bench_want("act_bwd relu")) {
                    BENCH(min_time, best, k->act_bwd(PN_ACT_RELU, ny, y, dy));
                    printf("%-22s %-18s %-7s %10.3f %8.1f GB/s\n", L->name, "act_bwd relu", k->isa, best * 1e3,
                       3.0 * (double)ny * 4 / best * 1e-9);
                }
                if (bench_want("maxpool_fwd 2x2")) {
                    BENCH(min_time, best, k->maxpool_fwd(&ps, y, py, am));
                    printf("%-22s %-18s %-7s %10.3f %8.1f GB/s\n", L->name, "maxpool_fwd 2x2", k->isa, best * 1e3,
                       1.3 * (double)ny * 4 / best * 1e-9);
                }
                if (bench_want("maxpool_bwd 2x2")) {
                    BENCH(min_time, best, k->maxpool_bwd(&ps, py, am, pdx));
                    printf("%-22s %-18s %-7s %10.3f %8.1f GB/s\n", L->name, "maxpool_bwd 2x2", k->isa, best * 1e3,
                       1.3 * (double)ny * 4 / best * 1e-9);
                }
            }
            free(py); free(pdx); free(am);
        }
        free(x); free(w); free(b); free(y); free(dy); free(dx); free(dw); free(db);
    }
    /* dense 10816 -> 128 at batch 16, and Adam over the model's 1.4 M parameters */
    {
        const int n = 16, in = 10816, out = 128;
        const size_t np = 1400000;
        float *x = rand_buf((size_t)n * in, 0.5f), *w = rand_buf((size_t)in * out, 0.0f);
        float *b = rand_buf((size_t)out, 0.0f), *y = xmalloc((size_t)n * out * 4);
        float *dx = xmalloc((size_t)n * in * 4), *dw = calloc((size_t)in * out, 4), *db = calloc((size_t)out, 4);
        float *pw = rand_buf(np, 0.0f), *pg = rand_buf(np, 0.0f), *pm = calloc(np, 4), *pv = calloc(np, 4);
        const double fl = 2.0 * n * in * out;
        for (int t = 0; t < ntiers; t++) {
            const pn_kernels *k = tiers[t];
            double best;
            BENCH(min_time, best, k->dense_fwd(n, in, out, x, w, b, y));
            printf("%-22s %-18s %-7s %10.3f %9.1f\n", "dense 10816->128 n16", "dense_fwd", k->isa, best * 1e3,
                   fl / best * 1e-9);
            BENCH(min_time, best, k->dense_bwd_data(n, in, out, y, w, dx));
            printf("%-22s %-18s %-7s %10.3f %9.1f\n", "dense 10816->128 n16", "dense_bwd_data", k->isa,
                   best * 1e3, fl / best * 1e-9);
            BENCH(min_time, best, k->dense_bwd_weights(n, in, out, x, y, dw, db));
            printf("%-22s %-18s %-7s %10.3f %9.1f\n", "dense 10816->128 n16", "dense_bwd_weights", k->isa,
                   best * 1e3, fl / best * 1e-9);
            BENCH(min_time, best, k->adam_update(np, pw, pg, pm, pv, 1e-3f, 0.9f, 0.999f, 1e-7f));
            printf("%-22s %-18s %-7s %10.3f %8.1f GB/s\n", "adam 1.4M params", "adam_update", k->isa,
                   best * 1e3, 28.0 * (double)np / best * 1e-9);
        }
        free(x); free(w); free(b); free(y); free(dx); free(dw); free(db);
        free(pw); free(pg); free(pm); free(pv);
    }
}

/* ------------------------------------------------------------------ main */

/* Which ops each test group checks (for --test and the same-pointer skip). */
typedef struct group {
    const char *name;
    void (*run)(const pn_kernels *k, int iters);
    int iters, quick_iters;
    pn_kernel_op ops[6];
    int nops;
} group;

static const group groups[] = {
    {"conv", test_conv, 300, 60, {PN_KOP_conv2d_fwd, PN_KOP_conv2d_bwd_data, PN_KOP_conv2d_bwd_filter}, 3},
    {"pool", test_pool, 200, 60, {PN_KOP_maxpool_fwd, PN_KOP_maxpool_bwd}, 2},
    {"conv_pool", test_conv_pool, 150, 40,
     {PN_KOP_conv2d_pool2_fwd, PN_KOP_conv2d_pool2_bwd_filter, PN_KOP_conv2d_pool2_bwd_data}, 3},
    {"wino", test_wino, 100, 30, {PN_KOP_conv2d_pool2_wino_fwd, PN_KOP_wino_weights}, 2},
    {"dense", test_dense, 60, 20, {PN_KOP_dense_fwd, PN_KOP_dense_bwd_data, PN_KOP_dense_bwd_weights}, 3},
    {"eltwise", test_eltwise, 60, 20,
     {PN_KOP_act_fwd, PN_KOP_act_bwd, PN_KOP_bce_logits, PN_KOP_adam_update, PN_KOP_sgd_update}, 5},
};
#define NGROUPS (sizeof groups / sizeof groups[0])

/* A group matches PATTERN when the pattern is a substring of its name or of
 * one of its ops' names (NULL matches everything). */
static int group_matches(const group *g, const char *pattern)
{
    if (!pattern || strstr(g->name, pattern))
        return 1;
    for (int i = 0; i < g->nops; i++)
        if (strstr(pn_kernel_op_name(g->ops[i]), pattern))
            return 1;
    return 0;
}

/* Whether tier t has a function for an op of g that no lower tier (the
 * reference included) already has: dav1d skips re-testing a pointer. */
static int group_new_at(const group *g, const pn_kernels *const *tiers, int t)
{
    for (int i = 0; i < g->nops; i++) {
        int seen = 0;
        for (int u = 0; u < t && !seen; u++)
            seen = pn_kernel_fn(tiers[u], g->ops[i]) == pn_kernel_fn(tiers[t], g->ops[i]);
        if (!seen)
            return 1;
    }
    return 0;
}

static void list_kernels(const pn_kernels *const *tiers, int ntiers)
{
    printf("%-24s", "op");
    for (int t = 0; t < ntiers; t++)
        printf(" %-31s", tiers[t]->isa);
    printf("\n");
    for (int op = 0; op < PN_KOP_COUNT; op++) {
        printf("%-24s", pn_kernel_op_name((pn_kernel_op)op));
        for (int t = 0; t < ntiers; t++) {
            char fn[64];
            snprintf(fn, sizeof fn, "%s__%s", pn_kernel_op_name((pn_kernel_op)op),
                     strcmp(tiers[t]->impl[op], "scalar") == 0 ? "ref" : tiers[t]->impl[op]);
            printf(" %-31s", fn);
        }
        printf("\n");
    }
    printf("in use (PNEUMO_ISA applied): %s\n", pn_kernels_get()->isa);
}

static void usage(const char *prog)
{
    fprintf(stderr,
            "usage: %s [--seed=N] [--isa=NAME] [--test=PATTERN] [--bench[=PATTERN]] [--quick] [--list]\n"
            "  --test=PATTERN  only the test groups (conv, pool, conv_pool, wino, dense, eltwise)\n"
            "                  whose name or one of whose ops' names contains PATTERN\n"
            "  --bench=PATTERN timings of the layers whose kernel name contains PATTERN\n"
            "  --list          the function each tier uses per op, then exit\n",
            prog);
}

int main(int argc, char **argv)
{
    const char *only = NULL, *test_pat = NULL, *bench_pat = NULL;
    int bench = 0, quick = 0, list = 0, ntiers = 0, nall;
    uint64_t seed = 1;
    const pn_kernel_tier *all = pn_kernel_tiers(&nall);
    const pn_kernels *tiers[8];
    stat *stats[] = {&st_conv_fwd, &st_conv_bd, &st_conv_bf, &st_pool_fwd, &st_pool_bwd,
                     &st_dense_fwd, &st_dense_bd, &st_dense_bw, &st_act_fwd, &st_act_bwd,
                     &st_adam, &st_sgd, &st_bce, &st_cpool, &st_cpool_bf, &st_cpool_bd, &st_wino};

    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--bench") == 0)
            bench = 1;
        else if (strncmp(argv[i], "--bench=", 8) == 0)
            bench = 1, bench_pat = argv[i] + 8;
        else if (strncmp(argv[i], "--test=", 7) == 0)
            test_pat = argv[i] + 7;
        else if (strcmp(argv[i], "--list") == 0)
            list = 1;
        else if (strcmp(argv[i], "--quick") == 0)
            quick = 1;
        else if (strncmp(argv[i], "--seed=", 7) == 0)
            seed = strtoull(argv[i] + 7, NULL, 10);
        else if (strncmp(argv[i], "--isa=", 6) == 0)
            only = argv[i] + 6;
        else {
            usage(argv[0]);
            return 2;
        }
    }
    printf("checkasm: seed %" PRIu64 ", CPU tier %s, selected %s\n", seed, pn_cpu_flags_name(pn_cpu_flags()),
           pn_kernels_get()->isa);
    for (int i = 0; i < nall && ntiers < 8; i++) {
        const pn_kernels *k = pn_kernels_for_isa(all[i].name);
        if (only && strcmp(only, all[i].name) != 0 && i > 0)
            continue;
        if (!k) {
            printf("  %-7s not supported by this CPU: skipped\n", all[i].name);
            continue;
        }
        tiers[ntiers++] = k;
    }
    if (pn_kernels_for_isa("scalar") != &pn_kernels_ref || pn_kernels_for_isa("bogus") != NULL) {
        fprintf(stderr, "FAIL pn_kernels_for_isa\n");
        return 1;
    }
    for (int op = 0; op < PN_KOP_COUNT; op++)
        if (!pn_kernel_fn(&pn_kernels_ref, (pn_kernel_op)op) || !pn_kernels_ref.impl[op]) {
            fprintf(stderr, "FAIL reference slot %d empty\n", op);
            return 1;
        }
    if (list) {
        list_kernels(tiers, ntiers);
        return 0;
    }

    for (int t = 1; t < ntiers; t++) {
        const pn_kernels *k = tiers[t];
        int tested[NGROUPS] = {0};
        rng_state = seed;
        for (size_t i = 0; i < sizeof stats / sizeof stats[0]; i++)
            stats[i]->calls = stats[i]->fails = stats[i]->fallbacks = 0, stats[i]->worst = 0.0;
        for (size_t g = 0; g < NGROUPS; g++) {
            if (!group_matches(&groups[g], test_pat))
                continue;
            if (!group_new_at(&groups[g], tiers, t)) {
                printf("  %-7s %-10s same functions as a lower tier: not retested\n", k->isa, groups[g].name);
                continue;
            }
            groups[g].run(k, quick ? groups[g].quick_iters : groups[g].iters);
            tested[g] = 1;
        }
        printf("\n%-7s %-24s %-7s %7s %9s %6s %12s\n", "isa", "kernel", "impl", "shapes", "fallback", "fails",
               "worst err/B");
        for (size_t g = 0; g < NGROUPS; g++)
            for (int i = 0; tested[g] && i < groups[g].nops; i++) {
                const char *name = pn_kernel_op_name(groups[g].ops[i]);
                const stat *st = NULL;
                for (size_t j = 0; j < sizeof stats / sizeof stats[0] && !st; j++)
                    if (strcmp(name, stats[j]->name) == 0 ||
                        (groups[g].ops[0] == PN_KOP_conv2d_pool2_wino_fwd && stats[j] == &st_wino))
                        st = stats[j];
                if (st)
                    printf("%-7s %-24s %-7s %7d %9d %6d %12.2e\n", k->isa, name, k->impl[groups[g].ops[i]],
                           st->calls, st->fallbacks, st->fails, st->worst);
            }
    }
    if (ntiers <= 1 && group_matches(&groups[3], test_pat)) {
        /* the reference Winograd kernel against its definition still runs */
        rng_state = seed;
        test_wino(&pn_kernels_ref, quick ? 30 : 100);
        printf("\n%-7s %-18s %7s %6s %12s\n", "isa", "kernel", "checks", "fails", "worst err/B");
        printf("%-7s %-18s %7d %6d %12.2e\n", "scalar", st_wino.name, st_wino.calls, st_wino.fails,
               st_wino.worst);
        printf("only the scalar tier is available: nothing else to compare\n");
    }
    printf("%s\n", total_fail ? "checkasm: FAILED" : "checkasm: all passed");
    if (bench && !total_fail)
        run_bench(tiers, ntiers, quick, bench_pat);
    return total_fail ? 1 : 0;
}
