/* Conv2D, the fused conv + pool block and Winograd kernels against the reference. */
#include "checkasm.h"

/* ------------------------------------------------------------------ conv */

stat st_conv_fwd = {.name = "conv2d_fwd"}, st_conv_bd = {.name = "conv2d_bwd_data"},
     st_conv_bf = {.name = "conv2d_bwd_filter"};

int conv_make_shape(pn_conv2d_shape *s, int n, int ih, int iw, int ic, int oc, int kh, int kw, int sh, int sw,
                    int same)
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
    snprintf(buf, len, "n%d %dx%dx%d -> %dx%dx%d k%dx%d s%dx%d pad %d,%d", s->n, s->ih, s->iw, s->ic, s->oh,
             s->ow, s->oc, s->kh, s->kw, s->sh, s->sw, s->pad_top, s->pad_left);
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
    float *ref = xmalloc((ny > nx ? ny : nx) * sizeof(float)),
          *bnd = xmalloc((ny > nx ? ny : nx) * sizeof(float));
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
        note_call(&st_conv_fwd, shape, 0);
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
        note_call(&st_conv_bd, shape, pn_kernel_falls_back(k, PN_KOP_conv2d_bwd_data, s));
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
        note_call(&st_conv_bf, shape, 0);
        compare(&st_conv_bf, dw.p, rdw, bdw, nw, TOL_SUM, k->isa, shape);
        compare(&st_conv_bf, db.p, rdb, bdb, (size_t)s->oc, TOL_SUM, k->isa, shape);
        check_guard(&st_conv_bf, &dw, k->isa, shape);
        check_guard(&st_conv_bf, &db, k->isa, shape);
        gb_free(&dw);
        gb_free(&db);
    }
    free(x);
    free(w);
    free(b);
    free(dy);
    free(dw0);
    free(db0);
    free(ax);
    free(aw);
    free(ab);
    free(ady);
    free(adw0);
    free(adb0);
    free(ref);
    free(bnd);
    free(rdw);
    free(rdb);
    free(bdw);
    free(bdb);
}

void test_conv(const pn_kernels *k, int iters)
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

/* ------------------------------------------------------------------ fused conv + pool */

stat st_cpool = {.name = "conv2d_pool2_fwd"}, st_cpool_bf = {.name = "conv2d_pool2_bwd_filter"},
     st_cpool_bd = {.name = "conv2d_pool2_bwd_data"};

/* k's fused kernel must equal k's own conv2d_fwd + act_fwd + maxpool_fwd bit
 * for bit (values and argmax), for the reference tier and for k; and k's
 * pooled values must match the reference within the conv tolerance. */
static void check_conv_pool_tier(const pn_kernels *k, const pn_conv2d_shape *s, pn_act act, int32_t ph,
                                 int32_t pw, const float *x, const float *w, const float *b, float *ref_z,
                                 const char *shape)
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
    note_call(&st_cpool, shape, 0);
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

static void check_conv_pool(const pn_kernels *k, const pn_conv2d_shape *s, pn_act act, int32_t ph, int32_t pw)
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
    free(x);
    free(w);
    free(b);
    free(ax);
    free(aw);
    free(ab);
    free(rz);
    free(kz);
    free(bnd);
    free(bam);
}

/* The block's parameter gradients from the pooled gradient, against the
 * reference, and the reference against the rebuilt conv gradient (maxpool_bwd
 * then conv2d_bwd_filter): accumulating into non-zero dw / db. */
static void check_conv_pool_bwd(const pn_kernels *k, const pn_conv2d_shape *s, int32_t ph, int32_t pw)
{
    const size_t nx = (size_t)s->n * s->ih * s->iw * s->ic, nw = (size_t)s->kh * s->kw * s->ic * s->oc;
    const size_t nz = (size_t)s->n * ph * pw * s->oc, ny = (size_t)s->n * s->oh * s->ow * s->oc;
    const size_t oc = (size_t)s->oc;
    float *x = rand_buf(nx, 0.3f), *dz = rand_buf(nz, 0.3f), *dw0 = rand_buf(nw, 0.0f),
          *db0 = rand_buf(oc, 0.0f);
    float *ax = abs_copy(x, nx), *adz = abs_copy(dz, nz), *adw0 = abs_copy(dw0, nw),
          *adb0 = abs_copy(db0, oc);
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
    note_call(&st_cpool_bf, shape, pn_kernel_falls_back(k, PN_KOP_conv2d_pool2_bwd_filter, s));
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
            pn_kernels_ref.maxpool_bwd(&ps, dz + (size_t)n * ph * pw * oc, am + (size_t)n * ph * pw * oc,
                                       tmp);
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
            note_call(&st_cpool_bd, shape, pn_kernel_falls_back(k, PN_KOP_conv2d_pool2_bwd_data, s));
            compare(&st_cpool_bd, rdx, ddx, bdx, nx, TOL_SUM, "scalar", shape);
            compare(&st_cpool_bd, dx.p, ddx, bdx, nx, TOL_SUM, k->isa, shape);
            check_guard(&st_cpool_bd, &dx, k->isa, shape);
            check_guard(&st_cpool_bd, &sc, k->isa, shape);
            free(w);
            free(aw);
            free(ady);
            free(ddx);
            free(bdx);
            free(rdx);
            gb_free(&dx);
            gb_free(&sc);
            gb_free(&rsc);
        }
    }
    free(x);
    free(dz);
    free(dw0);
    free(db0);
    free(ax);
    free(adz);
    free(adw0);
    free(adb0);
    free(rdw);
    free(rdb);
    free(bdw);
    free(bdb);
    free(cdw);
    free(cdb);
    free(dy);
    free(am);
    gb_free(&dw);
    gb_free(&db);
}

void test_conv_pool(const pn_kernels *k, int iters)
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
     * (forward and backward-filter); channel counts with partial vectors */
    for (int it = 0; it < iters / 2 + 6; it++) {
        static const int ocs[] = {32, 1, 8, 17, 33, 64, 20, 48};
        pn_conv2d_shape s;
        const int32_t ph = rnd_int(1, 6), pw = rnd_int(1, 20);
        if (conv_make_shape(&s, rnd_int(1, 2), 2 * ph + 2 + rnd_int(0, 1), 2 * pw + 2 + rnd_int(0, 1),
                            it % 2 ? 1 : ocs[(it / 2 + 3) % 8], it < 8 ? ocs[it] : pick(ocs, 8), 3, 3, 1, 1,
                            0)) {
            if (s.ic == 1)
                check_conv_pool(k, &s, it % 4 == 1 ? PN_ACT_LINEAR : PN_ACT_RELU, ph, pw);
            check_conv_pool_bwd(k, &s, ph, pw);
        }
    }
}

/* ------------------------------------------------------------------ Winograd conv + pool */

/* Winograd F(4x4, 3x3) sums through transforms with coefficients up to 8 (A),
 * 5 (B) and 1/4 (G): its rounding error relative to the sum of |terms| is
 * larger than a reordered direct sum's. TOL_WINO covers the observed worst
 * case (printed as "worst err/B") with margin. */
#define TOL_WINO 5e-5

stat st_wino = {.name = "conv2d_pool2_wino"};

/* Bound for the transformed kernel: |G| |g| |G|^T, the sum of |terms| of
 * each element (the reference's arithmetic, written out here on its own). */
static void wino_weights_bound(int ic, int oc, const float *w, float *bound)
{
    static const double G[6][3] = {{1.0 / 4, 0, 0},
                                   {1.0 / 6, 1.0 / 6, 1.0 / 6},
                                   {1.0 / 6, 1.0 / 6, 1.0 / 6},
                                   {1.0 / 24, 1.0 / 12, 1.0 / 6},
                                   {1.0 / 24, 1.0 / 12, 1.0 / 6},
                                   {0, 0, 1}};
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
    snprintf(shape, sizeof shape, "n%d %dx%dx%d -> conv %dx%dx%d, pool %dx%d %s%s", s->n, s->ih, s->iw, s->ic,
             s->oh, s->ow, s->oc, ph, pw, act == PN_ACT_RELU ? "relu" : "linear", with_bias ? " bias" : "");
    pn_kernels_ref.wino_weights(s->ic, s->oc, w, v);
    pn_kernels_ref.conv2d_pool2_fwd(s, act, ph, pw, x, w, with_bias ? b : NULL, dz, am);
    pn_kernels_ref.conv2d_pool2_fwd(s, PN_ACT_LINEAR, ph, pw, ax, aw, with_bias ? ab : NULL, bnd, am);
    pn_kernels_ref.conv2d_pool2_wino_fwd(s, act, ph, pw, x, v, with_bias ? b : NULL, rz, rsc.p);
    note_call(&st_wino, shape, 0);
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
    free(x);
    free(w);
    free(b);
    free(ax);
    free(aw);
    free(ab);
    free(v);
    free(dz);
    free(rz);
    free(bnd);
    free(am);
    gb_free(&z);
    gb_free(&rsc);
    gb_free(&sc);
}

void test_wino(const pn_kernels *k, int iters)
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
        if (conv_make_shape(&s, f[4], 2 * f[2] + 2 + (int)(i % 2), 2 * f[3] + 2 + (int)(i % 3), f[0], f[1], 3,
                            3, 1, 1, 0))
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
