#include "train/progress.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/error.h"

void pn_format_shortest(char *buf, size_t size, double v)
{
    for (int prec = 1; prec <= 17; prec++) {
        snprintf(buf, size, "%.*g", prec, v);
        if (strtod(buf, NULL) == v)
            break;
    }
    /* Python prints 0.001 as 0.001 and 1.0 as 1.0: keep a decimal point */
    if (!strpbrk(buf, ".en") && strlen(buf) + 2 < size)
        strcat(buf, ".0");
}

/* One progress line, built up and then written in one callback call. */
typedef struct line {
    char s[512];
    size_t n;
} line;

static void put(line *l, const char *fmt, ...) PN_PRINTF(2, 3);
static void put(line *l, const char *fmt, ...)
{
    va_list ap;
    int k;
    if (l->n >= sizeof l->s - 1)
        return;
    va_start(ap, fmt);
    k = vsnprintf(l->s + l->n, sizeof l->s - l->n, fmt, ap);
    va_end(ap);
    if (k > 0)
        l->n = l->n + (size_t)k < sizeof l->s ? l->n + (size_t)k : sizeof l->s - 1;
}

static pneumo_status send(const pn_progress *p, const line *l)
{
    pneumo_status st = p->write(p->user, l->s, l->n);
    if (st != PNEUMO_OK)
        return pn_error(st, "pneumo_model_fit: the progress write callback failed (%s)", pneumo_strerror(st));
    return PNEUMO_OK;
}

pneumo_status pn_progress_epoch_begin(const pn_progress *p, int32_t epoch, int32_t epochs)
{
    line l = {.n = 0};
    put(&l, "Epoch %d/%d\n", epoch + 1, epochs);
    return send(p, &l);
}

static void bar(line *l, int64_t done, int64_t total)
{
    int digits = (int)log10((double)(total > 0 ? total : 1)) + 1;
    int width = 30, filled = total > 0 ? (int)(width * (double)done / (double)total) : width;
    put(l, "%*lld/%lld [", digits, (long long)done, (long long)total);
    for (int i = 0; i < width; i++)
        put(l, "%c", i < filled - 1 ? '=' : i == filled - 1 ? (done < total ? '>' : '=') : '.');
    put(l, "]");
}

static void duration(line *l, double s)
{
    if (s > 3600)
        put(l, "%d:%02d:%02d", (int)(s / 3600), (int)fmod(s / 60, 60), (int)fmod(s, 60));
    else if (s > 60)
        put(l, "%d:%02d", (int)(s / 60), (int)fmod(s, 60));
    else
        put(l, "%ds", (int)s);
}

pneumo_status pn_progress_batch(const pn_progress *p, int64_t done, int64_t total, double seconds,
                                double loss, double accuracy)
{
    line l = {.n = 0};
    put(&l, "\r");
    bar(&l, done, total);
    if (done < total) {
        put(&l, " - ETA: ");
        duration(&l, seconds / (double)done * (double)(total - done));
    }
    put(&l, " - loss: %.4f - accuracy: %.4f", loss, accuracy);
    return send(p, &l);
}

static void per_step(line *l, double s)
{
    if (s >= 1)
        put(l, "%.0fs/step", s);
    else if (s >= 1e-3)
        put(l, "%.0fms/step", s * 1e3);
    else
        put(l, "%.0fus/step", s * 1e6);
}

pneumo_status pn_progress_epoch_end(const pn_progress *p, const pneumo_epoch_record *r, int64_t batches,
                                    int has_val, int with_bar)
{
    line l = {.n = 0};
    if (with_bar)
        put(&l, "\r");
    bar(&l, batches, batches);
    put(&l, " - %.0fs ", r->seconds);
    per_step(&l, batches ? r->seconds / (double)batches : 0.0);
    put(&l, " - loss: %.4f - accuracy: %.4f", r->loss, r->accuracy);
    if (has_val)
        put(&l, " - val_loss: %.4f - val_accuracy: %.4f", r->val_loss, r->val_accuracy);
    put(&l, " - lr: %.4g\n", r->lr);
    return send(p, &l);
}

static void phase(line *l, const char *name, double s, double total)
{
    put(l, " - %s %.2fs (%.1f%%)", name, s, total > 0 ? 100.0 * s / total : 0.0);
}

pneumo_status pn_progress_timing(const pn_progress *p, const pneumo_epoch_timing *t)
{
    line l = {.n = 0};
    put(&l, "Epoch %d time %.2fs", t->epoch + 1, t->seconds);
    phase(&l, "train", t->train_seconds, t->seconds);
    phase(&l, "data wait", t->data_wait_seconds, t->seconds);
    phase(&l, "val", t->val_seconds, t->seconds);
    phase(&l, "val data wait", t->val_data_wait_seconds, t->seconds);
    phase(&l, "callbacks", t->callback_seconds, t->seconds);
    phase(&l, "other", t->other_seconds, t->seconds);
    put(&l, " - loader CPU %.2fs, val loader CPU %.2fs\n", t->loader_cpu_seconds, t->val_loader_cpu_seconds);
    return send(p, &l);
}

pneumo_status pn_progress_lr(const pn_progress *p, int32_t epoch, double lr)
{
    char text[40];
    line l = {.n = 0};
    /* Keras prints the float32 learning rate as a Python float */
    pn_format_shortest(text, sizeof text, (double)(float)lr);
    put(&l, "\nEpoch %d: ReduceLROnPlateau reducing learning rate to %s.\n", epoch + 1, text);
    return send(p, &l);
}

pneumo_status pn_progress_early_stop(const pn_progress *p, int32_t epoch)
{
    line l = {.n = 0};
    put(&l, "Epoch %d: early stopping\n", epoch + 1);
    return send(p, &l);
}
