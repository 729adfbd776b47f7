/* Forward and backward passes over the layer stack, the loss, prediction and
 * training steps. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "core/alloc.h"
#include "core/error.h"
#include "core/tensor.h"
#include "model/model.h"
#include "optim/optimizer.h"
#include "core/threadpool.h"
#include "layers/fused.h"

/* Threads' private parameter-gradient sums: (threads - 1) x the largest layer. */
static pneumo_status ensure_thread_grads(pneumo_model *m)
{
    int64_t most = 0;
    int extra = pn_threadpool_size(m->pool) - 1;
    for (int32_t i = 0; i < m->nlayers; i++)
        if (m->layers[i].nw + m->layers[i].nb > most)
            most = m->layers[i].nw + m->layers[i].nb;
    most = (most + 16 + 15) & ~(int64_t)15;
    if (extra <= 0 || most == 16)
        return PNEUMO_OK;
    m->thread_grads = pn_aligned_alloc((size_t)extra * (size_t)most * sizeof(float));
    if (!m->thread_grads)
        return pn_error_nomem("per-thread gradients", (size_t)extra * (size_t)most * sizeof(float));
    m->thread_grads_stride = most;
    return PNEUMO_OK;
}

/* Plan which Conv2D + MaxPooling2D pairs run fused. */
static pneumo_status plan_fusion(pneumo_model *m)
{
    m->fused = pn_calloc((size_t)m->nlayers, 1);
    if (!m->fused)
        return pn_error_nomem("fusion plan", (size_t)m->nlayers);
    if (m->no_fusion)
        return PNEUMO_OK;
    for (int32_t i = 0; i + 1 < m->nlayers; i++)
        if (pn_conv_pool_fusable(&m->layers[i], &m->layers[i + 1])) {
            m->fused[i] = 1;
            i++;
        }
    return PNEUMO_OK;
}

/* First layer of the backward step that ends at layer `last`. */
static int32_t step_first(const pneumo_model *m, int32_t last)
{
    return last > 0 && m->fused[last - 1] ? last - 1 : last;
}

/* Grow the per-batch buffers to hold n samples. A fused Conv2D keeps no
 * output; the two gradient buffers are sized by walking backward as backward()
 * does: each step reads dL/dy from one and writes dL/dx to the other. */
static pneumo_status ensure_batch(pneumo_model *m, int32_t n)
{
    pneumo_status st;
    int64_t gsize[2] = {0, 0}, scratch = 0;
    int cur = 0;
    if (n <= m->batch_cap && m->acts)
        return PNEUMO_OK;
    pn_model_free_batch(m);
    if ((st = plan_fusion(m)) != PNEUMO_OK)
        return st;
    m->acts = pn_calloc((size_t)m->nlayers, sizeof *m->acts);
    if (!m->acts) {
        pn_model_free_batch(m);
        return pn_error_nomem("activation table", (size_t)m->nlayers * sizeof *m->acts);
    }
    m->folds = pn_calloc((size_t)m->nlayers, sizeof *m->folds);
    if (!m->folds) {
        pn_model_free_batch(m);
        return pn_error_nomem("folded weights table", (size_t)m->nlayers * sizeof *m->folds);
    }
    for (int32_t i = 0; i < m->nlayers; i++) {
        int64_t size = pn_dims_size(&m->layers[i].out);
        if (m->fused[i])
            continue;
        m->acts[i] = pn_aligned_alloc((size_t)n * (size_t)size * sizeof(float));
        if (!m->acts[i]) {
            pn_model_free_batch(m);
            return pn_error_nomem(m->layers[i].name, (size_t)n * (size_t)size * sizeof(float));
        }
    }
    for (int32_t i = m->nlayers - 1; i >= 0; i = step_first(m, i) - 1) {
        const int32_t first = step_first(m, i);
        const int64_t out = pn_dims_size(&m->layers[i].out);
        if (out > gsize[cur])
            gsize[cur] = out;
        if (first > 0 && pn_dims_size(&m->layers[first].in) > gsize[1 - cur])
            gsize[1 - cur] = pn_dims_size(&m->layers[first].in);
        if (first != i && (int64_t)pn_conv_pool_scratch(&m->layers[first], &m->layers[i]) > scratch)
            scratch = (int64_t)pn_conv_pool_scratch(&m->layers[first], &m->layers[i]);
        cur = 1 - cur;
    }
    for (int i = 0; i < 2; i++) {
        size_t bytes = (size_t)n * (size_t)(gsize[i] ? gsize[i] : 1) * sizeof(float);
        m->gbuf[i] = pn_aligned_alloc(bytes);
        if (!m->gbuf[i]) {
            pn_model_free_batch(m);
            return pn_error_nomem("gradient buffers", bytes);
        }
    }
    if (scratch) {
        size_t bytes;
        m->scratch_stride = (scratch + 15) & ~(int64_t)15;
        bytes = (size_t)pn_threadpool_size(m->pool) * (size_t)m->scratch_stride * sizeof(float);
        m->scratch = pn_aligned_alloc(bytes);
        if (!m->scratch) {
            pn_model_free_batch(m);
            return pn_error_nomem("fused layer scratch", bytes);
        }
    }
    if ((st = ensure_thread_grads(m)) != PNEUMO_OK) {
        pn_model_free_batch(m);
        return st;
    }
    m->batch_cap = n;
    return PNEUMO_OK;
}

/* Check x against the input shape; returns the batch size through *n. */
static pneumo_status check_input(const pneumo_model *m, const pneumo_tensor *x, const char *fn, int32_t *n)
{
    const pn_dims *in = &m->input;
    char got[96];
    if (!x)
        return pn_error(PNEUMO_ERR_INVALID_ARG, "%s: input tensor is NULL", fn);
    if (m->nlayers == 0)
        return pn_error(PNEUMO_ERR_STATE, "%s: the model has no layers", fn);
    if (x->shape[0] > INT32_MAX)
        return pn_error(PNEUMO_ERR_LIMIT, "%s: batch of %lld samples is too large", fn,
                        (long long)x->shape[0]);
    if (x->ndim == 4 && x->shape[1] == in->h && x->shape[2] == in->w && x->shape[3] == in->c)
        ;
    else if (x->ndim == 2 && x->shape[1] == pn_dims_size(in) && in->h == 1 && in->w == 1)
        ;
    else if (in->rank == 1)
        return pn_error(PNEUMO_ERR_SHAPE, "%s: input shape %s does not match the model input (None, %d)", fn,
                        pn_shape_format(x->ndim, x->shape, got, sizeof got), in->c);
    else
        return pn_error(PNEUMO_ERR_SHAPE,
                        "%s: input shape %s does not match the model input (None, %d, %d, %d)", fn,
                        pn_shape_format(x->ndim, x->shape, got, sizeof got), in->h, in->w, in->c);
    *n = (int32_t)x->shape[0];
    return PNEUMO_OK;
}

/* The loss needs a single sigmoid output; returns the layer whose activation
 * the loss absorbs. */
int pn_model_sigmoid_head(const pneumo_model *m)
{
    const pn_layer *last = m->nlayers ? &m->layers[m->nlayers - 1] : NULL;
    return last && pn_dims_size(&last->out) == 1 && last->act == PN_ACT_SIGMOID &&
           (last->kind == PN_LAYER_DENSE || last->kind == PN_LAYER_CONV2D ||
            last->kind == PN_LAYER_ACTIVATION);
}

static pneumo_status check_loss_head(const pneumo_model *m, const char *fn)
{
    const pn_layer *last;
    if (m->nlayers == 0)
        return pn_error(PNEUMO_ERR_STATE, "%s: the model has no layers", fn);
    last = &m->layers[m->nlayers - 1];
    if (!pn_model_sigmoid_head(m))
        return pn_error(PNEUMO_ERR_STATE,
                        "%s: binary cross-entropy needs the model to end in one sigmoid unit, "
                        "but the last layer is %s (%s, %lld outputs)",
                        fn, last->name, pn_act_name(last->act), (long long)pn_dims_size(&last->out));
    return PNEUMO_OK;
}

/* One layer (or a fused Conv2D + MaxPooling2D pair: l and l + 1) over a
 * batch, split across the model's threads by samples. */
typedef struct layer_job {
    pneumo_model *m;
    pn_layer *l;
    pn_layer *pool; /* fused: the MaxPooling2D of the pair */
    int fused;
    pn_run run;
    int32_t n;
    const float *x; /* layer input for the whole batch */
    float *y;       /* layer output */
    float *dy, *dx; /* backward only; dx may be NULL */
    int backward;
    int by_rows; /* forward of a fused pair with fewer samples than threads:
                      * every thread takes every sample, a share of the row strips */
    int parts;   /* a dense layer split into this many parts (threads past
                  * them idle); 0: split by samples */
    pneumo_status status[PN_MAX_THREADS];
} layer_job;

static void layer_task(void *ctx, int ith, int nth)
{
    layer_job *j = ctx;
    pn_layer *l = j->l;
    const int64_t in_size = pn_dims_size(&l->in), out_size = pn_dims_size(j->fused ? &j->pool->out : &l->out);
    float *scratch = j->fused ? j->m->scratch + (size_t)ith * (size_t)j->m->scratch_stride : NULL;
    int32_t n0 = (int32_t)((int64_t)j->n * ith / nth), n1 = (int32_t)((int64_t)j->n * (ith + 1) / nth);
    pn_run run = j->run;
    j->status[ith] = PNEUMO_OK;
    if (j->parts) { /* the whole batch, a share of the layer's outputs or rows */
        if (ith >= j->parts)
            return;
        run.part = ith;
        run.nparts = j->parts;
        j->status[ith] = j->backward ? l->ops->backward(l, &run, j->n, j->x, j->y, j->dy, j->dx)
                                     : l->ops->forward(l, &run, j->n, j->x, j->y);
        return;
    }
    if (j->by_rows) {
        run.part = ith;
        run.nparts = nth;
        j->status[ith] = pn_conv_pool_forward(l, j->pool, &run, j->n, j->x, j->y, scratch);
        return;
    }
    if (n1 <= n0)
        return;
    run.sample0 = n0;
    if (!j->backward && j->fused) {
        j->status[ith] = pn_conv_pool_forward(l, j->pool, &run, n1 - n0, j->x + (size_t)n0 * (size_t)in_size,
                                              j->y + (size_t)n0 * (size_t)out_size, scratch);
        return;
    }
    if (!j->backward) {
        j->status[ith] = l->ops->forward(l, &run, n1 - n0, j->x + (size_t)n0 * (size_t)in_size,
                                         j->y + (size_t)n0 * (size_t)out_size);
        return;
    }
    /* threads other than the first sum parameter gradients privately; the
     * model adds them up afterwards in thread order (deterministic) */
    if (ith > 0 && (l->nw || l->nb)) {
        float *mine = j->m->thread_grads + (size_t)(ith - 1) * (size_t)j->m->thread_grads_stride;
        memset(mine, 0, (size_t)(l->nw + l->nb + 16) * sizeof(float));
        run.dw = mine;
        run.db = mine + l->nw;
    }
    if (j->fused) {
        j->status[ith] = pn_conv_pool_backward(l, j->pool, &run, n1 - n0, j->x + (size_t)n0 * (size_t)in_size,
                                               j->y + (size_t)n0 * (size_t)out_size,
                                               j->dy + (size_t)n0 * (size_t)out_size,
                                               j->dx ? j->dx + (size_t)n0 * (size_t)in_size : NULL, scratch);
        return;
    }
    j->status[ith] = l->ops->backward(l, &run, n1 - n0, j->x + (size_t)n0 * (size_t)in_size,
                                      j->y + (size_t)n0 * (size_t)out_size,
                                      j->dy + (size_t)n0 * (size_t)out_size,
                                      j->dx ? j->dx + (size_t)n0 * (size_t)in_size : NULL);
}

static pneumo_status run_layer(layer_job *j)
{
    int nth = pn_threadpool_size(j->m->pool);
    pn_layer *sl = j->fused ? j->pool : j->l; /* the layer keeping scratch (the pool of a pair) */
    size_t per = pn_layer_scratch_per_sample(sl);
    pneumo_status st;
    if (!j->backward && per &&
        (st = pn_layer_reserve_scratch(sl, (size_t)j->n * per, sl->kind == PN_LAYER_MAXPOOL2D,
                                       sl->kind == PN_LAYER_DROPOUT)) != PNEUMO_OK)
        return st;
    j->by_rows = !j->backward && j->fused && nth > j->n;
    if (!j->fused && j->l->kind == PN_LAYER_DENSE) {
        j->parts = pn_dense_parts(j->l, j->n, nth);
        if (j->parts == 1)
            nth = 1;
        else if (j->backward && !j->run.skip_act) {
            pn_dense_act_bwd(j->l, &j->run, j->n, j->y, j->dy);
            j->run.skip_act = 1;
        }
    } else if ((nth > j->n && !j->by_rows) || j->l->ops->whole_batch)
        nth = 1; /* fewer samples than threads: not worth waking them */
    if (nth == 1)
        layer_task(j, 0, 1);
    else
        pn_threadpool_run(j->m->pool, layer_task, j);
    for (int t = 0; t < nth; t++)
        if (j->status[t] != PNEUMO_OK)
            return j->status[t];
    if (j->backward && nth > 1 && !j->parts && (j->l->nw || j->l->nb)) {
        pn_layer *l = j->l;
        for (int t = 1; t < nth; t++) {
            const float *part = j->m->thread_grads + (size_t)(t - 1) * (size_t)j->m->thread_grads_stride;
            j->run.k->accumulate((size_t)l->nw, l->dw, part);
            j->run.k->accumulate((size_t)l->nb, l->db, part + l->nw);
        }
    }
    return PNEUMO_OK;
}

/* run_layer, announced by pn_model_step_event. */
static pneumo_status run_step(layer_job *j, int32_t first, int32_t last)
{
    pneumo_status st;
    pn_model_step_event(j->m, first, last, j->backward, 0);
    st = run_layer(j);
    pn_model_step_event(j->m, first, last, j->backward, 1);
    return st;
}

/* Run every layer. With `logits`, the last layer's sigmoid is left out so its
 * output holds z for the loss. */
const pn_kernels *pn_model_kernels(const pneumo_model *m)
{
    return m->kernels ? m->kernels : pn_kernels_get();
}

/* Inference folds a Conv2D without activation into the BatchNormalization
 * right after it. */
static int pn_bn_foldable(const pneumo_model *m, int32_t i)
{
    return i + 1 < m->nlayers && m->layers[i].kind == PN_LAYER_CONV2D && m->layers[i].act == PN_ACT_LINEAR &&
           m->layers[i + 1].kind == PN_LAYER_BATCHNORM;
}

/* Inference also folds a BatchNormalization at i into the next Conv2D with
 * 'valid' padding or Dense when only layers that commute with its per-channel
 * affine lie between: Dropout (the identity at inference) and one
 * GlobalAveragePooling2D or Flatten (before a Dense). Those layers then run
 * on the BatchNormalization's input. Returns that layer's index, or -1. */
static int32_t bn_fold_target(const pneumo_model *m, int32_t i)
{
    int reshaped = 0;
    if (m->layers[i].kind != PN_LAYER_BATCHNORM)
        return -1;
    for (int32_t t = i + 1; t < m->nlayers; t++) {
        const pn_layer *l = &m->layers[t];
        if (l->kind == PN_LAYER_DROPOUT)
            continue;
        if ((l->kind == PN_LAYER_GAP2D || l->kind == PN_LAYER_FLATTEN) && !reshaped) {
            reshaped = 1;
            continue;
        }
        if (l->kind == PN_LAYER_DENSE ||
            (l->kind == PN_LAYER_CONV2D && !reshaped && l->padding == PNEUMO_PADDING_VALID))
            return t;
        return -1;
    }
    return -1;
}

/* The values a fold of l with `before` and `after` (either NULL) is made
 * from: at most 10 arrays into src and len; returns how many. */
static int fold_sources(const pn_layer *l, const pn_layer *before, const pn_layer *after, const float **src,
                        size_t *len)
{
    const pn_layer *bns[2] = {before, after};
    int k = 0;
    src[k] = l->w;
    len[k++] = (size_t)l->nw;
    src[k] = l->b;
    len[k++] = l->use_bias ? (size_t)l->out.c : 0;
    for (int i = 0; i < 2; i++) {
        if (!bns[i])
            continue;
        src[k] = bns[i]->w;
        len[k++] = (size_t)bns[i]->nw;
        src[k] = bns[i]->b;
        len[k++] = (size_t)bns[i]->nb;
        src[k] = bns[i]->mmean;
        len[k++] = (size_t)bns[i]->out.c;
        src[k] = bns[i]->mvar;
        len[k++] = (size_t)bns[i]->out.c;
    }
    return k;
}

/* *out: a copy of Conv2D or Dense layer l (index t) with its weights and
 * bias folded with the BatchNormalization `before` it (NULL: none) and then
 * with the one `after` it (NULL: none), kept in this handle's m->folds[t]
 * and refolded when a value it was folded from changed (so weights written
 * through parameter views are seen). Passes of one handle run one at a time
 * and every handle has its own folds. */
static pneumo_status fold_layer(pneumo_model *m, int32_t t, const pn_layer *before, const pn_layer *after,
                                pn_layer *out)
{
    const pn_layer *l = &m->layers[t];
    pn_fold *f = &m->folds[t];
    const float *src[10];
    size_t len[10], copy = 0;
    const int nsrc = fold_sources(l, before, after, src, len);
    const size_t ab = before ? (size_t)((4 * (int64_t)before->out.c + 15) & ~(int64_t)15) : 0;
    const size_t wlen = (size_t)((l->nw + 15) & ~(int64_t)15), blen = (size_t)((l->out.c + 15) & ~15);
    int same = f->valid;
    float *snap;
    for (int k = 0; k < nsrc; k++)
        copy += len[k];
    if (ab + wlen + blen + copy > f->cap) {
        float *buf = pn_aligned_alloc((ab + wlen + blen + copy) * sizeof(float));
        if (!buf)
            return pn_error_nomem(l->kind == PN_LAYER_DENSE ? "folded Dense weights"
                                                            : "folded Conv2D weights",
                                  (ab + wlen + blen + copy) * sizeof(float));
        pn_aligned_free(f->buf);
        f->buf = buf;
        f->cap = ab + wlen + blen + copy;
        same = 0;
    }
    *out = *l;
    out->w = f->buf + ab;
    out->b = f->buf + ab + wlen;
    out->use_bias = 1;
    snap = f->buf + ab + wlen + blen;
    for (int k = 0; k < nsrc && same; k++) {
        same = len[k] == 0 || memcmp(snap, src[k], len[k] * sizeof(float)) == 0;
        snap += len[k];
    }
    if (same)
        return PNEUMO_OK;
    snap = f->buf + ab + wlen + blen;
    for (int k = 0; k < nsrc; k++) {
        if (len[k])
            memcpy(snap, src[k], len[k] * sizeof(float));
        snap += len[k];
    }
    if (before)
        pn_batchnorm_fold_input(before, l, (double *)(void *)f->buf, out->w, out->b);
    if (after)
        pn_batchnorm_fold(before ? out : l, after, out->w, out->b);
    f->valid = 1;
    return PNEUMO_OK;
}

static pneumo_status forward(pneumo_model *m, int32_t n, const float *x, int training, int logits)
{
    const float *in = x;
    const int fold = !training && !m->no_fusion;
    pn_layer folded;
    int32_t first, bn_before = -1, bn_target = -1;
    pneumo_status st;
    if (!m->pool && (st = pneumo_model_set_threads(m, m->threads)) != PNEUMO_OK)
        return st;
    if ((st = ensure_batch(m, n)) != PNEUMO_OK)
        return st;
    for (int32_t i = 0; i < m->nlayers; i++) {
        layer_job j;
        int32_t t;
        int after;
        if (fold && (t = bn_fold_target(m, i)) >= 0) {
            /* the layers up to t see this layer's input; t folds it */
            bn_before = i;
            bn_target = t;
            continue;
        }
        memset(&j, 0, sizeof j);
        j.m = m;
        j.l = &m->layers[i];
        j.fused = m->fused[i];
        j.pool = j.fused ? &m->layers[i + 1] : NULL;
        i += j.fused; /* i: the last layer of the step */
        j.run = (pn_run){.k = pn_model_kernels(m),
                         .training = training,
                         .skip_act = logits && i == m->nlayers - 1,
                         .seed = m->seed,
                         .step = m->train_steps,
                         .pos0 = m->batch_pos0,
                         .bn_stats = m->bn_stats};
        first = (int32_t)(j.l - m->layers);
        j.n = n;
        j.x = in;
        j.y = m->acts[i];
        after = fold && !j.fused && pn_bn_foldable(m, i);
        if (fold && (first == bn_target || after)) {
            /* one convolution or Dense with folded weights; a
             * BatchNormalization after it is written where its output goes */
            if ((st = fold_layer(m, first, first == bn_target ? &m->layers[bn_before] : NULL,
                                 after ? &m->layers[i + 1] : NULL, &folded)) != PNEUMO_OK)
                return pn_error_prefix("%s forward", j.l->name);
            j.l = &folded;
            if (after)
                j.y = m->acts[++i];
        }
        if ((st = run_step(&j, first, i)) != PNEUMO_OK)
            return pn_error_prefix("%s forward", j.l->name);
        in = m->acts[i];
    }
    if (training)
        m->train_steps++;
    return PNEUMO_OK;
}

/* Backward from dL/dz in gbuf[0] (for the last layer, whose activation the
 * loss absorbed) down to the first layer after `stop` (-1: all layers);
 * accumulates parameter gradients. Returns the gbuf index that holds dL/dx of
 * the last step run (the gradient w.r.t. layer stop's output). `training` 0
 * passes gradients through dropout, as for a forward pass in inference mode. */
static int backward_to(pneumo_model *m, int32_t n, const float *x, int32_t stop, int training,
                       pneumo_status *status)
{
    int cur = 0;
    *status = PNEUMO_OK;
    memset(m->grads, 0, (size_t)m->arena_size * sizeof(float));
    for (int32_t i = m->nlayers - 1; i > stop; i = step_first(m, i) - 1) {
        const int32_t first = step_first(m, i);
        layer_job j;
        pneumo_status st;
        memset(&j, 0, sizeof j);
        j.m = m;
        j.l = &m->layers[first];
        j.fused = first != i;
        j.pool = j.fused ? &m->layers[i] : NULL;
        j.run = (pn_run){.k = pn_model_kernels(m),
                         .training = training,
                         .skip_act = i == m->nlayers - 1,
                         .seed = m->seed,
                         .step = m->train_steps - 1,
                         .pos0 = m->batch_pos0};
        j.n = n;
        j.backward = 1;
        j.x = first ? m->acts[first - 1] : x;
        j.y = m->acts[i];
        j.dy = m->gbuf[cur];
        j.dx = first ? m->gbuf[1 - cur] : NULL;
        if ((st = run_step(&j, first, i)) != PNEUMO_OK) {
            *status = pn_error_prefix("%s backward", j.l->name);
            return cur;
        }
        cur = 1 - cur;
    }
    return cur;
}

static pneumo_status backward(pneumo_model *m, int32_t n, const float *x)
{
    pneumo_status st;
    backward_to(m, n, x, -1, 1, &st);
    return st;
}

pneumo_status pn_model_explain_pass(pneumo_model *m, const float *x, int32_t layer, float sign,
                                    const float **act, const float **grad, float *logit)
{
    pneumo_status st;
    int at;
    if ((st = pn_model_ensure_grads(m)) != PNEUMO_OK)
        return st;
    pn_model_set_fusion(m, 0);
    st = forward(m, 1, x, 0, 1);
    if (st == PNEUMO_OK) {
        *logit = m->acts[m->nlayers - 1][0];
        m->gbuf[0][0] = sign; /* d(sign * z) / dz */
        at = backward_to(m, 1, x, layer, 0, &st);
        *act = m->acts[layer];
        *grad = m->gbuf[at];
    }
    return st;
}

/* Labels (N) or (N, 1) in [0, 1], weights (N) finite and >= 0, or NULL. */
static pneumo_status check_targets(int32_t n, const pneumo_tensor *labels, const pneumo_tensor *weights,
                                   const char *fn)
{
    char got[96];
    if (!labels)
        return pn_error(PNEUMO_ERR_INVALID_ARG, "%s: labels tensor is NULL", fn);
    if (!((labels->ndim == 1 && labels->shape[0] == n) ||
          (labels->ndim == 2 && labels->shape[0] == n && labels->shape[1] == 1)))
        return pn_error(PNEUMO_ERR_SHAPE,
                        "%s: labels shape %s does not match a batch of %d (expected (%d,) or (%d, 1))", fn,
                        pn_shape_format(labels->ndim, labels->shape, got, sizeof got), n, n, n);
    if (weights && !(weights->ndim == 1 && weights->shape[0] == n))
        return pn_error(PNEUMO_ERR_SHAPE,
                        "%s: sample weights shape %s does not match a batch of %d (expected (%d,))", fn,
                        pn_shape_format(weights->ndim, weights->shape, got, sizeof got), n, n);
    for (int32_t i = 0; i < n; i++) {
        float y = labels->data[i];
        if (!(y >= 0.0f && y <= 1.0f))
            return pn_error(PNEUMO_ERR_INVALID_ARG, "%s: label %d is %g, outside [0, 1]", fn, i, (double)y);
        if (weights && !(weights->data[i] >= 0.0f && weights->data[i] < 1e30f))
            return pn_error(PNEUMO_ERR_INVALID_ARG, "%s: sample weight %d is %g (must be finite and >= 0)",
                            fn, i, (double)weights->data[i]);
    }
    return PNEUMO_OK;
}

/* Inference with a temperature T != 1 (model card): the last layer's logits
 * z become z / T, and with `sigmoid` sigmoid(z / T). */
static void apply_temperature(pneumo_model *m, int32_t n, int sigmoid)
{
    const double inv_t = 1.0 / (double)m->card.temperature;
    float *z = m->acts[m->nlayers - 1];
    if (m->card.temperature == 1.0f || !pn_model_sigmoid_head(m))
        return;
    for (int32_t i = 0; i < n; i++) {
        const double a = (double)z[i] * inv_t;
        z[i] = sigmoid ? (float)(a >= 0.0 ? 1.0 / (1.0 + exp(-a)) : exp(a) / (1.0 + exp(a))) : (float)a;
    }
}

/* Loss and accuracy of the batch after a logits forward pass; writes the
 * probabilities over the logits and, with `grad`, dL/dz into gbuf[0]. */
static void loss_head(pneumo_model *m, int32_t n, const pneumo_tensor *labels, const pneumo_tensor *weights,
                      int grad, pneumo_step_result *result)
{
    float *z = m->acts[m->nlayers - 1];
    double loss, acc, wsum;
    pn_model_kernels(m)->bce_logits((size_t)n, z, labels->data, weights ? weights->data : NULL,
                                    grad ? m->label_smoothing : 0.0f, z, grad ? m->gbuf[0] : NULL, &loss,
                                    &acc, &wsum);
    if (result) {
        int32_t correct = 0;
        memset(result, 0, sizeof *result);
        result->loss = loss / n;
        /* Keras passes sample (class) weights to the loss and to
         * `weighted_metrics` only; `metrics=['accuracy']` is unweighted
         * (compile_utils.MetricsContainer.update_state). z now holds p. */
        for (int32_t i = 0; i < n; i++)
            correct += (z[i] > 0.5f ? 1.0f : 0.0f) == labels->data[i];
        result->accuracy = (double)correct / n;
        result->batch_size = n;
    }
}

static pneumo_status run_loss(pneumo_model *m, const pneumo_tensor *x, const pneumo_tensor *labels,
                              const pneumo_tensor *weights, int training, pneumo_step_result *result,
                              const char *fn)
{
    int32_t n = 0;
    pneumo_status st;
    if (!m)
        return pn_error(PNEUMO_ERR_INVALID_ARG, "%s: model is NULL", fn);
    if ((st = check_input(m, x, fn, &n)) != PNEUMO_OK)
        return st;
    if ((st = check_loss_head(m, fn)) != PNEUMO_OK)
        return st;
    if ((st = check_targets(n, labels, weights, fn)) != PNEUMO_OK)
        return st;
    if (training && (st = pn_model_check_exclusive(m, fn)) != PNEUMO_OK)
        return st;
    if (training && (st = pn_model_ensure_grads(m)) != PNEUMO_OK)
        return st;
    if ((st = forward(m, n, x->data, training, 1)) != PNEUMO_OK)
        return st;
    if (!training)
        apply_temperature(m, n, 0);
    loss_head(m, n, labels, weights, training, result);
    if (training)
        return backward(m, n, x->data);
    return PNEUMO_OK;
}

pneumo_status pneumo_model_compute_gradients(pneumo_model *m, const pneumo_tensor *x,
                                             const pneumo_tensor *labels, const pneumo_tensor *sample_weights,
                                             pneumo_step_result *result)
{
    return run_loss(m, x, labels, sample_weights, 1, result, "pneumo_model_compute_gradients");
}

pneumo_status pneumo_model_train_step(pneumo_model *m, pneumo_optimizer *opt, const pneumo_tensor *x,
                                      const pneumo_tensor *labels, const pneumo_tensor *sample_weights,
                                      pneumo_step_result *result)
{
    const char *fn = "pneumo_model_train_step";
    pneumo_status st;
    if (!opt)
        return pn_error(PNEUMO_ERR_INVALID_ARG, "%s: optimizer is NULL", fn);
    if (!m)
        return pn_error(PNEUMO_ERR_INVALID_ARG, "%s: model is NULL", fn);
    if (m->nparams == 0)
        return pn_error(PNEUMO_ERR_STATE, "%s: the model has no trainable parameters", fn);
    if (opt->model_id != 0 && (opt->model_id != m->id || opt->size != m->arena_size))
        return pn_error(PNEUMO_ERR_STATE,
                        "%s: the optimizer holds state for another model (or for this model "
                        "before it gained layers); create a new optimizer",
                        fn);
    if ((st = run_loss(m, x, labels, sample_weights, 1, result, fn)) != PNEUMO_OK)
        return st;
    if ((st = pn_optimizer_bind(opt, m->id, m->arena_size)) != PNEUMO_OK)
        return pn_error_prefix("%s", fn);
    pn_optimizer_step(opt, pn_model_kernels(m), m->params, m->grads, m->layers, m->nlayers);
    return PNEUMO_OK;
}

pneumo_status pn_model_part_gradients(pneumo_model *m, const pneumo_tensor *x, const pneumo_tensor *labels,
                                      const pneumo_tensor *weights, int64_t pos0, int64_t norm,
                                      double *bn_stats, double *loss_sum, int64_t *correct)
{
    const char *fn = "pneumo_model_fit";
    int32_t n = 0;
    double acc, wsum;
    float *z;
    uint64_t step = m->train_steps;
    pneumo_status st;
    *loss_sum = 0.0;
    *correct = 0;
    if ((st = pn_model_check_exclusive(m, fn)) != PNEUMO_OK || (st = pn_model_ensure_grads(m)) != PNEUMO_OK)
        return st;
    if (!x) {
        memset(m->grads, 0, (size_t)m->arena_size * sizeof(float));
        return PNEUMO_OK;
    }
    if ((st = check_input(m, x, fn, &n)) != PNEUMO_OK || (st = check_loss_head(m, fn)) != PNEUMO_OK ||
        (st = check_targets(n, labels, weights, fn)) != PNEUMO_OK)
        return st;
    m->batch_pos0 = pos0;
    m->bn_stats = bn_stats;
    st = forward(m, n, x->data, 1, 1);
    m->bn_stats = NULL;
    if (st == PNEUMO_OK) {
        const float inv_norm = 1.0f / (float)norm, keep = 1.0f - m->label_smoothing,
                    add = 0.5f * m->label_smoothing;
        z = m->acts[m->nlayers - 1];
        /* dL/dz as the kernel forms it, w (p - y) / N, with N the global batch */
        pn_model_kernels(m)->bce_logits((size_t)n, z, labels->data, weights ? weights->data : NULL,
                                        m->label_smoothing, z, NULL, loss_sum, &acc, &wsum);
        for (int32_t i = 0; i < n; i++) {
            const float wi = weights ? weights->data[i] : 1.0f;
            m->gbuf[0][i] = wi * (z[i] - (labels->data[i] * keep + add)) * inv_norm;
            *correct += (z[i] > 0.5f ? 1.0f : 0.0f) == labels->data[i];
        }
        st = backward(m, n, x->data);
    }
    m->batch_pos0 = 0;
    m->train_steps = step;
    return st;
}

void pn_model_move_stats(pneumo_model *m, const double *stats)
{
    for (int32_t i = 0; i < m->nlayers; i++)
        if (m->layers[i].kind == PN_LAYER_BATCHNORM)
            pn_batchnorm_move(&m->layers[i], stats + m->layers[i].s_off);
}

pneumo_status pn_model_update(pneumo_model *m, pneumo_optimizer *opt, const char *fn)
{
    pneumo_status st;
    if (opt->model_id != 0 && (opt->model_id != m->id || opt->size != m->arena_size))
        return pn_error(PNEUMO_ERR_STATE,
                        "%s: the optimizer holds state for another model; create a new optimizer", fn);
    if ((st = pn_optimizer_bind(opt, m->id, m->arena_size)) != PNEUMO_OK)
        return pn_error_prefix("%s", fn);
    pn_optimizer_step(opt, pn_model_kernels(m), m->params, m->grads, m->layers, m->nlayers);
    m->train_steps++;
    return PNEUMO_OK;
}

pneumo_status pneumo_model_evaluate_batch(pneumo_model *m, const pneumo_tensor *x,
                                          const pneumo_tensor *labels, const pneumo_tensor *sample_weights,
                                          pneumo_step_result *result)
{
    return run_loss(m, x, labels, sample_weights, 0, result, "pneumo_model_evaluate_batch");
}

pneumo_status pneumo_model_predict(pneumo_model *m, const pneumo_tensor *x, pneumo_tensor *out)
{
    const char *fn = "pneumo_model_predict";
    int32_t n = 0;
    int64_t units;
    char got[96];
    pneumo_status st;
    if (!m)
        return pn_error(PNEUMO_ERR_INVALID_ARG, "%s: model is NULL", fn);
    if (!out)
        return pn_error(PNEUMO_ERR_INVALID_ARG, "%s: output tensor is NULL", fn);
    if ((st = check_input(m, x, fn, &n)) != PNEUMO_OK)
        return st;
    units = pn_dims_size(pn_model_out_dims(m));
    if (!(out->ndim == 2 && out->shape[0] == n && out->shape[1] == units) &&
        !(units == 1 && out->ndim == 1 && out->shape[0] == n))
        return pn_error(PNEUMO_ERR_SHAPE, "%s: output shape %s, expected (%d, %lld)", fn,
                        pn_shape_format(out->ndim, out->shape, got, sizeof got), n, (long long)units);
    /* With a temperature the last sigmoid runs here, over z / T. */
    if ((st = forward(m, n, x->data, 0, m->card.temperature != 1.0f && pn_model_sigmoid_head(m))) !=
        PNEUMO_OK)
        return st;
    apply_temperature(m, n, 1);
    memcpy(out->data, m->acts[m->nlayers - 1], (size_t)n * (size_t)units * sizeof(float));
    return PNEUMO_OK;
}
