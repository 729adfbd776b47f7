/* Scalar reference kernels: straightforward loops, the definition of correct
 * for every optimised tier. Names follow op__isa. */
#ifndef PN_KERNELS_REF_H
#define PN_KERNELS_REF_H

#include "kernels/kernels.h"

void pn_f32_conv2d_fwd__ref(const pn_conv2d_shape *s, const float *x, const float *w,
                            const float *b, float *y);
void pn_f32_conv2d_bwd_data__ref(const pn_conv2d_shape *s, const float *dy, const float *w,
                                 float *dx);
void pn_f32_conv2d_bwd_filter__ref(const pn_conv2d_shape *s, const float *x, const float *dy,
                                   float *dw, float *db);
void pn_f32_maxpool_fwd__ref(const pn_pool2d_shape *s, const float *x, float *y, uint8_t *argmax);
void pn_f32_conv2d_pool2_fwd__ref(const pn_conv2d_shape *s, pn_act act, int32_t ph, int32_t pw,
                                  const float *x, const float *w, const float *b, float *z,
                                  uint8_t *argmax);
void pn_f32_conv2d_pool2_bwd_filter__ref(const pn_conv2d_shape *s, int32_t ph, int32_t pw,
                                         const float *x, const float *dz, const uint8_t *argmax,
                                         float *dw, float *db, float *scratch);
void pn_f32_conv2d_pool2_bwd_data__ref(const pn_conv2d_shape *s, int32_t ph, int32_t pw,
                                       const float *dz, const uint8_t *argmax, const float *w,
                                       float *dx, float *scratch);
void pn_f32_conv2d_pool2_wino_fwd__ref(const pn_conv2d_shape *s, pn_act act, int32_t ph, int32_t pw,
                                       const float *x, const float *v, const float *b, float *z,
                                       float *scratch);
void pn_f32_wino_weights__ref(int32_t ic, int32_t oc, const float *w, float *v);
void pn_f32_maxpool_bwd__ref(const pn_pool2d_shape *s, const float *dy, const uint8_t *argmax,
                             float *dx);
void pn_f32_dense_fwd__ref(int32_t n, int32_t in, int32_t out, const float *x, const float *w,
                           const float *b, float *y);
void pn_f32_dense_bwd_data__ref(int32_t n, int32_t in, int32_t out, const float *dy,
                                const float *w, float *dx);
void pn_f32_dense_bwd_weights__ref(int32_t n, int32_t in, int32_t out, const float *x,
                                   const float *dy, float *dw, float *db);
void pn_f32_act_fwd__ref(pn_act act, size_t count, float *y);
void pn_f32_act_bwd__ref(pn_act act, size_t count, const float *y, float *dy);
void pn_f32_bce_logits__ref(size_t n, const float *z, const float *y, const float *weights,
                            float *p, float *dz, double *loss_sum, double *acc_sum, double *w_sum);
void pn_f32_adam_update__ref(size_t count, float *w, const float *g, float *m, float *v,
                             float lr_t, float beta_1, float beta_2, float epsilon);
void pn_f32_sgd_update__ref(size_t count, float *w, const float *g, float *vel, float lr,
                            float momentum, int nesterov);

#endif
