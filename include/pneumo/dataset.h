/* libpneumo — image datasets: listing, labels, class weights and a threaded,
 * prefetching, caching batch pipeline with Keras flow_from_directory semantics.
 *
 * What a batch holds (Keras ImageDataGenerator.flow_from_directory with
 * color_mode='grayscale', class_mode='binary'):
 *   x: (n, height, width, 1) float32, the image decoded to 8-bit gray with PIL's
 *      convert('L'), resized to width x height (nearest by default, aspect ratio
 *      not kept; see pneumo/image.h), augmented when `augment` is set and
 *      multiplied by augment_options.rescale (see pneumo/augment.h);
 *   y: (n,) float32, the class label 0..K-1 of each image.
 * Every batch holds batch_size images except the last one of an epoch, which
 * keeps the remainder (Keras keeps the partial batch too).
 *
 * Order. Without shuffle, images come in dataset order: for a directory, class
 * by class (class names sorted with strcmp, i.e. by byte value as Python's
 * sorted() does) and file names sorted with strcmp within each class; for a
 * file list, the caller's order. With shuffle, epoch e uses a Fisher-Yates
 * permutation drawn from a generator seeded by (seed, e). Augmentation
 * parameters of an image depend only on (seed, epoch, dataset index). So the
 * batches of an epoch are bit-identical for every `threads`, `cache_bytes` and
 * `prefetch_batches` value.
 *
 * Validation. Opening decodes every listed image once (in parallel, on the
 * dataset's worker threads), so the image count is exact: a file that cannot
 * be read or decoded (I/O error, not a JPEG/PNG, corrupt, truncated, over the
 * decode limits) is left out and listed by pneumo_dataset_skipped() with the
 * reason, or, with `strict`, makes the open fail naming the first such file in
 * dataset order. An out-of-memory condition always fails the open.
 *
 * Directory layout (pneumo_dataset_open_dir):
 *   - every non-hidden sub-folder of `dir` is a class (symbolic links to folders
 *     count, as os.path.isdir() follows them in Keras); other entries (plain
 *     files, dangling links) are ignored; at least 2 class folders are required
 *     (the article's classifier is binary, K >= 2 in general) and every class
 *     folder must hold at least one usable image;
 *   - inside a class folder, non-hidden entries whose name ends in .jpg, .jpeg,
 *     .png or .dcm (DICOM, see docs/dicom.md; any case) are images, symbolic links to files included (a
 *     dangling link with such a name is a skipped, unreadable file);
 *     everything else is ignored. Unlike Keras, sub-folders of a class folder
 *     are NOT searched (no recursion), so symbolic-link cycles cannot make the
 *     listing loop; a class folder that resolves to `dir` itself or to one of
 *     its ancestors is reported as a symbolic-link loop;
 *   - names starting with '.' (hidden files and folders) are ignored everywhere.
 *
 * Cache. Decoded, resized 8-bit images (width*height bytes each) are kept in
 * memory up to `cache_bytes`, filled while opening; images beyond the budget are
 * read and decoded again every epoch. The article's 4176-image train set at
 * 500x500 needs about 1.04 GB. Cache memory is reserved at open (the OS commits
 * pages as they are filled); if it cannot be reserved the cache shrinks.
 *
 * Threads. `threads` worker threads are created by open and joined by destroy;
 * they decode/resize (or read the cache), augment and write batches ahead of
 * the consumer into prefetch_batches + 1 batch buffers. Nothing is global: each
 * dataset owns its threads and memory. In the steady state (cached images) no
 * memory is allocated per image or per batch.
 *
 * Thread-safety: a dataset handle must be used by one thread at a time (its
 * workers are internal). Distinct datasets are independent. */
#ifndef PNEUMO_DATASET_H
#define PNEUMO_DATASET_H

#include "pneumo/common.h"
#include "pneumo/tensor.h"
#include "pneumo/image.h"
#include "pneumo/augment.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct pneumo_dataset pneumo_dataset;

/** Dataset settings. Fill with pneumo_dataset_default_options() and change what
 *  you need; leave `reserved` zero. */
typedef struct pneumo_dataset_options {
    uint32_t size;         /**< sizeof(pneumo_dataset_options); set by the default function */
    int32_t width, height; /**< target size, 1..16384 each; default 500, 500 */
    int32_t resample;      /**< pneumo_resample; default PNEUMO_RESAMPLE_NEAREST (Keras load_img) */
    int32_t shuffle;       /**< 0/1; default 1: new order each epoch from (seed, epoch) */
    uint64_t seed;         /**< default 0 */
    int32_t augment;       /**< 0/1; default 0. 1: apply `augment_options` (random per
                                       (seed, epoch, index)) */
    const pneumo_augment_options *augment_options; /**< NULL (default) means
                                       pneumo_augment_default_options(): rescale 1/255 only. Its
                                       rescale, fill_mode and cval are used even when augment == 0
                                       (then only the rescale acts). Copied at open */
    int32_t strict;                     /**< 0/1; default 0: unreadable images are skipped and listed;
                                       1: open fails naming the first one */
    int32_t threads;                    /**< worker threads, 0..256; default 0 = online cores (at most 64) */
    int64_t cache_bytes;                /**< memory for decoded, resized 8-bit images; default 2 GiB;
                                       0 = no cache (decode every epoch) */
    int32_t prefetch_batches;           /**< batches prepared ahead of the one the caller holds,
                                       0..64; default 2 (0: batches made on demand) */
    const pneumo_decode_limits *limits; /**< NULL (default) means pneumo_decode_default_limits();
                                       copied at open */
    uint32_t reserved[8];               /**< must be zero */
} pneumo_dataset_options;

/** Fill `o` with the defaults listed in the field comments. NULL is a no-op. */
PNEUMO_API void pneumo_dataset_default_options(pneumo_dataset_options *o);

/** Open the directory `dir` holding one sub-folder per class (see the file
 *  comment for the exact rules); class names sorted with strcmp give labels
 *  0..K-1 (Normal = 0, Opacity = 1 for the article). `o` may be NULL for the
 *  defaults. Every image is decoded once to validate it and fill the cache.
 *  On success *out receives a dataset the caller frees with
 *  pneumo_dataset_destroy(); on failure *out is NULL.
 *  Errors (the message names the directory or file and the reason):
 *  INVALID_ARG (NULL, bad options), IO (no such directory, not a directory,
 *  dangling symbolic link, symbolic-link loop, cannot be opened or read; with
 *  strict, an unreadable image), FORMAT (no class folders, only one class, a
 *  class folder without images, no usable image at all; with strict, a corrupt
 *  image), LIMIT / UNSUPPORTED (strict: an image over the limits or of an
 *  unsupported kind), NOMEM. */
PNEUMO_API pneumo_status pneumo_dataset_open_dir(const char *dir, const pneumo_dataset_options *o,
                                                 pneumo_dataset **out);

/** Open the caller's own index: image paths[i] has label labels[i] in
 *  0..num_classes-1, for i < count (1..2^31-1). num_classes may be 1 (e.g. a
 *  folder of unlabelled images to predict) and classes may hold no image; the
 *  dataset order is the caller's order (skipped files removed). class_names may
 *  be NULL (names "0", "1", ...), else num_classes non-NULL strings. Everything
 *  is copied. Errors: as pneumo_dataset_open_dir(); FORMAT when no image is
 *  usable. */
PNEUMO_API pneumo_status pneumo_dataset_open_files(const char *const *paths, const int32_t *labels,
                                                   int64_t count, int32_t num_classes,
                                                   const char *const *class_names,
                                                   const pneumo_dataset_options *o, pneumo_dataset **out);

/** Grouping of a validation split (pneumo_split_options.group). */
typedef enum pneumo_split_group {
    PNEUMO_SPLIT_GROUP_NONE = 0,   /**< every image is its own group */
    PNEUMO_SPLIT_GROUP_PATIENT = 1 /**< images of one patient (pneumo_patient_id()) stay together */
} pneumo_split_group;

/** Settings of pneumo_dataset_open_split(). Fill with
 *  pneumo_split_default_options(); leave `reserved` zero. */
typedef struct pneumo_split_options {
    uint32_t size;        /**< sizeof(pneumo_split_options); set by the default function */
    int32_t group;        /**< pneumo_split_group; default PNEUMO_SPLIT_GROUP_PATIENT */
    double val_fraction;  /**< share of each class's images for validation, strictly
                              between 0 and 1; default 0.2 */
    uint64_t seed;        /**< which groups go to validation; default 0 */
    uint32_t reserved[8]; /**< must be zero */
} pneumo_split_options;

/** Fill `o` with the defaults listed in the field comments. NULL is a no-op. */
PNEUMO_API void pneumo_split_default_options(pneumo_split_options *o);

/** The patient key of an image file name of the chest X-ray data, written
 *  into buf like every string the library returns (see pneumo/common.h).
 *  Only the base name (after the last '/') counts; the extension (.jpeg,
 *  .jpg, .png, .dcm, any case) is ignored for matching:
 *    - "personNNN_bacteria_MMM" and "personNNN_virus_MMM" (optionally more
 *      "_MMM" parts) give "personNNN";
 *    - "IM-XXXX-YYYY" and "NORMAL2-IM-XXXX-YYYY" (optionally more "-YYYY"
 *      parts, e.g. "IM-0001-0001-0001") give "IM-XXXX" and "NORMAL2-IM-XXXX";
 *  N, M, X and Y being decimal digits (one or more). Any other name is its
 *  own patient: the key is the whole base name, extension included.
 *  Pure function; thread-safe. Errors: INVALID_ARG (NULL or empty path, a
 *  path ending in '/', NULL buf with size > 0). */
PNEUMO_API pneumo_status pneumo_patient_id(const char *path, char *buf, size_t size, size_t *needed);

/** Open the class folders of `dir` (the rules of pneumo_dataset_open_dir())
 *  as two disjoint datasets: *val receives about s->val_fraction of the
 *  images of every class, *train the rest. With PNEUMO_SPLIT_GROUP_PATIENT
 *  all images of one patient (pneumo_patient_id() of the file name) go to the
 *  same side, so no patient is in both; a patient whose images lie in several
 *  classes is stratified with the lowest of those classes, and every image
 *  whose name has neither patient form is a group of its own (equal names in
 *  two class folders are two groups). Per class the
 *  groups are ordered by a hash of (seed, patient key) and taken for
 *  validation while that brings the class's validation count closer to
 *  val_fraction times its image count, so the result depends only on the seed
 *  and the set of file names (not on the directory listing order) and each
 *  class's validation count is within half of its largest group of the
 *  target. Every class gets at least one group on each side. The split is
 *  made on the listed files; unreadable ones are then skipped (or fail with
 *  strict) by each side as in pneumo_dataset_open_files(). Both datasets keep
 *  the folder's class names and dataset order (class by class, names sorted)
 *  and are opened with train_o and val_o (NULL for the defaults), e.g.
 *  without shuffle and augmentation for validation. `s` may be NULL for the
 *  defaults. On success the caller frees both with pneumo_dataset_destroy();
 *  on failure both are NULL.
 *  Errors (the message names the directory and the reason): INVALID_ARG
 *  (NULL, bad options, val_fraction not strictly between 0 and 1), FORMAT (a
 *  class with fewer than 2 groups stratified with it, so one side would get
 *  none of its images),
 *  and those of pneumo_dataset_open_dir(). */
PNEUMO_API pneumo_status pneumo_dataset_open_split(const char *dir, const pneumo_split_options *s,
                                                   const pneumo_dataset_options *train_o,
                                                   const pneumo_dataset_options *val_o,
                                                   pneumo_dataset **train, pneumo_dataset **val);

/** Stop the workers (an epoch in progress is abandoned), join them and free
 *  everything, including the batch tensors handed out. NULL is a no-op. */
PNEUMO_API void pneumo_dataset_destroy(pneumo_dataset *ds);

/** Number of usable images (skipped files excluded); 0 for NULL. */
PNEUMO_API int64_t pneumo_dataset_size(const pneumo_dataset *ds);

/** Number of classes K; 0 for NULL. */
PNEUMO_API int32_t pneumo_dataset_num_classes(const pneumo_dataset *ds);

/** Name of class `cls` (the folder name), written into buf like every string
 *  the library returns (see pneumo/common.h). Errors: INVALID_ARG (NULL ds,
 *  cls out of range, NULL buf with size > 0). */
PNEUMO_API pneumo_status pneumo_dataset_class_name(const pneumo_dataset *ds, int32_t cls, char *buf,
                                                   size_t size, size_t *needed);

/** Usable images of class `cls`; -1 if `ds` is NULL or `cls` out of range. */
PNEUMO_API int64_t pneumo_dataset_class_count(const pneumo_dataset *ds, int32_t cls);

/** sklearn compute_class_weight('balanced'): weights[k] = n / (K * count_k) in
 *  double precision (1082 / 3110 images -> 1.9371534195933457,
 *  0.6739549839228296). `num_classes` must equal pneumo_dataset_num_classes().
 *  Errors: INVALID_ARG (NULL, wrong num_classes), STATE (a class without images:
 *  its weight would be infinite; sklearn refuses it too). */
PNEUMO_API pneumo_status pneumo_dataset_class_weights(const pneumo_dataset *ds, double *weights,
                                                      int32_t num_classes);

/** Path of image `index` (0..size-1, dataset order) as listed ("dir/class/name"),
 *  written into buf (see pneumo/common.h). Errors: INVALID_ARG (NULL ds, index
 *  out of range, NULL buf with size > 0). */
PNEUMO_API pneumo_status pneumo_dataset_path(const pneumo_dataset *ds, int64_t index, char *buf, size_t size,
                                             size_t *needed);

/** Label of image `index`; -1 if out of range. */
PNEUMO_API int32_t pneumo_dataset_label(const pneumo_dataset *ds, int64_t index);

/** Number of files left out at open because they could not be read or decoded. */
PNEUMO_API int64_t pneumo_dataset_num_skipped(const pneumo_dataset *ds);

/** Skipped file `i` (dataset order) as "path: reason", written into buf (see
 *  pneumo/common.h). Errors: INVALID_ARG (NULL ds, i out of range, NULL buf
 *  with size > 0). */
PNEUMO_API pneumo_status pneumo_dataset_skipped(const pneumo_dataset *ds, int64_t i, char *buf, size_t size,
                                                size_t *needed);

/** Write Keras' line "Found 4176 images belonging to 2 classes." into buf, and
 *  when files were skipped a second line "Skipped 3 unreadable image files."
 *  (no trailing newline). Like snprintf: at most size - 1 characters plus a NUL
 *  (buf may be NULL when size is 0); *needed (may be NULL) receives the full
 *  length without the NUL. Errors: INVALID_ARG (NULL ds, NULL buf with size > 0). */
PNEUMO_API pneumo_status pneumo_dataset_report(const pneumo_dataset *ds, char *buf, size_t size,
                                               size_t *needed);

/** ceil(size / batch_size): the last, partial batch is kept. 0 for NULL or
 *  batch_size < 1. */
PNEUMO_API int64_t pneumo_dataset_num_batches(const pneumo_dataset *ds, int32_t batch_size);

/** Start epoch `epoch` (0-based, >= 0) with batches of batch_size (>= 1; a
 *  batch holds at most 2^31 floats): fixes the order and sets the workers going.
 *  Calling it while an epoch is in progress abandons that epoch (images being
 *  processed are finished and dropped) and invalidates the tensors it handed
 *  out. Errors: INVALID_ARG, LIMIT (batch too large), NOMEM. */
PNEUMO_API pneumo_status pneumo_dataset_begin_epoch(pneumo_dataset *ds, int64_t epoch, int32_t batch_size);

/** As pneumo_dataset_begin_epoch(), for one rank of a data-parallel run (see
 *  pneumo_data_parallel in pneumo/train.h): the epoch has the same order
 *  (from (seed, epoch)) and the same global batches as the whole dataset, but
 *  each global batch of n images (batch_size, or the remainder for the last
 *  one) is cut into `parts` contiguous parts, part k holding its positions
 *  [n*k/parts, n*(k+1)/parts) (integer division), and next_batch() hands out
 *  only parts part_begin..part_end-1 of each, concatenated; a global batch
 *  whose share is empty is left out. Augmentation stays keyed by (seed, epoch,
 *  dataset index), so the shards of all ranks together give exactly the images
 *  of the unsharded epoch. parts 1, 0, 1 is pneumo_dataset_begin_epoch().
 *  Errors: as pneumo_dataset_begin_epoch(); INVALID_ARG unless
 *  1 <= parts <= batch_size and 0 <= part_begin <= part_end <= parts. */
PNEUMO_API pneumo_status pneumo_dataset_begin_epoch_shard(pneumo_dataset *ds, int64_t epoch,
                                                          int32_t batch_size, int32_t parts,
                                                          int32_t part_begin, int32_t part_end);

/** Next batch of the current epoch. *x is (n, height, width, 1) float32
 *  (rescaled, augmented if enabled), *y is (n,) with the labels as float, and
 *  *indices (may be NULL) receives a pointer to the n dataset indices of the
 *  batch; all are owned by the dataset (never destroy them) and valid until
 *  the next call of next_batch/begin_epoch/destroy. Blocks only if the batch
 *  is not ready yet. At the end of the epoch returns PNEUMO_OK with
 *  *x = *y = NULL (and *indices = NULL), again on every further call.
 *  A decode failure during iteration (a file not in the cache changed since
 *  open) returns PNEUMO_ERR_IO/FORMAT/... naming the file (the first failing
 *  image of the batch in batch order); that batch is dropped, and the next call
 *  continues with the following batch. Errors: INVALID_ARG (NULL), STATE (no
 *  epoch begun), IO, FORMAT, UNSUPPORTED, LIMIT, NOMEM. */
PNEUMO_API pneumo_status pneumo_dataset_next_batch(pneumo_dataset *ds, pneumo_tensor **x, pneumo_tensor **y,
                                                   const int64_t **indices);

/** Load image `index` as the pipeline sees it without augmentation (cache or
 *  decode + resize, then rescale) into dst, a caller buffer of `count` floats
 *  of which the first height*width are written (row-major). May be called
 *  during an epoch. Errors: INVALID_ARG (NULL, index out of range, count below
 *  height*width, naming the length needed), IO/FORMAT/... (the file changed
 *  since open), NOMEM. */
PNEUMO_API pneumo_status pneumo_dataset_load_sample(pneumo_dataset *ds, int64_t index, float *dst,
                                                    size_t count);

#ifdef __cplusplus
}
#endif

#endif /* PNEUMO_DATASET_H */
