/* libpneumo — optimizers (Adam and SGD with momentum, Keras semantics).
 *
 * An optimizer holds its hyper-parameters and per-parameter state (Adam's
 * moments, SGD's velocity). The state is allocated for, and bound to, the model
 * it first steps; using it with another model is a STATE error. Thread-safety:
 * an optimizer is used by one thread at a time. */
#ifndef PNEUMO_OPTIM_H
#define PNEUMO_OPTIM_H

#include "pneumo/common.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct pneumo_optimizer pneumo_optimizer;

typedef enum pneumo_optimizer_kind {
    PNEUMO_OPTIMIZER_ADAM = 1,
    PNEUMO_OPTIMIZER_SGD = 2
} pneumo_optimizer_kind;

/** Adam hyper-parameters; fill with pneumo_adam_default_params(). Update rule
 *  (Keras): lr_t = lr * sqrt(1 - beta_2^t) / (1 - beta_1^t);
 *  m = beta_1 m + (1 - beta_1) g; v = beta_2 v + (1 - beta_2) g^2;
 *  w = (1 - lr * weight_decay) w - lr_t * m / (sqrt(v) + epsilon).
 *  weight_decay > 0 is AdamW's decoupled decay (torch.optim.AdamW,
 *  keras.optimizers.AdamW): applied with the current lr, not the bias-corrected
 *  lr_t, to the kernels of Conv2D and Dense layers only (biases and other
 *  parameters are not decayed, as with a torch parameter group of biases at
 *  weight_decay=0). 0 is plain Adam, bit for bit. */
typedef struct pneumo_adam_params {
    uint32_t size;        /**< sizeof(pneumo_adam_params); set by the default function */
    float learning_rate;  /**< default 1e-3 */
    float beta_1;         /**< default 0.9 */
    float beta_2;         /**< default 0.999 */
    float epsilon;        /**< default 1e-7 */
    float weight_decay;   /**< decoupled (AdamW) decay per unit lr, finite and >= 0; default 0 */
    uint32_t reserved[7]; /**< zero */
} pneumo_adam_params;

/** SGD hyper-parameters; fill with pneumo_sgd_default_params(). Keras rule:
 *  velocity = momentum * velocity - lr * g; w += velocity (Nesterov:
 *  w += momentum * velocity - lr * g). */
typedef struct pneumo_sgd_params {
    uint32_t size;        /**< sizeof(pneumo_sgd_params); set by the default function */
    float learning_rate;  /**< default 1e-2 */
    float momentum;       /**< default 0 */
    int32_t nesterov;     /**< default 0 (false) */
    uint32_t reserved[8]; /**< zero */
} pneumo_sgd_params;

/** Fill `p` with Keras' Adam defaults. NULL is a no-op. */
PNEUMO_API void pneumo_adam_default_params(pneumo_adam_params *p);

/** Fill `p` with Keras' SGD defaults. NULL is a no-op. */
PNEUMO_API void pneumo_sgd_default_params(pneumo_sgd_params *p);

/** Create an Adam optimizer (`p` NULL means defaults). The caller owns *out. */
PNEUMO_API pneumo_status pneumo_optimizer_create_adam(const pneumo_adam_params *p, pneumo_optimizer **out);

/** Create an SGD optimizer (`p` NULL means defaults). The caller owns *out. */
PNEUMO_API pneumo_status pneumo_optimizer_create_sgd(const pneumo_sgd_params *p, pneumo_optimizer **out);

/** Free an optimizer. NULL is a no-op. */
PNEUMO_API void pneumo_optimizer_destroy(pneumo_optimizer *opt);

/** Kind of optimizer, or 0 for NULL. */
PNEUMO_API pneumo_optimizer_kind pneumo_optimizer_kind_of(const pneumo_optimizer *opt);

/** Change the learning rate; takes effect at the next step. Must be finite and
 *  > 0 (INVALID_ARG otherwise). */
PNEUMO_API pneumo_status pneumo_optimizer_set_learning_rate(pneumo_optimizer *opt, float lr);

/** Current learning rate, or 0 for NULL. */
PNEUMO_API float pneumo_optimizer_learning_rate(const pneumo_optimizer *opt);

/** Number of update steps taken so far (Keras' `iterations`), 0 for NULL. */
PNEUMO_API int64_t pneumo_optimizer_iterations(const pneumo_optimizer *opt);

#ifdef __cplusplus
}
#endif

#endif /* PNEUMO_OPTIM_H */
