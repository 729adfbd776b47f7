/* Finite-difference gradient checks of every layer and of the full model loss,
 * plus Keras' output-size and padding rules and a naive convolution reference.
 *
 * Layer checks use L = sum(R * y) for a fixed random R, so dL/dy = R, and
 * compare the layer's dL/dx, dL/dw, dL/db with central differences
 * (sum R * (y(p + h) - y(p - h))) / (p+ - p-), accumulated in double from the
 * float32 outputs; p+ - p- is the perturbation actually stored in float.
 * Points where the perturbation flips a ReLU or moves a max-pool argmax are
 * detected exactly (the activation pattern / argmax array changes) and skipped,
 * so kinks never produce false failures and can never hide a real error. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kernels/kernels.h"
#include "layers/layer.h"
#include "model/model.h"
#include "pneumo/pneumo.h"
#include "testutil.h"

/* ------------------------------------------------------------------------ */
/* Comparison of an analytic gradient `a` with a finite-difference one `b`.
 *
 * Two criteria, both must hold:
 *  - element-wise, ggml-style: |a - b| / max(1, |a|, |b|) <= GC_ELEM_TOL;
 *  - whole tensor: ||a - b||_2 / max(||a||_2, ||b||_2, GC_L2_FLOOR) <= GC_L2_TOL.
 * The L2 criterion catches scale errors in small gradients (where the max(1, .)
 * floor of the element criterion is lenient); the element criterion catches a
 * single wrong entry in a large tensor. Correct gradients show errors of at
 * most ~3e-4 on either criterion (float32 forward, h = 1e-2 / 1e-3), so 5e-3
 * leaves a >15x margin (e.g. for FMA or SIMD kernels), while a 10% scale error
 * (L2 error ~0.095), a sign flip, a swap or one entry off by 0.05 fails, see
 * test_compare_self_test. */
#define GC_ELEM_TOL 5e-3
#define GC_L2_TOL 5e-3
#define GC_L2_FLOOR 1e-3

typedef struct cmp_result {
    double max_elem; /* worst normalised element error */
    double rel_l2;   /* relative L2 error */
    size_t worst;    /* index of the worst element */
} cmp_result;

static int grads_close(const double *a, const double *b, size_t n, cmp_result *r)
{
    double num = 0.0, na = 0.0, nb = 0.0;
    r->max_elem = 0.0;
    r->rel_l2 = 0.0;
    r->worst = 0;
    for (size_t i = 0; i < n; i++) {
        double d = fabs(a[i] - b[i]);
        double s = fmax(1.0, fmax(fabs(a[i]), fabs(b[i])));
        if (!isfinite(a[i]) || !isfinite(b[i]))
            d = INFINITY;
        if (d / s > r->max_elem || (isnan(d) && r->max_elem == r->max_elem)) {
            r->max_elem = d / s;
            r->worst = i;
        }
        num += (a[i] - b[i]) * (a[i] - b[i]);
        na += a[i] * a[i];
        nb += b[i] * b[i];
    }
    r->rel_l2 = sqrt(num) / fmax(fmax(sqrt(na), sqrt(nb)), GC_L2_FLOOR);
    return r->max_elem <= GC_ELEM_TOL && r->rel_l2 <= GC_L2_TOL && !isnan(r->rel_l2);
}

/* ------------------------------------------------------------------------ */
/* Stand-alone layers: the test owns the parameters. */

static void attach_params(pn_layer *l, uint64_t *rng, float wscale)
{
    l->w = l->dw = l->b = l->db = NULL;
    if (l->nw) {
        l->w = calloc((size_t)l->nw, sizeof(float));
        l->dw = calloc((size_t)l->nw, sizeof(float));
        assert_non_null(l->w);
        assert_non_null(l->dw);
        tu_fill(rng, l->w, (size_t)l->nw, -wscale, wscale);
    }
    if (l->nb) {
        l->b = calloc((size_t)l->nb, sizeof(float));
        l->db = calloc((size_t)l->nb, sizeof(float));
        assert_non_null(l->b);
        assert_non_null(l->db);
        tu_fill(rng, l->b, (size_t)l->nb, -0.5f, 0.5f);
    }
}

static void release_layer(pn_layer *l)
{
    free(l->w);
    free(l->b);
    free(l->dw);
    free(l->db);
    l->w = l->b = l->dw = l->db = NULL;
    if (l->ops && l->ops->destroy)
        l->ops->destroy(l);
}

/* Non-differentiable structure of a forward pass: ReLU on/off per output and
 * max-pool argmax. Two passes with the same pattern lie on one smooth piece. */
static size_t layer_pattern(const pn_layer *l, int32_t n, const float *y, uint8_t *pat)
{
    size_t count = (size_t)n * (size_t)pn_dims_size(&l->out);
    if (l->kind == PN_LAYER_MAXPOOL2D) {
        memcpy(pat, l->argmax, count);
        return count;
    }
    if ((l->kind == PN_LAYER_CONV2D || l->kind == PN_LAYER_DENSE ||
         l->kind == PN_LAYER_ACTIVATION) &&
        l->act == PN_ACT_RELU) {
        for (size_t i = 0; i < count; i++)
            pat[i] = y[i] > 0.0f;
        return count;
    }
    return 0;
}

typedef struct fd_report {
    cmp_result x, w, b;
    int ok_x, ok_w, ok_b;
    size_t points, skipped;
} fd_report;

typedef struct fd_ctx {
    pn_layer *l;
    pn_run run;
    int32_t n;
    float *x, *y, *yp, *ym, *R;
    uint8_t *pat0, *pat;
    size_t nout, npat;
} fd_ctx;

static void ctx_forward(fd_ctx *c, float *y)
{
    assert_int_equal(c->l->ops->forward(c->l, &c->run, c->n, c->x, y), PNEUMO_OK);
}

/* Central difference of L = sum(R y) with respect to *p; returns 0 (and sets
 * *skip) when the perturbation changes the activation pattern. */
static double fd_point(fd_ctx *c, float *p, double h, int *skip)
{
    const float v = *p;
    const float vp = (float)((double)v + h), vm = (float)((double)v - h);
    double sum = 0.0;
    *skip = 0;
    *p = vp;
    ctx_forward(c, c->yp);
    if (c->npat && (layer_pattern(c->l, c->n, c->yp, c->pat), memcmp(c->pat, c->pat0, c->npat)))
        *skip = 1;
    *p = vm;
    ctx_forward(c, c->ym);
    if (c->npat && (layer_pattern(c->l, c->n, c->ym, c->pat), memcmp(c->pat, c->pat0, c->npat)))
        *skip = 1;
    *p = v;
    if (*skip)
        return 0.0;
    for (size_t i = 0; i < c->nout; i++)
        sum += (double)c->R[i] * ((double)c->yp[i] - (double)c->ym[i]);
    return sum / ((double)vp - (double)vm);
}

static void fd_vector(fd_ctx *c, float *p, size_t count, double h, const double *analytic,
                      double *fd, fd_report *rep)
{
    for (size_t i = 0; i < count; i++) {
        int skip;
        fd[i] = fd_point(c, &p[i], h, &skip);
        rep->points++;
        if (skip) {
            fd[i] = analytic[i]; /* a kink lies inside [p - h, p + h]: not comparable */
            rep->skipped++;
        }
    }
}

/* Run forward/backward of a set-up layer on x (n samples) with kernels `k`,
 * then compare dL/dx, dL/dw, dL/db with finite differences of step h. */
static void fd_check_layer(pn_layer *l, const pn_kernels *k, int training, int32_t n, float *x,
                           double h, uint64_t rseed, fd_report *rep)
{
    const size_t nin = (size_t)n * (size_t)pn_dims_size(&l->in);
    const size_t nout = (size_t)n * (size_t)pn_dims_size(&l->out);
    const size_t nw = (size_t)l->nw, nb = (size_t)l->nb;
    fd_ctx c;
    float *dy, *dx;
    double *ax, *aw, *ab, *fx, *fw, *fb;
    uint64_t rng = rseed;

    memset(rep, 0, sizeof *rep);
    memset(&c, 0, sizeof c);
    c.l = l;
    c.run = (pn_run){.k = k, .training = training, .seed = 0x5eedull, .step = 3};
    c.n = n;
    c.x = x;
    c.nout = nout;
    c.y = malloc(nout * sizeof(float));
    c.yp = malloc(nout * sizeof(float));
    c.ym = malloc(nout * sizeof(float));
    c.R = malloc(nout * sizeof(float));
    c.pat0 = malloc(nout);
    c.pat = malloc(nout);
    dy = malloc(nout * sizeof(float));
    dx = malloc(nin * sizeof(float));
    ax = malloc(nin * sizeof(double));
    fx = malloc(nin * sizeof(double));
    aw = malloc((nw + 1) * sizeof(double));
    fw = malloc((nw + 1) * sizeof(double));
    ab = malloc((nb + 1) * sizeof(double));
    fb = malloc((nb + 1) * sizeof(double));
    assert_true(c.y && c.yp && c.ym && c.R && c.pat0 && c.pat && dy && dx && ax && fx && aw &&
                fw && ab && fb);
    tu_fill(&rng, c.R, nout, -1.0f, 1.0f);

    /* analytic */
    ctx_forward(&c, c.y);
    c.npat = layer_pattern(l, n, c.y, c.pat0);
    memcpy(dy, c.R, nout * sizeof(float));
    if (nw)
        memset(l->dw, 0, nw * sizeof(float));
    if (nb)
        memset(l->db, 0, nb * sizeof(float));
    for (size_t i = 0; i < nin; i++)
        dx[i] = NAN; /* backward must overwrite every element */
    assert_int_equal(l->ops->backward(l, &c.run, n, x, c.y, dy, dx), PNEUMO_OK);
    for (size_t i = 0; i < nin; i++)
        ax[i] = dx[i];
    for (size_t i = 0; i < nw; i++)
        aw[i] = l->dw[i];
    for (size_t i = 0; i < nb; i++)
        ab[i] = l->db[i];

    /* numeric */
    fd_vector(&c, x, nin, h, ax, fx, rep);
    if (nw)
        fd_vector(&c, l->w, nw, h, aw, fw, rep);
    if (nb)
        fd_vector(&c, l->b, nb, h, ab, fb, rep);
    rep->ok_x = grads_close(ax, fx, nin, &rep->x);
    rep->ok_w = nw ? grads_close(aw, fw, nw, &rep->w) : 1;
    rep->ok_b = nb ? grads_close(ab, fb, nb, &rep->b) : 1;

    free(c.y);
    free(c.yp);
    free(c.ym);
    free(c.R);
    free(c.pat0);
    free(c.pat);
    free(dy);
    free(dx);
    free(ax);
    free(fx);
    free(aw);
    free(fw);
    free(ab);
    free(fb);
}

static int report_ok(const fd_report *r) { return r->ok_x && r->ok_w && r->ok_b; }

static void print_report(const char *what, const fd_report *r)
{
    printf("%s: dx %.2e/%.2e  dw %.2e/%.2e  db %.2e/%.2e  (elem/L2)  skipped %zu/%zu\n", what,
           r->x.max_elem, r->x.rel_l2, r->w.max_elem, r->w.rel_l2, r->b.max_elem, r->b.rel_l2,
           r->skipped, r->points);
}

static void expect_pass(const char *what, const fd_report *r)
{
    if (!report_ok(r) || getenv("PN_TEST_VERBOSE"))
        print_report(what, r);
    assert_true(report_ok(r));
    /* kinks may only hide a minority of the points */
    assert_true(r->skipped * 5 <= r->points);
}

/* The kernel tables to check: the dispatched one and, if different, the reference. */
static int kernel_tables(const pn_kernels **tables)
{
    tables[0] = pn_kernels_get();
    tables[1] = &pn_kernels_ref;
    return tables[0] == tables[1] ? 1 : 2;
}

static const char *const act_label[] = {"linear", "relu", "sigmoid", "tanh"};

/* ------------------------------------------------------------------------ */
/* Deliberately broken kernels: the checker must reject their gradients. */

static void act_bwd_forgotten(pn_act act, size_t count, const float *y, float *dy)
{
    (void)act;
    (void)count;
    (void)y;
    (void)dy;
}

static void conv2d_bwd_data_pad_off_by_one(const pn_conv2d_shape *s, const float *dy,
                                           const float *w, float *dx)
{
    pn_conv2d_shape t = *s;
    t.pad_top = s->pad_top > 0 ? s->pad_top - 1 : s->pad_top + 1;
    pn_kernels_ref.conv2d_bwd_data(&t, dy, w, dx);
}

static void conv2d_bwd_filter_no_bias(const pn_conv2d_shape *s, const float *x, const float *dy,
                                      float *dw, float *db)
{
    (void)db;
    pn_kernels_ref.conv2d_bwd_filter(s, x, dy, dw, NULL);
}

static void test_compare_self_test(void **state)
{
    pneumo_conv2d_params p;
    const pn_dims in = {3, 7, 5, 3};
    pn_layer l;
    uint64_t rng = 11;
    float x[2 * 7 * 5 * 3];
    double a[64], b[64], c[64];
    cmp_result r;
    fd_report rep;
    pn_kernels bad;
    (void)state;

    /* plain vectors: close passes; scaled, one element off, a sign flip, a swap,
     * a NaN all fail */
    for (int i = 0; i < 64; i++) {
        b[i] = 0.3 * sin(0.7 * i + 0.1);
        a[i] = b[i] + 1e-5 * cos(3.0 * i);
    }
    assert_true(grads_close(a, b, 64, &r));
    for (int i = 0; i < 64; i++)
        c[i] = a[i] * 1.1;
    assert_false(grads_close(c, b, 64, &r));
    memcpy(c, a, sizeof c);
    c[17] += 0.05;
    assert_false(grads_close(c, b, 64, &r));
    memcpy(c, a, sizeof c);
    c[5] = -c[5];
    assert_false(grads_close(c, b, 64, &r));
    memcpy(c, a, sizeof c);
    c[3] = a[40];
    c[40] = a[3];
    assert_false(grads_close(c, b, 64, &r));
    memcpy(c, a, sizeof c);
    c[0] = NAN;
    assert_false(grads_close(c, b, 64, &r));
    /* small gradients (|g| ~ 3e-3): a 10% error is still caught by the L2 test */
    for (int i = 0; i < 64; i++) {
        a[i] = 0.01 * b[i];
        c[i] = 1.1 * a[i];
    }
    assert_false(grads_close(c, a, 64, &r));

    /* A real Conv2D (same padding, sigmoid) passes with the reference kernels and
     * fails with each broken backward kernel. */
    pneumo_conv2d_default_params(&p);
    p.filters = 2;
    p.activation = PNEUMO_ACT_SIGMOID;
    p.padding = PNEUMO_PADDING_SAME;
    assert_int_equal(pn_conv2d_setup(&l, &in, &p), PNEUMO_OK);
    assert_int_equal(l.pad_top, 1);
    attach_params(&l, &rng, 0.5f);
    tu_fill(&rng, x, sizeof x / sizeof x[0], -1.0f, 1.0f);
    fd_check_layer(&l, &pn_kernels_ref, 1, 2, x, 1e-2, 99, &rep);
    expect_pass("self-test reference", &rep);

    /* ReLU kink inside the FD interval: detected and skipped, not compared.
     * Dense 1 -> 1, z = 2 x + b = 1e-4 for x = 0.5: stepping b by 1e-2 crosses 0. */
    {
        const pn_dims in1 = {1, 1, 1, 1};
        pn_layer d;
        float x1[1] = {0.5f};
        assert_int_equal(pn_dense_setup(&d, &in1, 1, PNEUMO_ACT_RELU), PNEUMO_OK);
        attach_params(&d, &rng, 0.5f);
        d.w[0] = 2.0f;
        d.b[0] = -1.0f + 1e-4f;
        fd_check_layer(&d, &pn_kernels_ref, 1, 1, x1, 1e-2, 98, &rep);
        assert_int_equal(rep.points, 3);
        assert_int_equal(rep.skipped, 3); /* x, w and b all move z across 0 */
        assert_true(report_ok(&rep));
        d.b[0] = -1.0f + 0.1f;             /* far from the kink: nothing skipped */
        fd_check_layer(&d, &pn_kernels_ref, 1, 1, x1, 1e-2, 98, &rep);
        assert_int_equal(rep.skipped, 0);
        assert_true(report_ok(&rep));
        release_layer(&d);
    }

    bad = pn_kernels_ref;
    bad.act_bwd = act_bwd_forgotten;
    fd_check_layer(&l, &bad, 1, 2, x, 1e-2, 99, &rep);
    assert_false(rep.ok_x);
    assert_false(rep.ok_w);
    assert_false(rep.ok_b);

    bad = pn_kernels_ref;
    bad.conv2d_bwd_data = conv2d_bwd_data_pad_off_by_one;
    fd_check_layer(&l, &bad, 1, 2, x, 1e-2, 99, &rep);
    assert_false(rep.ok_x);
    assert_true(rep.ok_w && rep.ok_b);

    bad = pn_kernels_ref;
    bad.conv2d_bwd_filter = conv2d_bwd_filter_no_bias;
    fd_check_layer(&l, &bad, 1, 2, x, 1e-2, 99, &rep);
    assert_false(rep.ok_b);
    assert_true(rep.ok_x && rep.ok_w);
    release_layer(&l);
}

/* ------------------------------------------------------------------------ */
/* Conv2D */

typedef struct conv_case {
    int32_t ih, iw, ic, oc, kh, kw, sh, sw, padding, use_bias;
} conv_case;

static const conv_case conv_cases[] = {
    {7, 5, 1, 1, 3, 3, 1, 1, PNEUMO_PADDING_VALID, 1},
    {7, 5, 3, 2, 3, 3, 1, 1, PNEUMO_PADDING_SAME, 1},
    {7, 5, 4, 5, 2, 3, 2, 2, PNEUMO_PADDING_SAME, 1},
    {7, 5, 3, 5, 3, 3, 2, 1, PNEUMO_PADDING_VALID, 1},  /* mixed strides 2x1 */
    {7, 5, 3, 5, 2, 3, 2, 1, PNEUMO_PADDING_SAME, 1},   /* mixed strides, same */
    {7, 5, 4, 2, 1, 1, 1, 1, PNEUMO_PADDING_VALID, 1},  /* 1x1 */
    {7, 5, 1, 5, 1, 1, 2, 2, PNEUMO_PADDING_SAME, 1},   /* 1x1 strided */
    {6, 6, 3, 2, 3, 3, 2, 2, PNEUMO_PADDING_SAME, 1},   /* pad 0 before, 1 after */
    {5, 7, 4, 1, 2, 3, 1, 2, PNEUMO_PADDING_VALID, 1},  /* valid floors 7 -> 3 */
    {7, 5, 3, 2, 4, 4, 1, 1, PNEUMO_PADDING_SAME, 0},   /* even kernel: pad 1 / 2, no bias */
    {5, 5, 3, 1, 5, 5, 1, 1, PNEUMO_PADDING_VALID, 1},  /* kernel covers the input */
};

static void test_conv2d_gradients(void **state)
{
    const pn_kernels *tables[2];
    int ntables = kernel_tables(tables);
    (void)state;
    for (int t = 0; t < ntables; t++)
        for (size_t ci = 0; ci < sizeof conv_cases / sizeof conv_cases[0]; ci++)
            for (int act = PNEUMO_ACT_LINEAR; act <= PNEUMO_ACT_TANH; act++) {
                const conv_case *cc = &conv_cases[ci];
                const pn_dims in = {3, cc->ih, cc->iw, cc->ic};
                const int32_t n = 2;
                pneumo_conv2d_params p;
                pn_layer l;
                fd_report rep;
                uint64_t rng = 1000 + ci * 10 + (uint64_t)act;
                size_t nx = (size_t)n * (size_t)pn_dims_size(&in);
                float *x = malloc(nx * sizeof(float));
                char what[128];
                assert_non_null(x);
                pneumo_conv2d_default_params(&p);
                p.filters = cc->oc;
                p.kernel_h = cc->kh;
                p.kernel_w = cc->kw;
                p.stride_h = cc->sh;
                p.stride_w = cc->sw;
                p.padding = cc->padding;
                p.use_bias = cc->use_bias;
                p.activation = act;
                assert_int_equal(pn_conv2d_setup(&l, &in, &p), PNEUMO_OK);
                assert_int_equal(l.nb, cc->use_bias ? cc->oc : 0);
                attach_params(&l, &rng, 0.5f);
                tu_fill(&rng, x, nx, -1.0f, 1.0f);
                snprintf(what, sizeof what, "conv2d[%s] %dx%dx%d k%dx%d s%dx%d %s -> %dx%dx%d %s",
                         tables[t]->isa, cc->ih, cc->iw, cc->ic, cc->kh, cc->kw, cc->sh, cc->sw,
                         cc->padding ? "same" : "valid", l.out.h, l.out.w, l.out.c,
                         act_label[act]);
                /* ReLU is piecewise linear: a small step meets fewer kinks and has
                 * no truncation error; smooth activations use a larger one. */
                fd_check_layer(&l, tables[t], 1, n, x, act == PNEUMO_ACT_RELU ? 1e-3 : 1e-2,
                               rng, &rep);
                expect_pass(what, &rep);
                release_layer(&l);
                free(x);
            }
}

/* ------------------------------------------------------------------------ */
/* MaxPooling2D */

typedef struct pool_case {
    int32_t ih, iw, c, ph, pw, sh, sw, padding, oh, ow;
} pool_case;

static const pool_case pool_cases[] = {
    {5, 5, 2, 2, 2, 0, 0, PNEUMO_PADDING_VALID, 2, 2}, /* floors 5 -> 2 */
    {7, 5, 3, 3, 3, 2, 2, PNEUMO_PADDING_SAME, 4, 3},  /* overlapping windows, padded */
    {6, 7, 1, 2, 3, 1, 2, PNEUMO_PADDING_VALID, 5, 3}, /* stride != pool */
    {5, 6, 2, 2, 2, 3, 3, PNEUMO_PADDING_SAME, 2, 2},  /* stride > pool: gaps */
    {4, 4, 2, 3, 3, 1, 1, PNEUMO_PADDING_SAME, 4, 4},  /* pad 1 / 1 */
    {5, 4, 2, 2, 2, 0, 0, PNEUMO_PADDING_SAME, 3, 2},  /* pad 0 / 1 */
    {5, 5, 1, 5, 5, 0, 0, PNEUMO_PADDING_VALID, 1, 1}, /* global */
};

/* Distinct values at least `gap` apart, in random order (Fisher-Yates). */
static void distinct_values(uint64_t *rng, float *x, size_t n, float gap, int all_negative)
{
    for (size_t i = 0; i < n; i++)
        x[i] = all_negative ? -gap * (float)(i + 1) : gap * ((float)i - (float)n / 2.0f);
    for (size_t i = n - 1; i > 0; i--) {
        size_t j = (size_t)(tu_next(rng) % (i + 1));
        float tmp = x[i];
        x[i] = x[j];
        x[j] = tmp;
    }
}

static void test_maxpool_gradients(void **state)
{
    const pn_kernels *tables[2];
    int ntables = kernel_tables(tables);
    (void)state;
    for (int t = 0; t < ntables; t++)
        for (size_t pi = 0; pi < sizeof pool_cases / sizeof pool_cases[0]; pi++)
            for (int neg = 0; neg < 2; neg++) {
                const pool_case *pc = &pool_cases[pi];
                const pn_dims in = {3, pc->ih, pc->iw, pc->c};
                const int32_t n = 2;
                pneumo_maxpool2d_params p;
                pn_layer l;
                fd_report rep;
                uint64_t rng = 2000 + pi * 2 + (uint64_t)neg;
                size_t nx = (size_t)n * (size_t)pn_dims_size(&in), ny;
                float *x = malloc(nx * sizeof(float)), *y;
                char what[128];
                pn_run run = {.k = tables[t], .training = 1, .seed = 1, .step = 1};
                int32_t pad_top, pad_left;
                assert_non_null(x);
                pneumo_maxpool2d_default_params(&p);
                p.pool_h = pc->ph;
                p.pool_w = pc->pw;
                p.stride_h = pc->sh;
                p.stride_w = pc->sw;
                p.padding = pc->padding;
                assert_int_equal(pn_maxpool2d_setup(&l, &in, &p), PNEUMO_OK);
                assert_int_equal(l.out.h, pc->oh);
                assert_int_equal(l.out.w, pc->ow);
                assert_int_equal(l.out.c, pc->c);
                assert_int_equal(l.nw + l.nb, 0);
                /* values 0.05 apart, step 1e-2: the argmax cannot move */
                distinct_values(&rng, x, nx, 0.05f, neg);

                /* forward against a naive max; padded cells never win, even when
                 * every value is negative */
                ny = (size_t)n * (size_t)pn_dims_size(&l.out);
                y = malloc(ny * sizeof(float));
                assert_non_null(y);
                assert_int_equal(l.ops->forward(&l, &run, n, x, y), PNEUMO_OK);
                {
                    int32_t sh = pc->sh ? pc->sh : pc->ph, sw = pc->sw ? pc->sw : pc->pw;
                    int32_t th = (pc->oh - 1) * sh + pc->ph - pc->ih;
                    int32_t tw = (pc->ow - 1) * sw + pc->pw - pc->iw;
                    pad_top = pc->padding && th > 0 ? th / 2 : 0;
                    pad_left = pc->padding && tw > 0 ? tw / 2 : 0;
                    for (int32_t s = 0; s < n; s++)
                        for (int32_t oy = 0; oy < pc->oh; oy++)
                            for (int32_t ox = 0; ox < pc->ow; ox++)
                                for (int32_t ch = 0; ch < pc->c; ch++) {
                                    float best = -INFINITY;
                                    for (int32_t ky = 0; ky < pc->ph; ky++)
                                        for (int32_t kx = 0; kx < pc->pw; kx++) {
                                            int32_t iy = oy * sh - pad_top + ky;
                                            int32_t ix = ox * sw - pad_left + kx;
                                            if (iy >= 0 && iy < pc->ih && ix >= 0 && ix < pc->iw)
                                                best = fmaxf(best, x[((s * pc->ih + iy) * pc->iw + ix) * pc->c + ch]);
                                        }
                                    assert_true(y[((s * pc->oh + oy) * pc->ow + ox) * pc->c + ch] == best);
                                }
                }
                free(y);

                snprintf(what, sizeof what, "maxpool[%s] %dx%dx%d p%dx%d s%dx%d %s%s",
                         tables[t]->isa, pc->ih, pc->iw, pc->c, pc->ph, pc->pw, pc->sh, pc->sw,
                         pc->padding ? "same" : "valid", neg ? " negative" : "");
                fd_check_layer(&l, tables[t], 1, n, x, 1e-2, rng, &rep);
                expect_pass(what, &rep);
                assert_int_equal(rep.skipped, 0);
                release_layer(&l);
                free(x);
            }
}

/* ------------------------------------------------------------------------ */
/* Dense, Flatten, Activation */

static void test_dense_gradients(void **state)
{
    static const int32_t units[] = {1, 3, 5};
    const pn_kernels *tables[2];
    int ntables = kernel_tables(tables);
    (void)state;
    for (int t = 0; t < ntables; t++)
        for (size_t ui = 0; ui < sizeof units / sizeof units[0]; ui++)
            for (int act = PNEUMO_ACT_LINEAR; act <= PNEUMO_ACT_TANH; act++) {
                const pn_dims in = {1, 1, 1, 7};
                const int32_t n = 3;
                pn_layer l;
                fd_report rep;
                uint64_t rng = 3000 + ui * 10 + (uint64_t)act;
                float x[3 * 7];
                char what[96];
                assert_int_equal(pn_dense_setup(&l, &in, units[ui], (pneumo_activation)act),
                                 PNEUMO_OK);
                assert_int_equal(l.nw, 7 * units[ui]);
                assert_int_equal(l.nb, units[ui]);
                attach_params(&l, &rng, 0.6f);
                tu_fill(&rng, x, 21, -1.0f, 1.0f);
                x[4] = 0.0f; /* the kernel skips zero inputs: still exact */
                snprintf(what, sizeof what, "dense[%s] 7 -> %d %s", tables[t]->isa, units[ui],
                         act_label[act]);
                fd_check_layer(&l, tables[t], 1, n, x, act == PNEUMO_ACT_RELU ? 1e-3 : 1e-2,
                               rng, &rep);
                expect_pass(what, &rep);
                release_layer(&l);
            }
}

static void test_flatten_gradients(void **state)
{
    const pn_dims in = {3, 3, 4, 2};
    pn_layer l;
    pn_run run = {.k = pn_kernels_get(), .training = 1, .seed = 1, .step = 1};
    fd_report rep;
    uint64_t rng = 4000;
    float x[2 * 24], y[2 * 24];
    (void)state;
    assert_int_equal(pn_flatten_setup(&l, &in), PNEUMO_OK);
    assert_int_equal(l.out.rank, 1);
    assert_int_equal(l.out.c, 24);
    tu_fill(&rng, x, 48, -1.0f, 1.0f);
    assert_int_equal(l.ops->forward(&l, &run, 2, x, y), PNEUMO_OK);
    /* Keras order: index (h * W + w) * C + c of each sample */
    for (int s = 0; s < 2; s++)
        for (int h = 0; h < 3; h++)
            for (int w = 0; w < 4; w++)
                for (int c = 0; c < 2; c++)
                    assert_true(y[s * 24 + (h * 4 + w) * 2 + c] ==
                                x[((s * 3 + h) * 4 + w) * 2 + c]);
    fd_check_layer(&l, pn_kernels_get(), 1, 2, x, 1e-2, rng, &rep);
    expect_pass("flatten", &rep);
    release_layer(&l);
}

static void test_activation_gradients(void **state)
{
    const pn_kernels *tables[2];
    int ntables = kernel_tables(tables);
    (void)state;
    for (int t = 0; t < ntables; t++)
        for (int act = PNEUMO_ACT_LINEAR; act <= PNEUMO_ACT_TANH; act++)
            for (int flat = 0; flat < 2; flat++) {
                const pn_dims in = flat ? (pn_dims){1, 1, 1, 24} : (pn_dims){3, 3, 4, 2};
                pn_layer l;
                fd_report rep;
                uint64_t rng = 5000 + (uint64_t)act;
                float x[2 * 24];
                char what[64];
                assert_int_equal(pn_activation_setup(&l, &in, (pneumo_activation)act), PNEUMO_OK);
                /* |x| in [0.05, 3): away from the ReLU kink, into saturation */
                for (int i = 0; i < 48; i++)
                    x[i] = (i % 2 ? 1.0f : -1.0f) * tu_uniform(&rng, 0.05f, 3.0f);
                snprintf(what, sizeof what, "activation[%s] %s%s", tables[t]->isa,
                         act_label[act], flat ? " flat" : "");
                fd_check_layer(&l, tables[t], 1, 2, x, 1e-2, rng, &rep);
                expect_pass(what, &rep);
                assert_int_equal(rep.skipped, 0);
                release_layer(&l);
            }
}

/* ------------------------------------------------------------------------ */
/* Dropout */

static void test_dropout_gradients(void **state)
{
    const pn_dims in = {3, 10, 10, 4};
    const int32_t n = 2;
    const size_t count = 800;
    const float rate = 0.3f, scale = 1.0f / (1.0f - 0.3f);
    pn_layer l;
    pn_run train = {.k = pn_kernels_get(), .training = 1, .seed = 77, .step = 5},
           infer = {.k = pn_kernels_get(), .training = 0, .seed = 77, .step = 5};
    pn_run other = {.k = pn_kernels_get(), .training = 1, .seed = 77, .step = 6};
    float *x = malloc(count * sizeof(float)), *y = malloc(count * sizeof(float));
    float *y2 = malloc(count * sizeof(float)), *R = malloc(count * sizeof(float));
    float *dy = malloc(count * sizeof(float)), *dx = malloc(count * sizeof(float));
    uint64_t rng = 6000;
    size_t dropped = 0, differ = 0;
    fd_report rep;
    (void)state;
    assert_true(x && y && y2 && R && dy && dx);
    tu_fill(&rng, x, count, 0.1f, 1.0f); /* nonzero: y / x recovers the mask */
    tu_fill(&rng, R, count, -1.0f, 1.0f);

    assert_int_equal(pn_dropout_setup(&l, &in, rate), PNEUMO_OK);
    assert_int_equal(l.nw + l.nb, 0);

    /* training: y = x * mask, mask in {0, 1/(1-rate)}; dL/dx = mask * R */
    assert_int_equal(l.ops->forward(&l, &train, n, x, y), PNEUMO_OK);
    memcpy(dy, R, count * sizeof(float));
    assert_int_equal(l.ops->backward(&l, &train, n, x, y, dy, dx), PNEUMO_OK);
    for (size_t i = 0; i < count; i++) {
        if (y[i] == 0.0f) {
            dropped++;
            assert_true(dx[i] == 0.0f);
        } else {
            assert_true(y[i] == x[i] * scale);
            assert_true(dx[i] == R[i] * scale);
        }
    }
    /* 800 draws at p = 0.3: mean 240, sd 13 */
    assert_in_range(dropped, 180, 300);
    /* the mask is a function of (seed, step, layer): same step, same mask;
     * another step, another mask */
    assert_int_equal(l.ops->forward(&l, &train, n, x, y2), PNEUMO_OK);
    assert_memory_equal(y, y2, count * sizeof(float));
    assert_int_equal(l.ops->forward(&l, &other, n, x, y2), PNEUMO_OK);
    for (size_t i = 0; i < count; i++)
        differ += (y[i] == 0.0f) != (y2[i] == 0.0f);
    assert_true(differ > 50);
    /* FD agrees (the mask is fixed by the run) */
    fd_check_layer(&l, pn_kernels_get(), 1, n, x, 1e-2, 6001, &rep);
    expect_pass("dropout 0.3 training", &rep);

    /* inference: identity forward and backward */
    assert_int_equal(l.ops->forward(&l, &infer, n, x, y), PNEUMO_OK);
    assert_memory_equal(y, x, count * sizeof(float));
    memcpy(dy, R, count * sizeof(float));
    assert_int_equal(l.ops->backward(&l, &infer, n, x, y, dy, dx), PNEUMO_OK);
    assert_memory_equal(dx, R, count * sizeof(float));
    fd_check_layer(&l, pn_kernels_get(), 0, n, x, 1e-2, 6002, &rep);
    expect_pass("dropout 0.3 inference", &rep);
    release_layer(&l);

    /* rate 0 in training: identity too */
    assert_int_equal(pn_dropout_setup(&l, &in, 0.0f), PNEUMO_OK);
    assert_int_equal(l.ops->forward(&l, &train, n, x, y), PNEUMO_OK);
    assert_memory_equal(y, x, count * sizeof(float));
    memcpy(dy, R, count * sizeof(float));
    assert_int_equal(l.ops->backward(&l, &train, n, x, y, dy, dx), PNEUMO_OK);
    assert_memory_equal(dx, R, count * sizeof(float));
    release_layer(&l);

    /* invalid rates */
    assert_int_equal(pn_dropout_setup(&l, &in, 1.0f), PNEUMO_ERR_INVALID_ARG);
    assert_int_equal(pn_dropout_setup(&l, &in, -0.1f), PNEUMO_ERR_INVALID_ARG);
    assert_int_equal(pn_dropout_setup(&l, &in, NAN), PNEUMO_ERR_INVALID_ARG);

    free(x);
    free(y);
    free(y2);
    free(R);
    free(dy);
    free(dx);
}

/* ------------------------------------------------------------------------ */
/* Full model: gradients of the weighted BCE against FD of evaluate_batch(). */

/* ReLU on/off and max-pool argmax of every layer after an inference pass. */
static size_t model_pattern(const pneumo_model *m, int32_t n, uint8_t *pat)
{
    size_t at = 0;
    for (int32_t i = 0; i < m->nlayers - 1; i++) {
        const pn_layer *l = &m->layers[i];
        size_t count = (size_t)n * (size_t)pn_dims_size(&l->out);
        if (l->kind == PN_LAYER_MAXPOOL2D) {
            if (pat)
                memcpy(pat + at, l->argmax, count);
            at += count;
        } else if (!m->acts[i]) {
            /* a Conv2D fused with the pool after it keeps no output: the loss
             * is smooth while the pool's argmax (recorded for the pool) and
             * the sign of each pooled maximum stay the same */
            const size_t pcount = (size_t)n * (size_t)pn_dims_size(&m->layers[i + 1].out);
            if (pat)
                for (size_t j = 0; j < pcount; j++)
                    pat[at + j] = m->acts[i + 1][j] > 0.0f;
            at += pcount;
        } else if (l->act == PN_ACT_RELU && (l->kind == PN_LAYER_CONV2D ||
                                              l->kind == PN_LAYER_DENSE ||
                                              l->kind == PN_LAYER_ACTIVATION)) {
            if (pat)
                for (size_t j = 0; j < count; j++)
                    pat[at + j] = m->acts[i][j] > 0.0f;
            at += count;
        }
    }
    return at;
}

static double eval_loss(pneumo_model *m, const pneumo_tensor *x, const pneumo_tensor *y,
                        const pneumo_tensor *w)
{
    pneumo_step_result r;
    assert_int_equal(pneumo_model_evaluate_batch(m, x, y, w, &r), PNEUMO_OK);
    assert_true(isfinite(r.loss));
    return r.loss;
}

/* Check every parameter gradient of the model. Each element first tries step
 * 1e-2, then 3e-3 and 1e-3 if a ReLU or argmax changes inside the interval,
 * and is skipped if all three cross a kink. */
static void fd_check_model(pneumo_model *m, const pneumo_tensor *x, const pneumo_tensor *y,
                           const pneumo_tensor *w, const char *label)
{
    static const double steps[3] = {1e-2, 3e-3, 1e-3};
    const int32_t n = (int32_t)pneumo_tensor_dim(x, 0);
    pneumo_step_result rg;
    size_t npat, total_points = 0, total_skipped = 0;
    uint8_t *pat0, *pat;
    double base;

    assert_int_equal(pneumo_model_compute_gradients(m, x, y, w, &rg), PNEUMO_OK);
    base = eval_loss(m, x, y, w);
    /* no dropout (rate 0) and no update: the same loss either way */
    assert_true(fabs(rg.loss - base) <= 1e-9 * fmax(1.0, fabs(base)));
    npat = model_pattern(m, n, NULL);
    pat0 = malloc(npat + 1);
    pat = malloc(npat + 1);
    assert_true(pat0 && pat);
    model_pattern(m, n, pat0);

    for (int32_t ti = 0; ti < pneumo_model_num_param_tensors(m); ti++) {
        pneumo_tensor *pv = NULL, *gv = NULL;
        size_t count, skipped = 0;
        double *a, *f;
        float *p;
        cmp_result r;
        int ok;
        assert_int_equal(pneumo_model_param(m, ti, &pv), PNEUMO_OK);
        assert_int_equal(pneumo_model_grad(m, ti, &gv), PNEUMO_OK);
        count = (size_t)pneumo_tensor_numel(pv);
        p = pneumo_tensor_data(pv);
        a = malloc(count * sizeof(double));
        f = malloc(count * sizeof(double));
        assert_true(a && f);
        for (size_t i = 0; i < count; i++)
            a[i] = pneumo_tensor_data_const(gv)[i];
        for (size_t i = 0; i < count; i++) {
            const float v = p[i];
            int done = 0;
            for (int si = 0; si < 3 && !done; si++) {
                const float vp = (float)((double)v + steps[si]);
                const float vm = (float)((double)v - steps[si]);
                double lp, lm;
                int same;
                p[i] = vp;
                lp = eval_loss(m, x, y, w);
                model_pattern(m, n, pat);
                same = memcmp(pat, pat0, npat) == 0;
                p[i] = vm;
                lm = eval_loss(m, x, y, w);
                model_pattern(m, n, pat);
                same = same && memcmp(pat, pat0, npat) == 0;
                p[i] = v;
                if (same) {
                    f[i] = (lp - lm) / ((double)vp - (double)vm);
                    done = 1;
                }
            }
            if (!done) {
                f[i] = a[i];
                skipped++;
            }
        }
        ok = grads_close(a, f, count, &r);
        if (!ok || getenv("PN_TEST_VERBOSE"))
            printf("%s %s (%zu values): elem %.2e L2 %.2e worst [%zu] %.6g vs fd %.6g, skipped %zu\n",
                   label, tu_param_name(m, ti), count, r.max_elem, r.rel_l2, r.worst,
                   a[r.worst], f[r.worst], skipped);
        assert_true(ok);
        total_points += count;
        total_skipped += skipped;
        free(a);
        free(f);
        pneumo_tensor_destroy(pv);
        pneumo_tensor_destroy(gv);
    }
    assert_true(total_skipped * 10 <= total_points);
    /* the parameters are restored exactly: same loss */
    assert_true(eval_loss(m, x, y, w) == base);
    free(pat0);
    free(pat);
}

static void make_batch(uint64_t seed, int32_t n, int32_t h, int32_t w, int32_t c,
                       pneumo_tensor **x)
{
    int64_t shape[4] = {n, h, w, c};
    uint64_t rng = seed;
    if (h == 1 && w == 1) {
        int64_t flat[2] = {n, c};
        assert_int_equal(pneumo_tensor_create(2, flat, x), PNEUMO_OK);
    } else {
        assert_int_equal(pneumo_tensor_create(4, shape, x), PNEUMO_OK);
    }
    tu_fill(&rng, pneumo_tensor_data(*x), (size_t)pneumo_tensor_numel(*x), -1.0f, 1.0f);
}

static void test_model_loss_gradients(void **state)
{
    const float labels4[4] = {0.0f, 1.0f, 1.0f, 0.0f};
    const float weights4[4] = {1.9371534195933457f, 0.6739549839228296f, 0.6739549839228296f,
                               1.9371534195933457f};
    const int64_t n4 = 4;
    pneumo_tensor *x = NULL, *y = NULL, *w = NULL;
    pneumo_model *m = NULL;
    pneumo_conv2d_params cp;
    pneumo_maxpool2d_params mp;
    (void)state;

    assert_int_equal(pneumo_tensor_create(1, &n4, &y), PNEUMO_OK);
    assert_int_equal(pneumo_tensor_create(1, &n4, &w), PNEUMO_OK);
    memcpy(pneumo_tensor_data(y), labels4, sizeof labels4);
    memcpy(pneumo_tensor_data(w), weights4, sizeof weights4);

    /* 6x6x2 -> Conv2D(3, same, relu) -> MaxPool(2) -> Conv2D(4, 2x2, stride 2,
     * valid, tanh) -> Flatten -> Dense(4, tanh) -> Dropout(0) -> Dense(1, sigmoid) */
    make_batch(7001, 4, 6, 6, 2, &x);
    assert_int_equal(pneumo_model_create(6, 6, 2, 42, &m), PNEUMO_OK);
    pneumo_conv2d_default_params(&cp);
    cp.filters = 3;
    cp.padding = PNEUMO_PADDING_SAME;
    cp.activation = PNEUMO_ACT_RELU;
    assert_int_equal(pneumo_model_add_conv2d(m, &cp), PNEUMO_OK);
    pneumo_maxpool2d_default_params(&mp);
    assert_int_equal(pneumo_model_add_maxpool2d(m, &mp), PNEUMO_OK);
    pneumo_conv2d_default_params(&cp);
    cp.filters = 4;
    cp.kernel_h = cp.kernel_w = 2;
    cp.stride_h = cp.stride_w = 2;
    cp.activation = PNEUMO_ACT_TANH;
    assert_int_equal(pneumo_model_add_conv2d(m, &cp), PNEUMO_OK);
    assert_int_equal(pneumo_model_add_flatten(m), PNEUMO_OK);
    assert_int_equal(pneumo_model_output_size(m), 4); /* 3x3 -> 1x1 (valid floors) */
    assert_int_equal(pneumo_model_add_dense(m, 4, PNEUMO_ACT_TANH), PNEUMO_OK);
    assert_int_equal(pneumo_model_add_dropout(m, 0.0f), PNEUMO_OK);
    assert_int_equal(pneumo_model_add_dense(m, 1, PNEUMO_ACT_SIGMOID), PNEUMO_OK);
    assert_int_equal(pneumo_model_num_param_tensors(m), 8);
    fd_check_model(m, x, y, w, "cnn");
    /* no sample weights (all 1) */
    fd_check_model(m, x, y, NULL, "cnn unweighted");
    pneumo_model_destroy(m);
    pneumo_tensor_destroy(x);

    /* Dense(1, linear) + Activation(sigmoid) equals Dense(1, sigmoid): same
     * seed and layer positions give the same weights, loss and gradients. */
    {
        pneumo_model *a = NULL, *b = NULL;
        pneumo_step_result ra, rb;
        make_batch(7002, 4, 5, 4, 3, &x);
        for (int k = 0; k < 2; k++) {
            pneumo_model **mm = k ? &b : &a;
            assert_int_equal(pneumo_model_create(5, 4, 3, 43, mm), PNEUMO_OK);
            pneumo_conv2d_default_params(&cp);
            cp.filters = 2;
            cp.padding = PNEUMO_PADDING_SAME;
            cp.stride_h = 2;
            cp.activation = PNEUMO_ACT_TANH;
            assert_int_equal(pneumo_model_add_conv2d(*mm, &cp), PNEUMO_OK);
            assert_int_equal(pneumo_model_add_flatten(*mm), PNEUMO_OK);
            assert_int_equal(pneumo_model_add_dense(*mm, 1, k ? PNEUMO_ACT_LINEAR
                                                              : PNEUMO_ACT_SIGMOID),
                             PNEUMO_OK);
        }
        assert_int_equal(pneumo_model_add_activation(b, PNEUMO_ACT_SIGMOID), PNEUMO_OK);
        /* scale the head up so the probabilities spread away from 0.5 */
        for (int k = 0; k < 2; k++) {
            pneumo_tensor *pv = NULL;
            assert_int_equal(pneumo_model_param(k ? b : a, 2, &pv), PNEUMO_OK);
            for (int64_t i = 0; i < pneumo_tensor_numel(pv); i++)
                pneumo_tensor_data(pv)[i] *= 4.0f;
            pneumo_tensor_destroy(pv);
        }
        fd_check_model(b, x, y, w, "activation head");
        assert_int_equal(pneumo_model_compute_gradients(a, x, y, w, &ra), PNEUMO_OK);
        assert_int_equal(pneumo_model_compute_gradients(b, x, y, w, &rb), PNEUMO_OK);
        assert_true(ra.loss == rb.loss);
        assert_true(ra.accuracy == rb.accuracy);
        assert_int_equal(pneumo_model_num_param_tensors(a), 4);
        assert_int_equal(pneumo_model_num_param_tensors(b), 4);
        for (int32_t ti = 0; ti < 4; ti++) {
            pneumo_tensor *ga = NULL, *gb = NULL;
            assert_int_equal(pneumo_model_grad(a, ti, &ga), PNEUMO_OK);
            assert_int_equal(pneumo_model_grad(b, ti, &gb), PNEUMO_OK);
            assert_int_equal(pneumo_tensor_numel(ga), pneumo_tensor_numel(gb));
            assert_memory_equal(pneumo_tensor_data_const(ga), pneumo_tensor_data_const(gb),
                                (size_t)pneumo_tensor_numel(ga) * sizeof(float));
            pneumo_tensor_destroy(ga);
            pneumo_tensor_destroy(gb);
        }
        pneumo_model_destroy(a);
        pneumo_model_destroy(b);
        pneumo_tensor_destroy(x);
    }

    /* Flat input, Dense(5, relu) -> Dense(1, sigmoid), fractional labels. */
    {
        const float soft[4] = {0.25f, 1.0f, 0.0f, 0.6f};
        memcpy(pneumo_tensor_data(y), soft, sizeof soft);
        make_batch(7003, 4, 1, 1, 6, &x);
        assert_int_equal(pneumo_model_create(1, 1, 6, 44, &m), PNEUMO_OK);
        assert_int_equal(pneumo_model_add_dense(m, 5, PNEUMO_ACT_RELU), PNEUMO_OK);
        assert_int_equal(pneumo_model_add_dense(m, 1, PNEUMO_ACT_SIGMOID), PNEUMO_OK);
        fd_check_model(m, x, y, w, "mlp");
        pneumo_model_destroy(m);
        pneumo_tensor_destroy(x);
    }
    pneumo_tensor_destroy(y);
    pneumo_tensor_destroy(w);
}

/* ------------------------------------------------------------------------ */
/* Output sizes and padding (TensorFlow rules) */

static void test_window_rules(void **state)
{
    int32_t pad = -1;
    (void)state;
    /* hand examples */
    assert_int_equal(pn_window_out(500, 3, 1, 0, &pad), 498);
    assert_int_equal(pad, 0);
    assert_int_equal(pn_window_out(249, 2, 2, 0, &pad), 124);
    assert_int_equal(pn_window_out(5, 2, 2, 0, &pad), 2);
    assert_int_equal(pn_window_out(7, 3, 2, 0, &pad), 3);
    assert_int_equal(pn_window_out(2, 3, 1, 0, &pad), 0); /* does not fit */
    assert_int_equal(pn_window_out(5, 4, 1, 1, &pad), 5);
    assert_int_equal(pad, 1); /* total 3: 1 before, 2 after */
    assert_int_equal(pn_window_out(6, 3, 2, 1, &pad), 3);
    assert_int_equal(pad, 0); /* total 1: 0 before, 1 after */
    assert_int_equal(pn_window_out(7, 3, 2, 1, &pad), 4);
    assert_int_equal(pad, 1); /* total 2 */
    assert_int_equal(pn_window_out(6, 1, 4, 1, &pad), 2);
    assert_int_equal(pad, 0); /* total would be negative: none */
    assert_int_equal(pn_window_out(2, 5, 1, 1, &pad), 2);
    assert_int_equal(pad, 2); /* total 4 */

    /* exhaustive against the TF formulas, written independently */
    for (int32_t in = 1; in <= 40; in++)
        for (int32_t k = 1; k <= 6; k++)
            for (int32_t s = 1; s <= 5; s++) {
                int32_t out = pn_window_out(in, k, s, 0, &pad);
                int32_t expect = in >= k ? (int32_t)floor((double)(in - k) / s) + 1 : 0;
                int32_t total;
                assert_int_equal(out, expect);
                if (out)
                    assert_int_equal(pad, 0);
                out = pn_window_out(in, k, s, 1, &pad);
                assert_int_equal(out, (int32_t)ceil((double)in / s));
                total = (out - 1) * s + k - in;
                if (total < 0)
                    total = 0;
                assert_int_equal(pad, total / 2);
                assert_true(pad <= total - pad); /* smaller half first */
            }

    /* through the layers */
    {
        pneumo_conv2d_params cp;
        pneumo_maxpool2d_params mp;
        pn_layer l;
        pn_dims in = {3, 500, 500, 1};
        pneumo_conv2d_default_params(&cp);
        cp.filters = 32;
        assert_int_equal(pn_conv2d_setup(&l, &in, &cp), PNEUMO_OK);
        assert_int_equal(l.out.h, 498);
        assert_int_equal(l.out.w, 498);
        assert_int_equal(l.out.c, 32);
        in = (pn_dims){3, 249, 249, 32};
        pneumo_maxpool2d_default_params(&mp);
        assert_int_equal(pn_maxpool2d_setup(&l, &in, &mp), PNEUMO_OK);
        assert_int_equal(l.out.h, 124);
        assert_int_equal(l.sh, 2); /* strides default to the pool size */
        in = (pn_dims){3, 2, 9, 1};
        assert_int_equal(pn_conv2d_setup(&l, &in, &cp), PNEUMO_ERR_SHAPE);
        cp.padding = PNEUMO_PADDING_SAME;
        cp.stride_h = 2;
        cp.stride_w = 3;
        assert_int_equal(pn_conv2d_setup(&l, &in, &cp), PNEUMO_OK);
        assert_int_equal(l.out.h, 1);
        assert_int_equal(l.out.w, 3);
    }
    /* the article's model: 500 -> 498 -> 249 -> 247 -> 123 -> 121 -> 60 -> 58 ->
     * 29 -> 27 -> 13, flatten 13 * 13 * 64 */
    {
        pneumo_model *m = NULL;
        assert_int_equal(pneumo_model_create_article(500, 1, &m), PNEUMO_OK);
        assert_int_equal(pneumo_model_num_params(m), 1467137);
        assert_int_equal(m->layers[10].kind, PN_LAYER_FLATTEN);
        assert_int_equal(m->layers[10].out.c, 13 * 13 * 64);
        pneumo_model_destroy(m);
    }
}

/* ------------------------------------------------------------------------ */
/* Convolution forward against independent computations */

static void test_conv_forward_hand(void **state)
{
    /* 1x4 input [1 2 3 4], kernel 1x4 [1 10 100 1000], same, stride 1: TF pads
     * 1 before and 2 after. */
    const pn_dims in = {3, 1, 4, 1};
    float x[4] = {1, 2, 3, 4}, w[4] = {1, 10, 100, 1000}, b[1] = {0.5f}, y[4];
    const float expect[4] = {3210.5f, 4321.5f, 432.5f, 43.5f};
    pneumo_conv2d_params p;
    pn_layer l;
    pn_run run = {.k = pn_kernels_get()};
    (void)state;
    pneumo_conv2d_default_params(&p);
    p.filters = 1;
    p.kernel_h = 1;
    p.kernel_w = 4;
    p.padding = PNEUMO_PADDING_SAME;
    assert_int_equal(pn_conv2d_setup(&l, &in, &p), PNEUMO_OK);
    assert_int_equal(l.pad_left, 1);
    l.w = w;
    l.b = b;
    assert_int_equal(l.ops->forward(&l, &run, 1, x, y), PNEUMO_OK);
    for (int i = 0; i < 4; i++)
        assert_true(y[i] == expect[i]);

    /* 1x5 input [1..5], kernel [1 10], same, stride 2: 3 outputs, padding 0
     * before and 1 after -> [21, 43, 5] */
    {
        const pn_dims in5 = {3, 1, 5, 1};
        float x5[5] = {1, 2, 3, 4, 5}, w2[2] = {1, 10}, y3[3];
        p.kernel_w = 2;
        p.stride_w = 2;
        p.use_bias = 0;
        assert_int_equal(pn_conv2d_setup(&l, &in5, &p), PNEUMO_OK);
        assert_int_equal(l.out.w, 3);
        assert_int_equal(l.pad_left, 0);
        l.w = w2;
        assert_int_equal(l.ops->forward(&l, &run, 1, x5, y3), PNEUMO_OK);
        assert_true(y3[0] == 21.0f && y3[1] == 43.0f && y3[2] == 5.0f);
    }
}

static void test_conv_forward_naive(void **state)
{
    /* 7x8x3 -> 4 filters, kernel 4x3, strides 2x3, same: out 4x3, pads
     * top 1 (of 3) and left 0 (of 1) */
    const int32_t N = 2, IH = 7, IW = 8, IC = 3, OC = 4, KH = 4, KW = 3, SH = 2, SW = 3;
    const pn_dims in = {3, IH, IW, IC};
    const pn_kernels *tables[2];
    int ntables = kernel_tables(tables);
    pneumo_conv2d_params p;
    pn_layer l;
    uint64_t rng = 8000;
    float x[2 * 7 * 8 * 3], y[2 * 4 * 3 * 4];
    (void)state;
    pneumo_conv2d_default_params(&p);
    p.filters = OC;
    p.kernel_h = KH;
    p.kernel_w = KW;
    p.stride_h = SH;
    p.stride_w = SW;
    p.padding = PNEUMO_PADDING_SAME;
    tu_fill(&rng, x, sizeof x / sizeof x[0], -1.0f, 1.0f);
    for (int act = PNEUMO_ACT_LINEAR; act <= PNEUMO_ACT_TANH; act++)
        for (int t = 0; t < ntables; t++) {
            const int32_t OH = 4, OW = 3, PT = 1, PL = 0;
            pn_run run = {.k = tables[t]};
            p.activation = act;
            assert_int_equal(pn_conv2d_setup(&l, &in, &p), PNEUMO_OK);
            assert_int_equal(l.out.h, OH);
            assert_int_equal(l.out.w, OW);
            assert_int_equal(l.pad_top, PT);
            assert_int_equal(l.pad_left, PL);
            attach_params(&l, &rng, 0.5f);
            assert_int_equal(l.ops->forward(&l, &run, N, x, y), PNEUMO_OK);
            for (int32_t s = 0; s < N; s++)
                for (int32_t oy = 0; oy < OH; oy++)
                    for (int32_t ox = 0; ox < OW; ox++)
                        for (int32_t co = 0; co < OC; co++) {
                            double acc = l.b[co], ref;
                            for (int32_t ky = 0; ky < KH; ky++)
                                for (int32_t kx = 0; kx < KW; kx++)
                                    for (int32_t ci = 0; ci < IC; ci++) {
                                        int32_t iy = oy * SH + ky - PT, ix = ox * SW + kx - PL;
                                        if (iy < 0 || iy >= IH || ix < 0 || ix >= IW)
                                            continue;
                                        acc += (double)x[((s * IH + iy) * IW + ix) * IC + ci] *
                                               l.w[((ky * KW + kx) * IC + ci) * OC + co];
                                    }
                            ref = act == PNEUMO_ACT_RELU      ? fmax(acc, 0.0)
                                  : act == PNEUMO_ACT_SIGMOID ? 1.0 / (1.0 + exp(-acc))
                                  : act == PNEUMO_ACT_TANH    ? tanh(acc)
                                                              : acc;
                            assert_true(fabs(y[((s * OH + oy) * OW + ox) * OC + co] - ref) <=
                                        1e-5 * (1.0 + fabs(ref)));
                        }
            release_layer(&l);
        }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_compare_self_test),
        cmocka_unit_test(test_conv2d_gradients),
        cmocka_unit_test(test_maxpool_gradients),
        cmocka_unit_test(test_dense_gradients),
        cmocka_unit_test(test_flatten_gradients),
        cmocka_unit_test(test_activation_gradients),
        cmocka_unit_test(test_dropout_gradients),
        cmocka_unit_test(test_model_loss_gradients),
        cmocka_unit_test(test_window_rules),
        cmocka_unit_test(test_conv_forward_hand),
        cmocka_unit_test(test_conv_forward_naive),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
