/* Internal view of pneumo_tensor, shared by the model and the data pipeline. */
#ifndef PN_CORE_TENSOR_H
#define PN_CORE_TENSOR_H

#include "pneumo/tensor.h"

struct pneumo_tensor {
    int ndim;
    int64_t shape[PNEUMO_MAX_DIMS];
    int64_t numel;
    float *data;
    int owns_data;
};

/* Most elements a tensor may hold (2^31): keeps every index in int64 and every
 * byte count far from overflow. */
#define PN_TENSOR_MAX_NUMEL ((int64_t)1 << 31)

/* Validate a shape; on success *numel receives the element count. `what`
 * names the caller in the error message. */
pneumo_status pn_shape_check(int ndim, const int64_t *shape, int64_t *numel, const char *what);

/* Format "(2, 3)" for error messages. */
const char *pn_shape_format(int ndim, const int64_t *shape, char *buf, size_t size);

/* Fill a tensor struct on the stack that views `data` (no allocation). */
void pn_tensor_view(pneumo_tensor *t, int ndim, const int64_t *shape, float *data);

#endif
