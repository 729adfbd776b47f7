/* libpneumo — fitting and evaluating a model on datasets, with Keras' callbacks.
 *
 * pneumo_model_fit() runs epochs of training steps over a training dataset,
 * evaluates a validation dataset after each epoch, applies EarlyStopping and
 * ReduceLROnPlateau with tf.keras' exact rules, optionally saves the best model,
 * and records a history. Nothing is printed: progress text goes to the
 * caller's `progress` write callback, if any. */
#ifndef PNEUMO_TRAIN_H
#define PNEUMO_TRAIN_H

#include "pneumo/common.h"
#include "pneumo/dataset.h"
#include "pneumo/metrics.h"
#include "pneumo/model.h"
#include "pneumo/optim.h"

#ifdef __cplusplus
extern "C" {
#endif

/** Quantity a callback watches. */
typedef enum pneumo_monitor {
    PNEUMO_MONITOR_VAL_LOSS = 0,
    PNEUMO_MONITOR_VAL_ACCURACY = 1,
    PNEUMO_MONITOR_LOSS = 2,
    PNEUMO_MONITOR_ACCURACY = 3
} pneumo_monitor;

/** Direction of improvement; AUTO is min for losses and max for accuracies. */
typedef enum pneumo_monitor_mode {
    PNEUMO_MODE_AUTO = 0,
    PNEUMO_MODE_MIN = 1,
    PNEUMO_MODE_MAX = 2
} pneumo_monitor_mode;

/** Keras EarlyStopping. */
typedef struct pneumo_early_stopping_params {
    uint32_t size;                /**< sizeof(pneumo_early_stopping_params); set by the default function */
    int32_t enabled;              /**< default 0 */
    int32_t monitor;              /**< pneumo_monitor; default VAL_LOSS */
    int32_t mode;                 /**< pneumo_monitor_mode; default AUTO */
    int32_t patience;             /**< epochs without improvement; default 0 */
    double min_delta;             /**< default 0 */
    int32_t restore_best_weights; /**< default 0 */
    uint32_t reserved[8];         /**< zero */
} pneumo_early_stopping_params;

/** Keras ReduceLROnPlateau. */
typedef struct pneumo_reduce_lr_params {
    uint32_t size;        /**< sizeof(pneumo_reduce_lr_params); set by the default function */
    int32_t enabled;      /**< default 0 */
    int32_t monitor;      /**< default VAL_LOSS */
    int32_t mode;         /**< default AUTO */
    int32_t patience;     /**< default 10 */
    double factor;        /**< default 0.1, in (0, 1) */
    double min_delta;     /**< default 1e-4 */
    int32_t cooldown;     /**< default 0 */
    double min_lr;        /**< default 0 */
    uint32_t reserved[8]; /**< zero */
} pneumo_reduce_lr_params;

/** What a progress callback is told. */
typedef enum pneumo_fit_event_kind {
    PNEUMO_EVENT_EPOCH_BEGIN = 1,
    PNEUMO_EVENT_BATCH_END = 2,  /**< loss/accuracy: running means over the epoch so far */
    PNEUMO_EVENT_EPOCH_END = 3,  /**< all fields of the epoch, validation included */
    PNEUMO_EVENT_LR_CHANGED = 4, /**< ReduceLROnPlateau lowered lr (old_lr -> lr) */
    PNEUMO_EVENT_EARLY_STOP = 5  /**< training stops after this epoch */
} pneumo_fit_event_kind;

typedef struct pneumo_fit_event {
    int32_t kind;  /**< pneumo_fit_event_kind */
    int32_t epoch; /**< 0-based */
    int32_t epochs;
    int32_t reserved0;
    int64_t batch;   /**< batches done in this epoch */
    int64_t batches; /**< batches per epoch */
    double loss, accuracy;
    double val_loss, val_accuracy; /**< NaN before validation or without a validation set */
    double lr, old_lr;
    double seconds; /**< since the epoch began */
    uint32_t reserved[8];
} pneumo_fit_event;

/** Called on every event; return non-zero to stop training cleanly after the
 *  current batch (pneumo_model_fit then returns PNEUMO_ERR_CANCELLED, the model
 *  stays valid and the history keeps the finished epochs). */
typedef int (*pneumo_fit_callback)(const pneumo_fit_event *event, void *user);

typedef enum pneumo_class_weighting {
    PNEUMO_CLASS_WEIGHT_NONE = 0,
    PNEUMO_CLASS_WEIGHT_BALANCED = 1, /**< sklearn 'balanced' over the training set */
    PNEUMO_CLASS_WEIGHT_CUSTOM = 2    /**< class_weights[0..1] */
} pneumo_class_weighting;

/** Learning-rate schedule of fit, applied before every training step. */
typedef enum pneumo_lr_schedule {
    PNEUMO_LR_CONSTANT = 0, /**< the optimizer's rate, changed only by ReduceLROnPlateau */
    PNEUMO_LR_COSINE = 1    /**< linear warm-up, then cosine decay (see pneumo_fit_options) */
} pneumo_lr_schedule;

/** What a data-parallel run asks its driver to do (pneumo_data_parallel). */
typedef enum pneumo_collective_op {
    PNEUMO_COLLECTIVE_SEND = 1,     /**< send floats and doubles to rank `peer` with `tag` (GATHER
                                      exchange: a rank other than 0, the whole arena to rank 0;
                                      SLICED: every rank, rank peer's slice to peer). The buffers
                                      are reused as soon as the call returns: a non-blocking
                                      driver copies them first. */
    PNEUMO_COLLECTIVE_RECV = 2,     /**< receive into floats and doubles what rank `peer` sent to
                                      this rank with `tag` */
    PNEUMO_COLLECTIVE_BCAST = 3,    /**< every rank: rank 0's floats and doubles to all ranks (and
                                      complete every SEND still in flight) */
    PNEUMO_COLLECTIVE_SUM = 4,      /**< every rank: element-wise sum of the doubles over all ranks,
                                      result on every rank. The library uses it only where the
                                      order cannot change the result (flags, counts, and arrays
                                      in which each element has one non-zero contribution). */
    PNEUMO_COLLECTIVE_ALLGATHER = 5 /**< SLICED exchange, every rank: floats is the whole arena and
                                      holds this rank's slice (pneumo_exchange); on return it
                                      holds every rank's slice (e.g. MPI_Allgatherv in place);
                                      and complete every SEND still in flight. No doubles */
} pneumo_collective_op;

/** How the parts' gradients are added (pneumo_data_parallel.exchange). Both
 *  add every element over the parts in part order, so they give the same bits.
 *  An arena of n floats (a multiple of 16) is cut into `ranks` slices: slice
 *  j is [start(j), start(j + 1)) with start(j) = 16 * ((n / 16) * j / ranks)
 *  in integer arithmetic (start(ranks) = n). */
typedef enum pneumo_exchange {
    PNEUMO_EXCHANGE_GATHER = 0, /**< every part to rank 0 (SEND/RECV), which adds them and
                                     broadcasts the sum (BCAST): rank 0's link carries
                                     (parts - 1) arenas per step */
    PNEUMO_EXCHANGE_SLICED = 1  /**< a reduce-scatter and an all-gather: every rank sends slice j
                                     of each of its parts to rank j (SEND), receives its own
                                     slice of the other parts (RECV), adds them in part order and
                                     all ranks exchange their slices of the sum (ALLGATHER):
                                     every link carries about 2 (ranks - 1) / ranks arenas */
} pneumo_exchange;

/** One collective operation; valid during the call only. */
typedef struct pneumo_collective {
    uint32_t size; /**< sizeof(pneumo_collective) */
    int32_t op;    /**< pneumo_collective_op */
    int32_t peer;  /**< RECV: the sending rank; SEND: the receiving rank */
    int32_t tag;   /**< SEND/RECV: the part of the global batch (0..parts-1) */
    float *floats; /**< may be NULL when nfloats is 0 */
    int64_t nfloats;
    double *doubles;  /**< may be NULL when ndoubles is 0 */
    int64_t ndoubles; /**< depends on the model: a training step's SEND and RECV carry 5
                           plus 2 per BatchNormalization channel, its BCAST ranks + 4 plus
                           2 per channel and part; a driver must not assume a fixed count */
    uint32_t reserved[8];
} pneumo_collective;

/** The driver's collectives (e.g. MPI: MPI_Isend/MPI_Recv/MPI_Bcast/
 *  MPI_Allreduce). Every rank makes the same sequence of SUM and BCAST calls.
 *  Return PNEUMO_OK, or an error (with a message, e.g. from the MPI library)
 *  that fit returns as is; a driver should then stop every rank (MPI_Abort),
 *  since the others may wait for this one. */
typedef pneumo_status (*pneumo_collective_fn)(const pneumo_collective *c, void *user);

/** Data-parallel training and evaluation over `ranks` processes (ranks), the
 *  way Horovod and PyTorch DDP do it, with the transport left to the caller so
 *  that the library needs no MPI. Every rank holds the same model and
 *  optimizer (same seed, or weights copied from rank 0) and opens the same
 *  datasets. Each global batch of batch_size images (the last one the
 *  remainder) is cut into `parts` contiguous parts (pneumo_dataset_begin_epoch_shard);
 *  rank r computes parts [parts*r/ranks, parts*(r+1)/ranks), each part's
 *  gradient of the loss normalised by the global batch size, and the parts
 *  are added in part order, by default on rank 0 (SEND to it, RECV there,
 *  BCAST of the sum; PNEUMO_EXCHANGE_GATHER), or slice by slice on every rank
 *  (PNEUMO_EXCHANGE_SLICED: SEND, RECV, ALLGATHER), before every rank
 *  applies the same optimizer update. Since the sum is formed in part order
 *  whatever the rank count and exchange, a run with a fixed `parts` gives bit-identical
 *  weights, BatchNormalization moving statistics (moved by the parts' batch
 *  statistics in part order, which travel with the gradients), losses and
 *  metrics on every rank count from 1 to `parts` (for the
 *  same threads per rank); parts == ranks == 1 is bit-identical to a run
 *  without data parallelism. Validation is sharded the same way and its
 *  predictions, per-part losses and counts are gathered exactly (SUM), so
 *  val_loss, val_accuracy and the model card's AUC, and thus EarlyStopping
 *  and ReduceLROnPlateau, are the same on every rank and rank count. Only
 *  rank 0 writes checkpoint_path and best_model_path and prints `progress`
 *  (other ranks ignore them). A failure on one rank (an unreadable image in
 *  its shard, no memory, a failed save on rank 0) or a cancel from the
 *  callback of any rank is agreed at the next collective: every rank stops;
 *  the failing rank returns its own error, the others PNEUMO_ERR_CANCELLED
 *  with a message naming the failed rank. Fill with
 *  pneumo_data_parallel_default(). */
typedef struct pneumo_data_parallel {
    uint32_t size; /**< sizeof(pneumo_data_parallel) */
    int32_t rank;  /**< this process, 0..ranks-1; default 0 */
    int32_t ranks; /**< default 1 */
    int32_t parts; /**< parts per global batch, ranks..batch_size; default 1. Fix it (e.g. 4)
                              to get the same bits on every rank count up to it */
    pneumo_collective_fn collective; /**< required */
    void *user;                      /**< passed to collective */
    int32_t exchange;                /**< pneumo_exchange; default GATHER (which needs no ALLGATHER) */
    uint32_t reserved[7];
} pneumo_data_parallel;

/** Fill `p` with the defaults stated on each field (one rank, one part, no
 *  collective yet). NULL is a no-op. Thread-safe. */
PNEUMO_API void pneumo_data_parallel_default(pneumo_data_parallel *p);

/** fit settings; fill with pneumo_fit_default_options(). */
typedef struct pneumo_fit_options {
    uint32_t size;           /**< sizeof(pneumo_fit_options); set by the default function */
    int32_t epochs;          /**< default 25 */
    int32_t batch_size;      /**< default 16 */
    int32_t initial_epoch;   /**< first epoch to run (0-based); default 0. Set by resuming. */
    int32_t class_weighting; /**< pneumo_class_weighting; default NONE */
    double class_weights[2]; /**< used with CUSTOM */
    const pneumo_early_stopping_params *early_stopping; /**< NULL (default): Keras' defaults
                                      (pneumo_early_stopping_default_params(), disabled) */
    const pneumo_reduce_lr_params *reduce_lr;           /**< NULL (default): Keras' defaults
                                      (pneumo_reduce_lr_default_params(), disabled) */
    const char *checkpoint_path; /**< after every epoch, save model, optimizer, callback state and
                                      history here (atomically) so pneumo_model_fit_resume() can
                                      continue the run; default NULL */
    const char *best_model_path; /**< save the model (and optimizer) whenever the early-stopping
                                      monitor (val_loss if early stopping is off) improves;
                                      default NULL */
    pneumo_write_fn progress;    /**< receives Keras-style progress text (one call per line or bar
                                  redraw; e.g. a function writing to stdout); default NULL
                                  (silent). A status other than PNEUMO_OK from it stops the
                                  run, which returns that status */
    void *progress_user;         /**< passed to progress */
    int32_t progress_bar; /**< 1: redraw a bar per batch (terminals); 0: one line per epoch; default 0 */
    int32_t threads;      /**< > 0: pneumo_model_set_threads(m, threads) before training (a
                                  resumed model needs it for bit-identical results); default 0:
                                  leave the model's setting */
    pneumo_fit_callback callback;         /**< default NULL */
    void *user;                           /**< passed to callback */
    const pneumo_data_parallel *parallel; /**< NULL (default): one process; else this rank of a
                                               data-parallel run (see pneumo_data_parallel) */
    int32_t progress_timing;              /**< 1: after each epoch's callbacks and saves, one more
                                  progress line saying where the epoch's time went
                                  (pneumo_epoch_timing); default 0 */
    float label_smoothing;                /**< in [0, 1]; default 0. The training loss's target is
                                y (1 - s) + 0.5 s (Keras BinaryCrossentropy(label_smoothing=s));
                                accuracy and validation use the labels as they are */
    int32_t lr_schedule;                  /**< pneumo_lr_schedule; default CONSTANT. COSINE, per step t =
                                    epoch * B + batch (B batches per epoch, T = epochs * B,
                                    W = warmup_epochs * B, peak = the optimizer's rate when the
                                    run starts): t < W: peak (f0 + (1 - f0) t / W); else
                                    eta + (peak - eta) (1 + cos(pi (t - W) / (T - W))) / 2 with
                                    eta = final_lr_factor * peak (torch SequentialLR of
                                    LinearLR(f0, total_iters=W) and CosineAnnealingLR(T - W, eta),
                                    stepped every batch). With ReduceLROnPlateau enabled, its
                                    reductions scale the schedule (and min_lr floors it) */
    int32_t warmup_epochs;                /**< COSINE: 0..epochs-1; default 0 */
    float warmup_start_factor;            /**< COSINE: f0 in (0, 1]; default 0.1 */
    float final_lr_factor;                /**< COSINE: eta / peak in [0, 1); default 0 */
    uint32_t reserved[4];
} pneumo_fit_options;

/** One epoch of the history. */
typedef struct pneumo_epoch_record {
    int32_t epoch; /**< 0-based */
    int32_t reserved0;
    double loss, accuracy;         /**< training (weighted by class weights, as Keras reports) */
    double val_loss, val_accuracy; /**< NaN without validation */
    double lr;                     /**< learning rate used during the epoch */
    double seconds;
    uint32_t reserved[4];
} pneumo_epoch_record;

/** Where the wall time of one epoch of pneumo_model_fit() went
 *  (pneumo_history_timing()). The phases are disjoint stretches of the
 *  fitting thread's time: train + data_wait + val + val_data_wait +
 *  callback + other seconds = seconds. The loader figures are CPU time of
 *  the datasets' worker threads, which run beside the fitting thread. */
typedef struct pneumo_epoch_timing {
    uint32_t size;                 /**< set by the caller to sizeof(pneumo_epoch_timing) */
    int32_t epoch;                 /**< 0-based */
    double seconds;                /**< wall time from the epoch's start to the end of its
                                        callbacks and saves (pneumo_epoch_record.seconds, like
                                        Keras' epoch time, stops before them) */
    double train_seconds;          /**< training steps: forward, backward and optimizer update
                                        (data-parallel: with the gradient exchange) */
    double data_wait_seconds;      /**< in pneumo_dataset_next_batch() of the training set,
                                        i.e. waiting for the loader */
    double val_seconds;            /**< validation: forward passes and metrics */
    double val_data_wait_seconds;  /**< in pneumo_dataset_next_batch() of the validation set */
    double callback_seconds;       /**< progress output, the callback, checkpoint and best-model
                                        saves */
    double other_seconds;          /**< the rest (starting the epochs of the datasets, the model
                                        card's ROC AUC, ...) */
    double loader_cpu_seconds;     /**< CPU time the training set's workers spent on the epoch's
                                        images (decode if not cached, resize, augment, rescale) */
    double val_loader_cpu_seconds; /**< the same for the validation set */
    uint32_t reserved[8];          /**< zero on return */
} pneumo_epoch_timing;

typedef struct pneumo_history pneumo_history;

/** Fill `o` with the defaults stated on each field (25 epochs, batch 16, no class
 *  weights, callbacks off, silent). NULL is a no-op. */
PNEUMO_API void pneumo_fit_default_options(pneumo_fit_options *o);
/** Fill `p` with Keras' EarlyStopping defaults (disabled, val_loss, auto mode,
 *  patience 0, min_delta 0). NULL is a no-op. */
PNEUMO_API void pneumo_early_stopping_default_params(pneumo_early_stopping_params *p);
/** Fill `p` with Keras' ReduceLROnPlateau defaults (disabled, val_loss, auto mode,
 *  patience 10, factor 0.1, min_delta 1e-4, cooldown 0, min_lr 0). NULL is a no-op. */
PNEUMO_API void pneumo_reduce_lr_default_params(pneumo_reduce_lr_params *p);

/** Train `m` with `opt` on `train` (and evaluate `val`, which may be NULL, after
 *  each epoch). `history` (may be NULL) receives a new history owned by the
 *  caller — also when training fails or is cancelled, holding the epochs that
 *  finished (NULL only if it could not be allocated). The datasets must produce
 *  images of the model's input size with one channel and labels 0/1. */
PNEUMO_API pneumo_status pneumo_model_fit(pneumo_model *m, pneumo_optimizer *opt, pneumo_dataset *train,
                                          pneumo_dataset *val, const pneumo_fit_options *o,
                                          pneumo_history **history);

/** Continue a run from a checkpoint written with `checkpoint_path`: loads the
 *  model, the optimizer (with its state and learning rate), the callbacks' state
 *  and the history, and fits the remaining epochs up to o->epochs (o->initial_epoch
 *  is ignored). With the same datasets, options and thread count the result is
 *  bit-identical to a run that was never interrupted: the dataset order and
 *  augmentation come from (seed, epoch) and the dropout stream from the model's
 *  step count. (restore_best_weights only knows the weights seen since the
 *  resume; keep best_model_path for the best model of the whole run.)
 *  *model, *opt and (if not NULL) *history receive new objects owned
 *  by the caller, also when the continued training fails (then they hold its
 *  state so far); on a failure to load they are NULL. */
PNEUMO_API pneumo_status pneumo_model_fit_resume(const char *checkpoint, pneumo_dataset *train,
                                                 pneumo_dataset *val, const pneumo_fit_options *o,
                                                 pneumo_model **model, pneumo_optimizer **opt,
                                                 pneumo_history **history);

/** Free a history. NULL is a no-op. */
PNEUMO_API void pneumo_history_destroy(pneumo_history *h);
/** Number of epochs recorded (0 for NULL). */
PNEUMO_API int32_t pneumo_history_size(const pneumo_history *h);
/** Copy record i into *out. */
PNEUMO_API pneumo_status pneumo_history_get(const pneumo_history *h, int32_t i, pneumo_epoch_record *out);
/** Where the time of epoch record i went into *out, whose `size` the caller
 *  sets. The epochs a resumed run took from its checkpoint have NaN figures
 *  (they ran in another process). Errors: INVALID_ARG (NULL, i out of range,
 *  a wrong out->size). */
PNEUMO_API pneumo_status pneumo_history_timing(const pneumo_history *h, int32_t i, pneumo_epoch_timing *out);
/** True (1) if training stopped early after the last recorded epoch. */
PNEUMO_API int32_t pneumo_history_stopped_early(const pneumo_history *h);
/** Write the history as CSV in the layout of Keras' CSVLogger (header
 *  "epoch,accuracy,loss,lr,val_accuracy,val_loss,seconds", epochs 0-based, empty
 *  cells for missing validation), atomically. */
PNEUMO_API pneumo_status pneumo_history_save_csv(const pneumo_history *h, const char *path);

/** Result of evaluating a dataset. */
typedef struct pneumo_evaluation {
    double loss;     /**< mean binary cross-entropy, unweighted */
    double accuracy; /**< (p > threshold) == label */
    pneumo_confusion confusion;
    double roc_auc; /**< NaN if only one class is present */
    int64_t count;
    double calibration_error; /**< expected calibration error of the class-1 probability over
                                   PNEUMO_EVALUATION_ECE_BINS bins (pneumo_calibration_curve()) */
    uint32_t reserved[6];
} pneumo_evaluation;

/** Bins of pneumo_evaluation.calibration_error. */
#define PNEUMO_EVALUATION_ECE_BINS 10

/** Evaluate `ds` in order (begins epoch 0 of the dataset; use a dataset without
 *  shuffle and augmentation for test data). probs and labels (each may be NULL)
 *  are caller buffers of `count` floats each and receive pneumo_dataset_size(ds)
 *  values each, in dataset index order. Errors: INVALID_ARG (NULL model,
 *  dataset or out, batch_size < 1, a buffer shorter than the dataset, naming
 *  it and the length needed), the dataset's and the model's errors. */
PNEUMO_API pneumo_status pneumo_model_evaluate(pneumo_model *m, pneumo_dataset *ds, int32_t batch_size,
                                               float threshold, pneumo_evaluation *out, float *probs,
                                               float *labels, size_t count);

/** pneumo_model_evaluate() sharded over the ranks of `parallel` (NULL: as
 *  pneumo_model_evaluate()): each rank evaluates its parts of every batch and
 *  the predictions are gathered, so every rank gets the whole *out (loss,
 *  accuracy, confusion matrix, ROC AUC) and the whole probs/labels, the same
 *  bits on every rank count for a fixed `parts`. Every rank must call it. */
PNEUMO_API pneumo_status pneumo_model_evaluate_parallel(pneumo_model *m, pneumo_dataset *ds,
                                                        int32_t batch_size, float threshold,
                                                        const pneumo_data_parallel *parallel,
                                                        pneumo_evaluation *out, float *probs, float *labels,
                                                        size_t count);

#ifdef __cplusplus
}
#endif

#endif /* PNEUMO_TRAIN_H */
