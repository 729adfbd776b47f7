/* Binary cross-entropy from logits, accuracy, Adam and SGD against values
 * computed by hand (in double) from Keras' formulas. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kernels/kernels.h"
#include "optim/optimizer.h"
#include "pneumo/pneumo.h"
#include "testutil.h"

/* Keras' class weights for the article's training split (1341 normal, 3875
 * pneumonia): total / (2 * count). */
#define W_NORMAL 1.9371534195933457
#define W_PNEUMONIA 0.6739549839228296

static int close_to(double got, double want, double rel, double abs_tol)
{
    return isfinite(got) && fabs(got - want) <= abs_tol + rel * fabs(want);
}

#define assert_close(got, want, rel, abs_tol)                     \
    do {                                                          \
        double g_ = (double)(got), w_ = (double)(want);           \
        if (!close_to(g_, w_, (rel), (abs_tol)))                  \
            fail_msg("%s = %.17g, expected %.17g", #got, g_, w_); \
    } while (0)

/* log(1 + e^t) in long double, by cases (no shared code with the library). */
static long double softplus_ld(long double t)
{
    if (t > 40.0L)
        return t + expl(-t);
    return log1pl(expl(t));
}

/* Per-sample BCE of logit z against label y: -y log p - (1 - y) log(1 - p)
 * with log p = -softplus(-z) and log(1 - p) = -softplus(z). */
static double bce_ref(double z, double y)
{
    return (double)(y * softplus_ld(-(long double)z) + (1.0 - y) * softplus_ld((long double)z));
}

static double sigmoid_ref(double z) { return 1.0 / (1.0 + exp(-z)); }

/* ------------------------------------------------------------------------ */

static void check_bce_kernel(const pn_kernels *k)
{
    static const float zs[] = {-3.0f, -0.5f, 0.0f, 0.5f, 3.0f, 40.0f, -40.0f, 100.0f, -100.0f};
    for (size_t i = 0; i < sizeof zs / sizeof zs[0]; i++)
        for (int yi = 0; yi <= 1; yi++) {
            const float z = zs[i], y = (float)yi;
            float p = -1.0f, dz = -1.0f;
            double loss = -1.0, acc = -1.0, wsum = -1.0;
            const double want = bce_ref(z, y);
            k->bce_logits(1, &z, &y, NULL, 0.0f, &p, &dz, &loss, &acc, &wsum);
            assert_true(isfinite(loss) && isfinite(p) && isfinite(dz));
            assert_true(loss >= 0.0);
            assert_close(loss, want, 1e-6, 1e-7);
            assert_close(p, sigmoid_ref(z), 1e-6, 1e-7);
            assert_close(dz, sigmoid_ref(z) - y, 1e-6, 1e-7);
            assert_true(wsum == 1.0);
            /* (p > 0.5) == y; z = 0 gives p = 0.5, predicted 0 */
            assert_true(acc == ((z > 0.0f) == (yi == 1) ? 1.0 : 0.0));
        }

    /* values by hand */
    {
        const float z[6] = {0.0f, 0.0f, 100.0f, -100.0f, 3.0f, 3.0f};
        const float y[6] = {0.0f, 1.0f, 0.0f, 1.0f, 1.0f, 0.0f};
        const double want[6] = {0.69314718055994531, 0.69314718055994531, 100.0, 100.0,
                                0.048587351573742,   3.048587351573742};
        for (int i = 0; i < 6; i++) {
            float p, dz;
            double loss, acc, wsum;
            k->bce_logits(1, &z[i], &y[i], NULL, 0.0f, &p, &dz, &loss, &acc, &wsum);
            assert_close(loss, want[i], 1e-6, 1e-7);
        }
    }

    /* weighted batch: loss_sum = sum w l, dz = w (p - y) / N, acc_sum and w_sum
     * weighted */
    {
        enum { N = 7 };
        const float z[N] = {2.0f, -1.0f, -0.3f, 0.2f, 1.5f, -4.0f, 0.0f};
        const float y[N] = {1, 1, 0, 1, 0, 0, 1};
        float w[N], p[N], dz[N];
        double loss, acc, wsum, want_loss = 0, want_acc = 0, want_w = 0;
        for (int i = 0; i < N; i++)
            w[i] = (float)(y[i] ? W_PNEUMONIA : W_NORMAL);
        k->bce_logits(N, z, y, w, 0.0f, p, dz, &loss, &acc, &wsum);
        for (int i = 0; i < N; i++) {
            double wi = w[i], pi = sigmoid_ref(z[i]);
            want_loss += wi * bce_ref(z[i], y[i]);
            want_acc += (pi > 0.5) == (y[i] == 1.0f) ? wi : 0.0;
            want_w += wi;
            assert_close(dz[i], wi * (pi - y[i]) / N, 1e-6, 1e-8);
            assert_close(p[i], pi, 1e-6, 1e-8);
        }
        assert_close(loss, want_loss, 1e-6, 0);
        assert_close(acc, want_acc, 1e-6, 0);
        assert_close(wsum, want_w, 1e-6, 0);
        /* correct: samples 0, 2, 3, 5 */
        assert_close(acc, W_PNEUMONIA + W_NORMAL + W_PNEUMONIA + W_NORMAL, 1e-6, 0);
        /* dz may be NULL (evaluation) */
        k->bce_logits(N, z, y, w, 0.0f, p, NULL, &loss, &acc, &wsum);
        assert_close(loss, want_loss, 1e-6, 0);
    }
    /* label smoothing (Keras BinaryCrossentropy(label_smoothing=s), or torch's
     * BCEWithLogitsLoss on the target y (1 - s) + 0.5 s): z = 3, y = 1, s = 0.2
     * gives t = 0.9, loss 3 - 2.7 + log1p(e^-3) = 0.348587351573742, dz = p - 0.9;
     * accuracy keeps the label; dz matches central differences of the loss */
    {
        static const float zl[] = {-2.5f, -0.4f, 0.0f, 0.7f, 3.0f};
        static const float ss[] = {0.1f, 0.2f, 1.0f};
        float p, dz;
        double loss, acc, wsum;
        const float z = 3.0f, y = 1.0f;
        k->bce_logits(1, &z, &y, NULL, 0.2f, &p, &dz, &loss, &acc, &wsum);
        assert_close(loss, 0.348587351573742, 1e-6, 1e-7);
        assert_close(dz, sigmoid_ref(3.0) - 0.9, 1e-6, 1e-7);
        assert_true(acc == 1.0);
        for (size_t i = 0; i < sizeof zl / sizeof zl[0]; i++)
            for (size_t j = 0; j < sizeof ss / sizeof ss[0]; j++)
                for (int yi = 0; yi <= 1; yi++) {
                    const float zi = zl[i], lab = (float)yi, h = 1e-2f, zp = zi + h, zm = zi - h;
                    const double t = yi * (1.0 - ss[j]) + 0.5 * ss[j];
                    double lp, lm;
                    k->bce_logits(1, &zi, &lab, NULL, ss[j], &p, &dz, &loss, &acc, &wsum);
                    assert_close(loss, bce_ref(zi, t), 1e-6, 1e-7);
                    assert_close(dz, sigmoid_ref(zi) - t, 1e-6, 1e-7);
                    k->bce_logits(1, &zp, &lab, NULL, ss[j], &p, NULL, &lp, &acc, &wsum);
                    k->bce_logits(1, &zm, &lab, NULL, ss[j], &p, NULL, &lm, &acc, &wsum);
                    assert_close(dz, (lp - lm) / (double)(zp - zm), 0, 1e-4);
                }
    }
}

static void test_bce_kernel(void **state)
{
    (void)state;
    check_bce_kernel(&pn_kernels_ref);
    if (pn_kernels_get() != &pn_kernels_ref)
        check_bce_kernel(pn_kernels_get());
}

/* A model whose logit is its input: flat 1 -> Dense(1, sigmoid) with kernel 1,
 * bias 0. */
static pneumo_model *identity_logit_model(uint64_t seed)
{
    pneumo_model *m = NULL;
    pneumo_tensor *k = NULL, *b = NULL;
    assert_int_equal(pneumo_model_create(1, 1, 1, seed, &m), PNEUMO_OK);
    assert_int_equal(pneumo_model_add_dense(m, 1, PNEUMO_ACT_SIGMOID), PNEUMO_OK);
    assert_int_equal(pneumo_model_param(m, 0, &k), PNEUMO_OK);
    assert_int_equal(pneumo_model_param(m, 1, &b), PNEUMO_OK);
    pneumo_tensor_data(k)[0] = 1.0f;
    pneumo_tensor_data(b)[0] = 0.0f;
    pneumo_tensor_destroy(k);
    pneumo_tensor_destroy(b);
    return m;
}

static void test_bce_model(void **state)
{
    enum { N = 9 };
    const float z[N] = {-3.0f, -0.5f, 0.0f, 0.5f, 3.0f, 40.0f, -40.0f, 100.0f, -100.0f};
    const float y[N] = {0, 1, 1, 0, 1, 0, 1, 1, 0};
    const int64_t xshape[2] = {N, 1}, n = N;
    pneumo_tensor *x = NULL, *lab = NULL, *lab2 = NULL, *w = NULL, *gk = NULL, *gb = NULL;
    pneumo_model *m = identity_logit_model(5);
    pneumo_step_result r, r2;
    double want_loss = 0, want_acc = 0, want_w = 0, want_gk = 0, want_gb = 0, unw_loss = 0;
    double unw_acc = 0;
    (void)state;
    assert_int_equal(pneumo_tensor_create(2, xshape, &x), PNEUMO_OK);
    assert_int_equal(pneumo_tensor_create(1, &n, &lab), PNEUMO_OK);
    assert_int_equal(pneumo_tensor_create(2, xshape, &lab2), PNEUMO_OK); /* (N, 1) labels */
    assert_int_equal(pneumo_tensor_create(1, &n, &w), PNEUMO_OK);
    for (int i = 0; i < N; i++) {
        double wi = y[i] ? W_PNEUMONIA : W_NORMAL, pi = sigmoid_ref(z[i]);
        double li = bce_ref(z[i], y[i]);
        int correct = (pi > 0.5) == (y[i] == 1.0f);
        pneumo_tensor_data(x)[i] = z[i];
        pneumo_tensor_data(lab)[i] = y[i];
        pneumo_tensor_data(lab2)[i] = y[i];
        pneumo_tensor_data(w)[i] = (float)wi;
        wi = (float)wi;
        want_loss += wi * li / N;
        want_acc += correct ? wi : 0.0;
        want_w += wi;
        want_gk += wi * (pi - y[i]) * z[i] / N;
        want_gb += wi * (pi - y[i]) / N;
        unw_loss += li / N;
        unw_acc += correct ? 1.0 / N : 0.0;
    }
    want_acc /= want_w;

    /* evaluate: weighted loss sum(w l) / N (Keras divides by N, not by sum(w));
     * accuracy is NOT weighted: Keras hands sample/class weights to the loss and
     * to `weighted_metrics` only, and the article compiles metrics=['accuracy'] */
    assert_int_equal(pneumo_model_evaluate_batch(m, x, lab, w, &r), PNEUMO_OK);
    assert_true(isfinite(r.loss));
    assert_int_equal(r.batch_size, N);
    assert_close(r.loss, want_loss, 1e-6, 0);
    assert_false(close_to(r.loss, want_loss * N / want_w, 1e-3, 0));
    assert_close(r.accuracy, unw_acc, 1e-12, 0);
    assert_false(close_to(r.accuracy, want_acc, 1e-3, 0)); /* the weighted value differs */
    /* correct: z = -3 (y 0), -0.5 (y 1: wrong), 0 (y 1: p = 0.5 is not > 0.5,
     * wrong), 0.5 (y 0: wrong), 3, 40 (y 0: wrong), -40 (y 1: wrong), 100, -100 */
    assert_close(r.accuracy, 4.0 / 9.0, 1e-12, 0);
    /* (N, 1) labels are the same */
    assert_int_equal(pneumo_model_evaluate_batch(m, x, lab2, w, &r2), PNEUMO_OK);
    assert_true(r2.loss == r.loss && r2.accuracy == r.accuracy);
    /* no weights: plain mean and plain accuracy */
    assert_int_equal(pneumo_model_evaluate_batch(m, x, lab, NULL, &r2), PNEUMO_OK);
    assert_close(r2.loss, unw_loss, 1e-6, 0);
    assert_close(r2.accuracy, unw_acc, 1e-9, 0);

    /* gradients: dL/dz = w (p - y) / N, kernel grad sum(dz x), bias grad sum(dz) */
    assert_int_equal(pneumo_model_compute_gradients(m, x, lab, w, &r2), PNEUMO_OK);
    assert_close(r2.loss, want_loss, 1e-6, 0);
    assert_close(r2.accuracy, unw_acc, 1e-12, 0);
    assert_int_equal(pneumo_model_grad(m, 0, &gk), PNEUMO_OK);
    assert_int_equal(pneumo_model_grad(m, 1, &gb), PNEUMO_OK);
    assert_close(pneumo_tensor_data(gk)[0], want_gk, 1e-5, 1e-7);
    assert_close(pneumo_tensor_data(gb)[0], want_gb, 1e-5, 1e-7);

    /* a zero weight removes a sample from the loss, not from the accuracy */
    {
        float *wd = pneumo_tensor_data(w);
        double l0;
        assert_int_equal(pneumo_model_evaluate_batch(m, x, lab, w, &r), PNEUMO_OK);
        l0 = r.loss;
        wd[2] = 0.0f; /* z = 0, y = 1: misclassified, loss ln 2 */
        assert_int_equal(pneumo_model_evaluate_batch(m, x, lab, w, &r), PNEUMO_OK);
        assert_close(r.loss, l0 - W_PNEUMONIA * log(2.0) / N, 1e-6, 0);
        assert_close(r.accuracy, unw_acc, 1e-12, 0);
    }
    /* invalid targets */
    pneumo_tensor_data(lab)[0] = 1.5f;
    assert_int_equal(pneumo_model_evaluate_batch(m, x, lab, NULL, &r), PNEUMO_ERR_INVALID_ARG);
    pneumo_tensor_data(lab)[0] = 0.0f;
    pneumo_tensor_data(w)[0] = -1.0f;
    assert_int_equal(pneumo_model_evaluate_batch(m, x, lab, w, &r), PNEUMO_ERR_INVALID_ARG);

    pneumo_tensor_destroy(gk);
    pneumo_tensor_destroy(gb);
    pneumo_tensor_destroy(x);
    pneumo_tensor_destroy(lab);
    pneumo_tensor_destroy(lab2);
    pneumo_tensor_destroy(w);
    pneumo_model_destroy(m);
}

/* ------------------------------------------------------------------------ */
/* Adam */

typedef struct adam_ref {
    double m[8], v[8];
    int64_t t;
} adam_ref;

/* Keras: lr_t = lr sqrt(1 - b2^t) / (1 - b1^t); w -= lr_t m / (sqrt(v) + eps) */
static void adam_ref_step(adam_ref *s, double *w, const double *g, int count, double lr, double b1, double b2,
                          double eps)
{
    double lr_t;
    s->t++;
    lr_t = lr * sqrt(1.0 - pow(b2, (double)s->t)) / (1.0 - pow(b1, (double)s->t));
    for (int i = 0; i < count; i++) {
        s->m[i] = b1 * s->m[i] + (1.0 - b1) * g[i];
        s->v[i] = b2 * s->v[i] + (1.0 - b2) * g[i] * g[i];
        w[i] -= lr_t * s->m[i] / (sqrt(s->v[i]) + eps);
    }
}

static void test_adam_steps(void **state)
{
    enum { C = 5 };
    const float w0[C] = {0.5f, -0.3f, 0.0f, 1.0f, 0.2f};
    /* element 2 has a tiny gradient, where Keras' epsilon placement matters */
    const float g[3][C] = {{0.1f, -0.2f, 1e-6f, 0.0f, 3.0f},
                           {-0.05f, -0.2f, 1e-6f, 0.5f, 3.0f},
                           {0.2f, 0.1f, -1e-6f, 0.5f, -1.0f}};
    const double lrs[3] = {1e-3, 1e-3, 3e-4};
    pneumo_adam_params p;
    pneumo_optimizer *opt = NULL;
    float w[C];
    double wr[C], gd[C];
    adam_ref ref;
    (void)state;

    pneumo_adam_default_params(&p);
    assert_true(p.learning_rate == 1e-3f && p.beta_1 == 0.9f && p.beta_2 == 0.999f && p.epsilon == 1e-7f);
    assert_int_equal(pneumo_optimizer_create_adam(NULL, &opt), PNEUMO_OK);
    assert_int_equal(pneumo_optimizer_kind_of(opt), PNEUMO_OPTIMIZER_ADAM);
    assert_true(pneumo_optimizer_learning_rate(opt) == 1e-3f);
    assert_int_equal(pneumo_optimizer_iterations(opt), 0);
    assert_int_equal(pn_optimizer_bind(opt, 0xabcdefull, C), PNEUMO_OK);
    assert_int_equal(pn_optimizer_bind(opt, 0xabcdefull, C), PNEUMO_OK); /* idempotent */

    memcpy(w, w0, sizeof w);
    memset(&ref, 0, sizeof ref);
    for (int i = 0; i < C; i++)
        wr[i] = w0[i];
    for (int step = 0; step < 3; step++) {
        if (step == 2) {
            assert_int_equal(pneumo_optimizer_set_learning_rate(opt, 3e-4f), PNEUMO_OK);
            assert_true(pneumo_optimizer_learning_rate(opt) == 3e-4f);
        }
        pn_optimizer_step(opt, &pn_kernels_ref, w, g[step], NULL, 0);
        for (int i = 0; i < C; i++)
            gd[i] = g[step][i];
        adam_ref_step(&ref, wr, gd, C, (double)(float)lrs[step], (double)0.9f, (double)0.999f, (double)1e-7f);
        assert_int_equal(pneumo_optimizer_iterations(opt), step + 1);
        for (int i = 0; i < C; i++) {
            /* compare the total displacement (~1e-3) to 1e-4 relative */
            double moved = (double)w[i] - w0[i], want = wr[i] - w0[i];
            if (fabs(moved - want) > 1e-4 * fabs(want) + 2e-7)
                fail_msg("Adam step %d element %d: moved %.9g, expected %.9g", step + 1, i, moved, want);
        }
    }
    /* hand values of step 1 (lr_t = 1e-3 sqrt(0.001) / 0.1 = 3.16227766e-4):
     * element 0: m = 0.01, v = 1e-5, update = lr_t * 0.01 / (0.0031622777 + 1e-7) */
    {
        float w1[C];
        pneumo_optimizer *o2 = NULL;
        assert_int_equal(pneumo_optimizer_create_adam(NULL, &o2), PNEUMO_OK);
        assert_int_equal(pn_optimizer_bind(o2, 7, C), PNEUMO_OK);
        memcpy(w1, w0, sizeof w1);
        pn_optimizer_step(o2, &pn_kernels_ref, w1, g[0], NULL, 0);
        assert_close(w1[0], 0.5 - 3.16227766e-4 * 0.01 / (0.0031622777 + 1e-7), 0, 1e-7);
        assert_true(w1[3] == w0[3]); /* zero gradient: no move */
        /* Keras' epsilon: with g = 1e-6, m = 1e-7, sqrt(v) = 3.1623e-8, so the step
         * is lr_t * 0.7597 = 2.402e-4 -- not the textbook lr * 0.909 = 9.09e-4 */
        assert_close(w0[2] - w1[2], 3.16227766e-4 * 1e-7 / (3.16227766e-8 + 1e-7), 1e-3, 0);
        assert_false(close_to(w0[2] - w1[2], 1e-3 * 1e-6 / (1e-6 + 1e-7), 0.1, 0));
        pneumo_optimizer_destroy(o2);
    }
    /* another model id or size: refused */
    assert_int_equal(pn_optimizer_bind(opt, 0xabcdeeull, C), PNEUMO_ERR_STATE);
    assert_int_equal(pn_optimizer_bind(opt, 0xabcdefull, C + 16), PNEUMO_ERR_STATE);
    pneumo_optimizer_destroy(opt);
}

static void test_optimizer_params_rejected(void **state)
{
    pneumo_adam_params a;
    pneumo_sgd_params s;
    pneumo_optimizer *opt = (pneumo_optimizer *)0x1;
    const float bad_lr[] = {0.0f, -1e-3f, NAN, INFINITY};
    (void)state;

    for (size_t i = 0; i < sizeof bad_lr / sizeof bad_lr[0]; i++) {
        pneumo_adam_default_params(&a);
        a.learning_rate = bad_lr[i];
        opt = (pneumo_optimizer *)0x1;
        assert_int_equal(pneumo_optimizer_create_adam(&a, &opt), PNEUMO_ERR_INVALID_ARG);
        assert_null(opt);
        pneumo_sgd_default_params(&s);
        s.learning_rate = bad_lr[i];
        assert_int_equal(pneumo_optimizer_create_sgd(&s, &opt), PNEUMO_ERR_INVALID_ARG);
        assert_null(opt);
    }
    {
        const float bad_beta[] = {1.0f, 1.5f, -0.1f, NAN};
        for (size_t i = 0; i < sizeof bad_beta / sizeof bad_beta[0]; i++) {
            pneumo_adam_default_params(&a);
            a.beta_1 = bad_beta[i];
            assert_int_equal(pneumo_optimizer_create_adam(&a, &opt), PNEUMO_ERR_INVALID_ARG);
            assert_non_null(strstr(pneumo_last_error(), "beta"));
            pneumo_adam_default_params(&a);
            a.beta_2 = bad_beta[i];
            assert_int_equal(pneumo_optimizer_create_adam(&a, &opt), PNEUMO_ERR_INVALID_ARG);
        }
    }
    pneumo_adam_default_params(&a);
    a.epsilon = NAN;
    assert_int_equal(pneumo_optimizer_create_adam(&a, &opt), PNEUMO_ERR_INVALID_ARG);
    a.epsilon = -1e-7f;
    assert_int_equal(pneumo_optimizer_create_adam(&a, &opt), PNEUMO_ERR_INVALID_ARG);
    pneumo_sgd_default_params(&s);
    s.momentum = 1.0f;
    assert_int_equal(pneumo_optimizer_create_sgd(&s, &opt), PNEUMO_ERR_INVALID_ARG);
    s.momentum = -0.5f;
    assert_int_equal(pneumo_optimizer_create_sgd(&s, &opt), PNEUMO_ERR_INVALID_ARG);
    s.momentum = NAN;
    assert_int_equal(pneumo_optimizer_create_sgd(&s, &opt), PNEUMO_ERR_INVALID_ARG);
    assert_int_equal(pneumo_optimizer_create_adam(NULL, NULL), PNEUMO_ERR_INVALID_ARG);

    /* set_learning_rate rejects bad values and keeps the old one */
    assert_int_equal(pneumo_optimizer_create_adam(NULL, &opt), PNEUMO_OK);
    for (size_t i = 0; i < sizeof bad_lr / sizeof bad_lr[0]; i++) {
        assert_int_equal(pneumo_optimizer_set_learning_rate(opt, bad_lr[i]), PNEUMO_ERR_INVALID_ARG);
        assert_true(pneumo_optimizer_learning_rate(opt) == 1e-3f);
    }
    assert_int_equal(pneumo_optimizer_set_learning_rate(NULL, 1e-3f), PNEUMO_ERR_INVALID_ARG);
    pneumo_optimizer_destroy(opt);
    /* defaults and NULL handling */
    pneumo_sgd_default_params(&s);
    assert_true(s.learning_rate == 1e-2f && s.momentum == 0.0f && s.nesterov == 0);
    assert_int_equal(pneumo_optimizer_create_sgd(NULL, &opt), PNEUMO_OK);
    assert_int_equal(pneumo_optimizer_kind_of(opt), PNEUMO_OPTIMIZER_SGD);
    assert_true(pneumo_optimizer_learning_rate(opt) == 1e-2f);
    pneumo_optimizer_destroy(opt);
    pneumo_optimizer_destroy(NULL);
    assert_int_equal(pneumo_optimizer_kind_of(NULL), 0);
    assert_int_equal(pneumo_optimizer_iterations(NULL), 0);
    assert_true(pneumo_optimizer_learning_rate(NULL) == 0.0f);
    pneumo_adam_default_params(NULL);
    pneumo_sgd_default_params(NULL);
}

/* ------------------------------------------------------------------------ */
/* SGD */

static void test_sgd_steps(void **state)
{
    /* w0 = 1, g1 = 0.5, g2 = -0.25, lr 0.1, momentum 0.9:
     *   plain:    v1 = -0.05, w1 = 0.95;  v2 = -0.045 + 0.025 = -0.02, w2 = 0.93
     *   nesterov: w1 = 1 + 0.9 (-0.05) - 0.05 = 0.905;
     *             w2 = 0.905 + 0.9 (-0.02) + 0.025 = 0.912
     *   no momentum: w1 = 0.95, w2 = 0.975 */
    const float g1[2] = {0.5f, 0.0f}, g2[2] = {-0.25f, 0.0f};
    const struct {
        float momentum;
        int nesterov;
        double w1, w2;
    } cases[3] = {{0.9f, 0, 0.95, 0.93}, {0.9f, 1, 0.905, 0.912}, {0.0f, 0, 0.95, 0.975}};
    (void)state;
    for (int c = 0; c < 3; c++) {
        pneumo_sgd_params p;
        pneumo_optimizer *opt = NULL;
        float w[2] = {1.0f, -2.0f};
        pneumo_sgd_default_params(&p);
        p.learning_rate = 0.1f;
        p.momentum = cases[c].momentum;
        p.nesterov = cases[c].nesterov;
        assert_int_equal(pneumo_optimizer_create_sgd(&p, &opt), PNEUMO_OK);
        assert_int_equal(pn_optimizer_bind(opt, 99, 2), PNEUMO_OK);
        pn_optimizer_step(opt, &pn_kernels_ref, w, g1, NULL, 0);
        assert_close(w[0], cases[c].w1, 0, 1e-6);
        pn_optimizer_step(opt, &pn_kernels_ref, w, g2, NULL, 0);
        assert_close(w[0], cases[c].w2, 0, 1e-6);
        assert_true(w[1] == -2.0f);
        assert_int_equal(pneumo_optimizer_iterations(opt), 2);
        /* a new learning rate applies to the next step: v3 = 0.9 v2 - 0.2 * 1 */
        if (c == 0) {
            const float g3[2] = {1.0f, 0.0f};
            assert_int_equal(pneumo_optimizer_set_learning_rate(opt, 0.2f), PNEUMO_OK);
            pn_optimizer_step(opt, &pn_kernels_ref, w, g3, NULL, 0);
            assert_close(w[0], 0.93 + 0.9 * -0.02 - 0.2, 0, 1e-6);
        }
        pneumo_optimizer_destroy(opt);
    }
}

/* ------------------------------------------------------------------------ */
/* End to end: pneumo_model_train_step on flat 3 -> Dense(1, sigmoid). */

static void dense1_forward_ref(const double *wk, double b, const float *x, const float *y, const float *sw,
                               int n, double *loss, double *gk, double *gb)
{
    *loss = 0.0;
    *gb = 0.0;
    for (int j = 0; j < 3; j++)
        gk[j] = 0.0;
    for (int i = 0; i < n; i++) {
        double z = b, p;
        for (int j = 0; j < 3; j++)
            z += wk[j] * x[i * 3 + j];
        p = sigmoid_ref(z);
        *loss += sw[i] * bce_ref(z, y[i]) / n;
        for (int j = 0; j < 3; j++)
            gk[j] += sw[i] * (p - y[i]) * x[i * 3 + j] / n;
        *gb += sw[i] * (p - y[i]) / n;
    }
}

static void test_train_step_end_to_end(void **state)
{
    enum { N = 3 };
    const float x[N * 3] = {1.0f, -2.0f, 0.5f, 0.3f, 0.8f, -1.5f, -0.7f, 0.1f, 2.0f};
    const float y[N] = {1.0f, 0.0f, 1.0f};
    const float sw[N] = {(float)W_PNEUMONIA, (float)W_NORMAL, (float)W_PNEUMONIA};
    const float k0[3] = {0.2f, -0.1f, 0.4f}, b0 = 0.05f;
    const int64_t xshape[2] = {N, 3}, n = N;
    pneumo_tensor *tx = NULL, *ty = NULL, *tw = NULL, *pk = NULL, *pb = NULL, *gk = NULL, *gb = NULL;
    pneumo_model *m = NULL;
    pneumo_optimizer *opt = NULL;
    pneumo_step_result r;
    adam_ref ref;
    double wr[4], loss, g[4];
    (void)state;

    assert_int_equal(pneumo_tensor_create(2, xshape, &tx), PNEUMO_OK);
    assert_int_equal(pneumo_tensor_create(1, &n, &ty), PNEUMO_OK);
    assert_int_equal(pneumo_tensor_create(1, &n, &tw), PNEUMO_OK);
    memcpy(pneumo_tensor_data(tx), x, sizeof x);
    memcpy(pneumo_tensor_data(ty), y, sizeof y);
    memcpy(pneumo_tensor_data(tw), sw, sizeof sw);
    assert_int_equal(pneumo_model_create(1, 1, 3, 17, &m), PNEUMO_OK);
    assert_int_equal(pneumo_model_add_dense(m, 1, PNEUMO_ACT_SIGMOID), PNEUMO_OK);
    assert_int_equal(pneumo_model_param(m, 0, &pk), PNEUMO_OK);
    assert_int_equal(pneumo_model_param(m, 1, &pb), PNEUMO_OK);
    assert_int_equal(pneumo_model_grad(m, 0, &gk), PNEUMO_OK);
    assert_int_equal(pneumo_model_grad(m, 1, &gb), PNEUMO_OK);
    memcpy(pneumo_tensor_data(pk), k0, sizeof k0);
    pneumo_tensor_data(pb)[0] = b0;
    assert_int_equal(pneumo_optimizer_create_adam(NULL, &opt), PNEUMO_OK);

    memset(&ref, 0, sizeof ref);
    for (int j = 0; j < 3; j++)
        wr[j] = k0[j];
    wr[3] = b0;
    for (int step = 1; step <= 2; step++) {
        /* loss and gradient at the weights before the step */
        dense1_forward_ref(wr, wr[3], x, y, sw, N, &loss, g, &g[3]);
        assert_int_equal(pneumo_model_train_step(m, opt, tx, ty, tw, &r), PNEUMO_OK);
        assert_int_equal(pneumo_optimizer_iterations(opt), step);
        assert_int_equal(r.batch_size, N);
        assert_close(r.loss, loss, 1e-5, 0);
        for (int j = 0; j < 3; j++)
            assert_close(pneumo_tensor_data(gk)[j], g[j], 1e-4, 1e-7);
        assert_close(pneumo_tensor_data(gb)[0], g[3], 1e-4, 1e-7);
        adam_ref_step(&ref, wr, g, 4, (double)1e-3f, (double)0.9f, (double)0.999f, (double)1e-7f);
        for (int j = 0; j < 3; j++)
            assert_close(pneumo_tensor_data(pk)[j] - k0[j], wr[j] - k0[j], 1e-3, 2e-7);
        assert_close(pneumo_tensor_data(pb)[0] - b0, wr[3] - b0, 1e-3, 2e-7);
    }
    /* every weight moved by about lr per step (Adam's normalised step) */
    for (int j = 0; j < 3; j++)
        assert_true(fabs(pneumo_tensor_data(pk)[j] - k0[j]) > 1.5e-3);

    /* evaluation does not touch the weights or the optimizer */
    {
        float before[3];
        memcpy(before, pneumo_tensor_data(pk), sizeof before);
        assert_int_equal(pneumo_model_evaluate_batch(m, tx, ty, tw, &r), PNEUMO_OK);
        assert_memory_equal(before, pneumo_tensor_data(pk), sizeof before);
        assert_int_equal(pneumo_optimizer_iterations(opt), 2);
    }
    pneumo_tensor_destroy(pk);
    pneumo_tensor_destroy(pb);
    pneumo_tensor_destroy(gk);
    pneumo_tensor_destroy(gb);

    /* the optimizer is bound to m: another model is refused, untouched */
    {
        pneumo_model *m2 = NULL;
        pneumo_optimizer *opt2 = NULL;
        pneumo_tensor *p2 = NULL;
        float before[3];
        assert_int_equal(pneumo_model_create(1, 1, 3, 17, &m2), PNEUMO_OK);
        assert_int_equal(pneumo_model_add_dense(m2, 1, PNEUMO_ACT_SIGMOID), PNEUMO_OK);
        assert_int_equal(pneumo_model_param(m2, 0, &p2), PNEUMO_OK);
        memcpy(before, pneumo_tensor_data(p2), sizeof before);
        assert_int_equal(pneumo_model_train_step(m2, opt, tx, ty, tw, &r), PNEUMO_ERR_STATE);
        assert_int_equal(pneumo_last_status(), PNEUMO_ERR_STATE);
        assert_non_null(strstr(pneumo_last_error(), "another model"));
        assert_memory_equal(before, pneumo_tensor_data(p2), sizeof before);
        assert_int_equal(pneumo_optimizer_iterations(opt), 2);
        /* a fresh optimizer works on m2; the first still works on m */
        assert_int_equal(pneumo_optimizer_create_adam(NULL, &opt2), PNEUMO_OK);
        assert_int_equal(pneumo_model_train_step(m2, opt2, tx, ty, tw, &r), PNEUMO_OK);
        assert_int_equal(pneumo_model_train_step(m, opt, tx, ty, tw, &r), PNEUMO_OK);
        assert_int_equal(pneumo_optimizer_iterations(opt), 3);
        assert_int_equal(pneumo_model_train_step(m, opt2, tx, ty, tw, &r), PNEUMO_ERR_STATE);
        /* m gains parameters: its old optimizer state no longer fits */
        assert_int_equal(pneumo_model_add_dense(m, 1, PNEUMO_ACT_SIGMOID), PNEUMO_OK);
        assert_int_equal(pneumo_model_train_step(m, opt, tx, ty, tw, &r), PNEUMO_ERR_STATE);
        assert_int_equal(pneumo_optimizer_iterations(opt), 3);
        pneumo_tensor_destroy(p2);
        pneumo_optimizer_destroy(opt2);
        pneumo_model_destroy(m2);
    }
    /* misuse */
    assert_int_equal(pneumo_model_train_step(m, NULL, tx, ty, tw, &r), PNEUMO_ERR_INVALID_ARG);
    assert_int_equal(pneumo_model_train_step(NULL, opt, tx, ty, tw, &r), PNEUMO_ERR_INVALID_ARG);

    pneumo_optimizer_destroy(opt);
    pneumo_model_destroy(m);
    pneumo_tensor_destroy(tx);
    pneumo_tensor_destroy(ty);
    pneumo_tensor_destroy(tw);
}

/* AdamW (torch.optim.AdamW): w = (1 - lr wd) w - lr_t m / (sqrt(v) + eps) on
 * the Dense kernel, plain Adam on its bias; weight_decay 0 is Adam bit for
 * bit; the decay is saved with the optimizer and files without it load as 0. */
static void test_adamw_steps(void **state)
{
    enum { N = 3 };
    const float x[N * 3] = {1.0f, -2.0f, 0.5f, 0.3f, 0.8f, -1.5f, -0.7f, 0.1f, 2.0f};
    const float y[N] = {1.0f, 0.0f, 1.0f};
    const float k0[3] = {0.2f, -0.1f, 0.4f}, b0 = 0.05f, lr = 1e-2f, wd = 0.5f, ones[N] = {1.0f, 1.0f, 1.0f};
    const int64_t xshape[2] = {N, 3}, n = N;
    pneumo_tensor *tx = NULL, *ty = NULL;
    pneumo_model *m[3] = {NULL, NULL, NULL};
    pneumo_optimizer *opt[3] = {NULL, NULL, NULL}, *loaded = NULL;
    pneumo_model *lm = NULL;
    pneumo_adam_params p;
    adam_ref ref;
    double wr[4], loss, g[4];
    char *path = tu_join(tu_tmpdir(), "adamw.pneumo");
    (void)state;

    assert_int_equal(pneumo_tensor_create(2, xshape, &tx), PNEUMO_OK);
    assert_int_equal(pneumo_tensor_create(1, &n, &ty), PNEUMO_OK);
    memcpy(pneumo_tensor_data(tx), x, sizeof x);
    memcpy(pneumo_tensor_data(ty), y, sizeof y);
    pneumo_adam_default_params(&p);
    assert_true(p.weight_decay == 0.0f);
    p.learning_rate = lr;
    for (int i = 0; i < 3; i++) {
        pneumo_tensor *pk = NULL, *pb = NULL;
        p.weight_decay = i == 0 ? wd : 0.0f;
        assert_int_equal(pneumo_model_create(1, 1, 3, 17, &m[i]), PNEUMO_OK);
        assert_int_equal(pneumo_model_add_dense(m[i], 1, PNEUMO_ACT_SIGMOID), PNEUMO_OK);
        assert_int_equal(pneumo_model_param(m[i], 0, &pk), PNEUMO_OK);
        assert_int_equal(pneumo_model_param(m[i], 1, &pb), PNEUMO_OK);
        memcpy(pneumo_tensor_data(pk), k0, sizeof k0);
        pneumo_tensor_data(pb)[0] = b0;
        pneumo_tensor_destroy(pk);
        pneumo_tensor_destroy(pb);
        /* m[2]: the defaults with only the learning rate changed (no weight_decay set) */
        if (i == 2) {
            pneumo_adam_params d;
            pneumo_adam_default_params(&d);
            d.learning_rate = lr;
            assert_int_equal(pneumo_optimizer_create_adam(&d, &opt[i]), PNEUMO_OK);
        } else {
            assert_int_equal(pneumo_optimizer_create_adam(&p, &opt[i]), PNEUMO_OK);
        }
    }
    memset(&ref, 0, sizeof ref);
    for (int j = 0; j < 3; j++)
        wr[j] = k0[j];
    wr[3] = b0;
    for (int step = 1; step <= 3; step++) {
        pneumo_tensor *pk = NULL, *pb = NULL;
        double keep = 1.0 - (double)lr * (double)wd;
        dense1_forward_ref(wr, wr[3], x, y, ones, N, &loss, g, &g[3]);
        for (int i = 0; i < 3; i++)
            assert_int_equal(pneumo_model_train_step(m[i], opt[i], tx, ty, NULL, NULL), PNEUMO_OK);
        for (int j = 0; j < 3; j++)
            wr[j] *= keep;
        adam_ref_step(&ref, wr, g, 4, (double)lr, (double)0.9f, (double)0.999f, (double)1e-7f);
        assert_int_equal(pneumo_model_param(m[0], 0, &pk), PNEUMO_OK);
        assert_int_equal(pneumo_model_param(m[0], 1, &pb), PNEUMO_OK);
        for (int j = 0; j < 3; j++)
            assert_close(pneumo_tensor_data(pk)[j] - k0[j], wr[j] - k0[j], 1e-4, 1e-7);
        assert_close(pneumo_tensor_data(pb)[0] - b0, wr[3] - b0, 1e-4, 1e-7);
        pneumo_tensor_destroy(pk);
        pneumo_tensor_destroy(pb);
    }
    /* the decay's share: the kernel moved lr * wd * |w| (~1e-3 here) per step toward 0 beyond
     * plain Adam (the bias follows the undecayed rule: checked against the reference above,
     * which would be 2.5e-4 per step off had it been decayed) */
    {
        pneumo_tensor *ka = NULL, *kb = NULL, *ba = NULL, *bb = NULL;
        assert_int_equal(pneumo_model_param(m[0], 0, &ka), PNEUMO_OK);
        assert_int_equal(pneumo_model_param(m[1], 0, &kb), PNEUMO_OK);
        assert_int_equal(pneumo_model_param(m[0], 1, &ba), PNEUMO_OK);
        assert_int_equal(pneumo_model_param(m[1], 1, &bb), PNEUMO_OK);
        for (int j = 0; j < 3; j++)
            assert_true(fabsf(pneumo_tensor_data(ka)[j]) < fabsf(pneumo_tensor_data(kb)[j]) - 1e-3f);
        assert_true(pneumo_tensor_data(ba)[0] != pneumo_tensor_data(bb)[0]);
        pneumo_tensor_destroy(ka);
        pneumo_tensor_destroy(kb);
        pneumo_tensor_destroy(ba);
        pneumo_tensor_destroy(bb);
    }
    /* weight_decay 0 and the defaults: the same bits */
    {
        pneumo_tensor *a = NULL, *b = NULL;
        assert_int_equal(pneumo_model_param(m[1], 0, &a), PNEUMO_OK);
        assert_int_equal(pneumo_model_param(m[2], 0, &b), PNEUMO_OK);
        assert_memory_equal(pneumo_tensor_data(a), pneumo_tensor_data(b), 3 * sizeof(float));
        pneumo_tensor_destroy(a);
        pneumo_tensor_destroy(b);
    }
    /* saved and loaded with the optimizer; a file without it loads as 0 */
    assert_int_equal(pneumo_model_save(m[0], opt[0], path), PNEUMO_OK);
    assert_int_equal(pneumo_model_load(path, &lm, &loaded), PNEUMO_OK);
    assert_true(loaded->adam.weight_decay == wd);
    assert_int_equal(pneumo_optimizer_iterations(loaded), 3);
    pneumo_optimizer_destroy(loaded);
    pneumo_model_destroy(lm);
    {
        size_t size = 0;
        char *text;
        assert_int_equal(pneumo_model_save(m[1], opt[1], path), PNEUMO_OK);
        text = tu_read_all(path, &size);
        assert_non_null(text);
        for (size_t i = 0; i + 12 <= size; i++)
            assert_false(memcmp(text + i, "weight_decay", 12) == 0);
        free(text);
    }
    assert_int_equal(pneumo_model_load(path, &lm, &loaded), PNEUMO_OK);
    assert_true(loaded->adam.weight_decay == 0.0f);
    pneumo_optimizer_destroy(loaded);
    pneumo_model_destroy(lm);
    remove(path);
    free(path);
    for (int i = 0; i < 3; i++) {
        pneumo_optimizer_destroy(opt[i]);
        pneumo_model_destroy(m[i]);
    }
    /* invalid decay */
    {
        const float bad[] = {-0.1f, NAN, INFINITY};
        for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
            pneumo_optimizer *o = (pneumo_optimizer *)0x1;
            pneumo_adam_default_params(&p);
            p.weight_decay = bad[i];
            assert_int_equal(pneumo_optimizer_create_adam(&p, &o), PNEUMO_ERR_INVALID_ARG);
            assert_null(o);
            assert_non_null(strstr(pneumo_last_error(), "weight_decay"));
        }
    }
    pneumo_tensor_destroy(tx);
    pneumo_tensor_destroy(ty);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_bce_kernel),  cmocka_unit_test(test_bce_model),
        cmocka_unit_test(test_adam_steps),  cmocka_unit_test(test_optimizer_params_rejected),
        cmocka_unit_test(test_sgd_steps),   cmocka_unit_test(test_train_step_end_to_end),
        cmocka_unit_test(test_adamw_steps),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
