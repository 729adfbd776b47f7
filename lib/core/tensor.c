#include "core/tensor.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/alloc.h"
#include "core/error.h"

const char *pn_shape_format(int ndim, const int64_t *shape, char *buf, size_t size)
{
    size_t len = 0;
    if (size == 0)
        return buf;
    buf[0] = '\0';
    len += (size_t)snprintf(buf + len, size - len, "(");
    for (int i = 0; i < ndim && len < size; i++)
        len += (size_t)snprintf(buf + len, size - len, i ? ", %lld" : "%lld", (long long)shape[i]);
    if (ndim == 1 && len < size)
        len += (size_t)snprintf(buf + len, size - len, ",");
    if (len < size)
        snprintf(buf + len, size - len, ")");
    return buf;
}

pneumo_status pn_shape_check(int ndim, const int64_t *shape, int64_t *numel, const char *what)
{
    int64_t n = 1;
    if (ndim < 1 || ndim > PNEUMO_MAX_DIMS)
        return pn_error(PNEUMO_ERR_INVALID_ARG, "%s: ndim %d is outside 1..%d", what, ndim, PNEUMO_MAX_DIMS);
    if (!shape)
        return pn_error(PNEUMO_ERR_INVALID_ARG, "%s: shape is NULL", what);
    for (int i = 0; i < ndim; i++) {
        if (shape[i] < 1)
            return pn_error(PNEUMO_ERR_INVALID_ARG, "%s: dimension %d is %lld (must be >= 1)", what, i,
                            (long long)shape[i]);
        if (shape[i] > PN_TENSOR_MAX_NUMEL || n > PN_TENSOR_MAX_NUMEL / shape[i]) {
            char buf[96];
            return pn_error(PNEUMO_ERR_LIMIT, "%s: shape %s exceeds %lld elements", what,
                            pn_shape_format(ndim, shape, buf, sizeof buf), (long long)PN_TENSOR_MAX_NUMEL);
        }
        n *= shape[i];
    }
    *numel = n;
    return PNEUMO_OK;
}

void pn_tensor_view(pneumo_tensor *t, int ndim, const int64_t *shape, float *data)
{
    memset(t, 0, sizeof *t);
    t->ndim = ndim;
    t->numel = 1;
    for (int i = 0; i < ndim; i++) {
        t->shape[i] = shape[i];
        t->numel *= shape[i];
    }
    t->data = data;
}

static pneumo_status tensor_new(int ndim, const int64_t *shape, float *data, const char *what,
                                pneumo_tensor **out)
{
    pneumo_tensor *t;
    int64_t numel;
    pneumo_status st;
    if (!out)
        return pn_error(PNEUMO_ERR_INVALID_ARG, "%s: out is NULL", what);
    *out = NULL;
    st = pn_shape_check(ndim, shape, &numel, what);
    if (st != PNEUMO_OK)
        return st;
    t = pn_calloc(1, sizeof *t);
    if (!t)
        return pn_error_nomem(what, sizeof *t);
    pn_tensor_view(t, ndim, shape, data);
    if (!data) {
        t->data = pn_aligned_calloc((size_t)numel, sizeof(float));
        if (!t->data) {
            free(t);
            return pn_error_nomem(what, (size_t)numel * sizeof(float));
        }
        t->owns_data = 1;
    }
    *out = t;
    return PNEUMO_OK;
}

pneumo_status pneumo_tensor_create(int ndim, const int64_t *shape, pneumo_tensor **out)
{
    return tensor_new(ndim, shape, NULL, "pneumo_tensor_create", out);
}

pneumo_status pneumo_tensor_wrap(int ndim, const int64_t *shape, float *data, size_t count,
                                 pneumo_tensor **out)
{
    pneumo_status st;
    if (!data) {
        if (out)
            *out = NULL;
        return pn_error(PNEUMO_ERR_INVALID_ARG, "pneumo_tensor_wrap: data is NULL");
    }
    st = tensor_new(ndim, shape, data, "pneumo_tensor_wrap", out);
    if (st == PNEUMO_OK && (size_t)(*out)->numel > count) {
        st = pn_check_buffer("pneumo_tensor_wrap", "data", count, (size_t)(*out)->numel);
        pneumo_tensor_destroy(*out);
        *out = NULL;
    }
    return st;
}

pneumo_status pneumo_tensor_clone(const pneumo_tensor *src, pneumo_tensor **out)
{
    pneumo_status st;
    if (!src) {
        if (out)
            *out = NULL;
        return pn_error(PNEUMO_ERR_INVALID_ARG, "pneumo_tensor_clone: src is NULL");
    }
    st = tensor_new(src->ndim, src->shape, NULL, "pneumo_tensor_clone", out);
    if (st == PNEUMO_OK)
        memcpy((*out)->data, src->data, (size_t)src->numel * sizeof(float));
    return st;
}

pneumo_status pneumo_tensor_copy(pneumo_tensor *dst, const pneumo_tensor *src)
{
    if (!dst || !src)
        return pn_error(PNEUMO_ERR_INVALID_ARG, "pneumo_tensor_copy: %s is NULL", dst ? "src" : "dst");
    if (dst->ndim != src->ndim || memcmp(dst->shape, src->shape, sizeof(int64_t) * (size_t)dst->ndim)) {
        char a[96], b[96];
        return pn_error(PNEUMO_ERR_SHAPE, "pneumo_tensor_copy: destination shape %s != source shape %s",
                        pn_shape_format(dst->ndim, dst->shape, a, sizeof a),
                        pn_shape_format(src->ndim, src->shape, b, sizeof b));
    }
    if (dst->data != src->data)
        memmove(dst->data, src->data, (size_t)src->numel * sizeof(float));
    return PNEUMO_OK;
}

void pneumo_tensor_destroy(pneumo_tensor *t)
{
    if (!t)
        return;
    if (t->owns_data)
        pn_aligned_free(t->data);
    free(t);
}

int pneumo_tensor_ndim(const pneumo_tensor *t) { return t ? t->ndim : 0; }

int64_t pneumo_tensor_dim(const pneumo_tensor *t, int axis)
{
    if (!t)
        return 0;
    if (axis < 0)
        axis += t->ndim;
    if (axis < 0 || axis >= t->ndim)
        return 0;
    return t->shape[axis];
}

int pneumo_tensor_shape(const pneumo_tensor *t, int64_t *shape, size_t capacity)
{
    if (!t || !shape || capacity < (size_t)t->ndim)
        return 0;
    for (int i = 0; i < t->ndim; i++)
        shape[i] = t->shape[i];
    return t->ndim;
}

int64_t pneumo_tensor_numel(const pneumo_tensor *t) { return t ? t->numel : 0; }

float *pneumo_tensor_data(pneumo_tensor *t) { return t ? t->data : NULL; }

const float *pneumo_tensor_data_const(const pneumo_tensor *t) { return t ? t->data : NULL; }

pneumo_status pneumo_tensor_shape_str(const pneumo_tensor *t, char *buf, size_t size, size_t *needed)
{
    /* 4 dimensions of at most 19 digits, separators and parentheses */
    char text[PNEUMO_MAX_DIMS * 21 + 4];
    if (!t)
        return pn_error(PNEUMO_ERR_INVALID_ARG, "pneumo_tensor_shape_str: tensor is NULL");
    pn_shape_format(t->ndim, t->shape, text, sizeof text);
    return pn_string_out("pneumo_tensor_shape_str", text, "", buf, size, needed);
}
