/* ONNX export (pneumo/interop.h): the model as a standard ONNX graph.
 *
 * The graph is written directly in protobuf's wire format (io/protobuf.h)
 * following onnx/onnx.proto (field numbers cited by the writers below).
 * Layer by layer: Conv2D -> Conv (+ Relu/Sigmoid/Tanh), MaxPooling2D ->
 * MaxPool, Flatten -> Flatten (after a Transpose back to NHWC, so that the
 * flattening order is libpneumo's h, w, c), Dense -> Gemm (+ activation),
 * Activation -> the activation, Dropout -> nothing, BatchNormalization ->
 * BatchNormalization (inference: the moving statistics),
 * GlobalAveragePooling2D -> GlobalAveragePool + Flatten to (N, C); a model
 * card's temperature T != 1 -> Div by T before the head's Sigmoid. Conv,
 * MaxPool, GlobalAveragePool and a BatchNormalization of a 4-D tensor run in
 * NCHW; the NHWC input is transposed on the way in. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/alloc.h"
#include "core/buf.h"
#include "core/error.h"
#include "core/atomic_file.h"
#include "format/json.h"
#include "format/protobuf.h"
#include "model/model.h"
#include "pneumo/interop.h"
#include "pneumo/version.h"

/* onnx.proto enum values */
#define ONNX_FLOAT 1      /* TensorProto.DataType.FLOAT */
#define ONNX_ATTR_FLOAT 1 /* AttributeProto.AttributeType */
#define ONNX_ATTR_INT 2
#define ONNX_ATTR_INTS 7

#define MAX_NODE_INPUTS 5
/* tensor names: a layer name (63 bytes at most) and "/moving_variance" */
#define MAX_TENSOR_NAME 96

typedef struct onnx_node {
    const char *op;
    char inputs[MAX_NODE_INPUTS][MAX_TENSOR_NAME];
    int ninputs;
    char output[32];
    pn_pb attrs; /* serialised AttributeProto fields (field 5 of NodeProto) */
} onnx_node;

typedef struct onnx_ctx {
    onnx_node *nodes;
    int nnodes;
    size_t cap;
    pn_pb inits;  /* serialised initializers (GraphProto field 5) */
    char cur[32]; /* name of the tensor the next node reads */
    int nchw;     /* layout of `cur` when it is 4-D */
    int counter;
} onnx_ctx;

void pneumo_onnx_options_default(pneumo_onnx_options *o)
{
    if (!o)
        return;
    memset(o, 0, sizeof *o);
    o->size = sizeof *o;
    o->input_layout = PNEUMO_ONNX_NHWC;
    o->opset = 13;
    o->batch = 0;
}

/* ONNX's IR version that goes with an opset (onnx/helper.py VERSION_TABLE). */
static int64_t ir_version_for(int32_t opset)
{
    if (opset <= 14)
        return 7;
    if (opset <= 18)
        return 8;
    if (opset <= 20)
        return 9;
    return 10;
}

static void attr_ints(pn_pb *attrs, const char *name, const int64_t *v, int n)
{
    pn_pb a;
    pn_pb_init(&a);
    pn_pb_string(&a, 1, name); /* AttributeProto.name */
    for (int i = 0; i < n; i++)
        pn_pb_int64(&a, 8, v[i]);        /* .ints */
    pn_pb_int64(&a, 20, ONNX_ATTR_INTS); /* .type */
    pn_pb_message(attrs, 5, &a);
    pn_pb_free(&a);
}

static void attr_int(pn_pb *attrs, const char *name, int64_t v)
{
    pn_pb a;
    pn_pb_init(&a);
    pn_pb_string(&a, 1, name);
    pn_pb_int64(&a, 3, v); /* .i */
    pn_pb_int64(&a, 20, ONNX_ATTR_INT);
    pn_pb_message(attrs, 5, &a);
    pn_pb_free(&a);
}

static void attr_float(pn_pb *attrs, const char *name, float v)
{
    pn_pb a;
    pn_pb_init(&a);
    pn_pb_string(&a, 1, name);
    pn_pb_float(&a, 2, v); /* .f */
    pn_pb_int64(&a, 20, ONNX_ATTR_FLOAT);
    pn_pb_message(attrs, 5, &a);
    pn_pb_free(&a);
}

/* A new node reading `cur` (plus extra inputs) and writing a fresh tensor,
 * which becomes `cur`. NULL when out of memory. */
static onnx_node *add_node(onnx_ctx *c, const char *op, const char *in1, const char *in2)
{
    onnx_node *n;
    if (!pn_array_reserve(&c->nodes, &c->cap, (size_t)c->nnodes + 1, sizeof *c->nodes, SIZE_MAX))
        return NULL;
    n = &c->nodes[c->nnodes++];
    memset(n, 0, sizeof *n);
    n->op = op;
    pn_pb_init(&n->attrs);
    snprintf(n->inputs[n->ninputs++], sizeof n->inputs[0], "%s", c->cur);
    if (in1)
        snprintf(n->inputs[n->ninputs++], sizeof n->inputs[0], "%s", in1);
    if (in2)
        snprintf(n->inputs[n->ninputs++], sizeof n->inputs[0], "%s", in2);
    snprintf(n->output, sizeof n->output, "t%d", c->counter++);
    memcpy(c->cur, n->output, sizeof c->cur);
    return n;
}

/* TensorProto initializer `name` of shape dims holding v (float32). */
static void add_initializer(onnx_ctx *c, const char *name, const int64_t *dims, int ndim, const float *v,
                            size_t count)
{
    pn_pb t;
    pn_pb_init(&t);
    for (int i = 0; i < ndim; i++)
        pn_pb_int64(&t, 1, dims[i]);    /* TensorProto.dims */
    pn_pb_int64(&t, 2, ONNX_FLOAT);     /* .data_type */
    pn_pb_string(&t, 8, name);          /* .name */
    pn_pb_float_bytes(&t, 9, v, count); /* .raw_data, little-endian */
    pn_pb_message(&c->inits, 5, &t);
    pn_pb_free(&t);
}

static int add_activation(onnx_ctx *c, pn_act act)
{
    static const char *const ops[] = {NULL, "Relu", "Sigmoid", "Tanh"};
    if (act == PN_ACT_LINEAR)
        return 1;
    return add_node(c, ops[act], NULL, NULL) != NULL;
}

static int add_transpose(onnx_ctx *c, int to_nchw)
{
    static const int64_t to_nchw_perm[4] = {0, 3, 1, 2}, to_nhwc_perm[4] = {0, 2, 3, 1};
    onnx_node *n = add_node(c, "Transpose", NULL, NULL);
    if (!n)
        return 0;
    attr_ints(&n->attrs, "perm", to_nchw ? to_nchw_perm : to_nhwc_perm, 4);
    c->nchw = to_nchw;
    return 1;
}

/* ONNX pads (top, left, bottom, right) of a window layer: libpneumo pads
 * top/left by pad_top/pad_left and the rest at the bottom/right as far as the
 * last window reaches ('same' puts the odd pixel at the bottom/right, as
 * TensorFlow does). */
static void window_attrs(pn_pb *attrs, const pn_layer *l)
{
    int64_t k[2] = {l->kh, l->kw}, s[2] = {l->sh, l->sw}, pads[4] = {0, 0, 0, 0};
    if (l->padding == PNEUMO_PADDING_SAME) {
        int64_t th = (int64_t)(l->out.h - 1) * l->sh + l->kh - l->in.h;
        int64_t tw = (int64_t)(l->out.w - 1) * l->sw + l->kw - l->in.w;
        pads[0] = l->pad_top;
        pads[1] = l->pad_left;
        pads[2] = th - l->pad_top > 0 ? th - l->pad_top : 0;
        pads[3] = tw - l->pad_left > 0 ? tw - l->pad_left : 0;
    }
    attr_ints(attrs, "kernel_shape", k, 2);
    attr_ints(attrs, "strides", s, 2);
    attr_ints(attrs, "pads", pads, 4);
}

/* BatchNormalization with the moving statistics (ONNX's inference mode),
 * over axis 1: NCHW for a 4-D input, (N, C) for a flat one. Without scale or
 * center the graph gets gamma 1 or beta 0, which is what libpneumo computes. */
static pneumo_status add_batchnorm(onnx_ctx *c, const pn_layer *l, const char *fn)
{
    const int64_t ch = l->out.c;
    char names[4][MAX_TENSOR_NAME];
    onnx_node *n;
    float *fill;
    snprintf(names[0], sizeof names[0], "%s", l->w_name);
    snprintf(names[1], sizeof names[1], "%s", l->b_name);
    snprintf(names[2], sizeof names[2], "%s/moving_mean", l->name);
    snprintf(names[3], sizeof names[3], "%s/moving_variance", l->name);
    if (!l->nw || !l->nb) {
        if (!(fill = pn_malloc((size_t)ch * sizeof *fill)))
            return pn_error_nomem(fn, (size_t)ch * sizeof *fill);
        for (int64_t i = 0; i < ch; i++)
            fill[i] = 1.0f;
        if (!l->nw)
            add_initializer(c, names[0], &ch, 1, fill, (size_t)ch);
        memset(fill, 0, (size_t)ch * sizeof *fill);
        if (!l->nb)
            add_initializer(c, names[1], &ch, 1, fill, (size_t)ch);
        free(fill);
    }
    if (l->nw)
        add_initializer(c, names[0], &ch, 1, l->w, (size_t)l->nw);
    if (l->nb)
        add_initializer(c, names[1], &ch, 1, l->b, (size_t)l->nb);
    add_initializer(c, names[2], &ch, 1, l->mmean, (size_t)ch);
    add_initializer(c, names[3], &ch, 1, l->mvar, (size_t)ch);
    if (l->in.rank == 3 && !c->nchw && !add_transpose(c, 1))
        return pn_error_nomem(fn, sizeof(onnx_node));
    if (!(n = add_node(c, "BatchNormalization", names[0], names[1])))
        return pn_error_nomem(fn, sizeof(onnx_node));
    snprintf(n->inputs[n->ninputs++], sizeof n->inputs[0], "%s", names[2]);
    snprintf(n->inputs[n->ninputs++], sizeof n->inputs[0], "%s", names[3]);
    attr_float(&n->attrs, "epsilon", l->epsilon);
    attr_float(&n->attrs, "momentum", l->momentum);
    return PNEUMO_OK;
}

static pneumo_status add_layer(onnx_ctx *c, const pn_layer *l, const char *fn)
{
    char wname[96], bname[96];
    snprintf(wname, sizeof wname, "%s", l->w_name);
    snprintf(bname, sizeof bname, "%s", l->b_name);
    switch (l->kind) {
    case PN_LAYER_CONV2D: {
        /* Keras (kh, kw, cin, cout) -> ONNX (cout, cin, kh, kw) */
        const int64_t kh = l->kh, kw = l->kw, cin = l->in.c, cout = l->filters;
        int64_t dims[4] = {cout, cin, kh, kw};
        float *w = pn_malloc((size_t)l->nw * sizeof *w);
        onnx_node *n;
        if (!w)
            return pn_error_nomem(fn, (size_t)l->nw * sizeof *w);
        for (int64_t y = 0; y < kh; y++)
            for (int64_t x = 0; x < kw; x++)
                for (int64_t i = 0; i < cin; i++)
                    for (int64_t o = 0; o < cout; o++)
                        w[((o * cin + i) * kh + y) * kw + x] = l->w[((y * kw + x) * cin + i) * cout + o];
        add_initializer(c, wname, dims, 4, w, (size_t)l->nw);
        free(w);
        if (l->nb)
            add_initializer(c, bname, &dims[0], 1, l->b, (size_t)l->nb);
        if (!c->nchw && !add_transpose(c, 1))
            return pn_error_nomem(fn, sizeof(onnx_node));
        if (!(n = add_node(c, "Conv", wname, l->nb ? bname : NULL)))
            return pn_error_nomem(fn, sizeof(onnx_node));
        window_attrs(&n->attrs, l);
        return add_activation(c, l->act) ? PNEUMO_OK : pn_error_nomem(fn, sizeof(onnx_node));
    }
    case PN_LAYER_MAXPOOL2D: {
        onnx_node *n;
        if (!c->nchw && !add_transpose(c, 1))
            return pn_error_nomem(fn, sizeof(onnx_node));
        if (!(n = add_node(c, "MaxPool", NULL, NULL)))
            return pn_error_nomem(fn, sizeof(onnx_node));
        window_attrs(&n->attrs, l);
        return PNEUMO_OK;
    }
    case PN_LAYER_FLATTEN: {
        onnx_node *n;
        if (c->nchw && !add_transpose(c, 0))
            return pn_error_nomem(fn, sizeof(onnx_node));
        if (!(n = add_node(c, "Flatten", NULL, NULL)))
            return pn_error_nomem(fn, sizeof(onnx_node));
        attr_int(&n->attrs, "axis", 1);
        return PNEUMO_OK;
    }
    case PN_LAYER_DENSE: {
        int64_t dims[2] = {l->in.c, l->units};
        onnx_node *n;
        /* libpneumo's Dense always has a bias */
        add_initializer(c, wname, dims, 2, l->w, (size_t)l->nw);
        add_initializer(c, bname, &dims[1], 1, l->b, (size_t)l->nb);
        if (!(n = add_node(c, "Gemm", wname, bname)))
            return pn_error_nomem(fn, sizeof(onnx_node));
        attr_float(&n->attrs, "alpha", 1.0f);
        attr_float(&n->attrs, "beta", 1.0f);
        return add_activation(c, l->act) ? PNEUMO_OK : pn_error_nomem(fn, sizeof(onnx_node));
    }
    case PN_LAYER_ACTIVATION:
        return add_activation(c, l->act) ? PNEUMO_OK : pn_error_nomem(fn, sizeof(onnx_node));
    case PN_LAYER_DROPOUT: return PNEUMO_OK;
    case PN_LAYER_BATCHNORM: return add_batchnorm(c, l, fn);
    case PN_LAYER_GAP2D: {
        onnx_node *n;
        if (!c->nchw && !add_transpose(c, 1))
            return pn_error_nomem(fn, sizeof(onnx_node));
        if (!add_node(c, "GlobalAveragePool", NULL, NULL) || !(n = add_node(c, "Flatten", NULL, NULL)))
            return pn_error_nomem(fn, sizeof(onnx_node));
        attr_int(&n->attrs, "axis", 1);
        /* (N, C) from here on: no layout to track */
        c->nchw = 0;
        return PNEUMO_OK;
    }
    }
    return pn_error(PNEUMO_ERR_UNSUPPORTED, "%s: layer %s has no ONNX equivalent", fn, l->name);
}

/* The sigmoid head of a model with a temperature T != 1 (model card):
 * sigmoid(z / T), as predict computes it, so the graph's probability is the
 * calibrated one the stored threshold was chosen on. */
static pneumo_status add_calibrated_head(onnx_ctx *c, const pn_layer *l, float temperature, const char *fn)
{
    static const int64_t one = 1;
    pn_layer logits = *l;
    pneumo_status st;
    logits.act = PN_ACT_LINEAR;
    if ((st = add_layer(c, &logits, fn)) != PNEUMO_OK)
        return st;
    add_initializer(c, "calibration/temperature", &one, 1, &temperature, 1);
    if (!add_node(c, "Div", "calibration/temperature", NULL) || !add_activation(c, PN_ACT_SIGMOID))
        return pn_error_nomem(fn, sizeof(onnx_node));
    return PNEUMO_OK;
}

/* ValueInfoProto of a float tensor with a leading batch dimension. */
static void value_info(pn_pb *graph, uint32_t field, const char *name, int32_t batch, const int64_t *dims,
                       int ndim)
{
    pn_pb vi, type, tensor, shape, dim;
    pn_pb_init(&vi);
    pn_pb_init(&type);
    pn_pb_init(&tensor);
    pn_pb_init(&shape);
    for (int i = -1; i < ndim; i++) {
        pn_pb_init(&dim);
        if (i >= 0)
            pn_pb_int64(&dim, 1, dims[i]); /* Dimension.dim_value */
        else if (batch > 0)
            pn_pb_int64(&dim, 1, batch);
        else
            pn_pb_string(&dim, 2, "N"); /* Dimension.dim_param */
        pn_pb_message(&shape, 1, &dim); /* TensorShapeProto.dim */
        pn_pb_free(&dim);
    }
    pn_pb_int64(&tensor, 1, ONNX_FLOAT); /* TypeProto.Tensor.elem_type */
    pn_pb_message(&tensor, 2, &shape);   /* .shape */
    pn_pb_message(&type, 1, &tensor);    /* TypeProto.tensor_type */
    pn_pb_string(&vi, 1, name);          /* ValueInfoProto.name */
    pn_pb_message(&vi, 2, &type);        /* .type */
    pn_pb_message(graph, field, &vi);
    pn_pb_free(&vi);
    pn_pb_free(&type);
    pn_pb_free(&tensor);
    pn_pb_free(&shape);
}

static void metadata(pn_pb *model, const char *key, const char *value)
{
    pn_pb e;
    pn_pb_init(&e);
    pn_pb_string(&e, 1, key);     /* StringStringEntryProto.key */
    pn_pb_string(&e, 2, value);   /* .value */
    pn_pb_message(model, 14, &e); /* ModelProto.metadata_props */
    pn_pb_free(&e);
}

/* The model card as metadata_props. 0 when out of memory. */
static int card_metadata(pn_pb *model, const pneumo_model *m, int nchw)
{
    pn_buf b;
    char num[64];
    int ok;
    pn_buf_init(&b);
    pn_buf_append(&b, "[", 1);
    pn_buf_json_string(&b, m->card.class_names[0]);
    pn_buf_append(&b, ",", 1);
    pn_buf_json_string(&b, m->card.class_names[1]);
    pn_buf_append(&b, "]", 1);
    ok = !b.failed;
    if (ok)
        metadata(model, "class_names", b.data);
    pn_buf_free(&b);

    pn_buf_json_float(&b, m->card.threshold);
    ok = ok && !b.failed;
    if (ok) {
        snprintf(num, sizeof num, "%s", b.data);
        metadata(model, "threshold", num);
    }
    pn_buf_free(&b);

    pn_buf_printf(&b,
                  "{\"height\":%d,\"width\":%d,\"color_mode\":\"grayscale\",\"resample\":\"%s\","
                  "\"rescale\":",
                  m->input.h, m->input.w,
                  m->card.resample == PNEUMO_RESAMPLE_BILINEAR ? "bilinear" : "nearest");
    pn_buf_json_float(&b, m->card.rescale);
    pn_buf_append(&b, "}", 1);
    ok = ok && !b.failed;
    if (ok)
        metadata(model, "preprocessing", b.data);
    pn_buf_free(&b);

    metadata(model, "input_layout", nchw ? "NCHW" : "NHWC");

    pn_card_json(&b, m, 1);
    ok = ok && !b.failed;
    if (ok)
        metadata(model, "model_card", b.data);
    pn_buf_free(&b);
    return ok;
}

static pneumo_status check_options(const pneumo_onnx_options *o, const char *fn)
{
    if (o->size != sizeof *o)
        return pn_error(PNEUMO_ERR_INVALID_ARG,
                        "%s: options size is %u, expected %zu (use pneumo_onnx_options_default)", fn, o->size,
                        sizeof *o);
    for (size_t i = 0; i < sizeof o->reserved / sizeof o->reserved[0]; i++)
        if (o->reserved[i])
            return pn_error(PNEUMO_ERR_INVALID_ARG, "%s: options reserved[%zu] is not zero", fn, i);
    if (o->input_layout != PNEUMO_ONNX_NHWC && o->input_layout != PNEUMO_ONNX_NCHW)
        return pn_error(PNEUMO_ERR_INVALID_ARG, "%s: input_layout %d is not a pneumo_onnx_layout", fn,
                        o->input_layout);
    if (o->opset < 13 || o->opset > 21)
        return pn_error(PNEUMO_ERR_INVALID_ARG, "%s: opset %d is outside 13..21", fn, o->opset);
    if (o->batch < 0)
        return pn_error(PNEUMO_ERR_INVALID_ARG, "%s: batch %d is negative", fn, o->batch);
    return PNEUMO_OK;
}

/* Serialise m into *out (a ModelProto). */
static pneumo_status build_onnx(const pneumo_model *m, const pneumo_onnx_options *opt, pn_pb *out,
                                const char *fn)
{
    pneumo_onnx_options def;
    onnx_ctx c;
    pn_pb graph, opset;
    pneumo_status st = PNEUMO_OK;
    const pn_dims *od;
    int64_t in_dims[3], out_dims[3];
    int nchw;

    if (!m)
        return pn_error(PNEUMO_ERR_INVALID_ARG, "%s: model is NULL", fn);
    if (!opt) {
        pneumo_onnx_options_default(&def);
        opt = &def;
    }
    if ((st = check_options(opt, fn)) != PNEUMO_OK)
        return st;
    if (m->nlayers == 0)
        return pn_error(PNEUMO_ERR_STATE, "%s: the model has no layers", fn);
    nchw = opt->input_layout == PNEUMO_ONNX_NCHW;

    memset(&c, 0, sizeof c);
    pn_pb_init(&c.inits);
    pn_pb_init(&graph);
    pn_pb_init(&opset);
    snprintf(c.cur, sizeof c.cur, "input");
    c.nchw = nchw;
    for (int32_t i = 0; i < m->nlayers && st == PNEUMO_OK; i++) {
        if (i == m->nlayers - 1 && m->card.temperature != 1.0f && pn_model_sigmoid_head(m))
            st = add_calibrated_head(&c, &m->layers[i], m->card.temperature, fn);
        else
            st = add_layer(&c, &m->layers[i], fn);
    }
    od = pn_model_out_dims(m);
    /* a model without Flatten ends in NCHW: hand back libpneumo's NHWC */
    if (st == PNEUMO_OK && od->rank == 3 && c.nchw && !nchw && !add_transpose(&c, 0))
        st = pn_error_nomem(fn, sizeof(onnx_node));
    if (st == PNEUMO_OK && c.nnodes == 0 && !add_node(&c, "Identity", NULL, NULL))
        st = pn_error_nomem(fn, sizeof(onnx_node));
    if (st != PNEUMO_OK)
        goto done;
    snprintf(c.nodes[c.nnodes - 1].output, sizeof c.nodes[0].output, "probability");

    for (int i = 0; i < c.nnodes; i++) {
        onnx_node *n = &c.nodes[i];
        pn_pb node;
        char name[48];
        pn_pb_init(&node);
        for (int k = 0; k < n->ninputs; k++)
            pn_pb_string(&node, 1, n->inputs[k]); /* NodeProto.input */
        pn_pb_string(&node, 2, n->output);        /* .output */
        snprintf(name, sizeof name, "%s_%d", n->op, i);
        pn_pb_string(&node, 3, name);                  /* .name */
        pn_pb_string(&node, 4, n->op);                 /* .op_type */
        pn_pb_raw(&node, n->attrs.data, n->attrs.len); /* .attribute (field 5, keyed already) */
        if (n->attrs.failed && !node.failed)
            node.failed = n->attrs.failed;
        pn_pb_message(&graph, 1, &node); /* GraphProto.node */
        pn_pb_free(&node);
    }
    pn_pb_string(&graph, 2, "libpneumo");         /* GraphProto.name */
    pn_pb_raw(&graph, c.inits.data, c.inits.len); /* .initializer (field 5) */
    if (c.inits.failed && !graph.failed)
        graph.failed = c.inits.failed;
    if (nchw) {
        in_dims[0] = m->input.c;
        in_dims[1] = m->input.h;
        in_dims[2] = m->input.w;
    } else {
        in_dims[0] = m->input.h;
        in_dims[1] = m->input.w;
        in_dims[2] = m->input.c;
    }
    value_info(&graph, 11, "input", opt->batch, in_dims, 3); /* .input */
    if (od->rank == 3 && nchw) {
        out_dims[0] = od->c;
        out_dims[1] = od->h;
        out_dims[2] = od->w;
    } else {
        out_dims[0] = od->h;
        out_dims[1] = od->w;
        out_dims[2] = od->c;
    }
    if (od->rank == 3)
        value_info(&graph, 12, "probability", opt->batch, out_dims, 3); /* .output */
    else
        value_info(&graph, 12, "probability", opt->batch, &out_dims[2], 1);

    pn_pb_int64(out, 1, ir_version_for(opt->opset)); /* ModelProto.ir_version */
    pn_pb_string(out, 2, "libpneumo");               /* .producer_name */
    pn_pb_string(out, 3, PNEUMO_VERSION_STRING);     /* .producer_version */
    pn_pb_string(out, 6,
                 nchw ? "libpneumo model; input (N, C, H, W) float32, preprocessed (metadata "
                        "'preprocessing'); output: the last layer's values (sigmoid probability)"
                      : "libpneumo model; input (N, H, W, C) float32, preprocessed (metadata "
                        "'preprocessing'); output: the last layer's values (sigmoid probability)");
    pn_pb_message(out, 7, &graph);      /* .graph */
    pn_pb_string(&opset, 1, "");        /* OperatorSetIdProto.domain */
    pn_pb_int64(&opset, 2, opt->opset); /* .version */
    pn_pb_message(out, 8, &opset);      /* .opset_import */
    if (!card_metadata(out, m, nchw))
        st = pn_error_nomem(fn, 0);
    else if (out->failed == PN_PB_TOO_BIG)
        st = pn_error(PNEUMO_ERR_LIMIT, "%s: the ONNX graph would exceed protobuf's 2 GiB limit", fn);
    else if (out->failed)
        st = pn_error_nomem(fn, out->cap);

done:
    for (int i = 0; i < c.nnodes; i++)
        pn_pb_free(&c.nodes[i].attrs);
    free(c.nodes);
    pn_pb_free(&c.inits);
    pn_pb_free(&graph);
    pn_pb_free(&opset);
    return st;
}

pneumo_status pneumo_model_export_onnx(const pneumo_model *m, const pneumo_onnx_options *opt,
                                       const char *path)
{
    const char *fn = "pneumo_model_export_onnx";
    pn_pb out;
    pneumo_status st;
    if (!path)
        return pn_error(PNEUMO_ERR_INVALID_ARG, "%s: path is NULL", fn);
    pn_pb_init(&out);
    st = build_onnx(m, opt, &out, fn);
    if (st == PNEUMO_OK)
        st = pn_atomic_write(path, out.data, out.len);
    pn_pb_free(&out);
    return st;
}

pneumo_status pneumo_model_export_onnx_memory(const pneumo_model *m, const pneumo_onnx_options *opt,
                                              void *buf, size_t size, size_t *needed)
{
    const char *fn = "pneumo_model_export_onnx_memory";
    pn_pb out;
    pneumo_status st;
    if (!buf && size)
        return pn_error(PNEUMO_ERR_INVALID_ARG, "%s: buf is NULL with size %zu", fn, size);
    pn_pb_init(&out);
    st = build_onnx(m, opt, &out, fn);
    if (st == PNEUMO_OK) {
        if (needed)
            *needed = out.len;
        if (buf && size < out.len)
            st = pn_error(PNEUMO_ERR_LIMIT, "%s: buffer of %zu bytes, the ONNX file takes %zu", fn, size,
                          out.len);
        else if (buf)
            memcpy(buf, out.data, out.len);
    }
    pn_pb_free(&out);
    return st;
}
