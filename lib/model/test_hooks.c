/* Test and benchmark hooks (see test_hooks.h), linked only into the internal
 * static library in place of model/step_event.c. */
#include "model/test_hooks.h"

static const pneumo_model *hook_model;
static pn_step_hook_fn hook_fn;
static void *hook_ctx;

void pn_model_set_kernels(pneumo_model *m, const struct pn_kernels *k) { m->kernels = k; }

void pn_model_set_step_hook(const pneumo_model *m, pn_step_hook_fn fn, void *ctx)
{
    hook_model = fn ? m : NULL;
    hook_fn = fn;
    hook_ctx = fn ? ctx : NULL;
}

void pn_model_step_event(const pneumo_model *m, int32_t first, int32_t last, int backward, int end)
{
    if (hook_fn && m == hook_model)
        hook_fn(hook_ctx, first, last, backward, end);
}
