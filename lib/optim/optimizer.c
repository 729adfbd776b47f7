#include "optim/optimizer.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "core/alloc.h"
#include "core/error.h"

void pneumo_adam_default_params(pneumo_adam_params *p)
{
    if (!p)
        return;
    memset(p, 0, sizeof *p);
    p->size = sizeof *p;
    p->learning_rate = 1e-3f;
    p->beta_1 = 0.9f;
    p->beta_2 = 0.999f;
    p->epsilon = 1e-7f;
}

void pneumo_sgd_default_params(pneumo_sgd_params *p)
{
    if (!p)
        return;
    memset(p, 0, sizeof *p);
    p->size = sizeof *p;
    p->learning_rate = 1e-2f;
}

static int valid_lr(float lr) { return isfinite(lr) && lr > 0.0f; }

pneumo_status pn_adam_check(const pneumo_adam_params *p)
{
    pneumo_status st;
    if ((st = PN_CHECK_STRUCT("Adam", pneumo_adam_params, p)) != PNEUMO_OK)
        return st;
    if (!valid_lr(p->learning_rate))
        return pn_error(PNEUMO_ERR_INVALID_ARG, "Adam: learning_rate %g must be finite and > 0",
                        (double)p->learning_rate);
    if (!(p->beta_1 >= 0.0f && p->beta_1 < 1.0f) || !(p->beta_2 >= 0.0f && p->beta_2 < 1.0f))
        return pn_error(PNEUMO_ERR_INVALID_ARG, "Adam: beta_1 %g and beta_2 %g must be in [0, 1)",
                        (double)p->beta_1, (double)p->beta_2);
    if (!(isfinite(p->epsilon) && p->epsilon >= 0.0f))
        return pn_error(PNEUMO_ERR_INVALID_ARG, "Adam: epsilon %g must be finite and >= 0",
                        (double)p->epsilon);
    if (!(isfinite(p->weight_decay) && p->weight_decay >= 0.0f))
        return pn_error(PNEUMO_ERR_INVALID_ARG, "Adam: weight_decay %g must be finite and >= 0",
                        (double)p->weight_decay);
    return PNEUMO_OK;
}

pneumo_status pn_sgd_check(const pneumo_sgd_params *p)
{
    pneumo_status st;
    if ((st = PN_CHECK_STRUCT("SGD", pneumo_sgd_params, p)) != PNEUMO_OK)
        return st;
    if (!valid_lr(p->learning_rate))
        return pn_error(PNEUMO_ERR_INVALID_ARG, "SGD: learning_rate %g must be finite and > 0",
                        (double)p->learning_rate);
    if (!(p->momentum >= 0.0f && p->momentum < 1.0f))
        return pn_error(PNEUMO_ERR_INVALID_ARG, "SGD: momentum %g must be in [0, 1)", (double)p->momentum);
    return PNEUMO_OK;
}

static pneumo_status create(pneumo_optimizer_kind kind, const void *params, pneumo_optimizer **out)
{
    pneumo_optimizer *opt;
    if (!out)
        return pn_error(PNEUMO_ERR_INVALID_ARG, "pneumo_optimizer_create: out is NULL");
    *out = NULL;
    opt = pn_calloc(1, sizeof *opt);
    if (!opt)
        return pn_error_nomem("optimizer", sizeof *opt);
    opt->kind = kind;
    if (kind == PNEUMO_OPTIMIZER_ADAM) {
        if (params)
            opt->adam = *(const pneumo_adam_params *)params;
        else
            pneumo_adam_default_params(&opt->adam);
        if (pn_adam_check(&opt->adam) != PNEUMO_OK) {
            free(opt);
            return PNEUMO_ERR_INVALID_ARG;
        }
        opt->lr = opt->adam.learning_rate;
    } else {
        if (params)
            opt->sgd = *(const pneumo_sgd_params *)params;
        else
            pneumo_sgd_default_params(&opt->sgd);
        if (pn_sgd_check(&opt->sgd) != PNEUMO_OK) {
            free(opt);
            return PNEUMO_ERR_INVALID_ARG;
        }
        opt->lr = opt->sgd.learning_rate;
    }
    *out = opt;
    return PNEUMO_OK;
}

pneumo_status pneumo_optimizer_create_adam(const pneumo_adam_params *p, pneumo_optimizer **out)
{
    return create(PNEUMO_OPTIMIZER_ADAM, p, out);
}

pneumo_status pneumo_optimizer_create_sgd(const pneumo_sgd_params *p, pneumo_optimizer **out)
{
    return create(PNEUMO_OPTIMIZER_SGD, p, out);
}

void pneumo_optimizer_destroy(pneumo_optimizer *opt)
{
    if (!opt)
        return;
    pn_aligned_free(opt->m);
    pn_aligned_free(opt->v);
    free(opt);
}

pneumo_optimizer_kind pneumo_optimizer_kind_of(const pneumo_optimizer *opt)
{
    return opt ? opt->kind : (pneumo_optimizer_kind)0;
}

pneumo_status pneumo_optimizer_set_learning_rate(pneumo_optimizer *opt, float lr)
{
    if (!opt)
        return pn_error(PNEUMO_ERR_INVALID_ARG, "pneumo_optimizer_set_learning_rate: optimizer is NULL");
    if (!valid_lr(lr))
        return pn_error(PNEUMO_ERR_INVALID_ARG,
                        "pneumo_optimizer_set_learning_rate: %g must be finite and > 0", (double)lr);
    opt->lr = lr;
    return PNEUMO_OK;
}

float pneumo_optimizer_learning_rate(const pneumo_optimizer *opt) { return opt ? opt->lr : 0.0f; }

int64_t pneumo_optimizer_iterations(const pneumo_optimizer *opt) { return opt ? opt->iterations : 0; }

pneumo_status pn_optimizer_bind(pneumo_optimizer *opt, uint64_t model_id, int64_t size)
{
    if (opt->model_id == model_id && opt->size == size)
        return PNEUMO_OK;
    if (opt->model_id != 0)
        return pn_error(PNEUMO_ERR_STATE,
                        "optimizer already holds state for another model (or the model gained "
                        "layers since its first step); create a new optimizer");
    opt->m = pn_aligned_calloc((size_t)size, sizeof(float));
    opt->v = opt->kind == PNEUMO_OPTIMIZER_ADAM ? pn_aligned_calloc((size_t)size, sizeof(float)) : NULL;
    if (!opt->m || (opt->kind == PNEUMO_OPTIMIZER_ADAM && !opt->v)) {
        pn_aligned_free(opt->m);
        pn_aligned_free(opt->v);
        opt->m = opt->v = NULL;
        return pn_error_nomem("optimizer state", (size_t)size * 2 * sizeof(float));
    }
    opt->model_id = model_id;
    opt->size = size;
    return PNEUMO_OK;
}

/* Adam over w[lo, hi) with the step's lr_t, the kept fraction `keep` of the
 * weights (1: no decay) */
static void adam_range(pneumo_optimizer *opt, const pn_kernels *k, float *w, const float *g, int64_t lo,
                       int64_t hi, float lr_t, float keep)
{
    if (hi > lo)
        k->adam_update((size_t)(hi - lo), w + lo, g + lo, opt->m + lo, opt->v + lo, lr_t, opt->adam.beta_1,
                       opt->adam.beta_2, opt->adam.epsilon, keep);
}

void pn_optimizer_step(pneumo_optimizer *opt, const pn_kernels *k, float *w, const float *g,
                       const pn_layer *layers, int32_t nlayers)
{
    opt->iterations++;
    if (opt->kind == PNEUMO_OPTIMIZER_ADAM) {
        /* Keras folds both bias corrections into the step size, in double. */
        double t = (double)opt->iterations;
        float lr_t = (float)((double)opt->lr * sqrt(1.0 - pow((double)opt->adam.beta_2, t)) /
                             (1.0 - pow((double)opt->adam.beta_1, t)));
        int64_t done = 0;
        if (opt->adam.weight_decay > 0.0f) {
            /* torch.optim.AdamW: p.mul_(1 - lr * weight_decay) before the step */
            const float keep = (float)(1.0 - (double)opt->lr * (double)opt->adam.weight_decay);
            for (int32_t i = 0; i < nlayers; i++) {
                const pn_layer *l = &layers[i];
                if ((l->kind != PN_LAYER_CONV2D && l->kind != PN_LAYER_DENSE) || l->nw == 0)
                    continue;
                adam_range(opt, k, w, g, done, l->w_off, lr_t, 1.0f);
                adam_range(opt, k, w, g, l->w_off, l->w_off + l->nw, lr_t, keep);
                done = l->w_off + l->nw;
            }
        }
        adam_range(opt, k, w, g, done, opt->size, lr_t, 1.0f);
    } else {
        k->sgd_update((size_t)opt->size, w, g, opt->m, opt->lr, opt->sgd.momentum, opt->sgd.nesterov);
    }
}
