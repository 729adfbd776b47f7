/* Keras-style model summary (the layout of tf.keras' Model.summary() for a
 * Sequential model: columns at 29, 55 and 65 characters). */
#include <stdio.h>
#include <string.h>

#include "core/error.h"
#include "format/json.h"
#include "model/model.h"

#define COL_SHAPE 29
#define COL_PARAMS 55
#define LINE_LEN 65

/* "1467137" -> "1,467,137" */
static void group_thousands(int64_t v, char *out, size_t size)
{
    char digits[32];
    size_t n, j = 0;
    snprintf(digits, sizeof digits, "%lld", (long long)v);
    n = strlen(digits);
    for (size_t i = 0; i < n && j + 2 < size; i++) {
        if (i > 0 && (n - i) % 3 == 0)
            out[j++] = ',';
        out[j++] = digits[i];
    }
    out[j] = '\0';
}

static void dims_str(const pn_dims *d, char *out, size_t size)
{
    if (d->rank == 1)
        snprintf(out, size, "(None, %d)", d->c);
    else
        snprintf(out, size, "(None, %d, %d, %d)", d->h, d->w, d->c);
}

/* Pad `text` to `column` from the current line length; long fields keep one
 * space of separation instead of being cut as Keras cuts them. */
static void field(pn_buf *b, size_t *col, const char *text, size_t column)
{
    size_t len = strlen(text);
    pn_buf_append(b, text, len);
    *col += len;
    if (*col < column) {
        pn_buf_printf(b, "%*s", (int)(column - *col), "");
        *col = column;
    } else {
        pn_buf_append(b, " ", 1);
        *col += 1;
    }
}

static void rule(pn_buf *b, char c)
{
    char line[LINE_LEN + 2];
    memset(line, c, LINE_LEN);
    line[LINE_LEN] = '\n';
    pn_buf_append(b, line, LINE_LEN + 1);
}

static void build(const pneumo_model *m, pn_buf *b)
{
    char shape[64], params[32], name[160];
    size_t col;
    pn_buf_printf(b, "Model: \"sequential\"\n");
    rule(b, '_');
    pn_buf_printf(b, "Layer (type)%*sOutput Shape%*sParam #\n", COL_SHAPE - 12, "",
                  COL_PARAMS - COL_SHAPE - 12, "");
    rule(b, '=');
    for (int32_t i = 0; i < m->nlayers; i++) {
        const pn_layer *l = &m->layers[i];
        snprintf(name, sizeof name, "%s (%s)", l->name, l->ops->keras_class);
        dims_str(&l->out, shape, sizeof shape);
        /* Keras counts non-trainable weights (moving statistics) in the layer's column */
        snprintf(params, sizeof params, "%lld", (long long)(l->nw + l->nb + l->ns));
        col = 0;
        field(b, &col, name, COL_SHAPE);
        field(b, &col, shape, COL_PARAMS);
        pn_buf_printf(b, "%s\n", params);
        rule(b, i == m->nlayers - 1 ? '=' : '_');
    }
    if (m->nlayers == 0)
        rule(b, '=');
    {
        char trainable[32], fixed[32];
        group_thousands(m->nparams + m->state_size, params, sizeof params);
        group_thousands(m->nparams, trainable, sizeof trainable);
        group_thousands(m->state_size, fixed, sizeof fixed);
        pn_buf_printf(b, "Total params: %s\nTrainable params: %s\nNon-trainable params: %s\n", params,
                      trainable, fixed);
    }
    rule(b, '_');
}

pneumo_status pneumo_model_summary_string(const pneumo_model *m, char *buf, size_t size, size_t *needed)
{
    pn_buf b;
    if (!m)
        return pn_error(PNEUMO_ERR_INVALID_ARG, "pneumo_model_summary_string: model is NULL");
    if (!buf && size)
        return pn_error(PNEUMO_ERR_INVALID_ARG, "pneumo_model_summary_string: buf is NULL but size is %zu",
                        size);
    pn_buf_init(&b);
    build(m, &b);
    return pn_buf_export(&b, buf, size, needed, "model summary");
}

pneumo_status pneumo_model_summary(const pneumo_model *m, pneumo_write_fn write, void *user)
{
    pn_buf b;
    pneumo_status st = PNEUMO_OK;
    if (!m || !write)
        return pn_error(PNEUMO_ERR_INVALID_ARG, "pneumo_model_summary: %s is NULL", m ? "write" : "model");
    pn_buf_init(&b);
    build(m, &b);
    if (b.failed)
        st = pn_error_nomem("model summary", 0);
    else if ((st = write(user, b.data, b.len)) != PNEUMO_OK)
        st = pn_error(st, "pneumo_model_summary: the write callback failed (%s)", pneumo_strerror(st));
    pn_buf_free(&b);
    return st;
}
