/* libpneumo — ensembles of models and test-time augmentation.
 *
 * An ensemble is an array of model handles the caller owns: its probability
 * for an input is the mean of the members' probabilities (each with its own
 * temperature, pneumo/model_info.h), and with PNEUMO_TTA_FLIP each member
 * also sees the input mirrored left-right, so the mean runs over
 * 2 x count predictions. Members must take the same input shape; they may
 * differ in architecture, weights and calibration. A member's threshold and
 * class names are not used: callers pass the threshold (the programs use the
 * first member's card).
 *
 * Thread-safety: as pneumo_model_predict() for every member: one call per
 * model at a time (use inference clones per thread). */
#ifndef PNEUMO_ENSEMBLE_H
#define PNEUMO_ENSEMBLE_H

#include "pneumo/common.h"
#include "pneumo/dataset.h"
#include "pneumo/gradcam.h"
#include "pneumo/image.h"
#include "pneumo/model.h"
#include "pneumo/tensor.h"
#include "pneumo/train.h"

#ifdef __cplusplus
extern "C" {
#endif

/** Most members of an ensemble. */
#define PNEUMO_ENSEMBLE_MAX 64

/** Test-time augmentation. */
typedef enum pneumo_tta {
    PNEUMO_TTA_NONE = 0, /**< the input as it is */
    PNEUMO_TTA_FLIP = 1  /**< the input and its left-right mirror */
} pneumo_tta;

/** How an ensemble predicts; fill with pneumo_ensemble_default_options(). */
typedef struct pneumo_ensemble_options {
    uint32_t size;        /**< sizeof(pneumo_ensemble_options); set by the default function */
    int32_t tta;          /**< pneumo_tta; default PNEUMO_TTA_NONE */
    uint32_t reserved[8]; /**< zero */
} pneumo_ensemble_options;

/** Fill `o` with the defaults stated on its fields. NULL is a no-op. */
PNEUMO_API void pneumo_ensemble_default_options(pneumo_ensemble_options *o);

/** Mean probability of the `count` members (1..PNEUMO_ENSEMBLE_MAX, none
 *  NULL) for the batch x (N, H, W, C) into out ((N, 1) or (N,)), as
 *  pneumo_model_predict() does for one model. `o` may be NULL (defaults).
 *  Errors: INVALID_ARG (NULL, count out of range, bad options), SHAPE (x or
 *  out does not fit a member, naming it), STATE (a member without a single
 *  output), the members' errors, NOMEM. */
PNEUMO_API pneumo_status pneumo_ensemble_predict(pneumo_model *const *models, int32_t count,
                                                 const pneumo_ensemble_options *o, const pneumo_tensor *x,
                                                 pneumo_tensor *out);

/** Mean probability for a decoded image: each member preprocesses it with
 *  its own card (pneumo_model_predict_image()); with PNEUMO_TTA_FLIP each
 *  also predicts the mirrored image. Errors: as pneumo_ensemble_predict() and
 *  pneumo_model_predict_image(). */
PNEUMO_API pneumo_status pneumo_ensemble_predict_image(pneumo_model *const *models, int32_t count,
                                                       const pneumo_ensemble_options *o,
                                                       const pneumo_image *img, float *prob);

/** pneumo_model_evaluate() for an ensemble: the dataset in order (use one
 *  without shuffle and augmentation), batches of batch_size, every batch
 *  predicted by pneumo_ensemble_predict(); loss is the mean binary
 *  cross-entropy of the mean probabilities (clipped to [1e-7, 1 - 1e-7] as
 *  Keras does), accuracy, confusion matrix and ROC AUC at `threshold`, and
 *  the calibration error. probs and labels (each may be NULL) receive
 *  pneumo_dataset_size(ds) values each in dataset order; `n` is their length.
 *  Errors: as pneumo_model_evaluate() and pneumo_ensemble_predict(). */
PNEUMO_API pneumo_status pneumo_ensemble_evaluate(pneumo_model *const *models, int32_t count,
                                                  const pneumo_ensemble_options *o, pneumo_dataset *ds,
                                                  int32_t batch_size, float threshold, pneumo_evaluation *out,
                                                  float *probs, float *labels, size_t n);

/** Grad-CAM of an ensemble for a decoded image: the mean of the members'
 *  maps (pneumo_model_gradcam_image() with `g`, NULL = defaults), each
 *  resampled bilinearly to the first member's map size where it differs; with
 *  PNEUMO_TTA_FLIP also each member's map of the mirrored image, mirrored
 *  back. With target -1 (the predicted class) every member explains the class
 *  the ensemble predicts at the first member's threshold. *map receives a new
 *  tensor the caller destroys; *info (may be NULL; its size set) describes it
 *  (layer and target of the first member, the ensemble's probability, the
 *  mean map's maximum). Errors: as pneumo_model_gradcam_image(). */
PNEUMO_API pneumo_status pneumo_ensemble_gradcam_image(pneumo_model *const *models, int32_t count,
                                                       const pneumo_ensemble_options *o,
                                                       const pneumo_gradcam_options *g,
                                                       const pneumo_image *img, pneumo_tensor **map,
                                                       pneumo_gradcam_info *info);

#ifdef __cplusplus
}
#endif

#endif /* PNEUMO_ENSEMBLE_H */
