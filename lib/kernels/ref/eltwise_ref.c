#include <math.h>

#include "kernels/ref/ref.h"

/* Sigmoid that never overflows: exp() only of a non-positive argument. */
static inline float sigmoidf_stable(float z)
{
    if (z >= 0.0f)
        return 1.0f / (1.0f + expf(-z));
    {
        float e = expf(z);
        return e / (1.0f + e);
    }
}

void pn_f32_act_fwd__ref(pn_act act, size_t count, float *y)
{
    switch (act) {
    case PN_ACT_RELU:
        for (size_t i = 0; i < count; i++)
            y[i] = y[i] > 0.0f ? y[i] : 0.0f;
        break;
    case PN_ACT_SIGMOID:
        for (size_t i = 0; i < count; i++)
            y[i] = sigmoidf_stable(y[i]);
        break;
    case PN_ACT_TANH:
        for (size_t i = 0; i < count; i++)
            y[i] = tanhf(y[i]);
        break;
    case PN_ACT_LINEAR: break;
    }
}

void pn_f32_act_bwd__ref(pn_act act, size_t count, const float *y, float *dy)
{
    switch (act) {
    case PN_ACT_RELU:
        for (size_t i = 0; i < count; i++)
            dy[i] = y[i] > 0.0f ? dy[i] : 0.0f;
        break;
    case PN_ACT_SIGMOID:
        for (size_t i = 0; i < count; i++)
            dy[i] *= y[i] * (1.0f - y[i]);
        break;
    case PN_ACT_TANH:
        for (size_t i = 0; i < count; i++)
            dy[i] *= 1.0f - y[i] * y[i];
        break;
    case PN_ACT_LINEAR: break;
    }
}

void pn_f32_bce_logits__ref(size_t n, const float *z, const float *y, const float *weights, float smoothing,
                            float *p, float *dz, double *loss_sum, double *acc_sum, double *w_sum)
{
    double loss = 0.0, acc = 0.0, wsum = 0.0;
    const float inv_n = 1.0f / (float)n, keep = 1.0f - smoothing, add = 0.5f * smoothing;
    for (size_t i = 0; i < n; i++) {
        const float zi = z[i], yi = y[i], ti = yi * keep + add;
        const float wi = weights ? weights[i] : 1.0f;
        const float pi = sigmoidf_stable(zi);
        const float li = (zi > 0.0f ? zi : 0.0f) - zi * ti + log1pf(expf(-fabsf(zi)));
        const float predicted = pi > 0.5f ? 1.0f : 0.0f;
        p[i] = pi;
        if (dz)
            dz[i] = wi * (pi - ti) * inv_n;
        loss += (double)wi * (double)li;
        acc += predicted == yi ? (double)wi : 0.0;
        wsum += (double)wi;
    }
    *loss_sum = loss;
    *acc_sum = acc;
    *w_sum = wsum;
}
