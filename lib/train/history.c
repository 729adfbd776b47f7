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
    if (!pn_array_reserve(&h->rec, &h->cap, (size_t)h->n + 1, sizeof *h->rec, INT32_MAX))
        return pn_error_nomem("history", ((size_t)h->n + 1) * sizeof *h->rec);
    h->rec[h->n++] = *r;
    return PNEUMO_OK;
}

void pneumo_history_destroy(pneumo_history *h)
{
    if (!h)
        return;
    free(h->rec);
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
