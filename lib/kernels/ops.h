/* The list of kernel ops: the one place a kernel's signature is written.
 *
 * PN_KERNEL_OPS(X, a) expands X(a, name, params) once per op, in table order.
 * From it come the pn_kernels slots (kernels.h), the op enum and names, the
 * reference prototypes (ref/ref.h), every SIMD tier's prototypes
 * (PN_KERNEL_PROTOS(isa)) and checkasm's list of functions. Every op returns
 * void. What each op computes is documented at its slot in kernels.h's
 * comment block and in docs/architecture.md ("Adding a kernel"). */
#ifndef PN_KERNELS_OPS_H
#define PN_KERNELS_OPS_H

#define PN_KERNEL_OPS(X, a)                                                                                  \
    X(a, conv2d_fwd, (const pn_conv2d_shape *s, const float *x, const float *w, const float *b, float *y))   \
    X(a, conv2d_bwd_data, (const pn_conv2d_shape *s, const float *dy, const float *w, float *dx))            \
    X(a, conv2d_bwd_filter,                                                                                  \
      (const pn_conv2d_shape *s, const float *x, const float *dy, float *dw, float *db))                     \
    X(a, maxpool_fwd, (const pn_pool2d_shape *s, const float *x, float *y, uint8_t *argmax))                 \
    X(a, conv2d_pool2_fwd,                                                                                   \
      (const pn_conv2d_shape *s, pn_act act, int32_t ph, int32_t pw, const float *x, const float *w,         \
       const float *b, float *z, uint8_t *argmax))                                                           \
    X(a, conv2d_pool2_bwd_filter,                                                                            \
      (const pn_conv2d_shape *s, int32_t ph, int32_t pw, const float *x, const float *dz,                    \
       const uint8_t *argmax, float *dw, float *db, float *scratch))                                         \
    X(a, conv2d_pool2_bwd_data,                                                                              \
      (const pn_conv2d_shape *s, int32_t ph, int32_t pw, const float *dz, const uint8_t *argmax,             \
       const float *w, float *dx, float *scratch))                                                           \
    X(a, conv2d_pool2_wino_fwd,                                                                              \
      (const pn_conv2d_shape *s, pn_act act, int32_t ph, int32_t pw, const float *x, const float *v,         \
       const float *b, float *z, float *scratch))                                                            \
    X(a, wino_weights, (int32_t ic, int32_t oc, const float *w, float *v))                                   \
    X(a, maxpool_bwd, (const pn_pool2d_shape *s, const float *dy, const uint8_t *argmax, float *dx))         \
    X(a, dense_fwd,                                                                                          \
      (int32_t n, int32_t in, int32_t out, int32_t o0, int32_t o1, const float *x, const float *w,           \
       const float *b, float *y))                                                                            \
    X(a, dense_bwd_data,                                                                                     \
      (int32_t n, int32_t in, int32_t out, int32_t i0, int32_t i1, const float *dy, const float *w,          \
       float *dx))                                                                                           \
    X(a, dense_bwd_weights,                                                                                  \
      (int32_t n, int32_t in, int32_t out, int32_t i0, int32_t i1, const float *x, const float *dy,          \
       float *dw, float *db))                                                                                \
    X(a, act_fwd, (pn_act act, size_t count, float *y))                                                      \
    X(a, act_bwd, (pn_act act, size_t count, const float *y, float *dy))                                     \
    X(a, bce_logits,                                                                                         \
      (size_t n, const float *z, const float *y, const float *weights, float smoothing, float *p, float *dz, \
       double *loss_sum, double *acc_sum, double *w_sum))                                                    \
    X(a, adam_update,                                                                                        \
      (size_t count, float *w, const float *g, float *m, float *v, float lr_t, float beta_1, float beta_2,   \
       float epsilon, float keep))                                                                           \
    X(a, sgd_update,                                                                                         \
      (size_t count, float *w, const float *g, float *vel, float lr, float momentum, int nesterov))          \
    X(a, accumulate, (size_t count, float *dst, const float *src))                                           \
    X(a, chan_sums, (size_t rows, int32_t c, const float *x, const float *shift, double *s1, double *s2))    \
    X(a, chan_grad_sums,                                                                                     \
      (size_t rows, int32_t c, const float *x, const float *dy, const float *mean, double *s_dy,             \
       double *s_dyxc))                                                                                      \
    X(a, chan_affine, (size_t rows, int32_t c, const float *x, const float *a, const float *b, float *y))    \
    X(a, chan_affine2,                                                                                       \
      (size_t rows, int32_t c, const float *dy, const float *x, const float *mean, const float *a,           \
       const float *b, const float *d, float *dx))                                                           \
    X(a, gap_fwd, (int32_t n, int32_t hw, int32_t c, const float *x, float *y))                              \
    X(a, gap_bwd, (int32_t n, int32_t hw, int32_t c, const float *dy, float *dx))                            \
    X(a, warp_bilinear_row,                                                                                  \
      (const uint8_t *src, int32_t stride, int64_t y, int64_t x, int64_t dy, int64_t dx, int32_t n,          \
       float scale, float *o, int32_t step))                                                                 \
    X(a, pil_brightness, (size_t n, float *x, float factor, int32_t stretch, float rs))

/* Prototypes of one tier's kernels, pn_f32_<op>__<isa> (declare only the ops a
 * tier defines; declaring all is harmless). */
#define PN_KERNEL_PROTO_(isa, name, params) void pn_f32_##name##__##isa params;
#define PN_KERNEL_PROTOS(isa) PN_KERNEL_OPS(PN_KERNEL_PROTO_, isa)

#endif
