/* libpneumo — evaluation metrics for the binary classifier, with sklearn's
 * definitions: confusion matrix, classification report, ROC AUC. */
#ifndef PNEUMO_METRICS_H
#define PNEUMO_METRICS_H

#include "pneumo/common.h"

#ifdef __cplusplus
extern "C" {
#endif

/** Binary confusion matrix, rows actual, columns predicted (sklearn's
 *  confusion_matrix): m[0] = actual 0 predicted 0, m[1] = actual 0 predicted 1,
 *  m[2] = actual 1 predicted 0, m[3] = actual 1 predicted 1. */
typedef struct pneumo_confusion {
    int64_t m[4];
} pneumo_confusion;

/** Count predictions `probs[i] > threshold` (the article's rule at 0.5; Keras'
 *  binary accuracy) against labels[i] (0 or 1) into *out. Errors: INVALID_ARG for
 *  NULL pointers, n < 0, a threshold outside [0, 1], labels other than 0 and 1 or
 *  non-finite probabilities (naming the index). */
PNEUMO_API pneumo_status pneumo_confusion_from_predictions(const float *probs, const float *labels, int64_t n,
                                                           float threshold, pneumo_confusion *out);

/** Accuracy (m[0] + m[3]) / total; 0 for an empty matrix or NULL. */
PNEUMO_API double pneumo_confusion_accuracy(const pneumo_confusion *c);

/** sklearn's classification_report(digits=2) for the two classes named
 *  names[0], names[1] (NULL: "0", "1"), as text, e.g.
 *  "              precision    recall  f1-score   support\n\n      NORMAL       0.95 ...".
 *  Written like snprintf into buf (NUL-terminated, truncated if needed; buf may be
 *  NULL when size is 0); *needed (may be NULL) receives the full length. A 0/0
 *  precision or recall counts as 0, as sklearn's zero_division default does. */
PNEUMO_API pneumo_status pneumo_classification_report(const pneumo_confusion *c, const char *const names[2],
                                                      char *buf, size_t size, size_t *needed);

/** Area under the ROC curve of scores `probs` for labels (0/1), ties counted
 *  half (sklearn's roc_auc_score). PNEUMO_ERR_INVALID_ARG if only one class is
 *  present (sklearn raises too) or inputs are invalid. */
PNEUMO_API pneumo_status pneumo_roc_auc(const float *probs, const float *labels, int64_t n, double *auc);

/** Most bins pneumo_calibration_curve() takes. */
#define PNEUMO_CALIBRATION_BINS_MAX 1000

/** Reliability of probabilities of class 1, as sklearn's
 *  calibration_curve(strategy='uniform'): `bins` equal-width bins over [0, 1]
 *  (bin b holds b/bins <= p < (b+1)/bins; p = 1 goes to the last). For each
 *  bin: counts[b], mean_prob[b] (mean probability) and frac_pos[b] (fraction
 *  of label 1), 0 for an empty bin; each array may be NULL, else holds `bins`
 *  entries. *ece (may be NULL) receives the expected calibration error of the
 *  class-1 probability, sum over b of counts[b] / n * |frac_pos[b] -
 *  mean_prob[b]| (the reliability diagram's weighted gap).
 *  Errors: INVALID_ARG (NULL probs or labels, n < 1, bins outside
 *  [1, PNEUMO_CALIBRATION_BINS_MAX], a label not 0/1, a probability outside
 *  [0, 1]). */
PNEUMO_API pneumo_status pneumo_calibration_curve(const float *probs, const float *labels, int64_t n,
                                                  int32_t bins, int64_t *counts, double *mean_prob,
                                                  double *frac_pos, double *ece);

/** Temperature scaling (Guo et al., 2017): the T minimising the mean binary
 *  cross-entropy of sigmoid(logit(p_i) / T) against labels (0/1), over
 *  [PNEUMO_TEMPERATURE_MIN, PNEUMO_TEMPERATURE_MAX] (pneumo/model_info.h;
 *  the bound is returned when the optimum lies beyond it). For probabilities
 *  a model gave at temperature T0 (pneumo_model_temperature()), set its
 *  temperature to T0 * T. A float probability carries a logit of at most
 *  |16.64| (p = 1 - 2^-24); 0 and 1 count as that. Fit it on validation data,
 *  never on the test set.
 *  Errors: INVALID_ARG (NULL, n < 2, a label not 0/1, a probability outside
 *  [0, 1]). */
PNEUMO_API pneumo_status pneumo_fit_temperature(const float *probs, const float *labels, int64_t n,
                                                float *temperature);

#ifdef __cplusplus
}
#endif

#endif /* PNEUMO_METRICS_H */
