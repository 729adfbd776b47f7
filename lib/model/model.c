/* Sequential model: construction, layer bookkeeping, parameter access. */
#include "model/model.h"

#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/alloc.h"
#include "core/buf.h"
#include "core/error.h"
#include "core/tensor.h"
#include "layers/limits.h"
#include "core/threadpool.h"

static atomic_uint_fast64_t next_model_id = 1;

struct pn_shared_weights {
    atomic_int refs; /* handles using the weights */
};

/* Parameter tensors start on 16-float (64-byte) boundaries. */
static int64_t round_up16(int64_t n) { return (n + 15) & ~(int64_t)15; }

void pneumo_conv2d_default_params(pneumo_conv2d_params *p)
{
    if (!p)
        return;
    memset(p, 0, sizeof *p);
    p->size = sizeof *p;
    p->kernel_h = p->kernel_w = 3;
    p->stride_h = p->stride_w = 1;
    p->padding = PNEUMO_PADDING_VALID;
    p->activation = PNEUMO_ACT_LINEAR;
    p->use_bias = 1;
}

void pneumo_maxpool2d_default_params(pneumo_maxpool2d_params *p)
{
    if (!p)
        return;
    memset(p, 0, sizeof *p);
    p->size = sizeof *p;
    p->pool_h = p->pool_w = 2;
    p->padding = PNEUMO_PADDING_VALID;
}

pneumo_status pneumo_model_create(int32_t height, int32_t width, int32_t channels, uint64_t seed,
                                  pneumo_model **out)
{
    pneumo_model *m;
    if (!out)
        return pn_error(PNEUMO_ERR_INVALID_ARG, "pneumo_model_create: out is NULL");
    *out = NULL;
    if (height < 1 || width < 1 || channels < 1)
        return pn_error(PNEUMO_ERR_INVALID_ARG,
                        "pneumo_model_create: input shape (%d, %d, %d) must be positive", height, width,
                        channels);
    if (height > PN_MAX_SIDE || width > PN_MAX_SIDE || channels > PN_MAX_CHANNELS ||
        (int64_t)height * width * channels > PN_MAX_SAMPLE_VALUES)
        return pn_error(PNEUMO_ERR_LIMIT,
                        "pneumo_model_create: input shape (%d, %d, %d) exceeds the limits "
                        "(side %d, channels %d, %lld values)",
                        height, width, channels, PN_MAX_SIDE, PN_MAX_CHANNELS,
                        (long long)PN_MAX_SAMPLE_VALUES);
    m = pn_calloc(1, sizeof *m);
    if (!m)
        return pn_error_nomem("pneumo_model_create", sizeof *m);
    m->shared = pn_malloc(sizeof *m->shared);
    if (!m->shared) {
        free(m);
        return pn_error_nomem("pneumo_model_create", sizeof *m->shared);
    }
    atomic_init(&m->shared->refs, 1);
    pn_card_init(&m->card);
    m->id = atomic_fetch_add(&next_model_id, 1);
    m->seed = seed;
    /* A 1x1 spatial input is a flat feature vector, like Keras' Input(shape=(c,)). */
    if (height == 1 && width == 1)
        m->input = (pn_dims){1, 1, 1, channels};
    else
        m->input = (pn_dims){3, height, width, channels};
    *out = m;
    return PNEUMO_OK;
}

void pn_model_free_batch(pneumo_model *m)
{
    if (m->acts)
        for (int32_t i = 0; i < m->nlayers; i++)
            pn_aligned_free(m->acts[i]);
    free(m->acts);
    m->acts = NULL;
    pn_aligned_free(m->gbuf[0]);
    pn_aligned_free(m->gbuf[1]);
    pn_aligned_free(m->thread_grads);
    m->thread_grads = NULL;
    m->gbuf[0] = m->gbuf[1] = NULL;
    free(m->fused);
    m->fused = NULL;
    pn_aligned_free(m->scratch);
    m->scratch = NULL;
    if (m->folds)
        for (int32_t i = 0; i < m->nlayers; i++)
            pn_aligned_free(m->folds[i].buf);
    free(m->folds);
    m->folds = NULL;
    m->scratch_stride = 0;
    m->batch_cap = 0;
}

void pn_model_set_fusion(pneumo_model *m, int on)
{
    if (m->no_fusion == !on)
        return;
    pn_model_free_batch(m);
    m->no_fusion = !on;
}

void pneumo_model_destroy(pneumo_model *m)
{
    if (!m)
        return;
    pn_model_free_batch(m);
    pn_threadpool_destroy(m->pool);
    for (int32_t i = 0; i < m->nlayers; i++)
        if (m->layers[i].ops->destroy)
            m->layers[i].ops->destroy(&m->layers[i]);
    free(m->layers);
    /* the last handle sharing the weights frees them */
    if (atomic_fetch_sub(&m->shared->refs, 1) == 1) {
        pn_aligned_free(m->params);
        free(m->state);
        free(m->shared);
    }
    pn_aligned_free(m->grads);
    pn_aligned_free(m->image_in);
    free(m);
}

const pn_dims *pn_model_out_dims(const pneumo_model *m)
{
    return m->nlayers ? &m->layers[m->nlayers - 1].out : &m->input;
}

const float *pn_model_output(const pneumo_model *m)
{
    return m->acts && m->nlayers ? m->acts[m->nlayers - 1] : NULL;
}

static void refresh_param_views(pneumo_model *m)
{
    for (int32_t i = 0; i < m->nlayers; i++) {
        pn_layer *l = &m->layers[i];
        if (l->nw) {
            l->w = m->params + l->w_off;
            l->dw = m->grads ? m->grads + l->w_off : NULL;
        }
        if (l->nb) {
            l->b = m->params + l->b_off;
            l->db = m->grads ? m->grads + l->b_off : NULL;
        }
        if (l->ns) {
            l->mmean = m->state + l->s_off;
            l->mvar = l->mmean + l->ns / 2;
        }
    }
}

static void name_layer(pneumo_model *m, pn_layer *l)
{
    int same = 0;
    for (int32_t i = 0; i < m->nlayers; i++)
        if (m->layers[i].ops == l->ops)
            same++;
    if (same == 0)
        snprintf(l->name, sizeof l->name, "%s", l->ops->base_name);
    else
        snprintf(l->name, sizeof l->name, "%s_%d", l->ops->base_name, same);
    snprintf(l->w_name, sizeof l->w_name, "%s/%s", l->name,
             l->kind == PN_LAYER_BATCHNORM ? "gamma" : "kernel");
    snprintf(l->b_name, sizeof l->b_name, "%s/%s", l->name, l->kind == PN_LAYER_BATCHNORM ? "beta" : "bias");
}

pneumo_status pn_model_check_exclusive(const pneumo_model *m, const char *fn)
{
    int refs = atomic_load(&m->shared->refs);
    if (refs > 1)
        return pn_error(PNEUMO_ERR_STATE,
                        "%s: the weights are shared by %d model handles (inference clones); "
                        "destroy the clones before changing them",
                        fn, refs);
    return PNEUMO_OK;
}

pneumo_status pn_model_ensure_grads(pneumo_model *m)
{
    if (m->grads || !m->arena_size)
        return PNEUMO_OK;
    m->grads = pn_aligned_calloc((size_t)m->arena_size, sizeof(float));
    if (!m->grads)
        return pn_error_nomem("gradient arena", (size_t)m->arena_size * sizeof(float));
    refresh_param_views(m);
    return PNEUMO_OK;
}

pneumo_status pneumo_model_clone_inference(const pneumo_model *src, pneumo_model **out)
{
    const char *fn = "pneumo_model_clone_inference";
    pneumo_model *m;
    if (!src || !out)
        return pn_error(PNEUMO_ERR_INVALID_ARG, "%s: %s is NULL", fn, src ? "out" : "model");
    *out = NULL;
    if (src->nlayers == 0)
        return pn_error(PNEUMO_ERR_STATE, "%s: the model has no layers", fn);
    m = pn_calloc(1, sizeof *m);
    if (!m)
        return pn_error_nomem(fn, sizeof *m);
    m->layers = pn_malloc((size_t)src->nlayers * sizeof *m->layers);
    if (!m->layers) {
        free(m);
        return pn_error_nomem(fn, (size_t)src->nlayers * sizeof *m->layers);
    }
    memcpy(m->layers, src->layers, (size_t)src->nlayers * sizeof *m->layers);
    for (int32_t i = 0; i < src->nlayers; i++) {
        /* per-batch scratch is the clone's own */
        m->layers[i].argmax = NULL;
        m->layers[i].mask = NULL;
        m->layers[i].scratch_cap = 0;
    }
    m->id = atomic_fetch_add(&next_model_id, 1);
    m->seed = src->seed;
    m->input = src->input;
    m->nlayers = src->nlayers;
    m->layers_cap = (size_t)src->nlayers;
    m->params = src->params;
    m->state = src->state;
    m->state_size = src->state_size;
    m->shared = src->shared;
    atomic_fetch_add(&m->shared->refs, 1);
    m->arena_size = src->arena_size;
    m->nparams = src->nparams;
    m->act_values = src->act_values;
    m->no_fusion = src->no_fusion;
    m->kernels = src->kernels;
    m->train_steps = src->train_steps;
    m->threads = 1;
    m->card = src->card;
    refresh_param_views(m);
    *out = m;
    return PNEUMO_OK;
}

pneumo_status pn_model_append(pneumo_model *m, pn_layer *l)
{
    int64_t extra = round_up16(l->nw) + round_up16(l->nb);
    pneumo_status st;
    if ((st = pn_model_check_exclusive(m, l->ops->keras_class)) != PNEUMO_OK)
        return st;
    if (m->nlayers >= PN_MAX_LAYERS)
        return pn_error(PNEUMO_ERR_LIMIT, "model has the maximum of %d layers", PN_MAX_LAYERS);
    if (m->act_values + pn_dims_size(&l->out) > PN_MAX_SAMPLE_VALUES)
        return pn_error(PNEUMO_ERR_LIMIT,
                        "%s: the model would keep more than %lld activation values per sample",
                        l->ops->keras_class, (long long)PN_MAX_SAMPLE_VALUES);
    if (!pn_array_reserve(&m->layers, &m->layers_cap, (size_t)m->nlayers + 1, sizeof *m->layers,
                          PN_MAX_LAYERS))
        return pn_error_nomem("model layers", ((size_t)m->nlayers + 1) * sizeof *m->layers);
    if (m->max_params && m->nparams + l->nw + l->nb > m->max_params)
        return pn_error(PNEUMO_ERR_FORMAT,
                        "%s: the model would have %lld parameters, more than the file holds",
                        l->ops->keras_class, (long long)(m->nparams + l->nw + l->nb));
    if (l->ns) {
        /* grown first: a failure below leaves a larger buffer, nothing else changed */
        float *grown = pn_realloc(m->state, (size_t)(m->state_size + l->ns) * sizeof(float));
        if (!grown)
            return pn_error_nomem(l->ops->keras_class, (size_t)(m->state_size + l->ns) * sizeof(float));
        m->state = grown;
    }
    if (extra) {
        size_t total = (size_t)(m->arena_size + extra);
        float *p = pn_aligned_calloc(total, sizeof(float));
        float *g = pn_aligned_calloc(total, sizeof(float));
        if (!p || !g) {
            pn_aligned_free(p);
            pn_aligned_free(g);
            return pn_error_nomem(l->ops->keras_class, total * 2 * sizeof(float));
        }
        if (m->arena_size)
            memcpy(p, m->params, (size_t)m->arena_size * sizeof(float));
        pn_aligned_free(m->params);
        pn_aligned_free(m->grads);
        m->params = p;
        m->grads = g;
        l->w_off = m->arena_size;
        l->b_off = m->arena_size + round_up16(l->nw);
        m->arena_size += extra;
        m->nparams += l->nw + l->nb;
    }
    if (l->ns) {
        l->s_off = m->state_size;
        m->state_size += l->ns;
    }
    /* The per-batch buffers are sized by layer; rebuild them on next use. */
    pn_model_free_batch(m);
    m->act_values += pn_dims_size(&l->out);
    l->index = m->nlayers;
    name_layer(m, l);
    m->layers[m->nlayers++] = *l;
    refresh_param_views(m);
    {
        pn_layer *added = &m->layers[m->nlayers - 1];
        pn_rng rng;
        pn_rng_init(&rng, m->seed, (uint64_t)added->index);
        pn_layer_init_params(added, &rng);
    }
    return PNEUMO_OK;
}

static pneumo_status check_model(const pneumo_model *m, const char *fn)
{
    if (!m)
        return pn_error(PNEUMO_ERR_INVALID_ARG, "%s: model is NULL", fn);
    return PNEUMO_OK;
}

/* Shared tail of every pneumo_model_add_*: prefix the error with the layer
 * that was being added. */
static pneumo_status add_layer(pneumo_model *m, pneumo_status setup_status, pn_layer *l)
{
    if (setup_status != PNEUMO_OK)
        return pn_error_prefix("layer %d", m->nlayers);
    return pn_model_append(m, l);
}

pneumo_status pneumo_model_add_conv2d(pneumo_model *m, const pneumo_conv2d_params *p)
{
    pn_layer l;
    if (check_model(m, "pneumo_model_add_conv2d"))
        return PNEUMO_ERR_INVALID_ARG;
    if (!p)
        return pn_error(PNEUMO_ERR_INVALID_ARG, "pneumo_model_add_conv2d: params is NULL");
    if (PN_CHECK_STRUCT("pneumo_model_add_conv2d", pneumo_conv2d_params, p) != PNEUMO_OK)
        return PNEUMO_ERR_INVALID_ARG;
    return add_layer(m, pn_conv2d_setup(&l, pn_model_out_dims(m), p), &l);
}

pneumo_status pneumo_model_add_maxpool2d(pneumo_model *m, const pneumo_maxpool2d_params *p)
{
    pneumo_maxpool2d_params defaults;
    pn_layer l;
    if (check_model(m, "pneumo_model_add_maxpool2d"))
        return PNEUMO_ERR_INVALID_ARG;
    if (!p) {
        pneumo_maxpool2d_default_params(&defaults);
        p = &defaults;
    } else if (PN_CHECK_STRUCT("pneumo_model_add_maxpool2d", pneumo_maxpool2d_params, p) != PNEUMO_OK) {
        return PNEUMO_ERR_INVALID_ARG;
    }
    return add_layer(m, pn_maxpool2d_setup(&l, pn_model_out_dims(m), p), &l);
}

pneumo_status pneumo_model_add_flatten(pneumo_model *m)
{
    pn_layer l;
    if (check_model(m, "pneumo_model_add_flatten"))
        return PNEUMO_ERR_INVALID_ARG;
    return add_layer(m, pn_flatten_setup(&l, pn_model_out_dims(m)), &l);
}

pneumo_status pneumo_model_add_dense(pneumo_model *m, int32_t units, pneumo_activation activation)
{
    pn_layer l;
    if (check_model(m, "pneumo_model_add_dense"))
        return PNEUMO_ERR_INVALID_ARG;
    return add_layer(m, pn_dense_setup(&l, pn_model_out_dims(m), units, activation), &l);
}

pneumo_status pneumo_model_add_activation(pneumo_model *m, pneumo_activation activation)
{
    pn_layer l;
    if (check_model(m, "pneumo_model_add_activation"))
        return PNEUMO_ERR_INVALID_ARG;
    return add_layer(m, pn_activation_setup(&l, pn_model_out_dims(m), activation), &l);
}

pneumo_status pneumo_model_add_dropout(pneumo_model *m, float rate)
{
    pn_layer l;
    if (check_model(m, "pneumo_model_add_dropout"))
        return PNEUMO_ERR_INVALID_ARG;
    return add_layer(m, pn_dropout_setup(&l, pn_model_out_dims(m), rate), &l);
}

void pneumo_batchnorm_default_params(pneumo_batchnorm_params *p)
{
    if (!p)
        return;
    memset(p, 0, sizeof *p);
    p->size = sizeof *p;
    p->axis = -1;
    p->momentum = 0.99f;
    p->epsilon = 1e-3f;
    p->center = 1;
    p->scale = 1;
}

pneumo_status pneumo_model_add_batchnorm(pneumo_model *m, const pneumo_batchnorm_params *p)
{
    pneumo_batchnorm_params defaults;
    pn_layer l;
    if (check_model(m, "pneumo_model_add_batchnorm"))
        return PNEUMO_ERR_INVALID_ARG;
    if (!p) {
        pneumo_batchnorm_default_params(&defaults);
        p = &defaults;
    } else if (PN_CHECK_STRUCT("pneumo_model_add_batchnorm", pneumo_batchnorm_params, p) != PNEUMO_OK) {
        return PNEUMO_ERR_INVALID_ARG;
    }
    return add_layer(m, pn_batchnorm_setup(&l, pn_model_out_dims(m), p), &l);
}

pneumo_status pneumo_model_add_global_avgpool2d(pneumo_model *m)
{
    pn_layer l;
    if (check_model(m, "pneumo_model_add_global_avgpool2d"))
        return PNEUMO_ERR_INVALID_ARG;
    return add_layer(m, pn_gap2d_setup(&l, pn_model_out_dims(m)), &l);
}

pneumo_status pneumo_model_create_article(int32_t size, uint64_t seed, pneumo_model **out)
{
    static const int32_t filters[5] = {32, 32, 32, 64, 64};
    pneumo_model *m = NULL;
    pneumo_conv2d_params conv;
    pneumo_status st;
    if (!out)
        return pn_error(PNEUMO_ERR_INVALID_ARG, "pneumo_model_create_article: out is NULL");
    *out = NULL;
    st = pneumo_model_create(size, size, 1, seed, &m);
    if (st != PNEUMO_OK)
        return st;
    pneumo_conv2d_default_params(&conv);
    conv.activation = PNEUMO_ACT_RELU;
    for (int i = 0; i < 5 && st == PNEUMO_OK; i++) {
        conv.filters = filters[i];
        st = pneumo_model_add_conv2d(m, &conv);
        if (st == PNEUMO_OK)
            st = pneumo_model_add_maxpool2d(m, NULL);
    }
    if (st == PNEUMO_OK)
        st = pneumo_model_add_flatten(m);
    if (st == PNEUMO_OK)
        st = pneumo_model_add_dense(m, 128, PNEUMO_ACT_RELU);
    if (st == PNEUMO_OK)
        st = pneumo_model_add_dense(m, 64, PNEUMO_ACT_RELU);
    if (st == PNEUMO_OK)
        st = pneumo_model_add_dense(m, 1, PNEUMO_ACT_SIGMOID);
    if (st != PNEUMO_OK) {
        pneumo_model_destroy(m);
        return pn_error_prefix("article model at %dx%d (the minimum size is 94)", size, size);
    }
    *out = m;
    return PNEUMO_OK;
}

int32_t pneumo_model_num_layers(const pneumo_model *m) { return m ? m->nlayers : 0; }

pneumo_status pneumo_model_input_shape(const pneumo_model *m, int32_t *h, int32_t *w, int32_t *c)
{
    if (check_model(m, "pneumo_model_input_shape"))
        return PNEUMO_ERR_INVALID_ARG;
    if (h)
        *h = m->input.h;
    if (w)
        *w = m->input.w;
    if (c)
        *c = m->input.c;
    return PNEUMO_OK;
}

int64_t pneumo_model_output_size(const pneumo_model *m)
{
    if (!m || m->nlayers == 0)
        return 0;
    return pn_dims_size(pn_model_out_dims(m));
}

int64_t pneumo_model_num_params(const pneumo_model *m) { return m ? m->nparams : 0; }

/* Parameter tensor `index` counts kernels and biases in layer order. */
static const pn_layer *param_layer(const pneumo_model *m, int32_t index, int *is_bias)
{
    if (!m || index < 0)
        return NULL;
    for (int32_t i = 0; i < m->nlayers; i++) {
        const pn_layer *l = &m->layers[i];
        if (l->nw) {
            if (index == 0) {
                *is_bias = 0;
                return l;
            }
            index--;
        }
        if (l->nb) {
            if (index == 0) {
                *is_bias = 1;
                return l;
            }
            index--;
        }
    }
    return NULL;
}

int32_t pneumo_model_num_param_tensors(const pneumo_model *m)
{
    int32_t n = 0;
    if (!m)
        return 0;
    for (int32_t i = 0; i < m->nlayers; i++)
        n += (m->layers[i].nw != 0) + (m->layers[i].nb != 0);
    return n;
}

pneumo_status pneumo_model_param_name(const pneumo_model *m, int32_t index, char *buf, size_t size,
                                      size_t *needed)
{
    static const char *fn = "pneumo_model_param_name";
    int is_bias;
    const pn_layer *l;
    if (check_model(m, fn))
        return PNEUMO_ERR_INVALID_ARG;
    if (!(l = param_layer(m, index, &is_bias)))
        return pn_error(PNEUMO_ERR_INVALID_ARG, "%s: index %d outside 0..%d", fn, index,
                        pneumo_model_num_param_tensors(m) - 1);
    return pn_string_out(fn, is_bias ? l->b_name : l->w_name, "", buf, size, needed);
}

static pneumo_status param_view(pneumo_model *m, int32_t index, int grad, pneumo_tensor **out)
{
    int is_bias;
    const pn_layer *l;
    const char *fn = grad ? "pneumo_model_grad" : "pneumo_model_param";
    if (!out)
        return pn_error(PNEUMO_ERR_INVALID_ARG, "%s: out is NULL", fn);
    *out = NULL;
    if (check_model(m, fn))
        return PNEUMO_ERR_INVALID_ARG;
    l = param_layer(m, index, &is_bias);
    if (!l)
        return pn_error(PNEUMO_ERR_INVALID_ARG, "%s: index %d outside 0..%d", fn, index,
                        pneumo_model_num_param_tensors(m) - 1);
    if (grad && !m->grads)
        return pn_error(PNEUMO_ERR_STATE, "%s: this inference clone has computed no gradients", fn);
    if (is_bias)
        return pneumo_tensor_wrap(1, l->b_shape, grad ? l->db : l->b, (size_t)l->b_shape[0], out);
    {
        size_t count = 1;
        for (int i = 0; i < l->w_ndim; i++)
            count *= (size_t)l->w_shape[i];
        return pneumo_tensor_wrap(l->w_ndim, l->w_shape, grad ? l->dw : l->w, count, out);
    }
}

pneumo_status pneumo_model_param(pneumo_model *m, int32_t index, pneumo_tensor **out)
{
    return param_view(m, index, 0, out);
}

pneumo_status pneumo_model_grad(pneumo_model *m, int32_t index, pneumo_tensor **out)
{
    return param_view(m, index, 1, out);
}

pneumo_status pneumo_model_set_threads(pneumo_model *m, int32_t threads)
{
    pn_threadpool *pool = NULL;
    pneumo_status st;
    if (check_model(m, "pneumo_model_set_threads"))
        return PNEUMO_ERR_INVALID_ARG;
    if (threads < 0 || threads > PN_MAX_THREADS)
        return pn_error(PNEUMO_ERR_INVALID_ARG, "pneumo_model_set_threads: %d outside 0..%d", threads,
                        PN_MAX_THREADS);
    if (threads == 0)
        threads = pn_online_cores();
    if (m->pool && pn_threadpool_size(m->pool) == threads)
        return PNEUMO_OK;
    if ((st = pn_threadpool_create(threads, &pool)) != PNEUMO_OK)
        return st;
    pn_threadpool_destroy(m->pool);
    m->pool = pool;
    m->threads = threads;
    pn_model_free_batch(m); /* per-thread buffers are sized by the thread count */
    return PNEUMO_OK;
}

int32_t pneumo_model_threads(const pneumo_model *m)
{
    if (!m)
        return 0;
    return m->threads ? m->threads : pn_online_cores();
}
