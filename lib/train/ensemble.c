/* Ensembles of models and test-time augmentation (pneumo/ensemble.h): mean
 * probabilities over members and mirrored inputs, an ensemble's evaluation
 * over a dataset and its mean Grad-CAM map. Built on the public model API. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "core/alloc.h"
#include "core/error.h"
#include "core/tensor.h"
#include "pneumo/ensemble.h"
#include "pneumo/metrics.h"
#include "pneumo/model_info.h"

void pneumo_ensemble_default_options(pneumo_ensemble_options *o)
{
    if (!o)
        return;
    memset(o, 0, sizeof *o);
    o->size = sizeof *o;
    o->tta = PNEUMO_TTA_NONE;
}

static pneumo_status check_members(pneumo_model *const *models, int32_t count,
                                   const pneumo_ensemble_options *o, const char *fn, int *flip)
{
    pneumo_status st;
    int32_t h0, w0, c0;
    if (!models)
        return pn_error(PNEUMO_ERR_INVALID_ARG, "%s: models is NULL", fn);
    if (count < 1 || count > PNEUMO_ENSEMBLE_MAX)
        return pn_error(PNEUMO_ERR_INVALID_ARG, "%s: count %d outside [1, %d]", fn, (int)count,
                        PNEUMO_ENSEMBLE_MAX);
    *flip = 0;
    if (o) {
        if ((st = PN_CHECK_STRUCT(fn, pneumo_ensemble_options, o)) != PNEUMO_OK)
            return st;
        if (o->tta != PNEUMO_TTA_NONE && o->tta != PNEUMO_TTA_FLIP)
            return pn_error(PNEUMO_ERR_INVALID_ARG, "%s: options.tta %d is not a pneumo_tta", fn,
                            (int)o->tta);
        *flip = o->tta == PNEUMO_TTA_FLIP;
    }
    for (int32_t i = 0; i < count; i++) {
        int32_t h, w, c;
        if (!models[i])
            return pn_error(PNEUMO_ERR_INVALID_ARG, "%s: member %d is NULL", fn, (int)i);
        if (pneumo_model_output_size(models[i]) != 1)
            return pn_error(PNEUMO_ERR_STATE, "%s: member %d has %lld outputs, an ensemble needs one", fn,
                            (int)i, (long long)pneumo_model_output_size(models[i]));
        pneumo_model_input_shape(models[i], &h, &w, &c);
        if (i == 0)
            h0 = h, w0 = w, c0 = c;
        else if (h != h0 || w != w0 || c != c0)
            return pn_error(PNEUMO_ERR_SHAPE, "%s: member %d takes (%d, %d, %d), member 0 (%d, %d, %d)", fn,
                            (int)i, h, w, c, h0, w0, c0);
    }
    return PNEUMO_OK;
}

/* dst = src mirrored left-right, NHWC. */
static void mirror_nhwc(const pneumo_tensor *src, float *dst)
{
    const int64_t n = src->shape[0], h = src->shape[1], w = src->shape[2], c = src->shape[3];
    for (int64_t r = 0; r < n * h; r++)
        for (int64_t x = 0; x < w; x++)
            memcpy(dst + (r * w + x) * c, src->data + (r * w + (w - 1 - x)) * c, (size_t)c * sizeof(float));
}

pneumo_status pneumo_ensemble_predict(pneumo_model *const *models, int32_t count,
                                      const pneumo_ensemble_options *o, const pneumo_tensor *x,
                                      pneumo_tensor *out)
{
    const char *fn = "pneumo_ensemble_predict";
    pneumo_tensor part, mirrored;
    float *buf, *flipped = NULL;
    int64_t n, shape[1];
    int flip;
    pneumo_status st;
    if ((st = check_members(models, count, o, fn, &flip)) != PNEUMO_OK)
        return st;
    if (!x || !out)
        return pn_error(PNEUMO_ERR_INVALID_ARG, "%s: %s is NULL", fn, x ? "out" : "x");
    if (x->ndim != 4)
        return pn_error(PNEUMO_ERR_SHAPE, "%s: x has %d dimensions, expected (N, H, W, C)", fn, x->ndim);
    n = x->shape[0];
    if (!((out->ndim == 1 && out->shape[0] == n) ||
          (out->ndim == 2 && out->shape[0] == n && out->shape[1] == 1)))
        return pn_error(PNEUMO_ERR_SHAPE, "%s: out must be (%lld, 1) or (%lld,)", fn, (long long)n,
                        (long long)n);
    buf = pn_malloc((size_t)(n ? n : 1) * sizeof *buf);
    if (flip && buf)
        flipped = pn_malloc((size_t)(x->numel ? x->numel : 1) * sizeof *flipped);
    if (!buf || (flip && !flipped)) {
        free(buf);
        return pn_error_nomem(fn, (size_t)x->numel * sizeof(float));
    }
    if (flip) {
        mirror_nhwc(x, flipped);
        pn_tensor_view(&mirrored, 4, x->shape, flipped);
    }
    shape[0] = n;
    pn_tensor_view(&part, 1, shape, buf);
    {
        double *sum = pn_calloc((size_t)(n ? n : 1), sizeof *sum);
        if (!sum) {
            st = pn_error_nomem(fn, (size_t)n * sizeof *sum);
            goto done;
        }
        for (int32_t k = 0; k < count && st == PNEUMO_OK; k++)
            for (int v = 0; v <= flip && st == PNEUMO_OK; v++) {
                if ((st = pneumo_model_predict(models[k], v ? &mirrored : x, &part)) != PNEUMO_OK) {
                    st = pn_error_prefix("%s: member %d%s", fn, (int)k, v ? " (mirrored)" : "");
                    break;
                }
                for (int64_t i = 0; i < n; i++)
                    sum[i] += buf[i];
            }
        if (st == PNEUMO_OK)
            for (int64_t i = 0; i < n; i++)
                out->data[i] = (float)(sum[i] / (double)(count * (1 + flip)));
        free(sum);
    }
done:
    free(buf);
    free(flipped);
    return st;
}

/* A new image: img mirrored left-right. */
static pneumo_status mirror_image(const pneumo_image *img, pneumo_image **out)
{
    const int32_t w = pneumo_image_width(img), h = pneumo_image_height(img);
    const uint8_t *src = pneumo_image_pixels(img);
    uint8_t *dst;
    pneumo_status st = pneumo_image_create(w, h, out);
    if (st != PNEUMO_OK)
        return st;
    dst = pneumo_image_pixels_mut(*out);
    for (int64_t y = 0; y < h; y++)
        for (int64_t x = 0; x < w; x++)
            dst[y * w + x] = src[y * w + (w - 1 - x)];
    return PNEUMO_OK;
}

pneumo_status pneumo_ensemble_predict_image(pneumo_model *const *models, int32_t count,
                                            const pneumo_ensemble_options *o, const pneumo_image *img,
                                            float *prob)
{
    const char *fn = "pneumo_ensemble_predict_image";
    pneumo_image *mirrored = NULL;
    double sum = 0.0;
    int flip;
    pneumo_status st;
    if ((st = check_members(models, count, o, fn, &flip)) != PNEUMO_OK)
        return st;
    if (!img || !prob)
        return pn_error(PNEUMO_ERR_INVALID_ARG, "%s: %s is NULL", fn, img ? "prob" : "image");
    if (flip && (st = mirror_image(img, &mirrored)) != PNEUMO_OK)
        return pn_error_prefix("%s: mirrored image", fn);
    for (int32_t k = 0; k < count && st == PNEUMO_OK; k++)
        for (int v = 0; v <= flip; v++) {
            float p = 0.0f;
            if ((st = pneumo_model_predict_image(models[k], v ? mirrored : img, &p)) != PNEUMO_OK) {
                st = pn_error_prefix("%s: member %d%s", fn, (int)k, v ? " (mirrored)" : "");
                break;
            }
            sum += p;
        }
    pneumo_image_destroy(mirrored);
    if (st == PNEUMO_OK)
        *prob = (float)(sum / (double)(count * (1 + flip)));
    return st;
}

pneumo_status pneumo_ensemble_evaluate(pneumo_model *const *models, int32_t count,
                                       const pneumo_ensemble_options *o, pneumo_dataset *ds,
                                       int32_t batch_size, float threshold, pneumo_evaluation *out,
                                       float *probs, float *labels, size_t n)
{
    const char *fn = "pneumo_ensemble_evaluate";
    int64_t total, seen = 0;
    float *p = probs, *y = labels;
    double loss = 0.0;
    int flip;
    pneumo_status st;
    if ((st = check_members(models, count, o, fn, &flip)) != PNEUMO_OK)
        return st;
    if (!ds || !out)
        return pn_error(PNEUMO_ERR_INVALID_ARG, "%s: %s is NULL", fn, ds ? "out" : "dataset");
    if (batch_size < 1)
        return pn_error(PNEUMO_ERR_INVALID_ARG, "%s: batch size %d must be >= 1", fn, (int)batch_size);
    if (!(threshold >= 0.0f && threshold <= 1.0f))
        return pn_error(PNEUMO_ERR_INVALID_ARG, "%s: threshold %g outside [0, 1]", fn, (double)threshold);
    total = pneumo_dataset_size(ds);
    if ((probs && (st = pn_check_buffer(fn, "probs", n, (size_t)total)) != PNEUMO_OK) ||
        (labels && (st = pn_check_buffer(fn, "labels", n, (size_t)total)) != PNEUMO_OK))
        return st;
    memset(out, 0, sizeof *out);
    if (!p)
        p = pn_malloc((size_t)(total ? total : 1) * sizeof *p);
    if (!y)
        y = pn_malloc((size_t)(total ? total : 1) * sizeof *y);
    if (!p || !y) {
        st = pn_error_nomem(fn, (size_t)total * 2 * sizeof(float));
        goto done;
    }
    if ((st = pneumo_dataset_begin_epoch(ds, 0, batch_size)) != PNEUMO_OK)
        goto done;
    for (;;) {
        pneumo_tensor *bx = NULL, *by = NULL, part;
        const int64_t *idx = NULL;
        int64_t shape[1];
        if ((st = pneumo_dataset_next_batch(ds, &bx, &by, &idx)) != PNEUMO_OK)
            goto done;
        if (!bx)
            break;
        shape[0] = bx->shape[0];
        if (seen + shape[0] > total) {
            st = pn_error(PNEUMO_ERR_STATE, "%s: the dataset gave more than its %lld images", fn,
                          (long long)total);
            goto done;
        }
        pn_tensor_view(&part, 1, shape, p + seen);
        if ((st = pneumo_ensemble_predict(models, count, o, bx, &part)) != PNEUMO_OK)
            goto done;
        for (int64_t i = 0; i < shape[0]; i++) {
            const double q = fmin(fmax((double)p[seen + i], 1e-7), 1.0 - 1e-7);
            y[seen + i] = by->data[i];
            loss -= by->data[i] > 0.5f ? log(q) : log1p(-q);
        }
        seen += shape[0];
    }
    out->loss = seen ? loss / (double)seen : NAN;
    out->count = seen;
    if ((st = pneumo_confusion_from_predictions(p, y, seen, threshold, &out->confusion)) != PNEUMO_OK)
        goto done;
    out->accuracy = pneumo_confusion_accuracy(&out->confusion);
    if (pneumo_roc_auc(p, y, seen, &out->roc_auc) != PNEUMO_OK) {
        out->roc_auc = NAN; /* one class only */
        pneumo_clear_error();
    }
    out->calibration_error = NAN;
    if (seen > 0)
        st = pneumo_calibration_curve(p, y, seen, PNEUMO_EVALUATION_ECE_BINS, NULL, NULL, NULL,
                                      &out->calibration_error);
done:
    if (p != probs)
        free(p);
    if (y != labels)
        free(y);
    return st;
}

/* acc += map (resampled to acc's size if it differs), mirrored with `flip`. */
static pneumo_status add_map(pneumo_tensor *acc, const pneumo_tensor *map, int flip)
{
    const int64_t h = acc->shape[0], w = acc->shape[1];
    pneumo_tensor *same = NULL;
    const pneumo_tensor *m = map;
    pneumo_status st;
    if (map->shape[0] != h || map->shape[1] != w) {
        if ((st = pneumo_gradcam_upsample(map, (int32_t)h, (int32_t)w, &same)) != PNEUMO_OK)
            return st;
        m = same;
    }
    for (int64_t r = 0; r < h; r++)
        for (int64_t x = 0; x < w; x++)
            acc->data[r * w + x] += m->data[r * w + (flip ? w - 1 - x : x)];
    pneumo_tensor_destroy(same);
    return PNEUMO_OK;
}

pneumo_status pneumo_ensemble_gradcam_image(pneumo_model *const *models, int32_t count,
                                            const pneumo_ensemble_options *o, const pneumo_gradcam_options *g,
                                            const pneumo_image *img, pneumo_tensor **map,
                                            pneumo_gradcam_info *info)
{
    const char *fn = "pneumo_ensemble_gradcam_image";
    pneumo_gradcam_options go;
    pneumo_gradcam_info first;
    pneumo_image *mirrored = NULL;
    pneumo_tensor *acc = NULL;
    float prob = 0.0f, mx = 0.0f;
    int flip;
    pneumo_status st;
    if ((st = check_members(models, count, o, fn, &flip)) != PNEUMO_OK)
        return st;
    if (!img || !map)
        return pn_error(PNEUMO_ERR_INVALID_ARG, "%s: %s is NULL", fn, img ? "map" : "image");
    *map = NULL;
    if (info && info->size != sizeof *info)
        return pn_error(PNEUMO_ERR_INVALID_ARG, "%s: info->size is %u, expected %zu", fn, info->size,
                        sizeof *info);
    if (g) {
        if ((st = PN_CHECK_STRUCT(fn, pneumo_gradcam_options, g)) != PNEUMO_OK)
            return st;
        go = *g;
    } else {
        pneumo_gradcam_default_options(&go);
    }
    if ((st = pneumo_ensemble_predict_image(models, count, o, img, &prob)) != PNEUMO_OK)
        return st;
    if (go.target == -1) /* the ensemble's predicted class, for every member */
        go.target = prob >= pneumo_model_threshold(models[0]) ? 1 : 0;
    if (flip && (st = mirror_image(img, &mirrored)) != PNEUMO_OK)
        return pn_error_prefix("%s: mirrored image", fn);
    first.size = sizeof first;
    for (int32_t k = 0; k < count && st == PNEUMO_OK; k++)
        for (int v = 0; v <= flip; v++) {
            pneumo_tensor *one = NULL;
            pneumo_gradcam_info gi;
            gi.size = sizeof gi;
            if ((st = pneumo_model_gradcam_image(models[k], v ? mirrored : img, &go, &one, &gi)) !=
                PNEUMO_OK) {
                st = pn_error_prefix("%s: member %d%s", fn, (int)k, v ? " (mirrored)" : "");
                break;
            }
            if (!acc) {
                int64_t shape[2] = {one->shape[0], one->shape[1]};
                first = gi;
                st = pneumo_tensor_create(2, shape, &acc);
            }
            if (st == PNEUMO_OK)
                st = add_map(acc, one, v);
            pneumo_tensor_destroy(one);
            if (st != PNEUMO_OK)
                break;
        }
    pneumo_image_destroy(mirrored);
    if (st != PNEUMO_OK) {
        pneumo_tensor_destroy(acc);
        return st;
    }
    for (int64_t i = 0; i < acc->numel; i++) {
        acc->data[i] /= (float)(count * (1 + flip));
        mx = acc->data[i] > mx ? acc->data[i] : mx;
    }
    *map = acc;
    if (info) {
        *info = first;
        info->probability = prob;
        info->max = mx;
    }
    return PNEUMO_OK;
}
