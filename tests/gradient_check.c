/* The finite-difference gradient checker (gradient_check.h). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kernels/kernels.h"
#include "layers/layer.h"
#include "model/model.h"
#include "pneumo/pneumo.h"
#include "testutil.h"

#include "gradient_check.h"

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

int grads_close(const double *a, const double *b, size_t n, cmp_result *r)
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

void attach_params(pn_layer *l, uint64_t *rng, float wscale)
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

void release_layer(pn_layer *l)
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
    if ((l->kind == PN_LAYER_CONV2D || l->kind == PN_LAYER_DENSE || l->kind == PN_LAYER_ACTIVATION) &&
        l->act == PN_ACT_RELU) {
        for (size_t i = 0; i < count; i++)
            pat[i] = y[i] > 0.0f;
        return count;
    }
    return 0;
}

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

static void fd_vector(fd_ctx *c, float *p, size_t count, double h, const double *analytic, double *fd,
                      fd_report *rep)
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
void fd_check_layer(pn_layer *l, const pn_kernels *k, int training, int32_t n, float *x, double h,
                    uint64_t rseed, fd_report *rep)
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
    assert_true(c.y && c.yp && c.ym && c.R && c.pat0 && c.pat && dy && dx && ax && fx && aw && fw && ab &&
                fb);
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

int report_ok(const fd_report *r) { return r->ok_x && r->ok_w && r->ok_b; }

static void print_report(const char *what, const fd_report *r)
{
    printf("%s: dx %.2e/%.2e  dw %.2e/%.2e  db %.2e/%.2e  (elem/L2)  skipped %zu/%zu\n", what, r->x.max_elem,
           r->x.rel_l2, r->w.max_elem, r->w.rel_l2, r->b.max_elem, r->b.rel_l2, r->skipped, r->points);
}

void expect_pass(const char *what, const fd_report *r)
{
    if (!report_ok(r) || getenv("PN_TEST_VERBOSE"))
        print_report(what, r);
    assert_true(report_ok(r));
    /* kinks may only hide a minority of the points */
    assert_true(r->skipped * 5 <= r->points);
}

/* The kernel tables to check: the dispatched one and, if different, the reference. */
int kernel_tables(const pn_kernels **tables)
{
    tables[0] = pn_kernels_get();
    tables[1] = &pn_kernels_ref;
    return tables[0] == tables[1] ? 1 : 2;
}

const char *const act_label[] = {"linear", "relu", "sigmoid", "tanh"};
