/* Internal layout of pneumo_model. */
#ifndef PN_MODEL_MODEL_H
#define PN_MODEL_MODEL_H

#include "format/json.h"
#include "layers/layer.h"

#define PN_MAX_THREADS 64
#include "pneumo/model.h"
#include "pneumo/model_info.h"
#include "pneumo/image.h"

/* The model card (pneumo/model_info.h): what serving needs besides weights. */
typedef struct pn_card {
    char class_names[2][PNEUMO_CLASS_NAME_MAX + 1];
    int32_t resample; /* pneumo_resample */
    float rescale;
    float threshold;
    float temperature; /* the output logit is divided by it in inference; 1: none */
    int32_t epochs;    /* -1: unknown */
    int64_t class_counts[2];
    double val_loss, val_accuracy, val_auc; /* NaN: unknown */
    char library_version[32];               /* of the file it was loaded from; "" if never saved */
    char training_settings[PNEUMO_TRAINING_SETTINGS_MAX + 1]; /* "" if none */
} pn_card;

/* Weights shared between a model and its inference clones: the reference
 * count of m->params (1 while a model has no clone). */
typedef struct pn_shared_weights pn_shared_weights;

/* One layer's weights folded with the BatchNormalization before and/or after
 * it for inference (lib/model/exec.c): in buf the folded kernel and bias,
 * then a copy of every value they were folded from, so that a pass refolds
 * only when one of those changed (weights written through parameter views,
 * an optimizer step, trained statistics). */
typedef struct pn_fold {
    float *buf;
    size_t cap; /* floats in buf */
    int valid;  /* buf holds a fold of what it copied */
} pn_fold;

struct pneumo_model {
    uint64_t id; /* unique per process: optimizers bind to it */
    uint64_t seed;
    pn_dims input;

    pn_layer *layers;
    int32_t nlayers;
    size_t layers_cap;

    /* All parameters in one aligned arena, each tensor starting on a 64-byte
     * boundary (padding stays zero), gradients in a twin arena. Optimizers
     * update the whole arena as one vector. */
    float *params, *grads; /* grads NULL in an inference clone until Grad-CAM needs it */
    pn_shared_weights *shared;
    /* Non-trainable state (BatchNormalization's moving statistics): outside
     * the arenas, so no optimizer or gradient touches it; shared with the
     * clones and freed with the parameters. */
    float *state;
    int64_t state_size; /* floats */
    int64_t arena_size; /* floats, including padding */
    int64_t nparams;    /* trainable values, excluding padding */
    int64_t act_values; /* activation values per sample, summed over layers */
    int64_t max_params; /* 0, or a budget set by the loader (the file's size / 4) */

    /* Per-batch buffers, grown to the largest batch seen. */
    int32_t batch_cap;
    float **acts;   /* output of each layer (NULL for a fused Conv2D) */
    float *gbuf[2]; /* ping-pong gradients w.r.t. activations */

    /* Fusion plan, made with the batch buffers: fused[i] is 1 when layer i (a
     * Conv2D) runs as one unit with the MaxPooling2D at i + 1 and its output
     * is never stored (lib/layers/fused.h). no_fusion turns it off (tests). */
    uint8_t *fused;
    int no_fusion;
    /* Kernel table of this model's passes and updates; NULL: pn_kernels_get()
     * (the CPU's best tier, capped by PNEUMO_ISA). Tests set it per model. */
    const struct pn_kernels *kernels;
    struct pn_fold *folds;  /* per layer, made with the batch buffers: inference's
                             * weights folded with BatchNormalizations (exec.c) */
    float *image_in;        /* predict_image's input (input h x w floats), kept until destroy */
    float *scratch;         /* per-thread strips of fused layers: threads x scratch_stride */
    int64_t scratch_stride; /* floats */

    uint64_t train_steps;  /* forward passes in training mode (dropout stream) */
    float label_smoothing; /* of the training loss (pneumo_fit_options); 0 outside fit */
    int64_t batch_pos0;    /* pn_run.pos0 of the passes: 0, or a data-parallel part's offset */
    double *bn_stats;      /* pn_run.bn_stats of the passes: NULL, or a data-parallel part's */

    /* Threads: a pool per model, created on first use with `threads` workers
     * (0 until set: online cores). */
    int32_t threads;
    struct pn_threadpool *pool;
    float *thread_grads; /* (threads - 1) x thread_grads_stride floats */

    int64_t thread_grads_stride;

    pn_card card;
};

/* Add a configured layer (from pn_*_setup): names it Keras-style, extends the
 * parameter arena and initialises the weights from (seed, layer index). */
pneumo_status pn_model_append(pneumo_model *m, pn_layer *l);

/* STATE error unless the model's weights are its own alone (no inference
 * clone shares them): guards every call that writes the weights. */
pneumo_status pn_model_check_exclusive(const pneumo_model *m, const char *fn);

/* 1 if the model ends in one sigmoid unit (what the loss and temperature
 * scaling need). */
int pn_model_sigmoid_head(const pneumo_model *m);

/* Allocate the gradient arena where an inference clone lacks one. */
pneumo_status pn_model_ensure_grads(pneumo_model *m);

/* The defaults of a new model's card. */
void pn_card_init(pn_card *c);

/* Card <-> model-file JSON ("model_card" metadata entry). Parsing checks every
 * field and leaves the card unchanged on failure. */
void pn_card_json(pn_buf *b, const pneumo_model *m, int with_model_facts);
pneumo_status pn_card_parse(pneumo_model *m, const char *text, const char *label);

/* Grad-CAM's pass (lib/model/gradcam.c): one sample x, every layer unfused
 * (direct convolution, outputs stored), inference mode, the last layer's
 * logit z; then backward of sign * z down to the output of `layer`. *act and
 * *grad point at that output and its gradient (valid until the model's next
 * pass). Leaves the model unfused until pn_model_set_fusion(m, 1). */
pneumo_status pn_model_explain_pass(pneumo_model *m, const float *x, int32_t layer, float sign,
                                    const float **act, const float **grad, float *logit);

/* A new (1, H, W, 1) tensor of img preprocessed by the model card (resize,
 * rescale); errors name `fn`. */
pneumo_status pn_model_image_tensor(const pneumo_model *m, const pneumo_image *img, pneumo_tensor **out,
                                    const char *fn);

/* Per-sample output dims of the last layer (the input dims for an empty model). */
const pn_dims *pn_model_out_dims(const pneumo_model *m);

/* The kernel table of m's passes, updates and gradient sums: m->kernels, or
 * pn_kernels_get() when unset. */
const struct pn_kernels *pn_model_kernels(const pneumo_model *m);

/* Outputs of the last layer for the last batch run (probabilities after a
 * predict or a loss computation); NULL before any. */
const float *pn_model_output(const pneumo_model *m);

/* Model files with one more metadata entry (fit checkpoints keep their state
 * there). Loading requires the entry and returns a malloc'd copy. */
pneumo_status pn_model_save_extra(const pneumo_model *m, const pneumo_optimizer *opt, const char *path,
                                  const char *extra_key, const char *extra_value);
pneumo_status pn_model_load_extra(const char *path, pneumo_model **model, pneumo_optimizer **opt,
                                  const char *extra_key, char **extra_value);

/* A data-parallel part (lib/train/fit.c): forward and backward of samples
 * pos0 .. pos0 + n - 1 of a global batch of `norm` samples at the current
 * training step, the loss normalised by `norm` (so the parts' gradients add up
 * to the global batch's), without counting a step. n == 0 zeroes the
 * gradients. *loss_sum receives sum(w_i * l_i), *correct the correct
 * predictions. The BatchNormalizations leave their moving statistics and
 * write their batch statistics into bn_stats (state_size doubles, laid out as
 * the state arena) for pn_model_move_stats(). pn_model_update() then applies
 * the (summed) gradients and counts the step. */
pneumo_status pn_model_part_gradients(pneumo_model *m, const pneumo_tensor *x, const pneumo_tensor *labels,
                                      const pneumo_tensor *weights, int64_t pos0, int64_t norm,
                                      double *bn_stats, double *loss_sum, int64_t *correct);
/* Move every BatchNormalization's moving statistics by the batch statistics
 * a part's pn_model_part_gradients() wrote into stats: the bits of that
 * part's forward moving them itself. */
void pn_model_move_stats(pneumo_model *m, const double *stats);
pneumo_status pn_model_update(pneumo_model *m, pneumo_optimizer *opt, const char *fn);

/* Free per-batch buffers (used when the model changes). */
void pn_model_free_batch(pneumo_model *m);

/* Run Conv2D + MaxPooling2D pairs fused (the default) or layer by layer;
 * results are the same (tests compare them). */
void pn_model_set_fusion(pneumo_model *m, int on);

/* Called before (end 0) and after (end 1) each step of a pass, a step being
 * layers first..last (a fused pair is one step). In the shared library this is
 * the no-op of model/step_event.c; the internal static library has
 * model/test_hooks.c instead, where pneumo-bench times the steps. */
void pn_model_step_event(const pneumo_model *m, int32_t first, int32_t last, int backward, int end);

#endif
