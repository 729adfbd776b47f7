/* Activation, loss and optimizer kernels against the reference. */
#include "checkasm.h"

/* ------------------------------------------------------------------ element-wise */

stat st_act_fwd = {.name = "act_fwd"}, st_act_bwd = {.name = "act_bwd"}, st_adam = {.name = "adam_update"},
     st_sgd = {.name = "sgd_update"}, st_bce = {.name = "bce_logits"}, st_accum = {.name = "accumulate"};

/* accumulate: dst += src must match the reference bit for bit, for every
 * tail length around the vector widths (4, 8, 16 lanes) and long runs. The
 * values span many exponents so that most sums round. */
static void test_accumulate(const pn_kernels *k, int iters)
{
    static const size_t lengths[] = {0,  1,  2,  3,  4,  5,  7,  8,  9,    15,  16,
                                     17, 31, 32, 33, 47, 63, 64, 65, 1003, 4101};
    const int nfixed = (int)(sizeof lengths / sizeof lengths[0]);
    for (int it = 0; it < nfixed + iters; it++) {
        const size_t n = it < nfixed ? lengths[it] : (size_t)rnd_int(0, 3000);
        float *src = rand_buf(n, 0.1f), *d0 = rand_buf(n, 0.1f), *r = xmalloc((n ? n : 1) * 4);
        gbuf dst = gb_new(n);
        char shape[64];
        for (size_t i = 0; i < n; i++) {
            src[i] = ldexpf(src[i], rnd_int(-30, 30));
            d0[i] = ldexpf(d0[i], rnd_int(-30, 30));
        }
        snprintf(shape, sizeof shape, "count %zu", n);
        memcpy(r, d0, n * 4);
        memcpy(dst.p, d0, n * 4);
        pn_kernels_ref.accumulate(n, r, src);
        k->accumulate(n, dst.p, src);
        note_call(&st_accum, shape, 0);
        compare(&st_accum, dst.p, r, NULL, n, 0.0, k->isa, shape);
        check_guard(&st_accum, &dst, k->isa, shape);
        gb_free(&dst);
        free(src);
        free(d0);
        free(r);
    }
}

void test_eltwise(const pn_kernels *k, int iters)
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
            note_call(&st_act_fwd, shape, 0);
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
                note_call(&st_act_bwd, shape, 0);
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
            float *rw = xmalloc((n ? n : 1) * 4), *rm = xmalloc((n ? n : 1) * 4),
                  *rv = xmalloc((n ? n : 1) * 4);
            gbuf w = gb_new(n), m = gb_new(n), v = gb_new(n);
            for (size_t i = 0; i < n; i++)
                v0[i] = fabsf(v0[i]) * 0.01f;
            snprintf(shape, sizeof shape, "count %zu", n);
            /* keep 1: Adam; below 1: AdamW's decoupled decay (lr 1e-3, wd 0.04) */
            for (int decay = 0; decay < 2; decay++) {
                const float keep = decay ? 0.99996f : 1.0f;
                snprintf(shape, sizeof shape, "count %zu keep %g", n, (double)keep);
                memcpy(rw, w0, n * 4);
                memcpy(rm, m0, n * 4);
                memcpy(rv, v0, n * 4);
                memcpy(w.p, w0, n * 4);
                memcpy(m.p, m0, n * 4);
                memcpy(v.p, v0, n * 4);
                pn_kernels_ref.adam_update(n, rw, g, rm, rv, 1e-3f, 0.9f, 0.999f, 1e-7f, keep);
                k->adam_update(n, w.p, g, m.p, v.p, 1e-3f, 0.9f, 0.999f, 1e-7f, keep);
                note_call(&st_adam, shape, 0);
                compare(&st_adam, w.p, rw, NULL, n, TOL_ELT, k->isa, shape);
                compare(&st_adam, m.p, rm, NULL, n, TOL_ELT, k->isa, shape);
                compare(&st_adam, v.p, rv, NULL, n, TOL_ELT, k->isa, shape);
                check_guard(&st_adam, &w, k->isa, shape);
                check_guard(&st_adam, &m, k->isa, shape);
                check_guard(&st_adam, &v, k->isa, shape);
            }
            snprintf(shape, sizeof shape, "count %zu", n);
            for (int nesterov = 0; nesterov < 2; nesterov++) {
                memcpy(rw, w0, n * 4);
                memcpy(rm, m0, n * 4);
                memcpy(w.p, w0, n * 4);
                memcpy(m.p, m0, n * 4);
                pn_kernels_ref.sgd_update(n, rw, g, rm, 0.01f, 0.9f, nesterov);
                k->sgd_update(n, w.p, g, m.p, 0.01f, 0.9f, nesterov);
                note_call(&st_sgd, shape, 0);
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
                for (int wt = 0; wt < 4; wt++) {
                    const float *wts = wt & 1 ? sw : NULL, smoothing = wt & 2 ? 0.1f : 0.0f;
                    snprintf(shape, sizeof shape, "count %zu smoothing %g", n, (double)smoothing);
                    pn_kernels_ref.bce_logits(n, a, lab, wts, smoothing, rp, rdz, &rl, &ra, &rws);
                    k->bce_logits(n, a, lab, wts, smoothing, w.p, m.p, &gl, &ga, &gws);
                    note_call(&st_bce, shape, 0);
                    compare(&st_bce, w.p, rp, NULL, n, TOL_ELT, k->isa, shape);
                    /* dz = w (p - t) / n, t the smoothed label: error relative to w (|p| + t) / n */
                    for (size_t i = 0; i < n; i++)
                        bnd[i] = (wts ? wts[i] : 1.0f) *
                                 (fabsf(rp[i]) + lab[i] * (1.0f - smoothing) + 0.5f * smoothing) / (float)n;
                    compare(&st_bce, m.p, rdz, bnd, n, TOL_ELT, k->isa, shape);
                    if (fabs(gl - rl) > 1e-6 * (fabs(rl) + 1.0) || ga != ra || gws != rws)
                        report_fail(&st_bce, k->isa, "sums differ", shape);
                    check_guard(&st_bce, &w, k->isa, shape);
                    check_guard(&st_bce, &m, k->isa, shape);
                }
                free(lab);
                free(rp);
                free(rdz);
                free(sw);
                free(bnd);
            }
            gb_free(&w);
            gb_free(&m);
            gb_free(&v);
            free(g);
            free(w0);
            free(m0);
            free(v0);
            free(rw);
            free(rm);
            free(rv);
        }
        gb_free(&y);
        free(a);
        free(d);
        free(r);
    }
    test_accumulate(k, iters);
}
