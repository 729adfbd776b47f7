/* Data-parallel fit and evaluate (pneumo_data_parallel) without MPI: the
 * ranks are threads of this process, each with its own model, optimizer and
 * datasets, joined by an in-memory implementation of the collectives. Checks
 * that a fixed `parts` gives the same bits on 1..4 ranks (partial and empty
 * parts included), that one rank with one part is exactly pneumo_model_fit(),
 * that a failure or cancel on one rank stops every rank, dataset shards, and
 * the settings' validation. A BatchNormalization model's moving statistics
 * are the same bits on every rank count and rank, and move by the parts'
 * batch statistics in part order. */
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "model/model.h"
#include "pneumo/dataset.h"
#include "pneumo/pneumo.h"
#include "testutil.h"

#define SIZE 24
#define PER_CLASS 48
#define MAX_RANKS 4
#define MAX_PARTS 8

static char root[4096];

/* Class 1 images carry a bright blob on noise; class 0 only noise. */
static void write_split(const char *split, int per_class, uint64_t *rng)
{
    tu_write_blob_split(root, split, SIZE, per_class, rng);
}

static int setup(void **state)
{
    uint64_t rng = 99;
    const char *dir = tu_tmpdir();
    (void)state;
    if (!dir)
        return -1;
    snprintf(root, sizeof root, "%s", dir);
    write_split("train", PER_CLASS, &rng);   /* 96 images */
    write_split("val", PER_CLASS / 2, &rng); /* 48 */
    write_split("broken", PER_CLASS / 2, &rng);
    return 0;
}

static int teardown(void **state)
{
    char cmd[4200];
    (void)state;
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", root);
    return system(cmd) == 0 ? 0 : -1;
}

static pneumo_dataset *open_split(const char *split, int shuffle, int augment, int64_t cache_bytes)
{
    pneumo_dataset_options o;
    pneumo_augment_options aug;
    pneumo_dataset *ds = NULL;
    char path[4200];
    pneumo_dataset_default_options(&o);
    o.width = o.height = SIZE;
    o.shuffle = shuffle;
    o.augment = augment;
    if (augment) {
        pneumo_augment_article_options(&aug);
        o.augment_options = &aug;
    }
    o.seed = 7;
    o.threads = 2;
    o.cache_bytes = cache_bytes;
    snprintf(path, sizeof path, "%s/%s", root, split);
    assert_int_equal(pneumo_dataset_open_dir(path, &o, &ds), PNEUMO_OK);
    return ds;
}

static pneumo_model *small_model(void)
{
    pneumo_model *m = NULL;
    pneumo_conv2d_params c;
    assert_int_equal(pneumo_model_create(SIZE, SIZE, 1, 5, &m), PNEUMO_OK);
    pneumo_conv2d_default_params(&c);
    c.filters = 8;
    c.activation = PNEUMO_ACT_RELU;
    assert_int_equal(pneumo_model_add_conv2d(m, &c), PNEUMO_OK);
    assert_int_equal(pneumo_model_add_maxpool2d(m, NULL), PNEUMO_OK);
    assert_int_equal(pneumo_model_add_conv2d(m, &c), PNEUMO_OK);
    assert_int_equal(pneumo_model_add_maxpool2d(m, NULL), PNEUMO_OK);
    assert_int_equal(pneumo_model_add_flatten(m), PNEUMO_OK);
    assert_int_equal(pneumo_model_add_dense(m, 16, PNEUMO_ACT_RELU), PNEUMO_OK);
    assert_int_equal(pneumo_model_add_dropout(m, 0.25f), PNEUMO_OK);
    assert_int_equal(pneumo_model_add_dense(m, 1, PNEUMO_ACT_SIGMOID), PNEUMO_OK);
    assert_int_equal(pneumo_model_set_threads(m, 1), PNEUMO_OK);
    return m;
}

/* small_model() with BatchNormalizations: on the input (its statistics are
 * the pixels'), after each pooling and on the Dense features. */
static pneumo_model *bn_model(float momentum)
{
    pneumo_model *m = NULL;
    pneumo_conv2d_params c;
    pneumo_batchnorm_params bn;
    assert_int_equal(pneumo_model_create(SIZE, SIZE, 1, 5, &m), PNEUMO_OK);
    pneumo_conv2d_default_params(&c);
    pneumo_batchnorm_default_params(&bn);
    bn.momentum = momentum;
    c.filters = 8;
    c.activation = PNEUMO_ACT_RELU;
    assert_int_equal(pneumo_model_add_batchnorm(m, &bn), PNEUMO_OK);
    assert_int_equal(pneumo_model_add_conv2d(m, &c), PNEUMO_OK);
    assert_int_equal(pneumo_model_add_maxpool2d(m, NULL), PNEUMO_OK);
    assert_int_equal(pneumo_model_add_batchnorm(m, &bn), PNEUMO_OK);
    assert_int_equal(pneumo_model_add_conv2d(m, &c), PNEUMO_OK);
    assert_int_equal(pneumo_model_add_maxpool2d(m, NULL), PNEUMO_OK);
    assert_int_equal(pneumo_model_add_flatten(m), PNEUMO_OK);
    assert_int_equal(pneumo_model_add_dense(m, 16, PNEUMO_ACT_RELU), PNEUMO_OK);
    assert_int_equal(pneumo_model_add_batchnorm(m, &bn), PNEUMO_OK);
    assert_int_equal(pneumo_model_add_dropout(m, 0.25f), PNEUMO_OK);
    assert_int_equal(pneumo_model_add_dense(m, 1, PNEUMO_ACT_SIGMOID), PNEUMO_OK);
    assert_int_equal(pneumo_model_set_threads(m, 1), PNEUMO_OK);
    return m;
}

static pneumo_optimizer *adam(void)
{
    pneumo_adam_params p;
    pneumo_optimizer *o = NULL;
    pneumo_adam_default_params(&p);
    p.learning_rate = 3e-3f;
    assert_int_equal(pneumo_optimizer_create_adam(&p, &o), PNEUMO_OK);
    return o;
}

/* ------------------------------------------------------------------------ */
/* The collectives between threads.                                          */

typedef struct world {
    int ranks;
    int exchange;               /* pneumo_exchange of every rank */
    pthread_barrier_t bar;      /* the ranks' collectives */
    pthread_barrier_t open_bar; /* ranks and the main thread: datasets opened, files corrupted */
    pthread_mutex_t mu;
    pthread_cond_t cv;
    float *box_f[MAX_PARTS][MAX_RANKS]; /* SEND -> RECV, by tag and receiving rank */
    double *box_d[MAX_PARTS][MAX_RANKS];
    int full[MAX_PARTS][MAX_RANKS];
    float *ag[MAX_RANKS]; /* each rank's ALLGATHER arena */
    float *bc_f;          /* rank 0's BCAST buffers */
    double *bc_d;
    double *sum_in[MAX_RANKS]; /* each rank's SUM input */
    int ops[MAX_RANKS];        /* collectives each rank made */
} world;

typedef struct rank_ctx {
    world *w;
    int rank;
} rank_ctx;

static pneumo_status collective(const pneumo_collective *c, void *user)
{
    rank_ctx *rc = user;
    world *w = rc->w;
    assert_int_equal(c->size, sizeof *c);
    w->ops[rc->rank]++;
    switch (c->op) {
    case PNEUMO_COLLECTIVE_SEND:
        assert_true(c->tag >= 0 && c->tag < MAX_PARTS);
        if (w->exchange == PNEUMO_EXCHANGE_GATHER)
            assert_true(rc->rank != 0 && c->peer == 0);
        else
            assert_true(c->peer >= 0 && c->peer < w->ranks && c->peer != rc->rank);
        pthread_mutex_lock(&w->mu);
        assert_false(w->full[c->tag][c->peer]);
        w->box_f[c->tag][c->peer] = malloc((size_t)c->nfloats * sizeof(float));
        assert_non_null(w->box_f[c->tag][c->peer]);
        w->box_d[c->tag][c->peer] = malloc((size_t)c->ndoubles * sizeof(double) + 1);
        assert_non_null(w->box_d[c->tag][c->peer]);
        memcpy(w->box_f[c->tag][c->peer], c->floats, (size_t)c->nfloats * sizeof(float));
        memcpy(w->box_d[c->tag][c->peer], c->doubles, (size_t)c->ndoubles * sizeof(double));
        w->full[c->tag][c->peer] = 1;
        pthread_cond_broadcast(&w->cv);
        pthread_mutex_unlock(&w->mu);
        return PNEUMO_OK;
    case PNEUMO_COLLECTIVE_RECV:
        assert_true((rc->rank == 0 || w->exchange == PNEUMO_EXCHANGE_SLICED) && c->peer >= 0 &&
                    c->peer < w->ranks && c->peer != rc->rank);
        pthread_mutex_lock(&w->mu);
        while (!w->full[c->tag][rc->rank])
            pthread_cond_wait(&w->cv, &w->mu);
        memcpy(c->floats, w->box_f[c->tag][rc->rank], (size_t)c->nfloats * sizeof(float));
        memcpy(c->doubles, w->box_d[c->tag][rc->rank], (size_t)c->ndoubles * sizeof(double));
        free(w->box_f[c->tag][rc->rank]);
        free(w->box_d[c->tag][rc->rank]);
        w->box_f[c->tag][rc->rank] = NULL;
        w->box_d[c->tag][rc->rank] = NULL;
        w->full[c->tag][rc->rank] = 0;
        pthread_mutex_unlock(&w->mu);
        return PNEUMO_OK;
    case PNEUMO_COLLECTIVE_BCAST:
        if (rc->rank == 0) {
            w->bc_f = c->floats;
            w->bc_d = c->doubles;
        }
        pthread_barrier_wait(&w->bar);
        if (rc->rank != 0) {
            if (c->nfloats)
                memcpy(c->floats, w->bc_f, (size_t)c->nfloats * sizeof(float));
            memcpy(c->doubles, w->bc_d, (size_t)c->ndoubles * sizeof(double));
        }
        pthread_barrier_wait(&w->bar);
        return PNEUMO_OK;
    case PNEUMO_COLLECTIVE_SUM: {
        double *sum = calloc((size_t)c->ndoubles + 1, sizeof *sum);
        assert_non_null(sum);
        w->sum_in[rc->rank] = c->doubles;
        pthread_barrier_wait(&w->bar);
        for (int r = 0; r < w->ranks; r++)
            for (int64_t i = 0; i < c->ndoubles; i++)
                sum[i] += w->sum_in[r][i];
        pthread_barrier_wait(&w->bar);
        memcpy(c->doubles, sum, (size_t)c->ndoubles * sizeof(double));
        free(sum);
        return PNEUMO_OK;
    }
    case PNEUMO_COLLECTIVE_ALLGATHER:
        /* rank j's slice starts at 16 * ((n / 16) * j / ranks) (pneumo_exchange) */
        assert_int_equal(w->exchange, PNEUMO_EXCHANGE_SLICED);
        assert_int_equal(c->nfloats % 16, 0);
        w->ag[rc->rank] = c->floats;
        pthread_barrier_wait(&w->bar);
        for (int r = 0; r < w->ranks; r++) {
            const int64_t s0 = 16 * (c->nfloats / 16 * r / w->ranks);
            const int64_t s1 = r + 1 == w->ranks ? c->nfloats : 16 * (c->nfloats / 16 * (r + 1) / w->ranks);
            if (r != rc->rank)
                memcpy(c->floats + s0, w->ag[r] + s0, (size_t)(s1 - s0) * sizeof(float));
        }
        pthread_barrier_wait(&w->bar);
        return PNEUMO_OK;
    default: fail_msg("unknown collective %d", c->op); return PNEUMO_ERR_INVALID_ARG;
    }
}

/* What a run trains: NULL in run_world() is small_model() with augmentation
 * for 2 epochs. */
typedef struct variant {
    float momentum; /* > 0: bn_model(momentum) */
    int augment, epochs;
} variant;

/* One rank's training run. */
typedef struct job {
    rank_ctx ctx;
    variant v;
    int ranks, parts, epochs, batch, broken; /* broken: train on the corrupted split */
    int cancel_batch;                        /* > 0: this rank cancels after that batch */
    pneumo_model *m;
    pneumo_history *h;
    pneumo_evaluation ev;
    float probs[PER_CLASS];
    pneumo_status st, ev_st;
    char msg[512];
} job;

static int cancel_cb(const pneumo_fit_event *e, void *user)
{
    const job *j = user;
    return e->kind == PNEUMO_EVENT_BATCH_END && j->cancel_batch > 0 && e->batch == j->cancel_batch;
}

/* The fit settings every run here uses: balanced class weights and a
 * ReduceLROnPlateau that lowers lr after every epoch (min_delta 1), so the
 * callbacks' decisions must agree across ranks. */
static void fit_options(pneumo_fit_options *o, pneumo_early_stopping_params *es, pneumo_reduce_lr_params *rl,
                        int epochs, int batch)
{
    pneumo_fit_default_options(o);
    pneumo_early_stopping_default_params(es);
    pneumo_reduce_lr_default_params(rl);
    o->early_stopping = es;
    o->reduce_lr = rl;
    o->epochs = epochs;
    o->batch_size = batch;
    o->class_weighting = PNEUMO_CLASS_WEIGHT_BALANCED;
    rl->enabled = 1;
    rl->patience = 0;
    rl->min_delta = 1.0;
}

static void *rank_main(void *arg)
{
    job *j = arg;
    pneumo_dataset *train, *val;
    pneumo_optimizer *opt = adam();
    pneumo_data_parallel dp;
    pneumo_fit_options o;
    pneumo_early_stopping_params o_es;
    pneumo_reduce_lr_params o_rl;
    /* the corrupted split: rank 1 reads it from disk every epoch, so it fails */
    train = j->broken ? open_split("broken", 1, 1, j->ctx.rank == 1 ? 0 : (int64_t)1 << 30)
                      : open_split("train", 1, j->v.augment, (int64_t)1 << 30);
    val = open_split("val", 0, 0, (int64_t)1 << 30);
    if (j->broken) {
        pthread_barrier_wait(&j->ctx.w->open_bar); /* all opened: now corrupt the files */
        pthread_barrier_wait(&j->ctx.w->open_bar);
    }
    j->m = j->v.momentum > 0.0f ? bn_model(j->v.momentum) : small_model();
    pneumo_data_parallel_default(&dp);
    dp.rank = j->ctx.rank;
    dp.ranks = j->ranks;
    dp.parts = j->parts;
    dp.exchange = j->ctx.w->exchange;
    dp.collective = collective;
    dp.user = &j->ctx;
    fit_options(&o, &o_es, &o_rl, j->epochs, j->batch);
    o.callback = cancel_cb;
    o.user = j;
    o.parallel = &dp;
    j->st = pneumo_model_fit(j->m, opt, train, val, &o, &j->h);
    snprintf(j->msg, sizeof j->msg, "%s", j->st == PNEUMO_OK ? "" : pneumo_last_error());
    if (j->st == PNEUMO_OK)
        j->ev_st = pneumo_model_evaluate_parallel(j->m, val, j->batch, 0.5f, &dp, &j->ev, j->probs, NULL,
                                                  sizeof j->probs / sizeof j->probs[0]);
    pneumo_optimizer_destroy(opt);
    pneumo_dataset_destroy(train);
    pneumo_dataset_destroy(val);
    return NULL;
}

/* Run `ranks` ranks with the pneumo_exchange `exchange` on the variant v
 * (NULL: the default); jobs[r] receive each rank's results. */
static void run_world(int ranks, int parts, int batch, int broken, int cancel_rank, int exchange, job *jobs,
                      world *w, const variant *v)
{
    static const variant plain = {0.0f, 1, 2};
    pthread_t t[MAX_RANKS];
    memset(w, 0, sizeof *w);
    w->ranks = ranks;
    w->exchange = exchange;
    assert_int_equal(pthread_barrier_init(&w->bar, NULL, (unsigned)ranks), 0);
    assert_int_equal(pthread_barrier_init(&w->open_bar, NULL, (unsigned)ranks + 1u), 0);
    pthread_mutex_init(&w->mu, NULL);
    pthread_cond_init(&w->cv, NULL);
    for (int r = 0; r < ranks; r++) {
        memset(&jobs[r], 0, sizeof jobs[r]);
        jobs[r].ctx.w = w;
        jobs[r].ctx.rank = r;
        jobs[r].v = v ? *v : plain;
        jobs[r].ranks = ranks;
        jobs[r].parts = parts;
        jobs[r].epochs = jobs[r].v.epochs;
        jobs[r].batch = batch;
        jobs[r].broken = broken;
        jobs[r].cancel_batch = r == cancel_rank ? 3 : 0;
        assert_int_equal(pthread_create(&t[r], NULL, rank_main, &jobs[r]), 0);
    }
    if (broken) {
        char cmd[4400];
        pthread_barrier_wait(&w->open_bar);
        snprintf(cmd, sizeof cmd, "for f in '%s'/broken/*/*.png; do printf 'not a png' > \"$f\"; done", root);
        assert_int_equal(system(cmd), 0);
        pthread_barrier_wait(&w->open_bar);
    }
    for (int r = 0; r < ranks; r++)
        pthread_join(t[r], NULL);
    pthread_barrier_destroy(&w->bar);
    pthread_barrier_destroy(&w->open_bar);
    pthread_mutex_destroy(&w->mu);
    pthread_cond_destroy(&w->cv);
}

static void free_jobs(job *jobs, int ranks)
{
    for (int r = 0; r < ranks; r++) {
        pneumo_model_destroy(jobs[r].m);
        pneumo_history_destroy(jobs[r].h);
    }
}

static void assert_same_weights(pneumo_model *a, pneumo_model *b)
{
    assert_int_equal(pneumo_model_num_param_tensors(a), pneumo_model_num_param_tensors(b));
    for (int32_t i = 0; i < pneumo_model_num_param_tensors(a); i++) {
        pneumo_tensor *x = NULL, *y = NULL;
        pneumo_model_param(a, i, &x);
        pneumo_model_param(b, i, &y);
        assert_memory_equal(pneumo_tensor_data(x), pneumo_tensor_data(y),
                            (size_t)pneumo_tensor_numel(x) * sizeof(float));
        pneumo_tensor_destroy(x);
        pneumo_tensor_destroy(y);
    }
}

/* Largest |a - b| over the weights, relative to the largest |a|. */
static double weights_rel_diff(pneumo_model *a, pneumo_model *b)
{
    double d = 0.0, amax = 0.0;
    for (int32_t i = 0; i < pneumo_model_num_param_tensors(a); i++) {
        pneumo_tensor *x = NULL, *y = NULL;
        pneumo_model_param(a, i, &x);
        pneumo_model_param(b, i, &y);
        for (int64_t k = 0; k < pneumo_tensor_numel(x); k++) {
            double u = pneumo_tensor_data(x)[k], v = pneumo_tensor_data(y)[k];
            d = fabs(u - v) > d ? fabs(u - v) : d;
            amax = fabs(u) > amax ? fabs(u) : amax;
        }
        pneumo_tensor_destroy(x);
        pneumo_tensor_destroy(y);
    }
    return d / amax;
}

static void assert_same_history(const pneumo_history *a, const pneumo_history *b)
{
    assert_int_equal(pneumo_history_size(a), pneumo_history_size(b));
    for (int32_t e = 0; e < pneumo_history_size(a); e++) {
        pneumo_epoch_record x, y;
        pneumo_history_get(a, e, &x);
        pneumo_history_get(b, e, &y);
        assert_true(x.loss == y.loss && x.accuracy == y.accuracy && x.val_loss == y.val_loss &&
                    x.val_accuracy == y.val_accuracy && x.lr == y.lr);
    }
}

/* 1, 2, 3 and 4 ranks with 4 parts: the same bits everywhere. Batch 10 over
 * 96 images leaves a last batch of 6 (parts of 1, 2, 1, 2), batch 5 one of 1
 * (parts of 0, 0, 0, 1: ranks with nothing to do still take part). */
static void test_parallel_same_bits_any_rank_count(void **state)
{
    static const int batches[2] = {10, 5};
    (void)state;
    for (int bi = 0; bi < 2; bi++) {
        job ref[MAX_RANKS], jobs[MAX_RANKS];
        world w;
        run_world(1, 4, batches[bi], 0, -1, PNEUMO_EXCHANGE_GATHER, ref, &w, NULL);
        assert_int_equal(ref[0].st, PNEUMO_OK);
        assert_int_equal(ref[0].ev_st, PNEUMO_OK);
        assert_int_equal(pneumo_history_size(ref[0].h), 2);
        /* the sliced exchange too, on every rank count: the same bits as the gather */
        for (int ex = PNEUMO_EXCHANGE_GATHER; ex <= PNEUMO_EXCHANGE_SLICED; ex++)
            for (int ranks = ex == PNEUMO_EXCHANGE_GATHER ? 2 : 1; ranks <= 4; ranks++) {
                run_world(ranks, 4, batches[bi], 0, -1, ex, jobs, &w, NULL);
                for (int r = 0; r < ranks; r++) {
                    assert_int_equal(jobs[r].st, PNEUMO_OK);
                    assert_int_equal(jobs[r].ev_st, PNEUMO_OK);
                    assert_same_weights(ref[0].m, jobs[r].m);
                    assert_same_history(ref[0].h, jobs[r].h);
                    assert_true(jobs[r].ev.loss == ref[0].ev.loss && jobs[r].ev.roc_auc == ref[0].ev.roc_auc);
                    assert_memory_equal(&jobs[r].ev.confusion, &ref[0].ev.confusion,
                                        sizeof ref[0].ev.confusion);
                    assert_memory_equal(jobs[r].probs, ref[0].probs, sizeof ref[0].probs);
                    assert_true(w.ops[r] > 0);
                }
                free_jobs(jobs, ranks);
            }
        free_jobs(ref, 1);
    }
}

/* One rank, one part: exactly pneumo_model_fit() and pneumo_model_evaluate(). */
static void test_parallel_one_rank_is_fit(void **state)
{
    job j[1];
    world w;
    pneumo_dataset *train = open_split("train", 1, 1, (int64_t)1 << 30),
                   *val = open_split("val", 0, 0, 1 << 30);
    pneumo_optimizer *opt = adam();
    pneumo_model *m = small_model();
    pneumo_history *h = NULL;
    pneumo_evaluation ev;
    float probs[PER_CLASS];
    pneumo_fit_options o;
    pneumo_early_stopping_params o_es;
    pneumo_reduce_lr_params o_rl;
    (void)state;
    fit_options(&o, &o_es, &o_rl, 2, 10);
    assert_int_equal(pneumo_model_fit(m, opt, train, val, &o, &h), PNEUMO_OK);
    assert_int_equal(pneumo_model_evaluate(m, val, 10, 0.5f, &ev, probs, NULL, PER_CLASS), PNEUMO_OK);
    run_world(1, 1, 10, 0, -1, PNEUMO_EXCHANGE_GATHER, j, &w, NULL);
    assert_int_equal(j[0].st, PNEUMO_OK);
    assert_same_weights(m, j[0].m);
    assert_same_history(h, j[0].h);
    assert_true(ev.loss == j[0].ev.loss && ev.accuracy == j[0].ev.accuracy && ev.roc_auc == j[0].ev.roc_auc);
    assert_memory_equal(probs, j[0].probs, sizeof probs);
    free_jobs(j, 1);
    /* 4 parts on 2 ranks: the same training up to the order of the sums (the
     * global mean loss, dropout keyed by the global batch position) */
    {
        job j2[2];
        pneumo_epoch_record a, b;
        double d;
        run_world(2, 4, 10, 0, -1, PNEUMO_EXCHANGE_GATHER, j2, &w, NULL);
        assert_int_equal(j2[0].st, PNEUMO_OK);
        d = weights_rel_diff(m, j2[0].m);
        printf("# 1 process vs 2 ranks x 4 parts after 2 epochs: max weight difference %.3g of the largest\n",
               d);
        assert_true(d < 1e-4);
        pneumo_history_get(h, 1, &a);
        pneumo_history_get(j2[0].h, 1, &b);
        assert_true(fabs(a.loss - b.loss) < 1e-5 && fabs(a.val_loss - b.val_loss) < 1e-5);
        free_jobs(j2, 2);
    }
    pneumo_history_destroy(h);
    pneumo_model_destroy(m);
    pneumo_optimizer_destroy(opt);
    pneumo_dataset_destroy(train);
    pneumo_dataset_destroy(val);
}

/* The moving statistics (the whole state arena) are the same bits. */
static void assert_same_state(const pneumo_model *a, const pneumo_model *b)
{
    assert_int_equal(a->state_size, b->state_size);
    assert_memory_equal(a->state, b->state, (size_t)a->state_size * sizeof(float));
}

/* BatchNormalization: the weights, moving statistics, history and evaluation
 * of 4 parts are the same bits on 1..4 ranks, on every rank, for both
 * exchanges, with partial and empty parts (batches 10 and 5, see above); one
 * rank computing the 4 parts one after the other is the reference. */
static void test_parallel_batchnorm_same_bits_any_rank_count(void **state)
{
    static const int batches[2] = {10, 5};
    const variant v = {0.9f, 1, 2};
    (void)state;
    for (int bi = 0; bi < 2; bi++) {
        job ref[MAX_RANKS], jobs[MAX_RANKS];
        world w;
        int moved = 0;
        run_world(1, 4, batches[bi], 0, -1, PNEUMO_EXCHANGE_GATHER, ref, &w, &v);
        assert_int_equal(ref[0].st, PNEUMO_OK);
        assert_int_equal(ref[0].ev_st, PNEUMO_OK);
        assert_int_equal(ref[0].m->state_size, 2 * (1 + 8 + 16));
        /* the statistics moved (a dead ReLU channel's mean stays 0) */
        for (int32_t i = 0; i < ref[0].m->nlayers; i++) {
            const pn_layer *l = &ref[0].m->layers[i];
            for (int32_t c = 0; c < l->ns / 2; c++)
                moved += l->mmean[c] != 0.0f || l->mvar[c] != 1.0f;
        }
        assert_int_equal(moved, 1 + 8 + 16);
        for (int ex = PNEUMO_EXCHANGE_GATHER; ex <= PNEUMO_EXCHANGE_SLICED; ex++)
            for (int ranks = ex == PNEUMO_EXCHANGE_GATHER ? 2 : 1; ranks <= 4; ranks++) {
                run_world(ranks, 4, batches[bi], 0, -1, ex, jobs, &w, &v);
                for (int r = 0; r < ranks; r++) {
                    assert_int_equal(jobs[r].st, PNEUMO_OK);
                    assert_int_equal(jobs[r].ev_st, PNEUMO_OK);
                    assert_same_weights(ref[0].m, jobs[r].m);
                    assert_same_state(ref[0].m, jobs[r].m);
                    assert_same_history(ref[0].h, jobs[r].h);
                    assert_true(jobs[r].ev.loss == ref[0].ev.loss && jobs[r].ev.roc_auc == ref[0].ev.roc_auc);
                    assert_memory_equal(jobs[r].probs, ref[0].probs, sizeof ref[0].probs);
                }
                free_jobs(jobs, ranks);
            }
        free_jobs(ref, 1);
    }
}

/* Moving mean and unbiased variance of channel 0 after moving them by the
 * pixels of parts [k0, k1) of 4 (in that order, or in reverse), each part's
 * statistics formed in double and the moving ones rounded to float after
 * each move, as the layer does. */
static void moved_by_parts(pneumo_tensor *x, float momentum, int k0, int k1, int reverse, float *mm,
                           float *mv)
{
    const int64_t n = pneumo_tensor_dim(x, 0), px = SIZE * SIZE;
    const float *d = pneumo_tensor_data(x);
    *mm = 0.0f;
    *mv = 1.0f;
    for (int i = k0; i < k1; i++) {
        const int k = reverse ? k1 - 1 - (i - k0) : i;
        const int64_t a = n * k / 4 * px, b = n * (k + 1) / 4 * px;
        double s = 0.0, s2 = 0.0, mean, var;
        for (int64_t p = a; p < b; p++)
            s += d[p];
        mean = s / (double)(b - a);
        for (int64_t p = a; p < b; p++)
            s2 += ((double)d[p] - mean) * ((double)d[p] - mean);
        var = s2 / (double)(b - a - 1);
        *mm = (float)((double)*mm - ((double)*mm - mean) * (1.0 - (double)momentum));
        *mv = (float)((double)*mv - ((double)*mv - var) * (1.0 - (double)momentum));
    }
}

/* One step of 4 parts over the whole training set (one batch of 96, parts of
 * 24): the input BatchNormalization's moving statistics on every rank of 1, 2
 * and 4 ranks are the hand computation from the 4 parts' pixel statistics
 * in part order, not what this rank's parts alone, the reverse order or the
 * whole batch's statistics would give. */
static void test_parallel_batchnorm_moving_stats_by_hand(void **state)
{
    const variant v = {0.5f, 0, 1};
    pneumo_dataset *ds = open_split("train", 1, 0, (int64_t)1 << 30);
    pneumo_tensor *x = NULL, *y = NULL;
    float mm, mv, own_m, own_v, rev_m, rev_v;
    (void)state;
    /* the first epoch's only batch, as fit's shards cut it */
    assert_int_equal(pneumo_dataset_begin_epoch(ds, 0, 96), PNEUMO_OK);
    assert_int_equal(pneumo_dataset_next_batch(ds, &x, &y, NULL), PNEUMO_OK);
    assert_non_null(x);
    assert_int_equal(pneumo_tensor_dim(x, 0), 96);
    moved_by_parts(x, v.momentum, 0, 4, 0, &mm, &mv);
    moved_by_parts(x, v.momentum, 0, 4, 1, &rev_m, &rev_v);
    moved_by_parts(x, v.momentum, 0, 2, 0, &own_m, &own_v); /* rank 0 of 2 alone */
    assert_true(fabsf(mm - rev_m) > 1e-4f * fabsf(mm) && fabsf(mv - rev_v) > 1e-4f * mv);
    assert_true(fabsf(mm - own_m) > 1e-4f * fabsf(mm) && fabsf(mv - own_v) > 1e-4f * mv);
    for (int ex = PNEUMO_EXCHANGE_GATHER; ex <= PNEUMO_EXCHANGE_SLICED; ex++)
        for (int ranks = 1; ranks <= 4; ranks *= 2) {
            job jobs[MAX_RANKS];
            world w;
            run_world(ranks, 4, 96, 0, -1, ex, jobs, &w, &v);
            for (int r = 0; r < ranks; r++) {
                const pn_layer *l = &jobs[r].m->layers[0];
                assert_int_equal(jobs[r].st, PNEUMO_OK);
                assert_int_equal(l->kind, PN_LAYER_BATCHNORM);
                if (ranks == 4 && r == 0 && ex == PNEUMO_EXCHANGE_SLICED)
                    printf("# one step of 4 parts: moving mean %.9g (by hand %.9g), variance %.9g (%.9g)\n",
                           (double)l->mmean[0], (double)mm, (double)l->mvar[0], (double)mv);
                assert_true(fabsf(l->mmean[0] - mm) <= 1e-6f * fabsf(mm));
                assert_true(fabsf(l->mvar[0] - mv) <= 1e-6f * mv);
            }
            free_jobs(jobs, ranks);
        }
    pneumo_dataset_destroy(ds);
}

/* BatchNormalization, one rank, one part: exactly pneumo_model_fit(). */
static void test_parallel_batchnorm_one_rank_is_fit(void **state)
{
    const variant v = {0.9f, 1, 2};
    job j[1];
    world w;
    pneumo_dataset *train = open_split("train", 1, 1, (int64_t)1 << 30),
                   *val = open_split("val", 0, 0, 1 << 30);
    pneumo_optimizer *opt = adam();
    pneumo_model *m = bn_model(0.9f);
    pneumo_history *h = NULL;
    pneumo_fit_options o;
    pneumo_early_stopping_params o_es;
    pneumo_reduce_lr_params o_rl;
    (void)state;
    fit_options(&o, &o_es, &o_rl, 2, 10);
    assert_int_equal(pneumo_model_fit(m, opt, train, val, &o, &h), PNEUMO_OK);
    run_world(1, 1, 10, 0, -1, PNEUMO_EXCHANGE_GATHER, j, &w, &v);
    assert_int_equal(j[0].st, PNEUMO_OK);
    assert_same_weights(m, j[0].m);
    assert_same_state(m, j[0].m);
    assert_same_history(h, j[0].h);
    free_jobs(j, 1);
    pneumo_history_destroy(h);
    pneumo_model_destroy(m);
    pneumo_optimizer_destroy(opt);
    pneumo_dataset_destroy(train);
    pneumo_dataset_destroy(val);
}

/* Rank 1 cannot read its shard: it returns its own error, the others stop
 * too (no rank waits forever) naming rank 1. */
static void test_parallel_failure_stops_every_rank(void **state)
{
    (void)state;
    for (int ex = PNEUMO_EXCHANGE_GATHER; ex <= PNEUMO_EXCHANGE_SLICED; ex++) {
        job jobs[MAX_RANKS];
        world w;
        uint64_t rng = 5;
        char cmd[4200];
        snprintf(cmd, sizeof cmd, "rm -rf '%s/broken'", root);
        assert_int_equal(system(cmd), 0);
        write_split("broken", PER_CLASS / 2, &rng); /* readable again: the run corrupts it */
        run_world(3, 3, 9, 1, -1, ex, jobs, &w, NULL);
        assert_int_not_equal(jobs[1].st, PNEUMO_OK);
        assert_int_not_equal(jobs[1].st, PNEUMO_ERR_CANCELLED);
        assert_non_null(strstr(jobs[1].msg, "broken"));
        for (int r = 0; r < 3; r += 2) {
            assert_int_equal(jobs[r].st, PNEUMO_ERR_CANCELLED);
            assert_non_null(strstr(jobs[r].msg, "rank 1 failed"));
            assert_int_equal(pneumo_history_size(jobs[r].h), 0);
        }
        free_jobs(jobs, 3);
    }
}

/* A cancel from rank 2's callback after its 3rd batch stops all ranks after
 * the same batch. */
static void test_parallel_cancel_agreed(void **state)
{
    (void)state;
    for (int ex = PNEUMO_EXCHANGE_GATHER; ex <= PNEUMO_EXCHANGE_SLICED; ex++) {
        job jobs[MAX_RANKS];
        world w;
        run_world(3, 3, 9, 0, 2, ex, jobs, &w, NULL);
        for (int r = 0; r < 3; r++) {
            assert_int_equal(jobs[r].st, PNEUMO_ERR_CANCELLED);
            assert_int_equal(pneumo_history_size(jobs[r].h), 0);
            if (r)
                assert_same_weights(jobs[0].m, jobs[r].m);
        }
        free_jobs(jobs, 3);
    }
}

/* The shards of parts 0..k of every batch together are the unsharded epoch. */
static void test_dataset_shards_cover_the_epoch(void **state)
{
    pneumo_dataset *ds = open_split("train", 1, 0, (int64_t)1 << 30);
    const int parts = 3, batch = 10;
    int64_t full[96], got[96];
    int seen = 0;
    (void)state;
    assert_int_equal(pneumo_dataset_begin_epoch(ds, 4, batch), PNEUMO_OK);
    for (;;) {
        pneumo_tensor *x = NULL, *y = NULL;
        const int64_t *idx = NULL;
        assert_int_equal(pneumo_dataset_next_batch(ds, &x, &y, &idx), PNEUMO_OK);
        if (!x)
            break;
        memcpy(full + seen, idx, (size_t)pneumo_tensor_dim(x, 0) * sizeof *idx);
        seen += (int)pneumo_tensor_dim(x, 0);
    }
    assert_int_equal(seen, 96);
    for (int p = 0; p < parts; p++) {
        int64_t b = 0;
        assert_int_equal(pneumo_dataset_begin_epoch_shard(ds, 4, batch, parts, p, p + 1), PNEUMO_OK);
        for (;; b++) {
            pneumo_tensor *x = NULL, *y = NULL;
            const int64_t *idx = NULL;
            int64_t n, lo;
            assert_int_equal(pneumo_dataset_next_batch(ds, &x, &y, &idx), PNEUMO_OK);
            if (!x)
                break;
            n = 96 - b * batch < batch ? 96 - b * batch : batch;
            lo = b * batch + n * p / parts;
            assert_int_equal(pneumo_tensor_dim(x, 0), n * (p + 1) / parts - n * p / parts);
            memcpy(got + lo, idx, (size_t)pneumo_tensor_dim(x, 0) * sizeof *idx);
        }
        assert_int_equal(b, 10);
    }
    assert_memory_equal(full, got, sizeof full);
    assert_int_equal(pneumo_dataset_begin_epoch_shard(ds, 0, batch, 11, 0, 1), PNEUMO_ERR_INVALID_ARG);
    assert_int_equal(pneumo_dataset_begin_epoch_shard(ds, 0, batch, 3, 2, 1), PNEUMO_ERR_INVALID_ARG);
    assert_int_equal(pneumo_dataset_begin_epoch_shard(ds, 0, batch, 3, 0, 4), PNEUMO_ERR_INVALID_ARG);
    pneumo_dataset_destroy(ds);
}

static void test_parallel_settings_checked(void **state)
{
    pneumo_dataset *train = open_split("train", 0, 0, (int64_t)1 << 30);
    pneumo_optimizer *opt = adam();
    pneumo_model *m = small_model();
    pneumo_data_parallel dp;
    pneumo_fit_options o;
    pneumo_evaluation ev;
    rank_ctx ctx = {NULL, 0};
    (void)state;
    pneumo_data_parallel_default(&dp);
    assert_int_equal(dp.size, sizeof dp);
    assert_int_equal(dp.ranks, 1);
    assert_int_equal(dp.parts, 1);
    pneumo_fit_default_options(&o);
    assert_null(o.parallel);
    o.epochs = 1;
    o.parallel = &dp;
    assert_int_equal(pneumo_model_fit(m, opt, train, NULL, &o, NULL),
                     PNEUMO_ERR_INVALID_ARG); /* no collective */
    assert_non_null(strstr(pneumo_last_error(), "collective"));
    dp.collective = collective;
    dp.user = &ctx;
    dp.parts = 17; /* more than the batch */
    assert_int_equal(pneumo_model_fit(m, opt, train, NULL, &o, NULL), PNEUMO_ERR_INVALID_ARG);
    dp.parts = 2;
    dp.ranks = 3; /* fewer parts than ranks */
    assert_int_equal(pneumo_model_fit(m, opt, train, NULL, &o, NULL), PNEUMO_ERR_INVALID_ARG);
    dp.ranks = 2;
    dp.rank = 2;
    assert_int_equal(pneumo_model_fit(m, opt, train, NULL, &o, NULL), PNEUMO_ERR_INVALID_ARG);
    dp.rank = 0;
    dp.reserved[3] = 1;
    assert_int_equal(pneumo_model_fit(m, opt, train, NULL, &o, NULL), PNEUMO_ERR_INVALID_ARG);
    dp.reserved[3] = 0;
    assert_int_equal(dp.exchange, PNEUMO_EXCHANGE_GATHER);
    dp.exchange = 2; /* no such exchange */
    assert_int_equal(pneumo_model_fit(m, opt, train, NULL, &o, NULL), PNEUMO_ERR_INVALID_ARG);
    assert_non_null(strstr(pneumo_last_error(), "exchange"));
    dp.exchange = PNEUMO_EXCHANGE_GATHER;
    dp.size = 8;
    assert_int_equal(pneumo_model_evaluate_parallel(m, train, 16, 0.5f, &dp, &ev, NULL, NULL, 0),
                     PNEUMO_ERR_INVALID_ARG);
    o.parallel = NULL;
    o.reserved[0] = 1;
    assert_int_equal(pneumo_model_fit(m, opt, train, NULL, &o, NULL), PNEUMO_ERR_INVALID_ARG);
    pneumo_model_destroy(m);
    pneumo_optimizer_destroy(opt);
    pneumo_dataset_destroy(train);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_dataset_shards_cover_the_epoch),
        cmocka_unit_test(test_parallel_settings_checked),
        cmocka_unit_test(test_parallel_one_rank_is_fit),
        cmocka_unit_test(test_parallel_same_bits_any_rank_count),
        cmocka_unit_test(test_parallel_batchnorm_same_bits_any_rank_count),
        cmocka_unit_test(test_parallel_batchnorm_moving_stats_by_hand),
        cmocka_unit_test(test_parallel_batchnorm_one_rank_is_fit),
        cmocka_unit_test(test_parallel_cancel_agreed),
        cmocka_unit_test(test_parallel_failure_stops_every_rank),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
