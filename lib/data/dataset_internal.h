/* Internal side of pneumo/dataset.h: the dataset struct shared by dataset.c
 * (listing, labels, class weights, report, accessors) and loader.c (worker
 * threads, validation at open, cache, prefetching epochs). */
#ifndef PN_DATA_DATASET_INTERNAL_H
#define PN_DATA_DATASET_INTERNAL_H

#include <pthread.h>

#include "pneumo/dataset.h"
#include "core/tensor.h"

/* Longest error message kept for a batch (copied from the worker's thread-local
 * error so the consumer can re-raise it). */
#define PN_DS_MSG 1024
/* Upper bounds of a few options. */
#define PN_DS_MAX_THREADS 256
#define PN_DS_MAX_PREFETCH 64
#define PN_DS_MAX_SIDE 16384
#define PN_DS_MAX_IMAGES ((int64_t)INT32_MAX)

/* What the workers are doing. */
enum { PN_DS_IDLE = 0, PN_DS_VALIDATE = 1, PN_DS_EPOCH = 2 };

/* One batch buffer of the prefetch ring. */
typedef struct pn_ds_slot {
    float *x;          /* cap * width * height floats (aligned) */
    float *y;          /* cap labels */
    int64_t *indices;  /* cap dataset indices */
    int64_t batch;     /* batch number it holds or is being filled with; -1 none */
    int32_t count;     /* images in that batch */
    int32_t done;      /* images written so far */
    pneumo_status err; /* first failure (lowest position) or PNEUMO_OK */
    int32_t err_pos;
    char err_msg[PN_DS_MSG];
    pneumo_tensor tx, ty; /* views handed to the caller */
} pn_ds_slot;

typedef struct pn_ds_worker {
    struct pneumo_dataset *ds;
    pthread_t tid;
    uint8_t *scratch; /* width * height bytes for images not in the cache */
} pn_ds_worker;

struct pneumo_dataset {
    pneumo_dataset_options opt; /* resolved (threads > 0); its augment_options and
                                    limits point at the two copies below */
    pneumo_augment_options augment;
    pneumo_decode_limits limits;
    size_t img_px; /* width * height */

    /* Classes. */
    int32_t num_classes;
    char **class_names; /* into name_pool */
    char *name_pool;
    int64_t *class_counts;

    /* Images: before validation the candidates, afterwards the usable ones. */
    int64_t n;
    char **paths; /* into path_pool */
    char *path_pool;
    int32_t *labels;
    uint8_t **cache; /* per image: its cached pixels or NULL */

    int64_t nskipped;
    char **skipped; /* malloc'ed "path: reason" strings */

    /* Cache storage: chunks of per_chunk images. */
    uint8_t **cache_chunks;
    int64_t ncache_chunks;
    int64_t cache_per_chunk;
    int64_t cache_cap; /* images the reserved chunks hold */
    int64_t cache_used;

    /* Workers. */
    int nworkers; /* threads running */
    pn_ds_worker *workers;
    pthread_mutex_t mu;
    pthread_cond_t work_cv; /* workers wait here for work */
    pthread_cond_t done_cv; /* the caller waits here (batch ready, validation done, idle) */
    int sync_ready;
    int quit;
    int phase;
    int active; /* workers processing an image right now */
    int idle_waiters;

    /* Validation job (at open). */
    int64_t v_next, v_done;
    pneumo_status *v_status; /* per candidate */
    char **v_msg;            /* per candidate: "path: reason" for failures */

    /* Epoch. */
    int64_t epoch;
    int32_t batch_size;
    int64_t nbatches;
    int64_t *order;          /* n dataset indices; the first `units` are this epoch's */
    int64_t units;           /* images of the epoch (n, or this shard's share) */
    int64_t *batch_start;    /* nbatches + 1 positions of `order`: batch b is
                                  * [batch_start[b], batch_start[b + 1]) */
    int64_t next_unit;       /* next position of `order` to hand to a worker */
    int64_t next_unit_batch; /* the batch that position belongs to */
    int64_t released;        /* batches the caller is finished with */
    int held;                /* the caller holds batch `released` */
    int nslots;              /* prefetch_batches + 1 */
    pn_ds_slot *slots;
    int32_t slot_cap;        /* images each slot holds */
    double wait_seconds;     /* the caller inside next_batch this epoch */
    double work_cpu_seconds; /* the workers' CPU time on this epoch's images */

    uint8_t *main_scratch; /* width * height bytes for load_sample */
};

/* sklearn compute_class_weight('balanced') from per-class counts:
 * w[k] = n / (K * count_k) with n = sum of counts. INVALID_ARG for NULL or
 * k < 1, STATE naming the class index for a zero count. */
pneumo_status pn_ds_class_weights(const int64_t *counts, int32_t k, double *w);

/* dataset.c: the class folders of `dir` listed by pneumo_dataset_open_dir()'s
 * rules (errors with the same messages), before any image is decoded. */
typedef struct pn_ds_dirlist {
    int32_t num_classes;
    const char **class_names; /* sorted with strcmp */
    int64_t n;
    const char **paths; /* dataset order: class by class, names sorted */
    int32_t *labels;
    char *name_pool, *path_pool; /* storage of the strings */
} pn_ds_dirlist;
pneumo_status pn_ds_list_dir(const char *dir, pn_ds_dirlist *out);
/* Free the arrays of a listing (zeroed or filled); NULL is a no-op. */
void pn_ds_dirlist_free(pn_ds_dirlist *l);

/* loader.c: create the synchronisation objects, the worker threads and their
 * scratch buffers, reserve the cache (ds->n candidates, ds->opt resolved). */
pneumo_status pn_ds_start(pneumo_dataset *ds);
/* loader.c: decode every candidate on the workers, filling v_status/v_msg and
 * the cache. Returns only after all are processed. */
pneumo_status pn_ds_validate(pneumo_dataset *ds);
/* loader.c: stop and join the workers, free the thread-side resources (slots,
 * order, scratch, cache). Safe on a partially started dataset. */
void pn_ds_stop(pneumo_dataset *ds);
/* loader.c: allocate `order` once the usable image count is known. */
pneumo_status pn_ds_prepare_epochs(pneumo_dataset *ds);
/* loader.c: since the current epoch began, the wall seconds the caller spent
 * in pneumo_dataset_next_batch() (mostly waiting for a batch) and the CPU
 * seconds the workers spent producing its images (decode, resize, augment,
 * rescale). */
void pn_ds_epoch_stats(pneumo_dataset *ds, double *wait_seconds, double *work_cpu_seconds);

#endif
