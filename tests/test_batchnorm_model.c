/* BatchNormalization and GlobalAveragePooling2D in a model: training moves
 * the moving statistics (and only gamma and beta are parameters), inference
 * folds Conv2D + BatchNormalization and a BatchNormalization into the
 * Conv2D or Dense after it, files keep everything, the summary counts the
 * non-trainable weights, ONNX export writes both layers, bad settings are
 * refused. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "model/model.h"
#include "model/test_hooks.h"
#include "pneumo/pneumo.h"
#include "testutil.h"

/* 12x12x3 -> Conv2D(8) -> BN -> ReLU -> MaxPool -> Conv2D(6) -> BN -> GAP -> Dense(1, sigmoid) */
static pneumo_model *bn_model(uint64_t seed)
{
    pneumo_model *m = NULL;
    pneumo_conv2d_params conv;
    assert_int_equal(pneumo_model_create(12, 12, 3, seed, &m), PNEUMO_OK);
    pneumo_conv2d_default_params(&conv);
    conv.filters = 8;
    assert_int_equal(pneumo_model_add_conv2d(m, &conv), PNEUMO_OK);
    assert_int_equal(pneumo_model_add_batchnorm(m, NULL), PNEUMO_OK);
    assert_int_equal(pneumo_model_add_activation(m, PNEUMO_ACT_RELU), PNEUMO_OK);
    assert_int_equal(pneumo_model_add_maxpool2d(m, NULL), PNEUMO_OK);
    conv.filters = 6;
    assert_int_equal(pneumo_model_add_conv2d(m, &conv), PNEUMO_OK);
    assert_int_equal(pneumo_model_add_batchnorm(m, NULL), PNEUMO_OK);
    assert_int_equal(pneumo_model_add_global_avgpool2d(m), PNEUMO_OK);
    assert_int_equal(pneumo_model_add_dense(m, 1, PNEUMO_ACT_SIGMOID), PNEUMO_OK);
    return m;
}

typedef struct batch {
    pneumo_tensor *x, *y, *p;
} batch;

static batch make_batch(int n, uint64_t seed)
{
    batch b;
    int64_t xs[4] = {n, 12, 12, 3}, ys[1] = {n}, ps[2] = {n, 1};
    uint64_t rng = seed;
    assert_int_equal(pneumo_tensor_create(4, xs, &b.x), PNEUMO_OK);
    assert_int_equal(pneumo_tensor_create(1, ys, &b.y), PNEUMO_OK);
    assert_int_equal(pneumo_tensor_create(2, ps, &b.p), PNEUMO_OK);
    tu_fill(&rng, pneumo_tensor_data(b.x), (size_t)n * 432, 0.0f, 3.0f);
    for (int i = 0; i < n; i++)
        pneumo_tensor_data(b.y)[i] = (float)(i % 2);
    return b;
}

static void free_batch(batch *b)
{
    pneumo_tensor_destroy(b->x);
    pneumo_tensor_destroy(b->y);
    pneumo_tensor_destroy(b->p);
}

/* Whether the n bytes at p hold the string s. */
static int contains(const unsigned char *p, size_t n, const char *s)
{
    const size_t k = strlen(s);
    for (size_t i = 0; i + k <= n; i++)
        if (memcmp(p + i, s, k) == 0)
            return 1;
    return 0;
}

static void test_train_fold_save(void **state)
{
    pneumo_model *m = bn_model(5), *loaded = NULL, *clone = NULL;
    pneumo_optimizer *opt = NULL;
    batch b = make_batch(6, 17);
    float folded[6], unfolded[6];
    char summary[8192], path[4200];
    double worst = 0.0;
    unsigned char *onnx;
    size_t onnx_len = 0;
    (void)state;
    /* gamma and beta are parameter tensors (and counted); the moving statistics are not */
    assert_int_equal(pneumo_model_num_param_tensors(m), 10);
    assert_string_equal(tu_param_name(m, 2), "batch_normalization/gamma");
    assert_string_equal(tu_param_name(m, 3), "batch_normalization/beta");
    assert_string_equal(tu_param_name(m, 7), "batch_normalization_1/beta");
    assert_int_equal(pneumo_model_num_params(m), (3 * 3 * 3 * 8 + 8) + 16 + (3 * 3 * 8 * 6 + 6) + 12 + 7);
    assert_int_equal(pneumo_model_output_size(m), 1);
    assert_int_equal(m->layers[6].out.rank, 1);
    assert_int_equal(m->layers[6].out.c, 6);
    assert_true(m->layers[1].w[0] == 1.0f && m->layers[1].b[0] == 0.0f);
    assert_true(m->layers[1].mmean[3] == 0.0f && m->layers[1].mvar[3] == 1.0f);

    assert_int_equal(pneumo_optimizer_create_adam(NULL, &opt), PNEUMO_OK);
    for (int s = 0; s < 4; s++)
        assert_int_equal(pneumo_model_train_step(m, opt, b.x, b.y, NULL, NULL), PNEUMO_OK);
    /* moving statistics moved towards the batch's; gamma was trained */
    assert_true(m->layers[1].mmean[0] != 0.0f && m->layers[1].mvar[0] != 1.0f);
    assert_true(m->layers[5].mmean[0] != 0.0f);
    assert_true(m->layers[1].w[0] != 1.0f);

    /* summary: BN rows count 4 c weights; non-trainable = the moving statistics */
    assert_int_equal(pneumo_model_summary_string(m, summary, sizeof summary, NULL), PNEUMO_OK);
    assert_non_null(strstr(summary, "batch_normalization (BatchNormalization)"));
    assert_non_null(strstr(summary, "global_average_pooling2d (GlobalAveragePooling2D)"));
    assert_non_null(strstr(summary, "(None, 6)"));
    assert_non_null(strstr(summary, "Total params: 725\n"));
    assert_non_null(strstr(summary, "Trainable params: 697\n"));
    assert_non_null(strstr(summary, "Non-trainable params: 28\n"));

    /* inference: folded (default) against layer by layer */
    assert_int_equal(pneumo_model_predict(m, b.x, b.p), PNEUMO_OK);
    memcpy(folded, pneumo_tensor_data(b.p), sizeof folded);
    pn_model_set_fusion(m, 0);
    assert_int_equal(pneumo_model_predict(m, b.x, b.p), PNEUMO_OK);
    memcpy(unfolded, pneumo_tensor_data(b.p), sizeof unfolded);
    pn_model_set_fusion(m, 1);
    for (int i = 0; i < 6; i++) {
        assert_true(folded[i] > 0.0f && folded[i] < 1.0f);
        if (fabs(folded[i] - unfolded[i]) > worst)
            worst = fabs(folded[i] - unfolded[i]);
    }
    printf("folded vs unfolded: max |dp| = %.3g\n", worst);
    assert_true(worst <= 1e-5);
    /* the stored weights are untouched by folding */
    assert_true(m->layers[0].b[0] != 0.0f || m->layers[0].w[0] != 0.0f);

    /* a file keeps gamma, beta, the moving statistics and the settings */
    snprintf(path, sizeof path, "%s/bn.safetensors", tu_tmpdir());
    assert_int_equal(pneumo_model_save(m, opt, path), PNEUMO_OK);
    assert_int_equal(pneumo_model_load(path, &loaded, NULL), PNEUMO_OK);
    assert_memory_equal(loaded->layers[1].mmean, m->layers[1].mmean, 16 * sizeof(float));
    assert_memory_equal(loaded->layers[5].mvar, m->layers[5].mvar, 6 * sizeof(float));
    assert_true(loaded->layers[1].momentum == 0.99f && loaded->layers[1].epsilon == 1e-3f);
    assert_int_equal(pneumo_model_predict(loaded, b.x, b.p), PNEUMO_OK);
    assert_memory_equal(pneumo_tensor_data(b.p), folded, sizeof folded);
    /* an inference clone sees the same statistics */
    assert_int_equal(pneumo_model_clone_inference(m, &clone), PNEUMO_OK);
    assert_int_equal(pneumo_model_predict(clone, b.x, b.p), PNEUMO_OK);
    assert_memory_equal(pneumo_tensor_data(b.p), folded, sizeof folded);
    pneumo_model_destroy(clone);

    /* ONNX export writes both layers (tests/check_onnx.py runs such graphs) */
    assert_int_equal(pneumo_model_export_onnx_memory(m, NULL, NULL, 0, &onnx_len), PNEUMO_OK);
    assert_non_null(onnx = malloc(onnx_len));
    assert_int_equal(pneumo_model_export_onnx_memory(m, NULL, onnx, onnx_len, NULL), PNEUMO_OK);
    assert_true(contains(onnx, onnx_len, "BatchNormalization"));
    assert_true(contains(onnx, onnx_len, "batch_normalization_1/moving_variance"));
    assert_true(contains(onnx, onnx_len, "GlobalAveragePool"));
    free(onnx);

    unlink(path);
    pneumo_model_destroy(loaded);
    pneumo_optimizer_destroy(opt);
    pneumo_model_destroy(m);
    free_batch(&b);
}

/* Inference statistics and gamma, beta that differ per channel in every
 * BatchNormalization of m, a third of the gammas negative, beta far from
 * mean a (so a wrongly folded b shows at 'same'-padded borders). */
static void set_bn_stats(pneumo_model *m, uint64_t seed)
{
    uint64_t rng = seed;
    for (int32_t i = 0; i < m->nlayers; i++) {
        pn_layer *l = &m->layers[i];
        if (l->kind != PN_LAYER_BATCHNORM)
            continue;
        for (int32_t c = 0; c < l->out.c; c++) {
            l->w[c] = tu_uniform(&rng, 0.5f, 1.5f) * (c % 3 == 1 ? -1.0f : 1.0f);
            l->b[c] = tu_uniform(&rng, -1.0f, 1.0f);
            l->mmean[c] = tu_uniform(&rng, -0.3f, 0.6f);
            l->mvar[c] = tu_uniform(&rng, 0.05f, 2.0f);
        }
    }
}

/* Layers that ran in a forward step (a layer folded into another runs in
 * no step). */
typedef struct steps_seen {
    int ran[32];
} steps_seen;

static void on_step(void *ctx, int32_t first, int32_t last, int backward, int end)
{
    steps_seen *s = ctx;
    for (int32_t l = first; !backward && !end && l <= last; l++)
        s->ran[l] = 1;
}

/* Predictions of m for x, folded (and the layers that ran) and layer by
 * layer; the folded ones twice, which must be bit-identical. Returns the
 * largest |folded - unfolded| / |unfolded| (each output is a logit). */
static double fold_vs_plain(pneumo_model *m, int64_t n, const pneumo_tensor *x, pneumo_tensor *p,
                            steps_seen *seen)
{
    float folded[8], again[8];
    double worst = 0.0;
    assert_true(n <= 8);
    memset(seen, 0, sizeof *seen);
    pn_model_set_step_hook(m, on_step, seen);
    assert_int_equal(pneumo_model_predict(m, x, p), PNEUMO_OK);
    pn_model_set_step_hook(m, NULL, NULL);
    memcpy(folded, pneumo_tensor_data(p), (size_t)n * sizeof(float));
    assert_int_equal(pneumo_model_predict(m, x, p), PNEUMO_OK);
    memcpy(again, pneumo_tensor_data(p), (size_t)n * sizeof(float));
    assert_memory_equal(folded, again, (size_t)n * sizeof(float));
    pn_model_set_fusion(m, 0);
    assert_int_equal(pneumo_model_predict(m, x, p), PNEUMO_OK);
    pn_model_set_fusion(m, 1);
    for (int64_t i = 0; i < n; i++) {
        const double u = pneumo_tensor_data(p)[i], d = fabs((double)folded[i] - u) / fabs(u);
        assert_true(isfinite(u) && fabs(u) > 0.05);
        if (d > worst)
            worst = d;
    }
    return worst;
}

/* The compact recipe's network (examples/train_recipe.c): 5 x (Conv2D 3x3
 * ReLU 'valid', MaxPooling2D, BatchNormalization), GAP, Dropout, Dense; here
 * with a linear head, so predictions are the logits, and at 128 px. Every
 * BatchNormalization folds into the next Conv2D (run fused with its pool) or
 * the Dense. */
static void test_fold_after_pool(void **state)
{
    static const int32_t filters[] = {32, 64, 96, 128, 192};
    int64_t xs[4] = {3, 128, 128, 1}, ps[2] = {3, 1}, x1s[4] = {1, 128, 128, 1}, p1s[2] = {1, 1};
    pneumo_model *m = NULL;
    pneumo_tensor *x = NULL, *p = NULL, *x1 = NULL, *p1 = NULL;
    steps_seen seen;
    uint64_t rng = 3;
    (void)state;
    assert_int_equal(pneumo_model_create(128, 128, 1, 11, &m), PNEUMO_OK);
    for (int i = 0; i < 5; i++) {
        pneumo_conv2d_params conv;
        pneumo_conv2d_default_params(&conv);
        conv.filters = filters[i];
        conv.activation = PNEUMO_ACT_RELU;
        assert_int_equal(pneumo_model_add_conv2d(m, &conv), PNEUMO_OK);
        assert_int_equal(pneumo_model_add_maxpool2d(m, NULL), PNEUMO_OK);
        assert_int_equal(pneumo_model_add_batchnorm(m, NULL), PNEUMO_OK);
    }
    assert_int_equal(pneumo_model_add_global_avgpool2d(m), PNEUMO_OK);
    assert_int_equal(pneumo_model_add_dropout(m, 0.3f), PNEUMO_OK);
    assert_int_equal(pneumo_model_add_dense(m, 1, PNEUMO_ACT_LINEAR), PNEUMO_OK);
    set_bn_stats(m, 7);
    /* a non-zero Dense bias, so the fold must add to it */
    m->layers[17].b[0] = 0.25f;
    assert_int_equal(pneumo_tensor_create(4, xs, &x), PNEUMO_OK);
    assert_int_equal(pneumo_tensor_create(2, ps, &p), PNEUMO_OK);
    assert_int_equal(pneumo_tensor_create(4, x1s, &x1), PNEUMO_OK);
    assert_int_equal(pneumo_tensor_create(2, p1s, &p1), PNEUMO_OK);
    /* smooth images with noise: values like a rescaled X-ray's */
    for (int64_t i = 0; i < 3 * 128 * 128; i++) {
        const int64_t r = i / 128 % 128, c = i % 128, s = i / (128 * 128);
        pneumo_tensor_data(x)[i] = 0.5f + 0.3f * (float)sin(0.05 * (double)(r + 7 * s) + 0.03 * (double)c) +
                                   tu_uniform(&rng, -0.1f, 0.1f);
    }
    memcpy(pneumo_tensor_data(x1), pneumo_tensor_data(x), 128 * 128 * sizeof(float));
    for (int threads = 1; threads <= 2; threads++) {
        double d3, d1;
        assert_int_equal(pneumo_model_set_threads(m, threads), PNEUMO_OK);
        d3 = fold_vs_plain(m, 3, x, p, &seen);
        for (int b = 0; b < 5; b++)
            assert_false(seen.ran[3 * b + 2]);
        assert_true(seen.ran[0] && seen.ran[16] && seen.ran[17]);
        /* one sample on 2 threads: the fused pairs split by rows */
        d1 = fold_vs_plain(m, 1, x1, p1, &seen);
        printf(
            "compact, %d thread(s): folded vs unfolded logits: max relative %.3g (batch 3), %.3g (batch 1)\n",
            threads, d3, d1);
        assert_true(d3 <= 2e-6 && d1 <= 2e-6);
    }
    pneumo_tensor_destroy(x);
    pneumo_tensor_destroy(p);
    pneumo_tensor_destroy(x1);
    pneumo_tensor_destroy(p1);
    pneumo_model_destroy(m);
}

/* Which BatchNormalizations fold: not into a 'same' Conv2D (its padded zeros
 * would become b), through Dropout into a 'valid' one that also folds the
 * BatchNormalization after it, through Flatten into a Dense, and a flat one
 * into a Dense; and the folds follow changed weights. */
static void test_fold_choices(void **state)
{
    int64_t xs[4] = {2, 18, 18, 2}, ps[2] = {2, 1};
    pneumo_model *m = NULL;
    pneumo_tensor *x = NULL, *p = NULL, *view = NULL;
    pneumo_conv2d_params conv;
    steps_seen seen;
    uint64_t rng = 5;
    float before[2];
    double d;
    (void)state;
    assert_int_equal(pneumo_model_create(18, 18, 2, 3, &m), PNEUMO_OK);
    pneumo_conv2d_default_params(&conv);
    conv.filters = 4;
    conv.activation = PNEUMO_ACT_RELU;
    assert_int_equal(pneumo_model_add_conv2d(m, &conv), PNEUMO_OK);   /* 0: 16x16x4 */
    assert_int_equal(pneumo_model_add_maxpool2d(m, NULL), PNEUMO_OK); /* 1: 8x8x4 */
    assert_int_equal(pneumo_model_add_batchnorm(m, NULL), PNEUMO_OK); /* 2: stays */
    conv.filters = 6;
    conv.padding = PNEUMO_PADDING_SAME;
    assert_int_equal(pneumo_model_add_conv2d(m, &conv), PNEUMO_OK);   /* 3: 8x8x6 */
    assert_int_equal(pneumo_model_add_batchnorm(m, NULL), PNEUMO_OK); /* 4: into 6 */
    assert_int_equal(pneumo_model_add_dropout(m, 0.5f), PNEUMO_OK);   /* 5 */
    conv.filters = 5;
    conv.padding = PNEUMO_PADDING_VALID;
    conv.activation = PNEUMO_ACT_LINEAR;
    assert_int_equal(pneumo_model_add_conv2d(m, &conv), PNEUMO_OK);             /* 6: 6x6x5, folds 4 and 7 */
    assert_int_equal(pneumo_model_add_batchnorm(m, NULL), PNEUMO_OK);           /* 7 */
    assert_int_equal(pneumo_model_add_batchnorm(m, NULL), PNEUMO_OK);           /* 8: into 10 */
    assert_int_equal(pneumo_model_add_flatten(m), PNEUMO_OK);                   /* 9 */
    assert_int_equal(pneumo_model_add_dense(m, 3, PNEUMO_ACT_RELU), PNEUMO_OK); /* 10 */
    assert_int_equal(pneumo_model_add_batchnorm(m, NULL), PNEUMO_OK);           /* 11: into 12 */
    assert_int_equal(pneumo_model_add_dense(m, 1, PNEUMO_ACT_LINEAR), PNEUMO_OK); /* 12 */
    set_bn_stats(m, 9);
    assert_int_equal(pneumo_tensor_create(4, xs, &x), PNEUMO_OK);
    assert_int_equal(pneumo_tensor_create(2, ps, &p), PNEUMO_OK);
    tu_fill(&rng, pneumo_tensor_data(x), 2 * 18 * 18 * 2, 0.0f, 1.0f);
    for (int threads = 1; threads <= 2; threads++) {
        assert_int_equal(pneumo_model_set_threads(m, threads), PNEUMO_OK);
        d = fold_vs_plain(m, 2, x, p, &seen);
        printf("fold choices, %d thread(s): max relative %.3g\n", threads, d);
        assert_true(d <= 2e-6);
        assert_true(seen.ran[2] && !seen.ran[4] && seen.ran[5] && seen.ran[6] && seen.ran[7]);
        assert_true(!seen.ran[8] && seen.ran[9] && !seen.ran[11] && seen.ran[12]);
    }
    /* the folds are kept between passes but follow what they were made from:
     * a kernel written through a parameter view, moving statistics */
    assert_int_equal(pneumo_model_predict(m, x, p), PNEUMO_OK);
    memcpy(before, pneumo_tensor_data(p), sizeof before);
    assert_int_equal(pneumo_model_param(m, 8, &view), PNEUMO_OK); /* conv2d_2/kernel */
    pneumo_tensor_data(view)[0] += 0.5f;
    pneumo_tensor_destroy(view);
    assert_int_equal(pneumo_model_param(m, 18, &view), PNEUMO_OK); /* dense_1/kernel */
    pneumo_tensor_data(view)[1] *= -2.0f;
    pneumo_tensor_destroy(view);
    m->layers[4].mmean[1] += 0.5f;
    m->layers[8].mvar[2] *= 3.0f;
    d = fold_vs_plain(m, 2, x, p, &seen);
    printf("fold choices, changed weights: max relative %.3g\n", d);
    assert_true(d <= 2e-6);
    assert_true(pneumo_tensor_data(p)[0] != before[0] && pneumo_tensor_data(p)[1] != before[1]);
    pneumo_tensor_destroy(x);
    pneumo_tensor_destroy(p);
    pneumo_model_destroy(m);
}

static void test_refusals(void **state)
{
    pneumo_model *m = NULL;
    pneumo_batchnorm_params p;
    (void)state;
    assert_int_equal(pneumo_model_create(1, 1, 5, 1, &m), PNEUMO_OK);
    assert_int_equal(pneumo_model_add_global_avgpool2d(m), PNEUMO_ERR_SHAPE);
    assert_non_null(strstr(pneumo_last_error(), "(None, 5)"));
    pneumo_batchnorm_default_params(&p);
    assert_true(p.size == sizeof p && p.axis == -1 && p.momentum == 0.99f && p.epsilon == 1e-3f &&
                p.center == 1 && p.scale == 1);
    p.momentum = 1.5f;
    assert_int_equal(pneumo_model_add_batchnorm(m, &p), PNEUMO_ERR_INVALID_ARG);
    pneumo_batchnorm_default_params(&p);
    p.epsilon = 0.0f;
    assert_int_equal(pneumo_model_add_batchnorm(m, &p), PNEUMO_ERR_INVALID_ARG);
    pneumo_batchnorm_default_params(&p);
    p.axis = 2;
    assert_int_equal(pneumo_model_add_batchnorm(m, &p), PNEUMO_ERR_INVALID_ARG);
    assert_non_null(strstr(pneumo_last_error(), "(None, 5)"));
    pneumo_batchnorm_default_params(&p);
    p.reserved[3] = 1;
    assert_int_equal(pneumo_model_add_batchnorm(m, &p), PNEUMO_ERR_INVALID_ARG);
    assert_int_equal(pneumo_model_add_batchnorm(NULL, NULL), PNEUMO_ERR_INVALID_ARG);
    assert_int_equal(pneumo_model_num_layers(m), 0);
    /* a flat input normalises its features */
    p.reserved[3] = 0;
    p.axis = 1;
    assert_int_equal(pneumo_model_add_batchnorm(m, &p), PNEUMO_OK);
    assert_int_equal(pneumo_model_num_params(m), 10);
    pneumo_model_destroy(m);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_train_fold_save),
        cmocka_unit_test(test_fold_after_pool),
        cmocka_unit_test(test_fold_choices),
        cmocka_unit_test(test_refusals),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
