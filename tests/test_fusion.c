/* Fused Conv2D + MaxPooling2D (lib/layers/fused.h) against the same model run
 * layer by layer: loss, outputs and every parameter gradient, for several
 * shapes (odd sizes that leave conv rows outside every pool window, 'same'
 * padding, strides, linear activation, more strips than one), with one and
 * two threads, and the fusion plan itself (which pairs fuse). The fused path
 * computes every value in the same order, so outputs and argmax must be
 * identical and gradients are expected to be; the gradient check allows 1e-6
 * of the tensor's largest value in case a kernel's internal blocking changes,
 * and 1e-5 for a grayscale 3x3 first layer, whose parameter gradients the
 * fused path sums straight from the pooled gradient in another order, and
 * for every layer below a fused 3x3 block, whose dx the fused path sums from
 * the pooled gradient. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kernels/kernels.h"
#include "layers/layer.h"
#include "model/model.h"
#include "pneumo/pneumo.h"
#include "testutil.h"

typedef struct spec {
    char kind; /* 'c' conv, 'p' pool, 'f' flatten, 'd' dense(1, sigmoid) */
    int a, b;  /* conv: filters, activation; pool: size, stride */
    int kh, kw, sh, sw, same;
} spec;

static pneumo_model *build(int h, int w, int c, const spec *sp, int ns)
{
    pneumo_model *m = NULL;
    assert_int_equal(pneumo_model_create(h, w, c, 7, &m), PNEUMO_OK);
    for (int i = 0; i < ns; i++) {
        const spec *s = &sp[i];
        if (s->kind == 'c') {
            pneumo_conv2d_params p;
            pneumo_conv2d_default_params(&p);
            p.filters = s->a;
            p.activation = s->b;
            p.kernel_h = s->kh;
            p.kernel_w = s->kw;
            p.stride_h = s->sh;
            p.stride_w = s->sw;
            p.padding = s->same ? PNEUMO_PADDING_SAME : PNEUMO_PADDING_VALID;
            assert_int_equal(pneumo_model_add_conv2d(m, &p), PNEUMO_OK);
        } else if (s->kind == 'p') {
            pneumo_maxpool2d_params p;
            pneumo_maxpool2d_default_params(&p);
            p.pool_h = p.pool_w = s->a;
            p.stride_h = p.stride_w = s->b;
            p.padding = s->same ? PNEUMO_PADDING_SAME : PNEUMO_PADDING_VALID;
            assert_int_equal(pneumo_model_add_maxpool2d(m, &p), PNEUMO_OK);
        } else if (s->kind == 'f') {
            assert_int_equal(pneumo_model_add_flatten(m), PNEUMO_OK);
        } else {
            assert_int_equal(pneumo_model_add_dense(m, 1, PNEUMO_ACT_SIGMOID), PNEUMO_OK);
        }
    }
    return m;
}

typedef struct batch {
    pneumo_tensor *x, *y;
} batch;

static batch make_batch(int n, int h, int w, int c, uint64_t seed)
{
    batch b;
    int64_t xs[4] = {n, h, w, c}, ys[1] = {n};
    uint64_t st = seed;
    assert_int_equal(pneumo_tensor_create(4, xs, &b.x), PNEUMO_OK);
    assert_int_equal(pneumo_tensor_create(1, ys, &b.y), PNEUMO_OK);
    tu_fill(&st, pneumo_tensor_data(b.x), (size_t)n * h * w * c, -1.0f, 1.0f);
    for (int i = 0; i < n; i++)
        pneumo_tensor_data(b.y)[i] = (float)(i % 2);
    return b;
}

static void free_batch(batch *b)
{
    pneumo_tensor_destroy(b->x);
    pneumo_tensor_destroy(b->y);
}

/* Whether fused block i (conv i, pool i + 1) runs through the one-pass
 * kernels: 2x2 windows over a 'valid' conv, every window whole. */
static int one_pass_block(const pneumo_model *m, int32_t i)
{
    const pn_layer *c = &m->layers[i], *p = &m->layers[i + 1];
    return m->fused[i] && p->kh == 2 && p->kw == 2 && c->pad_top == 0 && c->pad_left == 0 &&
           p->out.h * 2 <= c->out.h && p->out.w * 2 <= c->out.w;
}

/* The highest layer whose dx comes from the pooled gradient (-1: none). */
static int32_t top_pooled_dx(const pneumo_model *m)
{
    int32_t top = -1;
    for (int32_t i = 1; i + 1 < m->nlayers; i++) {
        const pn_layer *c = &m->layers[i];
        if (one_pass_block(m, i) && c->kh == 3 && c->kw == 3 && c->sh == 1 && c->sw == 1)
            top = i;
    }
    return top;
}

/* Run one gradient computation fused and unfused and compare. Returns the
 * number of fused pairs. */
static int compare(pneumo_model *fused, pneumo_model *plain, const batch *b, int threads)
{
    pneumo_step_result rf, rp;
    int pairs = 0, exact = 1;
    const int32_t n = (int32_t)pneumo_tensor_dim(b->x, 0);
    assert_int_equal(pneumo_model_set_threads(fused, threads), PNEUMO_OK);
    assert_int_equal(pneumo_model_set_threads(plain, threads), PNEUMO_OK);
    pn_model_set_fusion(fused, 1);
    pn_model_set_fusion(plain, 0);
    assert_int_equal(pneumo_model_compute_gradients(fused, b->x, b->y, NULL, &rf), PNEUMO_OK);
    assert_int_equal(pneumo_model_compute_gradients(plain, b->x, b->y, NULL, &rp), PNEUMO_OK);
    for (int32_t i = 0; i < fused->nlayers; i++) {
        assert_int_equal(plain->fused[i], 0);
        assert_non_null(plain->acts[i]);
        if (fused->fused[i]) {
            pairs++;
            assert_null(fused->acts[i]);
            /* pooled outputs and argmax identical */
            assert_memory_equal(fused->acts[i + 1], plain->acts[i + 1],
                                (size_t)n * (size_t)pn_dims_size(&fused->layers[i + 1].out) * sizeof(float));
            assert_memory_equal(fused->layers[i + 1].argmax, plain->layers[i + 1].argmax,
                                (size_t)n * (size_t)pn_dims_size(&fused->layers[i + 1].out));
        }
    }
    assert_true(rf.loss == rp.loss);
    assert_memory_equal(pn_model_output(fused), pn_model_output(plain), (size_t)n * sizeof(float));
    for (int32_t i = 0; i < fused->nlayers; i++) {
        const pn_layer *lf = &fused->layers[i], *lp = &plain->layers[i];
        const float *gf[2] = {lf->dw, lf->db}, *gp[2] = {lp->dw, lp->db};
        /* a fused grayscale 3x3 first layer sums its parameter gradients from
         * the pooled gradient, and fused 3x3 blocks above it their dx, in
         * another order: 1e-5 of the largest */
        pn_conv2d_shape cs = {n,      lf->in.h, lf->in.w, lf->in.c, lf->out.h,   lf->out.w,   lf->out.c,
                              lf->kh, lf->kw,   lf->sh,   lf->sw,   lf->pad_top, lf->pad_left};
        const int from_pooled = (fused->fused[i] && one_pass_block(fused, i) && pn_pool2_bwd_fast(&cs)) ||
                                i < top_pooled_dx(fused);
        const int64_t cnt[2] = {lf->nw, lf->nb};
        for (int t = 0; t < 2; t++) {
            double big = 0.0, diff = 0.0;
            for (int64_t k = 0; k < cnt[t]; k++) {
                /* not fmax(): aarch64 GCC 12.2 crashes vectorising that reduction at -O3 */
                const double g = fabs((double)gp[t][k]), d = fabs((double)gf[t][k] - (double)gp[t][k]);
                big = g > big ? g : big;
                diff = d > diff ? d : diff;
            }
            if (diff > 0.0)
                exact = 0;
            if (diff > (from_pooled ? 1e-5 : 1e-6) * big)
                fail_msg("%s %s: fused gradient differs by %g (largest %g), %d threads", lf->name,
                         t ? "bias" : "kernel", diff, big, threads);
        }
    }
    printf("  %d fused pairs, %d threads, isa %s: gradients %s\n", pairs, threads, pn_kernels_get()->isa,
           exact ? "identical" : "within tolerance");
    return pairs;
}

static void run_case(int h, int w, int c, const spec *sp, int ns, int n, int want_pairs)
{
    batch b = make_batch(n, h, w, c, (uint64_t)(h * 1000 + w));
    for (int threads = 1; threads <= 2; threads++) {
        pneumo_model *f = build(h, w, c, sp, ns), *p = build(h, w, c, sp, ns);
        assert_int_equal(compare(f, p, &b, threads), want_pairs);
        pneumo_model_destroy(f);
        pneumo_model_destroy(p);
    }
    free_batch(&b);
}

/* The article's model at its smallest size: five fused blocks. */
static void test_article(void **state)
{
    batch b = make_batch(3, 94, 94, 1, 5);
    (void)state;
    for (int threads = 1; threads <= 2; threads++) {
        pneumo_model *f = NULL, *p = NULL;
        assert_int_equal(pneumo_model_create_article(94, 3, &f), PNEUMO_OK);
        assert_int_equal(pneumo_model_create_article(94, 3, &p), PNEUMO_OK);
        assert_int_equal(compare(f, p, &b, threads), 5);
        pneumo_model_destroy(f);
        pneumo_model_destroy(p);
    }
    free_batch(&b);
}

/* Odd sizes, 'same' padding, strides, 3x3 pools, a linear conv, one strip and
 * many, a first layer with several input channels, one-pass blocks. */
static void test_shapes(void **state)
{
    static const spec a[] = {
        {'c', 8, PNEUMO_ACT_RELU, 3, 3, 1, 1, 1},
        {'p', 2, 2, 0, 0, 0, 0, 0},
        {'c', 16, PNEUMO_ACT_RELU, 5, 3, 2, 1, 0},
        {'p', 3, 3, 0, 0, 0, 0, 0},
        {'c', 5, PNEUMO_ACT_LINEAR, 3, 3, 1, 1, 1},
        {'p', 2, 2, 0, 0, 0, 0, 1},
        {'f', 0, 0, 0, 0, 0, 0, 0},
        {'d', 0, 0, 0, 0, 0, 0, 0},
    };
    static const spec bspec[] = {
        {'c', 4, PNEUMO_ACT_RELU, 3, 3, 2, 2, 1},
        {'p', 2, 2, 0, 0, 0, 0, 0},
        {'c', 6, PNEUMO_ACT_RELU, 2, 4, 1, 3, 0},
        {'p', 2, 2, 0, 0, 0, 0, 1},
        {'f', 0, 0, 0, 0, 0, 0, 0},
        {'d', 0, 0, 0, 0, 0, 0, 0},
    };
    /* 'valid' convs with 2x2 pools run in one pass (conv2d_pool2_fwd; the
     * grayscale first layer's backward from the pooled gradient, 20 channels:
     * a partial vector); odd conv outputs leave a row and a column outside
     * every window */
    static const spec c[] = {
        {'c', 20, PNEUMO_ACT_RELU, 3, 3, 1, 1, 0},
        {'p', 2, 2, 0, 0, 0, 0, 0},
        {'c', 33, PNEUMO_ACT_LINEAR, 2, 3, 2, 1, 0},
        {'p', 2, 2, 0, 0, 0, 0, 0},
        {'f', 0, 0, 0, 0, 0, 0, 0},
        {'d', 0, 0, 0, 0, 0, 0, 0},
    };
    (void)state;
    run_case(37, 41, 1, c, 6, 3, 2);
    run_case(37, 300, 3, a, 8, 3, 3);
    run_case(61, 23, 2, bspec, 6, 4, 2);
}

/* Pairs that must not fuse: overlapping pool windows, a tanh conv, a conv
 * followed by something other than a pool. */
static void test_plan(void **state)
{
    static const spec s[] = {
        {'c', 4, PNEUMO_ACT_RELU, 3, 3, 1, 1, 0},
        {'p', 3, 2, 0, 0, 0, 0, 0}, /* overlapping windows */
        {'c', 4, PNEUMO_ACT_TANH, 3, 3, 1, 1, 0},
        {'p', 2, 2, 0, 0, 0, 0, 0}, /* after tanh */
        {'c', 4, PNEUMO_ACT_RELU, 3, 3, 1, 1, 1},
        {'c', 4, PNEUMO_ACT_RELU, 3, 3, 1, 1, 0},
        {'p', 2, 2, 0, 0, 0, 0, 0}, /* fuses with the conv before */
        {'f', 0, 0, 0, 0, 0, 0, 0},
        {'d', 0, 0, 0, 0, 0, 0, 0},
    };
    (void)state;
    run_case(40, 40, 1, s, 9, 2, 1);
    {
        pneumo_model *m = build(40, 40, 1, s, 9);
        batch b = make_batch(2, 40, 40, 1, 1);
        pneumo_step_result r;
        assert_int_equal(pneumo_model_compute_gradients(m, b.x, b.y, NULL, &r), PNEUMO_OK);
        for (int32_t i = 0; i < m->nlayers; i++)
            assert_int_equal(m->fused[i], i == 5);
        pneumo_model_destroy(m);
        free_batch(&b);
    }
}

/* Largest |a - b| over n values, and the largest |b| through *big. */
static double max_diff(const float *a, const float *b, size_t n, double *big)
{
    double d = 0.0;
    *big = 0.0;
    for (size_t i = 0; i < n; i++) {
        const double e = fabs((double)a[i] - (double)b[i]), g = fabs((double)b[i]);
        d = e > d ? e : d;
        *big = g > *big ? g : *big;
    }
    return d;
}

/* Inference runs its 3x3 blocks through Winograd F(4x4, 3x3)
 * (conv2d_pool2_wino_fwd): every pooled output within 2e-5 of the block's
 * largest value of the direct, unfused model's (measured <= 3.2e-6), the
 * probabilities within 1e-5; and the result of a sample depends neither on
 * the thread count nor on the batch around it (bit for bit). 250 x 250: the
 * second block's rows hold more patches than one Winograd block. */
static void test_inference(void **state)
{
    const int size = 250, n = 3;
    batch b = make_batch(n, size, size, 1, 21);
    pneumo_model *f = NULL, *p = NULL;
    pneumo_tensor *out1 = NULL, *out2 = NULL, *outp = NULL, *one = NULL, *po = NULL;
    int64_t os[2] = {n, 1}, xs[4] = {1, size, size, 1}, s1[2] = {1, 1};
    (void)state;
    assert_int_equal(pneumo_model_create_article(size, 13, &f), PNEUMO_OK);
    assert_int_equal(pneumo_model_create_article(size, 13, &p), PNEUMO_OK);
    pn_model_set_fusion(p, 0);
    assert_int_equal(pneumo_tensor_create(2, os, &out1), PNEUMO_OK);
    assert_int_equal(pneumo_tensor_create(2, os, &out2), PNEUMO_OK);
    assert_int_equal(pneumo_tensor_create(2, os, &outp), PNEUMO_OK);
    assert_int_equal(pneumo_tensor_create(4, xs, &one), PNEUMO_OK);
    assert_int_equal(pneumo_tensor_create(2, s1, &po), PNEUMO_OK);
    assert_int_equal(pneumo_model_set_threads(f, 1), PNEUMO_OK);
    assert_int_equal(pneumo_model_predict(f, b.x, out1), PNEUMO_OK);
    assert_int_equal(pneumo_model_predict(p, b.x, outp), PNEUMO_OK);
    for (int32_t i = 0; i + 1 < f->nlayers; i++) {
        double big, d;
        if (!f->fused[i])
            continue;
        d = max_diff(f->acts[i + 1], p->acts[i + 1], (size_t)n * (size_t)pn_dims_size(&f->layers[i + 1].out),
                     &big);
        printf("  inference %s: |winograd - direct| <= %.3g (largest %.3g)\n", f->layers[i].name, d, big);
        if (d > 2e-5 * big)
            fail_msg("%s: inference output differs from the direct conv by %g (largest %g)",
                     f->layers[i].name, d, big);
    }
    {
        double big, d = max_diff(pneumo_tensor_data(out1), pneumo_tensor_data(outp), (size_t)n, &big);
        if (d > 1e-5)
            fail_msg("probabilities differ from the direct conv by %g", d);
    }
    assert_int_equal(pneumo_model_set_threads(f, 2), PNEUMO_OK);
    assert_int_equal(pneumo_model_predict(f, b.x, out2), PNEUMO_OK);
    assert_memory_equal(pneumo_tensor_data(out1), pneumo_tensor_data(out2), (size_t)n * sizeof(float));
    for (int i = 0; i < n; i++) { /* one sample at a time: both threads share its rows */
        memcpy(pneumo_tensor_data(one), pneumo_tensor_data(b.x) + (size_t)i * size * size,
               (size_t)size * size * sizeof(float));
        assert_int_equal(pneumo_model_predict(f, one, po), PNEUMO_OK);
        assert_memory_equal(pneumo_tensor_data(po), pneumo_tensor_data(out1) + i, sizeof(float));
    }
    pneumo_tensor_destroy(out1);
    pneumo_tensor_destroy(out2);
    pneumo_tensor_destroy(outp);
    pneumo_tensor_destroy(one);
    pneumo_tensor_destroy(po);
    pneumo_model_destroy(f);
    pneumo_model_destroy(p);
    free_batch(&b);
}

/* Training steps with fusion give the same weights as without. */
static void test_train_steps(void **state)
{
    batch b = make_batch(4, 94, 94, 1, 9);
    pneumo_model *f = NULL, *p = NULL;
    pneumo_optimizer *of = NULL, *op = NULL;
    pneumo_adam_params ap;
    (void)state;
    assert_int_equal(pneumo_model_create_article(94, 11, &f), PNEUMO_OK);
    assert_int_equal(pneumo_model_create_article(94, 11, &p), PNEUMO_OK);
    pn_model_set_fusion(p, 0);
    pneumo_adam_default_params(&ap);
    assert_int_equal(pneumo_optimizer_create_adam(&ap, &of), PNEUMO_OK);
    assert_int_equal(pneumo_optimizer_create_adam(&ap, &op), PNEUMO_OK);
    for (int s = 0; s < 3; s++) {
        pneumo_step_result rf, rp;
        assert_int_equal(pneumo_model_train_step(f, of, b.x, b.y, NULL, &rf), PNEUMO_OK);
        assert_int_equal(pneumo_model_train_step(p, op, b.x, b.y, NULL, &rp), PNEUMO_OK);
        assert_true(fabs(rf.loss - rp.loss) <= 1e-6 * fabs(rp.loss));
    }
    for (int64_t i = 0; i < f->arena_size; i++)
        assert_true(fabsf(f->params[i] - p->params[i]) <= 1e-5f);
    pneumo_optimizer_destroy(of);
    pneumo_optimizer_destroy(op);
    pneumo_model_destroy(f);
    pneumo_model_destroy(p);
    free_batch(&b);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_article),     cmocka_unit_test(test_shapes),    cmocka_unit_test(test_plan),
        cmocka_unit_test(test_train_steps), cmocka_unit_test(test_inference),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
