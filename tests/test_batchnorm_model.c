/* BatchNormalization and GlobalAveragePooling2D in a model: training moves
 * the moving statistics (and only gamma and beta are parameters), inference
 * folds Conv2D + BatchNormalization, files keep everything, the summary
 * counts the non-trainable weights, ONNX export writes both layers, bad
 * settings are refused. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "model/model.h"
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
        cmocka_unit_test(test_refusals),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
