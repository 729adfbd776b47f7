/* Keras-style progress lines for pneumo_model_fit (only when the caller gives a
 * write callback). Layout follows tf.keras' Progbar: "262/262 [======] - 13s
 * 50ms/step - loss: 0.4805 - accuracy: 0.7178 - val_loss: ...". Each function
 * hands its text to the callback in one call and returns the callback's
 * status (with a message naming the progress output when it fails). */
#ifndef PN_TRAIN_PROGRESS_H
#define PN_TRAIN_PROGRESS_H

#include "pneumo/train.h"

typedef struct pn_progress {
    pneumo_write_fn write;
    void *user;
} pn_progress;

pneumo_status pn_progress_epoch_begin(const pn_progress *p, int32_t epoch, int32_t epochs);
/* Redraws the bar line (terminal mode). */
pneumo_status pn_progress_batch(const pn_progress *p, int64_t done, int64_t total, double seconds,
                                double loss, double accuracy);
/* The epoch's closing line; `bar` says whether a bar line is being replaced. */
pneumo_status pn_progress_epoch_end(const pn_progress *p, const pneumo_epoch_record *r, int64_t batches,
                                    int has_val, int bar);
/* Where the epoch's time went (pneumo_fit_options.progress_timing). */
pneumo_status pn_progress_timing(const pn_progress *p, const pneumo_epoch_timing *t);
pneumo_status pn_progress_lr(const pn_progress *p, int32_t epoch, double lr);
pneumo_status pn_progress_early_stop(const pn_progress *p, int32_t epoch);

/* Shortest "%g" text that reads back as the same double (Python's repr). */
void pn_format_shortest(char *buf, size_t size, double v);

#endif
