/* Layers: the model is an array of pn_layer, each with a table of operations.
 *
 * A layer sees per-sample dimensions (h, w, c); flat layers (after Flatten)
 * have rank 1 and h = w = 1. Parameters live in the model's arenas; a layer
 * holds offsets into them and pointers the model refreshes whenever an arena
 * moves. Forward writes the layer's output for a batch; backward receives
 * dL/dy (which it may overwrite) and writes dL/dx and accumulates dL/dw. */
#ifndef PN_LAYERS_LAYER_H
#define PN_LAYERS_LAYER_H

#include "core/rng.h"
#include "kernels/kernels.h"
#include "pneumo/model.h"

typedef enum pn_layer_kind {
    PN_LAYER_CONV2D = 1,
    PN_LAYER_MAXPOOL2D = 2,
    PN_LAYER_FLATTEN = 3,
    PN_LAYER_DENSE = 4,
    PN_LAYER_ACTIVATION = 5,
    PN_LAYER_DROPOUT = 6,
    PN_LAYER_BATCHNORM = 7,
    PN_LAYER_GAP2D = 8
} pn_layer_kind;

typedef struct pn_dims {
    int32_t rank; /* 3: (h, w, c); 1: (c) with h = w = 1 */
    int32_t h, w, c;
} pn_dims;

static inline int64_t pn_dims_size(const pn_dims *d) { return (int64_t)d->h * d->w * d->c; }

/* Settings of one forward/backward pass. */
typedef struct pn_run {
    const pn_kernels *k;
    int training;         /* dropout active */
    int skip_act;         /* leave the fused activation out (the loss works on logits) */
    uint64_t seed;        /* model seed, for dropout masks */
    uint64_t step;        /* training step, for dropout masks */
    int64_t sample0;      /* batch index of the first sample this call sees (threads
                        * split a batch; x, y and scratch are offset already) */
    int64_t pos0;         /* position of the batch's first sample in its global batch
                        * (a data-parallel part); keys dropout masks with sample0 */
    float *dw, *db;       /* where backward accumulates parameter gradients:
                        * the layer's own (NULL) or a thread's partial sums */
    int32_t part, nparts; /* fused forward: take row strips part, part + nparts,
                           * ...; dense: take share `part` of the outputs
                           * (forward) or input rows (backward) of the whole
                           * batch (nparts 0 or 1: all of it) */
    double *bn_stats;     /* NULL: a BatchNormalization's training forward moves its
                           * moving statistics; else it leaves them and writes its
                           * batch mean and unbiased variance at bn_stats + s_off
                           * (laid out as the state arena) for pn_batchnorm_move */
} pn_run;

typedef struct pn_layer pn_layer;

typedef struct pn_layer_ops {
    const char *keras_class; /* "Conv2D": summary and model files */
    const char *base_name;   /* "conv2d": Keras' automatic layer names */
    pneumo_status (*forward)(pn_layer *l, const pn_run *run, int32_t n, const float *x, float *y);
    /* dx may be NULL (first layer: the input gradient is not needed) */
    pneumo_status (*backward)(pn_layer *l, const pn_run *run, int32_t n, const float *x, const float *y,
                              float *dy, float *dx);
    void (*destroy)(pn_layer *l); /* frees scratch; NULL if none */
    int whole_batch;              /* forward and backward see the whole batch on one thread */
} pn_layer_ops;

struct pn_layer {
    const pn_layer_ops *ops;
    pn_layer_kind kind;
    int32_t index;
    char name[64];
    char w_name[80], b_name[80]; /* "<name>/kernel", "<name>/bias" */
    pn_dims in, out;

    /* settings (which are used depends on the kind) */
    int32_t filters, kh, kw, sh, sw, padding, pad_top, pad_left;
    int32_t units, use_bias;
    pn_act act;
    float rate;
    float momentum, epsilon; /* BatchNormalization */

    /* non-trainable state (BatchNormalization's moving mean and variance, c
     * floats each): offset into the model's state arena, count and views */
    int64_t s_off, ns;
    float *mmean, *mvar;

    /* parameters: offsets (in floats) into the model arenas, and views */
    int64_t w_off, b_off, nw, nb;
    int64_t w_shape[4], b_shape[1];
    int32_t w_ndim;
    float *w, *b, *dw, *db;

    /* per-batch scratch owned by the layer */
    uint8_t *argmax;
    float *mask;
    size_t scratch_cap; /* elements allocated in argmax / mask */
};

/* Set up a layer of each kind on input dims `in`: validates the settings,
 * computes the output dims and parameter shapes. `l` is zeroed first. */
pneumo_status pn_conv2d_setup(pn_layer *l, const pn_dims *in, const pneumo_conv2d_params *p);
/* The kernel shape of Conv2D layer l for a batch of n. */
void pn_conv2d_shape_of(const pn_layer *l, int32_t n, pn_conv2d_shape *s);
/* Whether a kernel of table k that conv layer l's training step uses runs the
 * scalar reference for l's shape at batch n (kernels.h: coverage); fused_pool:
 * l runs fused with the MaxPooling2D after it. Returns that op, or -1 when the
 * tier covers every kernel of the step (and for other layers). With msg, it
 * writes a sentence naming the layer, the op, the shape and the tier. */
int pn_conv2d_fallback(const pn_kernels *k, const pn_layer *l, int32_t n, int fused_pool, char *msg,
                       size_t len);
pneumo_status pn_maxpool2d_setup(pn_layer *l, const pn_dims *in, const pneumo_maxpool2d_params *p);
pneumo_status pn_flatten_setup(pn_layer *l, const pn_dims *in);
pneumo_status pn_dense_setup(pn_layer *l, const pn_dims *in, int32_t units, pneumo_activation act);
/* Dense layers split a batch's work themselves: each of the parts (run->part
 * of run->nparts) sees the whole batch and takes a share of the outputs
 * (forward) or of the input rows (backward), so every value is the same for
 * any split. pn_dense_parts: the parts worth running for n samples on nth
 * threads (1: no split). A split backward needs the activation's derivative
 * applied to all of dy first (pn_dense_act_bwd) and run->skip_act set. */
int pn_dense_parts(const pn_layer *l, int32_t n, int nth);
void pn_dense_act_bwd(const pn_layer *l, const pn_run *run, int32_t n, const float *y, float *dy);
pneumo_status pn_activation_setup(pn_layer *l, const pn_dims *in, pneumo_activation act);
pneumo_status pn_dropout_setup(pn_layer *l, const pn_dims *in, float rate);
pneumo_status pn_batchnorm_setup(pn_layer *l, const pn_dims *in, const pneumo_batchnorm_params *p);
pneumo_status pn_gap2d_setup(pn_layer *l, const pn_dims *in);

/* Inference folding of a Conv2D followed by BatchNormalization: conv with
 * kernel w and bias b (NULL: none) into wf, bf, so that conv(x; wf, bf) equals
 * the pair's inference output. */
void pn_batchnorm_fold(const pn_layer *conv, const pn_layer *bn, float *wf, float *bf);

/* Move BatchNormalization bn's moving statistics towards the batch mean
 * stats[0..c) and unbiased variance stats[c..2c) that a training forward with
 * pn_run.bn_stats wrote at stats, the same bits as that forward moving them. */
void pn_batchnorm_move(pn_layer *bn, const double *stats);

/* Inference folding of a BatchNormalization before a Conv2D or Dense `l`
 * (with only Dropout, GlobalAveragePooling2D or Flatten between, which
 * commute with a per-channel affine): l with kernel w and bias b (l->use_bias
 * 0: none) into wf, bf, so that l(x; wf, bf) equals l(a x + b) with the
 * BatchNormalization's a, b. Row r of the kernel (its input index, the kernel
 * seen as rows of out.c outputs) takes channel r % c. 'valid' convolutions
 * only: padded zeros would become b. ab: 2 c doubles of scratch; wf, bf must
 * not alias l's weights. */
void pn_batchnorm_fold_input(const pn_layer *bn, const pn_layer *l, double *ab, float *wf, float *bf);

/* Keras glorot_uniform for the kernel, zeros for the bias. */
void pn_layer_init_params(pn_layer *l, pn_rng *rng);

/* Fan-in and fan-out of the layer's kernel as Keras computes them. */
void pn_layer_fans(const pn_layer *l, double *fan_in, double *fan_out);

/* Per-sample scratch of a layer for n samples (0 if it keeps none); the
 * model reserves it before a parallel pass so threads never allocate. */
size_t pn_layer_scratch_per_sample(const pn_layer *l);

/* Grow the layer's scratch to `count` elements (argmax bytes or mask floats). */
pneumo_status pn_layer_reserve_scratch(pn_layer *l, size_t count, int want_argmax, int want_mask);

void pn_layer_destroy(pn_layer *l);

/* Names used in summaries and model files. */
const char *pn_act_name(pn_act act);
int pn_act_from_name(const char *name, pn_act *out);
int pn_act_valid(int act);

#endif
