/* pneumo-train-mpi: the article's training run (or pneumo-train's compact
 * BatchNormalization network, --model compact), data-parallel over MPI ranks.
 *
 *   mpirun -np 4 --hostfile hosts pneumo-train-mpi --data DIR [options]
 *
 * Every rank holds the model and opens the same datasets (DIR must be
 * readable on every machine at the same path); each global batch of --batch
 * images is cut into --parts parts spread over the ranks, the parts'
 * gradients are added in part order (by default slice by slice, each rank
 * adding its 1/N of the arena and all-gathering it; --exchange gather: all on
 * rank 0, then broadcast), and every rank applies the same Adam update
 * (pneumo_data_parallel and pneumo_exchange in pneumo/train.h). With
 * a fixed --parts the weights are the same bits on any rank count up to it.
 * Only rank 0 prints and writes the model, history, report and checkpoints.
 * The library knows nothing of MPI: this file implements its collectives. */
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <mpi.h>

#include <pneumo/pneumo.h>

#include "cli_common.h"
#include "train_recipe.h"

#define PROG "pneumo-train-mpi"

static int usage(FILE *f)
{
    fprintf(f,
            "usage: mpirun -np N [--hostfile FILE] " PROG " (--data DIR | --train DIR --val DIR) [options]\n"
            "  --test DIR        evaluate on this folder at the end (sharded)\n"
            "  --model NAME      article (default) or compact (pneumo-train's BatchNormalization\n"
            "                    network)\n"
            "  --size N          image side (default 500)\n"
            "  --epochs N        (default 25)\n"
            "  --batch N         global batch (default 16)\n"
            "  --parts N         parts per global batch, >= ranks (default: the rank count); fix it\n"
            "                    to get bit-identical weights on every rank count up to N\n"
            "  --lr X            Adam learning rate (default 0.001)\n"
            "  --seed N          weights, shuffling and augmentation (default 1)\n"
            "  --threads N       model and data threads per rank (default 1)\n"
            "  --no-augment      train without augmentation\n"
            "  --patience N      EarlyStopping patience (default 3; 0 disables)\n"
            "  --out FILE        model file (default model.safetensors)\n"
            "  --checkpoint FILE save the run after every epoch (default checkpoint.safetensors)\n"
            "  --resume FILE     continue the run saved in this checkpoint (readable on every rank)\n"
            "  --history FILE    history CSV (default history.csv)\n"
            "  --report FILE     text report (default report.txt)\n"
            "  --weights-out FILE  also write the raw float32 weights (tensor order) here\n"
            "  --save-every-rank (testing) ranks other than 0 also save their model, to OUT.rankR\n"
            "  --exchange KIND   sliced (default: reduce-scatter + all-gather) or gather (to rank 0,\n"
            "                    then broadcast); the same bits either way\n"
            "  --timing          print the time per step spent computing and communicating\n"
            "  --bench-exchange N  only time N gradient exchanges of the model's size (no training)\n"
            "  --cancel-at R:B   (testing) rank R's callback cancels after its batch B\n"
            "  --quiet           no progress output\n");
    return f == stdout ? 0 : 2;
}

/* ------------------------------------------------------------------------ */
/* The collectives of pneumo_data_parallel over MPI_COMM_WORLD.              */

typedef struct mpi_ctx {
    int rank, ranks;
    /* SEND copies its part (or slice) here and posts MPI_Isend, so the
     * library can compute the next part while it travels; BCAST and
     * ALLGATHER complete them. */
    int nsend, cap;
    MPI_Request *req;
    float **fbuf;
    double **dbuf;
    int64_t *fcap, *dcap; /* floats each of fbuf holds, doubles each of dbuf */
    int *counts, *displs; /* ALLGATHER: every rank's slice */
    double comm_seconds;  /* in the training steps' collectives (waiting included) */
    int64_t steps;
    char err[MPI_MAX_ERROR_STRING + 64];
} mpi_ctx;

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

/* CPU seconds of this process (all its threads): what a step costs whatever
 * else the machine runs. */
static double cpu_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static pneumo_status mpi_fail(mpi_ctx *c, int rc, const char *what)
{
    char msg[MPI_MAX_ERROR_STRING];
    int len = 0;
    MPI_Error_string(rc, msg, &len);
    snprintf(c->err, sizeof c->err, "%s: %s", what, msg);
    return PNEUMO_ERR_IO;
}

/* A send slot's buffer of *cap elements of `elem` bytes, replaced by one of
 * max(need, 1) when it is smaller or missing. Returns 0 when out of memory. */
static int slot_reserve(void **buf, int64_t *cap, int64_t need, size_t elem)
{
    if (*buf && need <= *cap)
        return 1;
    free(*buf);
    *cap = need > 0 ? need : 1;
    return (*buf = malloc((size_t)*cap * elem)) != NULL;
}

static pneumo_status do_send(mpi_ctx *c, const pneumo_collective *op)
{
    int rc;
    if (c->nsend == c->cap) {
        int ncap = c->cap ? 2 * c->cap : 4;
        MPI_Request *r = realloc(c->req, (size_t)ncap * 2 * sizeof *r);
        float **fb = r ? realloc(c->fbuf, (size_t)ncap * sizeof *fb) : NULL;
        int64_t *fc = fb ? realloc(c->fcap, (size_t)ncap * sizeof *fc) : NULL;
        double **db = fc ? realloc(c->dbuf, (size_t)ncap * sizeof *db) : NULL;
        int64_t *dc = db ? realloc(c->dcap, (size_t)ncap * sizeof *dc) : NULL;
        if (r)
            c->req = r;
        if (fb) {
            c->fbuf = fb;
            for (int i = c->cap; i < ncap; i++)
                fb[i] = NULL;
        }
        if (fc) {
            c->fcap = fc;
            for (int i = c->cap; i < ncap; i++)
                fc[i] = 0;
        }
        if (db) {
            c->dbuf = db;
            for (int i = c->cap; i < ncap; i++)
                db[i] = NULL;
        }
        if (dc) {
            c->dcap = dc;
            for (int i = c->cap; i < ncap; i++)
                dc[i] = 0;
        }
        if (!r || !fb || !fc || !db || !dc) {
            snprintf(c->err, sizeof c->err, "out of memory for the send buffers");
            return PNEUMO_ERR_NOMEM;
        }
        c->cap = ncap;
    }
    /* slot nsend is free (its send completed); the slices differ in size, the
     * doubles grow with a BatchNormalization model's batch statistics */
    if (!slot_reserve((void **)&c->fbuf[c->nsend], &c->fcap[c->nsend], op->nfloats, sizeof(float)) ||
        !slot_reserve((void **)&c->dbuf[c->nsend], &c->dcap[c->nsend], op->ndoubles, sizeof(double))) {
        snprintf(c->err, sizeof c->err, "out of memory for the send buffers");
        return PNEUMO_ERR_NOMEM;
    }
    memcpy(c->fbuf[c->nsend], op->floats, (size_t)op->nfloats * sizeof(float));
    memcpy(c->dbuf[c->nsend], op->doubles, (size_t)op->ndoubles * sizeof(double));
    if ((rc = MPI_Isend(c->fbuf[c->nsend], (int)op->nfloats, MPI_FLOAT, op->peer, 2 * op->tag, MPI_COMM_WORLD,
                        &c->req[2 * c->nsend])) != MPI_SUCCESS ||
        (rc = MPI_Isend(c->dbuf[c->nsend], (int)op->ndoubles, MPI_DOUBLE, op->peer, 2 * op->tag + 1,
                        MPI_COMM_WORLD, &c->req[2 * c->nsend + 1])) != MPI_SUCCESS)
        return mpi_fail(c, rc, "MPI_Isend");
    c->nsend++;
    return PNEUMO_OK;
}

static pneumo_status collective(const pneumo_collective *op, void *user)
{
    mpi_ctx *c = user;
    double t0 = now();
    pneumo_status st = PNEUMO_OK;
    int rc = MPI_SUCCESS;
    if (op->nfloats > INT_MAX || op->ndoubles > INT_MAX) {
        snprintf(c->err, sizeof c->err, "message of %lld values is too large for MPI",
                 (long long)op->nfloats);
        return PNEUMO_ERR_LIMIT;
    }
    switch (op->op) {
    case PNEUMO_COLLECTIVE_SEND: st = do_send(c, op); break;
    case PNEUMO_COLLECTIVE_RECV:
        if ((rc = MPI_Recv(op->floats, (int)op->nfloats, MPI_FLOAT, op->peer, 2 * op->tag, MPI_COMM_WORLD,
                           MPI_STATUS_IGNORE)) == MPI_SUCCESS)
            rc = MPI_Recv(op->doubles, (int)op->ndoubles, MPI_DOUBLE, op->peer, 2 * op->tag + 1,
                          MPI_COMM_WORLD, MPI_STATUS_IGNORE);
        if (rc != MPI_SUCCESS)
            st = mpi_fail(c, rc, "MPI_Recv");
        break;
    case PNEUMO_COLLECTIVE_BCAST:
        if (c->nsend && (rc = MPI_Waitall(2 * c->nsend, c->req, MPI_STATUSES_IGNORE)) != MPI_SUCCESS) {
            st = mpi_fail(c, rc, "MPI_Waitall");
            break;
        }
        c->nsend = 0;
        if ((op->nfloats &&
             (rc = MPI_Bcast(op->floats, (int)op->nfloats, MPI_FLOAT, 0, MPI_COMM_WORLD)) != MPI_SUCCESS) ||
            (rc = MPI_Bcast(op->doubles, (int)op->ndoubles, MPI_DOUBLE, 0, MPI_COMM_WORLD)) != MPI_SUCCESS)
            st = mpi_fail(c, rc, "MPI_Bcast");
        c->steps += op->nfloats > 0;
        break;
    case PNEUMO_COLLECTIVE_ALLGATHER:
        if (c->nsend && (rc = MPI_Waitall(2 * c->nsend, c->req, MPI_STATUSES_IGNORE)) != MPI_SUCCESS) {
            st = mpi_fail(c, rc, "MPI_Waitall");
            break;
        }
        c->nsend = 0;
        /* rank j's slice starts at 16 * ((n / 16) * j / ranks) (pneumo_exchange) */
        for (int j = 0; j < c->ranks; j++) {
            int64_t s0 = 16 * (op->nfloats / 16 * j / c->ranks);
            int64_t s1 = j + 1 == c->ranks ? op->nfloats : 16 * (op->nfloats / 16 * (j + 1) / c->ranks);
            c->displs[j] = (int)s0;
            c->counts[j] = (int)(s1 - s0);
        }
        if ((rc = MPI_Allgatherv(MPI_IN_PLACE, 0, MPI_DATATYPE_NULL, op->floats, c->counts, c->displs,
                                 MPI_FLOAT, MPI_COMM_WORLD)) != MPI_SUCCESS)
            st = mpi_fail(c, rc, "MPI_Allgatherv");
        c->steps++;
        break;
    case PNEUMO_COLLECTIVE_SUM:
        if ((rc = MPI_Allreduce(MPI_IN_PLACE, op->doubles, (int)op->ndoubles, MPI_DOUBLE, MPI_SUM,
                                MPI_COMM_WORLD)) != MPI_SUCCESS)
            st = mpi_fail(c, rc, "MPI_Allreduce");
        break;
    default: snprintf(c->err, sizeof c->err, "unknown collective %d", op->op); st = PNEUMO_ERR_INVALID_ARG;
    }
    if (op->nfloats) /* a training step's SEND, RECV, BCAST or ALLGATHER */
        c->comm_seconds += now() - t0;
    return st;
}

static void ctx_free(mpi_ctx *c)
{
    for (int i = 0; i < c->cap; i++) {
        free(c->fbuf[i]);
        free(c->dbuf[i]);
    }
    free(c->fbuf);
    free(c->fcap);
    free(c->dbuf);
    free(c->dcap);
    free(c->req);
    free(c->counts);
    free(c->displs);
}

/* Every rank's verdict on a local step: 1 if any rank failed. The failing
 * rank has printed its error already. */
static int any_failed(int failed)
{
    int any = 0;
    MPI_Allreduce(&failed, &any, 1, MPI_INT, MPI_MAX, MPI_COMM_WORLD);
    return any;
}

/* ------------------------------------------------------------------------ */

static volatile sig_atomic_t interrupted;
static void on_signal(int sig)
{
    (void)sig;
    interrupted = 1;
}

typedef struct cb_ctx {
    int rank, cancel_rank;
    long cancel_batch;
    double last, last_cpu;    /* wall and process CPU time of the previous BATCH_END */
    double step_sum, cpu_sum; /* over steps, the first step of each epoch left out (warm-up) */
    int64_t timed;
} cb_ctx;

/* SIGINT/SIGTERM on any rank (or --cancel-at) stops every rank cleanly after
 * the current batch: the library agrees on the cancel. */
static int on_event(const pneumo_fit_event *e, void *user)
{
    cb_ctx *c = user;
    if (e->kind == PNEUMO_EVENT_BATCH_END) {
        double t = now(), cpu = cpu_now();
        if (e->batch > 1) {
            c->step_sum += t - c->last;
            c->cpu_sum += cpu - c->last_cpu;
            c->timed++;
        }
        c->last = t;
        c->last_cpu = cpu;
    }
    if (interrupted)
        return 1;
    return e->kind == PNEUMO_EVENT_BATCH_END && c->rank == c->cancel_rank && e->batch == c->cancel_batch;
}

static pneumo_dataset *open_ds(int rank, const char *dir, int32_t size, int augment, uint64_t seed,
                               int32_t threads, int shuffle)
{
    pneumo_dataset_options o;
    pneumo_augment_options aug;
    pneumo_dataset *ds = NULL;
    pneumo_dataset_default_options(&o);
    o.width = o.height = size;
    o.seed = seed;
    o.threads = threads;
    o.shuffle = shuffle;
    o.augment = augment;
    if (augment) {
        pneumo_augment_article_options(&aug);
        o.augment_options = &aug;
    }
    if (pneumo_dataset_open_dir(dir, &o, &ds) != PNEUMO_OK)
        fprintf(stderr, PROG ": rank %d: %s\n", rank, pneumo_last_error());
    return ds;
}

/* Rank 0's weights to every rank: identical by seed already, but a broadcast
 * makes it certain whatever each machine's build does. */
static int bcast_weights(pneumo_model *m)
{
    for (int32_t i = 0; i < pneumo_model_num_param_tensors(m); i++) {
        pneumo_tensor *t = NULL;
        int rc;
        if (pneumo_model_param(m, i, &t) != PNEUMO_OK)
            return 1;
        rc = MPI_Bcast(pneumo_tensor_data(t), (int)pneumo_tensor_numel(t), MPI_FLOAT, 0, MPI_COMM_WORLD);
        pneumo_tensor_destroy(t);
        if (rc != MPI_SUCCESS)
            return 1;
    }
    return 0;
}

/* Rank j's slice of an arena of n floats in the sliced exchange. */
static int64_t slice_start(int64_t n, int ranks, int j) { return j == ranks ? n : 16 * (n / 16 * j / ranks); }

/* The rank that computes part k. */
static int part_owner(int parts, int ranks, int k)
{
    int owner = 0;
    while ((int64_t)parts * (owner + 1) / ranks <= k)
        owner++;
    return owner;
}

/* The gradient exchange of one step on its own, as pneumo_model_fit() runs it
 * for a model arena of `n` floats (gather: parts SENT to rank 0, RECV there
 * in part order, BCAST of the sum; sliced: slices SENT to their owners, RECV
 * and added there in part order, ALLGATHER of the sums): the communication
 * cost without the compute. */
static int bench_exchange(mpi_ctx *c, int64_t n, int parts, int exchange, long rounds)
{
    float *g = calloc((size_t)n, sizeof *g), *tmp = calloc((size_t)n, sizeof *tmp);
    double d[8] = {0}, bc[64] = {0}, t0;
    int first = (int)((int64_t)parts * c->rank / c->ranks),
        end = (int)((int64_t)parts * (c->rank + 1) / c->ranks);
    const int64_t s0 = slice_start(n, c->ranks, c->rank), s1 = slice_start(n, c->ranks, c->rank + 1);
    int bad = !g || !tmp || c->ranks + 4 > 64;
    if (any_failed(bad)) {
        free(g);
        free(tmp);
        return 1;
    }
    MPI_Barrier(MPI_COMM_WORLD);
    t0 = MPI_Wtime();
    for (long r = 0; r < rounds && !bad; r++) {
        pneumo_collective op;
        memset(&op, 0, sizeof op);
        op.size = sizeof op;
        op.doubles = d;
        op.ndoubles = 5;
        for (int k = first; k < end && !bad; k++) {
            op.op = PNEUMO_COLLECTIVE_SEND;
            op.tag = k;
            if (exchange == PNEUMO_EXCHANGE_GATHER && c->rank != 0) {
                op.floats = g;
                op.nfloats = n;
                bad = collective(&op, c) != PNEUMO_OK;
            }
            for (int j = 0; j < c->ranks && exchange == PNEUMO_EXCHANGE_SLICED && !bad; j++) {
                op.peer = j;
                op.floats = g + slice_start(n, c->ranks, j);
                op.nfloats = slice_start(n, c->ranks, j + 1) - slice_start(n, c->ranks, j);
                bad = j != c->rank && collective(&op, c) != PNEUMO_OK;
            }
        }
        if (exchange == PNEUMO_EXCHANGE_GATHER) {
            for (int k = end; k < parts && c->rank == 0 && !bad; k++) {
                op.op = PNEUMO_COLLECTIVE_RECV;
                op.peer = part_owner(parts, c->ranks, k);
                op.tag = k;
                op.floats = tmp;
                op.nfloats = n;
                bad = collective(&op, c) != PNEUMO_OK;
                for (int64_t i = 0; i < n && !bad; i++)
                    g[i] += tmp[i];
            }
            op.op = PNEUMO_COLLECTIVE_BCAST;
            op.floats = g;
            op.nfloats = n;
            op.doubles = bc;
            op.ndoubles = 3 + c->ranks + 1;
            bad = bad || collective(&op, c) != PNEUMO_OK;
        } else {
            for (int k = 0; k < parts && !bad; k++) {
                if (k >= first && k < end)
                    continue; /* this rank's own parts: added from its copies */
                op.op = PNEUMO_COLLECTIVE_RECV;
                op.peer = part_owner(parts, c->ranks, k);
                op.tag = k;
                op.floats = tmp;
                op.nfloats = s1 - s0;
                bad = collective(&op, c) != PNEUMO_OK;
                for (int64_t i = 0; i < s1 - s0 && !bad; i++)
                    g[s0 + i] += tmp[i];
            }
            op.op = PNEUMO_COLLECTIVE_ALLGATHER;
            op.floats = g;
            op.nfloats = n;
            op.doubles = NULL;
            op.ndoubles = 0;
            bad = bad || collective(&op, c) != PNEUMO_OK;
        }
    }
    if (bad)
        fprintf(stderr, PROG ": rank %d: --bench-exchange: %s\n", c->rank, c->err);
    else if (c->rank == 0)
        printf(
            "exchange: %s, %d ranks, %d parts, %lld floats (%.2f MB) per part: %.2f ms per step (mean of %ld)\n",
            exchange == PNEUMO_EXCHANGE_GATHER ? "gather" : "sliced", c->ranks, parts, (long long)n,
            4e-6 * (double)n, 1e3 * (MPI_Wtime() - t0) / (double)rounds, rounds);
    free(g);
    free(tmp);
    return bad;
}

/* Floats of the model's gradient arena: every tensor padded to 64 bytes. */
static int64_t arena_floats(pneumo_model *m)
{
    int64_t n = 0;
    for (int32_t i = 0; i < pneumo_model_num_param_tensors(m); i++) {
        pneumo_tensor *t = NULL;
        if (pneumo_model_param(m, i, &t) == PNEUMO_OK)
            n += (pneumo_tensor_numel(t) + 15) & ~(int64_t)15;
        pneumo_tensor_destroy(t);
    }
    return n;
}

static int write_weights(pneumo_model *m, const char *path)
{
    FILE *f = fopen(path, "wb");
    int bad = !f;
    for (int32_t i = 0; !bad && i < pneumo_model_num_param_tensors(m); i++) {
        pneumo_tensor *t = NULL;
        bad = pneumo_model_param(m, i, &t) != PNEUMO_OK ||
              fwrite(pneumo_tensor_data(t), sizeof(float), (size_t)pneumo_tensor_numel(t), f) !=
                  (size_t)pneumo_tensor_numel(t);
        pneumo_tensor_destroy(t);
    }
    if (f && fclose(f) != 0)
        bad = 1;
    if (bad)
        fprintf(stderr, PROG ": cannot write %s\n", path);
    return bad;
}

static int report(const char *path, pneumo_model *m, const pneumo_history *h, const pneumo_evaluation *ev_val,
                  const pneumo_dataset *val, const pneumo_evaluation *ev_test, const pneumo_dataset *test,
                  int ranks, int parts, long threads)
{
    FILE *f = fopen(path, "w");
    if (!f) {
        fprintf(stderr, PROG ": cannot write %s\n", path);
        return 1;
    }
    fprintf(f, "libpneumo %s data-parallel training report: %d ranks x %ld threads, %d parts per batch\n\n",
            pneumo_version(), ranks, threads, parts);
    pneumo_model_summary(m, cli_write_stream, f);
    fprintf(f, "\nepoch  loss    accuracy  val_loss  val_accuracy  lr          seconds\n");
    for (int32_t e = 0; e < pneumo_history_size(h); e++) {
        pneumo_epoch_record r;
        pneumo_history_get(h, e, &r);
        fprintf(f, "%5d  %.4f  %.4f    %.4f    %.4f        %-10.3g  %.0f\n", r.epoch + 1, r.loss, r.accuracy,
                r.val_loss, r.val_accuracy, r.lr, r.seconds);
    }
    fprintf(f, "\nvalidation:\n");
    cli_print_evaluation(f, ev_val, val);
    if (ev_test) {
        fprintf(f, "\ntest:\n");
        cli_print_evaluation(f, ev_test, test);
    }
    if (fclose(f) != 0) {
        fprintf(stderr, PROG ": cannot write %s\n", path);
        return 1;
    }
    return 0;
}

int main(int argc, char **argv)
{
    const char *data = NULL, *train_dir = NULL, *val_dir = NULL, *test_dir = NULL;
    const char *out = "model.safetensors", *history_csv = "history.csv", *report_path = "report.txt";
    const char *checkpoint = "checkpoint.safetensors", *resume = NULL, *weights_out = NULL;
    const char *model = "article";
    long size = 500, epochs = 25, batch = 16, seed = 1, threads = 1, patience = 3, parts = 0;
    double lr = 1e-3, t_fit = 0.0;
    int augment = 1, quiet = 0, timing = 0, rc = 1, failed, rank = 0, ranks = 1, every_rank = 0;
    int exchange = PNEUMO_EXCHANGE_SLICED;
    char train_buf[4096], val_buf[4096];
    pneumo_dataset *train = NULL, *val = NULL, *test = NULL;
    pneumo_model *m = NULL;
    pneumo_optimizer *opt = NULL;
    pneumo_adam_params ap;
    pneumo_fit_options fo;
    pneumo_early_stopping_params es;
    pneumo_reduce_lr_params rl;
    pneumo_data_parallel dp;
    pneumo_history *h = NULL;
    pneumo_evaluation ev_val, ev_test;
    pneumo_status st;
    mpi_ctx mc;
    cb_ctx cb = {0, -1, 0, 0.0, 0.0, 0.0, 0.0, 0};
    long bench_rounds = 0;

    if (MPI_Init(&argc, &argv) != MPI_SUCCESS) {
        fprintf(stderr, PROG ": MPI_Init failed\n");
        return 1;
    }
    MPI_Comm_set_errhandler(MPI_COMM_WORLD, MPI_ERRORS_RETURN);
    MPI_Comm_rank(MPI_COMM_WORLD, &rank);
    MPI_Comm_size(MPI_COMM_WORLD, &ranks);
    memset(&mc, 0, sizeof mc);
    mc.rank = rank;
    mc.ranks = ranks;
    cb.rank = rank;
    mc.counts = malloc((size_t)ranks * sizeof *mc.counts);
    mc.displs = malloc((size_t)ranks * sizeof *mc.displs);
    if (!mc.counts || !mc.displs) {
        fprintf(stderr, PROG ": rank %d: out of memory\n", rank);
        MPI_Abort(MPI_COMM_WORLD, 1);
    }

    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0) {
            if (rank == 0)
                usage(stdout);
            MPI_Finalize();
            return 0;
        }
        if (strcmp(a, "--no-augment") == 0) {
            augment = 0;
            continue;
        }
        if (strcmp(a, "--quiet") == 0 || strcmp(a, "-q") == 0) {
            quiet = 1;
            continue;
        }
        if (strcmp(a, "--save-every-rank") == 0) {
            every_rank = 1;
            continue;
        }
        if (strcmp(a, "--timing") == 0) {
            timing = 1;
            continue;
        }
        if (!v)
            goto bad_usage;
        i++;
        /* clang-format off */
        if (strcmp(a, "--data") == 0) data = v;
        else if (strcmp(a, "--train") == 0) train_dir = v;
        else if (strcmp(a, "--val") == 0) val_dir = v;
        else if (strcmp(a, "--test") == 0) test_dir = v;
        else if (strcmp(a, "--model") == 0 && train_model_known(v)) model = v;
        else if (strcmp(a, "--size") == 0) size = cli_long(PROG, a, v, 94, 16384);
        else if (strcmp(a, "--epochs") == 0) epochs = cli_long(PROG, a, v, 1, 100000);
        else if (strcmp(a, "--batch") == 0) batch = cli_long(PROG, a, v, 1, 4096);
        else if (strcmp(a, "--parts") == 0) parts = cli_long(PROG, a, v, 1, 4096);
        else if (strcmp(a, "--lr") == 0) lr = cli_double(PROG, a, v, 1e-9, 10.0);
        else if (strcmp(a, "--seed") == 0) seed = cli_long(PROG, a, v, 0, 1L << 31);
        else if (strcmp(a, "--threads") == 0) threads = cli_long(PROG, a, v, 1, 64);
        else if (strcmp(a, "--patience") == 0) patience = cli_long(PROG, a, v, 0, 100000);
        else if (strcmp(a, "--out") == 0) out = v;
        else if (strcmp(a, "--checkpoint") == 0) checkpoint = v;
        else if (strcmp(a, "--resume") == 0) resume = v;
        else if (strcmp(a, "--history") == 0) history_csv = v;
        else if (strcmp(a, "--report") == 0) report_path = v;
        else if (strcmp(a, "--weights-out") == 0) weights_out = v;
        else if (strcmp(a, "--bench-exchange") == 0) bench_rounds = cli_long(PROG, a, v, 1, 100000);
        else if (strcmp(a, "--exchange") == 0 && strcmp(v, "sliced") == 0) exchange = PNEUMO_EXCHANGE_SLICED;
        else if (strcmp(a, "--exchange") == 0 && strcmp(v, "gather") == 0) exchange = PNEUMO_EXCHANGE_GATHER;
        else if (strcmp(a, "--cancel-at") == 0) {
            if (sscanf(v, "%d:%ld", &cb.cancel_rank, &cb.cancel_batch) != 2)
                goto bad_usage;
        } else goto bad_usage;
        /* clang-format on */
    }
    if (data) {
        snprintf(train_buf, sizeof train_buf, "%s/train", data);
        snprintf(val_buf, sizeof val_buf, "%s/val", data);
        train_dir = train_dir ? train_dir : train_buf;
        val_dir = val_dir ? val_dir : val_buf;
    }
    if (!parts)
        parts = ranks;
    if (!train_dir || !val_dir)
        goto bad_usage;
    if (parts < ranks || parts > batch) {
        if (rank == 0)
            fprintf(stderr, PROG ": --parts %ld must be between the rank count (%d) and --batch (%ld)\n",
                    parts, ranks, batch);
        MPI_Finalize();
        return 2;
    }
    signal(SIGINT, on_signal);
    signal(SIGTERM, on_signal);

    failed = !resume && train_model_create(model, (int32_t)size, (uint64_t)seed, &m) != PNEUMO_OK;
    if (failed)
        fprintf(stderr, PROG ": rank %d: %s\n", rank, pneumo_last_error());
    if (bench_rounds) {
        rc = any_failed(failed || !m) ||
             bench_exchange(&mc, arena_floats(m), (int)parts, exchange, bench_rounds);
        goto done;
    }
    if (!failed && m && rank == 0 && !quiet)
        pneumo_model_summary(m, cli_write_stream, stdout);
    if (!failed) {
        train = open_ds(rank, train_dir, (int32_t)size, augment, (uint64_t)seed, (int32_t)threads, 1);
        val = train ? open_ds(rank, val_dir, (int32_t)size, 0, (uint64_t)seed, (int32_t)threads, 1) : NULL;
        test = val && test_dir
                   ? open_ds(rank, test_dir, (int32_t)size, 0, (uint64_t)seed, (int32_t)threads, 0)
                   : NULL;
        failed = !train || !val || (test_dir && !test);
    }
    if (any_failed(failed))
        goto done;
    if (rank == 0 && !quiet &&
        (cli_print_dataset(stdout, PROG, train, 1) || cli_print_dataset(stdout, PROG, val, 0) ||
         (test && cli_print_dataset(stdout, PROG, test, 0))))
        goto done;
    if (rank == 0 && !quiet)
        printf("data-parallel: %d ranks x %ld threads, global batch %ld in %ld parts, %s exchange\n", ranks,
               threads, batch, parts, exchange == PNEUMO_EXCHANGE_GATHER ? "gather" : "sliced");

    pneumo_data_parallel_default(&dp);
    dp.rank = rank;
    dp.ranks = ranks;
    dp.parts = (int32_t)parts;
    dp.exchange = exchange;
    dp.collective = collective;
    dp.user = &mc;
    pneumo_fit_default_options(&fo);
    fo.epochs = (int32_t)epochs;
    fo.batch_size = (int32_t)batch;
    fo.class_weighting = PNEUMO_CLASS_WEIGHT_BALANCED;
    pneumo_early_stopping_default_params(&es);
    es.enabled = patience > 0;
    es.patience = (int32_t)patience;
    fo.early_stopping = &es;
    pneumo_reduce_lr_default_params(&rl);
    rl.enabled = 1;
    rl.factor = 0.3;
    rl.patience = 2;
    rl.min_lr = 1e-6;
    fo.reduce_lr = &rl;
    fo.checkpoint_path = checkpoint; /* the library writes on rank 0 only */
    fo.threads = (int32_t)threads;
    fo.progress = quiet || rank != 0 ? NULL : cli_write_stream;
    fo.progress_user = stdout;
    fo.progress_bar = !quiet && rank == 0 && isatty(STDOUT_FILENO);
    fo.callback = on_event;
    fo.user = &cb;
    fo.parallel = &dp;
    t_fit = now();
    if (resume) {
        if (rank == 0 && !quiet)
            printf("resuming the run saved in %s\n", resume);
        st = pneumo_model_fit_resume(resume, train, val, &fo, &m, &opt, &h);
    } else {
        pneumo_adam_default_params(&ap);
        ap.learning_rate = (float)lr;
        failed = bcast_weights(m) || pneumo_optimizer_create_adam(&ap, &opt) != PNEUMO_OK;
        if (failed)
            fprintf(stderr, PROG ": rank %d: %s\n", rank, mc.err[0] ? mc.err : pneumo_last_error());
        if (any_failed(failed))
            goto done;
        st = pneumo_model_fit(m, opt, train, val, &fo, &h);
    }
    t_fit = now() - t_fit;
    if (st != PNEUMO_OK && mc.err[0]) {
        /* the transport failed: the other ranks may wait in a collective */
        fprintf(stderr, PROG ": rank %d: %s: %s\n", rank, pneumo_last_error(), mc.err);
        MPI_Abort(MPI_COMM_WORLD, 1);
    }
    /* every rank agreed on the outcome; a failed rank prints its own error,
     * rank 0 says why the run stopped */
    if (st != PNEUMO_OK && (st != PNEUMO_ERR_CANCELLED || rank == 0))
        fprintf(stderr, PROG ": rank %d: training stopped: %s\n", rank, pneumo_last_error());
    if (!m)
        goto done;
    if (timing && mc.steps) {
        /* one line per rank, in rank order */
        for (int r = 0; r < ranks; r++) {
            if (r == rank)
                printf("timing: rank %d of %d: %lld steps, %.1f ms per step, %.1f CPU ms per step (first "
                       "step of each epoch left out), %.1f ms per step in the gradient exchange (waiting "
                       "included); fit %.2f s\n",
                       rank, ranks, (long long)mc.steps,
                       cb.timed ? 1e3 * cb.step_sum / (double)cb.timed : 0.0,
                       cb.timed ? 1e3 * cb.cpu_sum / (double)cb.timed : 0.0,
                       1e3 * mc.comm_seconds / (double)mc.steps, t_fit);
            fflush(stdout);
            MPI_Barrier(MPI_COMM_WORLD);
        }
    }
    if (rank == 0) {
        failed = (h && pneumo_history_save_csv(h, history_csv) != PNEUMO_OK) ||
                 pneumo_model_save(m, opt, out) != PNEUMO_OK;
        if (failed)
            fprintf(stderr, PROG ": %s\n", pneumo_last_error());
        else if (weights_out)
            failed = write_weights(m, weights_out);
        if (!failed && !quiet)
            printf("saved %s and %s\n", out, history_csv);
    } else if (every_rank) {
        char path[4096];
        snprintf(path, sizeof path, "%s.rank%d", out, rank);
        failed = pneumo_model_save(m, opt, path) != PNEUMO_OK;
        if (failed)
            fprintf(stderr, PROG ": rank %d: %s\n", rank, pneumo_last_error());
    } else
        failed = 0;
    if (any_failed(failed) || st != PNEUMO_OK)
        goto done;
    /* the final evaluations, sharded like validation */
    st = pneumo_model_evaluate_parallel(m, val, (int32_t)batch, pneumo_model_threshold(m), &dp, &ev_val, NULL,
                                        NULL, 0);
    if (st == PNEUMO_OK && test)
        st = pneumo_model_evaluate_parallel(m, test, (int32_t)batch, pneumo_model_threshold(m), &dp, &ev_test,
                                            NULL, NULL, 0);
    if (st != PNEUMO_OK) {
        if (mc.err[0])
            MPI_Abort(MPI_COMM_WORLD, 1);
        if (st != PNEUMO_ERR_CANCELLED || rank == 0)
            fprintf(stderr, PROG ": rank %d: evaluation: %s\n", rank, pneumo_last_error());
        goto done;
    }
    if (rank == 0) {
        if (test && !quiet) {
            printf("\nTest set (%s):\n", test_dir);
            cli_print_evaluation(stdout, &ev_test, test);
        }
        failed = report(report_path, m, h, &ev_val, val, test ? &ev_test : NULL, test, ranks, (int)parts,
                        threads);
        if (!failed && !quiet)
            printf("report: %s\n", report_path);
    }
    rc = any_failed(failed);
done:
    pneumo_history_destroy(h);
    pneumo_optimizer_destroy(opt);
    pneumo_model_destroy(m);
    pneumo_dataset_destroy(train);
    pneumo_dataset_destroy(val);
    pneumo_dataset_destroy(test);
    ctx_free(&mc);
    MPI_Finalize();
    return rc;
bad_usage:
    if (rank == 0)
        usage(stderr);
    MPI_Finalize();
    return 2;
}
