/* EarlyStopping and ReduceLROnPlateau with tf.keras' exact rules. */
#include "train/callbacks.h"

#include <math.h>

static int better(pn_mode mode, double current, double best, double min_delta)
{
    /* Keras: min mode np.less(current - (-min_delta)... ) i.e. current + min_delta < best */
    return mode == PN_MODE_MIN ? current + min_delta < best : current - min_delta > best;
}

void pn_early_stopping_reset(pn_early_stopping *es)
{
    es->best = es->mode == PN_MODE_MIN ? INFINITY : -INFINITY;
    es->wait = 0;
    es->best_epoch = -1;
    es->stopped_epoch = -1;
}

int pn_early_stopping_update(pn_early_stopping *es, int64_t epoch, double current, int *improved)
{
    *improved = 0;
    es->wait++;
    if (better(es->mode, current, es->best, es->min_delta)) {
        es->best = current;
        es->best_epoch = epoch;
        es->wait = 0;
        *improved = 1;
    }
    /* Keras only stops after the first epoch (epoch > 0). */
    if (es->wait >= es->patience && epoch > 0) {
        es->stopped_epoch = epoch;
        return 1;
    }
    return 0;
}

void pn_reduce_lr_reset(pn_reduce_lr *r)
{
    r->best = r->mode == PN_MODE_MIN ? INFINITY : -INFINITY;
    r->wait = 0;
    r->cooldown_counter = 0;
}

double pn_reduce_lr_update(pn_reduce_lr *r, double current, double lr)
{
    if (r->cooldown_counter > 0) {
        r->cooldown_counter--;
        r->wait = 0;
    }
    /* Keras ReduceLROnPlateau: np.less(current, best - min_delta) */
    if (r->mode == PN_MODE_MIN ? current < r->best - r->min_delta : current > r->best + r->min_delta) {
        r->best = current;
        r->wait = 0;
    } else if (!(r->cooldown_counter > 0)) {
        r->wait++;
        if (r->wait >= r->patience) {
            /* Keras compares with float32(min_lr) */
            if (lr > (double)(float)r->min_lr) {
                double new_lr = lr * r->factor;
                lr = new_lr > r->min_lr ? new_lr : r->min_lr;
                r->cooldown_counter = r->cooldown;
                r->wait = 0;
            }
        }
    }
    return lr;
}
