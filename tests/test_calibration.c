/* Probabilities that mean what they say: the reliability curve and its
 * expected calibration error, temperature scaling (fit, use in predict and
 * evaluate, the model card) and the target-sensitivity threshold, against
 * hand-computed cases and closed forms. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pneumo/pneumo.h"
#include "testutil.h"

static double logit(double p) { return log(p) - log1p(-p); }
static double sigmoid(double a) { return 1.0 / (1.0 + exp(-a)); }

static void test_calibration_curve_hand_case(void **state)
{
    /* 4 bins of 0.25. bin 0: 0.1(0) 0.2(1); bin 1: none; bin 2: 0.6(1) 0.7(1)
     * 0.5(0); bin 3: 0.9(1) and p = 1 (1), which goes to the last bin. */
    const float p[7] = {0.1f, 0.2f, 0.6f, 0.7f, 0.5f, 0.9f, 1.0f};
    const float y[7] = {0, 1, 1, 1, 0, 1, 1};
    int64_t cnt[4];
    double mean[4], frac[4], ece = -1.0, want;
    (void)state;
    assert_int_equal(pneumo_calibration_curve(p, y, 7, 4, cnt, mean, frac, &ece), PNEUMO_OK);
    assert_int_equal(cnt[0], 2);
    assert_int_equal(cnt[1], 0);
    assert_int_equal(cnt[2], 3);
    assert_int_equal(cnt[3], 2);
    assert_true(fabs(mean[0] - 0.15) < 1e-7 && fabs(frac[0] - 0.5) < 1e-12);
    assert_true(mean[1] == 0.0 && frac[1] == 0.0);
    assert_true(fabs(mean[2] - 0.6) < 1e-7 && fabs(frac[2] - 2.0 / 3.0) < 1e-12);
    assert_true(fabs(mean[3] - 0.95) < 1e-7 && frac[3] == 1.0);
    want = (2.0 * 0.35 + 3.0 * (2.0 / 3.0 - 0.6) + 2.0 * 0.05) / 7.0;
    assert_true(fabs(ece - want) < 1e-7);
    /* NULL outputs are allowed; a perfectly calibrated bin has no error */
    {
        const float pc[4] = {0.25f, 0.25f, 0.25f, 0.25f}, yc[4] = {1, 0, 0, 0};
        assert_int_equal(pneumo_calibration_curve(pc, yc, 4, 10, NULL, NULL, NULL, &ece), PNEUMO_OK);
        assert_true(fabs(ece) < 1e-12);
    }
    assert_int_equal(pneumo_calibration_curve(p, y, 7, 0, NULL, NULL, NULL, &ece), PNEUMO_ERR_INVALID_ARG);
    assert_int_equal(pneumo_calibration_curve(p, y, 7, PNEUMO_CALIBRATION_BINS_MAX + 1, NULL, NULL, NULL,
                                              &ece),
                     PNEUMO_ERR_INVALID_ARG);
    assert_int_equal(pneumo_calibration_curve(p, y, 0, 4, NULL, NULL, NULL, &ece), PNEUMO_ERR_INVALID_ARG);
    {
        const float bad[2] = {0.5f, 1.5f}, yb[2] = {0, 1};
        assert_int_equal(pneumo_calibration_curve(bad, yb, 2, 4, NULL, NULL, NULL, &ece),
                         PNEUMO_ERR_INVALID_ARG);
        assert_non_null(strstr(pneumo_last_error(), "probability 1"));
    }
}

/* Logits +a with k positives and m negatives, and -a with k negatives and m
 * positives: the NLL of sigmoid(s z) is least where sigmoid(s a) = k / (k + m),
 * so T = a / logit(k / (k + m)). */
static void test_fit_temperature_closed_form(void **state)
{
    const int k = 3, mneg = 1;
    const double a = logit(0.9);
    float p[8], y[8], t = 0.0f;
    int i = 0;
    (void)state;
    for (int j = 0; j < k; j++, i++)
        p[i] = (float)sigmoid(a), y[i] = 1;
    for (int j = 0; j < mneg; j++, i++)
        p[i] = (float)sigmoid(a), y[i] = 0;
    for (int j = 0; j < k; j++, i++)
        p[i] = (float)sigmoid(-a), y[i] = 0;
    for (int j = 0; j < mneg; j++, i++)
        p[i] = (float)sigmoid(-a), y[i] = 1;
    assert_int_equal(pneumo_fit_temperature(p, y, i, &t), PNEUMO_OK);
    /* logit(0.75) = log 3 = logit(0.9) / 2: T = 2 */
    assert_true(fabs((double)t - a / logit(0.75)) < 1e-5);
    assert_true(fabs((double)t - 2.0) < 1e-5);

    /* under-confident probabilities (0.6 for a class that is right 90% of the
     * time) need T < 1: sigmoid(logit(0.6) / T) = 0.9 */
    {
        float q[20], z[20];
        for (int j = 0; j < 20; j++) {
            q[j] = j < 10 ? 0.6f : 0.4f;
            z[j] = j < 10 ? (j < 9 ? 1.0f : 0.0f) : (j < 19 ? 0.0f : 1.0f);
        }
        assert_int_equal(pneumo_fit_temperature(q, z, 20, &t), PNEUMO_OK);
        assert_true(fabs((double)t - logit(0.6f) / logit(0.9)) < 1e-5);
    }
    /* separable data wants T -> 0: the bound comes back */
    {
        const float q[4] = {0.2f, 0.3f, 0.7f, 0.8f}, z[4] = {0, 0, 1, 1};
        assert_int_equal(pneumo_fit_temperature(q, z, 4, &t), PNEUMO_OK);
        assert_true(fabs(t - PNEUMO_TEMPERATURE_MIN) < 1e-6f);
    }
    assert_int_equal(pneumo_fit_temperature(p, y, 1, &t), PNEUMO_ERR_INVALID_ARG);
    assert_int_equal(pneumo_fit_temperature(p, y, 8, NULL), PNEUMO_ERR_INVALID_ARG);
}

static void test_sensitivity_threshold(void **state)
{
    /* sorted: 0.1(0) 0.2(0) 0.35(1) 0.4(0) 0.7(1) 0.8(1); cuts and TPR:
     * 0.05: 1; 0.15: 1; 0.275: 1; 0.375: 2/3; 0.55: 2/3; 0.75: 1/3; 0.9: 0 */
    const float p[6] = {0.4f, 0.1f, 0.8f, 0.35f, 0.2f, 0.7f};
    const float y[6] = {0, 0, 1, 1, 0, 1};
    float t = 0.0f;
    (void)state;
    assert_int_equal(pneumo_sensitivity_threshold(p, y, 6, 1.0, &t), PNEUMO_OK);
    assert_float_equal(t, 0.275f, 1e-6f);
    assert_int_equal(pneumo_sensitivity_threshold(p, y, 6, 0.6, &t), PNEUMO_OK);
    assert_float_equal(t, 0.55f, 1e-6f);
    assert_int_equal(pneumo_sensitivity_threshold(p, y, 6, 0.3, &t), PNEUMO_OK);
    assert_float_equal(t, 0.75f, 1e-6f);
    assert_int_equal(pneumo_sensitivity_threshold(p, y, 6, 0.0, &t), PNEUMO_ERR_INVALID_ARG);
    assert_int_equal(pneumo_sensitivity_threshold(p, y, 6, 1.5, &t), PNEUMO_ERR_INVALID_ARG);
    {
        const float one[3] = {1, 1, 1};
        assert_int_equal(pneumo_sensitivity_threshold(p, one, 3, 0.9, &t), PNEUMO_ERR_STATE);
    }
}

/* A model whose logits are several units large: 4x4 input, Dense(1, sigmoid). */
static pneumo_model *small_model(void)
{
    pneumo_model *m = NULL;
    assert_int_equal(pneumo_model_create(4, 4, 1, 7, &m), PNEUMO_OK);
    assert_int_equal(pneumo_model_add_flatten(m), PNEUMO_OK);
    assert_int_equal(pneumo_model_add_dense(m, 1, PNEUMO_ACT_SIGMOID), PNEUMO_OK);
    return m;
}

static void test_model_temperature(void **state)
{
    enum { N = 6 };
    int64_t shape[4] = {N, 4, 4, 1}, oshape[1] = {N}, lshape[1] = {N};
    float xd[N * 16], p1[N], p2[N], labels[N] = {0, 1, 0, 1, 1, 0};
    pneumo_tensor *x = NULL, *out = NULL, *lab = NULL;
    pneumo_model *m = small_model(), *back = NULL;
    pneumo_step_result r1, r2;
    uint64_t rng = 5;
    char json[4096];
    char *path;
    (void)state;
    tu_fill(&rng, xd, N * 16, -4.0f, 4.0f);
    assert_int_equal(pneumo_tensor_wrap(4, shape, xd, N * 16, &x), PNEUMO_OK);
    assert_int_equal(pneumo_tensor_wrap(1, oshape, p1, N, &out), PNEUMO_OK);
    assert_int_equal(pneumo_tensor_wrap(1, lshape, labels, N, &lab), PNEUMO_OK);
    assert_true(pneumo_model_temperature(m) == 1.0f);
    assert_int_equal(pneumo_model_predict(m, x, out), PNEUMO_OK);
    assert_int_equal(pneumo_model_evaluate_batch(m, x, lab, NULL, &r1), PNEUMO_OK);

    assert_int_equal(pneumo_model_set_temperature(m, 2.5f), PNEUMO_OK);
    assert_true(pneumo_model_temperature(m) == 2.5f);
    pneumo_tensor_destroy(out);
    assert_int_equal(pneumo_tensor_wrap(1, oshape, p2, N, &out), PNEUMO_OK);
    assert_int_equal(pneumo_model_predict(m, x, out), PNEUMO_OK);
    for (int i = 0; i < N; i++) {
        const double want = sigmoid(logit(p1[i]) / 2.5);
        assert_true(fabs(p2[i] - want) < 2e-6);
        assert_true(fabs(p1[i] - 0.5f) > 1e-3); /* the test means something */
    }
    /* evaluate's loss is the cross-entropy of the scaled probabilities */
    assert_int_equal(pneumo_model_evaluate_batch(m, x, lab, NULL, &r2), PNEUMO_OK);
    {
        double loss = 0.0;
        for (int i = 0; i < N; i++)
            loss -= labels[i] ? log(p2[i]) : log1p(-(double)p2[i]);
        assert_true(fabs(r2.loss - loss / N) < 1e-5);
        assert_true(fabs(r2.loss - r1.loss) > 1e-4);
    }

    /* the card carries it through a model file */
    assert_int_equal(pneumo_model_info_json(m, json, sizeof json, NULL), PNEUMO_OK);
    assert_non_null(strstr(json, "\"temperature\":2.5"));
    path = tu_join(tu_tmpdir(), "temperature.safetensors");
    assert_int_equal(pneumo_model_save(m, NULL, path), PNEUMO_OK);
    assert_int_equal(pneumo_model_load(path, &back, NULL), PNEUMO_OK);
    assert_true(pneumo_model_temperature(back) == 2.5f);
    pneumo_model_destroy(back);
    free(path);

    /* out of range, NaN, and a model that does not end in one sigmoid unit */
    assert_int_equal(pneumo_model_set_temperature(m, 0.0f), PNEUMO_ERR_INVALID_ARG);
    assert_int_equal(pneumo_model_set_temperature(m, NAN), PNEUMO_ERR_INVALID_ARG);
    assert_int_equal(pneumo_model_set_temperature(m, 1000.0f), PNEUMO_ERR_INVALID_ARG);
    assert_non_null(strstr(pneumo_last_error(), "outside"));
    assert_int_equal(pneumo_model_set_temperature(NULL, 2.0f), PNEUMO_ERR_INVALID_ARG);
    {
        pneumo_model *relu = NULL;
        assert_int_equal(pneumo_model_create(4, 4, 1, 7, &relu), PNEUMO_OK);
        assert_int_equal(pneumo_model_add_flatten(relu), PNEUMO_OK);
        assert_int_equal(pneumo_model_add_dense(relu, 3, PNEUMO_ACT_RELU), PNEUMO_OK);
        assert_int_equal(pneumo_model_set_temperature(relu, 2.0f), PNEUMO_ERR_STATE);
        assert_non_null(strstr(pneumo_last_error(), "sigmoid"));
        pneumo_model_destroy(relu);
    }
    pneumo_tensor_destroy(x);
    pneumo_tensor_destroy(out);
    pneumo_tensor_destroy(lab);
    pneumo_model_destroy(m);
}

/* Overwrite the first `from` in the file with `to` (same length). */
static void patch_file(const char *path, const char *from, const char *to)
{
    size_t size = 0, n = strlen(from);
    char *data = tu_read_all(path, &size), *at = NULL;
    FILE *f;
    assert_non_null(data);
    assert_int_equal(strlen(to), n);
    for (size_t i = 0; i + n <= size && !at; i++)
        if (memcmp(data + i, from, n) == 0)
            at = data + i;
    assert_non_null(at);
    memcpy(at, to, n);
    f = fopen(path, "wb");
    assert_non_null(f);
    assert_int_equal(fwrite(data, 1, size, f), size);
    assert_int_equal(fclose(f), 0);
    free(data);
}

/* A file whose card has no "temperature" (written before it existed) loads
 * with 1; a bad value is refused naming the field. */
static void test_card_without_temperature(void **state)
{
    pneumo_model *m = small_model(), *back = NULL;
    char *path = tu_join(tu_tmpdir(), "old-card.safetensors");
    (void)state;
    assert_int_equal(pneumo_model_set_temperature(m, 1.5f), PNEUMO_OK);
    assert_int_equal(pneumo_model_save(m, NULL, path), PNEUMO_OK);
    /* the card is a JSON string inside the safetensors header: spaces keep
     * both valid and the header length unchanged */
    patch_file(path, ",\\\"temperature\\\":1.5", "                    ");
    assert_int_equal(pneumo_model_load(path, &back, NULL), PNEUMO_OK);
    assert_true(pneumo_model_temperature(back) == 1.0f);
    pneumo_model_destroy(back);
    back = NULL;

    assert_int_equal(pneumo_model_save(m, NULL, path), PNEUMO_OK);
    patch_file(path, "\\\"temperature\\\":1.5", "\\\"temperature\\\":0.0");
    assert_int_not_equal(pneumo_model_load(path, &back, NULL), PNEUMO_OK);
    assert_null(back);
    assert_non_null(strstr(pneumo_last_error(), "temperature must be a number"));
    free(path);
    pneumo_model_destroy(m);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_calibration_curve_hand_case),
        cmocka_unit_test(test_fit_temperature_closed_form),
        cmocka_unit_test(test_sensitivity_threshold),
        cmocka_unit_test(test_model_temperature),
        cmocka_unit_test(test_card_without_temperature),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
