/* libpneumo — a self-contained HTML report of a training run or an evaluation.
 *
 * A report collects the run's settings, the model summary, the training history,
 * one or more evaluations and a grid of captioned images, and writes them as ONE
 * HTML file that needs nothing else: no network, no scripts, no external files.
 * Charts are inline SVG, images are embedded as PNG data: URIs, and every piece
 * of caller text is HTML-escaped. The file reads well in any browser and prints.
 *
 * Sections, in order (each only if it has content):
 *   - the title and the run settings (a key/value table, in the order added);
 *   - training curves: loss and val_loss in one chart, accuracy and
 *     val_accuracy in another, x = epoch 1..N; an epoch after which the learning
 *     rate dropped (the next epoch's lr is lower) carries a dashed line labelled
 *     "lr → 3e-4", and the last epoch is marked "early stop" when the history
 *     says training stopped early; then a table of the epochs;
 *   - per evaluation: loss, accuracy and count, the confusion-matrix heatmap
 *     (rows actual, columns predicted, counts in the cells), sklearn's
 *     classification report as a table (the numbers pneumo_classification_report()
 *     prints) and, given the probabilities, the ROC curve with the chance
 *     diagonal and "AUC = 0.968";
 *   - the image grid (three per row) with the captions;
 *   - the model summary, preformatted.
 *
 * Ownership: every argument is copied in (strings, history, evaluation,
 * probabilities, images); nothing is retained from the caller after a call
 * returns. The report is owned by the caller and freed with
 * pneumo_report_destroy().
 *
 * Thread-safety: a report must be used by one thread at a time; distinct
 * reports are independent. Nothing is printed. */
#ifndef PNEUMO_REPORT_H
#define PNEUMO_REPORT_H

#include "pneumo/common.h"
#include "pneumo/image.h"
#include "pneumo/model.h"
#include "pneumo/train.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct pneumo_report pneumo_report;

/** Create an empty report titled `title` (UTF-8; NULL or "" gives
 *  "libpneumo report"). On success *out receives a report owned by the caller.
 *  Errors: INVALID_ARG (NULL out), NOMEM. */
PNEUMO_API pneumo_status pneumo_report_create(const char *title, pneumo_report **out);

/** Free a report. NULL is a no-op. */
PNEUMO_API void pneumo_report_destroy(pneumo_report *r);

/** Append one row `key`: `value` to the settings table (both copied; value may
 *  be "" but not NULL). Errors: INVALID_ARG (NULL argument, empty key), NOMEM. */
PNEUMO_API pneumo_status pneumo_report_add_setting(pneumo_report *r, const char *key, const char *value);

/** Store the model's summary (pneumo_model_summary_string()) for the report,
 *  replacing an earlier one. Errors: INVALID_ARG (NULL), NOMEM. */
PNEUMO_API pneumo_status pneumo_report_set_model(pneumo_report *r, const pneumo_model *m);

/** Copy the history (every epoch record and whether training stopped early) for
 *  the training curves, replacing an earlier one. A history of 0 epochs clears
 *  the section. Errors: INVALID_ARG (NULL), NOMEM. */
PNEUMO_API pneumo_status pneumo_report_set_history(pneumo_report *r, const pneumo_history *h);

/** Append an evaluation section named `name` (e.g. "Test set"). `ev` gives the
 *  loss, accuracy, ROC AUC and confusion matrix (rows actual, columns predicted;
 *  entries >= 0; reserved fields zero, as pneumo_model_evaluate() leaves them).
 *  `probs`/`labels` are the per-image probabilities of class 1 and the 0/1
 *  labels, as pneumo_model_evaluate() returns them, used to draw the ROC curve;
 *  n must then equal the number of images in the confusion matrix.
 *  Pass probs = labels = NULL and n = 0 to leave the curve out. class_names may
 *  be NULL ("0", "1") or two non-NULL names. The AUC shown is ev->roc_auc, or,
 *  when that is NaN, the area under the curve drawn (if both classes occur).
 *  Errors: INVALID_ARG (NULL r/ev/name, a non-zero reserved field, a negative
 *  count, n different from the matrix's total, only one of probs/labels, a
 *  label other than 0/1 or a non-finite probability, naming the index), NOMEM. */
PNEUMO_API pneumo_status pneumo_report_add_evaluation(pneumo_report *r, const char *name,
                                                      const pneumo_evaluation *ev, const float *probs,
                                                      const float *labels, int64_t n,
                                                      const char *const class_names[2]);

/** Append an image to the grid, embedded as PNG, with an optional caption (NULL:
 *  none; a '\n' starts a new line), e.g. "97.31% probability of being Pneumonia
 *  case\nActual case: PNEUMONIA". Errors: INVALID_ARG (NULL r or img), NOMEM. */
PNEUMO_API pneumo_status pneumo_report_add_image(pneumo_report *r, const pneumo_image *img,
                                                 const char *caption);

/** Title of the image grid's section (default "Sample images"); copied.
 *  Errors: INVALID_ARG (NULL), NOMEM. */
PNEUMO_API pneumo_status pneumo_report_set_images_title(pneumo_report *r, const char *title);

/** Write the report as HTML (UTF-8) to `path`, atomically: a temporary file in
 *  the same directory is written, synced and renamed over `path`; on failure
 *  no temporary file is left and an existing file is untouched. Errors name
 *  `path`: INVALID_ARG (NULL, empty path), IO (missing directory, not writable,
 *  disk full), NOMEM. */
PNEUMO_API pneumo_status pneumo_report_save_html(const pneumo_report *r, const char *path);

/** The HTML text in memory, written into buf (see pneumo/common.h): call with
 *  buf NULL and size 0 to learn the length (*needed), then with a buffer of
 *  *needed + 1 bytes. Errors: INVALID_ARG (NULL report, NULL buf with size > 0),
 *  NOMEM. */
PNEUMO_API pneumo_status pneumo_report_render_html(const pneumo_report *r, char *buf, size_t size,
                                                   size_t *needed);

#ifdef __cplusplus
}
#endif

#endif /* PNEUMO_REPORT_H */
