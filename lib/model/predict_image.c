/* Single-image prediction with the model card's preprocessing (by default the
 * training pipeline's: nearest resize to the model's input size as Keras
 * load_img, rescale by 1/255). */
#include <stdlib.h>

#include "core/alloc.h"
#include "core/error.h"
#include "core/tensor.h"
#include "model/model.h"
#include "pneumo/image.h"
#include "pneumo/train.h"

/* The model's preprocessing of img into h * w floats at dst. */
static pneumo_status image_pixels(const pneumo_model *m, const pneumo_image *img, float *dst, const char *fn)
{
    pneumo_image *resized = NULL;
    const pneumo_image *src = img;
    const uint8_t *px;
    pneumo_status st;
    if (m->input.c != 1 || pneumo_model_output_size(m) != 1)
        return pn_error(PNEUMO_ERR_STATE, "%s: needs a model with one input channel and one output", fn);
    if (pneumo_image_width(img) != m->input.w || pneumo_image_height(img) != m->input.h) {
        st = pneumo_image_resize(img, m->input.w, m->input.h, (pneumo_resample)m->card.resample, &resized);
        if (st != PNEUMO_OK)
            return st;
        src = resized;
    }
    px = pneumo_image_pixels(src);
    for (int64_t i = 0; i < (int64_t)m->input.h * m->input.w; i++)
        dst[i] = (float)px[i] * m->card.rescale;
    pneumo_image_destroy(resized);
    return PNEUMO_OK;
}

pneumo_status pn_model_image_tensor(const pneumo_model *m, const pneumo_image *img, pneumo_tensor **out,
                                    const char *fn)
{
    int64_t xs[4] = {1, m->input.h, m->input.w, 1};
    pneumo_status st;
    *out = NULL;
    if (m->input.c != 1 || pneumo_model_output_size(m) != 1)
        return pn_error(PNEUMO_ERR_STATE, "%s: needs a model with one input channel and one output", fn);
    if ((st = pneumo_tensor_create(4, xs, out)) != PNEUMO_OK)
        return st;
    if ((st = image_pixels(m, img, (*out)->data, fn)) != PNEUMO_OK) {
        pneumo_tensor_destroy(*out);
        *out = NULL;
    }
    return st;
}

pneumo_status pneumo_model_predict_image(pneumo_model *m, const pneumo_image *img, float *prob)
{
    const char *fn = "pneumo_model_predict_image";
    pneumo_tensor x, out;
    int64_t xs[4], os[2] = {1, 1};
    float result;
    pneumo_status st;
    if (!m || !img || !prob)
        return pn_error(PNEUMO_ERR_INVALID_ARG, "%s: %s is NULL", fn, !m ? "model" : !img ? "image" : "prob");
    if (m->input.c != 1 || pneumo_model_output_size(m) != 1)
        return pn_error(PNEUMO_ERR_STATE, "%s: needs a model with one input channel and one output", fn);
    /* the float input stays allocated between calls (a fresh 1 MB buffer's
     * page faults cost ~0.5 ms of a 500x500 prediction) */
    if (!m->image_in)
        m->image_in = pn_aligned_alloc((size_t)m->input.h * (size_t)m->input.w * sizeof(float));
    if (!m->image_in)
        return pn_error_nomem(fn, (size_t)m->input.h * (size_t)m->input.w * sizeof(float));
    if ((st = image_pixels(m, img, m->image_in, fn)) != PNEUMO_OK)
        return st;
    xs[0] = 1, xs[1] = m->input.h, xs[2] = m->input.w, xs[3] = 1;
    pn_tensor_view(&x, 4, xs, m->image_in);
    pn_tensor_view(&out, 2, os, &result);
    st = pneumo_model_predict(m, &x, &out);
    if (st == PNEUMO_OK)
        *prob = result;
    return st;
}

pneumo_status pneumo_model_predict_file(pneumo_model *m, const char *path, float *prob)
{
    pneumo_image *img = NULL;
    pneumo_status st;
    if (!path)
        return pn_error(PNEUMO_ERR_INVALID_ARG, "pneumo_model_predict_file: path is NULL");
    if ((st = pneumo_image_load(path, NULL, &img)) != PNEUMO_OK)
        return st;
    st = pneumo_model_predict_image(m, img, prob);
    pneumo_image_destroy(img);
    return st;
}
