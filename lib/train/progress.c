#include "train/progress.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

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

void pn_progress_epoch_begin(FILE *f, int32_t epoch, int32_t epochs)
{
    fprintf(f, "Epoch %d/%d\n", epoch + 1, epochs);
    fflush(f);
}

static void bar(FILE *f, int64_t done, int64_t total)
{
    int digits = (int)log10((double)(total > 0 ? total : 1)) + 1;
    int width = 30, filled = total > 0 ? (int)(width * (double)done / (double)total) : width;
    fprintf(f, "%*lld/%lld [", digits, (long long)done, (long long)total);
    for (int i = 0; i < width; i++)
        fputc(i < filled - 1 ? '=' : i == filled - 1 ? (done < total ? '>' : '=') : '.', f);
    fputc(']', f);
}

static void duration(FILE *f, double s)
{
    if (s > 3600)
        fprintf(f, "%d:%02d:%02d", (int)(s / 3600), (int)fmod(s / 60, 60), (int)fmod(s, 60));
    else if (s > 60)
        fprintf(f, "%d:%02d", (int)(s / 60), (int)fmod(s, 60));
    else
        fprintf(f, "%ds", (int)s);
}

void pn_progress_batch(FILE *f, int64_t done, int64_t total, double seconds, double loss,
                       double accuracy)
{
    fputc('\r', f);
    bar(f, done, total);
    if (done < total) {
        fputs(" - ETA: ", f);
        duration(f, seconds / (double)done * (double)(total - done));
    }
    fprintf(f, " - loss: %.4f - accuracy: %.4f", loss, accuracy);
    fflush(f);
}

static void per_step(FILE *f, double s)
{
    if (s >= 1)
        fprintf(f, "%.0fs/step", s);
    else if (s >= 1e-3)
        fprintf(f, "%.0fms/step", s * 1e3);
    else
        fprintf(f, "%.0fus/step", s * 1e6);
}

void pn_progress_epoch_end(FILE *f, const pneumo_epoch_record *r, int64_t batches, int has_val,
                           int with_bar)
{
    if (with_bar)
        fputc('\r', f);
    bar(f, batches, batches);
    fprintf(f, " - %.0fs ", r->seconds);
    per_step(f, batches ? r->seconds / (double)batches : 0.0);
    fprintf(f, " - loss: %.4f - accuracy: %.4f", r->loss, r->accuracy);
    if (has_val)
        fprintf(f, " - val_loss: %.4f - val_accuracy: %.4f", r->val_loss, r->val_accuracy);
    fprintf(f, " - lr: %.4g\n", r->lr);
    fflush(f);
}

void pn_progress_lr(FILE *f, int32_t epoch, double lr)
{
    char text[40];
    /* Keras prints the float32 learning rate as a Python float */
    pn_format_shortest(text, sizeof text, (double)(float)lr);
    fprintf(f, "\nEpoch %d: ReduceLROnPlateau reducing learning rate to %s.\n", epoch + 1, text);
    fflush(f);
}

void pn_progress_early_stop(FILE *f, int32_t epoch)
{
    fprintf(f, "Epoch %d: early stopping\n", epoch + 1);
    fflush(f);
}
