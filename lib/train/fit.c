/* pneumo_model_fit: epochs over a dataset with Keras' callbacks. */
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/alloc.h"
#include "core/error.h"
#include "core/tensor.h"
#include "model/model.h"
#include "train/callbacks.h"
#include "train/fit_internal.h"
#include "train/progress.h"

void pneumo_early_stopping_default_params(pneumo_early_stopping_params *p)
{
    if (!p)
        return;
    memset(p, 0, sizeof *p);
    p->monitor = PNEUMO_MONITOR_VAL_LOSS;
    p->mode = PNEUMO_MODE_AUTO;
}

void pneumo_reduce_lr_default_params(pneumo_reduce_lr_params *p)
{
    if (!p)
        return;
    memset(p, 0, sizeof *p);
    p->monitor = PNEUMO_MONITOR_VAL_LOSS;
    p->mode = PNEUMO_MODE_AUTO;
    p->patience = 10;
    p->factor = 0.1;
    p->min_delta = 1e-4;
}

void pneumo_fit_default_options(pneumo_fit_options *o)
{
    if (!o)
        return;
    memset(o, 0, sizeof *o);
    o->epochs = 25;
    o->batch_size = 16;
    pneumo_early_stopping_default_params(&o->early_stopping);
    pneumo_reduce_lr_default_params(&o->reduce_lr);
}

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static int is_val(int32_t monitor)
{
    return monitor == PNEUMO_MONITOR_VAL_LOSS || monitor == PNEUMO_MONITOR_VAL_ACCURACY;
}

static pn_mode resolve_mode(int32_t monitor, int32_t mode)
{
    if (mode == PNEUMO_MODE_MIN)
        return PN_MODE_MIN;
    if (mode == PNEUMO_MODE_MAX)
        return PN_MODE_MAX;
    return monitor == PNEUMO_MONITOR_VAL_ACCURACY || monitor == PNEUMO_MONITOR_ACCURACY ? PN_MODE_MAX
                                                                                      : PN_MODE_MIN;
}

static double monitored(const pneumo_epoch_record *r, int32_t monitor)
{
    switch (monitor) {
    case PNEUMO_MONITOR_VAL_LOSS: return r->val_loss;
    case PNEUMO_MONITOR_VAL_ACCURACY: return r->val_accuracy;
    case PNEUMO_MONITOR_LOSS: return r->loss;
    default: return r->accuracy;
    }
}

static pneumo_status check_options(const pneumo_fit_options *o, const pneumo_dataset *val)
{
    const char *fn = "pneumo_model_fit";
    if (o->epochs < 1 || o->batch_size < 1 || o->initial_epoch < 0 || o->initial_epoch > o->epochs)
        return pn_error(PNEUMO_ERR_INVALID_ARG,
                        "%s: epochs %d, batch size %d and initial epoch %d must satisfy "
                        "epochs >= 1, batch >= 1, 0 <= initial <= epochs",
                        fn, o->epochs, o->batch_size, o->initial_epoch);
    if (o->class_weighting < PNEUMO_CLASS_WEIGHT_NONE || o->class_weighting > PNEUMO_CLASS_WEIGHT_CUSTOM)
        return pn_error(PNEUMO_ERR_INVALID_ARG, "%s: unknown class weighting %d", fn, o->class_weighting);
    if (o->class_weighting == PNEUMO_CLASS_WEIGHT_CUSTOM)
        for (int k = 0; k < 2; k++)
            if (!(o->class_weights[k] >= 0.0 && o->class_weights[k] < 1e30))
                return pn_error(PNEUMO_ERR_INVALID_ARG, "%s: class weight %d is %g", fn, k,
                                o->class_weights[k]);
    if (o->early_stopping.enabled) {
        const pneumo_early_stopping_params *e = &o->early_stopping;
        if (e->monitor < 0 || e->monitor > 3 || e->mode < 0 || e->mode > 2 || e->patience < 0 ||
            !(e->min_delta >= 0.0))
            return pn_error(PNEUMO_ERR_INVALID_ARG, "%s: invalid EarlyStopping settings", fn);
        if (is_val(e->monitor) && !val)
            return pn_error(PNEUMO_ERR_INVALID_ARG,
                            "%s: EarlyStopping monitors a validation metric but no validation dataset was given", fn);
    }
    if (o->reduce_lr.enabled) {
        const pneumo_reduce_lr_params *r = &o->reduce_lr;
        if (r->monitor < 0 || r->monitor > 3 || r->mode < 0 || r->mode > 2 || r->patience < 0 ||
            !(r->factor > 0.0 && r->factor < 1.0) || !(r->min_delta >= 0.0) || r->cooldown < 0 ||
            !(r->min_lr >= 0.0))
            return pn_error(PNEUMO_ERR_INVALID_ARG,
                            "%s: invalid ReduceLROnPlateau settings (factor must be in (0, 1))", fn);
        if (is_val(r->monitor) && !val)
            return pn_error(PNEUMO_ERR_INVALID_ARG,
                            "%s: ReduceLROnPlateau monitors a validation metric but no validation dataset was given", fn);
    }
    return PNEUMO_OK;
}

typedef struct fit_run {
    pneumo_model *m;
    pneumo_optimizer *opt;
    const pneumo_fit_options *o;
    pneumo_fit_event ev;
    int cancelled;
} fit_run;

static void emit(fit_run *run, int32_t kind)
{
    run->ev.kind = kind;
    if (run->o->callback && run->o->callback(&run->ev, run->o->user))
        run->cancelled = 1;
}

/* One pass over the training set; fills loss/accuracy of *rec. */
static pneumo_status train_epoch(fit_run *run, pneumo_dataset *train, const double cw[2],
                                 int use_weights, pneumo_tensor *weights, pneumo_epoch_record *rec,
                                 double t0)
{
    const pneumo_fit_options *o = run->o;
    double loss_sum = 0.0, acc_sum = 0.0;
    int64_t seen = 0, batch = 0;
    pneumo_status st = pneumo_dataset_begin_epoch(train, rec->epoch, o->batch_size);
    if (st != PNEUMO_OK)
        return st;
    for (;;) {
        pneumo_tensor *x = NULL, *y = NULL;
        pneumo_tensor w;
        pneumo_step_result r;
        if ((st = pneumo_dataset_next_batch(train, &x, &y, NULL)) != PNEUMO_OK)
            return st;
        if (!x)
            break;
        if (use_weights) {
            pn_tensor_view(&w, 1, y->shape, weights->data);
            for (int64_t i = 0; i < y->numel; i++)
                w.data[i] = (float)cw[y->data[i] > 0.5f];
        }
        if ((st = pneumo_model_train_step(run->m, run->opt, x, y, use_weights ? &w : NULL, &r)) != PNEUMO_OK)
            return st;
        /* Keras' epoch metrics: means over samples (the loss with its weights) */
        loss_sum += r.loss * (double)r.batch_size;
        acc_sum += r.accuracy * (double)r.batch_size;
        seen += r.batch_size;
        batch++;
        run->ev.batch = batch;
        run->ev.loss = loss_sum / (double)seen;
        run->ev.accuracy = acc_sum / (double)seen;
        run->ev.seconds = now() - t0;
        if (o->progress && o->progress_bar)
            pn_progress_batch(o->progress, batch, run->ev.batches, run->ev.seconds, run->ev.loss,
                              run->ev.accuracy);
        emit(run, PNEUMO_EVENT_BATCH_END);
        if (run->cancelled)
            return pn_error(PNEUMO_ERR_CANCELLED, "pneumo_model_fit: cancelled by the callback in epoch %d, batch %lld",
                            rec->epoch + 1, (long long)batch);
    }
    rec->loss = seen ? loss_sum / (double)seen : NAN;
    rec->accuracy = seen ? acc_sum / (double)seen : NAN;
    return PNEUMO_OK;
}

pneumo_status pneumo_model_fit(pneumo_model *m, pneumo_optimizer *opt, pneumo_dataset *train,
                               pneumo_dataset *val, const pneumo_fit_options *o,
                               pneumo_history **history)
{
    const char *fn = "pneumo_model_fit";
    pneumo_fit_options defaults;
    pn_early_stopping es;
    pn_reduce_lr rl;
    fit_run run;
    pneumo_history *h = NULL;
    pneumo_tensor *weights = NULL;
    float *best_params = NULL;
    double cw[2] = {1.0, 1.0}, best_ckpt;
    int use_weights, have_best_params = 0;
    int32_t ckpt_monitor;
    pn_mode ckpt_mode;
    pneumo_status st;

    if (history)
        *history = NULL;
    if (!m || !opt || !train)
        return pn_error(PNEUMO_ERR_INVALID_ARG, "%s: %s is NULL", fn, !m ? "model" : !opt ? "optimizer" : "training dataset");
    if (!o) {
        pneumo_fit_default_options(&defaults);
        o = &defaults;
    }
    if ((st = check_options(o, val)) != PNEUMO_OK)
        return st;
    if ((st = pn_history_new(&h)) != PNEUMO_OK)
        return st;
    if (history)
        *history = h;

    use_weights = o->class_weighting != PNEUMO_CLASS_WEIGHT_NONE;
    if (o->class_weighting == PNEUMO_CLASS_WEIGHT_BALANCED) {
        if (pneumo_dataset_num_classes(train) != 2) {
            st = pn_error(PNEUMO_ERR_INVALID_ARG, "%s: balanced class weights need 2 classes, the training set has %d",
                          fn, pneumo_dataset_num_classes(train));
            goto done;
        }
        if ((st = pneumo_dataset_class_weights(train, cw, 2)) != PNEUMO_OK)
            goto done;
    } else if (o->class_weighting == PNEUMO_CLASS_WEIGHT_CUSTOM) {
        cw[0] = o->class_weights[0];
        cw[1] = o->class_weights[1];
    }
    if (use_weights) {
        int64_t shape[1] = {o->batch_size};
        if ((st = pneumo_tensor_create(1, shape, &weights)) != PNEUMO_OK)
            goto done;
    }

    es = (pn_early_stopping){resolve_mode(o->early_stopping.monitor, o->early_stopping.mode),
                             o->early_stopping.min_delta, o->early_stopping.patience, 0, 0, 0, 0};
    rl = (pn_reduce_lr){resolve_mode(o->reduce_lr.monitor, o->reduce_lr.mode), o->reduce_lr.factor,
                        o->reduce_lr.min_delta, o->reduce_lr.patience, o->reduce_lr.cooldown,
                        o->reduce_lr.min_lr, 0, 0, 0};
    pn_early_stopping_reset(&es);
    pn_reduce_lr_reset(&rl);
    ckpt_monitor = o->early_stopping.enabled ? o->early_stopping.monitor
                   : val ? PNEUMO_MONITOR_VAL_LOSS : PNEUMO_MONITOR_LOSS;
    ckpt_mode = o->early_stopping.enabled ? es.mode : PN_MODE_MIN;
    best_ckpt = ckpt_mode == PN_MODE_MIN ? INFINITY : -INFINITY;
    if (o->early_stopping.enabled && o->early_stopping.restore_best_weights) {
        best_params = pn_aligned_alloc((size_t)m->arena_size * sizeof(float));
        if (!best_params) {
            st = pn_error_nomem("restore_best_weights copy", (size_t)m->arena_size * sizeof(float));
            goto done;
        }
    }

    memset(&run, 0, sizeof run);
    run.m = m;
    run.opt = opt;
    run.o = o;
    run.ev.epochs = o->epochs;
    run.ev.batches = pneumo_dataset_num_batches(train, o->batch_size);
    for (int32_t epoch = o->initial_epoch; epoch < o->epochs; epoch++) {
        pneumo_epoch_record rec;
        double t0 = now(), lr = pneumo_optimizer_learning_rate(opt), value;
        int improved = 0, stop = 0;
        memset(&rec, 0, sizeof rec);
        rec.epoch = epoch;
        rec.lr = lr;
        rec.val_loss = rec.val_accuracy = NAN;
        run.ev.epoch = epoch;
        run.ev.batch = 0;
        run.ev.lr = lr;
        run.ev.val_loss = run.ev.val_accuracy = NAN;
        if (o->progress)
            pn_progress_epoch_begin(o->progress, epoch, o->epochs);
        emit(&run, PNEUMO_EVENT_EPOCH_BEGIN);
        if (run.cancelled) {
            st = pn_error(PNEUMO_ERR_CANCELLED, "%s: cancelled by the callback before epoch %d", fn, epoch + 1);
            goto done;
        }
        if ((st = train_epoch(&run, train, cw, use_weights, weights, &rec, t0)) != PNEUMO_OK)
            goto done;
        if (val && (st = pn_evaluate_dataset(m, val, o->batch_size, &rec.val_loss, &rec.val_accuracy,
                                             NULL, NULL)) != PNEUMO_OK) {
            pn_error_prefix("validation after epoch %d", epoch + 1);
            goto done;
        }
        rec.seconds = now() - t0;
        if ((st = pn_history_append(h, &rec)) != PNEUMO_OK)
            goto done;
        if (o->progress)
            pn_progress_epoch_end(o->progress, &rec, run.ev.batches, val != NULL, o->progress_bar);
        run.ev.loss = rec.loss;
        run.ev.accuracy = rec.accuracy;
        run.ev.val_loss = rec.val_loss;
        run.ev.val_accuracy = rec.val_accuracy;
        run.ev.seconds = rec.seconds;
        emit(&run, PNEUMO_EVENT_EPOCH_END);

        /* callbacks in the article's order: EarlyStopping, then ReduceLROnPlateau */
        if (o->early_stopping.enabled) {
            stop = pn_early_stopping_update(&es, epoch, monitored(&rec, o->early_stopping.monitor), &improved);
            if (improved && best_params) {
                memcpy(best_params, m->params, (size_t)m->arena_size * sizeof(float));
                have_best_params = 1;
            }
        }
        if (o->reduce_lr.enabled) {
            double new_lr = pn_reduce_lr_update(&rl, monitored(&rec, o->reduce_lr.monitor), lr);
            if (new_lr != lr) {
                pneumo_optimizer_set_learning_rate(opt, (float)new_lr);
                run.ev.old_lr = lr;
                run.ev.lr = new_lr;
                if (o->progress)
                    pn_progress_lr(o->progress, epoch, new_lr);
                emit(&run, PNEUMO_EVENT_LR_CHANGED);
            }
        }
        value = monitored(&rec, ckpt_monitor);
        if (o->best_model_path && (ckpt_mode == PN_MODE_MIN ? value < best_ckpt : value > best_ckpt)) {
            best_ckpt = value;
            if ((st = pneumo_model_save(m, opt, o->best_model_path)) != PNEUMO_OK)
                goto done;
        }
        if (stop) {
            h->stopped_early = 1;
            if (have_best_params)
                memcpy(m->params, best_params, (size_t)m->arena_size * sizeof(float));
            if (o->progress)
                pn_progress_early_stop(o->progress, epoch);
            emit(&run, PNEUMO_EVENT_EARLY_STOP);
            break;
        }
        if (run.cancelled) {
            st = pn_error(PNEUMO_ERR_CANCELLED, "%s: cancelled by the callback after epoch %d", fn, epoch + 1);
            goto done;
        }
    }
    st = PNEUMO_OK;
done:
    pn_aligned_free(best_params);
    pneumo_tensor_destroy(weights);
    if (!history)
        pneumo_history_destroy(h);
    return st;
}
