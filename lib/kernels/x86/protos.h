/* Prototypes of the x86 kernels (op__isa names, as in ref.h). */
#ifndef PN_KERNELS_X86_PROTOS_H
#define PN_KERNELS_X86_PROTOS_H

#include "kernels/kernels.h"

#define PN_X86_PROTOS(isa)                                                                        \
    void pn_f32_conv2d_fwd__##isa(const pn_conv2d_shape *s, const float *x, const float *w,       \
                                  const float *b, float *y);                                      \
    void pn_f32_conv2d_bwd_data__##isa(const pn_conv2d_shape *s, const float *dy,                 \
                                       const float *w, float *dx);                                \
    void pn_f32_conv2d_bwd_filter__##isa(const pn_conv2d_shape *s, const float *x,                \
                                         const float *dy, float *dw, float *db);                  \
    void pn_f32_maxpool_fwd__##isa(const pn_pool2d_shape *s, const float *x, float *y,            \
                                   uint8_t *argmax);                                              \
    void pn_f32_conv2d_pool2_fwd__##isa(const pn_conv2d_shape *s, pn_act act, int32_t ph,         \
                                        int32_t pw, const float *x, const float *w,               \
                                        const float *b, float *z, uint8_t *argmax);               \
    void pn_f32_conv2d_pool2_bwd_filter__##isa(const pn_conv2d_shape *s, int32_t ph, int32_t pw, \
                                               const float *x, const float *dz,                   \
                                               const uint8_t *argmax, float *dw, float *db, float *scratch);      \
    void pn_f32_conv2d_pool2_bwd_data__##isa(const pn_conv2d_shape *s, int32_t ph, int32_t pw,   \
                                             const float *dz, const uint8_t *argmax,              \
                                             const float *w, float *dx, float *scratch);          \
    void pn_f32_conv2d_pool2_wino_fwd__##isa(const pn_conv2d_shape *s, pn_act act, int32_t ph,    \
                                             int32_t pw, const float *x, const float *v,          \
                                             const float *b, float *z, float *scratch);           \
    void pn_f32_wino_weights__##isa(int32_t ic, int32_t oc, const float *w, float *v);           \
    void pn_f32_maxpool_bwd__##isa(const pn_pool2d_shape *s, const float *dy,                     \
                                   const uint8_t *argmax, float *dx);                             \
    void pn_f32_dense_fwd__##isa(int32_t n, int32_t in, int32_t out, const float *x,              \
                                 const float *w, const float *b, float *y);                       \
    void pn_f32_dense_bwd_data__##isa(int32_t n, int32_t in, int32_t out, const float *dy,        \
                                      const float *w, float *dx);                                 \
    void pn_f32_dense_bwd_weights__##isa(int32_t n, int32_t in, int32_t out, const float *x,      \
                                         const float *dy, float *dw, float *db);                  \
    void pn_f32_act_fwd__##isa(pn_act act, size_t count, float *y);                               \
    void pn_f32_act_bwd__##isa(pn_act act, size_t count, const float *y, float *dy);              \
    void pn_f32_bce_logits__##isa(size_t n, const float *z, const float *y, const float *weights, \
                                  float *p, float *dz, double *loss_sum, double *acc_sum,         \
                                  double *w_sum);                                                 \
    void pn_f32_adam_update__##isa(size_t count, float *w, const float *g, float *m, float *v,    \
                                   float lr_t, float beta_1, float beta_2, float epsilon);        \
    void pn_f32_sgd_update__##isa(size_t count, float *w, const float *g, float *vel, float lr,   \
                                  float momentum, int nesterov);

PN_X86_PROTOS(avx2)
PN_X86_PROTOS(avx512)

#endif
