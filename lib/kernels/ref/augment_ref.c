/* Scalar reference of the augmentation's bilinear row warp (kernels.h). */
#include "kernels/ref/ref.h"

void pn_f32_warp_bilinear_row__ref(const uint8_t *src, int32_t stride, int64_t y, int64_t x, int64_t dy,
                                   int64_t dx, int32_t n, float scale, float *o, int32_t step)
{
    const size_t ws = (size_t)stride;
    const float frac = 1.0f / 16777216.0f; /* 2^-24 */
    for (int32_t c = 0; c < n; c++, y += dy, x += dx, o += step) {
        const uint8_t *p = src + (size_t)((uint64_t)y >> 32) * ws + (size_t)((uint64_t)x >> 32);
        const float fy = (float)(int32_t)(((uint64_t)y & 0xffffffffu) >> 8) * frac;
        const float fx = (float)(int32_t)(((uint64_t)x & 0xffffffffu) >> 8) * frac;
        const float p00 = p[0], p01 = p[1];
        const float p10 = p[ws], p11 = p[ws + 1];
        const float top = p00 + fx * (p01 - p00);
        const float bot = p10 + fx * (p11 - p10);
        *o = (top + fy * (bot - top)) * scale;
    }
}

void pn_f32_pil_brightness__ref(size_t n, float *x, float factor, int32_t stretch, float rs)
{
    if (n == 0)
        return;
    float mn = x[0], mx = x[0];
    for (size_t i = 1; i < n; i++) {
        mn = x[i] < mn ? x[i] : mn;
        mx = x[i] > mx ? x[i] : mx;
    }
    const int local_scale = mn < 0.0f || mx > 255.0f;
    const int do_stretch = stretch || local_scale;
    const float range = mx - mn; /* = max(x - min(x)): float subtraction is monotonic */

    for (size_t i = 0; i < n; i++) {
        float v = x[i];
        if (do_stretch) {
            v = v - mn;
            if (range != 0.0f)
                v = v / range;
            v = v * 255.0f;
        }
        /* astype('uint8') truncates; the clamps only keep the cast defined */
        const float u = v <= 0.0f ? 0.0f : (v >= 255.0f ? 255.0f : (float)(uint8_t)v);
        /* Image.blend(black, img, factor): 0 + factor (u - 0), truncated, clipped
         * to 255 (factor >= 0, so never below 0) */
        const float t = factor * u;
        float y = t >= 255.0f ? 255.0f : (float)(int32_t)t;
        if (!stretch && local_scale)
            y = y / 255.0f * range + mn;
        x[i] = y * rs;
    }
}
