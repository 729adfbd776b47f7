/* Keras-style progress lines for pneumo_model_fit (only when the caller gives a
 * stream). Layout follows tf.keras' Progbar: "262/262 [======] - 13s 50ms/step -
 * loss: 0.4805 - accuracy: 0.7178 - val_loss: ...". */
#ifndef PN_TRAIN_PROGRESS_H
#define PN_TRAIN_PROGRESS_H

#include <stdio.h>

#include "pneumo/train.h"

void pn_progress_epoch_begin(FILE *f, int32_t epoch, int32_t epochs);
/* Redraws the bar line (terminal mode). */
void pn_progress_batch(FILE *f, int64_t done, int64_t total, double seconds, double loss,
                       double accuracy);
/* The epoch's closing line; `bar` says whether a bar line is being replaced. */
void pn_progress_epoch_end(FILE *f, const pneumo_epoch_record *r, int64_t batches, int has_val,
                           int bar);
void pn_progress_lr(FILE *f, int32_t epoch, double lr);
void pn_progress_early_stop(FILE *f, int32_t epoch);

/* Shortest "%g" text that reads back as the same double (Python's repr). */
void pn_format_shortest(char *buf, size_t size, double v);

#endif
