#include <math.h>

#include "kernels/ref/ref.h"

void pn_f32_adam_update__ref(size_t count, float *w, const float *g, float *m, float *v, float lr_t,
                             float beta_1, float beta_2, float epsilon, float keep)
{
    const float one_b1 = 1.0f - beta_1, one_b2 = 1.0f - beta_2;
    for (size_t i = 0; i < count; i++) {
        float gi = g[i];
        float mi = beta_1 * m[i] + one_b1 * gi;
        float vi = beta_2 * v[i] + one_b2 * gi * gi;
        m[i] = mi;
        v[i] = vi;
        w[i] = keep * w[i] - lr_t * mi / (sqrtf(vi) + epsilon);
    }
}

void pn_f32_sgd_update__ref(size_t count, float *w, const float *g, float *vel, float lr, float momentum,
                            int nesterov)
{
    for (size_t i = 0; i < count; i++) {
        float v = momentum * vel[i] - lr * g[i];
        vel[i] = v;
        w[i] += nesterov ? momentum * v - lr * g[i] : v;
    }
}

void pn_f32_accumulate__ref(size_t count, float *dst, const float *src)
{
    for (size_t i = 0; i < count; i++)
        dst[i] += src[i];
}
