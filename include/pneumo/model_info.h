/* libpneumo — what a model file carries for serving: class names, input
 * preprocessing, the operating threshold and provenance.
 *
 * Every model holds this "model card". A new model starts with the defaults
 * (class names "NORMAL" / "PNEUMONIA" as the article's app prints them,
 * grayscale input at the model's input size, PIL nearest resize, rescale
 * 1/255, threshold 0.5, provenance unknown); pneumo_model_fit() fills the
 * provenance, pneumo_model_save() writes the card into the file's metadata
 * (docs/model-format.md, key "model_card") and pneumo_model_load() reads it
 * back. Files written before the card existed load with the defaults.
 *
 * pneumo_model_predict_image(), pneumo_model_evaluate() callers, the
 * programs and the server use the card: the preprocessing decides how an
 * image becomes the input tensor, the threshold turns a probability into a
 * label.
 *
 * Thread-safety: the getters only read and may run concurrently with each
 * other and with inference on the same model; the setters modify the model and
 * need the same exclusive use as training. */
#ifndef PNEUMO_MODEL_INFO_H
#define PNEUMO_MODEL_INFO_H

#include "pneumo/common.h"
#include "pneumo/image.h"
#include "pneumo/model.h"

#ifdef __cplusplus
extern "C" {
#endif

/** Longest class name, in bytes without the terminating NUL. */
#define PNEUMO_CLASS_NAME_MAX 63

/** Colour mode of the model's input (only grayscale today). */
typedef enum pneumo_color_mode {
    PNEUMO_COLOR_GRAYSCALE = 0 /**< PIL convert('L'), one channel */
} pneumo_color_mode;

/** How an image becomes the model's input. Fill with
 *  pneumo_preprocessing_default() before setting fields. */
typedef struct pneumo_preprocessing {
    uint32_t size;      /**< sizeof(pneumo_preprocessing); set by the default function */
    int32_t height;     /**< input height; the model's own (read-only: a setter checks it, 0 = the model's) */
    int32_t width;      /**< input width; as height */
    int32_t color_mode; /**< pneumo_color_mode; default PNEUMO_COLOR_GRAYSCALE */
    int32_t resample;   /**< pneumo_resample of the resize to height x width; default
                              PNEUMO_RESAMPLE_NEAREST (Keras load_img) */
    float rescale;      /**< pixel value multiplier; default 1/255 */
    uint32_t reserved[8]; /**< zero */
} pneumo_preprocessing;

/** Where a model came from. Fields that are not known hold -1 (counts,
 *  epochs) or NaN (metrics). */
typedef struct pneumo_provenance {
    uint32_t size;            /**< sizeof(pneumo_provenance); set by the default function */
    int32_t epochs;           /**< epochs trained; default -1 */
    uint64_t seed;            /**< the model's seed (read-only: always the model's own) */
    int64_t class_counts[2];  /**< training images of class 0 and 1; default -1, -1 */
    double val_loss;          /**< validation loss at save time; default NaN */
    double val_accuracy;      /**< validation accuracy at save time; default NaN */
    double val_auc;           /**< validation ROC AUC at save time; default NaN */
    char library_version[32]; /**< version of the library that wrote the file, "" for a model
                                     never saved (read-only) */
    uint32_t reserved[8];     /**< zero */
} pneumo_provenance;

/** Fill `p` with the defaults stated on its fields (height, width 0). NULL is a no-op. */
PNEUMO_API void pneumo_preprocessing_default(pneumo_preprocessing *p);

/** Fill `p` with the defaults stated on its fields. NULL is a no-op. */
PNEUMO_API void pneumo_provenance_default(pneumo_provenance *p);

/** The model's preprocessing into *out (height and width are the input
 *  shape's). `out->size` must be set (use pneumo_preprocessing_default()).
 *  Errors: INVALID_ARG. */
PNEUMO_API pneumo_status pneumo_model_preprocessing(const pneumo_model *m, pneumo_preprocessing *out);

/** Set the preprocessing. height and width must be 0 or the model's input
 *  size, rescale finite and > 0, resample a pneumo_resample, reserved zero.
 *  Errors: INVALID_ARG (naming the field), UNSUPPORTED (a colour mode this
 *  build lacks), STATE (the model's input has more than one channel). */
PNEUMO_API pneumo_status pneumo_model_set_preprocessing(pneumo_model *m, const pneumo_preprocessing *p);

/** Number of classes the model tells apart (2 for a single sigmoid output). */
PNEUMO_API int32_t pneumo_model_num_classes(const pneumo_model *m);

/** Name of class `index` (0-based), written into buf (see pneumo/common.h).
 *  Errors: INVALID_ARG (NULL model, index out of range, NULL buf with size > 0). */
PNEUMO_API pneumo_status pneumo_model_class_name(const pneumo_model *m, int32_t index, char *buf, size_t size,
                                                 size_t *needed);

/** Set the class names: `count` (= pneumo_model_num_classes()) non-empty
 *  UTF-8 strings of at most PNEUMO_CLASS_NAME_MAX bytes without control
 *  characters, copied. Errors: INVALID_ARG naming the bad name. */
PNEUMO_API pneumo_status pneumo_model_set_class_names(pneumo_model *m, int32_t count,
                                                      const char *const *names);

/** Class `index`'s name as the diagnosis prints it: a name without
 *  lower-case letters is capitalised ("PNEUMONIA" -> "Pneumonia"), any other
 *  is kept as given. Written into buf as pneumo_model_info_json() does.
 *  Errors: INVALID_ARG (NULL model, index out of range). */
PNEUMO_API pneumo_status pneumo_model_class_label(const pneumo_model *m, int32_t index, char *buf,
                                                  size_t size, size_t *needed);

/** Operating threshold: a probability of class 1 at or above it is class 1
 *  (the article's "p >= 0.5"). Default 0.5. */
PNEUMO_API float pneumo_model_threshold(const pneumo_model *m);

/** Set the operating threshold (0 < threshold < 1). Errors: INVALID_ARG. */
PNEUMO_API pneumo_status pneumo_model_set_threshold(pneumo_model *m, float threshold);

/** Smallest and largest temperature pneumo_model_set_temperature() takes. */
#define PNEUMO_TEMPERATURE_MIN 0.01f
#define PNEUMO_TEMPERATURE_MAX 100.0f

/** Temperature of the output: inference (predict, predict_image,
 *  evaluate, the programs, the server) reports sigmoid(z / T) for the last
 *  layer's logit z, PyTorch's and Guo et al.'s temperature scaling. Training
 *  ignores it (the loss sees sigmoid(z)). Default 1: no scaling. */
PNEUMO_API float pneumo_model_temperature(const pneumo_model *m);

/** Set the temperature, PNEUMO_TEMPERATURE_MIN <= T <= PNEUMO_TEMPERATURE_MAX;
 *  saved in the model card. Fit it on validation data with
 *  pneumo_fit_temperature() (pneumo/metrics.h), never on the test set.
 *  Errors: INVALID_ARG (NULL model, T out of range or NaN), STATE (the model
 *  does not end in one sigmoid unit). */
PNEUMO_API pneumo_status pneumo_model_set_temperature(pneumo_model *m, float temperature);

/** The model's provenance into *out (`out->size` must be set).
 *  Errors: INVALID_ARG. */
PNEUMO_API pneumo_status pneumo_model_provenance(const pneumo_model *m, pneumo_provenance *out);

/** Set the provenance fields epochs, class_counts and the validation metrics
 *  (seed and library_version are ignored: they are the model's own).
 *  Errors: INVALID_ARG (size not set, reserved not zero, a count below -1). */
PNEUMO_API pneumo_status pneumo_model_set_provenance(pneumo_model *m, const pneumo_provenance *p);

/** The whole card as one JSON object (class_names, preprocessing, threshold,
 *  provenance, plus input_shape, num_params, train_steps; docs/model-format.md)
 *  into buf (NUL-terminated; truncated if needed; buf may be NULL when size is
 *  0). *needed (may be NULL) receives the full length without the NUL.
 *  Errors: INVALID_ARG. */
PNEUMO_API pneumo_status pneumo_model_info_json(const pneumo_model *m, char *buf, size_t size,
                                                size_t *needed);

/* ---- training settings ---- */

/** Longest training-settings text in bytes (without the NUL). */
#define PNEUMO_TRAINING_SETTINGS_MAX 4095

/** Record how the model is trained: free text the training program chooses
 *  (pneumo-train writes one `key=value` line per setting), at most
 *  PNEUMO_TRAINING_SETTINGS_MAX bytes of UTF-8 without control characters
 *  other than newline and tab. Saved in the model card's provenance with every
 *  save (checkpoints included) and loaded back, so that a resumed run can take
 *  its settings from the checkpoint; "" (the default) records nothing.
 *  Errors: INVALID_ARG (NULL, too long, a control character). */
PNEUMO_API pneumo_status pneumo_model_set_training_settings(pneumo_model *m, const char *text);

/** The recorded training settings ("" when none, also for files written before
 *  they existed), in the library's string convention: copied into buf like
 *  snprintf, with their full length in *needed (may be NULL).
 *  Errors: INVALID_ARG (NULL model, or NULL buf with a non-zero size). */
PNEUMO_API pneumo_status pneumo_model_training_settings(const pneumo_model *m, char *buf, size_t size,
                                                        size_t *needed);

/** Youden's J threshold for `n` probabilities of class 1 and their labels
 *  (0 or 1): the probability cut t maximising TPR - FPR, where "p > t" is
 *  class 1. Ties go to the cut nearest 0.5. t is placed midway between the
 *  two neighbouring distinct probabilities so that it sits strictly inside
 *  (0, 1). Choose it on validation data, never on the test set.
 *  Errors: INVALID_ARG (NULL, n < 2, a label not 0/1, a probability outside
 *  [0, 1]), STATE (only one class present). */
PNEUMO_API pneumo_status pneumo_youden_threshold(const float *probs, const float *labels, int64_t n,
                                                 float *threshold);

/** The threshold that reaches a target sensitivity (recall of class 1) on
 *  `n` probabilities and labels: the highest cut t with TPR >= `sensitivity`
 *  when "p > t" is class 1 (so the specificity is the best that sensitivity
 *  allows), placed midway between neighbouring distinct probabilities as
 *  pneumo_youden_threshold() does. Choose it on validation data.
 *  Errors: INVALID_ARG (as pneumo_youden_threshold(), sensitivity outside
 *  (0, 1]), STATE (only one class present). */
PNEUMO_API pneumo_status pneumo_sensitivity_threshold(const float *probs, const float *labels, int64_t n,
                                                      double sensitivity, float *threshold);

/** The sentence the article's web app prints for a probability p of class 1
 *  against the model's threshold: "I am 97.31% percent confirmed that this is
 *  a Pneumonia case" (p >= threshold: 100 * p, class 1's name) or "... that this
 *  is a Normal case" (100 * (1 - p), class 0's name), each name as
 *  pneumo_model_class_label() shows it. Written into buf as
 *  pneumo_model_info_json() does; *label (may be NULL) receives the class.
 *  Errors: INVALID_ARG (NULL model, p outside [0, 1]). */
PNEUMO_API pneumo_status pneumo_model_diagnosis_sentence(const pneumo_model *m, float p, char *buf,
                                                         size_t size, size_t *needed, int32_t *label);

#ifdef __cplusplus
}
#endif

#endif /* PNEUMO_MODEL_INFO_H */
