/* The avx512 kernel table: SIMD slots from this folder, the rest from the
 * scalar reference. */
#include "kernels/ref/ref.h"
#include "kernels/x86/protos.h"
#include "kernels/x86/x86.h"

const pn_kernels pn_kernels_avx512 = {
    .isa = "avx512",
    .conv2d_fwd = pn_f32_conv2d_fwd__avx512,
    .conv2d_bwd_data = pn_f32_conv2d_bwd_data__avx512,
    .conv2d_bwd_filter = pn_f32_conv2d_bwd_filter__avx512,
    .maxpool_fwd = pn_f32_maxpool_fwd__avx512,
    .conv2d_pool2_fwd = pn_f32_conv2d_pool2_fwd__avx512,
    .conv2d_pool2_bwd_filter = pn_f32_conv2d_pool2_bwd_filter__avx512,
    .conv2d_pool2_bwd_data = pn_f32_conv2d_pool2_bwd_data__avx512,
    .conv2d_pool2_wino_fwd = pn_f32_conv2d_pool2_wino_fwd__avx512,
    .wino_weights = pn_f32_wino_weights__avx512,
    .maxpool_bwd = pn_f32_maxpool_bwd__avx512,
    .dense_fwd = pn_f32_dense_fwd__avx512,
    .dense_bwd_data = pn_f32_dense_bwd_data__avx512,
    .dense_bwd_weights = pn_f32_dense_bwd_weights__avx512,
    .act_fwd = pn_f32_act_fwd__avx512,
    .act_bwd = pn_f32_act_bwd__avx512,
    .bce_logits = pn_f32_bce_logits__avx512,
    .adam_update = pn_f32_adam_update__avx512,
    .sgd_update = pn_f32_sgd_update__avx512,
};
