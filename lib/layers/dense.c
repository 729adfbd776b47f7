/* Dense: (None, in) x (in, out) + bias, fused activation. */
#include <string.h>

#include "core/error.h"
#include "layers/layer.h"
#include "layers/limits.h"

static pneumo_status dense_forward(pn_layer *l, const pn_run *run, int32_t n, const float *x, float *y)
{
    run->k->dense_fwd(n, l->in.c, l->units, x, l->w, l->b, y);
    if (!run->skip_act)
        run->k->act_fwd(l->act, (size_t)n * (size_t)l->units, y);
    return PNEUMO_OK;
}

static pneumo_status dense_backward(pn_layer *l, const pn_run *run, int32_t n, const float *x, const float *y,
                                    float *dy, float *dx)
{
    if (!run->skip_act)
        run->k->act_bwd(l->act, (size_t)n * (size_t)l->units, y, dy);
    run->k->dense_bwd_weights(n, l->in.c, l->units, x, dy, run->dw ? run->dw : l->dw,
                              run->db ? run->db : l->db);
    if (dx)
        run->k->dense_bwd_data(n, l->in.c, l->units, dy, l->w, dx);
    return PNEUMO_OK;
}

static const pn_layer_ops dense_ops = {
    .keras_class = "Dense",
    .base_name = "dense",
    .forward = dense_forward,
    .backward = dense_backward,
    .destroy = NULL,
};

pneumo_status pn_dense_setup(pn_layer *l, const pn_dims *in, int32_t units, pneumo_activation act)
{
    memset(l, 0, sizeof *l);
    if (in->rank != 1)
        return pn_error(PNEUMO_ERR_SHAPE,
                        "Dense needs a flat input, got (None, %d, %d, %d); add Flatten first", in->h, in->w,
                        in->c);
    if (units < 1 || units > PN_MAX_CHANNELS)
        return pn_error(PNEUMO_ERR_INVALID_ARG, "Dense: units %d outside 1..%d", units, PN_MAX_CHANNELS);
    if (!pn_act_valid((int)act))
        return pn_error(PNEUMO_ERR_INVALID_ARG, "Dense: unknown activation %d", (int)act);
    l->nw = (int64_t)in->c * units;
    if (l->nw > PN_MAX_LAYER_PARAMS)
        return pn_error(PNEUMO_ERR_LIMIT, "Dense: kernel (%d, %d) is too large", in->c, units);
    l->ops = &dense_ops;
    l->kind = PN_LAYER_DENSE;
    l->in = *in;
    l->out = (pn_dims){1, 1, 1, units};
    l->units = units;
    l->use_bias = 1;
    l->act = (pn_act)act;
    l->w_ndim = 2;
    l->w_shape[0] = in->c;
    l->w_shape[1] = units;
    l->nb = units;
    l->b_shape[0] = units;
    return PNEUMO_OK;
}
