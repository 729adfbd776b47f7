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

#ifdef __cplusplus
}
#endif

#endif /* PNEUMO_METRICS_H */
