/* Kernel interface: one function-pointer table for every compute op.
 *
 * The ops and their signatures are listed once, in ops.h. pn_kernels_ref
 * holds the scalar reference implementations (lib/kernels/ref/); the SIMD
 * tiers override its slots at start-up (lib/kernels/cpu.c) and are checked
 * against the reference by tests/checkasm. Layers call kernels only through
 * pn_kernels_get(), never directly, so a faster tier slots in without changing
 * a layer.
 *
 * Layouts: activations NHWC (channels innermost); conv kernels HWIO
 * (kh, kw, cin, cout) and dense kernels (in, out), as Keras stores them.
 * Backward kernels ACCUMULATE into dw/db (callers zero them once per step);
 * dx is overwritten. */
#ifndef PN_KERNELS_H
#define PN_KERNELS_H

#include <stddef.h>
#include <stdint.h>

#include "kernels/ops.h"

typedef struct pn_conv2d_shape {
    int32_t n;                 /* batch */
    int32_t ih, iw, ic;        /* input */
    int32_t oh, ow, oc;        /* output */
    int32_t kh, kw;            /* kernel */
    int32_t sh, sw;            /* strides */
    int32_t pad_top, pad_left; /* implicit zero padding before row/col 0 */
} pn_conv2d_shape;

typedef struct pn_pool2d_shape {
    int32_t n;
    int32_t ih, iw, c;
    int32_t oh, ow;
    int32_t ph, pw; /* window */
    int32_t sh, sw;
    int32_t pad_top, pad_left; /* padded cells never win the max (TF: -inf) */
} pn_pool2d_shape;

typedef enum pn_act { PN_ACT_LINEAR = 0, PN_ACT_RELU = 1, PN_ACT_SIGMOID = 2, PN_ACT_TANH = 3 } pn_act;

/* The ops (signatures in ops.h, in this order):
 * conv2d_fwd: y = conv(x, w) + b (b may be NULL)
 * conv2d_bwd_data: dx = conv_transpose(dy, w) (overwrites dx)
 * conv2d_bwd_filter: dw += corr(x, dy); db += sum(dy) (db may be NULL)
 * maxpool_fwd: y = max over window; argmax[i] = window offset (ky * pw + kx) of the max
 * conv2d_pool2_fwd: Conv2D + bias + activation (linear or ReLU) + 2x2 stride-2 max-pool in one
 *     pass, without storing the conv output: z[py][px] = max over conv rows 2py..2py+1, columns
 *     2px..2px+1 of act(conv(x, w) + b), argmax as maxpool_fwd, for ph x pw pooled outputs per sample
 *     (b may be NULL). Needs every tap inside x: pad 0 and (2 ph - 1) sh + kh <= ih, same for w;
 *     s->oh, s->ow >= 2 ph, 2 pw. Values and argmax equal conv2d_fwd + act_fwd + maxpool_fwd bit for
 *     bit. argmax may be NULL (inference: no backward follows).
 * conv2d_pool2_bwd_filter: The parameter gradients of that block straight from the pooled gradient
 *     dz (ph x pw per sample, already multiplied by the activation's derivative) and the argmax: dw +=
 *     sum over pooled pixels of x[window maximum + tap] dz, db += sum dz (db may be NULL); no conv-
 *     sized gradient is built. scratch: pn_pool2_bwd_scratch(s) floats. Same constraints as
 *     conv2d_pool2_fwd; fast where pn_pool2_bwd_fast() holds.
 * conv2d_pool2_bwd_data: dx = dL/dx of that block straight from the pooled gradient dz (already
 *     multiplied by the activation's derivative) and the argmax: each non-zero dz[py][px][co] adds dz
 *     w[ky][kx][:][co] to the input under tap (ky, kx) of its window maximum. The conv-sized gradient
 *     is 3/4 structural zeros (every window passes its gradient to one position), so this does a
 *     quarter of the dense backward-data's work or less. Overwrites all of dx (s->n samples); input
 *     rows and columns no window reaches get zero. scratch: pn_pool2_bwd_scratch(s) floats. Same
 *     constraints as conv2d_pool2_fwd; fast where pn_pool2_bwd_fast() holds.
 * conv2d_pool2_wino_fwd: Inference forward of the same block by Winograd's minimal filtering
 *     F(4x4, 3x3): z as conv2d_pool2_fwd (no argmax: nothing runs backward from it), each 6x6 input
 *     patch giving a 4x4 conv block = 2x2 pooled outputs with 36 multiplications per channel pair
 *     instead of 144. The sums differ from the direct conv by rounding only (checkasm bounds the
 *     error; deterministic for a shape). v: the kernel transformed by wino_weights; s: 3x3, stride 1,
 *     pad 0 (pn_wino_ok()), 2 ph + 2 <= ih, 2 pw + 2 <= iw; scratch: pn_wino_scratch(s) floats.
 * wino_weights: its transformed kernel: v[6 r + c][ci][co] = (G g G^T)[r][c] for each 3x3 kernel g
 *     = w[.][.][ci][co] (HWIO); pn_wino_weights_size() floats
 * maxpool_bwd: dx = scatter of dy to the argmax positions (overwrites dx)
 * dense_fwd: y[n, o] = sum_i x[n, i] w[i, o] + b[o] for the outputs o in [o0, o1) (b may be NULL);
 *     each y[n, o] starts from b[o] and adds the terms in order of i, whatever n and the range
 * dense_bwd_data: dx[n, i] = sum_o dy[n, o] w[i, o] for the inputs i in [i0, i1) (overwrites them)
 * dense_bwd_weights: dw[i, o] += sum_n x[n, i] dy[n, o] for the rows i in [i0, i1), the samples
 *     added in order; db[o] += sum_n dy[n, o] (db may be NULL: a split passes it to one call).
 *     Splitting a layer's outputs or rows between threads leaves every value unchanged.
 * act_fwd: y = act(y) in place
 * act_bwd: dy *= act'(.) expressed through the activation's output y
 * bce_logits: Binary cross-entropy from logits z (stable: max(z,0) - z t + log1p(exp(-|z|))) against
 *     the smoothed target t = y (1 - smoothing) + 0.5 smoothing (smoothing 0: t = y exactly).
 *     Writes p = sigmoid(z) and dz = w (p - t) / n; returns sum(w l) through *loss_sum and sum(w [(p >
 *     0.5) == y]) (the unsmoothed label) and sum(w) through *acc_sum, *w_sum. weights may be NULL
 *     (all 1).
 * adam_update: Adam (Keras): m = b1 m + (1-b1) g; v = b2 v + (1-b2) g^2; w = keep w - lr_t m /
 *     (sqrt(v) + eps), keep = 1 - lr wd for AdamW's decoupled decay (1: Adam, bit for bit)
 * sgd_update: SGD (Keras): vel = mom vel - lr g; w += vel (nesterov: w += mom vel - lr g)
 * accumulate: dst[i] += src[i] (summing per-thread and per-rank gradient partials); one rounded
 *     add per element, so every tier matches the reference bit for bit
 * chan_sums: per channel of rows x c values (NHWC with rows = n h w), with d = x - shift[ch] (shift
 *     NULL: 0): s1[ch] += sum d, s2[ch] += sum d d. Rows are summed in float in blocks of
 *     PN_CHAN_BLOCK, each block's sum added to the double accumulators, so long sums keep their
 *     precision; every tier follows that order (mul then add, no FMA) and matches bit for bit
 * chan_grad_sums: as chan_sums: s_dy[ch] += sum dy, s_dyxc[ch] += sum dy (x - mean[ch])
 * chan_affine: y = x a[ch] + b[ch] (batch normalisation with folded statistics; y may be x)
 * chan_affine2: dx = dy a[ch] + (x - mean[ch]) b[ch] + d[ch] (batch normalisation's input gradient)
 * gap_fwd: y[n, ch] = (sum over the hw pixels of x[n, p, ch]) / hw, summed in pixel order
 * gap_bwd: dx[n, p, ch] = dy[n, ch] / hw (overwrites dx)
 * warp_bilinear_row: one output row of the augmentation's affine warp (lib/data/augment.c):
 *   bilinear samples of the 8-bit image src (rows `stride` bytes apart) at the n positions
 *   (y + c dy, x + c dx), c < n, in 32.32 fixed point (row, column; integer part in the
 *   high 32 bits), each with 0 <= y < (h - 1) 2^32 and 0 <= x < (w - 1) 2^32 so that its
 *   four neighbours are inside the image (the caller guarantees it; stride >= 2). With
 *   fy, fx the top 24 fraction bits as floats and p00..p11 the neighbours, in float:
 *   top = p00 + fx (p01 - p00), bot = p10 + fx (p11 - p10),
 *   o[c step] = (top + fy (bot - top)) scale, no fused multiply-add; step is 1 or -1
 *   (a horizontal flip). Every tier gives the reference's bits.
 * pil_brightness: Keras' apply_brightness_shift on the n finite values x (0..255 from the
 *   warp) in place, in float: mn, mx = min, max of x; if stretch or mn < 0 or mx > 255,
 *   v = (x - mn) / (mx - mn) * 255 (no division when mx = mn), else v = x; u = v truncated
 *   to 0..255 (astype uint8); y = min(trunc(factor u), 255) (Pillow's blend with black,
 *   factor >= 0); if !stretch and (mn < 0 or mx > 255), y = y / 255 (mx - mn) + mn;
 *   x = y rs. Every tier gives the reference's bits.
 */
/* Rows per float partial sum of chan_sums and chan_grad_sums. */
#define PN_CHAN_BLOCK 16

typedef enum pn_kernel_op {
#define PN_KERNEL_ENUM_(a, name, params) PN_KOP_##name,
    PN_KERNEL_OPS(PN_KERNEL_ENUM_, _)
#undef PN_KERNEL_ENUM_
        PN_KOP_COUNT
} pn_kernel_op;

typedef struct pn_kernels {
    const char *isa; /* the best tier applied: "scalar", "avx2", "avx512", "neon" */
#define PN_KERNEL_SLOT_(a, name, params) void(*name) params;
    PN_KERNEL_OPS(PN_KERNEL_SLOT_, _)
#undef PN_KERNEL_SLOT_
    /* per op (pn_kernel_op), the tier whose function fills the slot */
    const char *impl[PN_KOP_COUNT];
    int lanes; /* floats per vector of the best tier applied (1: scalar) */
} pn_kernels;

/* An op's name ("conv2d_fwd"), NULL if op is out of range. */
const char *pn_kernel_op_name(pn_kernel_op op);

/* Slot op of table k as a generic pointer (for comparing tiers). */
void (*pn_kernel_fn(const pn_kernels *k, pn_kernel_op op))(void);

/* Coverage. The SIMD kernels handle every shape of their op except:
 *  - conv2d_bwd_data: needs kw * oc * lanes <= PN_SIMD_WT_FLOATS (its
 *    transposed kernel row on the stack: kw * oc <= 768 at AVX-512, 1536 at
 *    AVX2, 3072 at NEON);
 *  - conv2d_pool2_bwd_filter / conv2d_pool2_bwd_data: pn_pool2_bwd_fast()
 *    (the layers use them only there);
 *  - warp_bilinear_row: rows shorter than one vector, and images whose byte
 *    offsets reach 2^31 (pn_warp_fits_i32(), lanes use 32-bit offsets); the
 *    last n % lanes samples of a row also take the reference's loop.
 * Elsewhere they call the scalar reference. pn_kernel_falls_back() says
 * whether k's op runs the reference for a conv shape (0 for a slot that is the
 * reference itself, and for ops without conv shapes, which never fall back). */
#define PN_SIMD_WT_FLOATS 12288

static inline int pn_simd_bwd_data_fits(const pn_conv2d_shape *s, int lanes)
{
    return (size_t)s->kw * (size_t)s->oc * (size_t)lanes <= PN_SIMD_WT_FLOATS;
}

int pn_kernel_falls_back(const pn_kernels *k, pn_kernel_op op, const pn_conv2d_shape *s);

/* Whether the conv2d_pool2_bwd_* kernels have fast paths for this conv (3x3,
 * stride 1; elsewhere the layer rebuilds the conv-sized gradient and uses
 * conv2d_bwd_filter / conv2d_bwd_data), and the scratch floats they need (the
 * kernel or its gradient transposed, input channels in vector-wide slices). */
#define PN_POOL2_MAX_OC 1024 /* output channels of the fast paths (their stack lists) */

static inline int pn_pool2_bwd_fast(const pn_conv2d_shape *s)
{
    return s->kh == 3 && s->kw == 3 && s->sh == 1 && s->sw == 1 && s->oc <= PN_POOL2_MAX_OC;
}

static inline size_t pn_pool2_bwd_scratch(const pn_conv2d_shape *s)
{
    /* input channels rounded up to a 16-lane vector */
    return (size_t)s->kh * (size_t)s->kw * (((size_t)s->ic + 15) & ~(size_t)15) * (size_t)s->oc + 16;
}

/* Whether every byte warp_bilinear_row reads for these positions lies below
 * offset 2^31 - 1, so 32-bit lane offsets cannot overflow. */
static inline int pn_warp_fits_i32(int32_t stride, int64_t y, int64_t x, int64_t dy, int64_t dx, int32_t n)
{
    const int64_t y1 = y + dy * (int64_t)(n - 1), x1 = x + dx * (int64_t)(n - 1);
    const int64_t ymax = (y > y1 ? y : y1) / 4294967296, xmax = (x > x1 ? x : x1) / 4294967296;
    return (ymax + 1) * (int64_t)stride + xmax + 1 < 2147483647;
}

/* Winograd F(4x4, 3x3) blocks (conv2d_pool2_wino_fwd): 3x3 stride-1 convs
 * without padding and with enough input channels for the transforms to pay
 * (a grayscale first layer stays direct). PN_WINO_TILES patches go through
 * the transforms and the 36 small GEMMs together. */
#define PN_WINO_TILES 24
#define PN_WINO_MIN_IC 8

static inline int pn_wino_ok(const pn_conv2d_shape *s)
{
    return s->kh == 3 && s->kw == 3 && s->sh == 1 && s->sw == 1 && s->pad_top == 0 && s->pad_left == 0 &&
           s->ic >= PN_WINO_MIN_IC;
}

/* floats of the transformed kernel, v[36][ic][oc] */
static inline size_t pn_wino_weights_size(const pn_conv2d_shape *s)
{
    return (size_t)36 * (size_t)s->ic * (size_t)s->oc;
}


/* Floats between the 36 position planes of the transformed input / the
 * products: PN_WINO_TILES patches' channels plus one cache line, so the
 * planes do not all fall into the same few L1 sets (24 x 32 floats = 3 KiB
 * apart would use 4 of 64). */
static inline size_t pn_wino_plane(int32_t channels) { return (size_t)PN_WINO_TILES * (size_t)channels + 16; }

/* the transformed input and the products of PN_WINO_TILES patches */
static inline size_t pn_wino_scratch(const pn_conv2d_shape *s)
{
    return (size_t)36 * (pn_wino_plane(s->ic) + pn_wino_plane(s->oc));
}

/* The scalar reference table. */
extern const pn_kernels pn_kernels_ref;

/* The table in use: the best tier this CPU supports, capped by the
 * PNEUMO_ISA environment variable. Thread-safe. */
const pn_kernels *pn_kernels_get(void);

/* Output size of a conv/pool along one axis, and the padding before it, with
 * TensorFlow's rules ('same': ceil(in / stride), pad split with the smaller half
 * first). Returns 0 if the window does not fit a 'valid' input. */
int32_t pn_window_out(int32_t in, int32_t k, int32_t stride, int same, int32_t *pad_before);

#endif
