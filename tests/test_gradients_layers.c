/* Finite-difference gradient checks (gradient_check.h) of the dense,
 * flatten, activation and dropout layers. */
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
                assert_int_equal(pn_dense_setup(&l, &in, units[ui], (pneumo_activation)act), PNEUMO_OK);
                assert_int_equal(l.nw, 7 * units[ui]);
                assert_int_equal(l.nb, units[ui]);
                attach_params(&l, &rng, 0.6f);
                tu_fill(&rng, x, 21, -1.0f, 1.0f);
                x[4] = 0.0f; /* the kernel skips zero inputs: still exact */
                snprintf(what, sizeof what, "dense[%s] 7 -> %d %s", tables[t]->isa, units[ui],
                         act_label[act]);
                fd_check_layer(&l, tables[t], 1, n, x, act == PNEUMO_ACT_RELU ? 1e-3 : 1e-2, rng, &rep);
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
                    assert_true(y[s * 24 + (h * 4 + w) * 2 + c] == x[((s * 3 + h) * 4 + w) * 2 + c]);
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
                snprintf(what, sizeof what, "activation[%s] %s%s", tables[t]->isa, act_label[act],
                         flat ? " flat" : "");
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

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_dense_gradients),
        cmocka_unit_test(test_flatten_gradients),
        cmocka_unit_test(test_activation_gradients),
        cmocka_unit_test(test_dropout_gradients),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
