/* Evaluating a model over a dataset: loss, accuracy, confusion matrix, ROC AUC. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "core/alloc.h"
#include "core/error.h"
#include "core/tensor.h"
#include "model/model.h"
#include "train/fit_internal.h"

pneumo_status pn_evaluate_dataset(pneumo_model *m, pneumo_dataset *ds, int32_t batch_size,
                                  double *loss, double *accuracy, float *probs, float *labels)
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

pneumo_status pneumo_model_evaluate(pneumo_model *m, pneumo_dataset *ds, int32_t batch_size,
                                    float threshold, pneumo_evaluation *out, float *probs,
                                    float *labels)
{
    const char *fn = "pneumo_model_evaluate";
    int64_t n;
    float *p = probs, *y = labels;
    pneumo_status st;
    if (!m || !ds || !out)
        return pn_error(PNEUMO_ERR_INVALID_ARG, "%s: %s is NULL", fn, !m ? "model" : !ds ? "dataset" : "out");
    if (batch_size < 1)
        return pn_error(PNEUMO_ERR_INVALID_ARG, "%s: batch size %d must be >= 1", fn, batch_size);
    n = pneumo_dataset_size(ds);
    memset(out, 0, sizeof *out);
    if (!p)
        p = pn_malloc((size_t)(n ? n : 1) * sizeof *p);
    if (!y)
        y = pn_malloc((size_t)(n ? n : 1) * sizeof *y);
    if (!p || !y) {
        st = pn_error_nomem(fn, (size_t)n * 2 * sizeof(float));
        goto done;
    }
    if ((st = pn_evaluate_dataset(m, ds, batch_size, &out->loss, &out->accuracy, p, y)) != PNEUMO_OK)
        goto done;
    if ((st = pneumo_confusion_from_predictions(p, y, n, threshold, &out->confusion)) != PNEUMO_OK)
        goto done;
    out->accuracy = pneumo_confusion_accuracy(&out->confusion);
    out->count = n;
    if (pneumo_roc_auc(p, y, n, &out->roc_auc) != PNEUMO_OK) {
        out->roc_auc = NAN; /* one class only: undefined, not an error of the evaluation */
        pneumo_clear_error();
    }
done:
    if (p != probs)
        free(p);
    if (y != labels)
        free(y);
    return st;
}
