/* Keras HDF5 import (pneumo/interop.h). */
#include "core/error.h"
#include "pneumo/interop.h"

pneumo_status pneumo_model_import_keras_h5(const char *path, pneumo_model **model, pneumo_optimizer **opt)
{
    if (model)
        *model = NULL;
    if (opt)
        *opt = NULL;
    return pn_error(PNEUMO_ERR_UNSUPPORTED,
                    "pneumo_model_import_keras_h5: %s: this libpneumo was built without HDF5 (meson -Dhdf5=enabled)",
                    path ? path : "(null)");
}
