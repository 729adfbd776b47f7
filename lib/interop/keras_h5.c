/* Keras HDF5 import (pneumo/interop.h).
 *
 * The layout Keras 2 / tf.keras writes (keras/saving/hdf5_format.py):
 *   /                      attrs model_config (JSON), training_config (JSON,
 *                          optional), keras_version, backend
 *   /model_weights         attrs layer_names (the layers with weights)
 *   /model_weights/<layer> attrs weight_names ("<layer>/kernel:0", ...); each
 *                          name is a dataset path under the layer's group
 *   /optimizer_weights     attrs weight_names ("Adam/iter:0",
 *                          "Adam/<layer>/kernel/m:0", ...), optional
 * Without libhdf5 (meson -Dhdf5=disabled) only the UNSUPPORTED stub is built. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/error.h"
#include "core/tensor.h"
#include "pneumo/interop.h"

#ifndef PNEUMO_HAVE_HDF5

pneumo_status pneumo_model_import_keras_h5(const char *path, pneumo_model **model, pneumo_optimizer **opt)
{
    if (model)
        *model = NULL;
    if (opt)
        *opt = NULL;
    return pn_error(PNEUMO_ERR_UNSUPPORTED,
                    "pneumo_model_import_keras_h5: %s: this libpneumo was built without HDF5 "
                    "(meson -Dhdf5=enabled with libhdf5-dev)",
                    path ? path : "(null)");
}

#else

#include <hdf5.h>

#include "format/json.h"
#include "model/model.h"
#include "optim/optimizer.h"

#define FN "pneumo_model_import_keras_h5"
/* Bounds against hostile files: config text and per-name strings. */
#define MAX_ATTR_BYTES ((size_t)16 << 20)
#define MAX_NAMES 4096

/* The text of string attribute `name` of `obj` (fixed or variable length, one
 * value), malloc'd and NUL-terminated; NULL with *st set (FORMAT) if absent or
 * not a string, or with *st = PNEUMO_OK if absent and optional. */
static char *read_string_attr(hid_t obj, const char *name, const char *path, int required, pneumo_status *st)
{
    hid_t a = -1, type = -1, mem = -1, space = -1;
    char *out = NULL;
    *st = PNEUMO_OK;
    if (H5Aexists(obj, name) <= 0) {
        if (required)
            *st = pn_error(PNEUMO_ERR_FORMAT, FN ": %s: no '%s' attribute (not a Keras HDF5 model file?)",
                           path, name);
        return NULL;
    }
    if ((a = H5Aopen(obj, name, H5P_DEFAULT)) < 0 || (type = H5Aget_type(a)) < 0 ||
        (space = H5Aget_space(a)) < 0)
        goto bad;
    if (H5Tget_class(type) != H5T_STRING || H5Sget_simple_extent_npoints(space) != 1)
        goto bad;
    if (H5Tis_variable_str(type) > 0) {
        char *v = NULL;
        if ((mem = H5Tcopy(H5T_C_S1)) < 0 || H5Tset_size(mem, H5T_VARIABLE) < 0 ||
            H5Tset_cset(mem, H5Tget_cset(type)) < 0 || H5Aread(a, mem, &v) < 0 || !v)
            goto bad;
        if (strlen(v) > MAX_ATTR_BYTES) {
            H5free_memory(v);
            *st = pn_error(PNEUMO_ERR_LIMIT, FN ": %s: attribute '%s' is over %zu bytes", path, name,
                           MAX_ATTR_BYTES);
            goto done;
        }
        out = strdup(v);
        H5free_memory(v);
    } else {
        size_t n = H5Tget_size(type);
        if (n == 0 || n > MAX_ATTR_BYTES) {
            *st = pn_error(PNEUMO_ERR_LIMIT, FN ": %s: attribute '%s' is over %zu bytes", path, name,
                           MAX_ATTR_BYTES);
            goto done;
        }
        if ((mem = H5Tcopy(type)) < 0)
            goto bad;
        out = calloc(1, n + 1);
        if (out && H5Aread(a, mem, out) < 0) {
            free(out);
            goto bad;
        }
    }
    if (!out)
        *st = pn_error_nomem(FN, 0);
    goto done;
bad:
    *st = pn_error(PNEUMO_ERR_FORMAT, FN ": %s: attribute '%s' is not a readable string", path, name);
done:
    if (mem >= 0)
        H5Tclose(mem);
    if (space >= 0)
        H5Sclose(space);
    if (type >= 0)
        H5Tclose(type);
    if (a >= 0)
        H5Aclose(a);
    return out;
}

/* A list of strings (attribute weight_names / layer_names): fixed-length
 * strings (what Keras writes: NumPy 'S' arrays) or variable-length ones. */
typedef struct name_list {
    char **names;
    size_t count;
} name_list;

static void name_list_free(name_list *l)
{
    for (size_t i = 0; i < l->count; i++)
        free(l->names[i]);
    free(l->names);
    l->names = NULL;
    l->count = 0;
}

static pneumo_status read_name_list(hid_t obj, const char *name, const char *where, name_list *out)
{
    hid_t a = -1, type = -1, mem = -1, space = -1;
    hssize_t n;
    pneumo_status st = PNEUMO_OK;
    out->names = NULL;
    out->count = 0;
    if (H5Aexists(obj, name) <= 0)
        return pn_error(PNEUMO_ERR_FORMAT, FN ": %s: no '%s' attribute", where, name);
    if ((a = H5Aopen(obj, name, H5P_DEFAULT)) < 0 || (type = H5Aget_type(a)) < 0 ||
        (space = H5Aget_space(a)) < 0 || H5Tget_class(type) != H5T_STRING ||
        H5Sget_simple_extent_ndims(space) > 1) {
        st = pn_error(PNEUMO_ERR_FORMAT, FN ": %s: attribute '%s' is not a list of strings", where, name);
        goto done;
    }
    n = H5Sget_simple_extent_npoints(space);
    if (n < 0 || n > MAX_NAMES) {
        st = pn_error(PNEUMO_ERR_LIMIT, FN ": %s: attribute '%s' lists %lld names (limit %d)", where, name,
                      (long long)n, MAX_NAMES);
        goto done;
    }
    if (n == 0)
        goto done;
    out->names = calloc((size_t)n, sizeof *out->names);
    if (!out->names) {
        st = pn_error_nomem(FN, (size_t)n * sizeof *out->names);
        goto done;
    }
    if (H5Tis_variable_str(type) > 0) {
        char **v = calloc((size_t)n, sizeof *v);
        if (!v || (mem = H5Tcopy(H5T_C_S1)) < 0 || H5Tset_size(mem, H5T_VARIABLE) < 0 ||
            H5Tset_cset(mem, H5Tget_cset(type)) < 0 || H5Aread(a, mem, v) < 0) {
            free(v);
            st = pn_error(PNEUMO_ERR_FORMAT, FN ": %s: attribute '%s' cannot be read", where, name);
            goto done;
        }
        for (hssize_t i = 0; i < n; i++) {
            out->names[i] = strdup(v[i] ? v[i] : "");
            out->count++;
            if (v[i])
                H5free_memory(v[i]);
            if (!out->names[i])
                st = pn_error_nomem(FN, 0);
        }
        free(v);
    } else {
        size_t len = H5Tget_size(type);
        char *buf;
        if (len == 0 || len > 4096) {
            st = pn_error(PNEUMO_ERR_LIMIT, FN ": %s: names in '%s' are %zu bytes long", where, name, len);
            goto done;
        }
        buf = calloc((size_t)n, len);
        if (!buf || (mem = H5Tcopy(type)) < 0 || H5Aread(a, mem, buf) < 0) {
            free(buf);
            st = buf ? pn_error(PNEUMO_ERR_FORMAT, FN ": %s: attribute '%s' cannot be read", where, name)
                     : pn_error_nomem(FN, (size_t)n * len);
            goto done;
        }
        for (hssize_t i = 0; i < n; i++) {
            out->names[i] = strndup(buf + (size_t)i * len, len);
            out->count++;
            if (!out->names[i])
                st = pn_error_nomem(FN, len);
        }
        free(buf);
    }
done:
    if (st != PNEUMO_OK)
        name_list_free(out);
    if (mem >= 0)
        H5Tclose(mem);
    if (space >= 0)
        H5Sclose(space);
    if (type >= 0)
        H5Tclose(type);
    if (a >= 0)
        H5Aclose(a);
    return st;
}

/* Read dataset `dpath` under `loc` into dst, which must have exactly the
 * shape dims[0..ndim) (HDF5 converts float64 to float). */
static pneumo_status read_dataset(hid_t loc, const char *dpath, const int64_t *dims, int ndim, float *dst,
                                  const char *where)
{
    hid_t d = -1, space = -1, type = -1;
    hsize_t got[8];
    int64_t have[8] = {0};
    char want_text[160], have_text[160];
    int nd;
    pneumo_status st = PNEUMO_OK;
    if (H5Lexists(loc, dpath, H5P_DEFAULT) <= 0 || H5Oexists_by_name(loc, dpath, H5P_DEFAULT) <= 0)
        return pn_error(PNEUMO_ERR_FORMAT, FN ": %s: dataset '%s' is missing", where, dpath);
    if ((d = H5Dopen2(loc, dpath, H5P_DEFAULT)) < 0 || (space = H5Dget_space(d)) < 0 ||
        (type = H5Dget_type(d)) < 0) {
        st = pn_error(PNEUMO_ERR_FORMAT, FN ": %s: '%s' is not a dataset", where, dpath);
        goto done;
    }
    if (H5Tget_class(type) != H5T_FLOAT) {
        st = pn_error(PNEUMO_ERR_FORMAT, FN ": %s: dataset '%s' is not floating point", where, dpath);
        goto done;
    }
    pn_shape_format(ndim, dims, want_text, sizeof want_text);
    nd = H5Sget_simple_extent_ndims(space);
    if (nd < 0 || nd > 8 || H5Sget_simple_extent_dims(space, got, NULL) < 0) {
        st = pn_error(PNEUMO_ERR_FORMAT, FN ": %s: dataset '%s' has no readable shape, expected %s", where,
                      dpath, want_text);
        goto done;
    }
    for (int i = 0; i < nd; i++)
        have[i] = got[i] > (hsize_t)INT64_MAX ? INT64_MAX : (int64_t)got[i];
    pn_shape_format(nd, have, have_text, sizeof have_text);
    if (nd != ndim) {
        st = pn_error(PNEUMO_ERR_FORMAT, FN ": %s: dataset '%s' has %d dimensions %s, expected %d %s", where,
                      dpath, nd, have_text, ndim, want_text);
        goto done;
    }
    for (int i = 0; i < nd; i++)
        if (have[i] != dims[i]) {
            st = pn_error(PNEUMO_ERR_FORMAT,
                          FN ": %s: dataset '%s' dimension %d is %lld, expected %lld (shape %s, expected %s)",
                          where, dpath, i, (long long)have[i], (long long)dims[i], have_text, want_text);
            goto done;
        }
    if (H5Dread(d, H5T_NATIVE_FLOAT, H5S_ALL, H5S_ALL, H5P_DEFAULT, dst) < 0)
        st = pn_error(PNEUMO_ERR_FORMAT, FN ": %s: dataset '%s' cannot be read", where, dpath);
done:
    if (type >= 0)
        H5Tclose(type);
    if (space >= 0)
        H5Sclose(space);
    if (d >= 0)
        H5Dclose(d);
    return st;
}

static int ends_with(const char *s, const char *suffix)
{
    size_t n = strlen(s), k = strlen(suffix);
    return n >= k && strcmp(s + n - k, suffix) == 0;
}

/* Integer pair setting (kernel_size [3, 3], or a single integer). */
static int get_pair(const pn_json *cfg, const char *key, int32_t *a, int32_t *b)
{
    const pn_json *v = pn_json_get(cfg, key);
    int64_t x, y;
    if (!v)
        return 0;
    if (pn_json_int64(v, &x)) {
        y = x;
    } else if (v->type != PN_JSON_ARRAY || v->count != 2 || !pn_json_int64(&v->items[0], &x) ||
               !pn_json_int64(&v->items[1], &y)) {
        return 0;
    }
    if (x < 1 || y < 1 || x > 65536 || y > 65536)
        return 0;
    *a = (int32_t)x;
    *b = (int32_t)y;
    return 1;
}

static pneumo_status activation_of(const pn_json *cfg, const char *path, const char *layer,
                                   pneumo_activation *out)
{
    const pn_json *v = pn_json_get(cfg, "activation");
    const char *s;
    if (!v || v->type == PN_JSON_NULL) {
        *out = PNEUMO_ACT_LINEAR;
        return PNEUMO_OK;
    }
    if (v->type != PN_JSON_STRING)
        return pn_error(PNEUMO_ERR_UNSUPPORTED,
                        FN ": %s: layer '%s': a custom (serialised) activation is not supported", path,
                        layer);
    s = v->string;
    if (strcmp(s, "linear") == 0)
        *out = PNEUMO_ACT_LINEAR;
    else if (strcmp(s, "relu") == 0)
        *out = PNEUMO_ACT_RELU;
    else if (strcmp(s, "sigmoid") == 0)
        *out = PNEUMO_ACT_SIGMOID;
    else if (strcmp(s, "tanh") == 0)
        *out = PNEUMO_ACT_TANH;
    else
        return pn_error(PNEUMO_ERR_UNSUPPORTED,
                        FN
                        ": %s: layer '%s': activation '%.40s' is not supported (linear, relu, sigmoid, tanh)",
                        path, layer, s);
    return PNEUMO_OK;
}

static pneumo_status padding_of(const pn_json *cfg, const char *path, const char *layer, int32_t *out)
{
    const char *s = pn_json_get_string(cfg, "padding");
    if (!s || strcmp(s, "valid") == 0)
        *out = PNEUMO_PADDING_VALID;
    else if (strcmp(s, "same") == 0)
        *out = PNEUMO_PADDING_SAME;
    else
        return pn_error(PNEUMO_ERR_UNSUPPORTED, FN ": %s: layer '%s': padding '%.20s' is not supported", path,
                        layer, s);
    return PNEUMO_OK;
}

static pneumo_status check_channels_last(const pn_json *cfg, const char *path, const char *layer)
{
    const char *s = pn_json_get_string(cfg, "data_format");
    if (s && strcmp(s, "channels_last") != 0)
        return pn_error(PNEUMO_ERR_UNSUPPORTED,
                        FN ": %s: layer '%s': data_format '%.20s' is not supported (channels_last only)",
                        path, layer, s);
    return PNEUMO_OK;
}

/* (H, W, C) from a batch_input_shape [null, H, W, C]; 0 if absent. */
static int input_shape_of(const pn_json *cfg, int32_t *h, int32_t *w, int32_t *c)
{
    const pn_json *v = pn_json_get(cfg, "batch_input_shape");
    int64_t d[3];
    if (!v || v->type != PN_JSON_ARRAY || v->count != 4)
        return 0;
    for (int i = 0; i < 3; i++)
        if (!pn_json_int64(&v->items[i + 1], &d[i]) || d[i] < 1 || d[i] > 1 << 20)
            return 0;
    *h = (int32_t)d[0];
    *w = (int32_t)d[1];
    *c = (int32_t)d[2];
    return 1;
}

/* BatchNormalization settings from a Keras config on input `in`. libpneumo
 * normalises over the channels (last) axis with per-channel gamma and beta
 * (each optional) and the moving statistics; batch renormalisation and ghost
 * batches change training in ways it does not implement. */
static pneumo_status batchnorm_of(const pn_json *cfg, const pn_dims *in, const char *path, const char *layer,
                                  pneumo_batchnorm_params *p)
{
    const int32_t last = in->rank == 3 ? 3 : 1;
    const pn_json *axis = pn_json_get(cfg, "axis"), *v;
    int64_t a = -1;
    double x;
    int flag;
    char shape[64];
    pneumo_batchnorm_default_params(p);
    /* Keras writes -1 before the layer is built and [3] (the list of
     * normalised axes, made positive) after */
    if (in->rank == 3)
        snprintf(shape, sizeof shape, "(None, %d, %d, %d)", in->h, in->w, in->c);
    else
        snprintf(shape, sizeof shape, "(None, %d)", in->c);
    if (axis && axis->type == PN_JSON_ARRAY && axis->count != 1)
        return pn_error(PNEUMO_ERR_UNSUPPORTED,
                        FN ": %s: layer '%s': BatchNormalization over %zu axes of input %s is not supported; "
                           "libpneumo normalises over the channels axis only (-1 or %d)",
                        path, layer, axis->count, shape, last);
    if (axis && axis->type == PN_JSON_ARRAY)
        axis = &axis->items[0];
    if (axis && !pn_json_int64(axis, &a))
        return pn_error(PNEUMO_ERR_FORMAT, FN ": %s: layer '%s': BatchNormalization axis is not an integer",
                        path, layer);
    if (a != -1 && a != last)
        return pn_error(PNEUMO_ERR_UNSUPPORTED,
                        FN
                        ": %s: layer '%s': BatchNormalization over axis %lld of input %s is not supported; "
                        "libpneumo normalises over the channels axis only (-1 or %d)",
                        path, layer, (long long)a, shape, last);
    if (pn_json_get_bool(cfg, "renorm", &flag) && flag)
        return pn_error(PNEUMO_ERR_UNSUPPORTED,
                        FN ": %s: layer '%s': BatchNormalization with renorm (batch renormalisation) is not "
                           "supported",
                        path, layer);
    if ((v = pn_json_get(cfg, "virtual_batch_size")) && v->type != PN_JSON_NULL)
        return pn_error(PNEUMO_ERR_UNSUPPORTED,
                        FN
                        ": %s: layer '%s': BatchNormalization with virtual_batch_size (ghost batches) is not "
                        "supported",
                        path, layer);
    if (pn_json_get(cfg, "momentum")) {
        if (!pn_json_get_number(cfg, "momentum", &x) || !(x >= 0.0 && x <= 1.0))
            return pn_error(PNEUMO_ERR_FORMAT,
                            FN ": %s: layer '%s': BatchNormalization momentum outside [0, 1]", path, layer);
        p->momentum = (float)x;
    }
    if (pn_json_get(cfg, "epsilon")) {
        if (!pn_json_get_number(cfg, "epsilon", &x) || !(x > 0.0 && x < 1e30))
            return pn_error(PNEUMO_ERR_FORMAT,
                            FN ": %s: layer '%s': BatchNormalization epsilon must be a finite number > 0",
                            path, layer);
        p->epsilon = (float)x;
    }
    if (pn_json_get(cfg, "center") && !pn_json_get_bool(cfg, "center", &p->center))
        return pn_error(PNEUMO_ERR_FORMAT, FN ": %s: layer '%s': BatchNormalization center is not a boolean",
                        path, layer);
    if (pn_json_get(cfg, "scale") && !pn_json_get_bool(cfg, "scale", &p->scale))
        return pn_error(PNEUMO_ERR_FORMAT, FN ": %s: layer '%s': BatchNormalization scale is not a boolean",
                        path, layer);
    return PNEUMO_OK;
}

/* Append Keras layer `spec` to m (created on the first layer that knows the
 * input shape). keras_names[i] receives the Keras name of libpneumo layer i. */
static pneumo_status add_layer(pneumo_model **mp, const pn_json *spec, size_t index, const char *path,
                               char (*keras_names)[128], int32_t *nnames)
{
    const char *cls = pn_json_get_string(spec, "class_name");
    const pn_json *cfg = pn_json_get(spec, "config");
    const char *name;
    pneumo_status st;
    pneumo_activation act;
    int32_t h, w, c;
    char fallback[32];

    if (!cls || !cfg || cfg->type != PN_JSON_OBJECT)
        return pn_error(PNEUMO_ERR_FORMAT, FN ": %s: model_config layer %zu has no class_name and config",
                        path, index);
    name = pn_json_get_string(cfg, "name");
    if (!name) {
        snprintf(fallback, sizeof fallback, "#%zu", index);
        name = fallback;
    }
    if (!*mp) {
        if (!input_shape_of(cfg, &h, &w, &c))
            return pn_error(PNEUMO_ERR_UNSUPPORTED,
                            FN
                            ": %s: layer '%s' (%s): no batch_input_shape [null, H, W, C] on the first layer "
                            "(a model built without an input shape is not supported)",
                            path, name, cls);
        if ((st = pneumo_model_create(h, w, c, 0, mp)) != PNEUMO_OK)
            return pn_error_prefix(FN ": %s: input shape (%d, %d, %d)", path, h, w, c);
    }
    if (strcmp(cls, "InputLayer") == 0)
        return PNEUMO_OK;
    if ((st = check_channels_last(cfg, path, name)) != PNEUMO_OK)
        return st;
    if (strcmp(cls, "Conv2D") == 0) {
        pneumo_conv2d_params p;
        int64_t filters;
        int32_t dh = 1, dw = 1;
        int use_bias = 1;
        int64_t groups = 1;
        pneumo_conv2d_default_params(&p);
        if (!pn_json_get_int64(cfg, "filters", &filters) || filters < 1 || filters > 1 << 20 ||
            !get_pair(cfg, "kernel_size", &p.kernel_h, &p.kernel_w))
            return pn_error(PNEUMO_ERR_FORMAT, FN ": %s: layer '%s': Conv2D needs filters and kernel_size",
                            path, name);
        p.filters = (int32_t)filters;
        if (pn_json_get(cfg, "strides") && !get_pair(cfg, "strides", &p.stride_h, &p.stride_w))
            return pn_error(PNEUMO_ERR_FORMAT, FN ": %s: layer '%s': bad strides", path, name);
        if (pn_json_get(cfg, "dilation_rate") &&
            (!get_pair(cfg, "dilation_rate", &dh, &dw) || dh != 1 || dw != 1))
            return pn_error(PNEUMO_ERR_UNSUPPORTED,
                            FN ": %s: layer '%s': dilation_rate other than 1 is not supported", path, name);
        if (pn_json_get_int64(cfg, "groups", &groups) && groups != 1)
            return pn_error(PNEUMO_ERR_UNSUPPORTED,
                            FN ": %s: layer '%s': grouped convolution is not supported", path, name);
        pn_json_get_bool(cfg, "use_bias", &use_bias);
        p.use_bias = use_bias;
        if ((st = padding_of(cfg, path, name, &p.padding)) != PNEUMO_OK ||
            (st = activation_of(cfg, path, name, &act)) != PNEUMO_OK)
            return st;
        p.activation = act;
        st = pneumo_model_add_conv2d(*mp, &p);
    } else if (strcmp(cls, "MaxPooling2D") == 0 || strcmp(cls, "MaxPool2D") == 0) {
        pneumo_maxpool2d_params p;
        const pn_json *s;
        pneumo_maxpool2d_default_params(&p);
        if (pn_json_get(cfg, "pool_size") && !get_pair(cfg, "pool_size", &p.pool_h, &p.pool_w))
            return pn_error(PNEUMO_ERR_FORMAT, FN ": %s: layer '%s': bad pool_size", path, name);
        s = pn_json_get(cfg, "strides");
        if (s && s->type != PN_JSON_NULL && !get_pair(cfg, "strides", &p.stride_h, &p.stride_w))
            return pn_error(PNEUMO_ERR_FORMAT, FN ": %s: layer '%s': bad strides", path, name);
        if ((st = padding_of(cfg, path, name, &p.padding)) != PNEUMO_OK)
            return st;
        st = pneumo_model_add_maxpool2d(*mp, &p);
    } else if (strcmp(cls, "Flatten") == 0) {
        st = pneumo_model_add_flatten(*mp);
    } else if (strcmp(cls, "BatchNormalization") == 0) {
        pneumo_batchnorm_params p;
        if ((st = batchnorm_of(cfg, pn_model_out_dims(*mp), path, name, &p)) != PNEUMO_OK)
            return st;
        st = pneumo_model_add_batchnorm(*mp, &p);
    } else if (strcmp(cls, "GlobalAveragePooling2D") == 0 || strcmp(cls, "GlobalAvgPool2D") == 0) {
        int keepdims = 0;
        if (pn_json_get_bool(cfg, "keepdims", &keepdims) && keepdims)
            return pn_error(PNEUMO_ERR_UNSUPPORTED,
                            FN
                            ": %s: layer '%s': GlobalAveragePooling2D with keepdims true (output (1, 1, C)) "
                            "is not supported; libpneumo's gives (C)",
                            path, name);
        st = pneumo_model_add_global_avgpool2d(*mp);
    } else if (strcmp(cls, "Dense") == 0) {
        int64_t units;
        int use_bias = 1;
        if (!pn_json_get_int64(cfg, "units", &units) || units < 1 || units > 1 << 24)
            return pn_error(PNEUMO_ERR_FORMAT, FN ": %s: layer '%s': Dense needs units", path, name);
        if (pn_json_get_bool(cfg, "use_bias", &use_bias) && !use_bias)
            return pn_error(PNEUMO_ERR_UNSUPPORTED,
                            FN ": %s: layer '%s': Dense without bias is not supported", path, name);
        if ((st = activation_of(cfg, path, name, &act)) != PNEUMO_OK)
            return st;
        st = pneumo_model_add_dense(*mp, (int32_t)units, act);
    } else if (strcmp(cls, "Activation") == 0) {
        if ((st = activation_of(cfg, path, name, &act)) != PNEUMO_OK)
            return st;
        st = pneumo_model_add_activation(*mp, act);
    } else if (strcmp(cls, "Dropout") == 0) {
        double rate;
        if (!pn_json_get_number(cfg, "rate", &rate))
            return pn_error(PNEUMO_ERR_FORMAT, FN ": %s: layer '%s': Dropout needs rate", path, name);
        if (pn_json_get(cfg, "noise_shape") && pn_json_get(cfg, "noise_shape")->type != PN_JSON_NULL)
            return pn_error(PNEUMO_ERR_UNSUPPORTED,
                            FN ": %s: layer '%s': Dropout noise_shape is not supported", path, name);
        st = pneumo_model_add_dropout(*mp, (float)rate);
    } else {
        return pn_error(PNEUMO_ERR_UNSUPPORTED,
                        FN ": %s: layer '%s': layer type %.60s is not supported (libpneumo has Conv2D, "
                           "MaxPooling2D, BatchNormalization, GlobalAveragePooling2D, Flatten, Dense, "
                           "Activation, Dropout)",
                        path, name, cls);
    }
    if (st != PNEUMO_OK)
        return pn_error_prefix(FN ": %s: layer '%s' (%s)", path, name, cls);
    snprintf(keras_names[*nnames], sizeof keras_names[0], "%s", name);
    (*nnames)++;
    return PNEUMO_OK;
}

/* Index of the first of the n values at v that is not finite (or negative,
 * with nonneg), or -1. */
static int64_t first_bad(const float *v, int64_t n, int nonneg)
{
    for (int64_t i = 0; i < n; i++)
        if (!isfinite(v[i]) || (nonneg && v[i] < 0.0f))
            return i;
    return -1;
}

/* BatchNormalization's gamma (with scale), beta (with center), moving_mean
 * and moving_variance, each of shape (c,), from the datasets weight_names
 * lists in group g. The statistics must be finite, the variance >= 0: they
 * are what inference divides by. */
static pneumo_status load_batchnorm_weights(hid_t g, const pn_layer *l, const name_list *names,
                                            const char *where)
{
    static const char *const roles[4] = {"gamma", "beta", "moving_mean", "moving_variance"};
    float *dst[4];
    const int wanted[4] = {l->nw != 0, l->nb != 0, 1, 1};
    int have[4] = {0, 0, 0, 0};
    const int64_t c = l->out.c;
    pneumo_status st = PNEUMO_OK;
    dst[0] = l->w;
    dst[1] = l->b;
    dst[2] = l->mmean;
    dst[3] = l->mvar;
    for (size_t i = 0; i < names->count && st == PNEUMO_OK; i++) {
        const char *wn = names->names[i];
        int r = -1;
        for (int k = 0; k < 4 && r < 0; k++) {
            char suffix[32];
            snprintf(suffix, sizeof suffix, "%s:0", roles[k]);
            if (ends_with(wn, suffix) || ends_with(wn, roles[k]))
                r = k;
        }
        if (r < 0)
            st = pn_error(PNEUMO_ERR_UNSUPPORTED,
                          FN ": %s: weight '%.100s' is not a BatchNormalization gamma, beta, moving_mean or "
                             "moving_variance",
                          where, wn);
        else if (!wanted[r])
            st = pn_error(PNEUMO_ERR_FORMAT, FN ": %s: weight '%.100s' is a %s, but the config has %s false",
                          where, wn, roles[r], r == 0 ? "scale" : "center");
        else if (have[r])
            st = pn_error(PNEUMO_ERR_FORMAT, FN ": %s: weight_names list a second %s ('%.100s')", where,
                          roles[r], wn);
        else if ((st = read_dataset(g, wn, &c, 1, dst[r], where)) == PNEUMO_OK) {
            const int64_t bad = first_bad(dst[r], c, r == 3);
            have[r] = 1;
            if (bad >= 0)
                st = pn_error(PNEUMO_ERR_FORMAT,
                              FN
                              ": %s: dataset '%.100s' of shape (%lld,) holds %g at [%lld]; a %s must be %s",
                              where, wn, (long long)c, (double)dst[r][bad], (long long)bad, roles[r],
                              r == 3 ? "finite and >= 0" : "finite");
        }
    }
    for (int k = 0; k < 4 && st == PNEUMO_OK; k++)
        if (wanted[k] && !have[k])
            st = pn_error(PNEUMO_ERR_FORMAT, FN ": %s: weight_names lack the %s (shape (%lld,))", where,
                          roles[k], (long long)c);
    return st;
}

/* The weights of libpneumo layer l from /model_weights/<keras name>. */
static pneumo_status load_layer_weights(hid_t weights, const pn_layer *l, const char *kname, const char *path)
{
    hid_t g = -1;
    name_list names = {NULL, 0};
    pneumo_status st;
    char where[512];
    int have_w = 0, have_b = 0;
    snprintf(where, sizeof where, "%s: layer '%s'", path, kname);
    if (H5Lexists(weights, kname, H5P_DEFAULT) <= 0 || (g = H5Gopen2(weights, kname, H5P_DEFAULT)) < 0)
        return pn_error(PNEUMO_ERR_FORMAT, FN ": %s: no weights group model_weights/%s", path, kname);
    if ((st = read_name_list(g, "weight_names", where, &names)) != PNEUMO_OK)
        goto done;
    if (l->kind == PN_LAYER_BATCHNORM) {
        st = load_batchnorm_weights(g, l, &names, where);
        goto done;
    }
    for (size_t i = 0; i < names.count && st == PNEUMO_OK; i++) {
        const char *wn = names.names[i];
        if (ends_with(wn, "kernel:0") || ends_with(wn, "kernel")) {
            st = read_dataset(g, wn, l->w_shape, l->w_ndim, l->w, where);
            have_w = 1;
        } else if (ends_with(wn, "bias:0") || ends_with(wn, "bias")) {
            st = read_dataset(g, wn, l->b_shape, 1, l->b, where);
            have_b = 1;
        } else {
            st = pn_error(PNEUMO_ERR_UNSUPPORTED, FN ": %s: weight '%.100s' is not a kernel or bias", where,
                          wn);
        }
    }
    if (st == PNEUMO_OK && (!have_w || (l->nb && !have_b)))
        st = pn_error(PNEUMO_ERR_FORMAT, FN ": %s: weight_names lack the %s", where,
                      have_w ? "bias" : "kernel");
done:
    name_list_free(&names);
    if (g >= 0)
        H5Gclose(g);
    return st;
}

/* Optimizer settings from training_config; *out NULL if there are none. */
static pneumo_status optimizer_from_config(const char *text, const char *path, pneumo_optimizer **out)
{
    pn_json *j = NULL;
    const pn_json *oc, *cfg;
    const char *cls;
    double lr, x;
    pneumo_status st;
    *out = NULL;
    if ((st = pn_json_parse(text, strlen(text), path, &j)) != PNEUMO_OK)
        return pn_error_prefix(FN ": %s: training_config", path);
    oc = pn_json_get(j, "optimizer_config");
    cls = oc ? pn_json_get_string(oc, "class_name") : NULL;
    cfg = oc ? pn_json_get(oc, "config") : NULL;
    if (!cls || !cfg || cfg->type != PN_JSON_OBJECT) {
        pn_json_free(j);
        return PNEUMO_OK;
    }
    if (!pn_json_get_number(cfg, "learning_rate", &lr) && !pn_json_get_number(cfg, "lr", &lr))
        lr = NAN;
    if (strcmp(cls, "Adam") == 0 || strcmp(cls, "Custom>Adam") == 0) {
        pneumo_adam_params p;
        int amsgrad = 0;
        pneumo_adam_default_params(&p);
        if (isfinite(lr))
            p.learning_rate = (float)lr;
        if (pn_json_get_number(cfg, "beta_1", &x))
            p.beta_1 = (float)x;
        if (pn_json_get_number(cfg, "beta_2", &x))
            p.beta_2 = (float)x;
        if (pn_json_get_number(cfg, "epsilon", &x))
            p.epsilon = (float)x;
        if (pn_json_get_bool(cfg, "amsgrad", &amsgrad) && amsgrad)
            st = pn_error(PNEUMO_ERR_UNSUPPORTED, FN ": %s: Adam with amsgrad is not supported", path);
        else
            st = pneumo_optimizer_create_adam(&p, out);
    } else if (strcmp(cls, "SGD") == 0 || strcmp(cls, "Custom>SGD") == 0) {
        pneumo_sgd_params p;
        int nesterov = 0;
        pneumo_sgd_default_params(&p);
        if (isfinite(lr))
            p.learning_rate = (float)lr;
        if (pn_json_get_number(cfg, "momentum", &x))
            p.momentum = (float)x;
        if (pn_json_get_bool(cfg, "nesterov", &nesterov))
            p.nesterov = nesterov;
        st = pneumo_optimizer_create_sgd(&p, out);
    } else {
        st = pn_error(PNEUMO_ERR_UNSUPPORTED, FN ": %s: optimizer %.40s is not supported (Adam, SGD)", path,
                      cls);
    }
    if (st != PNEUMO_OK && st != PNEUMO_ERR_UNSUPPORTED)
        st = pn_error_prefix(FN ": %s: optimizer %s", path, cls);
    pn_json_free(j);
    return st;
}

/* Optimizer state from /optimizer_weights: "<any>/<layer>/<kernel|bias>/<slot>:0"
 * with slot m, v (Adam) or momentum (SGD), and "<any>/iter:0". */
static pneumo_status load_optimizer_state(hid_t file, pneumo_model *m, pneumo_optimizer *o,
                                          char (*keras_names)[128], const char *path)
{
    hid_t g = -1;
    name_list names = {NULL, 0};
    pneumo_status st;
    if (H5Lexists(file, "optimizer_weights", H5P_DEFAULT) <= 0)
        return PNEUMO_OK;
    if ((g = H5Gopen2(file, "optimizer_weights", H5P_DEFAULT)) < 0)
        return pn_error(PNEUMO_ERR_FORMAT, FN ": %s: optimizer_weights is not a group", path);
    if ((st = read_name_list(g, "weight_names", "optimizer_weights", &names)) != PNEUMO_OK)
        goto done;
    if (names.count && (st = pn_optimizer_bind(o, m->id, m->arena_size)) != PNEUMO_OK)
        goto done;
    for (size_t i = 0; i < names.count && st == PNEUMO_OK; i++) {
        const char *wn = names.names[i];
        const char *slash = strrchr(wn, '/');
        const char *slot = slash ? slash + 1 : wn;
        int matched = 0;
        if (strcmp(slot, "iter:0") == 0 || strcmp(slot, "iterations:0") == 0) {
            hid_t d = H5Dopen2(g, wn, H5P_DEFAULT);
            int64_t it = 0;
            if (d < 0 || H5Dread(d, H5T_NATIVE_INT64, H5S_ALL, H5S_ALL, H5P_DEFAULT, &it) < 0 || it < 0)
                st = pn_error(PNEUMO_ERR_FORMAT, FN ": %s: optimizer_weights/%s is not an iteration count",
                              path, wn);
            else
                o->iterations = it;
            if (d >= 0)
                H5Dclose(d);
            continue;
        }
        for (int32_t k = 0; k < m->nlayers && !matched && st == PNEUMO_OK; k++) {
            const pn_layer *l = &m->layers[k];
            for (int bias = 0; bias < 2 && !matched; bias++) {
                char key[200];
                const char *at;
                float *dst = NULL;
                if (!(bias ? l->nb : l->nw))
                    continue;
                /* the parameter's Keras name: kernel/bias, gamma/beta */
                snprintf(key, sizeof key, "%s/%s/", keras_names[k],
                         strrchr(bias ? l->b_name : l->w_name, '/') + 1);
                at = strstr(wn, key);
                if (!at || (at != wn && at[-1] != '/') || strchr(at + strlen(key), '/'))
                    continue;
                matched = 1;
                slot = at + strlen(key);
                if (o->kind == PNEUMO_OPTIMIZER_ADAM && strcmp(slot, "m:0") == 0)
                    dst = o->m;
                else if (o->kind == PNEUMO_OPTIMIZER_ADAM && strcmp(slot, "v:0") == 0)
                    dst = o->v;
                else if (o->kind == PNEUMO_OPTIMIZER_SGD && strcmp(slot, "momentum:0") == 0)
                    dst = o->m;
                if (!dst) {
                    st = pn_error(PNEUMO_ERR_UNSUPPORTED,
                                  FN ": %s: optimizer state '%.100s' is not one libpneumo's %s keeps", path,
                                  wn, o->kind == PNEUMO_OPTIMIZER_ADAM ? "Adam" : "SGD");
                    break;
                }
                dst += bias ? l->b_off : l->w_off;
                st = read_dataset(g, wn, bias ? l->b_shape : l->w_shape, bias ? 1 : l->w_ndim, dst, path);
            }
        }
        if (!matched && st == PNEUMO_OK)
            st = pn_error(PNEUMO_ERR_FORMAT, FN ": %s: optimizer state '%.100s' names no layer of the model",
                          path, wn);
    }
done:
    name_list_free(&names);
    if (g >= 0)
        H5Gclose(g);
    return st;
}

static pneumo_status import_file(hid_t file, const char *path, pneumo_model **model, pneumo_optimizer **opt)
{
    char *config = NULL, *training = NULL;
    pn_json *j = NULL;
    const pn_json *layers, *cfg;
    const char *cls;
    pneumo_model *m = NULL;
    pneumo_optimizer *o = NULL;
    char(*keras_names)[128] = NULL;
    int32_t nnames = 0;
    hid_t weights = -1;
    pneumo_status st;

    if (!(config = read_string_attr(file, "model_config", path, 1, &st)))
        goto fail;
    if ((st = pn_json_parse(config, strlen(config), path, &j)) != PNEUMO_OK) {
        st = pn_error_prefix(FN ": %s: model_config", path);
        goto fail;
    }
    cls = pn_json_get_string(j, "class_name");
    cfg = pn_json_get(j, "config");
    if (!cls || !cfg) {
        st = pn_error(PNEUMO_ERR_FORMAT, FN ": %s: model_config has no class_name and config", path);
        goto fail;
    }
    if (strcmp(cls, "Sequential") != 0) {
        st = pn_error(
            PNEUMO_ERR_UNSUPPORTED,
            FN ": %s: a %.40s model is not supported (a functional or subclassed model; only Sequential)",
            path, cls);
        goto fail;
    }
    layers = cfg->type == PN_JSON_ARRAY ? cfg : pn_json_get(cfg, "layers"); /* Keras < 2.2.5: a bare list */
    if (!layers || layers->type != PN_JSON_ARRAY || layers->count == 0) {
        st = pn_error(PNEUMO_ERR_FORMAT, FN ": %s: model_config lists no layers", path);
        goto fail;
    }
    if (layers->count > 1024) {
        st = pn_error(PNEUMO_ERR_LIMIT, FN ": %s: model_config lists %zu layers (limit 1024)", path,
                      layers->count);
        goto fail;
    }
    keras_names = calloc(layers->count, sizeof *keras_names);
    if (!keras_names) {
        st = pn_error_nomem(FN, layers->count * sizeof *keras_names);
        goto fail;
    }
    for (size_t i = 0; i < layers->count; i++)
        if ((st = add_layer(&m, &layers->items[i], i, path, keras_names, &nnames)) != PNEUMO_OK)
            goto fail;
    if (nnames == 0) {
        st = pn_error(PNEUMO_ERR_FORMAT, FN ": %s: the model has no layers besides its input", path);
        goto fail;
    }

    /* model.save() puts the weights under /model_weights; save_weights() at the root */
    weights = H5Lexists(file, "model_weights", H5P_DEFAULT) > 0 ? H5Gopen2(file, "model_weights", H5P_DEFAULT)
                                                                : H5Gopen2(file, "/", H5P_DEFAULT);
    if (weights < 0) {
        st = pn_error(PNEUMO_ERR_FORMAT, FN ": %s: model_weights is not a group", path);
        goto fail;
    }
    for (int32_t i = 0; i < m->nlayers; i++)
        if ((m->layers[i].nw || m->layers[i].ns) &&
            (st = load_layer_weights(weights, &m->layers[i], keras_names[i], path)) != PNEUMO_OK)
            goto fail;

    if (opt) {
        if (!(training = read_string_attr(file, "training_config", path, 0, &st)) && st != PNEUMO_OK)
            goto fail;
        if (training && (st = optimizer_from_config(training, path, &o)) != PNEUMO_OK)
            goto fail;
        if (o && (st = load_optimizer_state(file, m, o, keras_names, path)) != PNEUMO_OK)
            goto fail;
    }
    H5Gclose(weights);
    free(keras_names);
    free(config);
    free(training);
    pn_json_free(j);
    *model = m;
    if (opt)
        *opt = o;
    return PNEUMO_OK;

fail:
    if (weights >= 0)
        H5Gclose(weights);
    free(keras_names);
    free(config);
    free(training);
    pn_json_free(j);
    pneumo_optimizer_destroy(o);
    pneumo_model_destroy(m);
    return st;
}

pneumo_status pneumo_model_import_keras_h5(const char *path, pneumo_model **model, pneumo_optimizer **opt)
{
    static const unsigned char magic[8] = {0x89, 'H', 'D', 'F', '\r', '\n', 0x1a, '\n'};
    unsigned char head[8];
    H5E_auto2_t old_func = NULL;
    void *old_data = NULL;
    hid_t file;
    pneumo_status st;
    FILE *f;

    if (model)
        *model = NULL;
    if (opt)
        *opt = NULL;
    if (!path || !model)
        return pn_error(PNEUMO_ERR_INVALID_ARG, FN ": %s is NULL", path ? "model" : "path");
    /* the superblock may also sit at 512, 1024, ... (a user block): leave those to libhdf5 */
    if (!(f = fopen(path, "rb")))
        return pn_error(PNEUMO_ERR_IO, FN ": cannot open %s", path);
    if (fread(head, 1, 8, f) != 8) {
        fclose(f);
        return pn_error(PNEUMO_ERR_FORMAT, FN ": %s: not an HDF5 file (too short)", path);
    }
    fclose(f);
    if (H5open() < 0)
        return pn_error(PNEUMO_ERR_UNSUPPORTED, FN ": %s: libhdf5 failed to initialise", path);
    /* libhdf5 prints its error stack by default; the library never prints */
    H5Eget_auto2(H5E_DEFAULT, &old_func, &old_data);
    H5Eset_auto2(H5E_DEFAULT, NULL, NULL);
    if (memcmp(head, magic, 8) != 0 && H5Fis_hdf5(path) <= 0) {
        st = pn_error(PNEUMO_ERR_FORMAT, FN ": %s: not an HDF5 file", path);
    } else if ((file = H5Fopen(path, H5F_ACC_RDONLY, H5P_DEFAULT)) < 0) {
        st = pn_error(PNEUMO_ERR_FORMAT, FN ": %s: libhdf5 cannot open it (corrupt or truncated HDF5)", path);
    } else {
        st = import_file(file, path, model, opt);
        H5Fclose(file);
    }
    H5Eset_auto2(H5E_DEFAULT, old_func, old_data);
    return st;
}

#endif
