/* Self-test of the finite-difference gradient checker (gradient_check.h):
 * the comparison accepts correct gradients and catches deliberately broken
 * backward kernels. */
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
/* Deliberately broken kernels: the checker must reject their gradients. */

static void act_bwd_forgotten(pn_act act, size_t count, const float *y, float *dy)
{
    (void)act;
    (void)count;
    (void)y;
    (void)dy;
}

static void conv2d_bwd_data_pad_off_by_one(const pn_conv2d_shape *s, const float *dy, const float *w,
                                           float *dx)
{
    pn_conv2d_shape t = *s;
    t.pad_top = s->pad_top > 0 ? s->pad_top - 1 : s->pad_top + 1;
    pn_kernels_ref.conv2d_bwd_data(&t, dy, w, dx);
}

static void conv2d_bwd_filter_no_bias(const pn_conv2d_shape *s, const float *x, const float *dy, float *dw,
                                      float *db)
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
        d.b[0] = -1.0f + 0.1f; /* far from the kink: nothing skipped */
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

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_compare_self_test),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
