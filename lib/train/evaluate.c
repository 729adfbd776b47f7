/* Evaluating a model over a dataset: loss, accuracy, confusion matrix, ROC AUC. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "core/alloc.h"
#include "core/error.h"
#include "core/tensor.h"
#include "model/model.h"
#include "train/fit_internal.h"
#include "train/parallel.h"

static pneumo_status evaluate_serial(pneumo_model *m, pneumo_dataset *ds, int32_t batch_size, double *loss,
                                     double *accuracy, float *probs, float *labels)
{
    double loss_sum = 0.0, acc_sum = 0.0;
    int64_t seen = 0;
    pneumo_status st = pneumo_dataset_begin_epoch(ds, 0, batch_size);
    if (st != PNEUMO_OK)
        return st;
    for (;;) {
        pneumo_tensor *x = NULL, *y = NULL;
        const int64_t *idx = NULL;
        pneumo_step_result r;
        const float *p;
        if ((st = pneumo_dataset_next_batch(ds, &x, &y, &idx)) != PNEUMO_OK)
            return st;
        if (!x)
            break;
        if ((st = pneumo_model_evaluate_batch(m, x, y, NULL, &r)) != PNEUMO_OK)
            return st;
        p = pn_model_output(m);
        for (int64_t i = 0; i < r.batch_size; i++) {
            if (probs)
                probs[idx[i]] = p[i];
            if (labels)
                labels[idx[i]] = y->data[i];
        }
        loss_sum += r.loss * (double)r.batch_size;
        acc_sum += r.accuracy * (double)r.batch_size;
        seen += r.batch_size;
    }
    *loss = seen ? loss_sum / (double)seen : NAN;
    *accuracy = seen ? acc_sum / (double)seen : NAN;
    return PNEUMO_OK;
}

/* This rank's parts of every batch, written into the gather buffer g:
 * [0, n) probabilities and [n, 2n) labels by dataset index, then per (batch,
 * part) the loss sum and the correct count in [2n, 2n + nb*parts) and
 * [2n + nb*parts, 2n + 2*nb*parts). */
static pneumo_status evaluate_shard(pneumo_model *m, pneumo_dataset *ds, int32_t batch_size,
                                    const pneumo_data_parallel *dp, double *g)
{
    const int64_t n = pneumo_dataset_size(ds), nb = pneumo_dataset_num_batches(ds, batch_size);
    int32_t first, end;
    pneumo_status st;
    pn_dp_rank_parts(dp, &first, &end);
    if ((st = pneumo_dataset_begin_epoch_shard(ds, 0, batch_size, dp->parts, first, end)) != PNEUMO_OK)
        return st;
    for (int64_t b = 0; b < nb; b++) {
        const int64_t bn = n - b * batch_size < batch_size ? n - b * batch_size : batch_size;
        const int64_t lo = pn_part_start(bn, dp->parts, first);
        pneumo_tensor *x = NULL, *y = NULL;
        const int64_t *idx = NULL;
        if (pn_part_start(bn, dp->parts, end) == lo)
            continue;
        if ((st = pneumo_dataset_next_batch(ds, &x, &y, &idx)) != PNEUMO_OK)
            return st;
        if (!x)
            return pn_error(PNEUMO_ERR_STATE, "evaluation: the shard ended before batch %lld", (long long)b);
        for (int32_t k = first; k < end; k++) {
            const int64_t k0 = pn_part_start(bn, dp->parts, k) - lo,
                          k1 = pn_part_start(bn, dp->parts, k + 1) - lo;
            int64_t shape[4] = {k1 - k0, x->shape[1], x->shape[2], x->shape[3]};
            const int64_t px = x->shape[1] * x->shape[2] * x->shape[3];
            pneumo_tensor xv, yv;
            pneumo_step_result r;
            const float *p;
            if (k1 == k0)
                continue;
            pn_tensor_view(&xv, 4, shape, x->data + (size_t)(k0 * px));
            pn_tensor_view(&yv, 1, shape, y->data + (size_t)k0);
            if ((st = pneumo_model_evaluate_batch(m, &xv, &yv, NULL, &r)) != PNEUMO_OK)
                return st;
            p = pn_model_output(m);
            for (int64_t i = 0; i < r.batch_size; i++) {
                g[idx[k0 + i]] = p[i];
                g[n + idx[k0 + i]] = yv.data[i];
            }
            g[2 * n + b * dp->parts + k] = r.loss * (double)r.batch_size;
            g[2 * n + nb * dp->parts + b * dp->parts + k] = r.accuracy * (double)r.batch_size;
        }
    }
    return PNEUMO_OK;
}

pneumo_status pn_evaluate_dataset(pneumo_model *m, pneumo_dataset *ds, int32_t batch_size,
                                  const pneumo_data_parallel *dp, double *loss, double *accuracy,
                                  float *probs, float *labels)
{
    const char *fn = "evaluation";
    int64_t n, nb, total;
    double *g, loss_sum = 0.0, acc_sum = 0.0;
    pneumo_status st;
    if (!dp)
        return evaluate_serial(m, ds, batch_size, loss, accuracy, probs, labels);
    if ((st = pn_dp_check(dp, batch_size, fn)) != PNEUMO_OK)
        return st;
    n = pneumo_dataset_size(ds);
    nb = pneumo_dataset_num_batches(ds, batch_size);
    total = 2 * n + 2 * nb * dp->parts + dp->ranks + 1;
    g = pn_calloc((size_t)total, sizeof *g);
    if (!g)
        st = pn_error_nomem("evaluation gather buffer", (size_t)total * sizeof *g);
    else
        st = evaluate_shard(m, ds, batch_size, dp, g);
    if (!g) /* still take part in the collective, or the other ranks would wait */
        return pn_dp_agree(dp, st, 0, fn);
    pn_dp_set_flags(dp, g + total - dp->ranks - 1, st, 0);
    {
        pneumo_status cs = pn_dp_call(dp, PNEUMO_COLLECTIVE_SUM, 0, 0, NULL, 0, g, total, fn);
        if (cs != PNEUMO_OK) {
            free(g);
            return cs;
        }
    }
    if ((st = pn_dp_decide(dp, g + total - dp->ranks - 1, st, fn)) == PNEUMO_OK) {
        for (int64_t i = 0; i < n; i++) {
            if (probs)
                probs[i] = (float)g[i];
            if (labels)
                labels[i] = (float)g[n + i];
        }
        for (int64_t i = 0; i < nb * dp->parts; i++) {
            loss_sum += g[2 * n + i];
            acc_sum += g[2 * n + nb * dp->parts + i];
        }
        *loss = n ? loss_sum / (double)n : NAN;
        *accuracy = n ? acc_sum / (double)n : NAN;
    }
    free(g);
    return st;
}

pneumo_status pneumo_model_evaluate(pneumo_model *m, pneumo_dataset *ds, int32_t batch_size, float threshold,
                                    pneumo_evaluation *out, float *probs, float *labels, size_t count)
{
    return pneumo_model_evaluate_parallel(m, ds, batch_size, threshold, NULL, out, probs, labels, count);
}

pneumo_status pneumo_model_evaluate_parallel(pneumo_model *m, pneumo_dataset *ds, int32_t batch_size,
                                             float threshold, const pneumo_data_parallel *parallel,
                                             pneumo_evaluation *out, float *probs, float *labels,
                                             size_t count)
{
    const char *fn = parallel ? "pneumo_model_evaluate_parallel" : "pneumo_model_evaluate";
    int64_t n;
    float *p = probs, *y = labels;
    pneumo_status st;
    if (!m || !ds || !out)
        return pn_error(PNEUMO_ERR_INVALID_ARG, "%s: %s is NULL", fn, !m ? "model" : !ds ? "dataset" : "out");
    if (batch_size < 1)
        return pn_error(PNEUMO_ERR_INVALID_ARG, "%s: batch size %d must be >= 1", fn, batch_size);
    n = pneumo_dataset_size(ds);
    memset(out, 0, sizeof *out);
    if ((probs && (st = pn_check_buffer(fn, "probs", count, (size_t)n)) != PNEUMO_OK) ||
        (labels && (st = pn_check_buffer(fn, "labels", count, (size_t)n)) != PNEUMO_OK)) {
        if (parallel && pn_dp_check(parallel, batch_size, fn) == PNEUMO_OK)
            st = pn_dp_agree(parallel, st, 0, fn); /* the other ranks wait for this one */
        return st;
    }
    if (!p)
        p = pn_malloc((size_t)(n ? n : 1) * sizeof *p);
    if (!y)
        y = pn_malloc((size_t)(n ? n : 1) * sizeof *y);
    if (!p || !y) {
        st = pn_error_nomem(fn, (size_t)n * 2 * sizeof(float));
        if (parallel && pn_dp_check(parallel, batch_size, fn) == PNEUMO_OK)
            st = pn_dp_agree(parallel, st, 0, fn); /* the other ranks wait for this one */
        goto done;
    }
    if ((st = pn_evaluate_dataset(m, ds, batch_size, parallel, &out->loss, &out->accuracy, p, y)) !=
        PNEUMO_OK)
        goto done;
    if ((st = pneumo_confusion_from_predictions(p, y, n, threshold, &out->confusion)) != PNEUMO_OK)
        goto done;
    out->accuracy = pneumo_confusion_accuracy(&out->confusion);
    out->count = n;
    if (pneumo_roc_auc(p, y, n, &out->roc_auc) != PNEUMO_OK) {
        out->roc_auc = NAN; /* one class only: undefined, not an error of the evaluation */
        pneumo_clear_error();
    }
    out->calibration_error = NAN;
    if (n > 0 && (st = pneumo_calibration_curve(p, y, n, PNEUMO_EVALUATION_ECE_BINS, NULL, NULL, NULL,
                                                &out->calibration_error)) != PNEUMO_OK)
        goto done;
done:
    if (p != probs)
        free(p);
    if (y != labels)
        free(y);
    return st;
}
