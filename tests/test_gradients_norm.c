/* Finite-difference gradient checks (gradient_check.h) of BatchNormalization
 * (training: through the batch mean and variance; inference: the moving
 * statistics) and GlobalAveragePooling2D, at every kernel table. */
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

/* Moving statistics for a stand-alone layer: mean in [-0.5, 0.5], variance in [0.5, 2]. */
static float *attach_state(pn_layer *l, uint64_t *rng)
{
    float *s = malloc((size_t)l->ns * sizeof(float));
    assert_non_null(s);
    l->mmean = s;
    l->mvar = s + l->ns / 2;
    tu_fill(rng, l->mmean, (size_t)l->ns / 2, -0.5f, 0.5f);
    tu_fill(rng, l->mvar, (size_t)l->ns / 2, 0.5f, 2.0f);
    return s;
}

static void test_batchnorm_gradients(void **state)
{
    /* channel counts around the 4, 8 and 16 lanes; images and flat inputs */
    static const pn_dims shapes[] = {{3, 3, 4, 5}, {3, 2, 3, 8}, {3, 2, 2, 17}, {1, 1, 1, 6}, {1, 1, 1, 3}};
    const pn_kernels *tables[2];
    int ntables = kernel_tables(tables);
    (void)state;
    for (int t = 0; t < ntables; t++)
        for (size_t si = 0; si < sizeof shapes / sizeof shapes[0]; si++)
            for (int variant = 0; variant < 3; variant++)
                for (int training = 1; training >= 0; training--) {
                    pneumo_batchnorm_params p;
                    const int32_t n = shapes[si].rank == 1 ? 7 : 3;
                    const size_t count = (size_t)n * (size_t)pn_dims_size(&shapes[si]);
                    pn_layer l;
                    fd_report rep;
                    uint64_t rng = 7000 + si * 10 + (uint64_t)variant;
                    float *x = malloc(count * sizeof(float)), *st;
                    char what[128];
                    assert_non_null(x);
                    pneumo_batchnorm_default_params(&p);
                    p.center = variant != 1;
                    p.scale = variant != 2;
                    p.epsilon = 0.01f;
                    assert_int_equal(pn_batchnorm_setup(&l, &shapes[si], &p), PNEUMO_OK);
                    assert_int_equal(l.nw, p.scale ? shapes[si].c : 0);
                    assert_int_equal(l.nb, p.center ? shapes[si].c : 0);
                    attach_params(&l, &rng, 1.5f);
                    st = attach_state(&l, &rng);
                    tu_fill(&rng, x, count, -1.0f, 2.0f);
                    snprintf(what, sizeof what, "batchnorm[%s] (%d, %d, %d) x %d center %d scale %d %s",
                             tables[t]->isa, shapes[si].h, shapes[si].w, shapes[si].c, n, p.center, p.scale,
                             training ? "training" : "inference");
                    fd_check_layer(&l, tables[t], training, n, x, 1e-2, rng, &rep);
                    expect_pass(what, &rep);
                    release_layer(&l);
                    free(st);
                    free(x);
                }
}

/* Training forward: every channel of the output has mean beta and variance
 * gamma^2 var / (var + eps); the moving statistics move as Keras moves them. */
static void test_batchnorm_training_stats(void **state)
{
    const pn_dims in = {3, 4, 5, 9};
    const int32_t n = 4;
    const size_t rows = (size_t)n * 20, count = rows * 9;
    pneumo_batchnorm_params p;
    pn_layer l;
    pn_run run = {.k = pn_kernels_get(), .training = 1};
    uint64_t rng = 99;
    float *x = malloc(count * sizeof(float)), *y = malloc(count * sizeof(float)), *st;
    (void)state;
    assert_true(x && y);
    pneumo_batchnorm_default_params(&p);
    assert_int_equal(pn_batchnorm_setup(&l, &in, &p), PNEUMO_OK);
    attach_params(&l, &rng, 1.0f);
    st = attach_state(&l, &rng);
    for (int c = 0; c < 9; c++) {
        l.mmean[c] = 0.0f;
        l.mvar[c] = 1.0f;
    }
    /* a large offset: the variance must not cancel */
    tu_fill(&rng, x, count, 99.0f, 101.0f);
    assert_int_equal(l.ops->forward(&l, &run, n, x, y), PNEUMO_OK);
    for (int c = 0; c < 9; c++) {
        double sx = 0, sxx = 0, sy = 0, syy = 0, var;
        for (size_t r = 0; r < rows; r++) {
            sx += x[r * 9 + (size_t)c];
            sy += y[r * 9 + (size_t)c];
        }
        sx /= (double)rows;
        sy /= (double)rows;
        for (size_t r = 0; r < rows; r++) {
            sxx += (x[r * 9 + (size_t)c] - sx) * (x[r * 9 + (size_t)c] - sx);
            syy += (y[r * 9 + (size_t)c] - sy) * (y[r * 9 + (size_t)c] - sy);
        }
        var = sxx / (double)rows;
        assert_true(fabs(sy - l.b[c]) < 1e-4);
        assert_true(fabs(syy / (double)rows - l.w[c] * l.w[c] * var / (var + 1e-3)) <
                    1e-4 * (1 + l.w[c] * l.w[c]));
        /* moving = 0.99 moving + 0.01 batch, variance unbiased */
        assert_true(fabs(l.mmean[c] - 0.01 * sx) < 1e-5);
        assert_true(fabs(l.mvar[c] - (0.99 + 0.01 * sxx / (double)(rows - 1))) < 1e-5);
    }
    release_layer(&l);
    free(st);
    free(x);
    free(y);
}

static void test_gap_gradients(void **state)
{
    static const pn_dims shapes[] = {{3, 3, 4, 5}, {3, 1, 1, 8}, {3, 5, 3, 17}, {3, 2, 2, 33}};
    const pn_kernels *tables[2];
    int ntables = kernel_tables(tables);
    (void)state;
    for (int t = 0; t < ntables; t++)
        for (size_t si = 0; si < sizeof shapes / sizeof shapes[0]; si++) {
            const int32_t n = 3;
            const size_t count = (size_t)n * (size_t)pn_dims_size(&shapes[si]);
            pn_layer l;
            pn_run run = {.k = tables[t]};
            fd_report rep;
            uint64_t rng = 8000 + si;
            float *x = malloc(count * sizeof(float)), y[3 * 33];
            char what[96];
            const pn_dims flat = {1, 1, 1, 4};
            assert_non_null(x);
            assert_int_equal(pn_gap2d_setup(&l, &flat), PNEUMO_ERR_SHAPE);
            assert_int_equal(pn_gap2d_setup(&l, &shapes[si]), PNEUMO_OK);
            assert_int_equal(l.out.rank, 1);
            assert_int_equal(l.out.c, shapes[si].c);
            tu_fill(&rng, x, count, -1.0f, 1.0f);
            assert_int_equal(l.ops->forward(&l, &run, n, x, y), PNEUMO_OK);
            for (int s = 0; s < n; s++)
                for (int c = 0; c < shapes[si].c; c++) {
                    double sum = 0;
                    const int hw = shapes[si].h * shapes[si].w;
                    for (int q = 0; q < hw; q++)
                        sum += x[((size_t)s * (size_t)hw + (size_t)q) * (size_t)shapes[si].c + (size_t)c];
                    assert_true(fabs(y[s * shapes[si].c + c] - sum / hw) < 1e-6);
                }
            snprintf(what, sizeof what, "gap2d[%s] (%d, %d, %d)", tables[t]->isa, shapes[si].h, shapes[si].w,
                     shapes[si].c);
            fd_check_layer(&l, tables[t], 1, n, x, 1e-2, rng, &rep);
            expect_pass(what, &rep);
            free(x);
        }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_batchnorm_gradients),
        cmocka_unit_test(test_batchnorm_training_stats),
        cmocka_unit_test(test_gap_gradients),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
