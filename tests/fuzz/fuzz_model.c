/* Model files from memory: safetensors header, JSON metadata, architecture and
 * shape validation, optimizer state; a model that loads is summarised and,
 * when small, run on one zero sample. */
#include "fuzz.h"

#include "pneumo/model.h"
#include "pneumo/optim.h"
#include "pneumo/tensor.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    pneumo_model *m = NULL;
    pneumo_optimizer *opt = NULL;
    int32_t h, w, c;
    char summary[4096];
    size_t need;
    if (pneumo_model_load_memory(data, size, &m, &opt) != PNEUMO_OK)
        return 0;
    pneumo_model_summary_string(m, summary, sizeof summary, &need);
    if (pneumo_model_input_shape(m, &h, &w, &c) == PNEUMO_OK && (int64_t)h * w * c <= 4096 &&
        pneumo_model_num_params(m) <= 200000 && pneumo_model_output_size(m) <= 4096) {
        int64_t in_shape[4] = {1, h, w, c}, out_shape[2] = {1, pneumo_model_output_size(m)};
        pneumo_tensor *x = NULL, *y = NULL;
        if (pneumo_tensor_create(4, in_shape, &x) == PNEUMO_OK &&
            pneumo_tensor_create(2, out_shape, &y) == PNEUMO_OK)
            pneumo_model_predict(m, x, y);
        pneumo_tensor_destroy(x);
        pneumo_tensor_destroy(y);
    }
    pneumo_optimizer_destroy(opt);
    pneumo_model_destroy(m);
    return 0;
}
