#ifndef PN_TRAIN_FIT_INTERNAL_H
#define PN_TRAIN_FIT_INTERNAL_H

#include "pneumo/train.h"

struct pneumo_history {
    int32_t n;
    size_t cap, timing_cap;
    pneumo_epoch_record *rec;
    pneumo_epoch_timing *timing; /* per record; NaN figures until pn_history_set_timing */
    int32_t stopped_early;
};

pneumo_status pn_history_new(pneumo_history **out);
pneumo_status pn_history_append(pneumo_history *h, const pneumo_epoch_record *r);
/* The timing of the last record appended. */
void pn_history_set_timing(pneumo_history *h, const pneumo_epoch_timing *t);

/* Loss (unweighted mean BCE) and accuracy of a dataset in index order; probs
 * and labels (may be NULL) receive one value per image. With dp (may be NULL),
 * sharded over its ranks and gathered: every rank must call it and gets the
 * whole result. */
pneumo_status pn_evaluate_dataset(pneumo_model *m, pneumo_dataset *ds, int32_t batch_size,
                                  const pneumo_data_parallel *dp, double *loss, double *accuracy,
                                  float *probs, float *labels);

/* Read the checkpoint at `path` as pneumo_model_fit_resume() does (model,
 * optimizer and fit_state) and free it again: the fuzz target's entry. */
pneumo_status pn_fit_check_checkpoint(const char *path);

#endif
