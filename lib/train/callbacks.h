/* Keras' EarlyStopping and ReduceLROnPlateau as small state machines, fed one
 * monitored value per epoch. Semantics follow tf.keras (2.x) callbacks.py. */
#ifndef PN_TRAIN_CALLBACKS_H
#define PN_TRAIN_CALLBACKS_H

#include <stdint.h>

typedef enum pn_mode { PN_MODE_MIN = 0, PN_MODE_MAX = 1 } pn_mode;

typedef struct pn_early_stopping {
    /* settings */
    pn_mode mode;
    double min_delta; /* >= 0; an improvement must beat best by more than this */
    int32_t patience;
    /* state */
    double best;
    int32_t wait;
    int64_t best_epoch;
    int64_t stopped_epoch; /* -1 while running */
} pn_early_stopping;

typedef struct pn_reduce_lr {
    pn_mode mode;
    double factor; /* new lr = lr * factor, in (0, 1) */
    double min_delta;
    int32_t patience;
    int32_t cooldown;
    double min_lr;
    double best;
    int32_t wait;
    int32_t cooldown_counter;
} pn_reduce_lr;

void pn_early_stopping_reset(pn_early_stopping *es);
/* Feed epoch `epoch` (0-based); returns 1 if training should stop after it.
 * *improved receives whether this epoch is the new best (for restore_best_weights). */
int pn_early_stopping_update(pn_early_stopping *es, int64_t epoch, double current, int *improved);

void pn_reduce_lr_reset(pn_reduce_lr *r);
/* Feed the monitored value; returns the learning rate to use from now on
 * (`lr` unchanged, or reduced). */
double pn_reduce_lr_update(pn_reduce_lr *r, double current, double lr);

#endif
