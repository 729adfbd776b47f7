/* Ensembles and test-time augmentation against the members' own predictions:
 * the mean over members and mirrored inputs (mirrored here, independently of
 * the library), the ensemble's evaluation against pneumo_model_evaluate() and
 * the hand-computed metrics, the mean Grad-CAM map, and the refusals. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pneumo/pneumo.h"
#include "testutil.h"

#define SIZE 24
#define PER_CLASS 12

static char root[4096];

static int setup(void **state)
{
    uint64_t rng = 41;
    const char *dir = tu_tmpdir();
    (void)state;
    if (!dir)
        return -1;
    snprintf(root, sizeof root, "%s", dir);
    tu_write_blob_split(root, "test", SIZE, PER_CLASS, &rng);
    return 0;
}

/* Conv2D(4, 3x3, relu) + MaxPool 2 + Flatten + Dense(1, sigmoid), trained a
 * few steps so members differ and are not at p = 0.5. */
static pneumo_model *member(int32_t side, uint64_t seed)
{
    pneumo_model *m = NULL;
    pneumo_conv2d_params c;
    pneumo_maxpool2d_params p;
    pneumo_optimizer *opt = NULL;
    pneumo_tensor *x = NULL, *y = NULL;
    int64_t xs[4] = {8, side, side, 1}, ys[1] = {8};
    uint64_t rng = seed * 7 + 1;
    assert_int_equal(pneumo_model_create(side, side, 1, seed, &m), PNEUMO_OK);
    pneumo_conv2d_default_params(&c);
    c.filters = 4;
    c.activation = PNEUMO_ACT_RELU;
    assert_int_equal(pneumo_model_add_conv2d(m, &c), PNEUMO_OK);
    pneumo_maxpool2d_default_params(&p);
    assert_int_equal(pneumo_model_add_maxpool2d(m, &p), PNEUMO_OK);
    assert_int_equal(pneumo_model_add_flatten(m), PNEUMO_OK);
    assert_int_equal(pneumo_model_add_dense(m, 1, PNEUMO_ACT_SIGMOID), PNEUMO_OK);
    assert_int_equal(pneumo_tensor_create(4, xs, &x), PNEUMO_OK);
    assert_int_equal(pneumo_tensor_create(1, ys, &y), PNEUMO_OK);
    tu_fill(&rng, pneumo_tensor_data(x), (size_t)(8 * side * side), 0.0f, 1.0f);
    for (int i = 0; i < 8; i++)
        pneumo_tensor_data(y)[i] = (float)(i & 1);
    assert_int_equal(pneumo_optimizer_create_adam(NULL, &opt), PNEUMO_OK);
    for (int s = 0; s < 5; s++)
        assert_int_equal(pneumo_model_train_step(m, opt, x, y, NULL, NULL), PNEUMO_OK);
    pneumo_optimizer_destroy(opt);
    pneumo_tensor_destroy(x);
    pneumo_tensor_destroy(y);
    return m;
}

static void mirror(const float *src, float *dst, int n, int h, int w)
{
    for (int r = 0; r < n * h; r++)
        for (int c = 0; c < w; c++)
            dst[r * w + c] = src[r * w + (w - 1 - c)];
}

static void test_predict_mean_and_flip(void **state)
{
    enum { N = 5 };
    pneumo_model *ms[2] = {member(SIZE, 1), member(SIZE, 2)};
    int64_t xs[4] = {N, SIZE, SIZE, 1}, os[1] = {N};
    static float xd[N * SIZE * SIZE], xm[N * SIZE * SIZE];
    float a[N], b[N], am[N], bm[N], e[N];
    pneumo_tensor *x = NULL, *xmir = NULL, *out = NULL;
    pneumo_ensemble_options o;
    uint64_t rng = 3;
    (void)state;
    tu_fill(&rng, xd, sizeof xd / sizeof xd[0], 0.0f, 1.0f);
    mirror(xd, xm, N, SIZE, SIZE);
    assert_int_equal(pneumo_tensor_wrap(4, xs, xd, N * SIZE * SIZE, &x), PNEUMO_OK);
    assert_int_equal(pneumo_tensor_wrap(4, xs, xm, N * SIZE * SIZE, &xmir), PNEUMO_OK);
    {
        float *dst[4] = {a, b, am, bm};
        for (int k = 0; k < 4; k++) {
            pneumo_tensor *t = NULL;
            assert_int_equal(pneumo_tensor_wrap(1, os, dst[k], N, &t), PNEUMO_OK);
            assert_int_equal(pneumo_model_predict(ms[k & 1], k < 2 ? x : xmir, t), PNEUMO_OK);
            pneumo_tensor_destroy(t);
        }
    }
    assert_true(fabsf(a[0] - b[0]) > 1e-4f); /* the members differ */
    assert_int_equal(pneumo_tensor_wrap(1, os, e, N, &out), PNEUMO_OK);
    /* one member, no TTA: its own prediction, bit for bit */
    assert_int_equal(pneumo_ensemble_predict(ms, 1, NULL, x, out), PNEUMO_OK);
    assert_memory_equal(e, a, sizeof a);
    assert_int_equal(pneumo_ensemble_predict(ms, 2, NULL, x, out), PNEUMO_OK);
    for (int i = 0; i < N; i++)
        assert_true(fabs(e[i] - ((double)a[i] + b[i]) / 2) < 1e-7);
    pneumo_ensemble_default_options(&o);
    o.tta = PNEUMO_TTA_FLIP;
    assert_int_equal(pneumo_ensemble_predict(ms, 2, &o, x, out), PNEUMO_OK);
    for (int i = 0; i < N; i++)
        assert_true(fabs(e[i] - ((double)a[i] + b[i] + am[i] + bm[i]) / 4) < 1e-7);
    assert_true(fabsf(a[0] - am[0]) > 1e-6f); /* mirroring changes the input */

    /* refusals */
    o.tta = 7;
    assert_int_equal(pneumo_ensemble_predict(ms, 2, &o, x, out), PNEUMO_ERR_INVALID_ARG);
    assert_non_null(strstr(pneumo_last_error(), "tta"));
    assert_int_equal(pneumo_ensemble_predict(ms, 0, NULL, x, out), PNEUMO_ERR_INVALID_ARG);
    assert_int_equal(pneumo_ensemble_predict(ms, PNEUMO_ENSEMBLE_MAX + 1, NULL, x, out),
                     PNEUMO_ERR_INVALID_ARG);
    {
        pneumo_model *holes[2] = {ms[0], NULL}, *mixed[2] = {ms[0], member(SIZE + 2, 3)};
        assert_int_equal(pneumo_ensemble_predict(holes, 2, NULL, x, out), PNEUMO_ERR_INVALID_ARG);
        assert_non_null(strstr(pneumo_last_error(), "member 1 is NULL"));
        assert_int_equal(pneumo_ensemble_predict(mixed, 2, NULL, x, out), PNEUMO_ERR_SHAPE);
        assert_non_null(strstr(pneumo_last_error(), "member 1 takes (26, 26, 1)"));
        pneumo_model_destroy(mixed[1]);
    }
    pneumo_tensor_destroy(x);
    pneumo_tensor_destroy(xmir);
    pneumo_tensor_destroy(out);
    pneumo_model_destroy(ms[0]);
    pneumo_model_destroy(ms[1]);
}

static pneumo_image *noise_image(int w, int h, uint64_t seed)
{
    pneumo_image *img = NULL;
    uint64_t rng = seed;
    assert_int_equal(pneumo_image_create(w, h, &img), PNEUMO_OK);
    for (int i = 0; i < w * h; i++)
        pneumo_image_pixels_mut(img)[i] = (uint8_t)(tu_next(&rng) >> 56);
    return img;
}

static pneumo_image *mirror_image(const pneumo_image *img)
{
    const int w = pneumo_image_width(img), h = pneumo_image_height(img);
    pneumo_image *m = NULL;
    assert_int_equal(pneumo_image_create(w, h, &m), PNEUMO_OK);
    for (int y = 0; y < h; y++)
        for (int x = 0; x < w; x++)
            pneumo_image_pixels_mut(m)[y * w + x] = pneumo_image_pixels(img)[y * w + (w - 1 - x)];
    return m;
}

static void test_predict_image_and_gradcam(void **state)
{
    pneumo_model *ms[2] = {member(SIZE, 4), member(SIZE, 5)};
    pneumo_image *img = noise_image(40, 37, 11), *mir = mirror_image(img);
    pneumo_ensemble_options o;
    pneumo_gradcam_options g;
    pneumo_gradcam_info info;
    pneumo_tensor *maps[4], *mean = NULL;
    float p[4], e = 0.0f;
    (void)state;
    for (int k = 0; k < 4; k++)
        assert_int_equal(pneumo_model_predict_image(ms[k & 1], k < 2 ? img : mir, &p[k]), PNEUMO_OK);
    pneumo_ensemble_default_options(&o);
    o.tta = PNEUMO_TTA_FLIP;
    assert_int_equal(pneumo_ensemble_predict_image(ms, 2, &o, img, &e), PNEUMO_OK);
    assert_true(fabs(e - ((double)p[0] + p[1] + p[2] + p[3]) / 4) < 1e-7);

    /* Grad-CAM: every member explains the same class, maps mirrored back */
    pneumo_gradcam_default_options(&g);
    g.target = 1;
    for (int k = 0; k < 4; k++) {
        pneumo_gradcam_info gi;
        gi.size = sizeof gi;
        assert_int_equal(pneumo_model_gradcam_image(ms[k & 1], k < 2 ? img : mir, &g, &maps[k], &gi),
                         PNEUMO_OK);
    }
    info.size = sizeof info;
    assert_int_equal(pneumo_ensemble_gradcam_image(ms, 2, &o, &g, img, &mean, &info), PNEUMO_OK);
    {
        const int64_t h = pneumo_tensor_dim(mean, 0), w = pneumo_tensor_dim(mean, 1);
        const float *d = pneumo_tensor_data(mean);
        double mx = 0.0, nonzero = 0.0;
        assert_int_equal(h, pneumo_tensor_dim(maps[0], 0));
        assert_int_equal(w, pneumo_tensor_dim(maps[0], 1));
        for (int64_t r = 0; r < h; r++)
            for (int64_t c = 0; c < w; c++) {
                const double want = ((double)pneumo_tensor_data(maps[0])[r * w + c] +
                                     pneumo_tensor_data(maps[1])[r * w + c] +
                                     pneumo_tensor_data(maps[2])[r * w + (w - 1 - c)] +
                                     pneumo_tensor_data(maps[3])[r * w + (w - 1 - c)]) /
                                    4;
                assert_true(fabs(d[r * w + c] - want) <= 1e-6 * (1.0 + fabs(want)));
                mx = d[r * w + c] > mx ? d[r * w + c] : mx;
                nonzero += d[r * w + c] != 0.0f;
            }
        assert_true(nonzero > 0); /* the comparison means something */
        assert_true(fabs(info.max - mx) < 1e-7);
        assert_true(fabs(info.probability - e) < 1e-7);
        assert_int_equal(info.target, 1);
    }
    /* one member without TTA is that member's map, bit for bit */
    pneumo_tensor_destroy(mean);
    assert_int_equal(pneumo_ensemble_gradcam_image(ms, 1, NULL, &g, img, &mean, NULL), PNEUMO_OK);
    assert_memory_equal(pneumo_tensor_data(mean), pneumo_tensor_data(maps[0]),
                        (size_t)pneumo_tensor_numel(mean) * sizeof(float));
    pneumo_tensor_destroy(mean);
    for (int k = 0; k < 4; k++)
        pneumo_tensor_destroy(maps[k]);
    pneumo_image_destroy(img);
    pneumo_image_destroy(mir);
    pneumo_model_destroy(ms[0]);
    pneumo_model_destroy(ms[1]);
}

static pneumo_dataset *open_test(void)
{
    char dir[4200];
    pneumo_dataset_options o;
    pneumo_dataset *ds = NULL;
    snprintf(dir, sizeof dir, "%s/test", root);
    pneumo_dataset_default_options(&o);
    o.width = o.height = SIZE;
    o.shuffle = 0;
    o.threads = 1;
    assert_int_equal(pneumo_dataset_open_dir(dir, &o, &ds), PNEUMO_OK);
    return ds;
}

static void test_evaluate(void **state)
{
    enum { N = 2 * PER_CLASS };
    pneumo_model *ms[2] = {member(SIZE, 6), member(SIZE, 7)};
    pneumo_dataset *ds = open_test();
    pneumo_evaluation ev1, eve;
    float p1[N], y1[N], pa[N], pb[N], pe[N], ye[N];
    double loss = 0.0, auc = 0.0, ece = 0.0;
    pneumo_confusion c;
    (void)state;
    /* one member: pneumo_model_evaluate's figures */
    assert_int_equal(pneumo_model_evaluate(ms[0], ds, 5, 0.5f, &ev1, p1, y1, N), PNEUMO_OK);
    assert_int_equal(pneumo_ensemble_evaluate(ms, 1, NULL, ds, 5, 0.5f, &eve, pe, ye, N), PNEUMO_OK);
    assert_int_equal(eve.count, N);
    assert_memory_equal(ye, y1, sizeof y1);
    for (int i = 0; i < N; i++)
        assert_true(fabsf(pe[i] - p1[i]) < 1e-6f);
    assert_true(fabs(eve.loss - ev1.loss) < 1e-5);
    assert_true(fabs(eve.roc_auc - ev1.roc_auc) < 1e-9);
    assert_memory_equal(eve.confusion.m, ev1.confusion.m, sizeof ev1.confusion.m);
    assert_true(fabs(eve.calibration_error - ev1.calibration_error) < 1e-5);

    /* two members: the metrics of the mean probabilities, computed here */
    assert_int_equal(pneumo_model_evaluate(ms[0], ds, 5, 0.5f, &ev1, pa, y1, N), PNEUMO_OK);
    assert_int_equal(pneumo_model_evaluate(ms[1], ds, 5, 0.5f, &ev1, pb, y1, N), PNEUMO_OK);
    assert_int_equal(pneumo_ensemble_evaluate(ms, 2, NULL, ds, 5, 0.5f, &eve, pe, ye, N), PNEUMO_OK);
    for (int i = 0; i < N; i++) {
        const double q = ((double)pa[i] + pb[i]) / 2;
        assert_true(fabs(pe[i] - q) < 1e-6);
        loss -= y1[i] ? log(q) : log1p(-q);
    }
    assert_true(fabs(eve.loss - loss / N) < 1e-5);
    assert_int_equal(pneumo_confusion_from_predictions(pe, ye, N, 0.5f, &c), PNEUMO_OK);
    assert_memory_equal(eve.confusion.m, c.m, sizeof c.m);
    assert_true(fabs(eve.accuracy - pneumo_confusion_accuracy(&c)) < 1e-12);
    assert_int_equal(pneumo_roc_auc(pe, ye, N, &auc), PNEUMO_OK);
    assert_true(fabs(eve.roc_auc - auc) < 1e-12);
    assert_int_equal(pneumo_calibration_curve(pe, ye, N, 10, NULL, NULL, NULL, &ece), PNEUMO_OK);
    assert_true(fabs(eve.calibration_error - ece) < 1e-12);
    /* buffers too short are named */
    assert_int_equal(pneumo_ensemble_evaluate(ms, 2, NULL, ds, 5, 0.5f, &eve, pe, ye, N - 1),
                     PNEUMO_ERR_INVALID_ARG);
    assert_non_null(strstr(pneumo_last_error(), "probs"));
    pneumo_dataset_destroy(ds);
    pneumo_model_destroy(ms[0]);
    pneumo_model_destroy(ms[1]);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_predict_mean_and_flip),
        cmocka_unit_test(test_predict_image_and_gradcam),
        cmocka_unit_test(test_evaluate),
    };
    return cmocka_run_group_tests(tests, setup, NULL);
}
