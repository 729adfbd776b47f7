#include "kernels/kernels.h"
#include "kernels/ref/ref.h"

const pn_kernels pn_kernels_ref = {
    .isa = "scalar",
    .conv2d_fwd = pn_f32_conv2d_fwd__ref,
    .conv2d_bwd_data = pn_f32_conv2d_bwd_data__ref,
    .conv2d_bwd_filter = pn_f32_conv2d_bwd_filter__ref,
    .maxpool_fwd = pn_f32_maxpool_fwd__ref,
    .conv2d_pool2_fwd = pn_f32_conv2d_pool2_fwd__ref,
    .conv2d_pool2_bwd_filter = pn_f32_conv2d_pool2_bwd_filter__ref,
    .conv2d_pool2_bwd_data = pn_f32_conv2d_pool2_bwd_data__ref,
    .conv2d_pool2_wino_fwd = pn_f32_conv2d_pool2_wino_fwd__ref,
    .wino_weights = pn_f32_wino_weights__ref,
    .maxpool_bwd = pn_f32_maxpool_bwd__ref,
    .dense_fwd = pn_f32_dense_fwd__ref,
    .dense_bwd_data = pn_f32_dense_bwd_data__ref,
    .dense_bwd_weights = pn_f32_dense_bwd_weights__ref,
    .act_fwd = pn_f32_act_fwd__ref,
    .act_bwd = pn_f32_act_bwd__ref,
    .bce_logits = pn_f32_bce_logits__ref,
    .adam_update = pn_f32_adam_update__ref,
    .sgd_update = pn_f32_sgd_update__ref,
};

int32_t pn_window_out(int32_t in, int32_t k, int32_t stride, int same, int32_t *pad_before)
{
    int32_t out;
    if (same) {
        int64_t total;
        out = (in + stride - 1) / stride;
        total = (int64_t)(out - 1) * stride + k - in;
        if (total < 0)
            total = 0;
        *pad_before = (int32_t)(total / 2);
        return out;
    }
    *pad_before = 0;
    if (in < k)
        return 0;
    return (in - k) / stride + 1;
}

/* pn_kernels_get() (CPU dispatch) lives in lib/kernels/cpu.c. */
