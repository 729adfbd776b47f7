/* MaxPooling2D: keeps the window offset of each maximum (one byte) for backward. */
#include <string.h>

#include "core/error.h"
#include "layers/layer.h"
#include "layers/limits.h"

static void pool_shape(const pn_layer *l, int32_t n, pn_pool2d_shape *s)
{
    s->n = n;
    s->ih = l->in.h;
    s->iw = l->in.w;
    s->c = l->in.c;
    s->oh = l->out.h;
    s->ow = l->out.w;
    s->ph = l->kh;
    s->pw = l->kw;
    s->sh = l->sh;
    s->sw = l->sw;
    s->pad_top = l->pad_top;
    s->pad_left = l->pad_left;
}

static pneumo_status maxpool_forward(pn_layer *l, const pn_run *run, int32_t n, const float *x, float *y)
{
    const size_t per = (size_t)pn_dims_size(&l->out);
    pn_pool2d_shape s;
    pneumo_status st = pn_layer_reserve_scratch(l, (size_t)(run->sample0 + n) * per, 1, 0);
    if (st != PNEUMO_OK)
        return st;
    pool_shape(l, n, &s);
    run->k->maxpool_fwd(&s, x, y, l->argmax + (size_t)run->sample0 * per);
    return PNEUMO_OK;
}

static pneumo_status maxpool_backward(pn_layer *l, const pn_run *run, int32_t n, const float *x,
                                      const float *y, float *dy, float *dx)
{
    pn_pool2d_shape s;
    (void)x;
    (void)y;
    if (!dx)
        return PNEUMO_OK;
    pool_shape(l, n, &s);
    run->k->maxpool_bwd(&s, dy, l->argmax + (size_t)run->sample0 * (size_t)pn_dims_size(&l->out), dx);
    return PNEUMO_OK;
}

static const pn_layer_ops maxpool_ops = {
    .keras_class = "MaxPooling2D",
    .base_name = "max_pooling2d",
    .forward = maxpool_forward,
    .backward = maxpool_backward,
    .destroy = pn_layer_destroy,
};

pneumo_status pn_maxpool2d_setup(pn_layer *l, const pn_dims *in, const pneumo_maxpool2d_params *p)
{
    int32_t sh = p->stride_h ? p->stride_h : p->pool_h;
    int32_t sw = p->stride_w ? p->stride_w : p->pool_w;
    int32_t oh, ow;
    memset(l, 0, sizeof *l);
    if (in->rank != 3)
        return pn_error(PNEUMO_ERR_SHAPE, "MaxPooling2D needs an (H, W, C) input, got a flat (None, %d)",
                        in->c);
    if (p->pool_h < 1 || p->pool_w < 1 || (int64_t)p->pool_h * p->pool_w > PN_MAX_POOL_WINDOW)
        return pn_error(PNEUMO_ERR_INVALID_ARG,
                        "MaxPooling2D: pool size %dx%d invalid (each >= 1, at most %d cells)", p->pool_h,
                        p->pool_w, PN_MAX_POOL_WINDOW);
    if (p->stride_h < 0 || p->stride_w < 0 || sh > PN_MAX_STRIDE || sw > PN_MAX_STRIDE)
        return pn_error(PNEUMO_ERR_INVALID_ARG, "MaxPooling2D: strides %dx%d outside 1..%d", p->stride_h,
                        p->stride_w, PN_MAX_STRIDE);
    if (p->padding != PNEUMO_PADDING_VALID && p->padding != PNEUMO_PADDING_SAME)
        return pn_error(PNEUMO_ERR_INVALID_ARG, "MaxPooling2D: unknown padding %d", p->padding);
    oh = pn_window_out(in->h, p->pool_h, sh, p->padding == PNEUMO_PADDING_SAME, &l->pad_top);
    ow = pn_window_out(in->w, p->pool_w, sw, p->padding == PNEUMO_PADDING_SAME, &l->pad_left);
    if (oh < 1 || ow < 1)
        return pn_error(PNEUMO_ERR_SHAPE, "MaxPooling2D: pool %dx%d does not fit input (None, %d, %d, %d)",
                        p->pool_h, p->pool_w, in->h, in->w, in->c);
    l->ops = &maxpool_ops;
    l->kind = PN_LAYER_MAXPOOL2D;
    l->in = *in;
    l->out = (pn_dims){3, oh, ow, in->c};
    l->kh = p->pool_h;
    l->kw = p->pool_w;
    l->sh = sh;
    l->sw = sw;
    l->padding = p->padding;
    return PNEUMO_OK;
}
