/* libpneumo — other frameworks' model files: ONNX export, Keras HDF5 import.
 *
 * ONNX: pneumo_model_export_onnx() writes a standard ONNX graph (opset 13 by
 * default) that ONNX Runtime, OpenCV's dnn, TensorRT and OpenVINO read. The
 * graph's input "input" is float32 (N, H, W, C) like libpneumo's own tensors
 * (PNEUMO_ONNX_NHWC, the default; a Transpose to NCHW follows it inside the
 * graph) or (N, C, H, W) (PNEUMO_ONNX_NCHW, no transpose at the input), with N
 * symbolic ("N"). Inputs are preprocessed already (pixel values times the
 * model card's rescale, 1/255 by default). Its output "probability" is the last
 * layer's output (N, units), after the model's own sigmoid; with a model card
 * temperature T != 1 (pneumo_model_set_temperature()) and a single sigmoid
 * unit at the end, the graph divides the last logit by T before the sigmoid
 * (a Div node), so "probability" is the calibrated sigmoid(z / T) predict
 * returns and the stored threshold applies to it. Before Flatten the graph transposes back to
 * NHWC so that Flatten's (h, w, c) order, and with it the Dense kernels, stay
 * those of libpneumo and Keras. BatchNormalization becomes an ONNX
 * BatchNormalization on the moving statistics (gamma 1 / beta 0 without scale
 * / center), GlobalAveragePooling2D a GlobalAveragePool and a Flatten to
 * (N, C). Dropout layers are left out (inference). The model card goes into
 * metadata_props (keys "class_names", "threshold", "preprocessing",
 * "input_layout", "model_card"; docs/interoperability.md).
 *
 * Keras: pneumo_model_import_keras_h5() reads a Keras 2 / tf.keras HDF5 model
 * file (model.save("m.h5")): a Sequential model of the layers libpneumo has.
 * It needs libhdf5; a build without it (meson -Dhdf5=disabled) still has the
 * function, which then fails with PNEUMO_ERR_UNSUPPORTED.
 *
 * Thread-safety: the export only reads the model (it may run concurrently
 * with inference on the same handle or its clones); the import creates new
 * objects and may run on any thread, but libhdf5 built without its
 * thread-safe option (Debian's default) serialises nothing itself: do not run
 * two imports at once. */
#ifndef PNEUMO_INTEROP_H
#define PNEUMO_INTEROP_H

#include "pneumo/common.h"
#include "pneumo/model.h"
#include "pneumo/optim.h"

#ifdef __cplusplus
extern "C" {
#endif

/** Layout of the ONNX graph's input tensor. */
typedef enum pneumo_onnx_layout {
    PNEUMO_ONNX_NHWC = 0, /**< (N, H, W, C), libpneumo's and Keras' own; the graph transposes */
    PNEUMO_ONNX_NCHW = 1  /**< (N, C, H, W), PyTorch's and OpenCV blobFromImage's */
} pneumo_onnx_layout;

/** ONNX export settings; fill with pneumo_onnx_options_default(). */
typedef struct pneumo_onnx_options {
    uint32_t size;        /**< sizeof(pneumo_onnx_options); set by the default function */
    int32_t input_layout; /**< pneumo_onnx_layout; default PNEUMO_ONNX_NHWC */
    int32_t opset;        /**< ONNX opset version, 13..21; default 13 */
    int32_t batch;        /**< fixed batch size, or 0 for a symbolic "N"; default 0 */
    uint32_t reserved[8]; /**< zero */
} pneumo_onnx_options;

/** Fill `o` with the defaults stated on its fields. NULL is a no-op. */
PNEUMO_API void pneumo_onnx_options_default(pneumo_onnx_options *o);

/** Write `m` as an ONNX model to `path` (atomically, like pneumo_model_save).
 *  `opt` may be NULL (the defaults). Errors: INVALID_ARG (NULL model or path,
 *  a bad option or non-zero reserved field, named), STATE (an empty model),
 *  LIMIT (a graph over protobuf's 2 GiB), NOMEM, IO (naming the path). */
PNEUMO_API pneumo_status pneumo_model_export_onnx(const pneumo_model *m, const pneumo_onnx_options *opt,
                                                  const char *path);

/** As pneumo_model_export_onnx(), into `size` bytes at `buf`. *needed (may
 *  be NULL) receives the file's length. With buf NULL and size 0 only the
 *  length is computed (PNEUMO_OK); a buffer smaller than the file gives
 *  PNEUMO_ERR_LIMIT and leaves buf unwritten. */
PNEUMO_API pneumo_status pneumo_model_export_onnx_memory(const pneumo_model *m,
                                                         const pneumo_onnx_options *opt, void *buf,
                                                         size_t size, size_t *needed);

/** The model's architecture as JSON, the "architecture" entry of its model
 *  file (docs/model-format.md: input_shape and per layer class, name and
 *  settings such as filters, kernel_size, units, activation, rate), for
 *  bindings and converters. Written into buf as pneumo_model_info_json()
 *  does (NUL-terminated, truncated if needed; buf may be NULL when size is
 *  0; *needed, may be NULL, receives the full length). Only reads the model.
 *  Errors: INVALID_ARG, NOMEM. */
PNEUMO_API pneumo_status pneumo_model_architecture_json(const pneumo_model *m, char *buf, size_t size,
                                                        size_t *needed);

/** Read a Keras 2 / tf.keras HDF5 model file (the "model_config" JSON
 *  attribute and the "model_weights" groups, as Keras' hdf5_format writes
 *  them) into a new model owned by the caller (*model). Supported: a
 *  Sequential model with an input shape (H, W, C), channels_last, of Conv2D,
 *  MaxPooling2D, BatchNormalization (over the channels axis; gamma, beta,
 *  moving mean and variance, momentum, epsilon, center, scale),
 *  GlobalAveragePooling2D (keepdims false), Flatten, Dense, Activation,
 *  Dropout and InputLayer layers, with any layer names (the article's
 *  "conv2d_3" ... "dense_4" as well as fresh ones; weights are matched by
 *  layer name, the imported model's layers take libpneumo's names in order). If `opt` is not NULL, *opt receives the
 *  file's optimizer (Adam or SGD with its settings from "training_config" and
 *  its state from "optimizer_weights", bound to *model) or NULL if the file
 *  has none. Errors: UNSUPPORTED (a build without HDF5; another layer type,
 *  channels_first, a functional model, an activation or setting libpneumo
 *  lacks such as BatchNormalization over another axis, renorm or
 *  virtual_batch_size — each named), FORMAT (not an HDF5 file, missing or
 *  malformed config or weights, a weight of the wrong shape, a negative or
 *  non-finite BatchNormalization variance or non-finite mean — naming the
 *  layer, dataset and shape), LIMIT, NOMEM, IO.
 *  Hostile files: libpneumo bounds every shape, name and string it reads
 *  before allocating, but the HDF5 parsing itself is libhdf5's, which is
 *  not hardened against crafted files (one of 298 mutated fixtures crashed
 *  libhdf5 1.10.8 inside H5Aread); import only files you trust, or convert
 *  untrusted ones in a separate process (pneumo-convert). */
PNEUMO_API pneumo_status pneumo_model_import_keras_h5(const char *path, pneumo_model **model,
                                                      pneumo_optimizer **opt);

#ifdef __cplusplus
}
#endif

#endif /* PNEUMO_INTEROP_H */
