/* Hooks for tests and pneumo-bench. They exist only in the internal static
 * library libpneumo_internal.a (model/test_hooks.c), never in the shared
 * library. */
#ifndef PN_MODEL_TEST_HOOKS_H
#define PN_MODEL_TEST_HOOKS_H

#include "model/model.h"

/* Run this model with kernel table k (NULL: the process default); tests
 * compare ISA tiers with it. */
void pn_model_set_kernels(pneumo_model *m, const struct pn_kernels *k);

/* Call fn(ctx, first, last, backward, end) at every pn_model_step_event of
 * model m (pneumo-bench's per-layer times); fn NULL removes the hook. One
 * hook per process; set it while no pass runs. */
typedef void (*pn_step_hook_fn)(void *ctx, int32_t first, int32_t last, int backward, int end);
void pn_model_set_step_hook(const pneumo_model *m, pn_step_hook_fn fn, void *ctx);

#endif
