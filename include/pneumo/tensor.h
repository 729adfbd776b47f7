/* libpneumo — tensors.
 *
 * A pneumo_tensor is a dense float32 array of 1 to 4 dimensions. Images and
 * activations use (N, H, W, C) order with channels innermost, like Keras'
 * channels_last. Data is contiguous, row-major (last axis fastest).
 *
 * Thread-safety: a tensor may be read from several threads at once; writing it
 * while another thread uses it is a data race. */
#ifndef PNEUMO_TENSOR_H
#define PNEUMO_TENSOR_H

#include "pneumo/common.h"

#ifdef __cplusplus
extern "C" {
#endif

/** Most dimensions a tensor can have. */
#define PNEUMO_MAX_DIMS 4

typedef struct pneumo_tensor pneumo_tensor;

/** Create a zero-filled tensor of `ndim` (1..4) dimensions `shape[0..ndim-1]`
 *  (each >= 1). On success *out receives a tensor the caller owns and frees
 *  with pneumo_tensor_destroy(). Errors: INVALID_ARG (NULL, bad ndim or
 *  dimension), LIMIT (more than 2^31 elements), NOMEM. */
PNEUMO_API pneumo_status pneumo_tensor_create(int ndim, const int64_t *shape, pneumo_tensor **out);

/** Wrap caller memory `data` (`count` floats, at least prod(shape), suitably
 *  aligned for float) without copying. The caller keeps ownership of `data` and
 *  must keep it alive until the tensor is destroyed; destroying the tensor does
 *  not free it. Errors: as pneumo_tensor_create(); INVALID_ARG (NULL data,
 *  count below prod(shape), naming the length needed). */
PNEUMO_API pneumo_status pneumo_tensor_wrap(int ndim, const int64_t *shape, float *data, size_t count,
                                            pneumo_tensor **out);

/** Deep copy of `src` into a new tensor owned by the caller (data always owned by
 *  the copy, even if `src` wraps caller memory). */
PNEUMO_API pneumo_status pneumo_tensor_clone(const pneumo_tensor *src, pneumo_tensor **out);

/** Copy the values of `src` into `dst`; shapes must be equal (SHAPE error
 *  otherwise, naming both shapes). */
PNEUMO_API pneumo_status pneumo_tensor_copy(pneumo_tensor *dst, const pneumo_tensor *src);

/** Free a tensor created by this library. NULL is a no-op. */
PNEUMO_API void pneumo_tensor_destroy(pneumo_tensor *t);

/** Number of dimensions, or 0 for NULL. */
PNEUMO_API int pneumo_tensor_ndim(const pneumo_tensor *t);

/** Size of dimension `axis` (negative counts from the end), or 0 if `t` is NULL
 *  or `axis` is out of range. */
PNEUMO_API int64_t pneumo_tensor_dim(const pneumo_tensor *t, int axis);

/** Copy the shape into `shape[0..ndim-1]`, a caller array of `capacity`
 *  entries (PNEUMO_MAX_DIMS are always enough), and return ndim; 0 for NULL
 *  arguments or a capacity below ndim (nothing written then). */
PNEUMO_API int pneumo_tensor_shape(const pneumo_tensor *t, int64_t *shape, size_t capacity);

/** Total number of elements, or 0 for NULL. */
PNEUMO_API int64_t pneumo_tensor_numel(const pneumo_tensor *t);

/** Pointer to the first element, owned by the tensor (or by the caller for a
 *  wrapped tensor); valid until the tensor is destroyed. NULL for NULL. */
PNEUMO_API float *pneumo_tensor_data(pneumo_tensor *t);

/** Read-only variant of pneumo_tensor_data(). */
PNEUMO_API const float *pneumo_tensor_data_const(const pneumo_tensor *t);

/** The shape as "(2, 500, 500, 1)", written into buf (see pneumo/common.h).
 *  Errors: INVALID_ARG (NULL tensor, NULL buf with size > 0). */
PNEUMO_API pneumo_status pneumo_tensor_shape_str(const pneumo_tensor *t, char *buf, size_t size,
                                                 size_t *needed);

#ifdef __cplusplus
}
#endif

#endif /* PNEUMO_TENSOR_H */
