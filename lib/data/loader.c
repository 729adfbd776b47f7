/* The dataset's worker threads: validation decoding at open (filling the
 * cache), and epochs: shuffled order, batches produced ahead of the consumer in
 * a ring of prefetch_batches + 1 slots, each batch filled image by image by all
 * workers in parallel.
 *
 * Synchronisation: one mutex protects every counter below; image work (decode,
 * resize, augment, writing into a slot) runs unlocked. A worker claims the next
 * unit of work under the mutex, and an image position u of the epoch order
 * belongs to batch b (batch_start[b] <= u < batch_start[b + 1]; u / batch_size
 * unless the epoch is a shard), written into slot b % nslots; it may be
 * claimed only while b < released + nslots, i.e. once the caller has given back
 * the batch that used that slot before. begin_epoch stops handing out work and
 * waits until no worker is busy (at most one image each) before it rewrites
 * the order and the slots, so an abandoned epoch never races with a new one. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/alloc.h"
#include "core/error.h"
#include "core/rng.h"
#include "data/dataset_internal.h"
#include "image/image_internal.h"

/* ------------------------------------------------------------------------ */
/* Work.                                                                     */

static double clock_seconds(clockid_t id)
{
    struct timespec ts;
    if (clock_gettime(id, &ts) != 0)
        return 0.0;
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static int has_work(const pneumo_dataset *ds)
{
    if (ds->phase == PN_DS_VALIDATE)
        return ds->v_next < ds->n;
    if (ds->phase == PN_DS_EPOCH && ds->next_unit < ds->units)
        return ds->next_unit_batch < ds->released + ds->nslots;
    return 0;
}

/* "path: reason" from the calling thread's last error; NULL if out of memory. */
static char *skip_message(const char *path)
{
    const char *msg = pneumo_last_error();
    size_t lp = strlen(path), lm = strlen(msg);
    char *s;
    if (strncmp(msg, path, lp) == 0 && msg[lp] == ':') {
        s = pn_malloc(lm + 1);
        if (s)
            memcpy(s, msg, lm + 1);
        return s;
    }
    s = pn_malloc(lp + 2 + lm + 1);
    if (s) {
        memcpy(s, path, lp);
        memcpy(s + lp, ": ", 2);
        memcpy(s + lp + 2, msg, lm + 1);
    }
    return s;
}

/* Validation of candidate i (mutex held on entry and exit). */
static void validate_unit(pneumo_dataset *ds, pn_ds_worker *w)
{
    int64_t i = ds->v_next++;
    uint8_t *dst = w->scratch, *cached = NULL;
    pneumo_status st;
    char *msg = NULL;

    /* Decode straight into the next free cache entry while the budget lasts
     * (a file that fails wastes its entry; failures are rare). */
    if (ds->cache_used < ds->cache_cap) {
        int64_t e = ds->cache_used++;
        cached = ds->cache_chunks[e / ds->cache_per_chunk] + (size_t)(e % ds->cache_per_chunk) * ds->img_px;
        dst = cached;
    }
    ds->active++;
    pthread_mutex_unlock(&ds->mu);

    st = pn_image_load_resized(ds->paths[i], ds->opt.width, ds->opt.height, (pneumo_resample)ds->opt.resample,
                               ds->opt.limits, dst, NULL, NULL);
    if (st != PNEUMO_OK) {
        msg = skip_message(ds->paths[i]);
        if (!msg)
            st = PNEUMO_ERR_NOMEM;
        cached = NULL;
    }

    pthread_mutex_lock(&ds->mu);
    ds->active--;
    ds->v_status[i] = st;
    ds->v_msg[i] = msg;
    ds->cache[i] = cached;
    if (++ds->v_done == ds->n)
        pthread_cond_broadcast(&ds->done_cv);
}

/* Write image `idx` as the pipeline sees it into dst (w*h floats). `scratch`
 * (w*h bytes) receives images that are not cached. Runs unlocked; reads only
 * what is fixed during an epoch. */
static pneumo_status produce_image(const pneumo_dataset *ds, int64_t idx, uint64_t epoch, int augment,
                                   uint8_t *scratch, float *dst)
{
    const uint8_t *src = ds->cache[idx];
    pneumo_status st;
    if (!src) {
        st = pn_image_load_resized(ds->paths[idx], ds->opt.width, ds->opt.height,
                                   (pneumo_resample)ds->opt.resample, ds->opt.limits, scratch, NULL, NULL);
        if (st != PNEUMO_OK)
            return st;
        src = scratch;
    }
    if (augment)
        return pneumo_augment_image(ds->opt.augment_options, ds->opt.seed, epoch, (uint64_t)idx, src,
                                    ds->img_px, ds->opt.width, ds->opt.height, dst, ds->img_px, NULL);
    {
        pneumo_augment_params id;
        pneumo_augment_identity_params(&id);
        return pneumo_augment_apply(ds->opt.augment_options, &id, src, ds->img_px, ds->opt.width,
                                    ds->opt.height, dst, ds->img_px);
    }
}

/* One image of the current epoch (mutex held on entry and exit). */
static void epoch_unit(pneumo_dataset *ds, pn_ds_worker *w)
{
    int64_t u = ds->next_unit++;
    int64_t b = ds->next_unit_batch;
    int32_t pos = (int32_t)(u - ds->batch_start[b]);
    pn_ds_slot *s = &ds->slots[b % ds->nslots];
    int64_t idx = ds->order[u];
    uint64_t epoch = (uint64_t)ds->epoch;
    pneumo_status st;
    char msg[PN_DS_MSG];
    double cpu0;

    if (ds->next_unit == ds->batch_start[b + 1])
        ds->next_unit_batch++;
    if (pos == 0) { /* first image of batch b: the slot is free (see has_work) */
        s->batch = b;
        s->count = (int32_t)(ds->batch_start[b + 1] - ds->batch_start[b]);
        s->done = 0;
        s->err = PNEUMO_OK;
        s->err_pos = INT32_MAX;
        s->err_msg[0] = '\0';
    }
    ds->active++;
    pthread_mutex_unlock(&ds->mu);

    cpu0 = clock_seconds(CLOCK_THREAD_CPUTIME_ID);
    st = produce_image(ds, idx, epoch, ds->opt.augment, w->scratch, s->x + (size_t)pos * ds->img_px);
    s->y[pos] = (float)ds->labels[idx];
    s->indices[pos] = idx;
    if (st != PNEUMO_OK)
        snprintf(msg, sizeof msg, "%s", pneumo_last_error());
    cpu0 = clock_seconds(CLOCK_THREAD_CPUTIME_ID) - cpu0;

    pthread_mutex_lock(&ds->mu);
    ds->active--;
    ds->work_cpu_seconds += cpu0;
    if (st != PNEUMO_OK && pos < s->err_pos) {
        s->err = st;
        s->err_pos = pos;
        memcpy(s->err_msg, msg, sizeof msg);
    }
    if (++s->done == s->count)
        pthread_cond_broadcast(&ds->done_cv);
}

static void *worker_main(void *arg)
{
    pn_ds_worker *w = arg;
    pneumo_dataset *ds = w->ds;
    pthread_mutex_lock(&ds->mu);
    for (;;) {
        while (!ds->quit && !has_work(ds))
            pthread_cond_wait(&ds->work_cv, &ds->mu);
        if (ds->quit)
            break;
        if (ds->phase == PN_DS_VALIDATE)
            validate_unit(ds, w);
        else
            epoch_unit(ds, w);
        if (ds->active == 0 && ds->idle_waiters > 0)
            pthread_cond_broadcast(&ds->done_cv);
    }
    pthread_mutex_unlock(&ds->mu);
    return NULL;
}

/* ------------------------------------------------------------------------ */
/* Start, validate, stop.                                                    */

/* Reserve the cache as chunks of at most ~64 MiB; a failed allocation just
 * makes the cache smaller. */
static void reserve_cache(pneumo_dataset *ds)
{
    int64_t want = ds->opt.cache_bytes / (int64_t)ds->img_px;
    int64_t per, nchunks;
    if (want > ds->n)
        want = ds->n;
    if (want <= 0)
        return;
    per = ((int64_t)64 << 20) / (int64_t)ds->img_px;
    if (per < 1)
        per = 1;
    if (per > want)
        per = want;
    nchunks = (want + per - 1) / per;
    ds->cache_chunks = pn_calloc((size_t)nchunks, sizeof *ds->cache_chunks);
    if (!ds->cache_chunks)
        return;
    ds->cache_per_chunk = per;
    for (int64_t c = 0; c < nchunks; c++) {
        int64_t imgs = want - c * per < per ? want - c * per : per;
        ds->cache_chunks[c] = pn_malloc((size_t)imgs * ds->img_px);
        if (!ds->cache_chunks[c])
            break;
        ds->ncache_chunks = c + 1;
        ds->cache_cap += imgs;
    }
}

pneumo_status pn_ds_start(pneumo_dataset *ds)
{
    int want = ds->opt.threads;
    if (pthread_mutex_init(&ds->mu, NULL) != 0)
        return pn_error(PNEUMO_ERR_NOMEM, "dataset: cannot create a mutex");
    if (pthread_cond_init(&ds->work_cv, NULL) != 0) {
        pthread_mutex_destroy(&ds->mu);
        return pn_error(PNEUMO_ERR_NOMEM, "dataset: cannot create a condition variable");
    }
    if (pthread_cond_init(&ds->done_cv, NULL) != 0) {
        pthread_cond_destroy(&ds->work_cv);
        pthread_mutex_destroy(&ds->mu);
        return pn_error(PNEUMO_ERR_NOMEM, "dataset: cannot create a condition variable");
    }
    ds->sync_ready = 1;
    ds->main_scratch = pn_malloc(ds->img_px);
    ds->workers = pn_calloc((size_t)want, sizeof *ds->workers);
    if (!ds->main_scratch || !ds->workers)
        return pn_error_nomem("dataset worker buffers", ds->img_px);
    for (int i = 0; i < want; i++) {
        ds->workers[i].ds = ds;
        ds->workers[i].scratch = pn_malloc(ds->img_px);
        if (!ds->workers[i].scratch)
            return pn_error_nomem("dataset worker buffers", ds->img_px);
    }
    reserve_cache(ds);
    for (int i = 0; i < want; i++) {
        int e = pthread_create(&ds->workers[i].tid, NULL, worker_main, &ds->workers[i]);
        if (e != 0)
            return pn_error(PNEUMO_ERR_NOMEM, "dataset: cannot create worker thread %d of %d: %s", i + 1,
                            want, strerror(e));
        ds->nworkers = i + 1;
    }
    return PNEUMO_OK;
}

pneumo_status pn_ds_validate(pneumo_dataset *ds)
{
    pthread_mutex_lock(&ds->mu);
    ds->v_next = 0;
    ds->v_done = 0;
    ds->phase = PN_DS_VALIDATE;
    pthread_cond_broadcast(&ds->work_cv);
    while (ds->v_done < ds->n)
        pthread_cond_wait(&ds->done_cv, &ds->mu);
    ds->phase = PN_DS_IDLE;
    pthread_mutex_unlock(&ds->mu);
    return PNEUMO_OK;
}

pneumo_status pn_ds_prepare_epochs(pneumo_dataset *ds)
{
    ds->order = pn_malloc((size_t)ds->n * sizeof *ds->order);
    ds->batch_start = pn_malloc((size_t)(ds->n + 1) * sizeof *ds->batch_start);
    if (!ds->order || !ds->batch_start)
        return pn_error_nomem("dataset order", (size_t)(2 * ds->n + 1) * sizeof *ds->order);
    return PNEUMO_OK;
}

static void free_slots(pneumo_dataset *ds)
{
    if (ds->slots) {
        for (int i = 0; i < ds->nslots; i++) {
            pn_aligned_free(ds->slots[i].x);
            free(ds->slots[i].y);
            free(ds->slots[i].indices);
        }
        free(ds->slots);
    }
    ds->slots = NULL;
    ds->nslots = 0;
    ds->slot_cap = 0;
}

void pn_ds_stop(pneumo_dataset *ds)
{
    if (ds->sync_ready) {
        pthread_mutex_lock(&ds->mu);
        ds->quit = 1;
        pthread_cond_broadcast(&ds->work_cv);
        pthread_mutex_unlock(&ds->mu);
        for (int i = 0; i < ds->nworkers; i++)
            pthread_join(ds->workers[i].tid, NULL);
        ds->nworkers = 0;
        pthread_cond_destroy(&ds->done_cv);
        pthread_cond_destroy(&ds->work_cv);
        pthread_mutex_destroy(&ds->mu);
        ds->sync_ready = 0;
    }
    if (ds->workers) {
        for (int i = 0; i < ds->opt.threads; i++)
            free(ds->workers[i].scratch);
        free(ds->workers);
        ds->workers = NULL;
    }
    for (int64_t c = 0; c < ds->ncache_chunks; c++)
        free(ds->cache_chunks[c]);
    free(ds->cache_chunks);
    ds->cache_chunks = NULL;
    ds->ncache_chunks = 0;
    free_slots(ds);
    free(ds->order);
    ds->order = NULL;
    free(ds->batch_start);
    ds->batch_start = NULL;
    free(ds->main_scratch);
    ds->main_scratch = NULL;
}

/* ------------------------------------------------------------------------ */
/* Epochs.                                                                   */

/* Uniform integer in [0, bound) without modulo bias. */
static uint64_t rng_below(pn_rng *r, uint64_t bound)
{
    uint64_t threshold = (0 - bound) % bound;
    for (;;) {
        uint64_t x = pn_rng_next(r);
        if (x >= threshold)
            return x % bound;
    }
}

static pneumo_status alloc_slots(pneumo_dataset *ds, int32_t cap)
{
    int nslots = ds->opt.prefetch_batches + 1;
    size_t px;
    free_slots(ds);
    if (!pn_mul_size((size_t)cap, ds->img_px, &px))
        return pn_error(PNEUMO_ERR_LIMIT, "dataset: batch of %d images is too large", (int)cap);
    ds->slots = pn_calloc((size_t)nslots, sizeof *ds->slots);
    if (!ds->slots)
        return pn_error_nomem("dataset batch slots", (size_t)nslots * sizeof *ds->slots);
    ds->nslots = nslots;
    for (int i = 0; i < nslots; i++) {
        pn_ds_slot *s = &ds->slots[i];
        s->x = pn_aligned_alloc(px * sizeof(float));
        s->y = pn_malloc((size_t)cap * sizeof *s->y);
        s->indices = pn_malloc((size_t)cap * sizeof *s->indices);
        if (!s->x || !s->y || !s->indices) {
            free_slots(ds);
            return pn_error_nomem("dataset batch buffers", px * sizeof(float) * (size_t)nslots);
        }
        s->batch = -1;
    }
    ds->slot_cap = cap;
    return PNEUMO_OK;
}

/* Images of part_begin..part_end - 1 (of `parts`) in a batch of n. */
static int64_t shard_begin(int64_t n, int32_t parts, int32_t part) { return n * part / parts; }

static pneumo_status begin(pneumo_dataset *ds, int64_t epoch, int32_t batch_size, int32_t parts,
                           int32_t part_begin, int32_t part_end, const char *fn)
{
    int32_t cap = 0;
    int64_t nbatches, units = 0, b;
    pneumo_status st = PNEUMO_OK;
    if (!ds)
        return pn_error(PNEUMO_ERR_INVALID_ARG, "%s: ds is NULL", fn);
    if (epoch < 0 || batch_size < 1)
        return pn_error(PNEUMO_ERR_INVALID_ARG, "%s: epoch %lld must be >= 0 and batch_size %d >= 1", fn,
                        (long long)epoch, (int)batch_size);
    if (parts < 1 || parts > batch_size || part_begin < 0 || part_begin > part_end || part_end > parts)
        return pn_error(PNEUMO_ERR_INVALID_ARG,
                        "%s: parts %d..%d of %d must satisfy 1 <= parts <= batch_size (%d) and "
                        "0 <= begin <= end <= parts",
                        fn, (int)part_begin, (int)part_end - 1, (int)parts, (int)batch_size);
    nbatches = (ds->n + batch_size - 1) / batch_size;
    for (b = 0; b < nbatches; b++) {
        int64_t n = ds->n - b * batch_size < batch_size ? ds->n - b * batch_size : batch_size;
        int64_t c = shard_begin(n, parts, part_end) - shard_begin(n, parts, part_begin);
        if (c > cap)
            cap = (int32_t)c;
    }
    if ((int64_t)cap * (int64_t)ds->img_px > PN_TENSOR_MAX_NUMEL)
        return pn_error(PNEUMO_ERR_LIMIT, "%s: a batch of %d images of %dx%d is more than 2^31 floats", fn,
                        (int)cap, (int)ds->opt.width, (int)ds->opt.height);

    /* Stop handing out work and wait until every worker is idle. */
    pthread_mutex_lock(&ds->mu);
    ds->phase = PN_DS_IDLE;
    ds->idle_waiters++;
    while (ds->active > 0)
        pthread_cond_wait(&ds->done_cv, &ds->mu);
    ds->idle_waiters--;
    pthread_mutex_unlock(&ds->mu);

    /* Workers are idle and cannot claim anything: slots and order are ours. */
    if (cap > ds->slot_cap || !ds->slots)
        st = alloc_slots(ds, cap ? cap : 1);
    if (st != PNEUMO_OK)
        return st;
    for (int64_t i = 0; i < ds->n; i++)
        ds->order[i] = i;
    if (ds->opt.shuffle) {
        pn_rng r;
        pn_rng_init(&r, ds->opt.seed, pn_hash64((uint64_t)epoch, 0x73687566666c65ull));
        for (int64_t i = ds->n - 1; i > 0; i--) {
            int64_t j = (int64_t)rng_below(&r, (uint64_t)i + 1);
            int64_t t = ds->order[i];
            ds->order[i] = ds->order[j];
            ds->order[j] = t;
        }
    }
    /* Keep this shard's share of every batch, in place (a share never starts
     * before its batch); batches with an empty share are left out. */
    nbatches = 0;
    for (b = 0; b * batch_size < ds->n; b++) {
        int64_t n = ds->n - b * batch_size < batch_size ? ds->n - b * batch_size : batch_size;
        int64_t lo = b * batch_size + shard_begin(n, parts, part_begin);
        int64_t hi = b * batch_size + shard_begin(n, parts, part_end);
        if (hi == lo)
            continue;
        ds->batch_start[nbatches++] = units;
        for (int64_t u = lo; u < hi; u++)
            ds->order[units++] = ds->order[u];
    }
    ds->batch_start[nbatches] = units;
    for (int i = 0; i < ds->nslots; i++)
        ds->slots[i].batch = -1;

    pthread_mutex_lock(&ds->mu);
    ds->epoch = epoch;
    ds->batch_size = batch_size;
    ds->nbatches = nbatches;
    ds->units = units;
    ds->next_unit = 0;
    ds->next_unit_batch = 0;
    ds->released = 0;
    ds->held = 0;
    ds->wait_seconds = 0.0;
    ds->work_cpu_seconds = 0.0;
    ds->phase = PN_DS_EPOCH;
    pthread_cond_broadcast(&ds->work_cv);
    pthread_mutex_unlock(&ds->mu);
    return PNEUMO_OK;
}

pneumo_status pneumo_dataset_begin_epoch(pneumo_dataset *ds, int64_t epoch, int32_t batch_size)
{
    return begin(ds, epoch, batch_size, 1, 0, 1, "pneumo_dataset_begin_epoch");
}

pneumo_status pneumo_dataset_begin_epoch_shard(pneumo_dataset *ds, int64_t epoch, int32_t batch_size,
                                               int32_t parts, int32_t part_begin, int32_t part_end)
{
    return begin(ds, epoch, batch_size, parts, part_begin, part_end, "pneumo_dataset_begin_epoch_shard");
}

pneumo_status pneumo_dataset_next_batch(pneumo_dataset *ds, pneumo_tensor **x, pneumo_tensor **y,
                                        const int64_t **indices)
{
    pn_ds_slot *s;
    pneumo_status err;
    int64_t shape[4];
    char msg[PN_DS_MSG];
    double t0;

    if (x)
        *x = NULL;
    if (y)
        *y = NULL;
    if (indices)
        *indices = NULL;
    if (!ds || !x || !y)
        return pn_error(PNEUMO_ERR_INVALID_ARG, "pneumo_dataset_next_batch: %s is NULL",
                        !ds  ? "ds"
                        : !x ? "x"
                             : "y");
    t0 = clock_seconds(CLOCK_MONOTONIC);
    pthread_mutex_lock(&ds->mu);
    if (ds->phase != PN_DS_EPOCH) {
        pthread_mutex_unlock(&ds->mu);
        return pn_error(PNEUMO_ERR_STATE, "pneumo_dataset_next_batch: no epoch in progress (call "
                                          "pneumo_dataset_begin_epoch first)");
    }
    if (ds->held) { /* give the previous batch back: its slot may be refilled */
        ds->held = 0;
        ds->released++;
        pthread_cond_broadcast(&ds->work_cv);
    }
    if (ds->released >= ds->nbatches) {
        ds->wait_seconds += clock_seconds(CLOCK_MONOTONIC) - t0;
        pthread_mutex_unlock(&ds->mu);
        return PNEUMO_OK; /* end of the epoch */
    }
    s = &ds->slots[ds->released % ds->nslots];
    while (!(s->batch == ds->released && s->done == s->count))
        pthread_cond_wait(&ds->done_cv, &ds->mu);
    ds->held = 1;
    ds->wait_seconds += clock_seconds(CLOCK_MONOTONIC) - t0;
    err = s->err;
    if (err != PNEUMO_OK)
        memcpy(msg, s->err_msg, sizeof msg);
    pthread_mutex_unlock(&ds->mu);

    if (err != PNEUMO_OK)
        return pn_error(err, "%s", msg);
    shape[0] = s->count;
    shape[1] = ds->opt.height;
    shape[2] = ds->opt.width;
    shape[3] = 1;
    pn_tensor_view(&s->tx, 4, shape, s->x);
    pn_tensor_view(&s->ty, 1, shape, s->y);
    *x = &s->tx;
    *y = &s->ty;
    if (indices)
        *indices = s->indices;
    return PNEUMO_OK;
}

void pn_ds_epoch_stats(pneumo_dataset *ds, double *wait_seconds, double *work_cpu_seconds)
{
    pthread_mutex_lock(&ds->mu);
    *wait_seconds = ds->wait_seconds;
    *work_cpu_seconds = ds->work_cpu_seconds;
    pthread_mutex_unlock(&ds->mu);
}

pneumo_status pneumo_dataset_load_sample(pneumo_dataset *ds, int64_t index, float *dst, size_t count)
{
    if (!ds || !dst)
        return pn_error(PNEUMO_ERR_INVALID_ARG, "pneumo_dataset_load_sample: %s is NULL", !ds ? "ds" : "dst");
    if (pn_check_buffer("pneumo_dataset_load_sample", "dst", count, ds->img_px) != PNEUMO_OK)
        return PNEUMO_ERR_INVALID_ARG;
    if (index < 0 || index >= ds->n)
        return pn_error(PNEUMO_ERR_INVALID_ARG,
                        "pneumo_dataset_load_sample: index %lld out of range (0..%lld)", (long long)index,
                        (long long)ds->n - 1);
    /* The cache and the paths are fixed after open; main_scratch is the
     * caller's own (a dataset is used by one thread at a time). */
    return produce_image(ds, index, 0, 0, ds->main_scratch, dst);
}
