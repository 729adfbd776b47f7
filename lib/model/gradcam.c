/* Grad-CAM (Selvaraju et al. 2017) of one sample for a Conv2D layer. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "core/alloc.h"
#include "core/error.h"
#include "core/tensor.h"
#include "model/model.h"
#include "pneumo/gradcam.h"
#include "pneumo/train.h"

void pneumo_gradcam_default_options(pneumo_gradcam_options *o)
{
    if (!o)
        return;
    memset(o, 0, sizeof *o);
    o->size = sizeof *o;
    o->layer = -1;
    o->target = -1;
}

static int32_t last_conv(const pneumo_model *m)
{
    for (int32_t i = m->nlayers - 1; i >= 0; i--)
        if (m->layers[i].kind == PN_LAYER_CONV2D)
            return i;
    return -1;
}

static pneumo_status check_options(const pneumo_model *m, const pneumo_gradcam_options *o, int32_t *layer,
                                   const char *fn)
{
    const pn_layer *last;
    for (size_t i = 0; i < sizeof o->reserved / sizeof o->reserved[0]; i++)
        if (o->reserved[i])
            return pn_error(PNEUMO_ERR_INVALID_ARG, "%s: reserved option fields must be zero", fn);
    if (o->size != sizeof *o)
        return pn_error(PNEUMO_ERR_INVALID_ARG,
                        "%s: options size is %u, expected %zu (use pneumo_gradcam_default_options)", fn,
                        o->size, sizeof *o);
    if (o->target < -1 || o->target > 1)
        return pn_error(PNEUMO_ERR_INVALID_ARG, "%s: target %d (use 1, 0 or -1 for the predicted class)", fn,
                        o->target);
    if (m->nlayers == 0)
        return pn_error(PNEUMO_ERR_STATE, "%s: the model has no layers", fn);
    last = &m->layers[m->nlayers - 1];
    if (pn_dims_size(&last->out) != 1 || last->act != PN_ACT_SIGMOID)
        return pn_error(PNEUMO_ERR_STATE,
                        "%s: Grad-CAM needs a model ending in one sigmoid unit, the last layer is %s", fn,
                        last->name);
    if (o->layer == -1) {
        if ((*layer = last_conv(m)) < 0)
            return pn_error(PNEUMO_ERR_STATE, "%s: the model has no Conv2D layer", fn);
    } else if (o->layer < 0 || o->layer >= m->nlayers) {
        return pn_error(PNEUMO_ERR_INVALID_ARG, "%s: layer %d outside 0..%d", fn, o->layer, m->nlayers - 1);
    } else if (m->layers[o->layer].kind != PN_LAYER_CONV2D) {
        return pn_error(PNEUMO_ERR_STATE, "%s: layer %d (%s) is not a Conv2D layer", fn, o->layer,
                        m->layers[o->layer].name);
    } else {
        *layer = o->layer;
    }
    return PNEUMO_OK;
}

/* map = ReLU(sum_k w_k A_k), w_k = mean_ij dS/dA_ijk; sums in double. */
static float cam(const float *a, const float *g, int64_t hw, int32_t k, double *w, float *map)
{
    float most = 0.0f;
    for (int32_t c = 0; c < k; c++)
        w[c] = 0.0;
    for (int64_t p = 0; p < hw; p++)
        for (int32_t c = 0; c < k; c++)
            w[c] += (double)g[p * k + c];
    for (int32_t c = 0; c < k; c++)
        w[c] /= (double)hw;
    for (int64_t p = 0; p < hw; p++) {
        double s = 0.0;
        for (int32_t c = 0; c < k; c++)
            s += w[c] * (double)a[p * k + c];
        map[p] = s > 0.0 ? (float)s : 0.0f;
        if (map[p] > most)
            most = map[p];
    }
    return most;
}

pneumo_status pneumo_model_gradcam(pneumo_model *m, const pneumo_tensor *x, const pneumo_gradcam_options *o,
                                   pneumo_tensor **map, pneumo_gradcam_info *info)
{
    const char *fn = "pneumo_model_gradcam";
    pneumo_gradcam_options defaults;
    const pn_layer *l;
    const float *act = NULL, *grad = NULL;
    float logit = 0.0f, p, most;
    int32_t layer = -1, target;
    int64_t shape[2];
    double *w = NULL;
    pneumo_tensor *out = NULL;
    pneumo_status st;
    if (map)
        *map = NULL;
    if (!m || !x || !map)
        return pn_error(PNEUMO_ERR_INVALID_ARG, "%s: %s is NULL", fn, !m ? "model" : !x ? "input" : "map");
    if (info && info->size != sizeof *info)
        return pn_error(PNEUMO_ERR_INVALID_ARG, "%s: info->size is %u, expected %zu", fn, info->size,
                        sizeof *info);
    if (!o) {
        pneumo_gradcam_default_options(&defaults);
        o = &defaults;
    }
    if ((st = check_options(m, o, &layer, fn)) != PNEUMO_OK)
        return st;
    if (!(x->ndim == 4 && x->shape[0] == 1 && x->shape[1] == m->input.h && x->shape[2] == m->input.w &&
          x->shape[3] == m->input.c)) {
        char got[96];
        return pn_error(PNEUMO_ERR_SHAPE, "%s: input shape %s, expected one sample (1, %d, %d, %d)", fn,
                        pn_shape_format(x->ndim, x->shape, got, sizeof got), m->input.h, m->input.w,
                        m->input.c);
    }
    l = &m->layers[layer];
    shape[0] = l->out.h;
    shape[1] = l->out.w;
    if ((st = pneumo_tensor_create(2, shape, &out)) != PNEUMO_OK)
        return st;
    w = pn_malloc((size_t)l->out.c * sizeof *w);
    if (!w) {
        st = pn_error_nomem(fn, (size_t)l->out.c * sizeof *w);
        goto done;
    }
    /* The predicted class needs the logit first: the sign of the target
     * score is then fixed and the backward pass runs once. The direct
     * forward of the explain pass is what decides. */
    target = o->target;
    st = pn_model_explain_pass(m, x->data, layer, target == 0 ? -1.0f : 1.0f, &act, &grad, &logit);
    if (st != PNEUMO_OK) {
        pn_error_prefix("%s", fn);
        goto done;
    }
    p = (float)(1.0 / (1.0 + exp(-(double)logit)));
    if (target == -1) {
        target = p >= m->card.threshold ? 1 : 0;
        if (target == 0 &&
            (st = pn_model_explain_pass(m, x->data, layer, -1.0f, &act, &grad, &logit)) != PNEUMO_OK) {
            pn_error_prefix("%s", fn);
            goto done;
        }
    }
    most = cam(act, grad, (int64_t)l->out.h * l->out.w, l->out.c, w, out->data);
    if (info) {
        memset(info, 0, sizeof *info);
        info->size = sizeof *info;
        info->layer = layer;
        info->target = target;
        info->height = l->out.h;
        info->width = l->out.w;
        info->probability = p;
        info->max = most;
    }
    *map = out;
    out = NULL;
done:
    pn_model_set_fusion(m, 1);
    free(w);
    pneumo_tensor_destroy(out);
    return st;
}

pneumo_status pneumo_model_gradcam_image(pneumo_model *m, const pneumo_image *img,
                                         const pneumo_gradcam_options *o, pneumo_tensor **map,
                                         pneumo_gradcam_info *info)
{
    const char *fn = "pneumo_model_gradcam_image";
    pneumo_tensor *x = NULL;
    pneumo_status st;
    if (map)
        *map = NULL;
    if (!m || !img || !map)
        return pn_error(PNEUMO_ERR_INVALID_ARG, "%s: %s is NULL", fn, !m ? "model" : !img ? "image" : "map");
    if ((st = pn_model_image_tensor(m, img, &x, fn)) != PNEUMO_OK)
        return st;
    st = pneumo_model_gradcam(m, x, o, map, info);
    pneumo_tensor_destroy(x);
    return st;
}
