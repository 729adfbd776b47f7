#include <string.h>

#include "kernels/ref/ref.h"

void pn_f32_dense_fwd__ref(int32_t n, int32_t in, int32_t out, int32_t o0, int32_t o1, const float *x,
                           const float *w, const float *b, float *y)
{
    for (int32_t s = 0; s < n; s++) {
        float *yr = y + (size_t)s * (size_t)out;
        const float *xr = x + (size_t)s * (size_t)in;
        for (int32_t o = o0; o < o1; o++)
            yr[o] = b ? b[o] : 0.0f;
        for (int32_t i = 0; i < in; i++) {
            const float xv = xr[i];
            const float *wr = w + (size_t)i * (size_t)out;
            for (int32_t o = o0; o < o1; o++)
                yr[o] += xv * wr[o];
        }
    }
}

void pn_f32_dense_bwd_data__ref(int32_t n, int32_t in, int32_t out, int32_t i0, int32_t i1, const float *dy,
                                const float *w, float *dx)
{
    for (int32_t s = 0; s < n; s++) {
        const float *dyr = dy + (size_t)s * (size_t)out;
        float *dxr = dx + (size_t)s * (size_t)in;
        for (int32_t i = i0; i < i1; i++) {
            const float *wr = w + (size_t)i * (size_t)out;
            float acc = 0.0f;
            for (int32_t o = 0; o < out; o++)
                acc += dyr[o] * wr[o];
            dxr[i] = acc;
        }
    }
}

void pn_f32_dense_bwd_weights__ref(int32_t n, int32_t in, int32_t out, int32_t i0, int32_t i1, const float *x,
                                   const float *dy, float *dw, float *db)
{
    for (int32_t s = 0; s < n; s++) {
        const float *dyr = dy + (size_t)s * (size_t)out;
        const float *xr = x + (size_t)s * (size_t)in;
        if (db)
            for (int32_t o = 0; o < out; o++)
                db[o] += dyr[o];
        for (int32_t i = i0; i < i1; i++) {
            const float xv = xr[i];
            float *dwr = dw + (size_t)i * (size_t)out;
            if (xv == 0.0f)
                continue; /* ReLU outputs are mostly zero; the sum is unchanged */
            for (int32_t o = 0; o < out; o++)
                dwr[o] += xv * dyr[o];
        }
    }
}
