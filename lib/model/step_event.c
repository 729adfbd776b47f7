/* The shared library's pn_model_step_event: nothing listens to the steps of a
 * pass. The internal static library replaces this object with
 * model/test_hooks.c. */
#include "model/model.h"

void pn_model_step_event(const pneumo_model *m, int32_t first, int32_t last, int backward, int end)
{
    (void)m;
    (void)first;
    (void)last;
    (void)backward;
    (void)end;
}
