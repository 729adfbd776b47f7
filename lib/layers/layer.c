#include "layers/layer.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "core/alloc.h"
#include "core/error.h"

void pn_layer_fans(const pn_layer *l, double *fan_in, double *fan_out)
{
    if (l->kind == PN_LAYER_CONV2D) {
        double rf = (double)l->kh * l->kw;
        *fan_in = rf * l->in.c;
        *fan_out = rf * l->filters;
    } else {
        *fan_in = (double)l->in.c;
        *fan_out = (double)l->units;
    }
}

void pn_layer_init_params(pn_layer *l, pn_rng *rng)
{
    double fan_in, fan_out, limit;
    if (l->kind == PN_LAYER_BATCHNORM) {
        for (int64_t i = 0; i < l->nw; i++)
            l->w[i] = 1.0f;
        for (int64_t i = 0; i < l->nb; i++)
            l->b[i] = 0.0f;
        for (int64_t i = 0; i < l->ns / 2; i++) {
            l->mmean[i] = 0.0f;
            l->mvar[i] = 1.0f;
        }
        return;
    }
    if (l->nw == 0)
        return;
    pn_layer_fans(l, &fan_in, &fan_out);
    limit = sqrt(6.0 / (fan_in + fan_out));
    for (int64_t i = 0; i < l->nw; i++)
        l->w[i] = (float)((2.0 * pn_rng_uniform(rng) - 1.0) * limit);
    if (l->b)
        memset(l->b, 0, (size_t)l->nb * sizeof(float));
}

size_t pn_layer_scratch_per_sample(const pn_layer *l)
{
    if (l->kind == PN_LAYER_MAXPOOL2D || l->kind == PN_LAYER_DROPOUT)
        return (size_t)pn_dims_size(&l->out);
    return 0;
}

pneumo_status pn_layer_reserve_scratch(pn_layer *l, size_t count, int want_argmax, int want_mask)
{
    if (count <= l->scratch_cap)
        return PNEUMO_OK;
    if (want_argmax) {
        uint8_t *a = pn_aligned_alloc(count);
        if (!a)
            return pn_error_nomem(l->name, count);
        pn_aligned_free(l->argmax);
        l->argmax = a;
    }
    if (want_mask) {
        float *m = pn_aligned_calloc(count, sizeof(float));
        if (!m)
            return pn_error_nomem(l->name, count * sizeof(float));
        pn_aligned_free(l->mask);
        l->mask = m;
    }
    l->scratch_cap = count;
    return PNEUMO_OK;
}

void pn_layer_destroy(pn_layer *l)
{
    pn_aligned_free(l->argmax);
    pn_aligned_free(l->mask);
    l->argmax = NULL;
    l->mask = NULL;
    l->scratch_cap = 0;
}

static const char *const act_names[] = {"linear", "relu", "sigmoid", "tanh"};

int pn_act_valid(int act) { return act >= PN_ACT_LINEAR && act <= PN_ACT_TANH; }

const char *pn_act_name(pn_act act) { return pn_act_valid((int)act) ? act_names[act] : "?"; }

int pn_act_from_name(const char *name, pn_act *out)
{
    for (int i = 0; i <= PN_ACT_TANH; i++)
        if (strcmp(name, act_names[i]) == 0) {
            *out = (pn_act)i;
            return 1;
        }
    return 0;
}
