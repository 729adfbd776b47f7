/* Dense: (None, in) x (in, out) + bias, fused activation. */
#include <string.h>

#include "core/error.h"
#include "layers/layer.h"
#include "layers/limits.h"

/* Multiply-adds per part below which another thread costs more than it saves. */
#define DENSE_PART_MACS (1 << 18)

int pn_dense_parts(const pn_layer *l, int32_t n, int nth)
{
    const int64_t macs = (int64_t)n * l->nw, parts = macs / DENSE_PART_MACS;
    /* one sample streams the weights once, with no reuse: two cores sharing
     * the memory bus were slower than one (10816 -> 128 at 500 px, AVX2:
     * 0.285 against 0.257 ms; docs/performance.md) */
    if (nth < 2 || parts < 2 || n == 1)
        return 1;
    return parts < nth ? (int)parts : nth;
}

/* Part `part` of `count` split into `nparts` pieces of whole 16-float groups
 * (a vector at every tier), as [*c0, *c1). */
static void dense_share(int32_t count, int32_t part, int32_t nparts, int32_t *c0, int32_t *c1)
{
    const int64_t groups = ((int64_t)count + 15) / 16;
    *c0 = (int32_t)(groups * part / nparts * 16);
    *c1 = (int32_t)(groups * (part + 1) / nparts * 16);
    if (*c0 > count)
        *c0 = count;
    if (*c1 > count)
        *c1 = count;
}

void pn_dense_act_bwd(const pn_layer *l, const pn_run *run, int32_t n, const float *y, float *dy)
{
    run->k->act_bwd(l->act, (size_t)n * (size_t)l->units, y, dy);
}

static pneumo_status dense_forward(pn_layer *l, const pn_run *run, int32_t n, const float *x, float *y)
{
    const int32_t nparts = run->nparts > 1 ? run->nparts : 1, part = nparts > 1 ? run->part : 0;
    int32_t o0, o1;
    dense_share(l->units, part, nparts, &o0, &o1);
    run->k->dense_fwd(n, l->in.c, l->units, o0, o1, x, l->w, l->b, y);
    if (run->skip_act)
        return PNEUMO_OK;
    if (nparts == 1)
        run->k->act_fwd(l->act, (size_t)n * (size_t)l->units, y);
    else
        for (int32_t s = 0; s < n && o1 > o0; s++)
            run->k->act_fwd(l->act, (size_t)(o1 - o0), y + (size_t)s * (size_t)l->units + (size_t)o0);
    return PNEUMO_OK;
}

static pneumo_status dense_backward(pn_layer *l, const pn_run *run, int32_t n, const float *x, const float *y,
                                    float *dy, float *dx)
{
    const int32_t nparts = run->nparts > 1 ? run->nparts : 1, part = nparts > 1 ? run->part : 0;
    int32_t i0, i1;
    if (!run->skip_act)
        pn_dense_act_bwd(l, run, n, y, dy);
    dense_share(l->in.c, part, nparts, &i0, &i1);
    run->k->dense_bwd_weights(n, l->in.c, l->units, i0, i1, x, dy, run->dw ? run->dw : l->dw,
                              part == 0 ? (run->db ? run->db : l->db) : NULL);
    if (dx)
        run->k->dense_bwd_data(n, l->in.c, l->units, i0, i1, dy, l->w, dx);
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
