/* fit / evaluate end to end on a generated dataset folder: learning, callbacks,
 * cancellation, reproducibility, history CSV, best-model checkpoint. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "pneumo/dataset.h"
#include "pneumo/pneumo.h"
#include "testutil.h"

#define SIZE 24
#define PER_CLASS 96

static char root[4096];

/* Class 1 images carry a bright blob on noise; class 0 only noise. */
static void write_split(const char *split, int per_class, uint64_t *rng)
{
    tu_write_blob_split(root, split, SIZE, per_class, rng);
}

static int setup(void **state)
{
    uint64_t rng = 1234;
    const char *dir = tu_tmpdir();
    (void)state;
    if (!dir)
        return -1;
    snprintf(root, sizeof root, "%s", dir);
    write_split("train", PER_CLASS, &rng);
    write_split("val", PER_CLASS / 2, &rng);
    return 0;
}

static int teardown(void **state)
{
    char cmd[4200];
    (void)state;
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", root);
    return system(cmd) == 0 ? 0 : -1;
}

static pneumo_dataset *open_split(const char *split, int shuffle, int threads)
{
    pneumo_dataset_options o;
    pneumo_dataset *ds = NULL;
    char path[4200];
    pneumo_dataset_default_options(&o);
    o.width = o.height = SIZE;
    o.shuffle = shuffle;
    o.seed = 7;
    o.threads = threads;
    snprintf(path, sizeof path, "%s/%s", root, split);
    assert_int_equal(pneumo_dataset_open_dir(path, &o, &ds), PNEUMO_OK);
    return ds;
}

static pneumo_model *small_model(uint64_t seed)
{
    pneumo_model *m = NULL;
    pneumo_conv2d_params c;
    assert_int_equal(pneumo_model_create(SIZE, SIZE, 1, seed, &m), PNEUMO_OK);
    pneumo_conv2d_default_params(&c);
    c.filters = 4;
    c.activation = PNEUMO_ACT_RELU;
    assert_int_equal(pneumo_model_add_conv2d(m, &c), PNEUMO_OK);
    assert_int_equal(pneumo_model_add_maxpool2d(m, NULL), PNEUMO_OK);
    assert_int_equal(pneumo_model_add_conv2d(m, &c), PNEUMO_OK);
    assert_int_equal(pneumo_model_add_maxpool2d(m, NULL), PNEUMO_OK);
    assert_int_equal(pneumo_model_add_flatten(m), PNEUMO_OK);
    assert_int_equal(pneumo_model_add_dense(m, 8, PNEUMO_ACT_RELU), PNEUMO_OK);
    assert_int_equal(pneumo_model_add_dense(m, 1, PNEUMO_ACT_SIGMOID), PNEUMO_OK);
    return m;
}

static pneumo_optimizer *adam(float lr)
{
    pneumo_adam_params p;
    pneumo_optimizer *o = NULL;
    pneumo_adam_default_params(&p);
    p.learning_rate = lr;
    assert_int_equal(pneumo_optimizer_create_adam(&p, &o), PNEUMO_OK);
    return o;
}

typedef struct counts {
    int epoch_begin, batch_end, epoch_end, lr_changed, early_stop;
    int cancel_after_batches;
} counts;

static int count_events(const pneumo_fit_event *ev, void *user)
{
    counts *c = user;
    switch (ev->kind) {
    case PNEUMO_EVENT_EPOCH_BEGIN: c->epoch_begin++; break;
    case PNEUMO_EVENT_BATCH_END: c->batch_end++; break;
    case PNEUMO_EVENT_EPOCH_END: c->epoch_end++; break;
    case PNEUMO_EVENT_LR_CHANGED: c->lr_changed++; break;
    case PNEUMO_EVENT_EARLY_STOP: c->early_stop++; break;
    default: break;
    }
    return c->cancel_after_batches && c->batch_end >= c->cancel_after_batches;
}

static void test_fit_learns_and_evaluates(void **state)
{
    pneumo_dataset *train = open_split("train", 1, 2), *val = open_split("val", 0, 2);
    pneumo_model *m = small_model(3);
    pneumo_optimizer *opt = adam(1e-2f);
    pneumo_fit_options o;
    pneumo_history *h = NULL;
    pneumo_epoch_record first, last;
    pneumo_evaluation ev;
    counts c = {0};
    char csv[4200], best[4200], line[256];
    FILE *f;
    (void)state;
    snprintf(csv, sizeof csv, "%s/history.csv", root);
    snprintf(best, sizeof best, "%s/best.safetensors", root);
    pneumo_fit_default_options(&o);
    o.epochs = 8;
    o.batch_size = 16;
    o.class_weighting = PNEUMO_CLASS_WEIGHT_BALANCED;
    o.best_model_path = best;
    o.callback = count_events;
    o.user = &c;
    assert_int_equal(pneumo_model_fit(m, opt, train, val, &o, &h), PNEUMO_OK);
    assert_int_equal(pneumo_history_size(h), 8);
    assert_int_equal(c.epoch_begin, 8);
    assert_int_equal(c.epoch_end, 8);
    assert_int_equal(c.batch_end, 8 * 12); /* 192 images / 16 */
    assert_int_equal(pneumo_history_get(h, 0, &first), PNEUMO_OK);
    assert_int_equal(pneumo_history_get(h, 7, &last), PNEUMO_OK);
    assert_true(last.loss < first.loss);
    /* the majority rate is 0.5: well above it */
    assert_true(last.val_accuracy >= 0.9);
    assert_true(fabs(last.lr - 1e-2) < 1e-9);
    assert_int_equal(pneumo_history_save_csv(h, csv), PNEUMO_OK);
    f = fopen(csv, "r");
    assert_non_null(f);
    assert_non_null(fgets(line, sizeof line, f));
    assert_string_equal(line, "epoch,accuracy,loss,lr,val_accuracy,val_loss,seconds\n");
    assert_non_null(fgets(line, sizeof line, f));
    assert_int_equal(strncmp(line, "0,", 2), 0);
    fclose(f);
    /* evaluation agrees with the last validation numbers of the history */
    {
        int64_t n = pneumo_dataset_size(val);
        float *p = malloc((size_t)n * sizeof *p), *y = malloc((size_t)n * sizeof *y);
        pneumo_model *loaded = NULL;
        assert_int_equal(pneumo_model_evaluate(m, val, 16, 0.5f, &ev, p, y, (size_t)n), PNEUMO_OK);
        assert_int_equal(ev.count, 96);
        assert_true(fabs(ev.loss - last.val_loss) < 1e-6);
        assert_true(fabs(ev.accuracy - last.val_accuracy) < 1e-9);
        assert_int_equal(ev.confusion.m[0] + ev.confusion.m[1], 48);
        assert_true(ev.roc_auc > 0.9 && ev.roc_auc <= 1.0);
        for (int64_t i = 0; i < n; i++)
            assert_true(y[i] == (float)pneumo_dataset_label(val, i));
        /* the model card records how the model was made: the last epoch's
         * validation figures, ROC AUC from the same probabilities */
        {
            pneumo_provenance prov;
            pneumo_provenance_default(&prov);
            assert_int_equal(pneumo_model_provenance(m, &prov), PNEUMO_OK);
            assert_int_equal(prov.epochs, 8);
            assert_int_equal(prov.class_counts[0], pneumo_dataset_class_count(train, 0));
            assert_int_equal(prov.class_counts[1], pneumo_dataset_class_count(train, 1));
            assert_true(prov.val_loss == last.val_loss && prov.val_accuracy == last.val_accuracy);
            assert_true(fabs(prov.val_auc - ev.roc_auc) < 1e-12);
        }
        /* the best checkpoint exists, loads, and its card says which epoch it is */
        assert_int_equal(pneumo_model_load(best, &loaded, NULL), PNEUMO_OK);
        {
            pneumo_provenance prov;
            pneumo_epoch_record r;
            pneumo_provenance_default(&prov);
            assert_int_equal(pneumo_model_provenance(loaded, &prov), PNEUMO_OK);
            assert_true(prov.epochs >= 1 && prov.epochs <= 8);
            assert_int_equal(pneumo_history_get(h, prov.epochs - 1, &r), PNEUMO_OK);
            assert_true(prov.val_loss == r.val_loss);
            for (int32_t e = 0; e < 8; e++) {
                assert_int_equal(pneumo_history_get(h, e, &r), PNEUMO_OK);
                assert_true(r.val_loss >= prov.val_loss); /* the best by val_loss */
            }
        }
        pneumo_model_destroy(loaded);
        free(p);
        free(y);
    }
    pneumo_history_destroy(h);
    pneumo_optimizer_destroy(opt);
    pneumo_model_destroy(m);
    pneumo_dataset_destroy(train);
    pneumo_dataset_destroy(val);
}

static void run_fit(int threads, pneumo_history **h, pneumo_model **m)
{
    pneumo_dataset *train = open_split("train", 1, threads), *val = open_split("val", 0, threads);
    pneumo_optimizer *opt = adam(1e-3f);
    pneumo_fit_options o;
    pneumo_fit_default_options(&o);
    o.epochs = 2;
    *m = small_model(9);
    assert_int_equal(pneumo_model_fit(*m, opt, train, val, &o, h), PNEUMO_OK);
    pneumo_optimizer_destroy(opt);
    pneumo_dataset_destroy(train);
    pneumo_dataset_destroy(val);
}

static void test_fit_reproducible(void **state)
{
    pneumo_history *h1 = NULL, *h2 = NULL;
    pneumo_model *m1 = NULL, *m2 = NULL;
    (void)state;
    run_fit(1, &h1, &m1);
    run_fit(3, &h2, &m2); /* dataset worker count must not matter */
    for (int32_t e = 0; e < 2; e++) {
        pneumo_epoch_record a, b;
        pneumo_history_get(h1, e, &a);
        pneumo_history_get(h2, e, &b);
        assert_true(a.loss == b.loss && a.accuracy == b.accuracy && a.val_loss == b.val_loss);
    }
    for (int32_t i = 0; i < pneumo_model_num_param_tensors(m1); i++) {
        pneumo_tensor *a = NULL, *b = NULL;
        pneumo_model_param(m1, i, &a);
        pneumo_model_param(m2, i, &b);
        assert_memory_equal(pneumo_tensor_data(a), pneumo_tensor_data(b),
                            (size_t)pneumo_tensor_numel(a) * sizeof(float));
        pneumo_tensor_destroy(a);
        pneumo_tensor_destroy(b);
    }
    pneumo_history_destroy(h1);
    pneumo_history_destroy(h2);
    pneumo_model_destroy(m1);
    pneumo_model_destroy(m2);
}

/* Progress text, kept for the assertions. */
typedef struct text_sink {
    char s[8192];
    size_t n;
} text_sink;

static pneumo_status sink_text(void *user, const void *data, size_t size)
{
    text_sink *t = user;
    if (t->n + size < sizeof t->s) {
        memcpy(t->s + t->n, data, size);
        t->n += size;
        t->s[t->n] = '\0';
    }
    return PNEUMO_OK;
}

/* Every phase of an epoch is a real, non-negative figure and together they
 * are the epoch's wall time. */
static void check_timing(const pneumo_history *h, int32_t e)
{
    pneumo_epoch_timing t = {.size = sizeof t};
    pneumo_epoch_record r;
    double sum;
    assert_int_equal(pneumo_history_timing(h, e, &t), PNEUMO_OK);
    assert_int_equal(pneumo_history_get(h, e, &r), PNEUMO_OK);
    assert_int_equal(t.epoch, e);
    {
        const double v[9] = {t.seconds,       t.train_seconds,         t.data_wait_seconds,
                             t.val_seconds,   t.val_data_wait_seconds, t.callback_seconds,
                             t.other_seconds, t.loader_cpu_seconds,    t.val_loader_cpu_seconds};
        for (int k = 0; k < 9; k++)
            assert_true(isfinite(v[k]) && v[k] >= 0.0);
    }
    sum = t.train_seconds + t.data_wait_seconds + t.val_seconds + t.val_data_wait_seconds +
          t.callback_seconds + t.other_seconds;
    assert_true(fabs(sum - t.seconds) <= 1e-9 * (1.0 + t.seconds));
    /* the record's Keras-style time stops before the callbacks and saves */
    assert_true(r.seconds <= t.seconds);
    assert_true(t.train_seconds > 0.0 && t.val_seconds > 0.0);
    for (int k = 0; k < 8; k++)
        assert_int_equal(t.reserved[k], 0);
}

static void test_fit_timing(void **state)
{
    pneumo_dataset *train = open_split("train", 1, 2), *val = open_split("val", 0, 2);
    pneumo_model *m = small_model(11), *m2 = NULL;
    pneumo_optimizer *opt = adam(1e-3f), *opt2 = NULL;
    pneumo_fit_options o;
    pneumo_history *h = NULL, *h2 = NULL;
    pneumo_epoch_timing t = {.size = sizeof t};
    text_sink text = {.n = 0};
    char ck[4200];
    (void)state;
    snprintf(ck, sizeof ck, "%s/timing.safetensors", root);
    pneumo_fit_default_options(&o);
    o.epochs = 2;
    o.checkpoint_path = ck;
    o.progress = sink_text;
    o.progress_user = &text;
    o.progress_timing = 1;
    assert_int_equal(pneumo_model_fit(m, opt, train, val, &o, &h), PNEUMO_OK);
    check_timing(h, 0);
    check_timing(h, 1);
    /* one line per epoch, after the Keras line */
    assert_non_null(strstr(text.s, "val_accuracy"));
    assert_non_null(strstr(strstr(text.s, "Epoch 1/2"), "Epoch 1 time "));
    assert_non_null(strstr(strstr(text.s, "Epoch 2/2"), "Epoch 2 time "));
    assert_non_null(strstr(text.s, " - train "));
    assert_non_null(strstr(text.s, " - loader CPU "));
    /* the caller sizes the struct; the index is checked */
    assert_int_equal(pneumo_history_timing(h, 2, &t), PNEUMO_ERR_INVALID_ARG);
    assert_int_equal(pneumo_history_timing(h, -1, &t), PNEUMO_ERR_INVALID_ARG);
    assert_int_equal(pneumo_history_timing(NULL, 0, &t), PNEUMO_ERR_INVALID_ARG);
    assert_int_equal(pneumo_history_timing(h, 0, NULL), PNEUMO_ERR_INVALID_ARG);
    t.size = 8;
    assert_int_equal(pneumo_history_timing(h, 0, &t), PNEUMO_ERR_INVALID_ARG);
    assert_non_null(strstr(pneumo_last_error(), "out->size is 8"));
    /* only 0 and 1 */
    o.progress_timing = 2;
    assert_int_equal(pneumo_model_fit(m, opt, train, val, &o, NULL), PNEUMO_ERR_INVALID_ARG);
    assert_non_null(strstr(pneumo_last_error(), "progress_timing 2"));
    /* without the line the Keras text is as before, and the figures are still kept */
    o.progress_timing = 0;
    o.epochs = 3;
    text.n = 0;
    text.s[0] = '\0';
    assert_int_equal(pneumo_model_fit_resume(ck, train, val, &o, &m2, &opt2, &h2), PNEUMO_OK);
    assert_null(strstr(text.s, " time "));
    assert_non_null(strstr(text.s, "Epoch 3/3"));
    assert_int_equal(pneumo_history_size(h2), 3);
    /* the epochs of the checkpoint ran elsewhere: no figures */
    t.size = sizeof t;
    assert_int_equal(pneumo_history_timing(h2, 0, &t), PNEUMO_OK);
    assert_true(isnan(t.seconds) && isnan(t.train_seconds) && isnan(t.loader_cpu_seconds));
    check_timing(h2, 2);
    pneumo_history_destroy(h);
    pneumo_history_destroy(h2);
    pneumo_optimizer_destroy(opt);
    pneumo_optimizer_destroy(opt2);
    pneumo_model_destroy(m);
    pneumo_model_destroy(m2);
    pneumo_dataset_destroy(train);
    pneumo_dataset_destroy(val);
}

static void test_fit_cancel_and_callbacks(void **state)
{
    pneumo_dataset *train = open_split("train", 1, 2), *val = open_split("val", 0, 2);
    pneumo_model *m = small_model(5);
    pneumo_optimizer *opt = adam(1e-3f);
    pneumo_fit_options o;
    pneumo_early_stopping_params o_es;
    pneumo_reduce_lr_params o_rl;
    pneumo_history *h = NULL;
    counts c = {0};
    pneumo_step_result r;
    (void)state;
    pneumo_fit_default_options(&o);
    pneumo_early_stopping_default_params(&o_es);
    pneumo_reduce_lr_default_params(&o_rl);
    o.early_stopping = &o_es;
    o.reduce_lr = &o_rl;
    o.epochs = 5;
    o.callback = count_events;
    o.user = &c;
    c.cancel_after_batches = 15; /* inside the second epoch */
    assert_int_equal(pneumo_model_fit(m, opt, train, val, &o, &h), PNEUMO_ERR_CANCELLED);
    assert_non_null(strstr(pneumo_last_error(), "cancelled"));
    assert_int_equal(pneumo_history_size(h), 1); /* the finished epoch is kept */
    assert_int_equal(c.batch_end, 15);
    pneumo_history_destroy(h);
    /* the model is still usable */
    {
        int64_t xs[4] = {2, SIZE, SIZE, 1}, ys[1] = {2};
        pneumo_tensor *x = NULL, *y = NULL;
        pneumo_tensor_create(4, xs, &x);
        pneumo_tensor_create(1, ys, &y);
        assert_int_equal(pneumo_model_evaluate_batch(m, x, y, NULL, &r), PNEUMO_OK);
        pneumo_tensor_destroy(x);
        pneumo_tensor_destroy(y);
    }
    /* an EarlyStopping on val_loss without a validation set is refused */
    o.callback = NULL;
    o_es.enabled = 1;
    assert_int_equal(pneumo_model_fit(m, opt, train, NULL, &o, NULL), PNEUMO_ERR_INVALID_ARG);
    /* patience 0 on a monitor that cannot improve stops after the second epoch;
     * ReduceLROnPlateau with patience 0 lowers the rate every epoch */
    memset(&c, 0, sizeof c);
    o.callback = count_events;
    o_es.monitor = PNEUMO_MONITOR_LOSS;
    o_es.mode = PNEUMO_MODE_MAX; /* loss rarely rises: no improvement */
    o_es.patience = 1;
    o_rl.enabled = 1;
    o_rl.monitor = PNEUMO_MONITOR_LOSS;
    o_rl.mode = PNEUMO_MODE_MAX;
    o_rl.patience = 1;
    o_rl.factor = 0.5;
    assert_int_equal(pneumo_model_fit(m, opt, train, NULL, &o, &h), PNEUMO_OK);
    assert_true(pneumo_history_size(h) >= 2 && pneumo_history_size(h) <= 5);
    if (pneumo_history_size(h) < 5) {
        assert_true(pneumo_history_stopped_early(h));
        assert_int_equal(c.early_stop, 1);
    }
    assert_true(c.lr_changed >= 1);
    assert_true(pneumo_optimizer_learning_rate(opt) < 1e-3f);
    pneumo_history_destroy(h);
    pneumo_optimizer_destroy(opt);
    pneumo_model_destroy(m);
    pneumo_dataset_destroy(train);
    pneumo_dataset_destroy(val);
}

static void assert_same_weights(pneumo_model *a, pneumo_model *b)
{
    assert_int_equal(pneumo_model_num_param_tensors(a), pneumo_model_num_param_tensors(b));
    for (int32_t i = 0; i < pneumo_model_num_param_tensors(a); i++) {
        pneumo_tensor *x = NULL, *y = NULL;
        pneumo_model_param(a, i, &x);
        pneumo_model_param(b, i, &y);
        assert_memory_equal(pneumo_tensor_data(x), pneumo_tensor_data(y),
                            (size_t)pneumo_tensor_numel(x) * sizeof(float));
        pneumo_tensor_destroy(x);
        pneumo_tensor_destroy(y);
    }
}

/* A run interrupted after epoch 2 and resumed from its checkpoint ends exactly
 * where an uninterrupted run ends. */
static void test_fit_resume(void **state)
{
    pneumo_dataset *train = open_split("train", 1, 2), *val = open_split("val", 0, 2);
    pneumo_model *full = small_model(13), *part = small_model(13), *resumed = NULL;
    pneumo_optimizer *o1 = adam(3e-3f), *o2 = adam(3e-3f), *o3 = NULL;
    pneumo_history *h1 = NULL, *h2 = NULL, *h3 = NULL;
    pneumo_fit_options o;
    pneumo_early_stopping_params o_es;
    pneumo_reduce_lr_params o_rl;
    counts c = {0};
    char ckpt[4200];
    (void)state;
    snprintf(ckpt, sizeof ckpt, "%s/ckpt.safetensors", root);
    pneumo_fit_default_options(&o);
    pneumo_early_stopping_default_params(&o_es);
    pneumo_reduce_lr_default_params(&o_rl);
    o.early_stopping = &o_es;
    o.reduce_lr = &o_rl;
    o.epochs = 4;
    o.class_weighting = PNEUMO_CLASS_WEIGHT_BALANCED;
    o_rl.enabled = 1;
    o_rl.patience = 1;
    o_rl.factor = 0.5;
    assert_int_equal(pneumo_model_fit(full, o1, train, val, &o, &h1), PNEUMO_OK);
    /* the same run, cancelled during epoch 3 with a checkpoint after every epoch */
    o.checkpoint_path = ckpt;
    o.callback = count_events;
    o.user = &c;
    c.cancel_after_batches = 2 * 12 + 5;
    assert_int_equal(pneumo_model_fit(part, o2, train, val, &o, &h2), PNEUMO_ERR_CANCELLED);
    assert_int_equal(pneumo_history_size(h2), 2);
    o.callback = NULL;
    assert_int_equal(pneumo_model_fit_resume(ckpt, train, val, &o, &resumed, &o3, &h3), PNEUMO_OK);
    assert_int_equal(pneumo_history_size(h3), 4);
    for (int32_t e = 0; e < 4; e++) {
        pneumo_epoch_record a, b;
        pneumo_history_get(h1, e, &a);
        pneumo_history_get(h3, e, &b);
        assert_int_equal(a.epoch, b.epoch);
        assert_true(a.loss == b.loss && a.accuracy == b.accuracy && a.val_loss == b.val_loss &&
                    a.val_accuracy == b.val_accuracy && a.lr == b.lr);
    }
    assert_true(pneumo_optimizer_learning_rate(o1) == pneumo_optimizer_learning_rate(o3));
    assert_int_equal(pneumo_optimizer_iterations(o1), pneumo_optimizer_iterations(o3));
    assert_same_weights(full, resumed);
    /* a plain model file is not a checkpoint */
    {
        char plain[4200];
        pneumo_model *m = NULL;
        pneumo_optimizer *op = NULL;
        snprintf(plain, sizeof plain, "%s/plain.safetensors", root);
        assert_int_equal(pneumo_model_save(full, o1, plain), PNEUMO_OK);
        assert_int_equal(pneumo_model_fit_resume(plain, train, val, &o, &m, &op, NULL), PNEUMO_ERR_FORMAT);
        assert_non_null(strstr(pneumo_last_error(), "fit_state"));
        assert_null(m);
        assert_null(op);
    }
    pneumo_history_destroy(h1);
    pneumo_history_destroy(h2);
    pneumo_history_destroy(h3);
    pneumo_optimizer_destroy(o1);
    pneumo_optimizer_destroy(o2);
    pneumo_optimizer_destroy(o3);
    pneumo_model_destroy(full);
    pneumo_model_destroy(part);
    pneumo_model_destroy(resumed);
    pneumo_dataset_destroy(train);
    pneumo_dataset_destroy(val);
}

/* Cancelled inside an epoch, the run's checkpoint holds the steps done in it
 * and resuming continues after them: the result is the uninterrupted run's. */
static void test_fit_resume_mid_epoch(void **state)
{
    pneumo_dataset *train = open_split("train", 1, 2), *val = open_split("val", 0, 2);
    pneumo_model *full = small_model(21), *part = small_model(21), *resumed = NULL, *ck = NULL;
    pneumo_optimizer *o1 = adam(3e-3f), *o2 = adam(3e-3f), *o3 = NULL, *ck_opt = NULL;
    pneumo_history *h1 = NULL, *h2 = NULL, *h3 = NULL;
    pneumo_fit_options o;
    pneumo_reduce_lr_params o_rl;
    counts c = {0};
    char ckpt[4200];
    (void)state;
    snprintf(ckpt, sizeof ckpt, "%s/ckpt-mid.safetensors", root);
    pneumo_fit_default_options(&o);
    pneumo_reduce_lr_default_params(&o_rl);
    o.epochs = 3;
    o.class_weighting = PNEUMO_CLASS_WEIGHT_BALANCED;
    o_rl.enabled = 1;
    o_rl.patience = 1;
    o_rl.factor = 0.5;
    o.reduce_lr = &o_rl;
    assert_int_equal(pneumo_model_fit(full, o1, train, val, &o, &h1), PNEUMO_OK);
    o.checkpoint_path = ckpt;
    o.callback = count_events;
    o.user = &c;
    c.cancel_after_batches = 12 + 5; /* step 5 of epoch 2 */
    assert_int_equal(pneumo_model_fit(part, o2, train, val, &o, &h2), PNEUMO_ERR_CANCELLED);
    assert_non_null(strstr(pneumo_last_error(), "in epoch 2 after step 5;"));
    assert_int_equal(pneumo_history_size(h2), 1);
    /* the checkpoint is the model after 17 steps, not after the first epoch's 12 */
    assert_int_equal(pneumo_model_load(ckpt, &ck, &ck_opt), PNEUMO_OK);
    assert_int_equal(pneumo_optimizer_iterations(ck_opt), 17);
    assert_same_weights(part, ck);
    o.callback = NULL;
    o.checkpoint_path = NULL; /* keep the mid-epoch checkpoint for the last check */
    assert_int_equal(pneumo_model_fit_resume(ckpt, train, val, &o, &resumed, &o3, &h3), PNEUMO_OK);
    assert_int_equal(pneumo_history_size(h3), 3);
    for (int32_t e = 0; e < 3; e++) {
        pneumo_epoch_record a, b;
        pneumo_history_get(h1, e, &a);
        pneumo_history_get(h3, e, &b);
        assert_int_equal(a.epoch, b.epoch);
        assert_true(a.loss == b.loss && a.accuracy == b.accuracy && a.val_loss == b.val_loss &&
                    a.val_accuracy == b.val_accuracy && a.lr == b.lr);
    }
    assert_int_equal(pneumo_optimizer_iterations(o1), pneumo_optimizer_iterations(o3));
    assert_same_weights(full, resumed);
    /* a checkpoint whose step is past the epoch's end (another batch size) is refused */
    o.batch_size = 64;
    pneumo_model_destroy(resumed);
    pneumo_optimizer_destroy(o3);
    resumed = NULL;
    o3 = NULL;
    assert_int_equal(pneumo_model_fit_resume(ckpt, train, val, &o, &resumed, &o3, NULL), PNEUMO_ERR_STATE);
    assert_non_null(strstr(pneumo_last_error(), "resumes epoch 2 at step 6, but the epoch has"));
    pneumo_history_destroy(h1);
    pneumo_history_destroy(h2);
    pneumo_history_destroy(h3);
    pneumo_optimizer_destroy(o1);
    pneumo_optimizer_destroy(o2);
    pneumo_optimizer_destroy(o3);
    pneumo_optimizer_destroy(ck_opt);
    pneumo_model_destroy(full);
    pneumo_model_destroy(part);
    pneumo_model_destroy(resumed);
    pneumo_model_destroy(ck);
    pneumo_dataset_destroy(train);
    pneumo_dataset_destroy(val);
}

/* label_smoothing changes the training loss and gradients only: with s = 0.2 the
 * first epoch's loss differs from s = 0 while the labels' accuracy is still counted;
 * out of [0, 1] it is refused */
static void test_fit_label_smoothing(void **state)
{
    pneumo_history *h[2] = {NULL, NULL};
    pneumo_epoch_record r[2];
    (void)state;
    for (int k = 0; k < 2; k++) {
        pneumo_dataset *train = open_split("train", 1, 1);
        pneumo_optimizer *opt = adam(1e-3f);
        pneumo_model *m = small_model(9);
        pneumo_fit_options o;
        pneumo_fit_default_options(&o);
        assert_true(o.label_smoothing == 0.0f);
        o.epochs = 1;
        o.label_smoothing = k ? 0.2f : 0.0f;
        assert_int_equal(pneumo_model_fit(m, opt, train, NULL, &o, &h[k]), PNEUMO_OK);
        assert_int_equal(pneumo_history_get(h[k], 0, &r[k]), PNEUMO_OK);
        if (k) {
            const float bad[] = {-0.1f, 1.5f, NAN};
            for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
                pneumo_history *hb = NULL;
                o.label_smoothing = bad[i];
                assert_int_equal(pneumo_model_fit(m, opt, train, NULL, &o, &hb), PNEUMO_ERR_INVALID_ARG);
                assert_non_null(strstr(pneumo_last_error(), "label_smoothing"));
                pneumo_history_destroy(hb);
            }
        }
        pneumo_optimizer_destroy(opt);
        pneumo_model_destroy(m);
        pneumo_dataset_destroy(train);
    }
    assert_true(isfinite(r[0].loss) && isfinite(r[1].loss) && r[0].loss != r[1].loss);
    assert_true(r[1].accuracy >= 0.0 && r[1].accuracy <= 1.0);
    pneumo_history_destroy(h[0]);
    pneumo_history_destroy(h[1]);
}

/* The learning rate of every step, read after the step from the optimizer. */
typedef struct lr_log {
    pneumo_optimizer *opt;
    double lr[64];
    int n, cancel_after;
} lr_log;

static int log_lr(const pneumo_fit_event *ev, void *user)
{
    lr_log *l = user;
    if (ev->kind != PNEUMO_EVENT_BATCH_END)
        return 0;
    if (l->n < 64)
        l->lr[l->n] = pneumo_optimizer_learning_rate(l->opt);
    l->n++;
    return l->cancel_after && l->n == l->cancel_after;
}

/* Cosine decay with linear warm-up, per step: 4 epochs of 12 batches, one
 * warm-up epoch from 0.1 x 3e-3, decaying to 0.05 x 3e-3. The table is
 * torch 1.13's SequentialLR([LinearLR(start_factor=0.1, total_iters=12),
 * CosineAnnealingLR(T_max=36, eta_min=1.5e-4)], milestones=[12]) over SGD(lr=3e-3),
 * stepped every batch; the formula gives it too. A run cancelled in epoch 3
 * with ReduceLROnPlateau on (which scales the schedule) resumes bit-identically. */
static void test_fit_lr_schedule(void **state)
{
    static const double torch_lr[48] = {
        3.0000000000e-04, 5.2500000000e-04, 7.5000000000e-04, 9.7500000000e-04, 1.2000000000e-03,
        1.4250000000e-03, 1.6500000000e-03, 1.8750000000e-03, 2.1000000000e-03, 2.3250000000e-03,
        2.5500000000e-03, 2.7750000000e-03, 3.0000000000e-03, 2.9945774448e-03, 2.9783510480e-03,
        2.9514443025e-03, 2.9140619846e-03, 2.8664885965e-03, 2.8090862004e-03, 2.7422916631e-03,
        2.6666133314e-03, 2.5826271632e-03, 2.4909723438e-03, 2.3923464218e-03, 2.2875000000e-03,
        2.1772310230e-03, 2.0623787042e-03, 1.9438171393e-03, 1.8224486532e-03, 1.6991969334e-03,
        1.5750000000e-03, 1.4508030666e-03, 1.3275513468e-03, 1.2061828607e-03, 1.0876212958e-03,
        9.7276897702e-04, 8.6250000000e-04, 7.5765357820e-04, 6.5902765620e-04, 5.6737283681e-04,
        4.8338666856e-04, 4.0770833689e-04, 3.4091379961e-04, 2.8351140347e-04, 2.3593801538e-04,
        1.9855569754e-04, 1.7164895196e-04, 1.5542255522e-04};
    pneumo_dataset *train = open_split("train", 1, 2), *val = open_split("val", 0, 2);
    pneumo_model *m = small_model(21);
    pneumo_optimizer *opt = adam(3e-3f);
    pneumo_history *h = NULL;
    pneumo_fit_options o;
    pneumo_epoch_record r;
    lr_log log;
    (void)state;
    memset(&log, 0, sizeof log);
    log.opt = opt;
    pneumo_fit_default_options(&o);
    assert_int_equal(o.lr_schedule, PNEUMO_LR_CONSTANT);
    assert_true(o.warmup_start_factor == 0.1f && o.final_lr_factor == 0.0f && o.warmup_epochs == 0);
    o.epochs = 4;
    o.lr_schedule = PNEUMO_LR_COSINE;
    o.warmup_epochs = 1;
    o.final_lr_factor = 0.05f;
    o.callback = log_lr;
    o.user = &log;
    assert_int_equal(pneumo_model_fit(m, opt, train, val, &o, &h), PNEUMO_OK);
    assert_int_equal(log.n, 48);
    for (int t = 0; t < 48; t++) {
        const double w = 12.0, peak = (double)3e-3f, eta = (double)0.05f * peak, f0 = (double)0.1f;
        const double f = t < 12 ? peak * (f0 + (1.0 - f0) * t / w)
                                : eta + (peak - eta) * (1.0 + cos(3.14159265358979323846 * (t - w) / 36.0)) /
                                            2.0;
        assert_true(fabs(log.lr[t] - torch_lr[t]) <= 1e-6 * torch_lr[t]);
        assert_true(log.lr[t] == (double)(float)f);
    }
    /* each epoch records the rate of its first step */
    for (int32_t e = 0; e < 4; e++) {
        assert_int_equal(pneumo_history_get(h, e, &r), PNEUMO_OK);
        assert_true(r.lr == log.lr[12 * e]);
    }
    pneumo_history_destroy(h);
    pneumo_optimizer_destroy(opt);
    pneumo_model_destroy(m);

    /* with ReduceLROnPlateau, cancelled in epoch 3 and resumed */
    {
        pneumo_model *full = small_model(13), *part = small_model(13), *resumed = NULL;
        pneumo_optimizer *o1 = adam(3e-3f), *o2 = adam(3e-3f), *o3 = NULL;
        pneumo_history *h1 = NULL, *h2 = NULL, *h3 = NULL;
        pneumo_reduce_lr_params rl;
        lr_log l1, l3;
        char ckpt[4200];
        snprintf(ckpt, sizeof ckpt, "%s/sched.safetensors", root);
        pneumo_reduce_lr_default_params(&rl);
        rl.enabled = 1;
        rl.patience = 1;
        rl.factor = 0.5;
        rl.min_delta = 10.0; /* never an improvement: a reduction after every epoch but the first */
        o.reduce_lr = &rl;
        memset(&l1, 0, sizeof l1);
        l1.opt = o1;
        o.user = &l1;
        assert_int_equal(pneumo_model_fit(full, o1, train, val, &o, &h1), PNEUMO_OK);
        assert_int_equal(l1.n, 48);
        /* the first epoch sets the best value, the second reduces: epoch 3 runs the schedule at
         * half the rate, epoch 4 at a quarter */
        for (int t = 0; t < 48; t++) {
            const double scale = t < 24 ? 1.0 : t < 36 ? 0.5 : 0.25;
            assert_true(fabs(l1.lr[t] - scale * torch_lr[t]) <= 1e-6 * torch_lr[t]);
        }
        o.checkpoint_path = ckpt;
        memset(&l3, 0, sizeof l3);
        l3.opt = o2;
        l3.cancel_after = 2 * 12 + 5;
        o.user = &l3;
        assert_int_equal(pneumo_model_fit(part, o2, train, val, &o, &h2), PNEUMO_ERR_CANCELLED);
        o.callback = NULL;
        assert_int_equal(pneumo_model_fit_resume(ckpt, train, val, &o, &resumed, &o3, &h3), PNEUMO_OK);
        assert_int_equal(pneumo_history_size(h3), 4);
        for (int32_t e = 0; e < 4; e++) {
            pneumo_epoch_record a, b;
            pneumo_history_get(h1, e, &a);
            pneumo_history_get(h3, e, &b);
            assert_true(a.loss == b.loss && a.val_loss == b.val_loss && a.lr == b.lr);
        }
        assert_true(pneumo_optimizer_learning_rate(o1) == pneumo_optimizer_learning_rate(o3));
        assert_same_weights(full, resumed);
        /* invalid schedules are refused */
        o.warmup_epochs = 4;
        assert_int_equal(pneumo_model_fit(full, o1, train, val, &o, NULL), PNEUMO_ERR_INVALID_ARG);
        o.warmup_epochs = 1;
        o.warmup_start_factor = 0.0f;
        assert_int_equal(pneumo_model_fit(full, o1, train, val, &o, NULL), PNEUMO_ERR_INVALID_ARG);
        o.warmup_start_factor = 0.1f;
        o.lr_schedule = 7;
        assert_int_equal(pneumo_model_fit(full, o1, train, val, &o, NULL), PNEUMO_ERR_INVALID_ARG);
        assert_non_null(strstr(pneumo_last_error(), "schedule"));
        pneumo_history_destroy(h1);
        pneumo_history_destroy(h2);
        pneumo_history_destroy(h3);
        pneumo_optimizer_destroy(o1);
        pneumo_optimizer_destroy(o2);
        pneumo_optimizer_destroy(o3);
        pneumo_model_destroy(full);
        pneumo_model_destroy(part);
        pneumo_model_destroy(resumed);
    }
    pneumo_dataset_destroy(train);
    pneumo_dataset_destroy(val);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_fit_learns_and_evaluates), cmocka_unit_test(test_fit_reproducible),
        cmocka_unit_test(test_fit_cancel_and_callbacks), cmocka_unit_test(test_fit_resume),
        cmocka_unit_test(test_fit_resume_mid_epoch),     cmocka_unit_test(test_fit_timing),
        cmocka_unit_test(test_fit_label_smoothing),      cmocka_unit_test(test_fit_lr_schedule),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
