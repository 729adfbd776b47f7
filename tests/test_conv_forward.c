/* Keras' output-size and padding rules and the convolution forward pass
 * against hand-computed values and a naive reference convolution. */
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
        cmocka_unit_test(test_window_rules),
        cmocka_unit_test(test_conv_forward_hand),
        cmocka_unit_test(test_conv_forward_naive),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
