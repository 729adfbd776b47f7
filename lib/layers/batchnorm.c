/* BatchNormalization (Keras semantics) over the channels, the last axis.
 *
 * Training: each channel is normalised by the batch's mean and biased
 * variance over N, H, W, y = gamma (x - mean) / sqrt(var + eps) + beta, and
 * the moving statistics move towards the batch's as Keras' assign_moving_average
 * does, moving -= (moving - batch) (1 - momentum), with the variance made
 * unbiased (times M / (M - 1), M = N H W) as TensorFlow's fused batch-norm
 * kernel (the one Keras uses for 4-D NHWC inputs) and PyTorch do. Inference
 * normalises by the moving statistics. The layer sees the whole batch on one
 * thread (pn_layer_ops.whole_batch): its statistics are over every sample.
 * A data-parallel part's forward (pn_run.bn_stats) writes the batch
 * statistics instead, and pn_batchnorm_move applies them once every rank has
 * every part's, in part order. */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "core/error.h"
#include "layers/layer.h"

/* Scratch (floats, in l->mask): mean, invstd, a, b, d (c each), one c of
 * padding, then 2 c doubles of sums. The mean and invstd of the last forward
 * pass stay there for backward. */
#define SCRATCH_FLOATS(c) ((size_t)(c)*10)

typedef struct bn_scratch {
    float *mean, *invstd, *a, *b, *d;
    double *s1, *s2;
} bn_scratch;

static bn_scratch scratch_of(const pn_layer *l)
{
    const size_t c = (size_t)l->out.c;
    bn_scratch s;
    s.mean = l->mask;
    s.invstd = l->mask + c;
    s.a = l->mask + 2 * c;
    s.b = l->mask + 3 * c;
    s.d = l->mask + 4 * c;
    s.s1 = (double *)(void *)(l->mask + 6 * c);
    s.s2 = s.s1 + c;
    return s;
}

/* The statistics inference uses: the moving mean and 1 / sqrt(var + eps). */
static void moving_stats(const pn_layer *l, const bn_scratch *s)
{
    for (int32_t c = 0; c < l->out.c; c++) {
        s->mean[c] = l->mmean[c];
        s->invstd[c] = (float)(1.0 / sqrt((double)l->mvar[c] + (double)l->epsilon));
    }
}

/* moving -= (moving - batch) (1 - momentum) for channel c, var unbiased */
static void move_channel(pn_layer *l, int32_t c, double mean, double var)
{
    const double keep = 1.0 - (double)l->momentum;
    l->mmean[c] = (float)((double)l->mmean[c] - ((double)l->mmean[c] - mean) * keep);
    l->mvar[c] = (float)((double)l->mvar[c] - ((double)l->mvar[c] - var) * keep);
}

void pn_batchnorm_move(pn_layer *bn, const double *stats)
{
    for (int32_t c = 0; c < bn->out.c; c++)
        move_channel(bn, c, stats[c], stats[bn->out.c + c]);
}

static pneumo_status bn_forward(pn_layer *l, const pn_run *run, int32_t n, const float *x, float *y)
{
    const int32_t nc = l->out.c;
    const size_t rows = (size_t)n * (size_t)l->out.h * (size_t)l->out.w;
    bn_scratch s;
    pneumo_status st = pn_layer_reserve_scratch(l, SCRATCH_FLOATS(nc), 0, 1);
    if (st != PNEUMO_OK)
        return st;
    s = scratch_of(l);
    if (run->training) {
        const double count = (double)rows, unbias = rows > 1 ? count / (count - 1.0) : 1.0;
        memset(s.s1, 0, 2 * (size_t)nc * sizeof(double));
        run->k->chan_sums(rows, nc, x, NULL, s.s1, s.s2);
        for (int32_t c = 0; c < nc; c++)
            s.mean[c] = (float)(s.s1[c] / count);
        /* second pass about the mean: the variance without cancellation */
        memset(s.s1, 0, 2 * (size_t)nc * sizeof(double));
        run->k->chan_sums(rows, nc, x, s.mean, s.s1, s.s2);
        for (int32_t c = 0; c < nc; c++) {
            const double dm = s.s1[c] / count;
            double var = s.s2[c] / count - dm * dm;
            const double mean = (double)s.mean[c] + dm;
            if (var < 0.0)
                var = 0.0;
            s.mean[c] = (float)mean;
            s.invstd[c] = (float)(1.0 / sqrt(var + (double)l->epsilon));
            if (run->bn_stats) {
                run->bn_stats[l->s_off + c] = mean;
                run->bn_stats[l->s_off + nc + c] = var * unbias;
            } else {
                move_channel(l, c, mean, var * unbias);
            }
        }
    } else {
        moving_stats(l, &s);
    }
    for (int32_t c = 0; c < nc; c++) {
        const float g = l->nw ? l->w[c] : 1.0f, beta = l->nb ? l->b[c] : 0.0f;
        s.a[c] = g * s.invstd[c];
        s.b[c] = beta - s.mean[c] * s.a[c];
    }
    run->k->chan_affine(rows, nc, x, s.a, s.b, y);
    return PNEUMO_OK;
}

static pneumo_status bn_backward(pn_layer *l, const pn_run *run, int32_t n, const float *x, const float *y,
                                 float *dy, float *dx)
{
    const int32_t nc = l->out.c;
    const size_t rows = (size_t)n * (size_t)l->out.h * (size_t)l->out.w;
    const double count = (double)rows;
    float *dgamma = run->dw ? run->dw : l->dw, *dbeta = run->db ? run->db : l->db;
    bn_scratch s;
    pneumo_status st = pn_layer_reserve_scratch(l, SCRATCH_FLOATS(nc), 0, 1);
    (void)y;
    if (st != PNEUMO_OK)
        return st;
    s = scratch_of(l);
    if (!run->training)
        moving_stats(l, &s);
    memset(s.s1, 0, 2 * (size_t)nc * sizeof(double));
    run->k->chan_grad_sums(rows, nc, x, dy, s.mean, s.s1, s.s2);
    for (int32_t c = 0; c < nc; c++) {
        const double g = l->nw ? (double)l->w[c] : 1.0, is = (double)s.invstd[c];
        if (l->nw)
            dgamma[c] += (float)(s.s2[c] * is);
        if (l->nb)
            dbeta[c] += (float)s.s1[c];
        s.a[c] = (float)(g * is);
        /* through the batch mean and variance (training only: inference
         * statistics are constants) */
        s.b[c] = run->training ? (float)(-g * is * is * is * s.s2[c] / count) : 0.0f;
        s.d[c] = run->training ? (float)(-g * is * s.s1[c] / count) : 0.0f;
    }
    if (dx)
        run->k->chan_affine2(rows, nc, dy, x, s.mean, s.a, s.b, s.d, dx);
    return PNEUMO_OK;
}

void pn_batchnorm_fold(const pn_layer *conv, const pn_layer *bn, float *wf, float *bf)
{
    const int32_t co = conv->filters;
    const int64_t taps = conv->nw / co;
    for (int32_t c = 0; c < co; c++) {
        const double a = (bn->nw ? (double)bn->w[c] : 1.0) / sqrt((double)bn->mvar[c] + (double)bn->epsilon);
        const double b0 = conv->use_bias ? (double)conv->b[c] : 0.0;
        bf[c] = (float)((b0 - (double)bn->mmean[c]) * a + (bn->nb ? (double)bn->b[c] : 0.0));
        for (int64_t t = 0; t < taps; t++)
            wf[t * co + c] = (float)((double)conv->w[t * co + c] * a);
    }
}

void pn_batchnorm_fold_input(const pn_layer *bn, const pn_layer *l, double *ab, float *wf, float *bf)
{
    const int32_t nc = bn->out.c, co = l->out.c;
    const int64_t rows = l->nw / co;
    double *a = ab, *b = ab + nc;
    for (int32_t c = 0; c < nc; c++) {
        a[c] = (bn->nw ? (double)bn->w[c] : 1.0) / sqrt((double)bn->mvar[c] + (double)bn->epsilon);
        b[c] = (bn->nb ? (double)bn->b[c] : 0.0) - (double)bn->mmean[c] * a[c];
    }
    for (int32_t o = 0; o < co; o++) {
        double sum = l->use_bias ? (double)l->b[o] : 0.0;
        for (int64_t r = 0; r < rows; r++)
            sum += (double)l->w[r * co + o] * b[r % nc];
        bf[o] = (float)sum;
    }
    for (int64_t r = 0; r < rows; r++)
        for (int32_t o = 0; o < co; o++)
            wf[r * co + o] = (float)((double)l->w[r * co + o] * a[r % nc]);
}

static const pn_layer_ops batchnorm_ops = {
    .keras_class = "BatchNormalization",
    .base_name = "batch_normalization",
    .forward = bn_forward,
    .backward = bn_backward,
    .destroy = pn_layer_destroy,
    .whole_batch = 1,
};

pneumo_status pn_batchnorm_setup(pn_layer *l, const pn_dims *in, const pneumo_batchnorm_params *p)
{
    const int32_t last = in->rank == 3 ? 3 : 1;
    memset(l, 0, sizeof *l);
    if (p->axis != -1 && p->axis != last) {
        char shape[64];
        if (in->rank == 3)
            snprintf(shape, sizeof shape, "(None, %d, %d, %d)", in->h, in->w, in->c);
        else
            snprintf(shape, sizeof shape, "(None, %d)", in->c);
        return pn_error(
            PNEUMO_ERR_INVALID_ARG,
            "BatchNormalization: axis %d of input %s is not the channels axis (-1 or %d), the only "
            "one supported",
            p->axis, shape, last);
    }
    if (!(p->momentum >= 0.0f && p->momentum <= 1.0f))
        return pn_error(PNEUMO_ERR_INVALID_ARG, "BatchNormalization: momentum %g outside [0, 1]",
                        (double)p->momentum);
    if (!(p->epsilon > 0.0f && p->epsilon < 1e30f))
        return pn_error(PNEUMO_ERR_INVALID_ARG, "BatchNormalization: epsilon %g must be finite and > 0",
                        (double)p->epsilon);
    if ((p->center != 0 && p->center != 1) || (p->scale != 0 && p->scale != 1))
        return pn_error(PNEUMO_ERR_INVALID_ARG, "BatchNormalization: center %d and scale %d must be 0 or 1",
                        p->center, p->scale);
    l->ops = &batchnorm_ops;
    l->kind = PN_LAYER_BATCHNORM;
    l->in = *in;
    l->out = *in;
    l->momentum = p->momentum;
    l->epsilon = p->epsilon;
    l->nw = p->scale ? in->c : 0;
    l->nb = p->center ? in->c : 0;
    l->use_bias = p->center;
    l->w_ndim = 1;
    l->w_shape[0] = in->c;
    l->b_shape[0] = in->c;
    l->ns = 2 * (int64_t)in->c;
    return PNEUMO_OK;
}
