#include "synth_xray.h"

#include <math.h>
#include <stddef.h>

uint64_t synth_next(uint64_t *s)
{
    uint64_t z = (*s += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

float synth_uniform(uint64_t *s) { return (float)(synth_next(s) >> 40) / 16777216.0f; }

void synth_xray(float *img, int n, int label, uint64_t *rng)
{
    float cx[2] = {0.32f * n, 0.68f * n}, cy = 0.5f * n, rx = 0.15f * n, ry = 0.3f * n;
    float px[3], py[3], pr[3];
    int patches = label ? 1 + (int)(synth_uniform(rng) * 3.0f) : 0;
    for (int p = 0; p < patches; p++) {
        int side = synth_uniform(rng) < 0.5f;
        px[p] = cx[side] + (synth_uniform(rng) - 0.5f) * rx;
        py[p] = cy + (synth_uniform(rng) - 0.5f) * ry;
        pr[p] = (0.05f + 0.07f * synth_uniform(rng)) * n;
    }
    for (int y = 0; y < n; y++)
        for (int x = 0; x < n; x++) {
            float v = 0.55f + 0.1f * synth_uniform(rng);
            for (int s = 0; s < 2; s++) {
                float dx = (x - cx[s]) / rx, dy = (y - cy) / ry;
                if (dx * dx + dy * dy < 1.0f)
                    v -= 0.35f;
            }
            for (int p = 0; p < patches; p++) {
                float dx = x - px[p], dy = y - py[p];
                v += 0.3f * expf(-(dx * dx + dy * dy) / (2.0f * pr[p] * pr[p]));
            }
            img[(size_t)y * n + x] = v < 0.0f ? 0.0f : v > 1.0f ? 1.0f : v;
        }
}
