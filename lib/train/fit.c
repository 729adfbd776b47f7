/* pneumo_model_fit: epochs over a dataset with Keras' callbacks. */
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/alloc.h"
#include "core/error.h"
#include "core/tensor.h"
#include "data/dataset_internal.h"
#include "format/json.h"
#include "kernels/kernels.h"
#include "model/model.h"
#include "train/callbacks.h"
#include "train/fit_internal.h"
#include "train/parallel.h"
#include "train/progress.h"

void pneumo_early_stopping_default_params(pneumo_early_stopping_params *p)
{
    if (!p)
        return;
    memset(p, 0, sizeof *p);
    p->size = sizeof *p;
    p->monitor = PNEUMO_MONITOR_VAL_LOSS;
    p->mode = PNEUMO_MODE_AUTO;
}

void pneumo_reduce_lr_default_params(pneumo_reduce_lr_params *p)
{
    if (!p)
        return;
    memset(p, 0, sizeof *p);
    p->size = sizeof *p;
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
    o->size = sizeof *o;
    o->epochs = 25;
    o->batch_size = 16;
    o->warmup_start_factor = 0.1f;
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

/* The options with the nested callback settings copied (NULL ones replaced by
 * the defaults); o.early_stopping and o.reduce_lr point at the copies. */
typedef struct fit_settings {
    pneumo_fit_options o;
    pneumo_early_stopping_params es;
    pneumo_reduce_lr_params rl;
} fit_settings;

static pneumo_status check_options(const pneumo_fit_options *in, const pneumo_dataset *val, const char *fn,
                                   fit_settings *s)
{
    const pneumo_fit_options *o = &s->o;
    pneumo_status st;
    if (in) {
        if ((st = PN_CHECK_STRUCT(fn, pneumo_fit_options, in)) != PNEUMO_OK)
            return st;
        s->o = *in;
    } else {
        pneumo_fit_default_options(&s->o);
    }
    if (s->o.early_stopping) {
        if ((st = PN_CHECK_STRUCT(fn, pneumo_early_stopping_params, s->o.early_stopping)) != PNEUMO_OK)
            return st;
        s->es = *s->o.early_stopping;
    } else {
        pneumo_early_stopping_default_params(&s->es);
    }
    if (s->o.reduce_lr) {
        if ((st = PN_CHECK_STRUCT(fn, pneumo_reduce_lr_params, s->o.reduce_lr)) != PNEUMO_OK)
            return st;
        s->rl = *s->o.reduce_lr;
    } else {
        pneumo_reduce_lr_default_params(&s->rl);
    }
    s->o.early_stopping = &s->es;
    s->o.reduce_lr = &s->rl;
    if (o->parallel && o->batch_size >= 1 && (st = pn_dp_check(o->parallel, o->batch_size, fn)) != PNEUMO_OK)
        return st;
    if (o->epochs < 1 || o->batch_size < 1 || o->initial_epoch < 0 || o->initial_epoch > o->epochs)
        return pn_error(PNEUMO_ERR_INVALID_ARG,
                        "%s: epochs %d, batch size %d and initial epoch %d must satisfy "
                        "epochs >= 1, batch >= 1, 0 <= initial <= epochs",
                        fn, o->epochs, o->batch_size, o->initial_epoch);
    if (!(o->label_smoothing >= 0.0f && o->label_smoothing <= 1.0f))
        return pn_error(PNEUMO_ERR_INVALID_ARG, "%s: label_smoothing %g outside [0, 1]", fn,
                        (double)o->label_smoothing);
    if (o->lr_schedule != PNEUMO_LR_CONSTANT &&
        (o->lr_schedule != PNEUMO_LR_COSINE || o->warmup_epochs < 0 || o->warmup_epochs >= o->epochs ||
         !(o->warmup_start_factor > 0.0f && o->warmup_start_factor <= 1.0f) ||
         !(o->final_lr_factor >= 0.0f && o->final_lr_factor < 1.0f)))
        return pn_error(PNEUMO_ERR_INVALID_ARG,
                        "%s: learning-rate schedule %d with warmup_epochs %d (0..epochs-1), "
                        "warmup_start_factor %g (in (0, 1]) and final_lr_factor %g (in [0, 1)) is invalid",
                        fn, o->lr_schedule, o->warmup_epochs, (double)o->warmup_start_factor,
                        (double)o->final_lr_factor);
    if (o->threads < 0 || o->threads > 64)
        return pn_error(PNEUMO_ERR_INVALID_ARG, "%s: threads %d outside 0..64", fn, o->threads);
    if (o->progress_timing != 0 && o->progress_timing != 1)
        return pn_error(PNEUMO_ERR_INVALID_ARG, "%s: progress_timing %d is neither 0 nor 1", fn,
                        o->progress_timing);
    if (o->class_weighting < PNEUMO_CLASS_WEIGHT_NONE || o->class_weighting > PNEUMO_CLASS_WEIGHT_CUSTOM)
        return pn_error(PNEUMO_ERR_INVALID_ARG, "%s: unknown class weighting %d", fn, o->class_weighting);
    if (o->class_weighting == PNEUMO_CLASS_WEIGHT_CUSTOM)
        for (int k = 0; k < 2; k++)
            if (!(o->class_weights[k] >= 0.0 && o->class_weights[k] < 1e30))
                return pn_error(PNEUMO_ERR_INVALID_ARG, "%s: class weight %d is %g", fn, k,
                                o->class_weights[k]);
    if (o->early_stopping->enabled) {
        const pneumo_early_stopping_params *e = o->early_stopping;
        if (e->monitor < 0 || e->monitor > 3 || e->mode < 0 || e->mode > 2 || e->patience < 0 ||
            !(e->min_delta >= 0.0))
            return pn_error(PNEUMO_ERR_INVALID_ARG, "%s: invalid EarlyStopping settings", fn);
        if (is_val(e->monitor) && !val)
            return pn_error(
                PNEUMO_ERR_INVALID_ARG,
                "%s: EarlyStopping monitors a validation metric but no validation dataset was given", fn);
    }
    if (o->reduce_lr->enabled) {
        const pneumo_reduce_lr_params *r = o->reduce_lr;
        if (r->monitor < 0 || r->monitor > 3 || r->mode < 0 || r->mode > 2 || r->patience < 0 ||
            !(r->factor > 0.0 && r->factor < 1.0) || !(r->min_delta >= 0.0) || r->cooldown < 0 ||
            !(r->min_lr >= 0.0))
            return pn_error(PNEUMO_ERR_INVALID_ARG,
                            "%s: invalid ReduceLROnPlateau settings (factor must be in (0, 1))", fn);
        if (is_val(r->monitor) && !val)
            return pn_error(
                PNEUMO_ERR_INVALID_ARG,
                "%s: ReduceLROnPlateau monitors a validation metric but no validation dataset was given", fn);
    }
    return PNEUMO_OK;
}

/* Doubles that travel with a part's gradient: loss sum, correct predictions,
 * samples, failed, cancelled, then the model's state_size doubles of batch
 * statistics (pn_model_part_gradients; none without BatchNormalization). */
enum { PART_LOSS, PART_CORRECT, PART_COUNT, PART_FAILED, PART_CANCELLED, PART_DOUBLES };

/* Buffers of a data-parallel epoch. */
typedef struct dp_bufs {
    float *acc, *tmp; /* gather, rank 0: the sum in part order and a received part;
                          sliced: tmp a received slice */
    float *own;       /* sliced: this rank's slice of each of its parts */
    double *own_d;    /* sliced: the doubles of each of its parts */
    double *part;     /* the doubles of a part sent or received (dp_part_doubles) */
    double *bc;       /* the broadcast: loss, correct, count, ranks + 1 flags (DP_BC_HEAD),
                         then every part's batch statistics (state_size each) */
} dp_bufs;

/* The doubles of a part's message. */
static int64_t dp_part_doubles(const pneumo_model *m) { return PART_DOUBLES + m->state_size; }

/* The doubles of b->bc before the parts' batch statistics. */
#define DP_BC_HEAD(dp) (3 + (int64_t)(dp)->ranks + 1)

/* The doubles of b->bc. */
static int64_t dp_bc_doubles(const pneumo_data_parallel *dp, const pneumo_model *m)
{
    return DP_BC_HEAD(dp) + (int64_t)dp->parts * m->state_size;
}

typedef struct fit_run {
    pneumo_model *m;
    pneumo_optimizer *opt;
    const pneumo_fit_options *o;
    pneumo_fit_event ev;
    int cancelled;
    pn_progress progress;      /* o->progress and o->progress_user */
    pneumo_status progress_st; /* the first failed progress write; none are made after it */
    dp_bufs dp;                /* with o->parallel */
    pneumo_epoch_timing tm;    /* the current epoch's phases so far */
} fit_run;

/* Whether progress lines are still written. */
static int progress_on(const fit_run *run) { return run->o->progress && run->progress_st == PNEUMO_OK; }

static void emit(fit_run *run, int32_t kind)
{
    run->ev.kind = kind;
    if (run->o->callback && run->o->callback(&run->ev, run->o->user))
        run->cancelled = 1;
}

/* Where a run stands: what a checkpoint stores to resume. Between epochs
 * step is 0; a run cancelled inside epoch next_epoch saves the steps done
 * in it and the sums of its epoch metrics so far, and resumes after them
 * (the epoch's order and augmentation follow from (seed, epoch), the
 * dropout stream is the model's). */
typedef struct fit_state {
    int32_t next_epoch;
    int32_t stopped;
    pn_early_stopping es;
    pn_reduce_lr rl;
    double ckpt_best;
    int64_t step;             /* training steps done in epoch next_epoch */
    double loss_sum, acc_sum; /* of those steps, weighted by their batch sizes */
    int64_t seen;             /* samples of those steps */
    double sched_peak;        /* the schedule's peak rate (the optimizer's at the start); NaN: none */
    double sched_scale;       /* ReduceLROnPlateau's reductions of the schedule (1: none) */
} fit_state;

/* The rate of global step t (see pneumo_fit_options.lr_schedule), scaled and
 * floored; batches: per epoch. */
static double scheduled_lr(const pneumo_fit_options *o, const fit_state *s, int64_t batches, int64_t t)
{
    const double peak = s->sched_peak, total = (double)o->epochs * (double)batches,
                 warm = (double)o->warmup_epochs * (double)batches, eta = (double)o->final_lr_factor * peak;
    const double f0 = (double)o->warmup_start_factor;
    double lr = (double)t < warm
                    ? peak * (f0 + (1.0 - f0) * (double)t / warm)
                    : eta + (peak - eta) *
                                (1.0 + cos(3.14159265358979323846 * ((double)t - warm) / (total - warm))) /
                                2.0;
    lr *= s->sched_scale;
    if (o->reduce_lr->enabled && lr < (double)(float)o->reduce_lr->min_lr)
        lr = (double)(float)o->reduce_lr->min_lr;
    return lr;
}

/* Before the step at batch `batch` of `epoch`: the schedule's rate into the optimizer. */
static void schedule_step(fit_run *run, const fit_state *s, int32_t epoch, int64_t batch)
{
    if (run->o->lr_schedule == PNEUMO_LR_CONSTANT)
        return;
    pneumo_optimizer_set_learning_rate(run->opt,
                                       (float)scheduled_lr(run->o, s, run->ev.batches,
                                                           (int64_t)epoch * run->ev.batches + batch));
}

/* One pass over the training set; fills loss/accuracy of *rec. */
static pneumo_status train_epoch(fit_run *run, pneumo_dataset *train, const double cw[2], int use_weights,
                                 pneumo_tensor *weights, pneumo_epoch_record *rec, double t0,
                                 fit_state *state)
{
    const pneumo_fit_options *o = run->o;
    double loss_sum = 0.0, acc_sum = 0.0;
    int64_t seen = 0, batch = 0;
    pneumo_status st = pneumo_dataset_begin_epoch(train, rec->epoch, o->batch_size);
    if (st != PNEUMO_OK)
        return st;
    /* resumed inside this epoch: its first steps are done, pass over their batches */
    for (; batch < state->step; batch++) {
        pneumo_tensor *x = NULL, *y = NULL;
        if ((st = pneumo_dataset_next_batch(train, &x, &y, NULL)) != PNEUMO_OK)
            return pn_error_prefix("pneumo_model_fit: resuming epoch %d at step %lld", rec->epoch + 1,
                                   (long long)state->step + 1);
        if (!x)
            return pn_error(
                PNEUMO_ERR_STATE,
                "pneumo_model_fit: the checkpoint resumes epoch %d at step %lld, but the epoch has "
                "%lld steps (another training set or batch size?)",
                rec->epoch + 1, (long long)state->step + 1, (long long)batch);
    }
    if (state->step > 0) {
        loss_sum = state->loss_sum;
        acc_sum = state->acc_sum;
        seen = state->seen;
        state->step = 0;
    }
    for (;;) {
        pneumo_tensor *x = NULL, *y = NULL;
        pneumo_tensor w;
        pneumo_step_result r;
        double ts;
        if ((st = pneumo_dataset_next_batch(train, &x, &y, NULL)) != PNEUMO_OK)
            return st;
        if (!x)
            break;
        ts = now();
        if (use_weights) {
            pn_tensor_view(&w, 1, y->shape, weights->data);
            for (int64_t i = 0; i < y->numel; i++)
                w.data[i] = (float)cw[y->data[i] > 0.5f];
        }
        schedule_step(run, state, rec->epoch, batch);
        st = pneumo_model_train_step(run->m, run->opt, x, y, use_weights ? &w : NULL, &r);
        run->tm.train_seconds += now() - ts;
        if (st != PNEUMO_OK)
            return st;
        /* Keras' epoch metrics: means over samples (the loss with its weights) */
        loss_sum += r.loss * (double)r.batch_size;
        acc_sum += r.accuracy * (double)r.batch_size;
        seen += r.batch_size;
        batch++;
        run->ev.batch = batch;
        run->ev.loss = loss_sum / (double)seen;
        run->ev.accuracy = acc_sum / (double)seen;
        ts = now();
        run->ev.seconds = ts - t0;
        if (progress_on(run) && o->progress_bar &&
            (run->progress_st = pn_progress_batch(&run->progress, batch, run->ev.batches, run->ev.seconds,
                                                  run->ev.loss, run->ev.accuracy)) != PNEUMO_OK)
            return run->progress_st;
        emit(run, PNEUMO_EVENT_BATCH_END);
        run->tm.callback_seconds += now() - ts;
        if (run->cancelled) {
            /* where the epoch stands, for the checkpoint fit_core saves */
            state->step = batch;
            state->loss_sum = loss_sum;
            state->acc_sum = acc_sum;
            state->seen = seen;
            return pn_error(PNEUMO_ERR_CANCELLED,
                            "pneumo_model_fit: cancelled by the callback in epoch %d, batch %lld",
                            rec->epoch + 1, (long long)batch);
        }
    }
    rec->loss = seen ? loss_sum / (double)seen : NAN;
    rec->accuracy = seen ? acc_sum / (double)seen : NAN;
    return PNEUMO_OK;
}

/* Add part k (n floats of its gradient in `g`, its doubles in `d`) to the
 * sum `acc` in part order, and its doubles to the loss, counts and flags;
 * keep its batch statistics in part k's place of the broadcast. */
static void dp_add(const pneumo_data_parallel *dp, const pneumo_model *m, dp_bufs *b, int32_t k,
                   int32_t owner, float *acc, const float *g, int64_t n, const double *d)
{
    if (k == 0)
        memcpy(acc, g, (size_t)n * sizeof(float));
    else
        pn_model_kernels(m)->accumulate((size_t)n, acc, g);
    b->bc[0] += d[PART_LOSS];
    b->bc[1] += d[PART_CORRECT];
    b->bc[2] += d[PART_COUNT];
    if (d[PART_FAILED] != 0.0)
        b->bc[3 + owner] = 1.0;
    if (d[PART_CANCELLED] != 0.0)
        b->bc[3 + dp->ranks] = 1.0;
    if (m->state_size)
        memcpy(b->bc + DP_BC_HEAD(dp) + (size_t)k * (size_t)m->state_size, d + PART_DOUBLES,
               (size_t)m->state_size * sizeof(double));
}

/* The rank that computes part k. */
static int32_t dp_owner(const pneumo_data_parallel *dp, int32_t k)
{
    int32_t owner = 0;
    while ((int64_t)dp->parts * (owner + 1) / dp->ranks <= k)
        owner++;
    return owner;
}

/* Part k, just computed on this rank (gradient in m->grads, doubles in
 * b->part), into the exchange: rank 0 of the gather adds it, another rank
 * sends it to rank 0; in the sliced exchange this rank keeps its own slice
 * and sends every other rank its slice. */
static pneumo_status dp_part_done(const pneumo_data_parallel *dp, pneumo_model *m, dp_bufs *b, int32_t k,
                                  int32_t first, const char *fn)
{
    const int64_t n = m->arena_size, nd = dp_part_doubles(m);
    pneumo_status st;
    if (dp->exchange == PNEUMO_EXCHANGE_GATHER) {
        if (dp->rank == 0) {
            dp_add(dp, m, b, k, 0, b->acc, m->grads, n, b->part);
            return PNEUMO_OK;
        }
        return pn_dp_call(dp, PNEUMO_COLLECTIVE_SEND, 0, k, m->grads, n, b->part, nd, fn);
    }
    for (int32_t j = 0; j < dp->ranks; j++) {
        const int64_t s0 = pn_dp_slice_start(n, dp->ranks, j), s1 = pn_dp_slice_start(n, dp->ranks, j + 1);
        if (j == dp->rank) {
            const int64_t smax = pn_dp_slice_start(n, dp->ranks, 1) + 16; /* see the buffers */
            memcpy(b->own + (size_t)((k - first) * smax), m->grads + s0, (size_t)(s1 - s0) * sizeof(float));
            memcpy(b->own_d + (size_t)((k - first) * nd), b->part, (size_t)nd * sizeof(double));
        } else if ((st = pn_dp_call(dp, PNEUMO_COLLECTIVE_SEND, j, k, m->grads + s0, s1 - s0, b->part, nd,
                                    fn)) != PNEUMO_OK)
            return st;
    }
    return PNEUMO_OK;
}

/* The rest of the exchange once this rank's parts are done: the sums of all
 * parts in part order into m->grads and b->bc, and every part's batch
 * statistics into b->bc, on every rank. */
static pneumo_status dp_finish(const pneumo_data_parallel *dp, pneumo_model *m, dp_bufs *b, int32_t first,
                               int32_t end, const char *fn)
{
    const int64_t n = m->arena_size, nbc = dp_bc_doubles(dp, m), nd = dp_part_doubles(m);
    pneumo_status st;
    if (dp->exchange == PNEUMO_EXCHANGE_GATHER) {
        if (dp->rank == 0) {
            for (int32_t k = end; k < dp->parts; k++) {
                const int32_t owner = dp_owner(dp, k);
                if ((st = pn_dp_call(dp, PNEUMO_COLLECTIVE_RECV, owner, k, b->tmp, n, b->part, nd, fn)) !=
                    PNEUMO_OK)
                    return st;
                dp_add(dp, m, b, k, owner, b->acc, b->tmp, n, b->part);
            }
            memcpy(m->grads, b->acc, (size_t)n * sizeof(float));
        }
        return pn_dp_call(dp, PNEUMO_COLLECTIVE_BCAST, 0, 0, m->grads, n, b->bc, nbc, fn);
    }
    {
        const int64_t s0 = pn_dp_slice_start(n, dp->ranks, dp->rank);
        const int64_t len = pn_dp_slice_start(n, dp->ranks, dp->rank + 1) - s0;
        const int64_t smax = pn_dp_slice_start(n, dp->ranks, 1) + 16;
        for (int32_t k = 0; k < dp->parts; k++) {
            const int32_t owner = dp_owner(dp, k);
            if (owner == dp->rank) {
                dp_add(dp, m, b, k, owner, m->grads + s0, b->own + (size_t)((k - first) * smax), len,
                       b->own_d + (size_t)((k - first) * nd));
            } else {
                if ((st = pn_dp_call(dp, PNEUMO_COLLECTIVE_RECV, owner, k, b->tmp, len, b->part, nd, fn)) !=
                    PNEUMO_OK)
                    return st;
                dp_add(dp, m, b, k, owner, m->grads + s0, b->tmp, len, b->part);
            }
        }
        return pn_dp_call(dp, PNEUMO_COLLECTIVE_ALLGATHER, 0, 0, m->grads, n, NULL, 0, fn);
    }
}

/* The global batch (bn images; x, y this rank's share or NULL) on this rank:
 * its parts' gradients, the exchange (parts added in part order, see
 * pneumo_exchange) and the update, with the moving statistics moved by
 * every part's batch statistics in part order, as one process computing the
 * parts one after the other moves them. *loss and *correct receive the global
 * batch's sums. `local` is this rank's status so far: a failed rank still
 * takes part, so that every rank learns of the failure and none waits. */
static pneumo_status dp_step(fit_run *run, pneumo_tensor *x, pneumo_tensor *y, int64_t bn, const double cw[2],
                             int use_weights, pneumo_tensor *weights, dp_bufs *b, pneumo_status local,
                             double *loss, double *correct)
{
    const pneumo_data_parallel *dp = run->o->parallel;
    const char *fn = "pneumo_model_fit";
    pneumo_model *m = run->m;
    const int64_t px = x ? x->shape[1] * x->shape[2] * x->shape[3] : 0;
    const int64_t nbc = dp_bc_doubles(dp, m);
    int32_t first, end;
    int64_t lo;
    pneumo_status st;
    pn_dp_rank_parts(dp, &first, &end);
    lo = pn_part_start(bn, dp->parts, first);
    memset(b->bc, 0, (size_t)nbc * sizeof *b->bc);
    for (int32_t k = first; k < end; k++) {
        const int64_t k0 = pn_part_start(bn, dp->parts, k) - lo,
                      k1 = pn_part_start(bn, dp->parts, k + 1) - lo;
        memset(b->part, 0, (size_t)dp_part_doubles(m) * sizeof *b->part);
        b->part[PART_COUNT] = (double)(k1 - k0);
        b->part[PART_CANCELLED] = run->cancelled;
        if (local == PNEUMO_OK) {
            pneumo_tensor xv, yv, wv;
            int64_t c = 0;
            memset(&yv, 0, sizeof yv);
            if (k1 > k0) {
                int64_t shape[4] = {k1 - k0, x->shape[1], x->shape[2], x->shape[3]};
                pn_tensor_view(&xv, 4, shape, x->data + (size_t)(k0 * px));
                pn_tensor_view(&yv, 1, shape, y->data + (size_t)k0);
                if (use_weights) {
                    pn_tensor_view(&wv, 1, shape, weights->data);
                    for (int64_t i = 0; i < k1 - k0; i++)
                        wv.data[i] = (float)cw[yv.data[i] > 0.5f];
                }
            }
            local = pn_model_part_gradients(m, k1 > k0 ? &xv : NULL, &yv, k1 > k0 && use_weights ? &wv : NULL,
                                            k0 + lo, bn, b->part + PART_DOUBLES, &b->part[PART_LOSS], &c);
            b->part[PART_CORRECT] = (double)c;
        }
        b->part[PART_FAILED] = local != PNEUMO_OK;
        if ((st = dp_part_done(dp, m, b, k, first, fn)) != PNEUMO_OK)
            return st;
    }
    if ((st = dp_finish(dp, m, b, first, end, fn)) != PNEUMO_OK)
        return st;
    if ((st = pn_dp_decide(dp, b->bc + 3, local, fn)) != PNEUMO_OK)
        return st;
    *loss = b->bc[0];
    *correct = b->bc[1];
    /* an empty part (a last batch smaller than parts) ran no forward */
    for (int32_t k = 0; m->state_size && k < dp->parts; k++)
        if (pn_part_start(bn, dp->parts, k + 1) > pn_part_start(bn, dp->parts, k))
            pn_model_move_stats(m, b->bc + DP_BC_HEAD(dp) + (size_t)k * (size_t)m->state_size);
    return pn_model_update(m, run->opt, fn);
}

/* train_epoch for one rank of a data-parallel run (pneumo_data_parallel). */
static pneumo_status train_epoch_parallel(fit_run *run, pneumo_dataset *train, const double cw[2],
                                          int use_weights, pneumo_tensor *weights, pneumo_epoch_record *rec,
                                          double t0, const fit_state *state)
{
    const pneumo_fit_options *o = run->o;
    const pneumo_data_parallel *dp = o->parallel;
    const int64_t n = pneumo_dataset_size(train), nb = pneumo_dataset_num_batches(train, o->batch_size);
    double loss_sum = 0.0, acc_sum = 0.0;
    int64_t seen = 0;
    int32_t first, end;
    pneumo_status local, st;
    pn_dp_rank_parts(dp, &first, &end);
    local = pneumo_dataset_begin_epoch_shard(train, rec->epoch, o->batch_size, dp->parts, first, end);
    for (int64_t bi = 0; bi < nb; bi++) {
        const int64_t bn = n - bi * o->batch_size < o->batch_size ? n - bi * o->batch_size : o->batch_size;
        pneumo_tensor *x = NULL, *y = NULL;
        double loss = 0.0, correct = 0.0, ts;
        if (local == PNEUMO_OK && pn_part_start(bn, dp->parts, end) > pn_part_start(bn, dp->parts, first)) {
            local = pneumo_dataset_next_batch(train, &x, &y, NULL);
            if (local == PNEUMO_OK && !x)
                local = pn_error(PNEUMO_ERR_STATE, "pneumo_model_fit: the shard ended before batch %lld",
                                 (long long)bi + 1);
            if (local != PNEUMO_OK)
                x = y = NULL;
        }
        schedule_step(run, state, rec->epoch, bi);
        ts = now();
        st = dp_step(run, x, y, bn, cw, use_weights, weights, &run->dp, local, &loss, &correct);
        run->tm.train_seconds += now() - ts;
        if (st != PNEUMO_OK)
            return st;
        /* Keras' epoch metrics, as train_epoch forms them from the batch means */
        loss_sum += loss / (double)bn * (double)bn;
        acc_sum += correct / (double)bn * (double)bn;
        seen += bn;
        run->ev.batch = bi + 1;
        run->ev.loss = loss_sum / (double)seen;
        run->ev.accuracy = acc_sum / (double)seen;
        ts = now();
        run->ev.seconds = ts - t0;
        /* a failed write stops the run at the epoch's end, when every rank agrees */
        if (progress_on(run) && o->progress_bar)
            run->progress_st = pn_progress_batch(&run->progress, bi + 1, run->ev.batches, run->ev.seconds,
                                                 run->ev.loss, run->ev.accuracy);
        emit(run, PNEUMO_EVENT_BATCH_END);
        run->tm.callback_seconds += now() - ts;
    }
    /* a cancel asked after the last batch */
    if ((st = pn_dp_agree(dp, PNEUMO_OK, run->cancelled, "pneumo_model_fit")) != PNEUMO_OK)
        return st;
    rec->loss = seen ? loss_sum / (double)seen : NAN;
    rec->accuracy = seen ? acc_sum / (double)seen : NAN;
    return PNEUMO_OK;
}


static void json_num_or_null(pn_buf *b, double v)
{
    if (isfinite(v))
        pn_buf_json_number(b, v);
    else
        pn_buf_printf(b, "%s", isnan(v) ? "null" : v > 0 ? "\"inf\"" : "\"-inf\"");
}

static void state_json(pn_buf *b, const fit_state *s, const pneumo_history *h)
{
    pn_buf_printf(b, "{\"next_epoch\":%d,\"stopped\":%d,\"es\":{\"best\":", s->next_epoch, s->stopped);
    json_num_or_null(b, s->es.best);
    pn_buf_printf(b, ",\"wait\":%d,\"best_epoch\":%lld},\"rl\":{\"best\":", s->es.wait,
                  (long long)s->es.best_epoch);
    json_num_or_null(b, s->rl.best);
    pn_buf_printf(b, ",\"wait\":%d,\"cooldown_counter\":%d},\"ckpt_best\":", s->rl.wait,
                  s->rl.cooldown_counter);
    json_num_or_null(b, s->ckpt_best);
    if (s->step > 0) {
        pn_buf_printf(b, ",\"step\":%lld,\"step_seen\":%lld,\"step_loss_sum\":", (long long)s->step,
                      (long long)s->seen);
        json_num_or_null(b, s->loss_sum);
        pn_buf_printf(b, ",\"step_acc_sum\":");
        json_num_or_null(b, s->acc_sum);
    }
    pn_buf_printf(b, ",\"sched\":{\"peak\":");
    json_num_or_null(b, s->sched_peak);
    pn_buf_printf(b, ",\"scale\":");
    json_num_or_null(b, s->sched_scale);
    pn_buf_printf(b, "}");
    pn_buf_printf(b, ",\"history\":[");
    for (int32_t i = 0; i < h->n; i++) {
        const pneumo_epoch_record *r = &h->rec[i];
        const double v[6] = {r->loss, r->accuracy, r->val_loss, r->val_accuracy, r->lr, r->seconds};
        pn_buf_printf(b, "%s[%d", i ? "," : "", r->epoch);
        for (int k = 0; k < 6; k++) {
            pn_buf_append(b, ",", 1);
            json_num_or_null(b, v[k]);
        }
        pn_buf_append(b, "]", 1);
    }
    pn_buf_printf(b, "]}");
}

/* A number written by json_num_or_null. */
static int read_num(const pn_json *j, double *out)
{
    if (!j)
        return 0;
    if (j->type == PN_JSON_NUMBER)
        *out = j->number;
    else if (j->type == PN_JSON_NULL)
        *out = NAN;
    else if (j->type == PN_JSON_STRING && strcmp(j->string, "inf") == 0)
        *out = INFINITY;
    else if (j->type == PN_JSON_STRING && strcmp(j->string, "-inf") == 0)
        *out = -INFINITY;
    else
        return 0;
    return 1;
}

static pneumo_status parse_state(const char *text, const char *label, fit_state *s, pneumo_history *h)
{
    pn_json *j = NULL;
    const pn_json *es, *rl, *hist;
    int64_t next, stopped, wait, best_epoch, rwait, cooldown;
    pneumo_status st = pn_json_parse(text, strlen(text), label, &j);
    if (st != PNEUMO_OK)
        return pn_error_prefix("fit_state");
    es = pn_json_get(j, "es");
    rl = pn_json_get(j, "rl");
    hist = pn_json_get(j, "history");
    if (!pn_json_get_int64(j, "next_epoch", &next) || next < 0 || next > INT32_MAX ||
        !pn_json_get_int64(j, "stopped", &stopped) || !es || !rl || !hist || hist->type != PN_JSON_ARRAY ||
        !read_num(pn_json_get(es, "best"), &s->es.best) || !pn_json_get_int64(es, "wait", &wait) ||
        !pn_json_get_int64(es, "best_epoch", &best_epoch) ||
        !read_num(pn_json_get(rl, "best"), &s->rl.best) || !pn_json_get_int64(rl, "wait", &rwait) ||
        !pn_json_get_int64(rl, "cooldown_counter", &cooldown) ||
        !read_num(pn_json_get(j, "ckpt_best"), &s->ckpt_best) || wait < 0 || wait > INT32_MAX || rwait < 0 ||
        rwait > INT32_MAX || cooldown < 0 || cooldown > INT32_MAX) {
        st = pn_error(PNEUMO_ERR_FORMAT, "%s: fit_state: missing or invalid fields", label);
        goto done;
    }
    s->sched_peak = NAN; /* checkpoints from before schedules */
    s->sched_scale = 1.0;
    if (pn_json_get(j, "sched")) {
        const pn_json *sc = pn_json_get(j, "sched");
        if (!read_num(pn_json_get(sc, "peak"), &s->sched_peak) ||
            !read_num(pn_json_get(sc, "scale"), &s->sched_scale) || !(s->sched_scale > 0.0)) {
            st = pn_error(PNEUMO_ERR_FORMAT, "%s: fit_state: invalid sched", label);
            goto done;
        }
    }
    if (pn_json_get(j, "step")) {
        int64_t step, seen;
        if (!pn_json_get_int64(j, "step", &step) || step < 1 || !pn_json_get_int64(j, "step_seen", &seen) ||
            seen < step || !read_num(pn_json_get(j, "step_loss_sum"), &s->loss_sum) ||
            !read_num(pn_json_get(j, "step_acc_sum"), &s->acc_sum)) {
            st = pn_error(PNEUMO_ERR_FORMAT,
                          "%s: fit_state: invalid step, step_seen, step_loss_sum or step_acc_sum", label);
            goto done;
        }
        s->step = step;
        s->seen = seen;
    }
    s->next_epoch = (int32_t)next;
    s->stopped = stopped != 0;
    s->es.wait = (int32_t)wait;
    s->es.best_epoch = best_epoch;
    s->rl.wait = (int32_t)rwait;
    s->rl.cooldown_counter = (int32_t)cooldown;
    for (size_t i = 0; i < hist->count; i++) {
        const pn_json *row = pn_json_item(hist, i);
        pneumo_epoch_record r;
        double v[6];
        int64_t e;
        memset(&r, 0, sizeof r);
        if (!row || row->type != PN_JSON_ARRAY || row->count != 7 ||
            !pn_json_int64(pn_json_item(row, 0), &e) || e < 0 || e > INT32_MAX) {
            st = pn_error(PNEUMO_ERR_FORMAT, "%s: fit_state: history row %zu is invalid", label, i);
            goto done;
        }
        for (int k = 0; k < 6; k++)
            if (!read_num(pn_json_item(row, (size_t)k + 1), &v[k])) {
                st = pn_error(PNEUMO_ERR_FORMAT, "%s: fit_state: history row %zu is invalid", label, i);
                goto done;
            }
        r.epoch = (int32_t)e;
        r.loss = v[0], r.accuracy = v[1], r.val_loss = v[2], r.val_accuracy = v[3], r.lr = v[4],
        r.seconds = v[5];
        if ((st = pn_history_append(h, &r)) != PNEUMO_OK)
            goto done;
    }
    h->stopped_early = s->stopped;
done:
    pn_json_free(j);
    return st;
}

pneumo_status pn_fit_check_checkpoint(const char *path)
{
    pneumo_model *m = NULL;
    pneumo_optimizer *op = NULL;
    pneumo_history *h = NULL;
    char *text = NULL;
    fit_state state;
    pneumo_status st = pn_model_load_extra(path, &m, &op, "fit_state", &text);
    if (st == PNEUMO_OK && (st = pn_history_new(&h)) == PNEUMO_OK) {
        memset(&state, 0, sizeof state);
        st = parse_state(text, path, &state, h);
    }
    free(text);
    pneumo_history_destroy(h);
    pneumo_optimizer_destroy(op);
    pneumo_model_destroy(m);
    return st;
}

static pneumo_status save_checkpoint(pneumo_model *m, pneumo_optimizer *opt, const char *path,
                                     const fit_state *s, const pneumo_history *h)
{
    pn_buf b;
    pneumo_status st;
    pn_buf_init(&b);
    state_json(&b, s, h);
    if (b.failed) {
        pn_buf_free(&b);
        return pn_error_nomem("checkpoint state", 0);
    }
    st = pn_model_save_extra(m, opt, path, "fit_state", b.data);
    pn_buf_free(&b);
    return st;
}

/* The model card's provenance after an epoch: what a saved model (final,
 * best or checkpoint) says about how it was made. */
static void record_provenance(pneumo_model *m, const pneumo_dataset *train, const pneumo_epoch_record *rec,
                              const float *val_probs, const float *val_labels, int64_t nval)
{
    pn_card *c = &m->card;
    c->epochs = rec->epoch + 1;
    for (int32_t k = 0; k < 2; k++)
        c->class_counts[k] = k < pneumo_dataset_num_classes(train) ? pneumo_dataset_class_count(train, k) : 0;
    c->val_loss = rec->val_loss;
    c->val_accuracy = rec->val_accuracy;
    c->val_auc = NAN;
    if (val_probs && pneumo_roc_auc(val_probs, val_labels, nval, &c->val_auc) != PNEUMO_OK) {
        c->val_auc = NAN; /* one class only */
        pneumo_clear_error();
    }
}

/* The epoch's phases once its callbacks and saves are done: into the
 * history's last record and, if asked for, the progress output. */
static void finish_timing(fit_run *run, pneumo_history *h, pneumo_dataset *train, double t0)
{
    pneumo_epoch_timing *t = &run->tm;
    double busy;
    t->seconds = now() - t0;
    pn_ds_epoch_stats(train, &t->data_wait_seconds, &t->loader_cpu_seconds);
    busy = t->train_seconds + t->data_wait_seconds + t->val_seconds + t->val_data_wait_seconds +
           t->callback_seconds;
    t->other_seconds = t->seconds > busy ? t->seconds - busy : 0.0;
    pn_history_set_timing(h, t);
    if (progress_on(run) && run->o->progress_timing)
        run->progress_st = pn_progress_timing(&run->progress, t);
}

static pneumo_status fit_core(pneumo_model *m, pneumo_optimizer *opt, pneumo_dataset *train,
                              pneumo_dataset *val, const pneumo_fit_options *options, fit_state *state,
                              int resuming, pneumo_history *h)
{
    const char *fn = "pneumo_model_fit";
    const pneumo_data_parallel *dp = options->parallel;
    pneumo_fit_options lead_only = *options;
    const pneumo_fit_options *o = &lead_only;
    pn_early_stopping *es = &state->es;
    pn_reduce_lr *rl = &state->rl;
    fit_run run;
    pneumo_tensor *weights = NULL;
    float *best_params = NULL, *val_probs = NULL, *val_labels = NULL;
    pn_card best_card = m->card;
    double cw[2] = {1.0, 1.0};
    int use_weights, have_best_params = 0;
    int32_t ckpt_monitor;
    pn_mode ckpt_mode;
    pneumo_status st;

    memset(&run, 0, sizeof run);
    if (dp && dp->rank != 0) { /* only rank 0 prints and writes */
        lead_only.progress = NULL;
        lead_only.checkpoint_path = NULL;
        lead_only.best_model_path = NULL;
    }
    if (o->threads > 0 && (st = pneumo_model_set_threads(m, o->threads)) != PNEUMO_OK)
        return st;
    use_weights = o->class_weighting != PNEUMO_CLASS_WEIGHT_NONE;
    if (o->class_weighting == PNEUMO_CLASS_WEIGHT_BALANCED) {
        if (pneumo_dataset_num_classes(train) != 2)
            return pn_error(PNEUMO_ERR_INVALID_ARG,
                            "%s: balanced class weights need 2 classes, the training set has %d", fn,
                            pneumo_dataset_num_classes(train));
        if ((st = pneumo_dataset_class_weights(train, cw, 2)) != PNEUMO_OK)
            return st;
    } else if (o->class_weighting == PNEUMO_CLASS_WEIGHT_CUSTOM) {
        cw[0] = o->class_weights[0];
        cw[1] = o->class_weights[1];
    }
    if (use_weights) {
        int64_t shape[1] = {o->batch_size};
        if ((st = pneumo_tensor_create(1, shape, &weights)) != PNEUMO_OK)
            return st;
    }
    es->mode = resolve_mode(o->early_stopping->monitor, o->early_stopping->mode);
    es->min_delta = o->early_stopping->min_delta;
    es->patience = o->early_stopping->patience;
    rl->mode = resolve_mode(o->reduce_lr->monitor, o->reduce_lr->mode);
    rl->factor = o->reduce_lr->factor;
    rl->min_delta = o->reduce_lr->min_delta;
    rl->patience = o->reduce_lr->patience;
    rl->cooldown = o->reduce_lr->cooldown;
    rl->min_lr = o->reduce_lr->min_lr;
    ckpt_monitor = o->early_stopping->enabled ? o->early_stopping->monitor
                   : val                      ? PNEUMO_MONITOR_VAL_LOSS
                                              : PNEUMO_MONITOR_LOSS;
    ckpt_mode = o->early_stopping->enabled ? es->mode : PN_MODE_MIN;
    if (!resuming) {
        state->sched_peak = pneumo_optimizer_learning_rate(opt);
        state->sched_scale = 1.0;
    } else if (o->lr_schedule != PNEUMO_LR_CONSTANT && !(state->sched_peak > 0.0)) {
        pneumo_tensor_destroy(weights);
        return pn_error(PNEUMO_ERR_STATE,
                        "%s: the checkpoint has no learning-rate schedule state (written by an older "
                        "version); resume it without a schedule",
                        fn);
    }
    if (!resuming) {
        pn_early_stopping_reset(es);
        pn_reduce_lr_reset(rl);
        state->ckpt_best = ckpt_mode == PN_MODE_MIN ? INFINITY : -INFINITY;
    }
    st = PNEUMO_OK;
    if (val) {
        size_t nval = (size_t)pneumo_dataset_size(val);
        val_probs = pn_malloc((nval ? nval : 1) * sizeof *val_probs);
        val_labels = pn_malloc((nval ? nval : 1) * sizeof *val_labels);
        if (!val_probs || !val_labels)
            st = pn_error_nomem("validation predictions", 2 * nval * sizeof(float));
    }
    if (st == PNEUMO_OK && o->early_stopping->enabled && o->early_stopping->restore_best_weights) {
        best_params = pn_aligned_alloc((size_t)m->arena_size * sizeof(float));
        if (!best_params)
            st = pn_error_nomem("restore_best_weights copy", (size_t)m->arena_size * sizeof(float));
    }

    if (dp) { /* every rank must have its buffers before the first exchange */
        if (st == PNEUMO_OK)
            st = pn_model_ensure_grads(m);
        if (st == PNEUMO_OK && (!(run.dp.bc = pn_malloc((size_t)dp_bc_doubles(dp, m) * sizeof(double))) ||
                                !(run.dp.part = pn_malloc((size_t)dp_part_doubles(m) * sizeof(double)))))
            st = pn_error_nomem("data-parallel messages",
                                (size_t)(dp_bc_doubles(dp, m) + dp_part_doubles(m)) * sizeof(double));
        if (st == PNEUMO_OK && dp->exchange == PNEUMO_EXCHANGE_GATHER && dp->rank == 0 &&
            (!(run.dp.acc = pn_aligned_alloc((size_t)m->arena_size * sizeof(float))) ||
             !(run.dp.tmp = pn_aligned_alloc((size_t)m->arena_size * sizeof(float)))))
            st = pn_error_nomem("data-parallel gradient sums", 2 * (size_t)m->arena_size * sizeof(float));
        if (st == PNEUMO_OK && dp->exchange == PNEUMO_EXCHANGE_SLICED) {
            /* a slice has at most start(1) + 16 floats */
            const size_t smax = (size_t)pn_dp_slice_start(m->arena_size, dp->ranks, 1) + 16;
            int32_t first, end;
            pn_dp_rank_parts(dp, &first, &end);
            if (!(run.dp.tmp = pn_aligned_alloc(smax * sizeof(float))) ||
                !(run.dp.own = pn_aligned_alloc((size_t)(end - first) * smax * sizeof(float))) ||
                !(run.dp.own_d = pn_malloc((size_t)(end - first) * (size_t)dp_part_doubles(m) *
                                           sizeof(double))))
                st = pn_error_nomem("data-parallel gradient slices",
                                    ((size_t)(end - first) + 1) * smax * sizeof(float));
        }
        st = pn_dp_agree(dp, st, 0, fn);
    }
    if (st != PNEUMO_OK)
        goto done;
    m->label_smoothing = o->label_smoothing;
    run.m = m;
    run.opt = opt;
    run.o = o;
    run.progress.write = o->progress;
    run.progress.user = o->progress_user;
    run.ev.epochs = o->epochs;
    run.ev.batches = pneumo_dataset_num_batches(train, o->batch_size);
    if (dp && state->step > 0) {
        st = pn_dp_agree(dp,
                         pn_error(PNEUMO_ERR_UNSUPPORTED,
                                  "%s: the checkpoint stopped inside epoch %d; a "
                                  "data-parallel run resumes only between epochs",
                                  fn, state->next_epoch + 1),
                         0, fn);
        goto done;
    }
    for (int32_t epoch = state->next_epoch; epoch < o->epochs && !state->stopped; epoch++) {
        pneumo_epoch_record rec;
        double t0 = now(), lr, value, tv;
        int improved = 0, stop = 0;
        schedule_step(&run, state, epoch, 0); /* the epoch records its first step's rate */
        lr = pneumo_optimizer_learning_rate(opt);
        memset(&rec, 0, sizeof rec);
        memset(&run.tm, 0, sizeof run.tm);
        run.tm.epoch = epoch;
        rec.epoch = epoch;
        rec.lr = lr;
        rec.val_loss = rec.val_accuracy = NAN;
        run.ev.epoch = epoch;
        run.ev.batch = 0;
        run.ev.lr = lr;
        run.ev.val_loss = run.ev.val_accuracy = NAN;
        if (progress_on(&run))
            run.progress_st = pn_progress_epoch_begin(&run.progress, epoch, o->epochs);
        if (!dp && run.progress_st != PNEUMO_OK) {
            st = run.progress_st;
            goto done;
        }
        emit(&run, PNEUMO_EVENT_EPOCH_BEGIN);
        if (dp && (st = pn_dp_agree(dp, PNEUMO_OK, run.cancelled, fn)) != PNEUMO_OK)
            goto done;
        run.tm.callback_seconds = now() - t0;
        if (run.cancelled) {
            st = pn_error(PNEUMO_ERR_CANCELLED, "%s: cancelled by the callback before epoch %d", fn,
                          epoch + 1);
            goto done;
        }
        st = dp ? train_epoch_parallel(&run, train, cw, use_weights, weights, &rec, t0, state)
                : train_epoch(&run, train, cw, use_weights, weights, &rec, t0, state);
        if (st == PNEUMO_ERR_CANCELLED && state->step > 0 && o->checkpoint_path) {
            /* keep the steps of this epoch: the checkpoint resumes after them */
            pneumo_status saved = save_checkpoint(m, opt, o->checkpoint_path, state, h);
            if (saved != PNEUMO_OK)
                st = pn_error_prefix("%s: saving the checkpoint after the cancel in epoch %d", fn, epoch + 1);
            else
                pn_error(PNEUMO_ERR_CANCELLED,
                         "%s: cancelled by the callback in epoch %d after step %lld; %s "
                         "resumes there",
                         fn, epoch + 1, (long long)state->step, o->checkpoint_path);
        }
        if (st != PNEUMO_OK)
            goto done;
        tv = now();
        if (val && (st = pn_evaluate_dataset(m, val, o->batch_size, dp, &rec.val_loss, &rec.val_accuracy,
                                             val_probs, val_labels)) != PNEUMO_OK) {
            pn_error_prefix("validation after epoch %d", epoch + 1);
            goto done;
        }
        if (val) {
            pn_ds_epoch_stats(val, &run.tm.val_data_wait_seconds, &run.tm.val_loader_cpu_seconds);
            run.tm.val_seconds = now() - tv - run.tm.val_data_wait_seconds;
        }
        record_provenance(m, train, &rec, val ? val_probs : NULL, val_labels,
                          val ? pneumo_dataset_size(val) : 0);
        rec.seconds = now() - t0;
        if ((st = pn_history_append(h, &rec)) != PNEUMO_OK)
            goto done;
        tv = now(); /* from here on the epoch's callbacks and saves */
        if (progress_on(&run))
            run.progress_st = pn_progress_epoch_end(&run.progress, &rec, run.ev.batches, val != NULL,
                                                    o->progress_bar);
        run.ev.loss = rec.loss;
        run.ev.accuracy = rec.accuracy;
        run.ev.val_loss = rec.val_loss;
        run.ev.val_accuracy = rec.val_accuracy;
        run.ev.seconds = rec.seconds;
        emit(&run, PNEUMO_EVENT_EPOCH_END);

        /* callbacks in the article's order: EarlyStopping, then ReduceLROnPlateau */
        if (o->early_stopping->enabled) {
            stop = pn_early_stopping_update(es, epoch, monitored(&rec, o->early_stopping->monitor),
                                            &improved);
            if (improved && best_params) {
                memcpy(best_params, m->params, (size_t)m->arena_size * sizeof(float));
                best_card = m->card;
                have_best_params = 1;
            }
        }
        if (o->reduce_lr->enabled) {
            /* with a schedule: the rate of the epoch's last step, and the reduction scales the
             * schedule from the next step on */
            const double cur = o->lr_schedule == PNEUMO_LR_CONSTANT ? lr
                                                                    : pneumo_optimizer_learning_rate(opt);
            double new_lr = pn_reduce_lr_update(rl, monitored(&rec, o->reduce_lr->monitor), cur);
            if (new_lr != cur) {
                lr = cur;
                if (o->lr_schedule != PNEUMO_LR_CONSTANT)
                    state->sched_scale *= o->reduce_lr->factor;
                pneumo_optimizer_set_learning_rate(opt, (float)new_lr);
                run.ev.old_lr = lr;
                run.ev.lr = new_lr;
                if (progress_on(&run))
                    run.progress_st = pn_progress_lr(&run.progress, epoch, new_lr);
                emit(&run, PNEUMO_EVENT_LR_CHANGED);
            }
        }
        value = monitored(&rec, ckpt_monitor);
        st = PNEUMO_OK;
        if (o->best_model_path &&
            (ckpt_mode == PN_MODE_MIN ? value < state->ckpt_best : value > state->ckpt_best)) {
            state->ckpt_best = value;
            st = pneumo_model_save(m, opt, o->best_model_path);
        }
        if (st != PNEUMO_OK && !dp)
            goto done;
        if (stop && st == PNEUMO_OK) {
            h->stopped_early = 1;
            state->stopped = 1;
            if (have_best_params) {
                /* the weights of the best epoch, and what validation said of them
                 * (the card keeps the number of epochs trained) */
                memcpy(m->params, best_params, (size_t)m->arena_size * sizeof(float));
                m->card.val_loss = best_card.val_loss;
                m->card.val_accuracy = best_card.val_accuracy;
                m->card.val_auc = best_card.val_auc;
            }
            if (progress_on(&run))
                run.progress_st = pn_progress_early_stop(&run.progress, epoch);
            emit(&run, PNEUMO_EVENT_EARLY_STOP);
        }
        state->next_epoch = epoch + 1;
        if (st == PNEUMO_OK)
            st = run.progress_st;
        if (st == PNEUMO_OK && o->checkpoint_path)
            st = save_checkpoint(m, opt, o->checkpoint_path, state, h);
        run.tm.callback_seconds += now() - tv;
        finish_timing(&run, h, train, t0);
        if (st == PNEUMO_OK)
            st = run.progress_st;
        /* a failed save on rank 0 or a cancel on any rank stops every rank */
        if (dp && (st = pn_dp_agree(dp, st, run.cancelled && !stop, fn)) != PNEUMO_OK) {
            if (st == PNEUMO_ERR_CANCELLED && run.cancelled)
                pn_error(PNEUMO_ERR_CANCELLED, "%s: cancelled by the callback after epoch %d", fn, epoch + 1);
            goto done;
        }
        if (st != PNEUMO_OK)
            goto done;
        if (run.cancelled && !stop) {
            st = pn_error(PNEUMO_ERR_CANCELLED, "%s: cancelled by the callback after epoch %d", fn,
                          epoch + 1);
            goto done;
        }
    }
    st = PNEUMO_OK;
done:
    m->label_smoothing = 0.0f;
    pn_aligned_free(best_params);
    pn_aligned_free(run.dp.acc);
    pn_aligned_free(run.dp.tmp);
    pn_aligned_free(run.dp.own);
    free(run.dp.own_d);
    free(run.dp.part);
    free(run.dp.bc);
    free(val_probs);
    free(val_labels);
    pneumo_tensor_destroy(weights);
    return st;
}

pneumo_status pneumo_model_fit(pneumo_model *m, pneumo_optimizer *opt, pneumo_dataset *train,
                               pneumo_dataset *val, const pneumo_fit_options *o, pneumo_history **history)
{
    const char *fn = "pneumo_model_fit";
    fit_settings set;
    pneumo_history *h = NULL;
    fit_state state;
    pneumo_status st;
    if (history)
        *history = NULL;
    if (!m || !opt || !train)
        return pn_error(PNEUMO_ERR_INVALID_ARG, "%s: %s is NULL", fn,
                        !m     ? "model"
                        : !opt ? "optimizer"
                               : "training dataset");
    if ((st = check_options(o, val, fn, &set)) != PNEUMO_OK)
        return st;
    if ((st = pn_history_new(&h)) != PNEUMO_OK)
        return st;
    memset(&state, 0, sizeof state);
    state.next_epoch = set.o.initial_epoch;
    st = fit_core(m, opt, train, val, &set.o, &state, 0, h);
    if (history)
        *history = h;
    else
        pneumo_history_destroy(h);
    return st;
}

pneumo_status pneumo_model_fit_resume(const char *checkpoint, pneumo_dataset *train, pneumo_dataset *val,
                                      const pneumo_fit_options *o, pneumo_model **model,
                                      pneumo_optimizer **opt, pneumo_history **history)
{
    const char *fn = "pneumo_model_fit_resume";
    pneumo_model *m = NULL;
    pneumo_optimizer *op = NULL;
    pneumo_history *h = NULL;
    char *text = NULL;
    fit_state state;
    fit_settings set;
    pneumo_status st;
    if (model)
        *model = NULL;
    if (opt)
        *opt = NULL;
    if (history)
        *history = NULL;
    if (!checkpoint || !train || !o || !model || !opt)
        return pn_error(PNEUMO_ERR_INVALID_ARG,
                        "%s: checkpoint, train, options, model and opt must not be NULL", fn);
    if ((st = check_options(o, val, fn, &set)) != PNEUMO_OK)
        return st;
    if ((st = pn_model_load_extra(checkpoint, &m, &op, "fit_state", &text)) != PNEUMO_OK)
        goto fail;
    if (!op) {
        st = pn_error(PNEUMO_ERR_FORMAT, "%s: %s has no optimizer state to resume", fn, checkpoint);
        goto fail;
    }
    if ((st = pn_history_new(&h)) != PNEUMO_OK)
        goto fail;
    memset(&state, 0, sizeof state);
    if ((st = parse_state(text, checkpoint, &state, h)) != PNEUMO_OK)
        goto fail;
    free(text);
    text = NULL;
    st = fit_core(m, op, train, val, &set.o, &state, 1, h);
    *model = m;
    *opt = op;
    if (history)
        *history = h;
    else
        pneumo_history_destroy(h);
    return st;
fail:
    free(text);
    pneumo_history_destroy(h);
    pneumo_optimizer_destroy(op);
    pneumo_model_destroy(m);
    /* the other ranks are in fit's first agreement: tell them (the error stays this one) */
    if (o->parallel)
        st = pn_dp_agree(o->parallel, st, 0, fn);
    return st;
}
