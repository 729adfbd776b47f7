/* Training history: one record per finished epoch, and its CSV form. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "core/alloc.h"
#include "core/buf.h"
#include "core/error.h"
#include "core/atomic_file.h"
#include "format/json.h"
#include "train/fit_internal.h"

pneumo_status pn_history_new(pneumo_history **out)
{
    *out = pn_calloc(1, sizeof **out);
    return *out ? PNEUMO_OK : pn_error_nomem("history", sizeof **out);
}

pneumo_status pn_history_append(pneumo_history *h, const pneumo_epoch_record *r)
{
    pneumo_epoch_timing *t;
    if (!pn_array_reserve(&h->rec, &h->cap, (size_t)h->n + 1, sizeof *h->rec, INT32_MAX) ||
        !pn_array_reserve(&h->timing, &h->timing_cap, (size_t)h->n + 1, sizeof *h->timing, INT32_MAX))
        return pn_error_nomem("history", ((size_t)h->n + 1) * (sizeof *h->rec + sizeof *h->timing));
    t = &h->timing[h->n];
    memset(t, 0, sizeof *t);
    t->size = sizeof *t;
    t->epoch = r->epoch;
    t->seconds = t->train_seconds = t->data_wait_seconds = t->val_seconds = t->val_data_wait_seconds =
        t->callback_seconds = t->other_seconds = t->loader_cpu_seconds = t->val_loader_cpu_seconds = NAN;
    h->rec[h->n++] = *r;
    return PNEUMO_OK;
}

void pn_history_set_timing(pneumo_history *h, const pneumo_epoch_timing *t)
{
    h->timing[h->n - 1] = *t;
    h->timing[h->n - 1].size = sizeof *t;
    h->timing[h->n - 1].epoch = h->rec[h->n - 1].epoch;
}

void pneumo_history_destroy(pneumo_history *h)
{
    if (!h)
        return;
    free(h->rec);
    free(h->timing);
    free(h);
}

int32_t pneumo_history_size(const pneumo_history *h) { return h ? h->n : 0; }

int32_t pneumo_history_stopped_early(const pneumo_history *h) { return h ? h->stopped_early : 0; }

pneumo_status pneumo_history_get(const pneumo_history *h, int32_t i, pneumo_epoch_record *out)
{
    if (!h || !out)
        return pn_error(PNEUMO_ERR_INVALID_ARG, "pneumo_history_get: %s is NULL", h ? "out" : "history");
    if (i < 0 || i >= h->n)
        return pn_error(PNEUMO_ERR_INVALID_ARG, "pneumo_history_get: epoch %d outside 0..%d", i, h->n - 1);
    *out = h->rec[i];
    return PNEUMO_OK;
}

pneumo_status pneumo_history_timing(const pneumo_history *h, int32_t i, pneumo_epoch_timing *out)
{
    if (!h || !out)
        return pn_error(PNEUMO_ERR_INVALID_ARG, "pneumo_history_timing: %s is NULL", h ? "out" : "history");
    if (out->size != sizeof *out)
        return pn_error(PNEUMO_ERR_INVALID_ARG, "pneumo_history_timing: out->size is %u, expected %zu",
                        out->size, sizeof *out);
    if (i < 0 || i >= h->n)
        return pn_error(PNEUMO_ERR_INVALID_ARG, "pneumo_history_timing: epoch %d outside 0..%d", i, h->n - 1);
    *out = h->timing[i];
    return PNEUMO_OK;
}

static void cell(pn_buf *b, double v)
{
    pn_buf_append(b, ",", 1);
    if (!isnan(v))
        pn_buf_json_number(b, v);
}

pneumo_status pneumo_history_save_csv(const pneumo_history *h, const char *path)
{
    pn_buf b;
    pneumo_status st;
    if (!h || !path)
        return pn_error(PNEUMO_ERR_INVALID_ARG, "pneumo_history_save_csv: %s is NULL",
                        h ? "path" : "history");
    pn_buf_init(&b);
    pn_buf_printf(&b, "epoch,accuracy,loss,lr,val_accuracy,val_loss,seconds\n");
    for (int32_t i = 0; i < h->n; i++) {
        const pneumo_epoch_record *r = &h->rec[i];
        pn_buf_printf(&b, "%d", r->epoch);
        cell(&b, r->accuracy);
        cell(&b, r->loss);
        cell(&b, (double)(float)r->lr);
        cell(&b, r->val_accuracy);
        cell(&b, r->val_loss);
        cell(&b, r->seconds);
        pn_buf_append(&b, "\n", 1);
    }
    if (b.failed) {
        pn_buf_free(&b);
        return pn_error_nomem("history CSV", 0);
    }
    st = pn_atomic_write(path, b.data, b.len);
    pn_buf_free(&b);
    return st;
}
