/* Model files: architecture, weights and optional optimizer state in the
 * safetensors layout (docs/model-format.md). */
#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/alloc.h"
#include "core/error.h"
#include "core/file.h"
#include "core/tensor.h"
#include "format/json.h"
#include "format/safetensors.h"
#include "layers/limits.h"
#include "model/model.h"
#include "pneumo/interop.h"
#include "optim/optim_file.h"
#include "optim/optimizer.h"

#define FORMAT_NAME "libpneumo"
#define FORMAT_VERSION 1
/* Largest model file we read: bounds memory on a hostile path. */
#define MAX_MODEL_FILE ((size_t)4 << 30)

/* ---- writing -------------------------------------------------------------- */

static const char *padding_name(int32_t p) { return p == PNEUMO_PADDING_SAME ? "same" : "valid"; }

static void layer_json(pn_buf *b, const pn_layer *l)
{
    pn_buf_printf(b, "{\"class\":\"%s\",\"name\":", l->ops->keras_class);
    pn_buf_json_string(b, l->name);
    switch (l->kind) {
    case PN_LAYER_CONV2D:
        pn_buf_printf(b,
                      ",\"filters\":%d,\"kernel_size\":[%d,%d],\"strides\":[%d,%d],"
                      "\"padding\":\"%s\",\"activation\":\"%s\",\"use_bias\":%s",
                      l->filters, l->kh, l->kw, l->sh, l->sw, padding_name(l->padding), pn_act_name(l->act),
                      l->use_bias ? "true" : "false");
        break;
    case PN_LAYER_MAXPOOL2D:
        pn_buf_printf(b, ",\"pool_size\":[%d,%d],\"strides\":[%d,%d],\"padding\":\"%s\"", l->kh, l->kw, l->sh,
                      l->sw, padding_name(l->padding));
        break;
    case PN_LAYER_DENSE:
        pn_buf_printf(b, ",\"units\":%d,\"activation\":\"%s\"", l->units, pn_act_name(l->act));
        break;
    case PN_LAYER_ACTIVATION: pn_buf_printf(b, ",\"activation\":\"%s\"", pn_act_name(l->act)); break;
    case PN_LAYER_DROPOUT:
        pn_buf_printf(b, ",\"rate\":");
        pn_buf_json_float(b, l->rate);
        break;
    case PN_LAYER_BATCHNORM:
        pn_buf_printf(b, ",\"axis\":-1,\"momentum\":");
        pn_buf_json_float(b, l->momentum);
        pn_buf_printf(b, ",\"epsilon\":");
        pn_buf_json_float(b, l->epsilon);
        pn_buf_printf(b, ",\"center\":%s,\"scale\":%s", l->nb ? "true" : "false", l->nw ? "true" : "false");
        break;
    case PN_LAYER_FLATTEN:
    case PN_LAYER_GAP2D: break;
    }
    pn_buf_append(b, "}", 1);
}

/* Name of non-trainable tensor k of layer l (BatchNormalization: 0 the moving
 * mean, 1 the moving variance). */
static void state_name(const pn_layer *l, int k, char *buf, size_t size)
{
    snprintf(buf, size, "%s/%s", l->name, k ? "moving_variance" : "moving_mean");
}

static void architecture_json(pn_buf *b, const pneumo_model *m)
{
    pn_buf_printf(b, "{\"format\":\"%s\",\"format_version\":%d,\"input_shape\":[%d,%d,%d],\"layers\":[",
                  FORMAT_NAME, FORMAT_VERSION, m->input.h, m->input.w, m->input.c);
    for (int32_t i = 0; i < m->nlayers; i++) {
        if (i)
            pn_buf_append(b, ",", 1);
        layer_json(b, &m->layers[i]);
    }
    pn_buf_append(b, "]}", 2);
}

pneumo_status pneumo_model_architecture_json(const pneumo_model *m, char *buf, size_t size, size_t *needed)
{
    pn_buf b;
    if (!m)
        return pn_error(PNEUMO_ERR_INVALID_ARG, "pneumo_model_architecture_json: model is NULL");
    if (!buf && size)
        return pn_error(PNEUMO_ERR_INVALID_ARG, "pneumo_model_architecture_json: buf is NULL with size %zu",
                        size);
    pn_buf_init(&b);
    architecture_json(&b, m);
    return pn_buf_export(&b, buf, size, needed, "pneumo_model_architecture_json");
}

pneumo_status pneumo_model_save(const pneumo_model *m, const pneumo_optimizer *opt, const char *path)
{
    return pn_model_save_extra(m, opt, path, NULL, NULL);
}

pneumo_status pn_model_save_extra(const pneumo_model *m, const pneumo_optimizer *opt, const char *path,
                                  const char *extra_key, const char *extra_value)
{
    pn_buf arch, optj, card;
    char seed[32], steps[32];
    pn_st_meta meta[8];
    size_t nmeta = 0, nt = 0, cap;
    pn_st_tensor *tensors = NULL;
    char(*names)[128] = NULL;
    int with_state;
    pneumo_status st = PNEUMO_OK;

    if (!m || !path)
        return pn_error(PNEUMO_ERR_INVALID_ARG, "pneumo_model_save: %s is NULL", m ? "path" : "model");
    if (m->nlayers == 0)
        return pn_error(PNEUMO_ERR_STATE, "pneumo_model_save: %s: the model has no layers", path);
    if (opt && opt->model_id != 0 && opt->model_id != m->id)
        return pn_error(PNEUMO_ERR_STATE,
                        "pneumo_model_save: %s: the optimizer holds state for another model", path);
    with_state = opt && opt->model_id == m->id;

    pn_buf_init(&arch);
    pn_buf_init(&optj);
    pn_buf_init(&card);
    architecture_json(&arch, m);
    pn_card_json(&card, m, 0);
    if (opt)
        pn_optimizer_settings_json(&optj, opt);
    snprintf(seed, sizeof seed, "%" PRIu64, m->seed);
    snprintf(steps, sizeof steps, "%" PRIu64, m->train_steps);
    meta[nmeta++] = (pn_st_meta){"format", FORMAT_NAME};
    meta[nmeta++] = (pn_st_meta){"libpneumo_version", PNEUMO_VERSION_STRING};
    meta[nmeta++] = (pn_st_meta){"architecture", arch.data};
    meta[nmeta++] = (pn_st_meta){"seed", seed};
    meta[nmeta++] = (pn_st_meta){"train_steps", steps};
    meta[nmeta++] = (pn_st_meta){"model_card", card.data};
    if (opt)
        meta[nmeta++] = (pn_st_meta){"optimizer", optj.data};
    if (extra_key && extra_value)
        meta[nmeta++] = (pn_st_meta){extra_key, extra_value};

    cap = (size_t)m->nlayers * 2 * (2 + (with_state ? (size_t)pn_optimizer_slot_count(opt) : 0));
    tensors = pn_calloc(cap ? cap : 1, sizeof *tensors);
    names = pn_calloc(cap ? cap : 1, sizeof *names);
    if (card.failed == PN_BUF_BADINPUT) {
        st = pn_error(PNEUMO_ERR_INVALID_ARG, "pneumo_model_save: %s: the model card does not encode as JSON",
                      path);
        goto done;
    }
    if (arch.failed || optj.failed || card.failed || !tensors || !names) {
        st = pn_error_nomem("pneumo_model_save", cap * (sizeof *tensors + sizeof *names));
        goto done;
    }
    for (int pass = 0; pass <= (with_state ? pn_optimizer_slot_count(opt) : 0); pass++)
        for (int32_t i = 0; i < m->nlayers; i++) {
            const pn_layer *l = &m->layers[i];
            for (int bias = 0; bias < 2; bias++) {
                int64_t n = bias ? l->nb : l->nw;
                int64_t off = bias ? l->b_off : l->w_off;
                const float *base;
                if (n == 0)
                    continue;
                if (pass == 0) {
                    base = m->params;
                    snprintf(names[nt], sizeof names[nt], "%s", bias ? l->b_name : l->w_name);
                } else {
                    base = pass == 1 ? opt->m : opt->v;
                    snprintf(names[nt], sizeof names[nt], "optimizer/%s/%s",
                             pn_optimizer_slot_name(opt, pass - 1), bias ? l->b_name : l->w_name);
                }
                tensors[nt].name = names[nt];
                tensors[nt].ndim = bias ? 1 : l->w_ndim;
                memcpy(tensors[nt].shape, bias ? l->b_shape : l->w_shape,
                       sizeof(int64_t) * (size_t)tensors[nt].ndim);
                tensors[nt].data = base + off;
                nt++;
            }
        }
    for (int32_t i = 0; i < m->nlayers; i++) {
        const pn_layer *l = &m->layers[i];
        for (int k = 0; k < 2 && l->ns; k++) {
            state_name(l, k, names[nt], sizeof names[nt]);
            tensors[nt].name = names[nt];
            tensors[nt].ndim = 1;
            tensors[nt].shape[0] = l->ns / 2;
            tensors[nt].data = k ? l->mvar : l->mmean;
            nt++;
        }
    }
    st = pn_safetensors_save(path, meta, nmeta, tensors, nt);
done:
    free(tensors);
    free(names);
    pn_buf_free(&arch);
    pn_buf_free(&optj);
    pn_buf_free(&card);
    return st;
}

/* ---- reading -------------------------------------------------------------- */

static pneumo_status fmt_error(const char *label, const char *what, const char *detail)
{
    return pn_error(PNEUMO_ERR_FORMAT, "%s: %s: %s", label, what, detail);
}

static int get_i32(const pn_json *obj, const char *key, int32_t lo, int32_t hi, int32_t *out)
{
    int64_t v;
    if (!pn_json_get_int64(obj, key, &v) || v < lo || v > hi)
        return 0;
    *out = (int32_t)v;
    return 1;
}

static int get_pair(const pn_json *obj, const char *key, int32_t lo, int32_t hi, int32_t *a, int32_t *b)
{
    const pn_json *arr = pn_json_get(obj, key);
    int64_t x, y;
    if (!arr || arr->type != PN_JSON_ARRAY || arr->count != 2 || !pn_json_int64(pn_json_item(arr, 0), &x) ||
        !pn_json_int64(pn_json_item(arr, 1), &y) || x < lo || x > hi || y < lo || y > hi)
        return 0;
    *a = (int32_t)x;
    *b = (int32_t)y;
    return 1;
}

static int get_padding(const pn_json *obj, int32_t *out)
{
    const char *s = pn_json_get_string(obj, "padding");
    if (!s)
        return 0;
    if (strcmp(s, "valid") == 0)
        *out = PNEUMO_PADDING_VALID;
    else if (strcmp(s, "same") == 0)
        *out = PNEUMO_PADDING_SAME;
    else
        return 0;
    return 1;
}

static int get_act(const pn_json *obj, int32_t *out)
{
    const char *s = pn_json_get_string(obj, "activation");
    pn_act a;
    if (!s || !pn_act_from_name(s, &a))
        return 0;
    *out = (int32_t)a;
    return 1;
}

/* Rebuild one layer through the public builder, so a file is held to exactly
 * the checks a caller is. */
static pneumo_status add_layer_from_json(pneumo_model *m, const pn_json *j, const char *label, int idx)
{
    const char *cls = pn_json_get_string(j, "class");
    const char *name = pn_json_get_string(j, "name");
    char where[64];
    pneumo_status st;
    snprintf(where, sizeof where, "layer %d", idx);
    if (!j || j->type != PN_JSON_OBJECT || !cls || !name)
        return fmt_error(label, where, "needs an object with \"class\" and \"name\"");
    if (strcmp(cls, "Conv2D") == 0) {
        pneumo_conv2d_params p;
        int use_bias;
        pneumo_conv2d_default_params(&p);
        if (!get_i32(j, "filters", 1, PN_MAX_CHANNELS, &p.filters) ||
            !get_pair(j, "kernel_size", 1, PN_MAX_KERNEL, &p.kernel_h, &p.kernel_w) ||
            !get_pair(j, "strides", 1, PN_MAX_STRIDE, &p.stride_h, &p.stride_w) ||
            !get_padding(j, &p.padding) || !get_act(j, &p.activation) ||
            !pn_json_get_bool(j, "use_bias", &use_bias))
            return fmt_error(label, where, "Conv2D settings missing or out of range");
        p.use_bias = use_bias;
        st = pneumo_model_add_conv2d(m, &p);
    } else if (strcmp(cls, "MaxPooling2D") == 0) {
        pneumo_maxpool2d_params p;
        pneumo_maxpool2d_default_params(&p);
        if (!get_pair(j, "pool_size", 1, PN_MAX_POOL_WINDOW, &p.pool_h, &p.pool_w) ||
            !get_pair(j, "strides", 1, PN_MAX_STRIDE, &p.stride_h, &p.stride_w) ||
            !get_padding(j, &p.padding))
            return fmt_error(label, where, "MaxPooling2D settings missing or out of range");
        st = pneumo_model_add_maxpool2d(m, &p);
    } else if (strcmp(cls, "Flatten") == 0) {
        st = pneumo_model_add_flatten(m);
    } else if (strcmp(cls, "GlobalAveragePooling2D") == 0) {
        st = pneumo_model_add_global_avgpool2d(m);
    } else if (strcmp(cls, "BatchNormalization") == 0) {
        pneumo_batchnorm_params p;
        double momentum, epsilon;
        int center, scale;
        pneumo_batchnorm_default_params(&p);
        if (!get_i32(j, "axis", -1, -1, &p.axis) || !pn_json_get_number(j, "momentum", &momentum) ||
            !pn_json_get_number(j, "epsilon", &epsilon) || !pn_json_get_bool(j, "center", &center) ||
            !pn_json_get_bool(j, "scale", &scale) || !(momentum >= 0.0 && momentum <= 1.0) ||
            !(epsilon > 0.0 && epsilon < 1e30))
            return fmt_error(label, where, "BatchNormalization settings missing or out of range");
        p.momentum = (float)momentum;
        p.epsilon = (float)epsilon;
        p.center = center;
        p.scale = scale;
        st = pneumo_model_add_batchnorm(m, &p);
    } else if (strcmp(cls, "Dense") == 0) {
        int32_t units, act;
        if (!get_i32(j, "units", 1, PN_MAX_CHANNELS, &units) || !get_act(j, &act))
            return fmt_error(label, where, "Dense settings missing or out of range");
        st = pneumo_model_add_dense(m, units, (pneumo_activation)act);
    } else if (strcmp(cls, "Activation") == 0) {
        int32_t act;
        if (!get_act(j, &act))
            return fmt_error(label, where, "Activation settings missing or invalid");
        st = pneumo_model_add_activation(m, (pneumo_activation)act);
    } else if (strcmp(cls, "Dropout") == 0) {
        double rate;
        if (!pn_json_get_number(j, "rate", &rate) || !(rate >= 0.0 && rate < 1.0))
            return fmt_error(label, where, "Dropout rate missing or outside [0, 1)");
        st = pneumo_model_add_dropout(m, (float)rate);
    } else {
        char detail[96];
        snprintf(detail, sizeof detail, "unknown layer class \"%.40s\"", cls);
        return fmt_error(label, where, detail);
    }
    if (st != PNEUMO_OK)
        return pn_error(st == PNEUMO_ERR_NOMEM ? st : PNEUMO_ERR_FORMAT, "%s: %s", label,
                        pneumo_last_error());
    if (strcmp(m->layers[m->nlayers - 1].name, name) != 0) {
        char detail[160];
        snprintf(detail, sizeof detail, "name \"%.40s\" does not match the expected \"%s\"", name,
                 m->layers[m->nlayers - 1].name);
        return fmt_error(label, where, detail);
    }
    return PNEUMO_OK;
}

static pneumo_status parse_u64(const char *s, uint64_t *out)
{
    uint64_t v = 0;
    if (!s || !*s)
        return PNEUMO_ERR_FORMAT;
    for (; *s; s++) {
        if (*s < '0' || *s > '9' || v > (UINT64_MAX - (uint64_t)(*s - '0')) / 10)
            return PNEUMO_ERR_FORMAT;
        v = v * 10 + (uint64_t)(*s - '0');
    }
    *out = v;
    return PNEUMO_OK;
}

static pneumo_status build_model(const pn_st_file *f, size_t file_size, const char *label, pneumo_model **out)
{
    const char *arch_text = pn_st_meta_get(f, "architecture");
    const char *format = pn_st_meta_get(f, "format");
    uint64_t seed = 0, steps = 0;
    pn_json *arch = NULL;
    const pn_json *layers, *shape;
    int64_t version, dims[3];
    pneumo_model *m = NULL;
    pneumo_status st;

    *out = NULL;
    if (!format || strcmp(format, FORMAT_NAME) != 0)
        return fmt_error(label, "metadata",
                         "not a libpneumo model (no \"format\": \"libpneumo\" in __metadata__)");
    if (!arch_text)
        return fmt_error(label, "metadata", "no \"architecture\" entry");
    if (parse_u64(pn_st_meta_get(f, "seed"), &seed) != PNEUMO_OK ||
        parse_u64(pn_st_meta_get(f, "train_steps"), &steps) != PNEUMO_OK)
        return fmt_error(label, "metadata", "\"seed\" and \"train_steps\" must be decimal integers");
    st = pn_json_parse(arch_text, strlen(arch_text), label, &arch);
    if (st != PNEUMO_OK)
        return pn_error_prefix("architecture");
    shape = pn_json_get(arch, "input_shape");
    layers = pn_json_get(arch, "layers");
    if (!pn_json_get_int64(arch, "format_version", &version) || version != FORMAT_VERSION) {
        st = fmt_error(label, "architecture", "unsupported format_version (this library reads 1)");
        goto fail;
    }
    if (!shape || shape->type != PN_JSON_ARRAY || shape->count != 3 || !layers ||
        layers->type != PN_JSON_ARRAY || layers->count > PN_MAX_LAYERS) {
        st = fmt_error(label, "architecture", "needs \"input_shape\" [h, w, c] and at most 1024 \"layers\"");
        goto fail;
    }
    for (int i = 0; i < 3; i++)
        if (!pn_json_int64(pn_json_item(shape, (size_t)i), &dims[i]) || dims[i] < 1 ||
            dims[i] > PN_MAX_CHANNELS) {
            st = fmt_error(label, "architecture", "input_shape values must be integers in 1..65536");
            goto fail;
        }
    st = pneumo_model_create((int32_t)dims[0], (int32_t)dims[1], (int32_t)dims[2], seed, &m);
    if (st != PNEUMO_OK) {
        st = pn_error(st == PNEUMO_ERR_NOMEM ? st : PNEUMO_ERR_FORMAT, "%s: %s", label, pneumo_last_error());
        goto fail;
    }
    m->train_steps = steps;
    /* Every weight must be in the file: bounding the parameter count by the
     * file's size bounds what a hostile architecture can make us allocate. */
    m->max_params = (int64_t)(file_size / sizeof(float)) + 1;
    for (size_t i = 0; i < layers->count; i++)
        if ((st = add_layer_from_json(m, pn_json_item(layers, i), label, (int)i)) != PNEUMO_OK)
            goto fail;
    m->max_params = 0;
    pn_json_free(arch);
    *out = m;
    return PNEUMO_OK;
fail:
    pn_json_free(arch);
    pneumo_model_destroy(m);
    return st;
}

/* Copy tensor `name` of the expected shape into dst; `required` decides
 * whether absence is an error. Returns 1 if copied, 0 if absent, -1 on error. */
static int copy_tensor(const pn_st_file *f, const char *label, const char *name, int ndim,
                       const int64_t *shape, float *dst, int required)
{
    int idx = pn_st_find(f, name);
    const int64_t *got;
    const float *src;
    size_t n = 1;
    if (idx < 0) {
        if (!required)
            return 0;
        pn_error(PNEUMO_ERR_FORMAT, "%s: tensor '%s' is missing", label, name);
        return -1;
    }
    got = pn_st_shape(f, (size_t)idx);
    if (pn_st_ndim(f, (size_t)idx) != ndim || memcmp(got, shape, sizeof(int64_t) * (size_t)ndim)) {
        char a[96], b[96];
        pn_error(PNEUMO_ERR_FORMAT, "%s: tensor '%s' has shape %s, the architecture needs %s", label, name,
                 pn_shape_format(pn_st_ndim(f, (size_t)idx), got, a, sizeof a),
                 pn_shape_format(ndim, shape, b, sizeof b));
        return -1;
    }
    for (int i = 0; i < ndim; i++)
        n *= (size_t)shape[i];
    src = pn_st_data(f, (size_t)idx);
    for (size_t i = 0; i < n; i++)
        if (!isfinite(src[i])) {
            pn_error(PNEUMO_ERR_FORMAT, "%s: tensor '%s' holds a non-finite value at %zu", label, name, i);
            return -1;
        }
    memcpy(dst, src, n * sizeof(float));
    return 1;
}

static int pn_all_nonneg(const float *v, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (!(v[i] >= 0.0f))
            return 0;
    return 1;
}

static pneumo_status load_optimizer(const pn_st_file *f, const char *label, pneumo_model *m,
                                    pneumo_optimizer **out, size_t *used)
{
    const char *text = pn_st_meta_get(f, "optimizer");
    pn_json *j = NULL;
    int copied = 0, expected = 0;
    pneumo_optimizer *opt = NULL;
    pneumo_status st;
    if (!text)
        return PNEUMO_OK;
    if ((st = pn_json_parse(text, strlen(text), label, &j)) != PNEUMO_OK)
        return pn_error_prefix("optimizer");
    if ((st = pn_optimizer_from_settings(j, label, &opt)) != PNEUMO_OK)
        goto done;
    if ((st = pn_optimizer_bind(opt, m->id, m->arena_size)) != PNEUMO_OK)
        goto done;
    for (int slot = 0; slot < pn_optimizer_slot_count(opt); slot++)
        for (int32_t i = 0; i < m->nlayers; i++) {
            const pn_layer *l = &m->layers[i];
            for (int bias = 0; bias < 2; bias++) {
                char name[160];
                int r;
                if ((bias ? l->nb : l->nw) == 0)
                    continue;
                snprintf(name, sizeof name, "optimizer/%s/%s", pn_optimizer_slot_name(opt, slot),
                         bias ? l->b_name : l->w_name);
                r = copy_tensor(f, label, name, bias ? 1 : l->w_ndim, bias ? l->b_shape : l->w_shape,
                                (slot ? opt->v : opt->m) + (bias ? l->b_off : l->w_off), 0);
                if (r < 0) {
                    st = PNEUMO_ERR_FORMAT;
                    goto done;
                }
                copied += r;
                expected++;
            }
        }
    if (copied != 0 && copied != expected) {
        st = fmt_error(label, "optimizer", "state tensors are only partly present");
        goto done;
    }
    *used += (size_t)copied;
    *out = opt;
    opt = NULL;
done:
    pneumo_optimizer_destroy(opt);
    pn_json_free(j);
    return st;
}

static pneumo_status pn_model_load_labeled(const void *data, size_t size, const char *label,
                                           pneumo_model **model, pneumo_optimizer **opt,
                                           const char *extra_key, char **extra_value)
{
    pn_st_file *f = NULL;
    pneumo_model *m = NULL;
    pneumo_optimizer *o = NULL;
    size_t used = 0;
    pneumo_status st;
    if (model)
        *model = NULL;
    if (opt)
        *opt = NULL;
    if (!model || (!data && size))
        return pn_error(PNEUMO_ERR_INVALID_ARG, "pneumo_model_load: %s is NULL", model ? "data" : "model");
    if ((st = pn_safetensors_parse(data, size, label, &f)) != PNEUMO_OK)
        return st;
    if ((st = build_model(f, size, label, &m)) != PNEUMO_OK)
        goto fail;
    if (pn_st_meta_get(f, "model_card")) {
        if ((st = pn_card_parse(m, pn_st_meta_get(f, "model_card"), label)) != PNEUMO_OK)
            goto fail;
    } else {
        /* written before the card existed: today's defaults */
        const char *ver = pn_st_meta_get(f, "libpneumo_version");
        snprintf(m->card.library_version, sizeof m->card.library_version, "%s", ver ? ver : "");
    }
    for (int32_t i = 0; i < m->nlayers; i++) {
        pn_layer *l = &m->layers[i];
        if (l->nw && copy_tensor(f, label, l->w_name, l->w_ndim, l->w_shape, l->w, 1) < 0)
            goto fail_format;
        if (l->nb && copy_tensor(f, label, l->b_name, 1, l->b_shape, l->b, 1) < 0)
            goto fail_format;
        used += (l->nw != 0) + (l->nb != 0);
        for (int k = 0; k < 2 && l->ns; k++) {
            char name[160];
            const int64_t shape[1] = {l->ns / 2};
            state_name(l, k, name, sizeof name);
            if (copy_tensor(f, label, name, 1, shape, k ? l->mvar : l->mmean, 1) < 0)
                goto fail_format;
            if (k && !pn_all_nonneg(l->mvar, (size_t)shape[0])) {
                st = pn_error(PNEUMO_ERR_FORMAT, "%s: tensor '%s' holds a negative variance", label, name);
                goto fail;
            }
            used++;
        }
    }
    if (opt && (st = load_optimizer(f, label, m, &o, &used)) != PNEUMO_OK)
        goto fail;
    if (!opt)
        for (size_t i = 0; i < pn_st_count(f); i++)
            if (strncmp(pn_st_name(f, i), "optimizer/", 10) == 0)
                used++;
    if (used != pn_st_count(f)) {
        for (size_t i = 0; i < pn_st_count(f); i++) {
            const char *name = pn_st_name(f, i);
            int known = 0;
            for (int32_t k = 0; k < m->nlayers && !known; k++)
                known = strcmp(name, m->layers[k].w_name) == 0 || strcmp(name, m->layers[k].b_name) == 0;
            for (int32_t k = 0; k < m->nlayers && !known; k++)
                for (int s = 0; s < 2 && m->layers[k].ns && !known; s++) {
                    char sname[160];
                    state_name(&m->layers[k], s, sname, sizeof sname);
                    known = strcmp(name, sname) == 0;
                }
            if (!known && strncmp(name, "optimizer/", 10) != 0) {
                st = pn_error(PNEUMO_ERR_FORMAT, "%s: unexpected tensor '%s' (not in the architecture)",
                              label, name);
                goto fail;
            }
        }
        st = fmt_error(label, "optimizer", "unexpected optimizer state tensors");
        goto fail;
    }
    if (extra_key) {
        const char *v = pn_st_meta_get(f, extra_key);
        if (!v) {
            st = pn_error(PNEUMO_ERR_FORMAT, "%s: no \"%s\" entry in the metadata", label, extra_key);
            goto fail;
        }
        if (!(*extra_value = pn_strdup(v))) {
            st = pn_error_nomem(label, strlen(v) + 1);
            goto fail;
        }
    }
    pn_st_free(f);
    *model = m;
    if (opt)
        *opt = o;
    return PNEUMO_OK;
fail_format:
    st = PNEUMO_ERR_FORMAT;
fail:
    pneumo_optimizer_destroy(o);
    pneumo_model_destroy(m);
    pn_st_free(f);
    return st;
}

pneumo_status pneumo_model_load_memory(const void *data, size_t size, pneumo_model **model,
                                       pneumo_optimizer **opt)
{
    return pn_model_load_labeled(data, size, "<memory>", model, opt, NULL, NULL);
}

pneumo_status pneumo_model_load(const char *path, pneumo_model **model, pneumo_optimizer **opt)
{
    return pn_model_load_extra(path, model, opt, NULL, NULL);
}

pneumo_status pn_model_load_extra(const char *path, pneumo_model **model, pneumo_optimizer **opt,
                                  const char *extra_key, char **extra_value)
{
    uint8_t *data = NULL;
    size_t size = 0;
    pneumo_status st;
    if (model)
        *model = NULL;
    if (opt)
        *opt = NULL;
    if (!path || !model)
        return pn_error(PNEUMO_ERR_INVALID_ARG, "pneumo_model_load: %s is NULL", path ? "model" : "path");
    st = pn_read_file(path, MAX_MODEL_FILE, &data, &size);
    if (st != PNEUMO_OK)
        return st;
    st = pn_model_load_labeled(data, size, path, model, opt, extra_key, extra_value);
    free(data);
    return st;
}
