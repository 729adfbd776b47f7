/* GlobalAveragePooling2D: (H, W, C) -> (C), each channel's mean over the
 * pixels (Keras' reduce_mean over axes 1 and 2). */
#include <string.h>

#include "core/error.h"
#include "layers/layer.h"

static pneumo_status gap_forward(pn_layer *l, const pn_run *run, int32_t n, const float *x, float *y)
{
    run->k->gap_fwd(n, l->in.h * l->in.w, l->in.c, x, y);
    return PNEUMO_OK;
}

static pneumo_status gap_backward(pn_layer *l, const pn_run *run, int32_t n, const float *x, const float *y,
                                  float *dy, float *dx)
{
    (void)x;
    (void)y;
    if (dx)
        run->k->gap_bwd(n, l->in.h * l->in.w, l->in.c, dy, dx);
    return PNEUMO_OK;
}

static const pn_layer_ops gap2d_ops = {
    .keras_class = "GlobalAveragePooling2D",
    .base_name = "global_average_pooling2d",
    .forward = gap_forward,
    .backward = gap_backward,
};

pneumo_status pn_gap2d_setup(pn_layer *l, const pn_dims *in)
{
    memset(l, 0, sizeof *l);
    if (in->rank != 3)
        return pn_error(PNEUMO_ERR_SHAPE,
                        "GlobalAveragePooling2D: input (None, %d) is flat; it needs (None, H, W, C)", in->c);
    l->ops = &gap2d_ops;
    l->kind = PN_LAYER_GAP2D;
    l->in = *in;
    l->out = (pn_dims){1, 1, 1, in->c};
    return PNEUMO_OK;
}
