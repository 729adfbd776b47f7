/* Dropout (inverted): in training, each value is kept with probability 1 - rate
 * and scaled by 1 / (1 - rate); in inference it passes through. The mask comes
 * from (model seed, step, layer index), so runs are reproducible. */
#include <math.h>
#include <string.h>

#include "core/error.h"
#include "layers/layer.h"

static pneumo_status dropout_forward(pn_layer *l, const pn_run *run, int32_t n, const float *x, float *y)
{
    const size_t per = (size_t)pn_dims_size(&l->out);
    size_t count = (size_t)n * per;
    pneumo_status st;
    float scale, *mask;
    if (!run->training || l->rate == 0.0f) {
        memcpy(y, x, count * sizeof(float));
        return PNEUMO_OK;
    }
    st = pn_layer_reserve_scratch(l, (size_t)(run->sample0 + n) * per, 0, 1);
    if (st != PNEUMO_OK)
        return st;
    mask = l->mask + (size_t)run->sample0 * per;
    scale = 1.0f / (1.0f - l->rate);
    /* one stream per sample of the global batch, so masks depend neither on how
     * threads split the batch nor on how data-parallel ranks split it */
    for (int32_t s = 0; s < n; s++) {
        pn_rng rng;
        pn_rng_init(&rng, pn_hash64(pn_hash64(run->seed, 0x64726f70ull /* "drop" */), run->step),
                    pn_hash64((uint64_t)l->index, (uint64_t)(run->pos0 + run->sample0 + s)));
        for (size_t i = (size_t)s * per; i < (size_t)(s + 1) * per; i++) {
            mask[i] = pn_rng_uniform(&rng) >= (double)l->rate ? scale : 0.0f;
            y[i] = x[i] * mask[i];
        }
    }
    return PNEUMO_OK;
}

static pneumo_status dropout_backward(pn_layer *l, const pn_run *run, int32_t n, const float *x,
                                      const float *y, float *dy, float *dx)
{
    size_t count = (size_t)n * (size_t)pn_dims_size(&l->out);
    (void)x;
    (void)y;
    if (!dx)
        return PNEUMO_OK;
    if (!run->training || l->rate == 0.0f) {
        memcpy(dx, dy, count * sizeof(float));
        return PNEUMO_OK;
    }
    for (size_t i = 0; i < count; i++)
        dx[i] = dy[i] * l->mask[(size_t)run->sample0 * (size_t)pn_dims_size(&l->out) + i];
    return PNEUMO_OK;
}

static const pn_layer_ops dropout_ops = {
    .keras_class = "Dropout",
    .base_name = "dropout",
    .forward = dropout_forward,
    .backward = dropout_backward,
    .destroy = pn_layer_destroy,
};

pneumo_status pn_dropout_setup(pn_layer *l, const pn_dims *in, float rate)
{
    memset(l, 0, sizeof *l);
    if (!isfinite(rate) || rate < 0.0f || rate >= 1.0f)
        return pn_error(PNEUMO_ERR_INVALID_ARG, "Dropout: rate %g outside [0, 1)", (double)rate);
    l->ops = &dropout_ops;
    l->kind = PN_LAYER_DROPOUT;
    l->in = *in;
    l->out = *in;
    l->rate = rate;
    return PNEUMO_OK;
}
