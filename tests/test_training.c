/* End-to-end training on generated data: a small CNN learns to find a bright
 * blob in 8x8 noise images; training is reproducible from the seed; predict
 * and evaluate agree. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "model/model.h"
#include "pneumo/pneumo.h"
#include "testutil.h"

#define SIDE 8
#define BATCH 32

/* Class 1: background noise U(0, 0.5) plus a 3x3 blob of +1 at a random
 * place; class 0: noise only. Labels are random; sample weights are the
 * article's class weights (they weight the loss, not the accuracy). */
static void make_data(uint64_t *rng, int32_t n, pneumo_tensor *x, pneumo_tensor *y, pneumo_tensor *w)
{
    float *xd = pneumo_tensor_data(x), *yd = pneumo_tensor_data(y);
    float *wd = w ? pneumo_tensor_data(w) : NULL;
    for (int32_t i = 0; i < n; i++) {
        float *img = xd + (size_t)i * SIDE * SIDE;
        int label = (int)(tu_next(rng) & 1);
        tu_fill(rng, img, SIDE * SIDE, 0.0f, 0.5f);
        if (label) {
            int by = (int)(tu_next(rng) % (SIDE - 2)), bx = (int)(tu_next(rng) % (SIDE - 2));
            for (int dy = 0; dy < 3; dy++)
                for (int dx = 0; dx < 3; dx++)
                    img[(by + dy) * SIDE + bx + dx] += 1.0f;
        }
        yd[i] = (float)label;
        if (wd)
            wd[i] = label ? 0.6739549839228296f : 1.9371534195933457f;
    }
}

static pneumo_tensor *new_tensor(int ndim, int64_t a, int64_t b, int64_t c, int64_t d)
{
    const int64_t shape[4] = {a, b, c, d};
    pneumo_tensor *t = NULL;
    assert_int_equal(pneumo_tensor_create(ndim, shape, &t), PNEUMO_OK);
    return t;
}

/* 8x8x1 -> Conv2D(4, 3x3, relu) -> MaxPool(2) -> Flatten -> Dense(8, relu)
 * -> Dropout(0.25) -> Dense(1, sigmoid) */
static pneumo_model *make_model(uint64_t seed)
{
    pneumo_model *m = NULL;
    pneumo_conv2d_params cp;
    assert_int_equal(pneumo_model_create(SIDE, SIDE, 1, seed, &m), PNEUMO_OK);
    pneumo_conv2d_default_params(&cp);
    cp.filters = 4;
    cp.activation = PNEUMO_ACT_RELU;
    assert_int_equal(pneumo_model_add_conv2d(m, &cp), PNEUMO_OK);
    assert_int_equal(pneumo_model_add_maxpool2d(m, NULL), PNEUMO_OK);
    assert_int_equal(pneumo_model_add_flatten(m), PNEUMO_OK);
    assert_int_equal(pneumo_model_add_dense(m, 8, PNEUMO_ACT_RELU), PNEUMO_OK);
    assert_int_equal(pneumo_model_add_dropout(m, 0.25f), PNEUMO_OK);
    assert_int_equal(pneumo_model_add_dense(m, 1, PNEUMO_ACT_SIGMOID), PNEUMO_OK);
    assert_int_equal(pneumo_model_num_params(m), 4 * 9 + 4 + 36 * 8 + 8 + 8 + 1);
    return m;
}

/* Train `steps` batches drawn from data seed `data_seed`; returns the mean
 * training loss of the last 20 steps. */
static double train(pneumo_model *m, pneumo_optimizer *opt, uint64_t data_seed, int steps)
{
    pneumo_tensor *x = new_tensor(4, BATCH, SIDE, SIDE, 1);
    pneumo_tensor *y = new_tensor(1, BATCH, 0, 0, 0);
    pneumo_tensor *w = new_tensor(1, BATCH, 0, 0, 0);
    uint64_t rng = data_seed;
    double tail = 0.0;
    for (int s = 0; s < steps; s++) {
        pneumo_step_result r;
        make_data(&rng, BATCH, x, y, w);
        assert_int_equal(pneumo_model_train_step(m, opt, x, y, w, &r), PNEUMO_OK);
        assert_true(isfinite(r.loss));
        if (s >= steps - 20)
            tail += r.loss / 20.0;
    }
    pneumo_tensor_destroy(x);
    pneumo_tensor_destroy(y);
    pneumo_tensor_destroy(w);
    return tail;
}

/* Accuracy and loss recomputed by hand from predict(), checked against
 * evaluate_batch(). */
static void check_predict_matches_evaluate(pneumo_model *m, const pneumo_tensor *x, const pneumo_tensor *y,
                                           const pneumo_tensor *w, double *accuracy)
{
    const int64_t n = pneumo_tensor_dim(x, 0);
    pneumo_tensor *p = new_tensor(2, n, 1, 0, 0);
    pneumo_step_result r;
    double acc = 0.0, wsum = 0.0, loss = 0.0;
    int saturated = 0;
    assert_int_equal(pneumo_model_predict(m, x, p), PNEUMO_OK);
    assert_int_equal(pneumo_model_evaluate_batch(m, x, y, w, &r), PNEUMO_OK);
    assert_int_equal(r.batch_size, n);
    /* evaluate leaves its probabilities (sigmoid of the logits, written by the
     * loss) in the last activation buffer: bit-identical to predict's output */
    assert_memory_equal(m->acts[m->nlayers - 1], pneumo_tensor_data_const(p), (size_t)n * sizeof(float));
    for (int64_t i = 0; i < n; i++) {
        const double pi = pneumo_tensor_data(p)[i], yi = pneumo_tensor_data_const(y)[i];
        const double wi = pneumo_tensor_data_const(w)[i];
        assert_true(pi >= 0.0 && pi <= 1.0);
        acc += ((pi > 0.5) == (yi == 1.0)) ? 1.0 : 0.0; /* unweighted, as Keras' metric */
        wsum += wi;
        if (pi < 1e-6 || pi > 1.0 - 1e-6)
            saturated = 1;
        else
            loss += wi * -(yi * log(pi) + (1.0 - yi) * log(1.0 - pi)) / (double)n;
    }
    acc /= (double)n;
    assert_true(wsum > 0.0);
    /* same probabilities, same threshold: the accuracy is identical */
    if (fabs(acc - r.accuracy) > 1e-12)
        fail_msg("accuracy from predict %.15g, from evaluate %.15g", acc, r.accuracy);
    /* the loss from probabilities matches the loss from logits (float p) */
    if (!saturated && fabs(loss - r.loss) > 1e-5 + 1e-4 * r.loss)
        fail_msg("loss from predict %.9g, from evaluate %.9g", loss, r.loss);
    *accuracy = r.accuracy;
    pneumo_tensor_destroy(p);
}

static void test_learns_blob_detection(void **state)
{
    enum { NTEST = 512 };
    pneumo_model *m = make_model(2024);
    pneumo_optimizer *opt = NULL;
    pneumo_adam_params ap;
    pneumo_tensor *xt = new_tensor(4, NTEST, SIDE, SIDE, 1);
    pneumo_tensor *yt = new_tensor(1, NTEST, 0, 0, 0);
    pneumo_tensor *wt = new_tensor(1, NTEST, 0, 0, 0);
    pneumo_step_result r0, r1;
    uint64_t test_rng = 0xfeedull;
    double acc0, acc1, tail;
    (void)state;
    make_data(&test_rng, NTEST, xt, yt, wt); /* held out: another data stream */

    check_predict_matches_evaluate(m, xt, yt, wt, &acc0);
    assert_int_equal(pneumo_model_evaluate_batch(m, xt, yt, wt, &r0), PNEUMO_OK);

    pneumo_adam_default_params(&ap);
    ap.learning_rate = 1e-2f;
    assert_int_equal(pneumo_optimizer_create_adam(&ap, &opt), PNEUMO_OK);
    tail = train(m, opt, 1, 300);
    assert_int_equal(pneumo_optimizer_iterations(opt), 300);

    check_predict_matches_evaluate(m, xt, yt, wt, &acc1);
    assert_int_equal(pneumo_model_evaluate_batch(m, xt, yt, wt, &r1), PNEUMO_OK);
    printf("held-out accuracy %.4f -> %.4f, loss %.4f -> %.4f (train tail %.4f)\n", acc0, acc1, r0.loss,
           r1.loss, tail);
    assert_true(acc1 > 0.95);
    assert_true(r1.loss < 0.5 * r0.loss);
    /* evaluation is deterministic and has no side effects */
    {
        pneumo_step_result r2;
        assert_int_equal(pneumo_model_evaluate_batch(m, xt, yt, wt, &r2), PNEUMO_OK);
        assert_true(r2.loss == r1.loss && r2.accuracy == r1.accuracy);
    }
    pneumo_optimizer_destroy(opt);
    pneumo_model_destroy(m);
    pneumo_tensor_destroy(xt);
    pneumo_tensor_destroy(yt);
    pneumo_tensor_destroy(wt);
}

/* All parameters of a model, concatenated. */
static float *params_of(pneumo_model *m, size_t *count)
{
    size_t total = (size_t)pneumo_model_num_params(m), at = 0;
    float *all = malloc(total * sizeof(float));
    assert_non_null(all);
    for (int32_t i = 0; i < pneumo_model_num_param_tensors(m); i++) {
        pneumo_tensor *t = NULL;
        size_t n;
        assert_int_equal(pneumo_model_param(m, i, &t), PNEUMO_OK);
        n = (size_t)pneumo_tensor_numel(t);
        assert_true(at + n <= total);
        memcpy(all + at, pneumo_tensor_data_const(t), n * sizeof(float));
        at += n;
        pneumo_tensor_destroy(t);
    }
    assert_int_equal(at, total);
    *count = total;
    return all;
}

static float *train_and_collect(uint64_t seed, int steps, size_t *count)
{
    pneumo_model *m = make_model(seed);
    pneumo_optimizer *opt = NULL;
    float *p;
    assert_int_equal(pneumo_optimizer_create_adam(NULL, &opt), PNEUMO_OK);
    train(m, opt, 77, steps);
    p = params_of(m, count);
    pneumo_optimizer_destroy(opt);
    pneumo_model_destroy(m);
    return p;
}

static void test_reproducible_from_seed(void **state)
{
    size_t na, nb, nc, n0, n1;
    float *a, *b, *c, *i0, *i1;
    (void)state;
    /* same seed: identical initial weights and, with dropout active, identical
     * weights after 40 steps, bit for bit */
    {
        pneumo_model *m0 = make_model(5), *m1 = make_model(5);
        i0 = params_of(m0, &n0);
        i1 = params_of(m1, &n1);
        assert_int_equal(n0, n1);
        assert_memory_equal(i0, i1, n0 * sizeof(float));
        pneumo_model_destroy(m0);
        pneumo_model_destroy(m1);
        free(i0);
        free(i1);
    }
    a = train_and_collect(5, 40, &na);
    b = train_and_collect(5, 40, &nb);
    c = train_and_collect(6, 40, &nc);
    assert_int_equal(na, nb);
    assert_int_equal(na, nc);
    assert_memory_equal(a, b, na * sizeof(float));
    /* a different seed gives different weights (init and dropout masks) */
    {
        size_t differ = 0;
        for (size_t i = 0; i < na; i++)
            differ += a[i] != c[i];
        assert_true(differ > na / 2);
    }
    free(a);
    free(b);
    free(c);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_learns_blob_detection),
        cmocka_unit_test(test_reproducible_from_seed),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
