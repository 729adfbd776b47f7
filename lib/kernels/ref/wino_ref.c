/* Winograd's minimal filtering F(4x4, 3x3) (Lavin & Gray, "Fast Algorithms
 * for Convolutional Neural Networks", 2015) for the inference forward of a
 * 3x3 stride-1 conv + bias + activation + 2x2 max-pool block.
 *
 * A 4x4 block of conv outputs is 2x2 pool windows. It comes from the 6x6
 * input patch d at rows 4 ty.., columns 4 tx.. as
 *     Y = A^T [ sum over ci of (G g G^T) . (B^T d B) ] A
 * ('.' element-wise): 36 multiplications per patch and channel pair instead
 * of the direct conv's 144. The transforms use the interpolation points
 * 0, 1, -1, 2, -2 and infinity; their coefficients are small (at most 8 in
 * A, 5 in B, 1/4 in G), so in FP32 the result stays within a few units of
 * rounding of the direct sum relative to the sum of |terms| (tests/checkasm.c
 * measures it).
 *
 * Patches at the bottom / right edge may reach past the input; the missing
 * pixels count as zero and only feed conv outputs no pool window uses. */
#include "kernels/ref/ref.h"

/* t = B^T d along one axis */
static void bt6(const float d[6], float t[6])
{
    t[0] = 4.0f * d[0] - 5.0f * d[2] + d[4];
    t[1] = -4.0f * (d[1] + d[2]) + (d[3] + d[4]);
    t[2] = 4.0f * (d[1] - d[2]) + (d[4] - d[3]);
    t[3] = 2.0f * (d[3] - d[1]) + (d[4] - d[2]);
    t[4] = 2.0f * (d[1] - d[3]) + (d[4] - d[2]);
    t[5] = 4.0f * d[1] - 5.0f * d[3] + d[5];
}

/* y = A^T m along one axis */
static void at6(const float m[6], float y[4])
{
    const float s12 = m[1] + m[2], d12 = m[1] - m[2], s34 = m[3] + m[4], d34 = m[3] - m[4];
    y[0] = m[0] + s12 + s34;
    y[1] = d12 + 2.0f * d34;
    y[2] = s12 + 4.0f * s34;
    y[3] = d12 + 8.0f * d34 + m[5];
}

/* t = G g along one axis */
static void g3(const float g[3], float t[6])
{
    const float a = g[0] + g[2], b = g[0] * (1.0f / 24) + g[2] * (1.0f / 6), c = g[1] * (1.0f / 12);
    t[0] = g[0] * 0.25f;
    t[1] = (a + g[1]) * (-1.0f / 6);
    t[2] = (a - g[1]) * (-1.0f / 6);
    t[3] = b + c;
    t[4] = b - c;
    t[5] = g[2];
}

void pn_f32_wino_weights__ref(int32_t ic, int32_t oc, const float *w, float *v)
{
    const size_t plane = (size_t)ic * (size_t)oc;
    for (size_t i = 0; i < plane; i++) {
        float col[3], t[6][3], out[6];
        for (int c = 0; c < 3; c++) { /* t = G g */
            for (int r = 0; r < 3; r++)
                col[r] = w[(size_t)(r * 3 + c) * plane + i];
            g3(col, out);
            for (int r = 0; r < 6; r++)
                t[r][c] = out[r];
        }
        for (int r = 0; r < 6; r++) { /* v = t G^T */
            g3(t[r], out);
            for (int c = 0; c < 6; c++)
                v[(size_t)(r * 6 + c) * plane + i] = out[c];
        }
    }
}

static int32_t min_i32(int32_t a, int32_t b) { return a < b ? a : b; }

/* u[pos][ci] = B^T d B of the patch at x (nr x nc pixels inside the input) */
static void input_patch(const float *x, size_t xrow, int32_t ic, int32_t nr, int32_t nc, float *u)
{
    for (int32_t ci = 0; ci < ic; ci++) {
        float d[6][6], t[6][6], col[6], out[6];
        for (int r = 0; r < 6; r++)
            for (int c = 0; c < 6; c++)
                d[r][c] = r < nr && c < nc ? x[(size_t)r * xrow + (size_t)c * (size_t)ic + (size_t)ci] : 0.0f;
        for (int c = 0; c < 6; c++) {
            for (int r = 0; r < 6; r++)
                col[r] = d[r][c];
            bt6(col, out);
            for (int r = 0; r < 6; r++)
                t[r][c] = out[r];
        }
        for (int r = 0; r < 6; r++) {
            bt6(t[r], out);
            for (int c = 0; c < 6; c++)
                u[(size_t)(r * 6 + c) * (size_t)ic + (size_t)ci] = out[c];
        }
    }
}

void pn_f32_conv2d_pool2_wino_fwd__ref(const pn_conv2d_shape *s, pn_act act, int32_t ph, int32_t pw,
                                       const float *x, const float *v, const float *b, float *z,
                                       float *scratch)
{
    const int32_t ic = s->ic, oc = s->oc;
    const size_t xrow = (size_t)s->iw * (size_t)ic, xsample = (size_t)s->ih * xrow;
    const size_t zrow = (size_t)pw * (size_t)oc, zsample = (size_t)ph * zrow;
    float *u = scratch, *m = scratch + (size_t)36 * (size_t)ic;
    for (int32_t n = 0; n < s->n; n++)
        for (int32_t ty = 0; 2 * ty < ph; ty++)
            for (int32_t tx = 0; 2 * tx < pw; tx++) {
                const float *xp = x + (size_t)n * xsample + (size_t)(4 * ty) * xrow +
                                  (size_t)(4 * tx) * (size_t)ic;
                input_patch(xp, xrow, ic, min_i32(6, s->ih - 4 * ty), min_i32(6, s->iw - 4 * tx), u);
                for (int pos = 0; pos < 36; pos++) { /* m[pos] = sum over ci, in order */
                    float *mp = m + (size_t)pos * (size_t)oc;
                    for (int32_t co = 0; co < oc; co++)
                        mp[co] = 0.0f;
                    for (int32_t ci = 0; ci < ic; ci++) {
                        const float uc = u[(size_t)pos * (size_t)ic + (size_t)ci];
                        const float *vp = v + ((size_t)pos * (size_t)ic + (size_t)ci) * (size_t)oc;
                        for (int32_t co = 0; co < oc; co++)
                            mp[co] += uc * vp[co];
                    }
                }
                for (int32_t co = 0; co < oc; co++) {
                    float t[4][6], y[4][4], row[6];
                    for (int c = 0; c < 6; c++) {
                        float out[4];
                        for (int r = 0; r < 6; r++)
                            row[r] = m[(size_t)(r * 6 + c) * (size_t)oc + (size_t)co];
                        at6(row, out);
                        for (int r = 0; r < 4; r++)
                            t[r][c] = out[r];
                    }
                    for (int r = 0; r < 4; r++)
                        at6(t[r], y[r]);
                    for (int qy = 0; qy < 2 && 2 * ty + qy < ph; qy++)
                        for (int qx = 0; qx < 2 && 2 * tx + qx < pw; qx++) {
                            const float *y0 = y[2 * qy] + 2 * qx, *y1 = y[2 * qy + 1] + 2 * qx;
                            float best = y0[0];
                            /* the bias and a monotone activation commute with the max */
                            best = y0[1] > best ? y0[1] : best;
                            best = y1[0] > best ? y1[0] : best;
                            best = y1[1] > best ? y1[1] : best;
                            if (b)
                                best += b[co];
                            if (act == PN_ACT_RELU && !(best > 0.0f))
                                best = 0.0f;
                            z[(size_t)n * zsample + (size_t)(2 * ty + qy) * zrow +
                              (size_t)(2 * tx + qx) * (size_t)oc + (size_t)co] = best;
                        }
                }
            }
}
