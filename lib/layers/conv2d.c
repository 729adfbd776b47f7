/* Conv2D: NHWC input, HWIO kernel, optional bias, fused activation. */
#include <stdio.h>
#include <string.h>

#include "core/error.h"
#include "layers/layer.h"
#include "layers/limits.h"

void pn_conv2d_shape_of(const pn_layer *l, int32_t n, pn_conv2d_shape *s)
{
    s->n = n;
    s->ih = l->in.h;
    s->iw = l->in.w;
    s->ic = l->in.c;
    s->oh = l->out.h;
    s->ow = l->out.w;
    s->oc = l->out.c;
    s->kh = l->kh;
    s->kw = l->kw;
    s->sh = l->sh;
    s->sw = l->sw;
    s->pad_top = l->pad_top;
    s->pad_left = l->pad_left;
}

int pn_conv2d_fallback(const pn_kernels *k, const pn_layer *l, int32_t n, int fused_pool, char *msg,
                       size_t len)
{
    /* the forward kernels cover every shape; a fused block on a fast shape
     * runs the pooled-gradient kernels, otherwise the layer's backward uses
     * the conv-sized ones */
    static const pn_kernel_op pooled[] = {PN_KOP_conv2d_pool2_bwd_filter, PN_KOP_conv2d_pool2_bwd_data};
    static const pn_kernel_op direct[] = {PN_KOP_conv2d_bwd_filter, PN_KOP_conv2d_bwd_data};
    const pn_kernel_op *ops;
    pn_conv2d_shape s;
    if (l->kind != PN_LAYER_CONV2D)
        return -1;
    pn_conv2d_shape_of(l, n, &s);
    ops = fused_pool && pn_pool2_bwd_fast(&s) ? pooled : direct;
    for (int i = 0; i < 2; i++)
        if (pn_kernel_falls_back(k, ops[i], &s)) {
            if (msg)
                snprintf(msg, len,
                         "layer %s: %s runs the scalar reference for its shape (%dx%dx%d -> %dx%dx%d, "
                         "kernel %dx%d) at the %s tier",
                         l->name, pn_kernel_op_name(ops[i]), s.ih, s.iw, s.ic, s.oh, s.ow, s.oc, s.kh, s.kw,
                         k->impl[ops[i]]);
            return (int)ops[i];
        }
    return -1;
}

static pneumo_status conv2d_forward(pn_layer *l, const pn_run *run, int32_t n, const float *x, float *y)
{
    pn_conv2d_shape s;
    pn_conv2d_shape_of(l, n, &s);
    run->k->conv2d_fwd(&s, x, l->w, l->use_bias ? l->b : NULL, y);
    if (!run->skip_act)
        run->k->act_fwd(l->act, (size_t)n * (size_t)pn_dims_size(&l->out), y);
    return PNEUMO_OK;
}

static pneumo_status conv2d_backward(pn_layer *l, const pn_run *run, int32_t n, const float *x,
                                     const float *y, float *dy, float *dx)
{
    pn_conv2d_shape s;
    pn_conv2d_shape_of(l, n, &s);
    if (!run->skip_act)
        run->k->act_bwd(l->act, (size_t)n * (size_t)pn_dims_size(&l->out), y, dy);
    run->k->conv2d_bwd_filter(&s, x, dy, run->dw ? run->dw : l->dw,
                              l->use_bias ? (run->db ? run->db : l->db) : NULL);
    if (dx)
        run->k->conv2d_bwd_data(&s, dy, l->w, dx);
    return PNEUMO_OK;
}

static const pn_layer_ops conv2d_ops = {
    .keras_class = "Conv2D",
    .base_name = "conv2d",
    .forward = conv2d_forward,
    .backward = conv2d_backward,
    .destroy = NULL,
};

static int in_range(int32_t v, int32_t lo, int32_t hi) { return v >= lo && v <= hi; }

pneumo_status pn_conv2d_setup(pn_layer *l, const pn_dims *in, const pneumo_conv2d_params *p)
{
    int32_t oh, ow;
    memset(l, 0, sizeof *l);
    if (in->rank != 3)
        return pn_error(PNEUMO_ERR_SHAPE, "Conv2D needs an (H, W, C) input, got a flat (None, %d)", in->c);
    if (!in_range(p->filters, 1, PN_MAX_CHANNELS))
        return pn_error(PNEUMO_ERR_INVALID_ARG, "Conv2D: filters %d outside 1..%d", p->filters,
                        PN_MAX_CHANNELS);
    if (!in_range(p->kernel_h, 1, PN_MAX_KERNEL) || !in_range(p->kernel_w, 1, PN_MAX_KERNEL))
        return pn_error(PNEUMO_ERR_INVALID_ARG, "Conv2D: kernel size %dx%d outside 1..%d", p->kernel_h,
                        p->kernel_w, PN_MAX_KERNEL);
    if (!in_range(p->stride_h, 1, PN_MAX_STRIDE) || !in_range(p->stride_w, 1, PN_MAX_STRIDE))
        return pn_error(PNEUMO_ERR_INVALID_ARG, "Conv2D: strides %dx%d outside 1..%d", p->stride_h,
                        p->stride_w, PN_MAX_STRIDE);
    if (p->padding != PNEUMO_PADDING_VALID && p->padding != PNEUMO_PADDING_SAME)
        return pn_error(PNEUMO_ERR_INVALID_ARG, "Conv2D: unknown padding %d", p->padding);
    if (!pn_act_valid(p->activation))
        return pn_error(PNEUMO_ERR_INVALID_ARG, "Conv2D: unknown activation %d", p->activation);
    oh = pn_window_out(in->h, p->kernel_h, p->stride_h, p->padding == PNEUMO_PADDING_SAME, &l->pad_top);
    ow = pn_window_out(in->w, p->kernel_w, p->stride_w, p->padding == PNEUMO_PADDING_SAME, &l->pad_left);
    if (oh < 1 || ow < 1)
        return pn_error(PNEUMO_ERR_SHAPE,
                        "Conv2D: kernel %dx%d does not fit input (None, %d, %d, %d) with 'valid' padding",
                        p->kernel_h, p->kernel_w, in->h, in->w, in->c);
    if ((int64_t)oh * ow * p->filters > PN_MAX_SAMPLE_VALUES)
        return pn_error(PNEUMO_ERR_LIMIT, "Conv2D: output (None, %d, %d, %d) is too large", oh, ow,
                        p->filters);
    l->ops = &conv2d_ops;
    l->kind = PN_LAYER_CONV2D;
    l->in = *in;
    l->out = (pn_dims){3, oh, ow, p->filters};
    l->filters = p->filters;
    l->kh = p->kernel_h;
    l->kw = p->kernel_w;
    l->sh = p->stride_h;
    l->sw = p->stride_w;
    l->padding = p->padding;
    l->act = (pn_act)p->activation;
    l->use_bias = p->use_bias ? 1 : 0;
    l->w_ndim = 4;
    l->w_shape[0] = p->kernel_h;
    l->w_shape[1] = p->kernel_w;
    l->w_shape[2] = in->c;
    l->w_shape[3] = p->filters;
    l->nw = (int64_t)p->kernel_h * p->kernel_w * in->c * p->filters;
    if (l->nw > PN_MAX_LAYER_PARAMS)
        return pn_error(PNEUMO_ERR_LIMIT, "Conv2D: kernel (%d, %d, %d, %d) is too large", p->kernel_h,
                        p->kernel_w, in->c, p->filters);
    l->nb = l->use_bias ? p->filters : 0;
    l->b_shape[0] = p->filters;
    return PNEUMO_OK;
}
