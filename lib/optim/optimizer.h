/* Internal layout of pneumo_optimizer and the update step used by training. */
#ifndef PN_OPTIM_OPTIMIZER_H
#define PN_OPTIM_OPTIMIZER_H

#include "kernels/kernels.h"
#include "layers/layer.h"
#include "pneumo/optim.h"

struct pneumo_optimizer {
    pneumo_optimizer_kind kind;
    pneumo_adam_params adam;
    pneumo_sgd_params sgd;
    float lr;
    int64_t iterations;

    /* State for one model's parameter arena: Adam m and v, or SGD velocity in m. */
    uint64_t model_id; /* 0 while unbound */
    int64_t size;
    float *m, *v;
};

/* Bind to (model_id, size) at the first step, allocating zeroed state; later
 * calls must name the same model and size. `model_desc` names the model in
 * errors. */
pneumo_status pn_optimizer_bind(pneumo_optimizer *opt, uint64_t model_id, int64_t size);

/* One update of w (size floats) from g; Adam's weight decay applies to the
 * kernels of the Conv2D and Dense layers among `layers` (ascending w_off). */
void pn_optimizer_step(pneumo_optimizer *opt, const pn_kernels *k, float *w, const float *g,
                       const pn_layer *layers, int32_t nlayers);

/* Validate hyper-parameters (used by create and by model loading). */
pneumo_status pn_adam_check(const pneumo_adam_params *p);
pneumo_status pn_sgd_check(const pneumo_sgd_params *p);

#endif
