/* Stand-alone activation layer. */
#include <string.h>

#include "core/error.h"
#include "layers/layer.h"

static pneumo_status activation_forward(pn_layer *l, const pn_run *run, int32_t n, const float *x, float *y)
{
    size_t count = (size_t)n * (size_t)pn_dims_size(&l->out);
    if (y != x)
        memcpy(y, x, count * sizeof(float));
    if (!run->skip_act)
        run->k->act_fwd(l->act, count, y);
    return PNEUMO_OK;
}

static pneumo_status activation_backward(pn_layer *l, const pn_run *run, int32_t n, const float *x,
                                         const float *y, float *dy, float *dx)
{
    size_t count = (size_t)n * (size_t)pn_dims_size(&l->out);
    (void)x;
    if (!run->skip_act)
        run->k->act_bwd(l->act, count, y, dy);
    if (dx)
        memcpy(dx, dy, count * sizeof(float));
    return PNEUMO_OK;
}

static const pn_layer_ops activation_ops = {
    .keras_class = "Activation",
    .base_name = "activation",
    .forward = activation_forward,
    .backward = activation_backward,
    .destroy = NULL,
};

pneumo_status pn_activation_setup(pn_layer *l, const pn_dims *in, pneumo_activation act)
{
    memset(l, 0, sizeof *l);
    if (!pn_act_valid((int)act))
        return pn_error(PNEUMO_ERR_INVALID_ARG, "Activation: unknown activation %d", (int)act);
    l->ops = &activation_ops;
    l->kind = PN_LAYER_ACTIVATION;
    l->in = *in;
    l->out = *in;
    l->act = (pn_act)act;
    return PNEUMO_OK;
}
