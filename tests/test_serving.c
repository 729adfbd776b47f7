/* What serving needs from the library: the model card (defaults, validation,
 * round trip through a model file), Youden's threshold and the article's
 * sentence, inference clones (8 threads on one set of weights, bit-identical
 * to one thread; training refused while clones live), Grad-CAM's invariants
 * and the overlay rendering. Grad-CAM's values are checked against PyTorch
 * autograd in tests/check_gradcam_torch.py. */
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pneumo/pneumo.h"
#include "testutil.h"

#define SIDE 100 /* the article's CNN needs >= 94 */

static pneumo_model *article(uint64_t seed)
{
    pneumo_model *m = NULL;
    assert_int_equal(pneumo_model_create_article(SIDE, seed, &m), PNEUMO_OK);
    return m;
}

static pneumo_tensor *random_batch(int32_t n, uint64_t seed)
{
    int64_t shape[4] = {n, SIDE, SIDE, 1};
    pneumo_tensor *t = NULL;
    uint64_t s = seed;
    assert_int_equal(pneumo_tensor_create(4, shape, &t), PNEUMO_OK);
    tu_fill(&s, pneumo_tensor_data(t), (size_t)n * SIDE * SIDE, 0.0f, 1.0f);
    return t;
}

/* A few Adam steps so weights are not those of initialisation. */
static void train_a_little(pneumo_model *m, int steps)
{
    pneumo_optimizer *opt = NULL;
    pneumo_tensor *x = random_batch(4, 99), *y = NULL;
    int64_t n = 4;
    assert_int_equal(pneumo_tensor_create(1, &n, &y), PNEUMO_OK);
    for (int i = 0; i < 4; i++)
        pneumo_tensor_data(y)[i] = (float)(i % 2);
    assert_int_equal(pneumo_optimizer_create_adam(NULL, &opt), PNEUMO_OK);
    for (int i = 0; i < steps; i++)
        assert_int_equal(pneumo_model_train_step(m, opt, x, y, NULL, NULL), PNEUMO_OK);
    pneumo_optimizer_destroy(opt);
    pneumo_tensor_destroy(x);
    pneumo_tensor_destroy(y);
}

/* ---- the model card --------------------------------------------------------- */

static void test_card_defaults(void **state)
{
    pneumo_model *m = article(1);
    pneumo_preprocessing pre;
    pneumo_provenance prov;
    (void)state;
    assert_int_equal(pneumo_model_num_classes(m), 2);
    assert_string_equal(tu_class_name(m, 0), "NORMAL");
    assert_string_equal(tu_class_name(m, 1), "PNEUMONIA");
    assert_int_equal(pneumo_model_class_name(m, 2, NULL, 0, NULL), PNEUMO_ERR_INVALID_ARG);
    assert_int_equal(pneumo_model_class_name(m, -1, NULL, 0, NULL), PNEUMO_ERR_INVALID_ARG);
    assert_true(pneumo_model_threshold(m) == 0.5f);
    pneumo_preprocessing_default(&pre);
    assert_int_equal(pneumo_model_preprocessing(m, &pre), PNEUMO_OK);
    assert_int_equal(pre.height, SIDE);
    assert_int_equal(pre.width, SIDE);
    assert_int_equal(pre.resample, PNEUMO_RESAMPLE_NEAREST);
    assert_true(pre.rescale == (float)(1.0 / 255.0));
    pneumo_provenance_default(&prov);
    assert_int_equal(pneumo_model_provenance(m, &prov), PNEUMO_OK);
    assert_int_equal(prov.epochs, -1);
    assert_int_equal(prov.seed, 1);
    assert_int_equal(prov.class_counts[0], -1);
    assert_true(isnan(prov.val_loss) && isnan(prov.val_accuracy) && isnan(prov.val_auc));
    assert_string_equal(prov.library_version, "");
    pneumo_model_destroy(m);
}

static void test_card_validation(void **state)
{
    pneumo_model *m = article(1);
    pneumo_preprocessing pre;
    pneumo_provenance prov;
    char long_name[80];
    const char *bad[][2] = {{"", "B"}, {"A", "tab\there"}, {"A", "\xff\xfe"}, {long_name, "B"}};
    (void)state;
    memset(long_name, 'x', sizeof long_name - 1);
    long_name[sizeof long_name - 1] = '\0';
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        assert_int_equal(pneumo_model_set_class_names(m, 2, bad[i]), PNEUMO_ERR_INVALID_ARG);
        assert_non_null(strstr(pneumo_last_error(), "name"));
    }
    assert_string_equal(tu_class_name(m, 1), "PNEUMONIA"); /* unchanged */
    assert_int_equal(pneumo_model_set_class_names(m, 3, bad[0]), PNEUMO_ERR_INVALID_ARG);
    assert_int_equal(pneumo_model_set_threshold(m, 0.0f), PNEUMO_ERR_INVALID_ARG);
    assert_int_equal(pneumo_model_set_threshold(m, 1.0f), PNEUMO_ERR_INVALID_ARG);
    assert_int_equal(pneumo_model_set_threshold(m, NAN), PNEUMO_ERR_INVALID_ARG);
    pneumo_preprocessing_default(&pre);
    pre.rescale = -1.0f;
    assert_int_equal(pneumo_model_set_preprocessing(m, &pre), PNEUMO_ERR_INVALID_ARG);
    pneumo_preprocessing_default(&pre);
    pre.width = SIDE + 1;
    assert_int_equal(pneumo_model_set_preprocessing(m, &pre), PNEUMO_ERR_INVALID_ARG);
    pneumo_preprocessing_default(&pre);
    pre.reserved[3] = 1;
    assert_int_equal(pneumo_model_set_preprocessing(m, &pre), PNEUMO_ERR_INVALID_ARG);
    pneumo_preprocessing_default(&pre);
    pre.size = 4;
    assert_int_equal(pneumo_model_set_preprocessing(m, &pre), PNEUMO_ERR_INVALID_ARG);
    assert_int_equal(pneumo_model_preprocessing(m, &pre), PNEUMO_ERR_INVALID_ARG);
    pneumo_provenance_default(&prov);
    prov.epochs = -2;
    assert_int_equal(pneumo_model_set_provenance(m, &prov), PNEUMO_ERR_INVALID_ARG);
    pneumo_model_destroy(m);
}

static void test_card_round_trip(void **state)
{
    pneumo_model *m = article(5), *back = NULL;
    const char *names[2] = {"Normal lungs", "Opacity"};
    pneumo_preprocessing pre;
    pneumo_provenance prov, got;
    char *path = tu_join(tu_tmpdir(), "card.safetensors");
    char json[2048];
    size_t needed = 0;
    (void)state;
    assert_int_equal(pneumo_model_set_class_names(m, 2, names), PNEUMO_OK);
    assert_int_equal(pneumo_model_set_threshold(m, 0.3125f), PNEUMO_OK);
    pneumo_preprocessing_default(&pre);
    pre.resample = PNEUMO_RESAMPLE_BILINEAR;
    pre.rescale = 0.5f;
    assert_int_equal(pneumo_model_set_preprocessing(m, &pre), PNEUMO_OK);
    pneumo_provenance_default(&prov);
    prov.epochs = 9;
    prov.class_counts[0] = 1074;
    prov.class_counts[1] = 3102;
    prov.val_loss = 0.1069;
    prov.val_accuracy = 0.9558;
    assert_int_equal(pneumo_model_set_provenance(m, &prov), PNEUMO_OK);
    assert_int_equal(pneumo_model_save(m, NULL, path), PNEUMO_OK);
    assert_int_equal(pneumo_model_load(path, &back, NULL), PNEUMO_OK);
    assert_string_equal(tu_class_name(back, 0), "Normal lungs");
    assert_string_equal(tu_class_name(back, 1), "Opacity");
    assert_true(pneumo_model_threshold(back) == 0.3125f);
    pneumo_preprocessing_default(&pre);
    assert_int_equal(pneumo_model_preprocessing(back, &pre), PNEUMO_OK);
    assert_int_equal(pre.resample, PNEUMO_RESAMPLE_BILINEAR);
    assert_true(pre.rescale == 0.5f);
    pneumo_provenance_default(&got);
    assert_int_equal(pneumo_model_provenance(back, &got), PNEUMO_OK);
    assert_int_equal(got.epochs, 9);
    assert_int_equal(got.seed, 5);
    assert_int_equal(got.class_counts[0], 1074);
    assert_int_equal(got.class_counts[1], 3102);
    assert_true(got.val_loss == 0.1069 && got.val_accuracy == 0.9558 && isnan(got.val_auc));
    assert_string_equal(got.library_version, PNEUMO_VERSION_STRING);
    /* the JSON form: sizing call, then the text */
    assert_int_equal(pneumo_model_info_json(back, NULL, 0, &needed), PNEUMO_OK);
    assert_true(needed > 0 && needed < sizeof json);
    assert_int_equal(pneumo_model_info_json(back, json, sizeof json, NULL), PNEUMO_OK);
    assert_int_equal(strlen(json), needed);
    assert_non_null(strstr(json, "\"class_names\":[\"Normal lungs\",\"Opacity\"]"));
    assert_non_null(strstr(json, "\"resample\":\"bilinear\""));
    assert_non_null(strstr(json, "\"class_counts\":[1074,3102]"));
    assert_non_null(strstr(json, "\"val_auc\":null"));
    /* a clone carries the card */
    {
        pneumo_model *c = NULL;
        assert_int_equal(pneumo_model_clone_inference(back, &c), PNEUMO_OK);
        assert_string_equal(tu_class_name(c, 0), "Normal lungs");
        assert_true(pneumo_model_threshold(c) == 0.3125f);
        pneumo_model_destroy(c);
    }
    pneumo_model_destroy(back);
    pneumo_model_destroy(m);
    free(path);
}

/* ---- Youden's J and the sentence ------------------------------------------------ */

static void test_youden(void **state)
{
    /* scores and labels; hand-computed: cuts between sorted scores
     * 0.1(0) 0.2(0) 0.35(1) 0.4(0) 0.7(1) 0.8(1):
     *   t=0.05: TPR 1, FPR 1 -> 0;  t=0.15: 1, 2/3 -> 1/3;  t=0.275: 1, 1/3 -> 2/3
     *   t=0.375: 2/3, 1/3 -> 1/3;   t=0.55: 2/3, 0 -> 2/3;   t=0.75: 1/3, 0;  t=0.9: 0
     * J ties at 2/3 between 0.275 and 0.55: the cut nearest 0.5 wins. */
    const float p[6] = {0.4f, 0.1f, 0.8f, 0.35f, 0.2f, 0.7f};
    const float y[6] = {0, 0, 1, 1, 0, 1};
    const float one[3] = {1, 1, 1};
    float t = 0.0f;
    (void)state;
    assert_int_equal(pneumo_youden_threshold(p, y, 6, &t), PNEUMO_OK);
    assert_float_equal(t, 0.55f, 1e-6f);
    /* perfectly separated: the cut between the classes */
    {
        const float ps[4] = {0.1f, 0.3f, 0.6f, 0.9f}, ys[4] = {0, 0, 1, 1};
        assert_int_equal(pneumo_youden_threshold(ps, ys, 4, &t), PNEUMO_OK);
        assert_float_equal(t, 0.45f, 1e-6f);
    }
    assert_int_equal(pneumo_youden_threshold(p, one, 3, &t), PNEUMO_ERR_STATE);
    assert_int_equal(pneumo_youden_threshold(p, y, 1, &t), PNEUMO_ERR_INVALID_ARG);
    {
        const float bad[2] = {0.5f, 1.5f}, yb[2] = {0, 1};
        assert_int_equal(pneumo_youden_threshold(bad, yb, 2, &t), PNEUMO_ERR_INVALID_ARG);
    }
}

static void test_sentence(void **state)
{
    pneumo_model *m = article(1);
    char buf[128], small[8];
    size_t needed = 0;
    int32_t label = -1;
    const char *names[2] = {"Normal", "Opacity"};
    (void)state;
    assert_int_equal(pneumo_model_diagnosis_sentence(m, 0.9731f, buf, sizeof buf, &needed, &label),
                     PNEUMO_OK);
    assert_string_equal(buf, "I am 97.31% percent confirmed that this is a Pneumonia case");
    assert_int_equal(needed, strlen(buf));
    assert_int_equal(label, 1);
    assert_int_equal(pneumo_model_diagnosis_sentence(m, 0.0067f, buf, sizeof buf, NULL, &label), PNEUMO_OK);
    assert_string_equal(buf, "I am 99.33% percent confirmed that this is a Normal case");
    assert_int_equal(label, 0);
    /* p == threshold is class 1 (the article's p >= 0.5) */
    assert_int_equal(pneumo_model_diagnosis_sentence(m, 0.5f, buf, sizeof buf, NULL, &label), PNEUMO_OK);
    assert_int_equal(label, 1);
    assert_int_equal(pneumo_model_set_threshold(m, 0.8f), PNEUMO_OK);
    assert_int_equal(pneumo_model_diagnosis_sentence(m, 0.7f, buf, sizeof buf, NULL, &label), PNEUMO_OK);
    assert_int_equal(label, 0);
    assert_string_equal(buf, "I am 30.00% percent confirmed that this is a Normal case");
    /* the labels the sentence uses, also on their own */
    assert_int_equal(pneumo_model_class_label(m, 1, buf, sizeof buf, &needed), PNEUMO_OK);
    assert_string_equal(buf, "Pneumonia");
    assert_int_equal(needed, strlen("Pneumonia"));
    assert_int_equal(pneumo_model_class_label(m, 0, buf, sizeof buf, NULL), PNEUMO_OK);
    assert_string_equal(buf, "Normal");
    assert_int_equal(pneumo_model_class_label(m, 2, buf, sizeof buf, NULL), PNEUMO_ERR_INVALID_ARG);
    /* names with lower-case letters are kept as given */
    assert_int_equal(pneumo_model_set_class_names(m, 2, names), PNEUMO_OK);
    assert_int_equal(pneumo_model_diagnosis_sentence(m, 0.9f, buf, sizeof buf, NULL, NULL), PNEUMO_OK);
    assert_string_equal(buf, "I am 90.00% percent confirmed that this is a Opacity case");
    {
        char name[PNEUMO_CLASS_NAME_MAX + 1];
        assert_int_equal(pneumo_model_class_label(m, 0, name, sizeof name, NULL), PNEUMO_OK);
        assert_string_equal(name, "Normal");
    }
    /* truncation is snprintf's, and needed tells the full length */
    assert_int_equal(pneumo_model_diagnosis_sentence(m, 0.9f, small, sizeof small, &needed, NULL), PNEUMO_OK);
    assert_string_equal(small, "I am 90");
    assert_int_equal(needed, strlen(buf));
    assert_int_equal(pneumo_model_diagnosis_sentence(m, 1.5f, buf, sizeof buf, NULL, NULL),
                     PNEUMO_ERR_INVALID_ARG);
    pneumo_model_destroy(m);
}

/* ---- inference clones ---------------------------------------------------------- */

#define NTHREADS 8
#define PER_THREAD 3

typedef struct clone_job {
    pneumo_model *clone;
    const pneumo_tensor *x; /* NTHREADS * PER_THREAD samples */
    int index;
    float out[PER_THREAD];
    pneumo_status status;
} clone_job;

static void *clone_worker(void *arg)
{
    clone_job *j = arg;
    const int64_t per = (int64_t)SIDE * SIDE;
    j->status = PNEUMO_OK;
    for (int r = 0; r < PER_THREAD && j->status == PNEUMO_OK; r++) {
        int64_t xs[4] = {1, SIDE, SIDE, 1}, os[2] = {1, 1};
        pneumo_tensor *x = NULL, *o = NULL;
        const int sample = j->index * PER_THREAD + r;
        float *src = (float *)pneumo_tensor_data_const(j->x) + (size_t)sample * (size_t)per;
        if ((j->status = pneumo_tensor_wrap(4, xs, src, (size_t)per, &x)) != PNEUMO_OK)
            break;
        if ((j->status = pneumo_tensor_wrap(2, os, &j->out[r], 1, &o)) == PNEUMO_OK)
            j->status = pneumo_model_predict(j->clone, x, o);
        pneumo_tensor_destroy(x);
        pneumo_tensor_destroy(o);
    }
    return NULL;
}

static void test_clones_many_threads(void **state)
{
    pneumo_model *m = article(3);
    pneumo_tensor *x = random_batch(NTHREADS * PER_THREAD, 7), *ref = NULL;
    int64_t rs[2] = {NTHREADS * PER_THREAD, 1};
    clone_job jobs[NTHREADS];
    pthread_t th[NTHREADS];
    (void)state;
    train_a_little(m, 2);
    assert_int_equal(pneumo_model_set_threads(m, 1), PNEUMO_OK);
    assert_int_equal(pneumo_tensor_create(2, rs, &ref), PNEUMO_OK);
    assert_int_equal(pneumo_model_predict(m, x, ref), PNEUMO_OK); /* one thread, one batch */
    for (int t = 0; t < NTHREADS; t++) {
        memset(&jobs[t], 0, sizeof jobs[t]);
        assert_int_equal(pneumo_model_clone_inference(m, &jobs[t].clone), PNEUMO_OK);
        assert_int_equal(pneumo_model_threads(jobs[t].clone), 1);
        jobs[t].x = x;
        jobs[t].index = t;
    }
    /* training is refused on every handle while the weights are shared */
    {
        pneumo_optimizer *opt = NULL;
        pneumo_tensor *y = NULL;
        int64_t n = NTHREADS * PER_THREAD;
        assert_int_equal(pneumo_tensor_create(1, &n, &y), PNEUMO_OK);
        assert_int_equal(pneumo_optimizer_create_adam(NULL, &opt), PNEUMO_OK);
        assert_int_equal(pneumo_model_train_step(m, opt, x, y, NULL, NULL), PNEUMO_ERR_STATE);
        assert_non_null(strstr(pneumo_last_error(), "shared"));
        assert_int_equal(pneumo_model_train_step(jobs[0].clone, opt, x, y, NULL, NULL), PNEUMO_ERR_STATE);
        assert_int_equal(pneumo_model_add_flatten(jobs[1].clone), PNEUMO_ERR_STATE);
        pneumo_optimizer_destroy(opt);
        pneumo_tensor_destroy(y);
    }
    for (int t = 0; t < NTHREADS; t++)
        assert_int_equal(pthread_create(&th[t], NULL, clone_worker, &jobs[t]), 0);
    /* the source runs inference meanwhile too */
    {
        pneumo_tensor *again = NULL;
        assert_int_equal(pneumo_tensor_create(2, rs, &again), PNEUMO_OK);
        assert_int_equal(pneumo_model_predict(m, x, again), PNEUMO_OK);
        assert_memory_equal(pneumo_tensor_data(again), pneumo_tensor_data(ref),
                            sizeof(float) * (size_t)rs[0]);
        pneumo_tensor_destroy(again);
    }
    for (int t = 0; t < NTHREADS; t++)
        assert_int_equal(pthread_join(th[t], NULL), 0);
    for (int t = 0; t < NTHREADS; t++) {
        assert_int_equal(jobs[t].status, PNEUMO_OK);
        for (int r = 0; r < PER_THREAD; r++) /* bit-identical */
            assert_memory_equal(&jobs[t].out[r], &pneumo_tensor_data(ref)[t * PER_THREAD + r], sizeof(float));
    }
    /* the source may go first: the clones keep the weights alive */
    pneumo_model_destroy(m);
    for (int t = 0; t < NTHREADS; t++) {
        if (t == 0) {
            float again[PER_THREAD];
            memcpy(again, jobs[0].out, sizeof again);
            clone_worker(&jobs[0]);
            assert_int_equal(jobs[0].status, PNEUMO_OK);
            assert_memory_equal(again, jobs[0].out, sizeof again);
        }
        pneumo_model_destroy(jobs[t].clone);
    }
    pneumo_tensor_destroy(ref);
    pneumo_tensor_destroy(x);
}

static void test_training_after_clones(void **state)
{
    pneumo_model *m = article(4), *c = NULL;
    (void)state;
    assert_int_equal(pneumo_model_clone_inference(m, &c), PNEUMO_OK);
    pneumo_model_destroy(c);
    train_a_little(m, 1); /* exclusive again */
    assert_int_equal(pneumo_model_clone_inference(NULL, &c), PNEUMO_ERR_INVALID_ARG);
    {
        pneumo_model *empty = NULL;
        assert_int_equal(pneumo_model_create(8, 8, 1, 1, &empty), PNEUMO_OK);
        assert_int_equal(pneumo_model_clone_inference(empty, &c), PNEUMO_ERR_STATE);
        assert_null(c);
        pneumo_model_destroy(empty);
    }
    pneumo_model_destroy(m);
}

/* ---- Grad-CAM invariants ---------------------------------------------------------- */

static void test_gradcam_targets(void **state)
{
    pneumo_model *m = article(11), *c = NULL;
    pneumo_tensor *x = random_batch(1, 21), *map0 = NULL, *map1 = NULL, *mapc = NULL, *before = NULL,
                  *after = NULL;
    pneumo_gradcam_options o;
    pneumo_gradcam_info info0, info1;
    int64_t os[2] = {1, 1};
    int nonzero = 0;
    (void)state;
    train_a_little(m, 2);
    assert_int_equal(pneumo_tensor_create(2, os, &before), PNEUMO_OK);
    assert_int_equal(pneumo_tensor_create(2, os, &after), PNEUMO_OK);
    assert_int_equal(pneumo_model_predict(m, x, before), PNEUMO_OK);
    pneumo_gradcam_default_options(&o);
    o.target = 0;
    info0.size = sizeof info0;
    info1.size = sizeof info1;
    assert_int_equal(pneumo_model_gradcam(m, x, &o, &map0, &info0), PNEUMO_OK);
    o.target = 1;
    assert_int_equal(pneumo_model_gradcam(m, x, &o, &map1, &info1), PNEUMO_OK);
    assert_int_equal(info1.layer, 8); /* the last Conv2D of the article */
    assert_int_equal(info1.height, pneumo_tensor_dim(map1, 0));
    assert_int_equal(info1.width, pneumo_tensor_dim(map1, 1));
    assert_true(fabsf(info0.probability - pneumo_tensor_data(before)[0]) < 1e-5f);
    /* the two targets' weights are negatives: map0 = relu(-S), map1 = relu(S) */
    for (int64_t i = 0; i < pneumo_tensor_numel(map1); i++) {
        float a = pneumo_tensor_data(map0)[i], b = pneumo_tensor_data(map1)[i];
        assert_false(isnan(a) || isnan(b));
        assert_true(a >= 0.0f && b >= 0.0f);
        assert_true(a == 0.0f || b == 0.0f);
        nonzero += a > 0.0f || b > 0.0f;
    }
    assert_true(nonzero > 0);
    /* inference afterwards is what it was (the fused plan is back) */
    assert_int_equal(pneumo_model_predict(m, x, after), PNEUMO_OK);
    assert_memory_equal(pneumo_tensor_data(before), pneumo_tensor_data(after), sizeof(float));
    /* a clone explains the same way */
    assert_int_equal(pneumo_model_clone_inference(m, &c), PNEUMO_OK);
    assert_int_equal(pneumo_model_gradcam(c, x, &o, &mapc, NULL), PNEUMO_OK);
    assert_memory_equal(pneumo_tensor_data(mapc), pneumo_tensor_data(map1),
                        sizeof(float) * (size_t)pneumo_tensor_numel(map1));
    /* misuse */
    pneumo_tensor_destroy(mapc);
    o.layer = 1; /* a MaxPooling2D */
    assert_int_equal(pneumo_model_gradcam(c, x, &o, &mapc, NULL), PNEUMO_ERR_STATE);
    assert_non_null(strstr(pneumo_last_error(), "not a Conv2D"));
    assert_null(mapc);
    o.layer = 99;
    assert_int_equal(pneumo_model_gradcam(c, x, &o, &mapc, NULL), PNEUMO_ERR_INVALID_ARG);
    o.layer = -1;
    o.target = 2;
    assert_int_equal(pneumo_model_gradcam(c, x, &o, &mapc, NULL), PNEUMO_ERR_INVALID_ARG);
    pneumo_gradcam_default_options(&o);
    o.reserved[0] = 1;
    assert_int_equal(pneumo_model_gradcam(c, x, &o, &mapc, NULL), PNEUMO_ERR_INVALID_ARG);
    {
        pneumo_tensor *two = random_batch(2, 3);
        assert_int_equal(pneumo_model_gradcam(c, two, NULL, &mapc, NULL), PNEUMO_ERR_SHAPE);
        pneumo_tensor_destroy(two);
    }
    pneumo_model_destroy(c);
    pneumo_tensor_destroy(map0);
    pneumo_tensor_destroy(map1);
    pneumo_tensor_destroy(before);
    pneumo_tensor_destroy(after);
    pneumo_tensor_destroy(x);
    pneumo_model_destroy(m);
}

static void test_gradcam_zero_map(void **state)
{
    /* all weights zero: every activation is zero, so the map is exactly zero */
    pneumo_model *m = article(2);
    pneumo_tensor *x = random_batch(1, 5), *map = NULL;
    pneumo_gradcam_info info;
    (void)state;
    for (int32_t i = 0; i < pneumo_model_num_param_tensors(m); i++) {
        pneumo_tensor *p = NULL;
        assert_int_equal(pneumo_model_param(m, i, &p), PNEUMO_OK);
        memset(pneumo_tensor_data(p), 0, sizeof(float) * (size_t)pneumo_tensor_numel(p));
        pneumo_tensor_destroy(p);
    }
    info.size = sizeof info;
    assert_int_equal(pneumo_model_gradcam(m, x, NULL, &map, &info), PNEUMO_OK);
    assert_true(info.max == 0.0f);
    assert_true(info.probability == 0.5f);
    for (int64_t i = 0; i < pneumo_tensor_numel(map); i++)
        assert_true(pneumo_tensor_data(map)[i] == 0.0f);
    pneumo_tensor_destroy(map);
    pneumo_tensor_destroy(x);
    pneumo_model_destroy(m);
}

/* ---- rendering ------------------------------------------------------------------------ */

static void test_upsample(void **state)
{
    /* 2x2 -> 4x4 with aligned centres: source coordinate (i + 0.5) / 2 - 0.5,
     * i.e. -0.25 (clamped to 0), 0.25, 0.75, 1.25 (clamped to 1) */
    int64_t s[2] = {2, 2};
    pneumo_tensor *map = NULL, *up = NULL;
    const float v[4] = {0, 4, 8, 12};
    const float row0[4] = {0, 1, 3, 4};
    (void)state;
    assert_int_equal(pneumo_tensor_create(2, s, &map), PNEUMO_OK);
    memcpy(pneumo_tensor_data(map), v, sizeof v);
    assert_int_equal(pneumo_gradcam_upsample(map, 4, 4, &up), PNEUMO_OK);
    for (int x = 0; x < 4; x++) {
        assert_float_equal(pneumo_tensor_data(up)[x], row0[x], 1e-6f);
        assert_float_equal(pneumo_tensor_data(up)[4 + x], row0[x] + 2.0f, 1e-6f);  /* y 0.25 */
        assert_float_equal(pneumo_tensor_data(up)[12 + x], row0[x] + 8.0f, 1e-6f); /* y clamped to 1 */
    }
    pneumo_tensor_destroy(up);
    assert_int_equal(pneumo_gradcam_upsample(map, 0, 4, &up), PNEUMO_ERR_INVALID_ARG);
    pneumo_tensor_destroy(map);
}

static void test_overlay(void **state)
{
    pneumo_image *img = NULL, *back = NULL;
    pneumo_tensor *map = NULL;
    pneumo_overlay_options o;
    int64_t s[2] = {3, 5};
    void *png = NULL;
    size_t size = 0;
    uint8_t *px;
    (void)state;
    assert_int_equal(pneumo_image_create(50, 30, &img), PNEUMO_OK);
    px = pneumo_image_pixels_mut(img);
    for (int i = 0; i < 50 * 30; i++)
        px[i] = (uint8_t)(i * 7);
    assert_int_equal(pneumo_tensor_create(2, s, &map), PNEUMO_OK); /* all zero */
    /* a zero map leaves the X-ray as it is: gray RGB decodes to the same luma */
    assert_int_equal(pneumo_gradcam_overlay_png(img, map, NULL, &png, &size), PNEUMO_OK);
    assert_int_equal(pneumo_image_decode(png, size, "overlay", NULL, &back), PNEUMO_OK);
    assert_int_equal(pneumo_image_width(back), 50);
    assert_int_equal(pneumo_image_height(back), 30);
    assert_memory_equal(pneumo_image_pixels(back), px, 50 * 30);
    pneumo_image_destroy(back);
    pneumo_free(png);
    /* a hot map changes the picture, and max_side scales it down */
    pneumo_tensor_data(map)[7] = 3.0f;
    pneumo_overlay_default_options(&o);
    o.max_side = 25;
    o.alpha = 1.0f;
    assert_int_equal(pneumo_gradcam_overlay_png(img, map, &o, &png, &size), PNEUMO_OK);
    assert_int_equal(pneumo_image_decode(png, size, "overlay", NULL, &back), PNEUMO_OK);
    assert_int_equal(pneumo_image_width(back), 25);
    assert_int_equal(pneumo_image_height(back), 15);
    pneumo_image_destroy(back);
    pneumo_free(png);
    o.alpha = 2.0f;
    assert_int_equal(pneumo_gradcam_overlay_png(img, map, &o, &png, &size), PNEUMO_ERR_INVALID_ARG);
    assert_null(png);
    pneumo_tensor_destroy(map);
    pneumo_image_destroy(img);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_card_defaults),
        cmocka_unit_test(test_card_validation),
        cmocka_unit_test(test_card_round_trip),
        cmocka_unit_test(test_youden),
        cmocka_unit_test(test_sentence),
        cmocka_unit_test(test_clones_many_threads),
        cmocka_unit_test(test_training_after_clones),
        cmocka_unit_test(test_gradcam_targets),
        cmocka_unit_test(test_gradcam_zero_map),
        cmocka_unit_test(test_upsample),
        cmocka_unit_test(test_overlay),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
