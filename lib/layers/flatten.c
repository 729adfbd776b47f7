/* Flatten: NHWC is already (h, w, c)-ordered in memory, so this is a copy. */
#include <string.h>

#include "core/error.h"
#include "layers/layer.h"

static pneumo_status flatten_forward(pn_layer *l, const pn_run *run, int32_t n, const float *x, float *y)
{
    (void)run;
    memcpy(y, x, (size_t)n * (size_t)pn_dims_size(&l->out) * sizeof(float));
    return PNEUMO_OK;
}

static pneumo_status flatten_backward(pn_layer *l, const pn_run *run, int32_t n, const float *x,
                                      const float *y, float *dy, float *dx)
{
    (void)run;
    (void)x;
    (void)y;
    if (dx)
        memcpy(dx, dy, (size_t)n * (size_t)pn_dims_size(&l->out) * sizeof(float));
    return PNEUMO_OK;
}

static const pn_layer_ops flatten_ops = {
    .keras_class = "Flatten",
    .base_name = "flatten",
    .forward = flatten_forward,
    .backward = flatten_backward,
    .destroy = NULL,
};

pneumo_status pn_flatten_setup(pn_layer *l, const pn_dims *in)
{
    int64_t size = pn_dims_size(in);
    memset(l, 0, sizeof *l);
    l->ops = &flatten_ops;
    l->kind = PN_LAYER_FLATTEN;
    l->in = *in;
    l->out = (pn_dims){1, 1, 1, (int32_t)size};
    return PNEUMO_OK;
}
