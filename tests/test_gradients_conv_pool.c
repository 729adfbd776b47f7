/* Finite-difference gradient checks (gradient_check.h) of the convolution
 * and max-pool layers over a table of shapes, strides and paddings. */
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
/* Conv2D */

typedef struct conv_case {
    int32_t ih, iw, ic, oc, kh, kw, sh, sw, padding, use_bias;
} conv_case;

static const conv_case conv_cases[] = {
    {7, 5, 1, 1, 3, 3, 1, 1, PNEUMO_PADDING_VALID, 1},
    {7, 5, 3, 2, 3, 3, 1, 1, PNEUMO_PADDING_SAME, 1},
    {7, 5, 4, 5, 2, 3, 2, 2, PNEUMO_PADDING_SAME, 1},
    {7, 5, 3, 5, 3, 3, 2, 1, PNEUMO_PADDING_VALID, 1}, /* mixed strides 2x1 */
    {7, 5, 3, 5, 2, 3, 2, 1, PNEUMO_PADDING_SAME, 1},  /* mixed strides, same */
    {7, 5, 4, 2, 1, 1, 1, 1, PNEUMO_PADDING_VALID, 1}, /* 1x1 */
    {7, 5, 1, 5, 1, 1, 2, 2, PNEUMO_PADDING_SAME, 1},  /* 1x1 strided */
    {6, 6, 3, 2, 3, 3, 2, 2, PNEUMO_PADDING_SAME, 1},  /* pad 0 before, 1 after */
    {5, 7, 4, 1, 2, 3, 1, 2, PNEUMO_PADDING_VALID, 1}, /* valid floors 7 -> 3 */
    {7, 5, 3, 2, 4, 4, 1, 1, PNEUMO_PADDING_SAME, 0},  /* even kernel: pad 1 / 2, no bias */
    {5, 5, 3, 1, 5, 5, 1, 1, PNEUMO_PADDING_VALID, 1}, /* kernel covers the input */
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
                         cc->padding ? "same" : "valid", l.out.h, l.out.w, l.out.c, act_label[act]);
                /* ReLU is piecewise linear: a small step meets fewer kinks and has
                 * no truncation error; smooth activations use a larger one. */
                fd_check_layer(&l, tables[t], 1, n, x, act == PNEUMO_ACT_RELU ? 1e-3 : 1e-2, rng, &rep);
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
                                                best = fmaxf(
                                                    best, x[((s * pc->ih + iy) * pc->iw + ix) * pc->c + ch]);
                                        }
                                    assert_true(y[((s * pc->oh + oy) * pc->ow + ox) * pc->c + ch] == best);
                                }
                }
                free(y);

                snprintf(what, sizeof what, "maxpool[%s] %dx%dx%d p%dx%d s%dx%d %s%s", tables[t]->isa, pc->ih,
                         pc->iw, pc->c, pc->ph, pc->pw, pc->sh, pc->sw, pc->padding ? "same" : "valid",
                         neg ? " negative" : "");
                fd_check_layer(&l, tables[t], 1, n, x, 1e-2, rng, &rep);
                expect_pass(what, &rep);
                assert_int_equal(rep.skipped, 0);
                release_layer(&l);
                free(x);
            }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_conv2d_gradients),
        cmocka_unit_test(test_maxpool_gradients),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
