/* Checkpoints as pneumo_model_fit_resume() reads them: a model file with
 * optimizer state and the "fit_state" JSON (epoch, callbacks, history). */
#include "fuzz.h"

#include <stdio.h>

#include "train/fit_internal.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char path[600];
    snprintf(path, sizeof path, "%s/checkpoint.safetensors", fz_tmpdir());
    if (fz_write_file(path, data, size) == 0)
        pn_fit_check_checkpoint(path);
    remove(path);
    return 0;
}
