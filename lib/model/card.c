/* The model card: class names, preprocessing, operating threshold and
 * provenance (pneumo/model_info.h), and its JSON form in model files. */
#include <ctype.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "core/error.h"
#include "model/model.h"

static const char *const default_names[2] = {"NORMAL", "PNEUMONIA"};

void pn_card_init(pn_card *c)
{
    memset(c, 0, sizeof *c);
    for (int i = 0; i < 2; i++)
        snprintf(c->class_names[i], sizeof c->class_names[i], "%s", default_names[i]);
    c->resample = PNEUMO_RESAMPLE_NEAREST;
    c->rescale = (float)(1.0 / 255.0);
    c->threshold = 0.5f;
    c->temperature = 1.0f;
    c->epochs = -1;
    c->class_counts[0] = c->class_counts[1] = -1;
    c->val_loss = c->val_accuracy = c->val_auc = NAN;
}

void pneumo_preprocessing_default(pneumo_preprocessing *p)
{
    if (!p)
        return;
    memset(p, 0, sizeof *p);
    p->size = sizeof *p;
    p->color_mode = PNEUMO_COLOR_GRAYSCALE;
    p->resample = PNEUMO_RESAMPLE_NEAREST;
    p->rescale = (float)(1.0 / 255.0);
}

void pneumo_provenance_default(pneumo_provenance *p)
{
    if (!p)
        return;
    memset(p, 0, sizeof *p);
    p->size = sizeof *p;
    p->epochs = -1;
    p->class_counts[0] = p->class_counts[1] = -1;
    p->val_loss = p->val_accuracy = p->val_auc = NAN;
}

static int reserved_zero(const uint32_t *r, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (r[i])
            return 0;
    return 1;
}

pneumo_status pneumo_model_preprocessing(const pneumo_model *m, pneumo_preprocessing *out)
{
    const char *fn = "pneumo_model_preprocessing";
    if (!m || !out)
        return pn_error(PNEUMO_ERR_INVALID_ARG, "%s: %s is NULL", fn, m ? "out" : "model");
    if (out->size != sizeof *out)
        return pn_error(PNEUMO_ERR_INVALID_ARG,
                        "%s: out->size is %u, expected %zu (use pneumo_preprocessing_default)", fn, out->size,
                        sizeof *out);
    pneumo_preprocessing_default(out);
    out->height = m->input.h;
    out->width = m->input.w;
    out->resample = m->card.resample;
    out->rescale = m->card.rescale;
    return PNEUMO_OK;
}

pneumo_status pneumo_model_set_preprocessing(pneumo_model *m, const pneumo_preprocessing *p)
{
    const char *fn = "pneumo_model_set_preprocessing";
    if (!m || !p)
        return pn_error(PNEUMO_ERR_INVALID_ARG, "%s: %s is NULL", fn, m ? "preprocessing" : "model");
    if (p->size != sizeof *p)
        return pn_error(PNEUMO_ERR_INVALID_ARG,
                        "%s: size is %u, expected %zu (use pneumo_preprocessing_default)", fn, p->size,
                        sizeof *p);
    if (!reserved_zero(p->reserved, sizeof p->reserved / sizeof p->reserved[0]))
        return pn_error(PNEUMO_ERR_INVALID_ARG, "%s: reserved fields must be zero", fn);
    if ((p->height && p->height != m->input.h) || (p->width && p->width != m->input.w))
        return pn_error(PNEUMO_ERR_INVALID_ARG,
                        "%s: height x width %d x %d differs from the model input %d x %d", fn, p->height,
                        p->width, m->input.h, m->input.w);
    if (p->color_mode != PNEUMO_COLOR_GRAYSCALE)
        return pn_error(PNEUMO_ERR_UNSUPPORTED, "%s: color_mode %d (only grayscale, 0, is implemented)", fn,
                        p->color_mode);
    if (m->input.c != 1)
        return pn_error(PNEUMO_ERR_STATE,
                        "%s: grayscale preprocessing needs a one-channel input, the model has %d", fn,
                        m->input.c);
    if (p->resample != PNEUMO_RESAMPLE_NEAREST && p->resample != PNEUMO_RESAMPLE_BILINEAR)
        return pn_error(PNEUMO_ERR_INVALID_ARG, "%s: resample %d is not a pneumo_resample", fn, p->resample);
    if (!(p->rescale > 0.0f && p->rescale < 1e30f))
        return pn_error(PNEUMO_ERR_INVALID_ARG, "%s: rescale %g must be finite and > 0", fn,
                        (double)p->rescale);
    m->card.resample = p->resample;
    m->card.rescale = p->rescale;
    return PNEUMO_OK;
}

int32_t pneumo_model_num_classes(const pneumo_model *m)
{
    if (!m || !m->nlayers)
        return 0;
    return pneumo_model_output_size(m) == 1 ? 2 : (int32_t)pneumo_model_output_size(m);
}

static int class_in_range(const pneumo_model *m, int32_t index)
{
    return index >= 0 && index <= 1 &&
           index < (pneumo_model_num_classes(m) ? pneumo_model_num_classes(m) : 2);
}

pneumo_status pneumo_model_class_name(const pneumo_model *m, int32_t index, char *buf, size_t size,
                                      size_t *needed)
{
    static const char *fn = "pneumo_model_class_name";
    if (!m)
        return pn_error(PNEUMO_ERR_INVALID_ARG, "%s: model is NULL", fn);
    if (!class_in_range(m, index))
        return pn_error(PNEUMO_ERR_INVALID_ARG, "%s: class %d outside 0..1", fn, index);
    return pn_string_out(fn, m->card.class_names[index], "", buf, size, needed);
}

/* A class name: 1..PNEUMO_CLASS_NAME_MAX bytes of valid UTF-8 without
 * control characters. */
/* 1 if `s` is a valid class name, 0 if not, -1 if checking it ran out of
 * memory (the UTF-8 check goes through a pn_buf). */
static int name_ok(const char *s)
{
    size_t n;
    pn_buf b;
    int ok;
    if (!s)
        return 0;
    n = strlen(s);
    if (n == 0 || n > PNEUMO_CLASS_NAME_MAX)
        return 0;
    for (size_t i = 0; i < n; i++)
        if ((unsigned char)s[i] < 0x20 || s[i] == 0x7f)
            return 0;
    pn_buf_init(&b);
    pn_buf_json_string(&b, s); /* fails on invalid UTF-8 */
    ok = b.failed == PN_BUF_OK ? 1 : b.failed == PN_BUF_NOMEM ? -1 : 0;
    pn_buf_free(&b);
    return ok;
}

pneumo_status pneumo_model_set_class_names(pneumo_model *m, int32_t count, const char *const *names)
{
    const char *fn = "pneumo_model_set_class_names";
    if (!m || !names)
        return pn_error(PNEUMO_ERR_INVALID_ARG, "%s: %s is NULL", fn, m ? "names" : "model");
    if (count != 2 || (pneumo_model_num_classes(m) && pneumo_model_num_classes(m) != 2))
        return pn_error(PNEUMO_ERR_INVALID_ARG, "%s: %d names given; the model tells %d classes apart", fn,
                        count, pneumo_model_num_classes(m) ? pneumo_model_num_classes(m) : 2);
    for (int32_t i = 0; i < count; i++) {
        int ok = name_ok(names[i]);
        if (ok < 0)
            return pn_error_nomem(fn, strlen(names[i]) * 6 + 3);
        if (!ok)
            return pn_error(PNEUMO_ERR_INVALID_ARG,
                            "%s: name %d must be 1..%d bytes without control characters", fn, i,
                            PNEUMO_CLASS_NAME_MAX);
    }
    for (int32_t i = 0; i < count; i++)
        snprintf(m->card.class_names[i], sizeof m->card.class_names[i], "%s", names[i]);
    return PNEUMO_OK;
}

float pneumo_model_threshold(const pneumo_model *m) { return m ? m->card.threshold : 0.5f; }

pneumo_status pneumo_model_set_threshold(pneumo_model *m, float threshold)
{
    if (!m)
        return pn_error(PNEUMO_ERR_INVALID_ARG, "pneumo_model_set_threshold: model is NULL");
    if (!(threshold > 0.0f && threshold < 1.0f))
        return pn_error(PNEUMO_ERR_INVALID_ARG, "pneumo_model_set_threshold: %g is outside (0, 1)",
                        (double)threshold);
    m->card.threshold = threshold;
    return PNEUMO_OK;
}

float pneumo_model_temperature(const pneumo_model *m) { return m ? m->card.temperature : 1.0f; }

pneumo_status pneumo_model_set_temperature(pneumo_model *m, float temperature)
{
    const char *fn = "pneumo_model_set_temperature";
    if (!m)
        return pn_error(PNEUMO_ERR_INVALID_ARG, "%s: model is NULL", fn);
    if (!(temperature >= PNEUMO_TEMPERATURE_MIN && temperature <= PNEUMO_TEMPERATURE_MAX))
        return pn_error(PNEUMO_ERR_INVALID_ARG, "%s: %g is outside [%g, %g]", fn, (double)temperature,
                        (double)PNEUMO_TEMPERATURE_MIN, (double)PNEUMO_TEMPERATURE_MAX);
    if (!pn_model_sigmoid_head(m))
        return pn_error(PNEUMO_ERR_STATE, "%s: temperature scaling needs a model ending in one sigmoid unit",
                        fn);
    m->card.temperature = temperature;
    return PNEUMO_OK;
}

/* Text for the training settings: no control characters but newline and tab. */
static int settings_ok(const char *s)
{
    for (; *s; s++)
        if ((unsigned char)*s < 0x20 && *s != '\n' && *s != '\t')
            return 0;
    return 1;
}

pneumo_status pneumo_model_set_training_settings(pneumo_model *m, const char *text)
{
    const char *fn = "pneumo_model_set_training_settings";
    if (!m || !text)
        return pn_error(PNEUMO_ERR_INVALID_ARG, "%s: model and text must not be NULL", fn);
    if (strlen(text) > PNEUMO_TRAINING_SETTINGS_MAX)
        return pn_error(PNEUMO_ERR_INVALID_ARG, "%s: %zu bytes, more than the %d allowed", fn, strlen(text),
                        PNEUMO_TRAINING_SETTINGS_MAX);
    if (!settings_ok(text))
        return pn_error(PNEUMO_ERR_INVALID_ARG, "%s: the text holds a control character", fn);
    snprintf(m->card.training_settings, sizeof m->card.training_settings, "%s", text);
    return PNEUMO_OK;
}

pneumo_status pneumo_model_training_settings(const pneumo_model *m, char *buf, size_t size, size_t *needed)
{
    static const char *fn = "pneumo_model_training_settings";
    if (!m)
        return pn_error(PNEUMO_ERR_INVALID_ARG, "%s: model is NULL", fn);
    return pn_string_out(fn, m->card.training_settings, "", buf, size, needed);
}

pneumo_status pneumo_model_provenance(const pneumo_model *m, pneumo_provenance *out)
{
    const char *fn = "pneumo_model_provenance";
    if (!m || !out)
        return pn_error(PNEUMO_ERR_INVALID_ARG, "%s: %s is NULL", fn, m ? "out" : "model");
    if (out->size != sizeof *out)
        return pn_error(PNEUMO_ERR_INVALID_ARG,
                        "%s: out->size is %u, expected %zu (use pneumo_provenance_default)", fn, out->size,
                        sizeof *out);
    pneumo_provenance_default(out);
    out->epochs = m->card.epochs;
    out->seed = m->seed;
    out->class_counts[0] = m->card.class_counts[0];
    out->class_counts[1] = m->card.class_counts[1];
    out->val_loss = m->card.val_loss;
    out->val_accuracy = m->card.val_accuracy;
    out->val_auc = m->card.val_auc;
    snprintf(out->library_version, sizeof out->library_version, "%s", m->card.library_version);
    return PNEUMO_OK;
}

pneumo_status pneumo_model_set_provenance(pneumo_model *m, const pneumo_provenance *p)
{
    const char *fn = "pneumo_model_set_provenance";
    if (!m || !p)
        return pn_error(PNEUMO_ERR_INVALID_ARG, "%s: %s is NULL", fn, m ? "provenance" : "model");
    if (p->size != sizeof *p)
        return pn_error(PNEUMO_ERR_INVALID_ARG,
                        "%s: size is %u, expected %zu (use pneumo_provenance_default)", fn, p->size,
                        sizeof *p);
    if (!reserved_zero(p->reserved, sizeof p->reserved / sizeof p->reserved[0]))
        return pn_error(PNEUMO_ERR_INVALID_ARG, "%s: reserved fields must be zero", fn);
    if (p->epochs < -1 || p->class_counts[0] < -1 || p->class_counts[1] < -1)
        return pn_error(PNEUMO_ERR_INVALID_ARG, "%s: epochs and class counts must be >= 0 (or -1: unknown)",
                        fn);
    m->card.epochs = p->epochs;
    m->card.class_counts[0] = p->class_counts[0];
    m->card.class_counts[1] = p->class_counts[1];
    m->card.val_loss = p->val_loss;
    m->card.val_accuracy = p->val_accuracy;
    m->card.val_auc = p->val_auc;
    return PNEUMO_OK;
}

/* ---- JSON ------------------------------------------------------------------ */

static void num_or_null(pn_buf *b, double v)
{
    if (isfinite(v))
        pn_buf_json_number(b, v);
    else
        pn_buf_append(b, "null", 4);
}

void pn_card_json(pn_buf *b, const pneumo_model *m, int with_model_facts)
{
    const pn_card *c = &m->card;
    pn_buf_append(b, "{\"class_names\":[", 16);
    pn_buf_json_string(b, c->class_names[0]);
    pn_buf_append(b, ",", 1);
    pn_buf_json_string(b, c->class_names[1]);
    pn_buf_printf(b,
                  "],\"preprocessing\":{\"height\":%d,\"width\":%d,\"color_mode\":\"grayscale\","
                  "\"resample\":\"%s\",\"rescale\":",
                  m->input.h, m->input.w, c->resample == PNEUMO_RESAMPLE_BILINEAR ? "bilinear" : "nearest");
    pn_buf_json_float(b, c->rescale);
    pn_buf_append(b, "},\"threshold\":", 14);
    pn_buf_json_float(b, c->threshold);
    pn_buf_append(b, ",\"temperature\":", 15);
    pn_buf_json_float(b, c->temperature);
    pn_buf_printf(b, ",\"provenance\":{\"library_version\":");
    pn_buf_json_string(b, with_model_facts ? c->library_version : PNEUMO_VERSION_STRING);
    pn_buf_printf(b, ",\"seed\":%llu,\"epochs\":%d,\"class_counts\":[%lld,%lld],\"val_loss\":",
                  (unsigned long long)m->seed, c->epochs, (long long)c->class_counts[0],
                  (long long)c->class_counts[1]);
    num_or_null(b, c->val_loss);
    pn_buf_append(b, ",\"val_accuracy\":", 16);
    num_or_null(b, c->val_accuracy);
    pn_buf_append(b, ",\"val_auc\":", 11);
    num_or_null(b, c->val_auc);
    if (c->training_settings[0]) {
        pn_buf_printf(b, ",\"training_settings\":");
        pn_buf_json_string(b, c->training_settings);
    }
    pn_buf_append(b, "}", 1);
    if (with_model_facts)
        pn_buf_printf(b,
                      ",\"input_shape\":[%d,%d,%d],\"num_params\":%lld,\"train_steps\":%llu,"
                      "\"kernel_isa\":\"%s\"",
                      m->input.h, m->input.w, m->input.c, (long long)m->nparams,
                      (unsigned long long)m->train_steps, pneumo_kernel_isa());
    pn_buf_append(b, "}", 1);
}

pneumo_status pneumo_model_info_json(const pneumo_model *m, char *buf, size_t size, size_t *needed)
{
    pn_buf b;
    if (!m)
        return pn_error(PNEUMO_ERR_INVALID_ARG, "pneumo_model_info_json: model is NULL");
    if (!buf && size)
        return pn_error(PNEUMO_ERR_INVALID_ARG, "pneumo_model_info_json: buf is NULL with size %zu", size);
    pn_buf_init(&b);
    pn_card_json(&b, m, 1);
    return pn_buf_export(&b, buf, size, needed, "pneumo_model_info_json");
}

static pneumo_status card_error(const char *label, const char *what)
{
    return pn_error(PNEUMO_ERR_FORMAT, "%s: model_card: %s", label, what);
}

/* A number field that may be null or absent (unknown: NaN). */
static int get_metric(const pn_json *obj, const char *key, double *out)
{
    const pn_json *v = pn_json_get(obj, key);
    *out = NAN;
    if (!v || v->type == PN_JSON_NULL)
        return 1;
    if (v->type != PN_JSON_NUMBER)
        return 0;
    *out = v->number;
    return 1;
}

pneumo_status pn_card_parse(pneumo_model *m, const char *text, const char *label)
{
    pn_json *j = NULL;
    const pn_json *names, *pre, *prov, *counts;
    pn_card c;
    double v;
    int64_t i64;
    const char *s;
    pneumo_status st;
    if ((st = pn_json_parse(text, strlen(text), label, &j)) != PNEUMO_OK)
        return pn_error_prefix("model_card");
    c = m->card;
    names = pn_json_get(j, "class_names");
    if (!names || names->type != PN_JSON_ARRAY || names->count != 2) {
        st = card_error(label, "needs \"class_names\" with 2 strings");
        goto done;
    }
    for (size_t i = 0; i < 2; i++) {
        const pn_json *item = pn_json_item(names, i);
        const char *name = item->type == PN_JSON_STRING ? item->string : NULL;
        int ok = name_ok(name);
        if (ok < 0) {
            st = pn_error_nomem(label, strlen(name) * 6 + 3);
            goto done;
        }
        if (!ok) {
            st = card_error(label, "class names must be 1..63-byte strings without control characters");
            goto done;
        }
        snprintf(c.class_names[i], sizeof c.class_names[i], "%s", name);
    }
    pre = pn_json_get(j, "preprocessing");
    if (!pre) {
        st = card_error(label, "needs a \"preprocessing\" object");
        goto done;
    }
    if (!pn_json_get_int64(pre, "height", &i64) || i64 != m->input.h ||
        !pn_json_get_int64(pre, "width", &i64) || i64 != m->input.w) {
        st = card_error(label, "preprocessing height/width differ from the architecture's input_shape");
        goto done;
    }
    s = pn_json_get_string(pre, "color_mode");
    if (!s || strcmp(s, "grayscale") != 0) {
        st = card_error(label, "preprocessing color_mode must be \"grayscale\"");
        goto done;
    }
    s = pn_json_get_string(pre, "resample");
    if (s && strcmp(s, "nearest") == 0)
        c.resample = PNEUMO_RESAMPLE_NEAREST;
    else if (s && strcmp(s, "bilinear") == 0)
        c.resample = PNEUMO_RESAMPLE_BILINEAR;
    else {
        st = card_error(label, "preprocessing resample must be \"nearest\" or \"bilinear\"");
        goto done;
    }
    if (!pn_json_get_number(pre, "rescale", &v) || !(v > 0.0 && v < 1e30)) {
        st = card_error(label, "preprocessing rescale must be a number > 0");
        goto done;
    }
    c.rescale = (float)v;
    if (!pn_json_get_number(j, "threshold", &v) || !(v > 0.0 && v < 1.0)) {
        st = card_error(label, "threshold must be a number in (0, 1)");
        goto done;
    }
    c.threshold = (float)v;
    /* absent in files written before temperature scaling: 1 */
    if (pn_json_get(j, "temperature")) {
        if (!pn_json_get_number(j, "temperature", &v) ||
            !(v >= PNEUMO_TEMPERATURE_MIN && v <= PNEUMO_TEMPERATURE_MAX)) {
            st = card_error(label, "temperature must be a number in [0.01, 100]");
            goto done;
        }
        c.temperature = (float)v;
    }
    prov = pn_json_get(j, "provenance");
    if (!prov) {
        st = card_error(label, "needs a \"provenance\" object");
        goto done;
    }
    s = pn_json_get_string(prov, "library_version");
    if (!s || strlen(s) >= sizeof c.library_version) {
        st = card_error(label, "provenance library_version must be a short string");
        goto done;
    }
    snprintf(c.library_version, sizeof c.library_version, "%s", s);
    if (!pn_json_get_int64(prov, "epochs", &i64) || i64 < -1 || i64 > INT32_MAX) {
        st = card_error(label, "provenance epochs must be an integer >= -1");
        goto done;
    }
    c.epochs = (int32_t)i64;
    counts = pn_json_get(prov, "class_counts");
    if (!counts || counts->type != PN_JSON_ARRAY ||
        !pn_json_int64(pn_json_item(counts, 0), &c.class_counts[0]) ||
        !pn_json_int64(pn_json_item(counts, 1), &c.class_counts[1]) || pn_json_item(counts, 2) ||
        c.class_counts[0] < -1 || c.class_counts[1] < -1) {
        st = card_error(label, "provenance class_counts must be 2 integers >= -1");
        goto done;
    }
    if (!get_metric(prov, "val_loss", &c.val_loss) || !get_metric(prov, "val_accuracy", &c.val_accuracy) ||
        !get_metric(prov, "val_auc", &c.val_auc)) {
        st = card_error(label, "provenance val_loss, val_accuracy and val_auc must be numbers or null");
        goto done;
    }
    c.training_settings[0] = '\0';
    if (pn_json_get(prov, "training_settings")) {
        s = pn_json_get_string(prov, "training_settings");
        if (!s || strlen(s) > PNEUMO_TRAINING_SETTINGS_MAX || !settings_ok(s)) {
            st = card_error(label, "provenance training_settings must be a string of at most 4095 bytes "
                                   "without control characters but newline and tab");
            goto done;
        }
        snprintf(c.training_settings, sizeof c.training_settings, "%s", s);
    }
    m->card = c;
done:
    pn_json_free(j);
    return st;
}

/* ---- the article's sentence ---------------------------------------------- */

/* The display form of a class name (pneumo_model_class_label). */
static void display_name(const char *src, char *name, size_t size)
{
    int has_lower = 0;
    snprintf(name, size, "%s", src);
    for (const char *q = src; *q; q++)
        has_lower |= islower((unsigned char)*q) != 0;
    if (!has_lower)
        for (size_t i = 1; name[i]; i++)
            name[i] = (char)tolower((unsigned char)name[i]);
}

pneumo_status pneumo_model_class_label(const pneumo_model *m, int32_t index, char *buf, size_t size,
                                       size_t *needed)
{
    const char *fn = "pneumo_model_class_label";
    char name[PNEUMO_CLASS_NAME_MAX + 1];
    pn_buf b;
    if (!m)
        return pn_error(PNEUMO_ERR_INVALID_ARG, "%s: model is NULL", fn);
    if (!class_in_range(m, index))
        return pn_error(PNEUMO_ERR_INVALID_ARG, "%s: class %d outside 0..1", fn, index);
    if (!buf && size)
        return pn_error(PNEUMO_ERR_INVALID_ARG, "%s: buf is NULL with size %zu", fn, size);
    display_name(m->card.class_names[index], name, sizeof name);
    pn_buf_init(&b);
    pn_buf_append(&b, name, strlen(name));
    return pn_buf_export(&b, buf, size, needed, fn);
}

pneumo_status pneumo_model_diagnosis_sentence(const pneumo_model *m, float p, char *buf, size_t size,
                                              size_t *needed, int32_t *label)
{
    const char *fn = "pneumo_model_diagnosis_sentence";
    char name[PNEUMO_CLASS_NAME_MAX + 1];
    int32_t cls;
    double pct;
    pn_buf b;
    pneumo_status st;
    if (!m)
        return pn_error(PNEUMO_ERR_INVALID_ARG, "%s: model is NULL", fn);
    if (!(p >= 0.0f && p <= 1.0f))
        return pn_error(PNEUMO_ERR_INVALID_ARG, "%s: probability %g is outside [0, 1]", fn, (double)p);
    if (!buf && size)
        return pn_error(PNEUMO_ERR_INVALID_ARG, "%s: buf is NULL with size %zu", fn, size);
    cls = p >= m->card.threshold ? 1 : 0;
    pct = cls ? 100.0 * (double)p : 100.0 * (1.0 - (double)p);
    display_name(m->card.class_names[cls], name, sizeof name);
    pn_buf_init(&b);
    pn_buf_printf(&b, "I am %.2f%% percent confirmed that this is a %s case", pct, name);
    st = pn_buf_export(&b, buf, size, needed, fn);
    if (st == PNEUMO_OK && label)
        *label = cls;
    return st;
}
