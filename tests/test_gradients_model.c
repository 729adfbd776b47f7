/* Finite-difference gradient check (gradient_check.h) of the full model
 * loss with respect to every parameter. */
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
        } else if (l->act == PN_ACT_RELU && (l->kind == PN_LAYER_CONV2D || l->kind == PN_LAYER_DENSE ||
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
            printf("%s %s (%zu values): elem %.2e L2 %.2e worst [%zu] %.6g vs fd %.6g, skipped %zu\n", label,
                   tu_param_name(m, ti), count, r.max_elem, r.rel_l2, r.worst, a[r.worst], f[r.worst],
                   skipped);
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

static void make_batch(uint64_t seed, int32_t n, int32_t h, int32_t w, int32_t c, pneumo_tensor **x)
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
            assert_int_equal(pneumo_model_add_dense(*mm, 1, k ? PNEUMO_ACT_LINEAR : PNEUMO_ACT_SIGMOID),
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

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_model_loss_gradients),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
