/* Conv2D + MaxPooling2D run as one unit.
 *
 * When a Conv2D with a ReLU (or linear) activation feeds a MaxPooling2D whose
 * windows tile the conv output without overlap (pool size == strides, no
 * padding before row/column 0), the conv output is never stored for the batch:
 *  - forward: with 2x2 windows over a 'valid' conv, one kernel
 *    (conv2d_pool2_fwd) computes the conv in registers, applies the
 *    activation and pools, writing only the pooled output and the pool's
 *    argmax bytes; other shapes compute a strip of conv rows at a time into
 *    per-thread scratch, activate and pool it;
 *  - backward rebuilds dL/d(conv output) a strip at a time from the pooled
 *    gradient and the argmax. The ReLU derivative at a window's maximum is
 *    (pooled output > 0), and every other position gets zero gradient, so the
 *    conv output itself is not needed. 3x3 stride-1 blocks ('valid', 2x2
 *    windows) skip the rebuild for dx: conv2d_pool2_bwd_data scatters each
 *    non-zero pooled gradient through the kernel into the input window of
 *    its maximum. A grayscale 3x3 stride-1 first layer also skips it for the
 *    parameter gradients (conv2d_pool2_bwd_filter). Both sum in another
 *    order: equal to the unfused gradients within rounding.
 * Everything else is computed by the same kernels on row ranges of the same
 * problem, in the same summation order, so results match the unfused layers
 * bit for bit (backward-filter strips are aligned to the x86 kernel's own
 * row blocking for that). */
#ifndef PN_LAYERS_FUSED_H
#define PN_LAYERS_FUSED_H

#include "layers/layer.h"

/* Whether `conv` followed by `pool` can run fused. */
int pn_conv_pool_fusable(const pn_layer *conv, const pn_layer *pool);

/* Floats of scratch one thread needs for the pair. */
size_t pn_conv_pool_scratch(const pn_layer *conv, const pn_layer *pool);

/* z = pool(act(conv(x))) for n samples; the pool's argmax for samples
 * run->sample0 .. + n must be reserved already. */
pneumo_status pn_conv_pool_forward(pn_layer *conv, pn_layer *pool, const pn_run *run, int32_t n,
                                   const float *x, float *z, float *scratch);

/* From dz = dL/dz (overwritten), accumulate the conv's parameter gradients and
 * write dx = dL/dx (dx may be NULL). */
pneumo_status pn_conv_pool_backward(pn_layer *conv, pn_layer *pool, const pn_run *run, int32_t n,
                                    const float *x, const float *z, float *dz, float *dx, float *scratch);

#endif
