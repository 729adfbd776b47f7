/* libpneumo — sequential models: build, predict, train, summarise, save, load.
 *
 * A model is a stack of layers on a fixed input shape (H, W, C). Layers are added
 * in order; each layer's weights are initialised as it is added, Keras-style
 * (glorot_uniform kernels, zero biases), from a generator derived from the
 * model's seed and the layer's position, so the same seed gives the same weights.
 *
 * Thread-safety: a model handle is used by one thread at a time (predict and
 * training reuse its internal buffers); different handles may be used
 * concurrently. To serve one set of weights from many threads, give each
 * thread an inference clone (pneumo_model_clone_inference()): clones share
 * the source's weights read-only and hold only their own buffers, so the
 * source and all its clones may run inference calls (predict, predict_image,
 * predict_file, evaluate, Grad-CAM, the getters) at the same time, one call
 * per handle. While a clone exists, calls that change the weights or layers
 * of any handle sharing them fail with PNEUMO_ERR_STATE. */
#ifndef PNEUMO_MODEL_H
#define PNEUMO_MODEL_H

#include "pneumo/common.h"
#include "pneumo/image.h"
#include "pneumo/optim.h"
#include "pneumo/tensor.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct pneumo_model pneumo_model;

/** Activation applied after a layer (fused into Conv2D and Dense). */
typedef enum pneumo_activation {
    PNEUMO_ACT_LINEAR = 0, /**< identity (Keras None / 'linear') */
    PNEUMO_ACT_RELU = 1,
    PNEUMO_ACT_SIGMOID = 2,
    PNEUMO_ACT_TANH = 3
} pneumo_activation;

/** Padding mode, as Keras' padding='valid' / 'same'. */
typedef enum pneumo_padding { PNEUMO_PADDING_VALID = 0, PNEUMO_PADDING_SAME = 1 } pneumo_padding;

/** Conv2D settings; fill with pneumo_conv2d_default_params() then set filters. */
typedef struct pneumo_conv2d_params {
    uint32_t size;              /**< sizeof(pneumo_conv2d_params); set by the default function */
    int32_t filters;            /**< output channels, 1..65536; no default (0 is an error) */
    int32_t kernel_h, kernel_w; /**< default 3, 3 */
    int32_t stride_h, stride_w; /**< default 1, 1 */
    int32_t padding;            /**< pneumo_padding; default PNEUMO_PADDING_VALID */
    int32_t activation;         /**< pneumo_activation; default PNEUMO_ACT_LINEAR */
    int32_t use_bias;           /**< default 1 */
    uint32_t reserved[8];       /**< zero */
} pneumo_conv2d_params;

/** MaxPooling2D settings; fill with pneumo_maxpool2d_default_params(). */
typedef struct pneumo_maxpool2d_params {
    uint32_t size;              /**< sizeof(pneumo_maxpool2d_params); set by the default function */
    int32_t pool_h, pool_w;     /**< default 2, 2 */
    int32_t stride_h, stride_w; /**< default 0, 0 = same as the pool size (Keras strides=None) */
    int32_t padding;            /**< pneumo_padding; default PNEUMO_PADDING_VALID */
    uint32_t reserved[8];       /**< zero */
} pneumo_maxpool2d_params;

/** BatchNormalization settings (Keras' defaults); fill with
 *  pneumo_batchnorm_default_params(). gamma starts at 1, beta at 0, the moving
 *  mean at 0 and the moving variance at 1, as in Keras. */
typedef struct pneumo_batchnorm_params {
    uint32_t size;        /**< sizeof(pneumo_batchnorm_params); set by the default function */
    int32_t axis;         /**< default -1: the channels (last) axis, the only one accepted */
    float momentum;       /**< moving-statistics momentum in [0, 1]; default 0.99 */
    float epsilon;        /**< added to the variance, > 0; default 1e-3 */
    int32_t center;       /**< learn beta (else 0); default 1 */
    int32_t scale;        /**< learn gamma (else 1); default 1 */
    uint32_t reserved[8]; /**< zero */
} pneumo_batchnorm_params;

/** Loss and accuracy of one batch. */
typedef struct pneumo_step_result {
    double loss;        /**< weighted binary cross-entropy: sum(w_i * l_i) / N */
    double accuracy;    /**< fraction of samples with (p > 0.5) == label */
    int64_t batch_size; /**< N */
    uint32_t reserved[4];
} pneumo_step_result;

/** Fill `p` with defaults (see the field comments). NULL is a no-op. */
PNEUMO_API void pneumo_conv2d_default_params(pneumo_conv2d_params *p);

/** Fill `p` with defaults (see the field comments). NULL is a no-op. */
PNEUMO_API void pneumo_maxpool2d_default_params(pneumo_maxpool2d_params *p);

/** Fill `p` with defaults (see the field comments). NULL is a no-op. */
PNEUMO_API void pneumo_batchnorm_default_params(pneumo_batchnorm_params *p);

/** Create an empty sequential model for inputs of shape (height, width,
 *  channels); `seed` fixes weight initialisation and dropout masks. The caller
 *  owns *out (pneumo_model_destroy). Errors: INVALID_ARG, LIMIT (a side above
 *  16384, more than 65536 channels, or more than 2^28 values per sample), NOMEM. */
PNEUMO_API pneumo_status pneumo_model_create(int32_t height, int32_t width, int32_t channels, uint64_t seed,
                                             pneumo_model **out);

/** Create the article's CNN for size x size x 1 inputs: five Conv2D(3x3, relu)
 *  + MaxPooling2D(2) blocks with 32, 32, 32, 64, 64 filters, Flatten,
 *  Dense(128, relu), Dense(64, relu), Dense(1, sigmoid). size 500 gives
 *  1,467,137 parameters. Errors as pneumo_model_create; SHAPE if size is too
 *  small for five blocks (minimum 94). */
PNEUMO_API pneumo_status pneumo_model_create_article(int32_t size, uint64_t seed, pneumo_model **out);

/** Free a model. NULL is a no-op. Weights shared with inference clones are
 *  freed with the last handle that uses them. */
PNEUMO_API void pneumo_model_destroy(pneumo_model *m);

/** An inference clone of `m`: a new handle with m's layers, model card
 *  (model_info.h) and seed that shares m's weights (not copied; reference
 *  counted, so `m` may be destroyed first) and owns only its own activation
 *  buffers. The clone runs on 1 thread unless pneumo_model_set_threads() says
 *  otherwise, and gives results bit-identical to `m` for the same inputs
 *  (inference does not depend on the thread count). While a clone exists,
 *  training steps, pneumo_model_compute_gradients and adding layers fail
 *  with PNEUMO_ERR_STATE on every handle sharing the weights;
 *  writing through pneumo_model_param() views is the caller's to avoid.
 *  `m` is only read (it may run inference on another thread meanwhile).
 *  *out is owned by the caller (pneumo_model_destroy).
 *  Errors: INVALID_ARG, STATE (an empty model), NOMEM. */
PNEUMO_API pneumo_status pneumo_model_clone_inference(const pneumo_model *m, pneumo_model **out);

/** Append a Conv2D layer. SHAPE if the input is not (H, W, C) or the kernel does
 *  not fit a 'valid' input; INVALID_ARG for out-of-range settings. */
PNEUMO_API pneumo_status pneumo_model_add_conv2d(pneumo_model *m, const pneumo_conv2d_params *p);

/** Append a MaxPooling2D layer ('valid' floors odd sizes, like Keras). */
PNEUMO_API pneumo_status pneumo_model_add_maxpool2d(pneumo_model *m, const pneumo_maxpool2d_params *p);

/** Append a Flatten layer: (H, W, C) -> (H*W*C) in h, w, c order (Keras). */
PNEUMO_API pneumo_status pneumo_model_add_flatten(pneumo_model *m);

/** Append a Dense layer with `units` outputs and a fused activation. The input
 *  must be flat (add Flatten after convolutions): SHAPE otherwise. */
PNEUMO_API pneumo_status pneumo_model_add_dense(pneumo_model *m, int32_t units, pneumo_activation activation);

/** Append a stand-alone activation layer. */
PNEUMO_API pneumo_status pneumo_model_add_activation(pneumo_model *m, pneumo_activation activation);

/** Append a Dropout layer (0 <= rate < 1): active in training steps only, kept
 *  units scaled by 1 / (1 - rate), masks drawn from the model's seed. */
PNEUMO_API pneumo_status pneumo_model_add_dropout(pneumo_model *m, float rate);

/** Append a BatchNormalization layer over the channels (the last axis) of a
 *  (H, W, C) or flat (C) input; `p` NULL means the defaults. Training steps
 *  normalise by the batch's mean and biased variance over N, H, W and update
 *  moving = momentum * moving + (1 - momentum) * batch (the variance unbiased,
 *  as Keras' fused kernel and PyTorch do); inference uses the moving
 *  statistics. gamma and beta are trainable, the moving statistics are not
 *  (they are not parameter tensors and no optimizer touches them). Inference
 *  folds a BatchNormalization that directly follows a Conv2D without an
 *  activation into that convolution's weights, and one followed by a 'valid'
 *  Conv2D, or by a Dense through Dropout and at most one
 *  GlobalAveragePooling2D or Flatten, into that layer's weights (the stored
 *  weights are not changed; docs/training.md). A training step normalises over
 *  the whole batch it is given, so a data-parallel part normalises over its own
 *  samples; the parts' batch statistics travel with the gradient exchange and
 *  every rank moves the moving statistics by the parts in part order, the same
 *  bits on every rank and rank count (docs/training.md). Errors: INVALID_ARG for
 *  out-of-range settings, non-zero reserved fields or a wrong size. */
PNEUMO_API pneumo_status pneumo_model_add_batchnorm(pneumo_model *m, const pneumo_batchnorm_params *p);

/** Append a GlobalAveragePooling2D layer: (H, W, C) -> (C), the mean over the
 *  pixels of each channel (Keras). SHAPE if the input is flat. */
PNEUMO_API pneumo_status pneumo_model_add_global_avgpool2d(pneumo_model *m);

/** Use `threads` threads (1..64; 0 = the online cores, the default) for this
 *  model's forward and backward passes. Results are bit-identical for a fixed
 *  thread count (parameter gradients are summed in a fixed order); forward
 *  results do not depend on it at all. The threads belong to the model and end
 *  with pneumo_model_destroy(). */
PNEUMO_API pneumo_status pneumo_model_set_threads(pneumo_model *m, int32_t threads);

/** Threads the model uses (the online cores unless set). */
PNEUMO_API int32_t pneumo_model_threads(const pneumo_model *m);

/** Number of layers, 0 for NULL. */
PNEUMO_API int32_t pneumo_model_num_layers(const pneumo_model *m);

/** Input shape per sample into h, w, c (any may be NULL). */
PNEUMO_API pneumo_status pneumo_model_input_shape(const pneumo_model *m, int32_t *h, int32_t *w, int32_t *c);

/** Number of values the model outputs per sample (1 for the article's model),
 *  0 for NULL or an empty model. */
PNEUMO_API int64_t pneumo_model_output_size(const pneumo_model *m);

/** Total number of trainable parameters (1,467,137 for the article at 500). */
PNEUMO_API int64_t pneumo_model_num_params(const pneumo_model *m);

/** Number of parameter tensors (kernel and bias of each Conv2D/Dense layer). */
PNEUMO_API int32_t pneumo_model_num_param_tensors(const pneumo_model *m);

/** Name of parameter tensor `index`, e.g. "conv2d_1/kernel" (see
 *  docs/model-format.md), written into buf (see pneumo/common.h).
 *  Errors: INVALID_ARG (NULL model, index out of range, NULL buf with size > 0). */
PNEUMO_API pneumo_status pneumo_model_param_name(const pneumo_model *m, int32_t index, char *buf, size_t size,
                                                 size_t *needed);

/** A tensor handle viewing parameter tensor `index` in place (Keras layout:
 *  conv kernels (kh, kw, cin, cout), dense kernels (in, out), biases (out)).
 *  Writing through it changes the model. The caller destroys the handle (which
 *  never frees the model's memory) and must not use it after the model is
 *  destroyed. */
PNEUMO_API pneumo_status pneumo_model_param(pneumo_model *m, int32_t index, pneumo_tensor **out);

/** Gradient of the last pneumo_model_compute_gradients() or training step for
 *  parameter tensor `index`, as a view like pneumo_model_param(). */
PNEUMO_API pneumo_status pneumo_model_grad(pneumo_model *m, int32_t index, pneumo_tensor **out);

/** Forward pass in inference mode: x is (N, H, W, C) matching the input shape;
 *  out must be a caller tensor of shape (N, output_size) and receives the last
 *  layer's outputs (probabilities for a sigmoid output). Inference (this,
 *  evaluation, predict_image) runs 'valid' 3x3 stride-1 Conv2D + 2x2
 *  MaxPooling2D pairs with at least 8 input channels by Winograd's F(4x4, 3x3),
 *  whose sums differ from a training step's direct convolution by rounding
 *  only (a few 1e-6 of the layer's values); a sample's result depends neither
 *  on the thread count nor on the rest of the batch. */
PNEUMO_API pneumo_status pneumo_model_predict(pneumo_model *m, const pneumo_tensor *x, pneumo_tensor *out);

/** Probability of class 1 for one decoded image, preprocessed exactly as the
 *  dataset pipeline does without augmentation: nearest resize to the model's
 *  input size (Keras load_img), pixels times 1/255. The model must take one
 *  channel and give one output. */
PNEUMO_API pneumo_status pneumo_model_predict_image(pneumo_model *m, const pneumo_image *img, float *prob);

/** As pneumo_model_predict_image() for a JPEG, PNG or DICOM file; decoding errors name
 *  the file. */
PNEUMO_API pneumo_status pneumo_model_predict_file(pneumo_model *m, const char *path, float *prob);

/** Forward and backward pass without an update: fills the gradients of the
 *  weighted binary cross-entropy for x (N, H, W, C), labels (N) or (N, 1) in
 *  {0, 1} (fractional targets allowed), and optional per-sample weights (N) or
 *  NULL (all 1). The model must end in a single sigmoid unit (STATE otherwise).
 *  `result` (may be NULL) receives loss and accuracy. */
PNEUMO_API pneumo_status pneumo_model_compute_gradients(pneumo_model *m, const pneumo_tensor *x,
                                                        const pneumo_tensor *labels,
                                                        const pneumo_tensor *sample_weights,
                                                        pneumo_step_result *result);

/** One training step: pneumo_model_compute_gradients() then an optimizer update.
 *  The optimizer binds to this model at its first step. */
PNEUMO_API pneumo_status pneumo_model_train_step(pneumo_model *m, pneumo_optimizer *opt,
                                                 const pneumo_tensor *x, const pneumo_tensor *labels,
                                                 const pneumo_tensor *sample_weights,
                                                 pneumo_step_result *result);

/** Loss and accuracy of a batch in inference mode (no dropout, no update). */
PNEUMO_API pneumo_status pneumo_model_evaluate_batch(pneumo_model *m, const pneumo_tensor *x,
                                                     const pneumo_tensor *labels,
                                                     const pneumo_tensor *sample_weights,
                                                     pneumo_step_result *result);

/** Write a Keras-style summary (layer table, output shapes, parameter counts,
 *  "Total params: 1,467,137") through `write` (called once with the whole
 *  text, see pneumo_write_fn). Errors: INVALID_ARG (NULL model or write),
 *  NOMEM, or the status `write` returned. */
PNEUMO_API pneumo_status pneumo_model_summary(const pneumo_model *m, pneumo_write_fn write, void *user);

/** Write the summary into buf (NUL-terminated, truncated if needed; buf may be
 *  NULL when size is 0). *needed (may be NULL) receives the full length
 *  without the NUL, so a caller can size a buffer with a first call. */
PNEUMO_API pneumo_status pneumo_model_summary_string(const pneumo_model *m, char *buf, size_t size,
                                                     size_t *needed);

/** Save architecture, weights and, if `opt` is not NULL, the optimizer's
 *  settings and state to `path` (safetensors layout, docs/model-format.md).
 *  Atomic: written to a temporary file in the same directory, synced, then
 *  renamed over `path`; on failure the previous file is untouched. */
PNEUMO_API pneumo_status pneumo_model_save(const pneumo_model *m, const pneumo_optimizer *opt,
                                           const char *path);

/** Load a model saved by pneumo_model_save(). *model receives a new model owned
 *  by the caller. If `opt` is not NULL, *opt receives the saved optimizer (owned
 *  by the caller and bound to *model) or NULL if the file has none. Every field
 *  is validated; corrupt, truncated or hostile files give FORMAT or LIMIT errors
 *  naming the file and the problem. */
PNEUMO_API pneumo_status pneumo_model_load(const char *path, pneumo_model **model, pneumo_optimizer **opt);

/** As pneumo_model_load(), from `size` bytes at `data` (not retained). */
PNEUMO_API pneumo_status pneumo_model_load_memory(const void *data, size_t size, pneumo_model **model,
                                                  pneumo_optimizer **opt);

#ifdef __cplusplus
}
#endif

#endif /* PNEUMO_MODEL_H */
