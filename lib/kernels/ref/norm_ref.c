/* Per-channel reductions and affine maps for batch normalisation and global
 * average pooling, over rows x c values (NHWC, channels contiguous). */
#include "kernels/ref/ref.h"

void pn_f32_chan_sums__ref(size_t rows, int32_t c, const float *x, const float *shift, double *s1, double *s2)
{
    for (int32_t ch = 0; ch < c; ch++) {
        const float sh = shift ? shift[ch] : 0.0f;
        for (size_t r0 = 0; r0 < rows; r0 += PN_CHAN_BLOCK) {
            const size_t r1 = r0 + PN_CHAN_BLOCK < rows ? r0 + PN_CHAN_BLOCK : rows;
            float a1 = 0.0f, a2 = 0.0f;
            for (size_t r = r0; r < r1; r++) {
                const float d = x[r * (size_t)c + (size_t)ch] - sh;
                a1 = a1 + d;
                a2 = a2 + d * d;
            }
            s1[ch] += a1;
            s2[ch] += a2;
        }
    }
}

void pn_f32_chan_grad_sums__ref(size_t rows, int32_t c, const float *x, const float *dy, const float *mean,
                                double *s_dy, double *s_dyxc)
{
    for (int32_t ch = 0; ch < c; ch++) {
        for (size_t r0 = 0; r0 < rows; r0 += PN_CHAN_BLOCK) {
            const size_t r1 = r0 + PN_CHAN_BLOCK < rows ? r0 + PN_CHAN_BLOCK : rows;
            float a1 = 0.0f, a2 = 0.0f;
            for (size_t r = r0; r < r1; r++) {
                const size_t i = r * (size_t)c + (size_t)ch;
                a1 = a1 + dy[i];
                a2 = a2 + dy[i] * (x[i] - mean[ch]);
            }
            s_dy[ch] += a1;
            s_dyxc[ch] += a2;
        }
    }
}

void pn_f32_chan_affine__ref(size_t rows, int32_t c, const float *x, const float *a, const float *b, float *y)
{
    for (size_t r = 0; r < rows; r++)
        for (int32_t ch = 0; ch < c; ch++) {
            const size_t i = r * (size_t)c + (size_t)ch;
            y[i] = x[i] * a[ch] + b[ch];
        }
}

void pn_f32_chan_affine2__ref(size_t rows, int32_t c, const float *dy, const float *x, const float *mean,
                              const float *a, const float *b, const float *d, float *dx)
{
    for (size_t r = 0; r < rows; r++)
        for (int32_t ch = 0; ch < c; ch++) {
            const size_t i = r * (size_t)c + (size_t)ch;
            dx[i] = dy[i] * a[ch] + (x[i] - mean[ch]) * b[ch] + d[ch];
        }
}

void pn_f32_gap_fwd__ref(int32_t n, int32_t hw, int32_t c, const float *x, float *y)
{
    for (int32_t s = 0; s < n; s++)
        for (int32_t ch = 0; ch < c; ch++) {
            float sum = 0.0f;
            for (int32_t p = 0; p < hw; p++)
                sum = sum + x[((size_t)s * (size_t)hw + (size_t)p) * (size_t)c + (size_t)ch];
            y[(size_t)s * (size_t)c + (size_t)ch] = sum / (float)hw;
        }
}

void pn_f32_gap_bwd__ref(int32_t n, int32_t hw, int32_t c, const float *dy, float *dx)
{
    for (int32_t s = 0; s < n; s++)
        for (int32_t p = 0; p < hw; p++)
            for (int32_t ch = 0; ch < c; ch++)
                dx[((size_t)s * (size_t)hw + (size_t)p) * (size_t)c + (size_t)ch] =
                    dy[(size_t)s * (size_t)c + (size_t)ch] / (float)hw;
}
