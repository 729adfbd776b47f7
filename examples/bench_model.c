/* pneumo-bench modes train, infer and all: the article's model at
 * batch 16, 500x500x1, random input.
 *
 *   train  FP32 FMA peak of this machine (measured here: bench_peak.c), images/s
 *          of training steps (forward + backward + Adam) with 1 and N threads,
 *          per-layer forward and backward times with FLOPs, GFLOP/s and share
 *          of the measured peak, peak RSS of a process that only trains;
 *   infer  single-image latency (8-bit image -> probability) and batch images/s;
 *   all    both.
 * --vs-torch runs examples/bench_torch.py with /usr/bin/python3 (the same model
 * in PyTorch, channels_last) and prints the ratios. --json prints one JSON
 * object instead of the table (progress goes to stderr).
 *
 * The per-layer times call each layer's forward/backward exactly as
 * lib/model/exec.c does (same pn_run settings, Conv2D + MaxPooling2D pairs
 * fused where the model's plan fuses them, the batch split by samples over the
 * model's thread pool, private gradient sums added up afterwards), so this
 * program links the internal static library (libpneumo_internal) and includes
 * internal headers. Everything else goes through the public API. */
#include "bench_model.h"

#include <errno.h>
#include <math.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <pneumo/pneumo.h>

#include "core/threadpool.h"
#include "kernels/cpu.h"
#include "layers/fused.h"
#include "layers/layer.h"
#include "model/model.h"
#include "model/test_hooks.h"

#define PROG "pneumo-bench"
#define MAX_LAYERS 32

/* Where `meson install` puts bench_torch.py (an installed path, never the
 * source tree's); the build tree has a copy next to the pneumo-bench binary. */
#ifndef BENCH_TORCH_SCRIPT
#define BENCH_TORCH_SCRIPT "bench_torch.py"
#endif
#ifndef BENCH_ORT_SCRIPT
#define BENCH_ORT_SCRIPT "bench_ort.js"
#endif
#define BENCH_PYTHON "/usr/bin/python3"

/* ------------------------------------------------------------------------ */
/* Small helpers.                                                            */

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

/* CPU time of the process (all threads) or of the calling thread. On a shared,
 * loaded machine wall-clock rates drop with the load; CPU time per unit of work
 * stays close to what an idle core does, so both are reported. */
static double cpu_s(clockid_t which)
{
    struct timespec ts;
    clock_gettime(which, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

/* Median of v[0..n) (v is sorted in place); NAN for n == 0. */
static double median_of(double *v, int n)
{
    if (n <= 0)
        return NAN;
    qsort(v, (size_t)n, sizeof *v, cmp_double);
    return n % 2 ? v[n / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2]);
}

static long parse_long(const char *flag, const char *v, long lo, long hi)
{
    char *end;
    long x;
    errno = 0;
    x = strtol(v, &end, 10);
    if (!*v || *end || errno || x < lo || x > hi) {
        fprintf(stderr, PROG ": %s must be an integer in %ld..%ld (got '%s')\n", flag, lo, hi, v);
        exit(2);
    }
    return x;
}

static void loadavg(double out[3])
{
    FILE *f = fopen("/proc/loadavg", "r");
    out[0] = out[1] = out[2] = NAN;
    if (f) {
        if (fscanf(f, "%lf %lf %lf", &out[0], &out[1], &out[2]) != 3)
            out[0] = out[1] = out[2] = NAN;
        fclose(f);
    }
}

/* Peak resident set size of this process (VmHWM) in kB, -1 if unknown. */
static long vm_hwm_kb(void)
{
    char line[256];
    long kb = -1;
    FILE *f = fopen("/proc/self/status", "r");
    if (!f)
        return -1;
    while (fgets(line, sizeof line, f))
        if (strncmp(line, "VmHWM:", 6) == 0) {
            kb = strtol(line + 6, NULL, 10);
            break;
        }
    fclose(f);
    return kb;
}

/* xorshift64*: random inputs without libc's global state. */
static uint64_t rng_next(uint64_t *s)
{
    *s ^= *s >> 12;
    *s ^= *s << 25;
    *s ^= *s >> 27;
    return *s * 0x2545F4914F6CDD1DULL;
}

static float rng_unit(uint64_t *s) { return (float)(rng_next(s) >> 40) * (1.0f / 16777216.0f); }

static int fail(const char *what)
{
    fprintf(stderr, PROG ": %s: %s\n", what, pneumo_last_error());
    return 1;
}

/* Print a double for JSON (null for NaN/inf). */
static void json_num(FILE *f, double v)
{
    if (isfinite(v))
        fprintf(f, "%.6g", v);
    else
        fputs("null", f);
}

/* Print a JSON string (quotes and backslashes escaped, control characters
 * dropped). */
static void json_str(FILE *f, const char *s)
{
    fputc('"', f);
    for (; *s; s++)
        if (*s == '"' || *s == '\\')
            fprintf(f, "\\%c", *s);
        else if ((unsigned char)*s >= 0x20)
            fputc(*s, f);
    fputc('"', f);
}

/* ------------------------------------------------------------------------ */
/* Options and results.                                                      */

typedef struct bench_opts {
    const char *mode;
    int train, infer;
    int quick, json, vs_torch, vs_ort;
    int threads, batch, size, steps, warmup, runs;
    const char *torch_script;
    const char *ort_script, *ort_modules; /* ort_modules: NULL = search */
} bench_opts;

typedef struct layer_result {
    char name[136]; /* "conv2d_1+max_pooling2d_1": two layer names */
    char shape[48];
    int kind;
    double fwd_ms, bwd_ms;
    double fwd_cpu_ms, bwd_cpu_ms; /* process CPU time (all threads) */
    double fwd_flop, bwd_flop;     /* per batch; 0 for layers without arithmetic */
    double bytes;                  /* dense layers: least bytes moved per step (fwd + bwd) */
} layer_result;

/* One step of a single image's forward (a layer or a fused pair) at 1 and N threads. */
typedef struct single_step {
    char name[136];
    double ms[2];  /* wall clock, medians: [0] 1 thread, [1] N threads */
    double cpu_ms; /* process CPU time at N threads, median */
} single_step;

typedef struct torch_result {
    int ran;
    char note[512]; /* why it did not run, or an error */
    char *json;     /* the script's JSON object */
    double train1, trainN, single_ms, batch_ips, rss_mb;
    double cpu1, cpuN; /* process CPU ms per training image */
} torch_result;

typedef struct ort_result {
    int ran;
    char note[512]; /* why it did not run, or an error */
    char *json;     /* bench_ort.js's JSON object */
    char version[32];
    double single_ms, batch_ips;        /* medians */
    double single_cpu_ms, batch_cpu_ms; /* process CPU ms per image */
} ort_result;

typedef struct peak_result {
    const char *isa;
    double p1, pN; /* GFLOP/s, 1 and N threads (wall clock) */
    double core;   /* GFLOP per CPU-second of one thread */
} peak_result;

typedef struct bench_results {
    double load_start[3], load_end[3];
    peak_result peaks[2]; /* every FMA tier measured (AVX-512, AVX2) */
    int npeaks;
    const char *peak_isa; /* the reference among them (the tier in use) */
    char peak_note[128];
    double peak1, peakN;   /* the reference's GFLOP/s */
    double peak_core;      /* its GFLOP per CPU-second of one thread */
    double mem_gbs;        /* memory copy bandwidth, N threads */
    double train1, trainN; /* images/s, medians */
    double rates1[64], ratesN[64];
    double cpu1, cpuN; /* process CPU ms per image, medians */
    int nrates1, nratesN;
    double rss_mb;
    layer_result layers[MAX_LAYERS];
    int nlayers;
    int layer_threads; /* threads the per-layer pass really used */
    double adam_ms, layer_sum_ms;
    double single_ms, batch_ips;
    double single_cpu_ms, batch_cpu_ms;   /* process CPU ms per image */
    single_step single_steps[MAX_LAYERS]; /* a single image's forward, per step */
    int nsingle_steps;
    double single_total_ms[2]; /* pneumo_model_predict_image at 1 and N threads, in the hooked runs */
    torch_result torch;
    ort_result ort;
    double wall_s;
} bench_results;

static void results_init(bench_results *r)
{
    memset(r, 0, sizeof *r);
    r->peak_core = r->cpu1 = r->cpuN = r->torch.cpu1 = r->torch.cpuN = NAN;
    r->peak1 = r->peakN = r->train1 = r->trainN = r->rss_mb = NAN;
    r->adam_ms = r->layer_sum_ms = r->single_ms = r->batch_ips = NAN;
    r->torch.train1 = r->torch.trainN = r->torch.single_ms = NAN;
    r->torch.batch_ips = r->torch.rss_mb = NAN;
    r->single_cpu_ms = r->batch_cpu_ms = NAN;
    r->ort.single_ms = r->ort.batch_ips = r->ort.single_cpu_ms = r->ort.batch_cpu_ms = NAN;
    r->peak_isa = "none";
    snprintf(r->peak_note, sizeof r->peak_note, "not measured");
    r->mem_gbs = NAN;
}

/* Progress lines: stderr under --json (stdout holds only the object). */
static FILE *progress_stream(const bench_opts *o) { return o->json ? stderr : stdout; }

/* ------------------------------------------------------------------------ */
/* FP32 FMA peak.                                                            */

typedef double (*peak_fn)(long iters, float seed);

#if defined(__x86_64__) && defined(BENCH_HAVE_PEAK)
typedef struct peak_thread {
    peak_fn fn;
    long iters;
    pthread_barrier_t *barrier;
    double flops, seconds, cpu_seconds;
    float seed;
} peak_thread;

static void *peak_worker(void *arg)
{
    peak_thread *p = arg;
    double t0, c0;
    pthread_barrier_wait(p->barrier);
    t0 = now_s();
    c0 = cpu_s(CLOCK_THREAD_CPUTIME_ID);
    p->flops = p->fn(p->iters, p->seed);
    p->seconds = now_s() - t0;
    p->cpu_seconds = cpu_s(CLOCK_THREAD_CPUTIME_ID) - c0;
    return NULL;
}

/* GFLOP/s of `nth` threads running fn at once: all flops over the slowest
 * thread's time; the best of `reps` repetitions (a peak, not a median).
 * *per_cpu_s receives the best GFLOP per CPU-second of one thread (the core's
 * capacity whatever else runs on the machine). */
static double peak_gflops(peak_fn fn, int nth, long iters, int reps, double *per_cpu_s)
{
    double best = 0.0;
    *per_cpu_s = 0.0;
    peak_thread p[64];
    pthread_t tid[64];
    pthread_barrier_t barrier;
    if (nth > 64)
        nth = 64;
    for (int rep = 0; rep < reps; rep++) {
        double flops = 0.0, slowest = 0.0;
        int started = 0;
        pthread_barrier_init(&barrier, NULL, (unsigned)nth);
        for (int t = 0; t < nth; t++) {
            p[t] =
                (peak_thread){.fn = fn, .iters = iters, .barrier = &barrier, .seed = 1.0f + 0.01f * (float)t};
            if (t > 0 && pthread_create(&tid[t], NULL, peak_worker, &p[t]) == 0)
                started++;
        }
        if (started != nth - 1) { /* could not start every thread: give up */
            pthread_barrier_destroy(&barrier);
            return NAN;
        }
        peak_worker(&p[0]);
        for (int t = 1; t < nth; t++)
            pthread_join(tid[t], NULL);
        pthread_barrier_destroy(&barrier);
        for (int t = 0; t < nth; t++) {
            flops += p[t].flops;
            if (p[t].seconds > slowest)
                slowest = p[t].seconds;
            if (p[t].cpu_seconds > 0 && p[t].flops / p[t].cpu_seconds * 1e-9 > *per_cpu_s)
                *per_cpu_s = p[t].flops / p[t].cpu_seconds * 1e-9;
        }
        if (slowest > 0 && flops / slowest * 1e-9 > best)
            best = flops / slowest * 1e-9;
    }
    return best;
}
#endif

/* Measure every FMA tier this CPU and the library both support (AVX-512 and
 * AVX2 on x86_64), then take as the reference the tier the kernels actually
 * run (pneumo_kernel_isa(), capped by PNEUMO_ISA): a 256-bit kernel tier on an
 * AVX-512 CPU is measured against the 256-bit peak. The scalar tier has no
 * SIMD peak of its own; it is compared with the AVX2 one (and says so). */
static void measure_peak(const bench_opts *o, bench_results *r)
{
    const char *active = pneumo_kernel_isa();
    int ref = -1;
    (void)o; /* only the x86_64 peak kernels read the options */
    r->npeaks = 0;
#if defined(__x86_64__) && defined(BENCH_HAVE_PEAK)
    {
        const double target = o->quick ? 0.1 : 0.3;
        const int reps = o->quick ? 2 : 3;
        static const struct {
            const char *isa;
            peak_fn fn;
            unsigned flag;
        } tiers[] = {{"avx512", bench_peak_fma_avx512, PN_CPU_FLAG_AVX512},
                     {"avx2", bench_peak_fma_avx2, PN_CPU_FLAG_AVX2}};
        __builtin_cpu_init();
        for (size_t i = 0; i < sizeof tiers / sizeof tiers[0]; i++) {
            /* pn_cpu_flags() ignores PNEUMO_ISA: every tier the CPU and OS allow */
            int cpu_ok = i == 0 ? __builtin_cpu_supports("avx512f")
                                : __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
            peak_result *pk = &r->peaks[r->npeaks];
            long iters = 1000000;
            double t0, dt, dummy;
            if (!cpu_ok || !(pn_cpu_flags() & tiers[i].flag))
                continue;
            /* calibrate the iteration count to ~target seconds per run */
            t0 = now_s();
            tiers[i].fn(iters, 1.0f);
            dt = now_s() - t0;
            if (dt > 0)
                iters = (long)((double)iters * target / dt);
            if (iters < 100000)
                iters = 100000;
            pk->isa = tiers[i].isa;
            pk->p1 = peak_gflops(tiers[i].fn, 1, iters, reps, &pk->core);
            pk->pN = o->threads > 1 ? peak_gflops(tiers[i].fn, o->threads, iters, reps, &dummy) : pk->p1;
            r->npeaks++;
        }
    }
#endif
    for (int i = 0; i < r->npeaks; i++)
        if (strcmp(r->peaks[i].isa, active) == 0)
            ref = i;
    if (ref < 0 && strcmp(active, "scalar") == 0)
        for (int i = 0; i < r->npeaks; i++)
            if (strcmp(r->peaks[i].isa, "avx2") == 0)
                ref = i;
    if (ref < 0) {
        snprintf(r->peak_note, sizeof r->peak_note, "not measured: no FMA peak kernel for the %s tier%s",
                 active, r->npeaks ? "" : " (needs x86_64 with AVX2+FMA)");
        return;
    }
    r->peak_isa = r->peaks[ref].isa;
    r->peak1 = r->peaks[ref].p1;
    r->peakN = r->peaks[ref].pN;
    r->peak_core = r->peaks[ref].core;
    if (strcmp(r->peak_isa, active) == 0)
        snprintf(r->peak_note, sizeof r->peak_note, "%s, the kernel tier in use", r->peak_isa);
    else
        snprintf(r->peak_note, sizeof r->peak_note,
                 "%s: the kernel tier in use (%s) has no FMA peak of its own", r->peak_isa, active);
}

/* Memory copy bandwidth: `nth` threads each copy their own BW_MB buffer (far
 * larger than the caches) at once; bytes read + bytes written over the slowest
 * thread's time, best of `reps`, or over its CPU time if that gives more (as
 * the peak: on a loaded machine the copy waits for a core). The dense layers'
 * memory bound uses it. */
#define BW_MB 64

typedef struct bw_thread {
    unsigned char *src, *dst;
    size_t bytes;
    pthread_barrier_t *barrier;
    double seconds, cpu_seconds;
} bw_thread;

static void *bw_worker(void *arg)
{
    bw_thread *b = arg;
    double t0, c0;
    pthread_barrier_wait(b->barrier);
    t0 = now_s();
    c0 = cpu_s(CLOCK_THREAD_CPUTIME_ID);
    memcpy(b->dst, b->src, b->bytes);
    b->seconds = now_s() - t0;
    b->cpu_seconds = cpu_s(CLOCK_THREAD_CPUTIME_ID) - c0;
    return NULL;
}

static void measure_bandwidth(const bench_opts *o, bench_results *r)
{
    const size_t bytes = (size_t)BW_MB << 20;
    const int nth = o->threads > 64 ? 64 : o->threads, reps = o->quick ? 3 : 5;
    bw_thread b[64];
    pthread_t tid[64];
    pthread_barrier_t barrier;
    double best = 0.0;
    int ok = 1;
    memset(b, 0, sizeof b);
    for (int t = 0; t < nth && ok; t++) {
        b[t].src = malloc(bytes);
        b[t].dst = malloc(bytes);
        if (!b[t].src || !b[t].dst)
            ok = 0;
        else {
            memset(b[t].src, t + 1, bytes); /* fault the pages in before timing */
            memset(b[t].dst, 0, bytes);
        }
    }
    for (int rep = 0; rep < reps && ok; rep++) {
        double slowest = 0.0, slowest_cpu = 0.0;
        int started = 0;
        pthread_barrier_init(&barrier, NULL, (unsigned)nth);
        for (int t = 0; t < nth; t++) {
            b[t].bytes = bytes;
            b[t].barrier = &barrier;
            if (t > 0 && pthread_create(&tid[t], NULL, bw_worker, &b[t]) == 0)
                started++;
        }
        if (started != nth - 1) {
            for (int t = 1; t <= started; t++)
                pthread_join(tid[t], NULL);
            pthread_barrier_destroy(&barrier);
            ok = 0;
            break;
        }
        bw_worker(&b[0]);
        for (int t = 1; t < nth; t++)
            pthread_join(tid[t], NULL);
        pthread_barrier_destroy(&barrier);
        for (int t = 0; t < nth; t++) {
            slowest = fmax(slowest, b[t].seconds);
            slowest_cpu = fmax(slowest_cpu, b[t].cpu_seconds);
        }
        if (slowest > 0)
            best = fmax(best, 2.0 * (double)bytes * nth / slowest * 1e-9);
        if (slowest_cpu > 0)
            best = fmax(best, 2.0 * (double)bytes * nth / slowest_cpu * 1e-9);
    }
    for (int t = 0; t < nth; t++) {
        free(b[t].src);
        free(b[t].dst);
    }
    r->mem_gbs = ok && best > 0 ? best : NAN;
}

/* ------------------------------------------------------------------------ */
/* Training throughput.                                                      */

typedef struct train_data {
    pneumo_tensor *x, *y;
} train_data;

static int make_train_data(int batch, int size, uint64_t seed, train_data *d)
{
    int64_t xs[4] = {batch, size, size, 1}, ys[1] = {batch};
    uint64_t s = seed | 1;
    float *p;
    memset(d, 0, sizeof *d);
    if (pneumo_tensor_create(4, xs, &d->x) != PNEUMO_OK || pneumo_tensor_create(1, ys, &d->y) != PNEUMO_OK)
        return fail("tensor");
    p = pneumo_tensor_data(d->x);
    for (int64_t i = 0; i < pneumo_tensor_numel(d->x); i++)
        p[i] = rng_unit(&s);
    p = pneumo_tensor_data(d->y);
    for (int i = 0; i < batch; i++)
        p[i] = (float)(i & 1);
    return 0;
}

static void free_train_data(train_data *d)
{
    pneumo_tensor_destroy(d->x);
    pneumo_tensor_destroy(d->y);
}

static int new_model(const bench_opts *o, int threads, pneumo_model **m)
{
    if (pneumo_model_create_article(o->size, 42, m) != PNEUMO_OK)
        return fail("pneumo_model_create_article");
    if (pneumo_model_set_threads(*m, threads) != PNEUMO_OK) {
        pneumo_model_destroy(*m);
        *m = NULL;
        return fail("pneumo_model_set_threads");
    }
    return 0;
}

/* Warm-up then timed steps with `threads`; images/s of each timed step into
 * rates. Leaves the model (trained, buffers allocated) in *keep if not NULL. */
static int time_training(const bench_opts *o, const train_data *d, int threads, double *rates, int *nrates,
                         double *cpu_ms, pneumo_model **keep)
{
    pneumo_model *m = NULL;
    pneumo_optimizer *opt = NULL;
    pneumo_adam_params ap;
    pneumo_step_result res;
    FILE *pf = progress_stream(o);
    double cpu[64];
    if (new_model(o, threads, &m))
        return 1;
    pneumo_adam_default_params(&ap);
    if (pneumo_optimizer_create_adam(&ap, &opt) != PNEUMO_OK) {
        pneumo_model_destroy(m);
        return fail("pneumo_optimizer_create_adam");
    }
    fprintf(pf, "  %d %s: ", threads, threads == 1 ? "thread " : "threads");
    fflush(pf);
    *nrates = 0;
    for (int s = 0; s < o->warmup + o->steps; s++) {
        double t0 = now_s(), c0 = cpu_s(CLOCK_PROCESS_CPUTIME_ID), dt;
        if (pneumo_model_train_step(m, opt, d->x, d->y, NULL, &res) != PNEUMO_OK) {
            pneumo_optimizer_destroy(opt);
            pneumo_model_destroy(m);
            return fail("pneumo_model_train_step");
        }
        dt = now_s() - t0;
        if (s >= o->warmup && *nrates < 64) {
            cpu[*nrates] = (cpu_s(CLOCK_PROCESS_CPUTIME_ID) - c0) * 1e3 / o->batch;
            rates[(*nrates)++] = o->batch / dt;
        }
        fprintf(pf, "%s%.2f", s == 0 ? "" : s == o->warmup ? " | " : " ", o->batch / dt);
        fflush(pf);
    }
    *cpu_ms = median_of(cpu, *nrates);
    fprintf(pf, " img/s (warm-up | timed), loss %.4f, CPU %.1f ms/img\n", res.loss, *cpu_ms);
    pneumo_optimizer_destroy(opt);
    if (keep)
        *keep = m;
    else
        pneumo_model_destroy(m);
    return 0;
}

/* ------------------------------------------------------------------------ */
/* Per-layer times: the model announces every step of its passes (a layer,   */
/* or a Conv2D + MaxPooling2D pair it runs fused) to a hook in lib/model;    */
/* whole training steps run and each step's share is timed there, so the     */
/* times are of exactly what exec.c does, with the model's threads.         */

#define MAX_REPS 8

typedef struct step_times {
    int32_t first[MAX_LAYERS], last[MAX_LAYERS];
    int nsteps, rep;
    double t0, c0;
    double t[2][MAX_LAYERS][MAX_REPS], c[2][MAX_LAYERS][MAX_REPS]; /* [backward][step][rep] */
} step_times;

static void step_hook(void *ctx, int32_t first, int32_t last, int backward, int end)
{
    step_times *st = ctx;
    int k = 0;
    if (!end) {
        st->t0 = now_s();
        st->c0 = cpu_s(CLOCK_PROCESS_CPUTIME_ID);
        return;
    }
    while (k < st->nsteps && st->first[k] != first)
        k++;
    if (k == st->nsteps) {
        if (k == MAX_LAYERS)
            return;
        st->first[k] = first;
        st->last[k] = last;
        st->nsteps++;
    }
    if (st->rep >= 0 && st->rep < MAX_REPS) {
        st->t[backward][k][st->rep] = (now_s() - st->t0) * 1e3;
        st->c[backward][k][st->rep] = (cpu_s(CLOCK_PROCESS_CPUTIME_ID) - st->c0) * 1e3;
    }
}

static void layer_flops(const pn_layer *l, int n, int first, double *fwd, double *bwd)
{
    double macs = 0.0;
    *fwd = *bwd = 0.0;
    if (l->kind == PN_LAYER_CONV2D)
        macs = (double)n * l->out.h * l->out.w * l->out.c * l->kh * l->kw * l->in.c;
    else if (l->kind == PN_LAYER_DENSE)
        macs = (double)n * pn_dims_size(&l->in) * l->out.c;
    *fwd = 2.0 * macs;
    /* backward: weight gradient, plus the input gradient except for layer 0 */
    *bwd = 2.0 * macs * (first ? 1.0 : 2.0);
}

/* Bytes a dense layer must move at least per training step of n samples
 * (FP32): forward reads W, b, X and writes Y; backward reads dY and X and
 * writes dW and db, and for the input gradient (all but layer 0) reads W again
 * and writes dX. 0 for other layers. */
static double layer_bytes(const pn_layer *l, int n, int first)
{
    double in, out;
    if (l->kind != PN_LAYER_DENSE)
        return 0.0;
    in = (double)pn_dims_size(&l->in);
    out = (double)l->out.c;
    return 4.0 * ((in * out + out + n * in + n * out) + (n * out + n * in + in * out + out) +
                  (first ? 0.0 : in * out + n * in));
}

/* Time every step of a training pass on a model that has already trained (warm). */

/* Warn (stderr) when a conv layer's shape makes a SIMD kernel of the tier in
 * use run the scalar reference (lib/kernels/kernels.h: coverage). */
static void warn_fallbacks(const pn_layer *l, int batch, int fused_pool)
{
    char msg[256];
    if (pn_conv2d_fallback(pn_kernels_get(), l, batch, fused_pool, msg, sizeof msg) >= 0)
        fprintf(stderr, PROG ": warning: %s\n", msg);
}

static int time_layers(const bench_opts *o, pneumo_model *m, const train_data *d, bench_results *r)
{
    /* the quick mode times one step, the full mode the median of 5 after a warm-up */
    const int reps = o->quick ? 1 : 5, skip = o->quick ? 0 : 1;
    const pn_kernels *k = pn_kernels_get();
    step_times *st = calloc(1, sizeof *st);
    pneumo_optimizer *opt = NULL;
    double t[MAX_REPS];
    if (!st || m->nlayers > MAX_LAYERS || pneumo_optimizer_create_adam(NULL, &opt) != PNEUMO_OK) {
        free(st);
        return fail("per-layer timing setup");
    }
    pn_model_set_step_hook(m, step_hook, st);
    for (int rep = 0; rep < reps + skip; rep++) {
        st->rep = rep - skip;
        if (pneumo_model_train_step(m, opt, d->x, d->y, NULL, NULL) != PNEUMO_OK) {
            pn_model_set_step_hook(m, NULL, NULL);
            pneumo_optimizer_destroy(opt);
            free(st);
            return fail("pneumo_model_train_step");
        }
    }
    pn_model_set_step_hook(m, NULL, NULL);
    pneumo_optimizer_destroy(opt);
    r->nlayers = st->nsteps;
    r->layer_sum_ms = 0.0;
    r->layer_threads = pneumo_model_threads(m);
    for (int s = 0; s < st->nsteps; s++) {
        pn_layer *l = &m->layers[st->first[s]], *lo = &m->layers[st->last[s]];
        layer_result *lr = &r->layers[s];
        if (st->last[s] != st->first[s])
            snprintf(lr->name, sizeof lr->name, "%s+%s", l->name, lo->name);
        else
            snprintf(lr->name, sizeof lr->name, "%s", l->name);
        if (lo->out.rank == 3)
            snprintf(lr->shape, sizeof lr->shape, "%dx%dx%d", lo->out.h, lo->out.w, lo->out.c);
        else
            snprintf(lr->shape, sizeof lr->shape, "%d", lo->out.c);
        lr->kind = l->kind;
        warn_fallbacks(l, o->batch, st->last[s] != st->first[s]);
        layer_flops(l, o->batch, st->first[s] == 0, &lr->fwd_flop, &lr->bwd_flop);
        lr->bytes = layer_bytes(l, o->batch, st->first[s] == 0);
        lr->fwd_ms = median_of(st->t[0][s], reps);
        lr->fwd_cpu_ms = median_of(st->c[0][s], reps);
        lr->bwd_ms = median_of(st->t[1][s], reps);
        lr->bwd_cpu_ms = median_of(st->c[1][s], reps);
        r->layer_sum_ms += lr->fwd_ms + lr->bwd_ms;
    }
    free(st);
    /* Adam over the whole parameter arena (one call, as pn_optimizer_step) */
    {
        float *mm = calloc((size_t)m->arena_size, sizeof(float));
        float *vv = calloc((size_t)m->arena_size, sizeof(float));
        if (!mm || !vv) {
            free(mm);
            free(vv);
            fprintf(stderr, PROG ": out of memory\n");
            return 1;
        }
        for (int rep = 0; rep < reps + skip; rep++) {
            double t0 = now_s();
            k->adam_update((size_t)m->arena_size, m->params, m->grads, mm, vv, 1e-7f, 0.9f, 0.999f, 1e-7f,
                           1.0f);
            if (rep >= skip)
                t[rep - skip] = (now_s() - t0) * 1e3;
        }
        r->adam_ms = median_of(t, reps);
        r->layer_sum_ms += r->adam_ms;
        free(mm);
        free(vv);
    }
    return 0;
}

/* ------------------------------------------------------------------------ */
/* Peak RSS of a process that only trains (hidden mode train-rss).           */

static int spawn_rss_child(const bench_opts *o, bench_results *r)
{
    int fds[2];
    pid_t pid;
    char buf[256], th[16], ba[16], sz[16], st[16];
    size_t got = 0;
    ssize_t k;
    int status;
    snprintf(th, sizeof th, "%d", o->threads);
    snprintf(ba, sizeof ba, "%d", o->batch);
    snprintf(sz, sizeof sz, "%d", o->size);
    snprintf(st, sizeof st, "%d", o->quick ? 1 : 2);
    if (pipe(fds) != 0) {
        perror(PROG ": pipe");
        return 1;
    }
    fflush(stdout);
    fflush(stderr);
    pid = fork();
    if (pid < 0) {
        perror(PROG ": fork");
        close(fds[0]);
        close(fds[1]);
        return 1;
    }
    if (pid == 0) {
        dup2(fds[1], STDOUT_FILENO);
        close(fds[0]);
        close(fds[1]);
        execl("/proc/self/exe", PROG, "train-rss", "--threads", th, "--batch", ba, "--size", sz, "--steps",
              st, (char *)NULL);
        perror(PROG ": exec /proc/self/exe");
        _exit(127);
    }
    close(fds[1]);
    while (got + 1 < sizeof buf && (k = read(fds[0], buf + got, sizeof buf - 1 - got)) > 0)
        got += (size_t)k;
    buf[got] = '\0';
    close(fds[0]);
    while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
        ;
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0 || strncmp(buf, "peak_rss_kb ", 12) != 0) {
        fprintf(stderr, PROG ": the train-rss child failed (output '%s')\n", buf);
        return 1;
    }
    r->rss_mb = (double)strtol(buf + 12, NULL, 10) / 1024.0;
    return 0;
}

int bench_mode_train_rss(int argc, char **argv)
{
    bench_opts o;
    train_data d;
    pneumo_model *m = NULL;
    pneumo_optimizer *opt = NULL;
    pneumo_adam_params ap;
    memset(&o, 0, sizeof o);
    o.threads = 1;
    o.batch = 16;
    o.size = 500;
    o.steps = 2;
    for (int i = 0; i + 1 < argc; i += 2) {
        if (strcmp(argv[i], "--threads") == 0)
            o.threads = (int)parse_long(argv[i], argv[i + 1], 1, 64);
        else if (strcmp(argv[i], "--batch") == 0)
            o.batch = (int)parse_long(argv[i], argv[i + 1], 1, 4096);
        else if (strcmp(argv[i], "--size") == 0)
            o.size = (int)parse_long(argv[i], argv[i + 1], 94, 4096);
        else if (strcmp(argv[i], "--steps") == 0)
            o.steps = (int)parse_long(argv[i], argv[i + 1], 1, 1000);
    }
    if (make_train_data(o.batch, o.size, 99, &d))
        return 1;
    if (new_model(&o, o.threads, &m))
        return 1;
    pneumo_adam_default_params(&ap);
    if (pneumo_optimizer_create_adam(&ap, &opt) != PNEUMO_OK)
        return fail("pneumo_optimizer_create_adam");
    for (int s = 0; s < o.steps; s++)
        if (pneumo_model_train_step(m, opt, d.x, d.y, NULL, NULL) != PNEUMO_OK)
            return fail("pneumo_model_train_step");
    printf("peak_rss_kb %ld\n", vm_hwm_kb());
    pneumo_optimizer_destroy(opt);
    pneumo_model_destroy(m);
    free_train_data(&d);
    return 0;
}

/* ------------------------------------------------------------------------ */
/* Inference.                                                                */

/* A single image's forward step by step, at 1 thread and at N (the same
 * hook as the training table): which layers the second thread speeds up and
 * where its time goes. "Outside the layers" is the rest of
 * pneumo_model_predict_image: 8-bit pixels to floats, resizing, the head. */
static int time_single_steps(const bench_opts *o, pneumo_model *m, const pneumo_image *img, bench_results *r)
{
    const int reps = MAX_REPS, skip = 2;
    const int nthreads[2] = {1, o->threads};
    step_times *st = calloc(1, sizeof *st);
    float prob;
    if (!st || m->nlayers > MAX_LAYERS) {
        free(st);
        return fail("per-step timing setup");
    }
    for (int v = 0; v < (o->threads > 1 ? 2 : 1); v++) {
        double total[MAX_REPS];
        memset(st, 0, sizeof *st);
        if (pneumo_model_set_threads(m, nthreads[v]) != PNEUMO_OK) {
            free(st);
            return fail("pneumo_model_set_threads");
        }
        pn_model_set_step_hook(m, step_hook, st);
        for (int rep = 0; rep < reps + skip; rep++) {
            const double t0 = now_s();
            st->rep = rep - skip;
            if (pneumo_model_predict_image(m, img, &prob) != PNEUMO_OK) {
                pn_model_set_step_hook(m, NULL, NULL);
                free(st);
                return fail("pneumo_model_predict_image");
            }
            if (rep >= skip)
                total[rep - skip] = (now_s() - t0) * 1e3;
        }
        pn_model_set_step_hook(m, NULL, NULL);
        r->single_total_ms[v] = median_of(total, reps);
        r->nsingle_steps = st->nsteps;
        for (int k = 0; k < st->nsteps; k++) {
            single_step *s = &r->single_steps[k];
            const pn_layer *l = &m->layers[st->first[k]];
            if (st->last[k] != st->first[k])
                snprintf(s->name, sizeof s->name, "%s+%s", l->name, m->layers[st->last[k]].name);
            else
                snprintf(s->name, sizeof s->name, "%s", l->name);
            s->ms[v] = median_of(st->t[0][k], reps);
            if (v == 1 || o->threads == 1)
                s->cpu_ms = median_of(st->c[0][k], reps);
        }
    }
    free(st);
    if (o->threads == 1) {
        r->single_total_ms[1] = r->single_total_ms[0];
        for (int k = 0; k < r->nsingle_steps; k++)
            r->single_steps[k].ms[1] = r->single_steps[k].ms[0];
    }
    return pneumo_model_set_threads(m, o->threads) == PNEUMO_OK ? 0 : fail("pneumo_model_set_threads");
}

static void print_single_steps(const bench_opts *o, const bench_results *r)
{
    double sum[2] = {0.0, 0.0}, cpu = 0.0;
    printf("  single image step by step (median of %d, the same runs timed with a hook):\n", MAX_REPS);
    printf("    %-28s %9s %9s %8s %12s\n", "step", "1 thr ms", "N thr ms", "speedup", "CPU ms (N)");
    for (int k = 0; k < r->nsingle_steps; k++) {
        const single_step *s = &r->single_steps[k];
        printf("    %-28s %9.3f %9.3f %7.2fx %12.3f\n", s->name, s->ms[0], s->ms[1], s->ms[0] / s->ms[1],
               s->cpu_ms);
        sum[0] += s->ms[0], sum[1] += s->ms[1], cpu += s->cpu_ms;
    }
    printf("    %-28s %9.3f %9.3f %7.2fx\n", "outside the layers", r->single_total_ms[0] - sum[0],
           r->single_total_ms[1] - sum[1],
           (r->single_total_ms[0] - sum[0]) / (r->single_total_ms[1] - sum[1]));
    printf("    %-28s %9.3f %9.3f %7.2fx %12.3f  (N = %d threads; CPU of the steps only)\n", "total",
           r->single_total_ms[0], r->single_total_ms[1], r->single_total_ms[0] / r->single_total_ms[1], cpu,
           o->threads);
}

static int bench_infer(const bench_opts *o, bench_results *r)
{
    pneumo_model *m = NULL;
    pneumo_image *img = NULL;
    train_data d;
    pneumo_tensor *out = NULL;
    int64_t os[2] = {o->batch, 1};
    uint64_t s = 5;
    uint8_t *px;
    double t[64], c0 = 0.0;
    float prob = 0.0f;
    int runs = o->runs, bruns = o->quick ? 2 : 5;
    FILE *pf = progress_stream(o);
    if (new_model(o, o->threads, &m))
        return 1;
    if (pneumo_image_create(o->size, o->size, &img) != PNEUMO_OK)
        return fail("pneumo_image_create");
    px = pneumo_image_pixels_mut(img);
    for (int64_t i = 0; i < (int64_t)o->size * o->size; i++)
        px[i] = (uint8_t)(rng_next(&s) >> 56);
    for (int i = 0; i < 3 + runs; i++) {
        double t0 = now_s();
        if (i == 3)
            c0 = cpu_s(CLOCK_PROCESS_CPUTIME_ID);
        if (pneumo_model_predict_image(m, img, &prob) != PNEUMO_OK)
            return fail("pneumo_model_predict_image");
        if (i >= 3)
            t[i - 3] = (now_s() - t0) * 1e3;
    }
    r->single_cpu_ms = (cpu_s(CLOCK_PROCESS_CPUTIME_ID) - c0) * 1e3 / runs;
    r->single_ms = median_of(t, runs);
    fprintf(pf, "  single image: median %.2f ms over %d runs (p = %.4f)\n", r->single_ms, runs, (double)prob);
    if (time_single_steps(o, m, img, r))
        return 1;
    if (make_train_data(o->batch, o->size, 11, &d))
        return 1;
    if (pneumo_tensor_create(2, os, &out) != PNEUMO_OK)
        return fail("pneumo_tensor_create");
    for (int i = 0; i < 1 + bruns; i++) {
        double t0 = now_s();
        if (i == 1)
            c0 = cpu_s(CLOCK_PROCESS_CPUTIME_ID);
        if (pneumo_model_predict(m, d.x, out) != PNEUMO_OK)
            return fail("pneumo_model_predict");
        if (i >= 1)
            t[i - 1] = o->batch / (now_s() - t0);
    }
    r->batch_cpu_ms = (cpu_s(CLOCK_PROCESS_CPUTIME_ID) - c0) * 1e3 / ((double)bruns * o->batch);
    r->batch_ips = median_of(t, bruns);
    fprintf(pf, "  batch %d: median %.1f img/s over %d runs\n", o->batch, r->batch_ips, bruns);
    pneumo_tensor_destroy(out);
    free_train_data(&d);
    pneumo_image_destroy(img);
    pneumo_model_destroy(m);
    return 0;
}

/* ------------------------------------------------------------------------ */
/* PyTorch.                                                                  */

/* The number after "key": at or after `from` in js; NAN if absent. */
static double json_find_num(const char *js, const char *from_key, const char *key)
{
    char pat[96];
    const char *p = js;
    char *end;
    double v;
    if (!js)
        return NAN;
    if (from_key) {
        snprintf(pat, sizeof pat, "\"%s\"", from_key);
        if (!(p = strstr(js, pat)))
            return NAN;
        p += strlen(pat);
    }
    snprintf(pat, sizeof pat, "\"%s\":", key);
    if (!(p = strstr(p, pat)))
        return NAN;
    p += strlen(pat);
    while (*p == ' ')
        p++;
    v = strtod(p, &end);
    return end == p ? NAN : v;
}

/* Run a shell command, its stdout into *out (NUL-terminated, trailing blanks
 * removed; malloc'd, NULL on failure). Returns the exit status, -1 if it could
 * not run or the output could not be kept. */
static int run_capture(const char *cmd, char **out)
{
    size_t cap = 1 << 16, len = 0, k;
    char *buf;
    FILE *p;
    int status;
    *out = NULL;
    fflush(stdout);
    fflush(stderr);
    if (!(p = popen(cmd, "r")))
        return -1;
    buf = malloc(cap);
    while (buf && (k = fread(buf + len, 1, cap - 1 - len, p)) > 0) {
        len += k;
        if (len + 1 == cap) {
            char *bigger = realloc(buf, cap * 2);
            if (!bigger) {
                free(buf);
                buf = NULL;
                break;
            }
            buf = bigger;
            cap *= 2;
        }
    }
    status = pclose(p);
    if (!buf)
        return -1;
    buf[len] = '\0';
    while (len && (buf[len - 1] == '\n' || buf[len - 1] == ' '))
        buf[--len] = '\0';
    *out = buf;
    return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

/* A single-quoted shell word for s into dst (each ' becomes '\''); 0 if it
 * does not fit. */
static int shell_quote(char *dst, size_t cap, const char *s)
{
    size_t n = 0;
    if (cap < 3)
        return 0;
    dst[n++] = '\'';
    for (; *s; s++) {
        const char *piece = *s == '\'' ? "'\\''" : NULL;
        size_t len = piece ? 4 : 1;
        if (n + len + 2 > cap)
            return 0;
        if (piece)
            memcpy(dst + n, piece, len);
        else
            dst[n] = *s;
        n += len;
    }
    dst[n++] = '\'';
    dst[n] = '\0';
    return 1;
}

/* The text of "error": "..." in a script's JSON, at most `max` characters,
 * into dst; 0 if there is none. */
static int json_error(const char *js, char *dst, size_t cap, int max)
{
    const char *e = js ? strstr(js, "\"error\": \"") : NULL;
    int n;
    if (!e && js)
        e = strstr(js, "\"error\":\"");
    if (!e)
        return 0;
    e = strchr(e + 8, '"') + 1;
    n = (int)strcspn(e, "\"");
    snprintf(dst, cap, "%.*s", n > max ? max : n, e);
    return 1;
}

static void run_torch(const bench_opts *o, bench_results *r)
{
    torch_result *t = &r->torch;
    char cmd[4500], key[16], script[4200], err[420];
    int status;
    FILE *pf = progress_stream(o);
    if (access(BENCH_PYTHON, X_OK) != 0) {
        snprintf(t->note, sizeof t->note, BENCH_PYTHON " not found: PyTorch comparison skipped");
        return;
    }
    if (access(o->torch_script, R_OK) != 0 || !shell_quote(script, sizeof script, o->torch_script)) {
        snprintf(t->note, sizeof t->note,
                 "%s not found (pass --torch-script or set PNEUMO_BENCH_TORCH_SCRIPT): "
                 "PyTorch comparison skipped",
                 o->torch_script);
        return;
    }
    snprintf(cmd, sizeof cmd, BENCH_PYTHON " %s --threads %d --batch %d --size %d --steps %d%s%s%s", script,
             o->threads, o->batch, o->size, o->steps, o->quick ? " --quick" : "",
             o->train ? "" : " --no-train", o->infer ? "" : " --no-infer");
    fprintf(pf, "  %s\n", cmd);
    status = run_capture(cmd, &t->json);
    if (!t->json || t->json[0] != '{') {
        snprintf(t->note, sizeof t->note, "bench_torch.py failed (exit status %d) and printed no JSON",
                 status);
        free(t->json);
        t->json = NULL;
        return;
    }
    if (json_error(t->json, err, sizeof err, 400)) {
        snprintf(t->note, sizeof t->note, "torch unavailable (%s): comparison skipped", err);
        return;
    }
    t->ran = 1;
    t->train1 = json_find_num(t->json, "train_img_per_s", "1");
    snprintf(key, sizeof key, "%d", o->threads);
    t->trainN = json_find_num(t->json, "train_img_per_s", key);
    t->single_ms = json_find_num(t->json, NULL, "infer_single_ms");
    t->batch_ips = json_find_num(t->json, NULL, "infer_batch_img_per_s");
    t->rss_mb = json_find_num(t->json, NULL, "peak_rss_mb");
    t->cpu1 = json_find_num(t->json, "train_cpu_ms_per_img", "1");
    t->cpuN = json_find_num(t->json, "train_cpu_ms_per_img", key);
}

/* ------------------------------------------------------------------------ */
/* ONNX Runtime.                                                             */

/* An executable `name` on $PATH into dst; 0 if there is none. */
static int find_on_path(const char *name, char *dst, size_t cap)
{
    const char *path = getenv("PATH");
    while (path && *path) {
        size_t n = strcspn(path, ":");
        if (n > 0 && (size_t)snprintf(dst, cap, "%.*s/%s", (int)n, path, name) < cap &&
            access(dst, X_OK) == 0)
            return 1;
        path += n;
        if (*path == ':')
            path++;
    }
    return 0;
}

static int has_ort_package(const char *dir)
{
    char p[4200];
    snprintf(p, sizeof p, "%.4000s/onnxruntime-node/package.json", dir);
    return access(p, R_OK) == 0;
}

/* The node_modules folder holding onnxruntime-node: --ort-modules, else
 * $PNEUMO_BENCH_ORT_MODULES, else the first of $PNEUMO_ONNXRUNTIME_NODE (the
 * interop tests' variable), the build tree's npm/node_modules and node_modules
 * (next to examples/), ./node_modules and the global folders that has it.
 * An explicit folder is used as given. *tried lists what was looked at. */
static const char *find_ort_modules(const bench_opts *o, char *tried, size_t cap)
{
    static char found[4096];
    char exe[4096], cand[6][4096];
    const char *env = getenv("PNEUMO_ONNXRUNTIME_NODE");
    ssize_t n;
    int nc = 0;
    tried[0] = '\0';
    if (o->ort_modules) {
        snprintf(tried, cap, "%s", o->ort_modules);
        return has_ort_package(o->ort_modules) ? o->ort_modules : NULL;
    }
    if (env && *env)
        snprintf(cand[nc++], sizeof cand[0], "%s", env);
    n = readlink("/proc/self/exe", exe, sizeof exe - 1);
    if (n > 0) {
        char *slash;
        exe[n] = '\0';
        if ((slash = strrchr(exe, '/'))) {
            *slash = '\0'; /* BUILD/examples */
            snprintf(cand[nc++], sizeof cand[0], "%.4000s/../npm/node_modules", exe);
            snprintf(cand[nc++], sizeof cand[0], "%.4000s/../node_modules", exe);
        }
    }
    snprintf(cand[nc++], sizeof cand[0], "node_modules");
    snprintf(cand[nc++], sizeof cand[0], "/usr/local/lib/node_modules");
    snprintf(cand[nc++], sizeof cand[0], "/usr/lib/node_modules");
    for (int i = 0; i < nc; i++) {
        size_t used = strlen(tried);
        if (used + 2 + strlen(cand[i]) < cap) {
            memcpy(tried + used, ", ", i ? 2 : 0);
            strcpy(tried + used + (i ? 2 : 0), cand[i]);
        }
        if (has_ort_package(cand[i])) {
            snprintf(found, sizeof found, "%.4095s", cand[i]);
            return found;
        }
    }
    return NULL;
}

/* Export the model with bench_torch.py --export-onnx into a temporary folder
 * and time it with bench_ort.js under node. Every missing piece is one note. */
static void run_ort(const bench_opts *o, bench_results *r)
{
    ort_result *t = &r->ort;
    char node[4096], tried[2048], dir[] = "/tmp/pneumo-bench-ort.XXXXXX", onnx[64], err[420];
    char q_script[4200], q_torch[4200], q_modules[4200], q_node[4200], cmd[20000];
    const char *modules;
    char *out = NULL;
    int status;
    FILE *pf = progress_stream(o);
    if (!o->infer) {
        snprintf(t->note, sizeof t->note, "ONNX Runtime runs inference only: not compared in mode %s",
                 o->mode);
        return;
    }
    if (!find_on_path("node", node, sizeof node) && !find_on_path("nodejs", node, sizeof node)) {
        snprintf(t->note, sizeof t->note,
                 "node not found on PATH (apt-get install nodejs npm): ONNX Runtime comparison skipped");
        return;
    }
    if (!(modules = find_ort_modules(o, tried, sizeof tried))) {
        snprintf(t->note, sizeof t->note,
                 "onnxruntime-node not found in %.300s (npm install --ignore-scripts onnxruntime-node in a "
                 "folder, then --ort-modules DIR/node_modules): ONNX Runtime comparison skipped",
                 tried);
        return;
    }
    if (access(o->ort_script, R_OK) != 0) {
        snprintf(t->note, sizeof t->note,
                 "%.300s not found (set PNEUMO_BENCH_ORT_SCRIPT): ONNX Runtime comparison skipped",
                 o->ort_script);
        return;
    }
    if (access(BENCH_PYTHON, X_OK) != 0 || access(o->torch_script, R_OK) != 0) {
        snprintf(t->note, sizeof t->note,
                 "%s or %.300s not found (the model is exported by bench_torch.py): ONNX Runtime comparison "
                 "skipped",
                 BENCH_PYTHON, o->torch_script);
        return;
    }
    if (!shell_quote(q_script, sizeof q_script, o->ort_script) ||
        !shell_quote(q_torch, sizeof q_torch, o->torch_script) ||
        !shell_quote(q_modules, sizeof q_modules, modules) || !shell_quote(q_node, sizeof q_node, node)) {
        snprintf(t->note, sizeof t->note, "a path is too long: ONNX Runtime comparison skipped");
        return;
    }
    if (!mkdtemp(dir)) {
        snprintf(t->note, sizeof t->note, "mkdtemp %s: %s: ONNX Runtime comparison skipped", dir,
                 strerror(errno));
        return;
    }
    snprintf(onnx, sizeof onnx, "%s/model.onnx", dir);
    snprintf(cmd, sizeof cmd, BENCH_PYTHON " %s --export-onnx '%s' --size %d", q_torch, onnx, o->size);
    fprintf(pf, "  %s\n", cmd);
    status = run_capture(cmd, &out);
    if (!out || !strstr(out, "\"onnx\"")) {
        if (json_error(out, err, sizeof err, 400))
            snprintf(t->note, sizeof t->note, "ONNX export unavailable (%s): ONNX Runtime comparison skipped",
                     err);
        else
            snprintf(t->note, sizeof t->note,
                     "bench_torch.py --export-onnx failed (exit status %d): ONNX Runtime comparison skipped",
                     status);
        goto done;
    }
    free(out);
    out = NULL;
    snprintf(cmd, sizeof cmd,
             "%s %s --model '%s' --modules %s --threads %d --batch %d --size %d --runs %d "
             "--batch-runs %d",
             q_node, q_script, onnx, q_modules, o->threads, o->batch, o->size, o->runs, o->quick ? 2 : 5);
    fprintf(pf, "  %s\n", cmd);
    status = run_capture(cmd, &out);
    if (!out || out[0] != '{') {
        snprintf(t->note, sizeof t->note, "bench_ort.js failed (exit status %d) and printed no JSON", status);
        goto done;
    }
    if (json_error(out, err, sizeof err, 400)) {
        snprintf(t->note, sizeof t->note, "ONNX Runtime failed (%s): comparison skipped", err);
        goto done;
    }
    t->single_ms = json_find_num(out, NULL, "infer_single_ms");
    t->batch_ips = json_find_num(out, NULL, "infer_batch_img_per_s");
    t->single_cpu_ms = json_find_num(out, NULL, "infer_single_cpu_ms");
    t->batch_cpu_ms = json_find_num(out, NULL, "infer_batch_cpu_ms_per_img");
    {
        const char *v = strstr(out, "\"onnxruntime\":\"");
        if (v)
            snprintf(t->version, sizeof t->version, "%.*s", (int)strcspn(v + 15, "\""), v + 15);
    }
    if (!(t->single_ms > 0) || !(t->batch_ips > 0)) {
        snprintf(t->note, sizeof t->note, "bench_ort.js printed no timings: comparison skipped");
        goto done;
    }
    t->ran = 1;
    t->json = out;
    out = NULL;
done:
    free(out);
    unlink(onnx);
    rmdir(dir);
}

/* ------------------------------------------------------------------------ */
/* Output.                                                                   */

/* The peak the per-layer shares refer to: the N-thread wall-clock measurement,
 * or N x one core's peak per CPU-second if that is higher (on a loaded machine
 * the wall-clock run gets only part of the cores; on an idle one they agree). */
static double peak_ref(const bench_opts *o, const bench_results *r)
{
    double wall = o->threads > 1 ? r->peakN : r->peak1, cap = o->threads * r->peak_core;
    if (!isfinite(cap) || (isfinite(wall) && wall > cap))
        return wall;
    return cap;
}

static void print_rates(const double *v, int n)
{
    for (int i = 0; i < n; i++)
        printf("%s%.2f", i ? " " : "", v[i]);
}

static const char *verdict(double v, double goal, int higher_better)
{
    if (!isfinite(v))
        return "not measured";
    return (higher_better ? v >= goal : v <= goal) ? "met" : "not met";
}

/* Work of one training image as the per-layer table counts it (GFLOP,
 * dense-equivalent); NAN without the per-layer pass. */
static double train_gflop_per_img(const bench_opts *o, const bench_results *r)
{
    double fl = 0.0;
    for (int i = 0; i < r->nlayers; i++)
        fl += r->layers[i].fwd_flop + r->layers[i].bwd_flop;
    return r->nlayers > 0 && fl > 0 ? fl * 1e-9 / o->batch : NAN;
}

/* The dense layers' measured fwd + bwd ms, least bytes and memory-bound ms. */
static void dense_bound(const bench_results *r, double *ms, double *bytes, double *bound_ms)
{
    *ms = *bytes = 0.0;
    for (int i = 0; i < r->nlayers; i++)
        if (r->layers[i].kind == PN_LAYER_DENSE) {
            *ms += r->layers[i].fwd_ms + r->layers[i].bwd_ms;
            *bytes += r->layers[i].bytes;
        }
    *bound_ms = *bytes > 0 && r->mem_gbs > 0 ? *bytes / (r->mem_gbs * 1e9) * 1e3 : NAN;
    if (!(*bytes > 0))
        *ms = NAN;
}

typedef struct goal {
    const char *text;
    double value, target;
    int higher; /* 1: value >= target is met; 0: value <= target */
    const char *unit;
    char detail[160];
} goal;

#define MAX_GOALS 12

/* The goals of the issue the benchmark tracks, measured in this run; NAN
 * values are "not measured" (the mode, an option or a missing tool). */
static void set_goal(goal *g, const char *text, double value, double target, int higher, const char *unit)
{
    g->text = text;
    g->value = value;
    g->target = target;
    g->higher = higher;
    g->unit = unit;
    g->detail[0] = '\0';
}

static int compute_goals(const bench_opts *o, const bench_results *r, goal *g)
{
    const double peak = peak_ref(o, r), gimg = train_gflop_per_img(o, r);
    const double *steps = o->threads > 1 ? r->ratesN : r->rates1;
    const int nsteps = o->threads > 1 ? r->nratesN : r->nrates1;
    const layer_result *c1 = r->nlayers > 0 && r->layers[0].kind == PN_LAYER_CONV2D ? &r->layers[0] : NULL;
    double dms, dbytes, dbound, lo = INFINITY, hi = 0.0;
    int n = 0;
    set_goal(&g[n], "training >= 80% of the FMA peak (whole step)", 100.0 * r->trainN * gimg / peak, 80, 1,
             "%");
    if (isfinite(g[n].value))
        snprintf(g[n].detail, sizeof g[n].detail, "%.2f img/s x %.2f GFLOP/img = %.0f of %.0f GFLOP/s",
                 r->trainN, gimg, r->trainN * gimg, peak);
    n++;
    set_goal(&g[n], "training >= 9x PyTorch", r->torch.ran ? r->trainN / r->torch.trainN : NAN, 9, 1, "x");
    if (!o->vs_torch)
        snprintf(g[n].detail, sizeof g[n].detail, "needs --vs-torch");
    n++;
    set_goal(&g[n], "CPU ms/img, N threads within 10% of 1 thread", o->threads > 1 ? r->cpuN / r->cpu1 : NAN,
             1.10, 0, "x");
    if (isfinite(g[n].value))
        snprintf(g[n].detail, sizeof g[n].detail, "%.1f vs %.1f ms", r->cpuN, r->cpu1);
    n++;
    set_goal(&g[n], "conv1 forward >= 60% of peak",
             c1 ? 100.0 * c1->fwd_flop / (c1->fwd_ms * 1e-3) * 1e-9 / peak : NAN, 60, 1, "%");
    n++;
    set_goal(&g[n], "conv1 backward >= 60% of peak",
             c1 ? 100.0 * c1->bwd_flop / (c1->bwd_ms * 1e-3) * 1e-9 / peak : NAN, 60, 1, "%");
    n++;
    dense_bound(r, &dms, &dbytes, &dbound);
    set_goal(&g[n], "dense layers <= 1.25x their memory bound", dms / dbound, 1.25, 0, "x");
    if (isfinite(g[n].value))
        snprintf(g[n].detail, sizeof g[n].detail, "%.2f ms vs %.2f ms = %.1f MB at %.1f GB/s", dms, dbound,
                 dbytes / 1048576.0, r->mem_gbs);
    n++;
    set_goal(&g[n], "single-image inference <= 5 ms", r->single_ms, 5, 0, " ms");
    n++;
    set_goal(&g[n], "single image >= 3x ONNX Runtime", r->ort.ran ? r->ort.single_ms / r->single_ms : NAN, 3,
             1, "x");
    if (!o->vs_ort)
        snprintf(g[n].detail, sizeof g[n].detail, "needs --vs-ort");
    n++;
    set_goal(&g[n], "batch-16 inference >= 250 img/s", r->batch_ips, 250, 1, " img/s");
    n++;
    set_goal(&g[n], "batch-16 inference >= 3.5x ONNX Runtime",
             r->ort.ran ? r->batch_ips / r->ort.batch_ips : NAN, 3.5, 1, "x");
    if (!o->vs_ort)
        snprintf(g[n].detail, sizeof g[n].detail, "needs --vs-ort");
    n++;
    for (int i = 0; i < nsteps; i++) {
        lo = fmin(lo, steps[i]);
        hi = fmax(hi, steps[i]);
    }
    set_goal(&g[n], "step-time spread (max/min of timed steps) <= 1.15", nsteps >= 2 ? hi / lo : NAN, 1.15, 0,
             "x");
    if (isfinite(g[n].value))
        snprintf(g[n].detail, sizeof g[n].detail, "%d steps at %d thread%s", nsteps, o->threads,
                 o->threads == 1 ? "" : "s");
    n++;
    for (int i = 0; i < n; i++) {
        /* the inference goals are those about single images and batches */
        int inference = strstr(g[i].text, "single") || strstr(g[i].text, "batch");
        if (!isfinite(g[i].value) && !g[i].detail[0] && !(inference ? o->infer : o->train))
            snprintf(g[i].detail, sizeof g[i].detail, "needs mode %s or all", inference ? "infer" : "train");
    }
    return n;
}

/* The goals hold for 500x500 inputs at batch 16 only. */
static int goals_apply(const bench_opts *o) { return o->size == 500 && o->batch == 16; }

static void print_table(const bench_opts *o, const bench_results *r)
{
    const double peak = peak_ref(o, r);
    printf("\n== %s %s: libpneumo %s, isa %s, %d threads (%ld online cores), batch %d, %dx%d%s\n", PROG,
           o->mode, pneumo_version(), pneumo_kernel_isa(), o->threads, sysconf(_SC_NPROCESSORS_ONLN),
           o->batch, o->size, o->size, o->quick ? ", quick" : "");
    printf("load average: %.2f %.2f %.2f at start, %.2f %.2f %.2f at end; wall %.1f s\n", r->load_start[0],
           r->load_start[1], r->load_start[2], r->load_end[0], r->load_end[1], r->load_end[2], r->wall_s);
    if (o->train) {
        printf("\nFP32 FMA peak (measured, 12 independent FMA chains per thread, best of runs):\n");
        for (int i = 0; i < r->npeaks; i++)
            printf("  %-6s wall clock: 1 thread %.1f GFLOP/s, %d threads %.1f GFLOP/s; one core per "
                   "CPU-second %.1f GFLOP/s\n",
                   r->peaks[i].isa, r->peaks[i].p1, o->threads, r->peaks[i].pN, r->peaks[i].core);
        printf("  reference peak for %d threads: %.1f GFLOP/s (%s)\n", o->threads, peak, r->peak_note);
        if (isfinite(r->mem_gbs))
            printf(
                "  memory copy bandwidth (%d threads, %d MB per thread, read + write counted): %.1f GB/s\n",
                o->threads, BW_MB, r->mem_gbs);

        printf(
            "\nTraining step (forward + backward + Adam), batch %d, random input, %d timed steps after %d warm-up:\n",
            o->batch, o->steps, o->warmup);
        printf("  %-8s %12s %10s %12s  %s\n", "threads", "img/s med", "ms/step", "CPU ms/img",
               "img/s per step");
        printf("  %-8d %12.2f %10.0f %12.1f  ", 1, r->train1, 1e3 * o->batch / r->train1, r->cpu1);
        print_rates(r->rates1, r->nrates1);
        printf("\n");
        if (o->threads > 1) {
            printf("  %-8d %12.2f %10.0f %12.1f  ", o->threads, r->trainN, 1e3 * o->batch / r->trainN,
                   r->cpuN);
            print_rates(r->ratesN, r->nratesN);
            printf("\n  scaling 1 -> %d threads: %.2fx\n", o->threads, r->trainN / r->train1);
        }
        printf("  peak RSS of a process that only trains (batch %d, %d threads): %.1f MB\n", o->batch,
               o->threads, r->rss_mb);

        printf("\nPer layer (one training step; conv+pool pairs the model fuses are one step; %d "
               "thread%s through the model's pool as exec.c splits the batch; median of %d):\n",
               r->layer_threads, r->layer_threads == 1 ? "" : "s", o->quick ? 1 : 5);
        printf("  %-26s %-11s %8s %8s %8s %7s %8s %8s %6s %6s\n", "layer", "output", "fwd ms", "bwd ms",
               "CPU ms", "GFLOP", "fwd GF/s", "bwd GF/s", "%peak", "%core");
        for (int i = 0; i < r->nlayers; i++) {
            const layer_result *l = &r->layers[i];
            printf("  %-26s %-11s %8.2f %8.2f %8.2f", l->name, l->shape, l->fwd_ms, l->bwd_ms,
                   l->fwd_cpu_ms + l->bwd_cpu_ms);
            if (l->fwd_flop > 0) {
                double fl = l->fwd_flop + l->bwd_flop;
                double gfs = fl / ((l->fwd_ms + l->bwd_ms) * 1e-3) * 1e-9;
                double cgfs = fl / ((l->fwd_cpu_ms + l->bwd_cpu_ms) * 1e-3) * 1e-9;
                printf(" %7.2f %8.1f %8.1f %5.1f%% %5.1f%%\n", fl * 1e-9,
                       l->fwd_flop / (l->fwd_ms * 1e-3) * 1e-9, l->bwd_flop / (l->bwd_ms * 1e-3) * 1e-9,
                       100.0 * gfs / peak, 100.0 * cgfs / r->peak_core);
            } else {
                printf(" %7s %8s %8s %6s %6s\n", "-", "-", "-", "-", "-");
            }
        }
        printf("  %-26s %-11s %8.2f %8s   (1 thread, whole parameter arena)\n", "adam", "", r->adam_ms, "");
        printf("  %-26s %-11s %17.1f ms   vs %.1f ms per measured step\n", "sum", "", r->layer_sum_ms,
               1e3 * o->batch / (o->threads > 1 ? r->trainN : r->train1));
        printf("  GFLOP = fwd + bwd per batch (2 x MACs of the dense layer); %%peak = (fwd + bwd) GFLOP/s\n"
               "  (wall) over the %d-thread reference peak (%.0f GFLOP/s); %%core = GFLOP per CPU-second\n"
               "  over one core's peak per CPU-second (robust to other processes sharing the machine).\n"
               "  Backward of 3x3 conv + 2x2 pool blocks works from the pooled gradient and skips the\n"
               "  conv gradient's structural zeros (3/4 of it): its dense-equivalent GF/s and shares\n"
               "  can exceed the peak.\n",
               o->threads, peak);
        {
            double gimg = train_gflop_per_img(o, r), dms, dbytes, dbound;
            dense_bound(r, &dms, &dbytes, &dbound);
            printf(
                "  Work per training image: %.2f GFLOP (the GFLOP column summed over the layers / batch:\n"
                "  forward 2 x MACs, backward weight + input gradient, none for the first layer's input).\n",
                gimg);
            if (isfinite(dms))
                printf("  Dense layers: %.2f ms fwd + bwd; they move at least %.1f MB per step (W, X, Y;\n"
                       "  dY, X, dW, dX; W again for dX), %.2f ms at the %.1f GB/s copy bandwidth.\n",
                       dms, dbytes / 1048576.0, dbound, r->mem_gbs);
        }
    }
    if (o->infer) {
        printf("\nInference (%d threads):\n", o->threads);
        printf(
            "  single image (8-bit %dx%d -> probability, pneumo_model_predict_image): %.2f ms median of %d\n",
            o->size, o->size, r->single_ms, o->runs);
        printf("  batch %d (pneumo_model_predict): %.1f img/s median of %d\n", o->batch, r->batch_ips,
               o->quick ? 2 : 5);
        printf("  process CPU: %.2f ms per single image, %.2f ms per image in batches\n", r->single_cpu_ms,
               r->batch_cpu_ms);
        if (r->nsingle_steps)
            print_single_steps(o, r);
    }
    if (o->vs_torch) {
        const torch_result *t = &r->torch;
        printf("\nPyTorch comparison (%s, channels_last, torch.set_num_threads, same model, Adam, "
               "BCE-with-logits):\n",
               BENCH_PYTHON);
        if (!t->ran) {
            printf("  %s\n", t->note);
        } else {
            printf("  %-28s %12s %12s %10s\n", "metric", "libpneumo", "torch", "lib/torch");
            if (o->train) {
                printf("  %-28s %12.2f %12.2f %9.2fx\n", "train img/s, 1 thread", r->train1, t->train1,
                       r->train1 / t->train1);
                if (o->threads > 1) {
                    char label[64];
                    snprintf(label, sizeof label, "train img/s, %d threads", o->threads);
                    printf("  %-28s %12.2f %12.2f %9.2fx\n", label, r->trainN, t->trainN,
                           r->trainN / t->trainN);
                    printf("  %-28s %12.2f %12.2f\n", "train scaling 1 -> N", r->trainN / r->train1,
                           t->trainN / t->train1);
                }
                printf("  %-28s %12.1f %12.1f %9.2fx  (lower is better)\n", "train CPU ms/img, N thr",
                       r->cpuN, t->cpuN, r->cpuN / t->cpuN);
                printf("  %-28s %12.1f %12.1f %9.2fx  (lower is better)\n", "peak RSS MB (training)",
                       r->rss_mb, t->rss_mb, r->rss_mb / t->rss_mb);
            }
            if (o->infer) {
                printf("  %-28s %12.2f %12.2f %9.2fx  (lower is better)\n", "single-image ms", r->single_ms,
                       t->single_ms, r->single_ms / t->single_ms);
                printf("  %-28s %12.1f %12.1f %9.2fx\n", "batch inference img/s", r->batch_ips, t->batch_ips,
                       r->batch_ips / t->batch_ips);
            }
        }
    }
    if (o->vs_ort) {
        const ort_result *t = &r->ort;
        printf(
            "\nONNX Runtime comparison (node + onnxruntime-node %s, CPU provider, intraOpNumThreads %d,\n"
            "interOpNumThreads 1, sequential; the same model exported by torch.onnx.export, opset 13, NCHW):\n",
            t->ran ? t->version : "-", o->threads);
        if (!t->ran) {
            printf("  %s\n", t->note);
        } else {
            printf("  libpneumo times pneumo_model_predict_image on an 8-bit image (conversion to float\n"
                   "  included) and pneumo_model_predict on a float batch; ONNX Runtime times session.run\n"
                   "  on a float32 NCHW tensor already scaled to [0, 1] (no conversion timed).\n");
            printf("  %-28s %12s %12s %10s\n", "metric", "libpneumo", "ORT", "speedup");
            printf("  %-28s %12.2f %12.2f %9.2fx\n", "single-image ms (median)", r->single_ms, t->single_ms,
                   t->single_ms / r->single_ms);
            printf("  %-28s %12.1f %12.1f %9.2fx\n", "batch inference img/s", r->batch_ips, t->batch_ips,
                   r->batch_ips / t->batch_ips);
            printf("  %-28s %12.2f %12.2f %9.2fx\n", "single-image CPU ms", r->single_cpu_ms,
                   t->single_cpu_ms, t->single_cpu_ms / r->single_cpu_ms);
            printf("  %-28s %12.2f %12.2f %9.2fx\n", "batch CPU ms/img", r->batch_cpu_ms, t->batch_cpu_ms,
                   t->batch_cpu_ms / r->batch_cpu_ms);
            printf("  (speedup = how many times faster libpneumo is; CPU time includes any spinning of the\n"
                   "  runtimes' worker threads)\n");
        }
    }
    if (o->train)
        printf("\nGoals (measured at %d threads; FMA peak %.1f GFLOP/s, %s):\n", o->threads, peak_ref(o, r),
               r->peak_note);
    else
        printf("\nGoals (measured at %d threads):\n", o->threads);
    if (fmax(r->load_start[0], r->load_end[0]) > (double)sysconf(_SC_NPROCESSORS_ONLN))
        printf("  note: load average %.1f / %.1f (start / end) on %ld cores: other processes shared\n"
               "  the cores, so wall-clock rates, the scaling and the torch ratios are unreliable\n"
               "  (PyTorch's OpenMP threads suffer more from it); CPU ms/img is the steadier figure.\n",
               r->load_start[0], r->load_end[0], sysconf(_SC_NPROCESSORS_ONLN));
    if (o->threads != 2)
        printf("  (the goals are stated for 2 threads)\n");
    if (!goals_apply(o)) {
        printf("  (the goals are for 500x500 inputs at batch 16; not compared at %dx%d, batch %d)\n", o->size,
               o->size, o->batch);
        return;
    }
    {
        goal g[MAX_GOALS];
        int n = compute_goals(o, r, g);
        for (int i = 0; i < n; i++) {
            char val[32];
            if (isfinite(g[i].value))
                snprintf(val, sizeof val, "%.2f%s", g[i].value, g[i].unit);
            else
                snprintf(val, sizeof val, "-");
            if (g[i].detail[0])
                printf("  %-50s %11s  %-12s (%s)\n", g[i].text, val,
                       verdict(g[i].value, g[i].target, g[i].higher), g[i].detail);
            else
                printf("  %-50s %11s  %s\n", g[i].text, val, verdict(g[i].value, g[i].target, g[i].higher));
        }
    }
}

static void print_json(const bench_opts *o, const bench_results *r)
{
    FILE *f = stdout;
    const double peak = peak_ref(o, r);
    fprintf(f,
            "{\"mode\": \"%s\", \"version\": \"%s\", \"isa\": \"%s\", \"threads\": %d, "
            "\"online_cores\": %ld, \"batch\": %d, \"size\": %d, \"quick\": %s, \"steps\": %d, ",
            o->mode, pneumo_version(), pneumo_kernel_isa(), o->threads, sysconf(_SC_NPROCESSORS_ONLN),
            o->batch, o->size, o->quick ? "true" : "false", o->steps);
    fprintf(f, "\"loadavg_start\": [");
    for (int i = 0; i < 3; i++) {
        json_num(f, r->load_start[i]);
        fputs(i < 2 ? ", " : "], \"loadavg_end\": [", f);
    }
    for (int i = 0; i < 3; i++) {
        json_num(f, r->load_end[i]);
        fputs(i < 2 ? ", " : "], ", f);
    }
    fprintf(f, "\"wall_s\": ");
    json_num(f, r->wall_s);
    fprintf(f, ", \"fma_peak_isa\": \"%s\", \"fma_peak_gflops\": ", r->peak_isa);
    json_num(f, peak);
    fprintf(f, ", \"fma_peak_gflops_wall\": ");
    json_num(f, o->threads > 1 ? r->peakN : r->peak1);
    fprintf(f, ", \"fma_peak_gflops_1thread\": ");
    json_num(f, r->peak1);
    fprintf(f, ", \"fma_peak_gflops_per_core_cpu\": ");
    json_num(f, r->peak_core);
    fprintf(f, ", \"fma_peak_note\": ");
    json_str(f, r->peak_note);
    fprintf(f, ", \"fma_peaks\": {");
    for (int i = 0; i < r->npeaks; i++) {
        fprintf(f, "%s\"%s\": {\"gflops_1thread\": ", i ? ", " : "", r->peaks[i].isa);
        json_num(f, r->peaks[i].p1);
        fprintf(f, ", \"gflops_wall\": ");
        json_num(f, r->peaks[i].pN);
        fprintf(f, ", \"gflops_per_core_cpu\": ");
        json_num(f, r->peaks[i].core);
        fprintf(f, "}");
    }
    fprintf(f, "}, \"memory_copy_gbs\": ");
    json_num(f, r->mem_gbs);
    fprintf(f, ", \"train_cpu_ms_per_img\": ");
    json_num(f, r->cpuN);
    fprintf(f, ", \"train_cpu_ms_per_img_1thread\": ");
    json_num(f, r->cpu1);
    fprintf(f, ", \"train_img_per_s\": ");
    json_num(f, o->threads > 1 ? r->trainN : r->train1);
    fprintf(f, ", \"train_img_per_s_1thread\": ");
    json_num(f, r->train1);
    fprintf(f, ", \"train_scaling\": ");
    json_num(f, o->threads > 1 ? r->trainN / r->train1 : NAN);
    fprintf(f, ", \"train_step_img_per_s\": {\"1\": [");
    for (int i = 0; i < r->nrates1; i++)
        fprintf(f, "%s%.4g", i ? ", " : "", r->rates1[i]);
    fprintf(f, "], \"%d\": [", o->threads);
    for (int i = 0; i < (o->threads > 1 ? r->nratesN : r->nrates1); i++)
        fprintf(f, "%s%.4g", i ? ", " : "", o->threads > 1 ? r->ratesN[i] : r->rates1[i]);
    fprintf(f, "]}, \"peak_rss_mb\": ");
    json_num(f, r->rss_mb);
    fprintf(f, ", \"infer_single_ms\": ");
    json_num(f, r->single_ms);
    fprintf(f, ", \"infer_batch_img_per_s\": ");
    json_num(f, r->batch_ips);
    fprintf(f, ", \"infer_single_cpu_ms\": ");
    json_num(f, r->single_cpu_ms);
    fprintf(f, ", \"infer_batch_cpu_ms_per_img\": ");
    json_num(f, r->batch_cpu_ms);
    fprintf(f, ", \"infer_single_total_ms\": [");
    json_num(f, r->nsingle_steps ? r->single_total_ms[0] : NAN);
    fprintf(f, ", ");
    json_num(f, r->nsingle_steps ? r->single_total_ms[1] : NAN);
    fprintf(f, "], \"infer_single_steps\": [");
    for (int i = 0; i < r->nsingle_steps; i++) {
        const single_step *st = &r->single_steps[i];
        fprintf(f, "%s{\"name\": ", i ? ", " : "");
        json_str(f, st->name);
        fprintf(f, ", \"ms_1thread\": ");
        json_num(f, st->ms[0]);
        fprintf(f, ", \"ms\": ");
        json_num(f, st->ms[1]);
        fprintf(f, ", \"cpu_ms\": ");
        json_num(f, st->cpu_ms);
        fprintf(f, "}");
    }
    fprintf(f, "]");
    fprintf(f, ", \"train_gflop_per_img\": ");
    json_num(f, train_gflop_per_img(o, r));
    fprintf(f, ", \"layer_threads\": %d, \"adam_ms\": ", r->layer_threads);
    json_num(f, r->adam_ms);
    fprintf(f, ", \"layers\": [");
    for (int i = 0; i < r->nlayers; i++) {
        const layer_result *l = &r->layers[i];
        double gfs = l->fwd_flop > 0 ? (l->fwd_flop + l->bwd_flop) / ((l->fwd_ms + l->bwd_ms) * 1e-3) * 1e-9
                                     : NAN;
        fprintf(f, "%s{\"name\": \"%s\", \"output\": \"%s\", \"fwd_ms\": ", i ? ", " : "", l->name, l->shape);
        json_num(f, l->fwd_ms);
        fprintf(f, ", \"bwd_ms\": ");
        json_num(f, l->bwd_ms);
        fprintf(f, ", \"fwd_gflop\": ");
        json_num(f, l->fwd_flop * 1e-9);
        fprintf(f, ", \"bwd_gflop\": ");
        json_num(f, l->bwd_flop * 1e-9);
        fprintf(f, ", \"fwd_gflops\": ");
        json_num(f, l->fwd_flop > 0 ? l->fwd_flop / (l->fwd_ms * 1e-3) * 1e-9 : NAN);
        fprintf(f, ", \"bwd_gflops\": ");
        json_num(f, l->bwd_flop > 0 ? l->bwd_flop / (l->bwd_ms * 1e-3) * 1e-9 : NAN);
        fprintf(f, ", \"gflops\": ");
        json_num(f, gfs);
        fprintf(f, ", \"peak_share\": ");
        json_num(f, gfs / peak);
        fprintf(f, ", \"fwd_cpu_ms\": ");
        json_num(f, l->fwd_cpu_ms);
        fprintf(f, ", \"bwd_cpu_ms\": ");
        json_num(f, l->bwd_cpu_ms);
        fprintf(f, ", \"min_bytes\": ");
        json_num(f, l->bytes > 0 ? l->bytes : NAN);
        fprintf(f, ", \"core_share\": ");
        json_num(f, l->fwd_flop > 0 ? (l->fwd_flop + l->bwd_flop) / ((l->fwd_cpu_ms + l->bwd_cpu_ms) * 1e-3) *
                                          1e-9 / r->peak_core
                                    : NAN);
        fprintf(f, "}");
    }
    fprintf(f, "]");
    if (o->vs_torch) {
        const torch_result *t = &r->torch;
        fprintf(f, ", \"torch\": ");
        if (t->ran) {
            fprintf(f, "%s, \"torch_ratios\": {\"train_img_per_s\": ", t->json);
            json_num(f, (o->threads > 1 ? r->trainN : r->train1) / (o->threads > 1 ? t->trainN : t->train1));
            fprintf(f, ", \"train_img_per_s_1thread\": ");
            json_num(f, r->train1 / t->train1);
            fprintf(f, ", \"infer_single_ms\": ");
            json_num(f, r->single_ms / t->single_ms);
            fprintf(f, ", \"infer_batch_img_per_s\": ");
            json_num(f, r->batch_ips / t->batch_ips);
            fprintf(f, ", \"peak_rss_mb\": ");
            json_num(f, r->rss_mb / t->rss_mb);
            fprintf(f, "}");
        } else {
            fprintf(f, "{\"skipped\": ");
            json_str(f, t->note);
            fprintf(f, "}");
        }
    }
    if (o->vs_ort) {
        const ort_result *t = &r->ort;
        fprintf(f, ", \"ort\": ");
        if (t->ran) {
            fprintf(f, "%s, \"ort_ratios\": {\"infer_single_ms\": ", t->json);
            json_num(f, r->single_ms / t->single_ms);
            fprintf(f, ", \"infer_batch_img_per_s\": ");
            json_num(f, r->batch_ips / t->batch_ips);
            fprintf(f, ", \"infer_single_speedup\": ");
            json_num(f, t->single_ms / r->single_ms);
            fprintf(f, ", \"infer_batch_speedup\": ");
            json_num(f, r->batch_ips / t->batch_ips);
            fprintf(f, "}");
        } else {
            fprintf(f, "{\"skipped\": ");
            json_str(f, t->note);
            fprintf(f, "}");
        }
    }
    fprintf(f, ", \"goals\": ");
    if (!goals_apply(o)) {
        fprintf(f, "{\"skipped\": \"the goals are for 500x500 inputs at batch 16\"}");
    } else {
        goal g[MAX_GOALS];
        int n = compute_goals(o, r, g);
        fprintf(f, "[");
        for (int i = 0; i < n; i++) {
            fprintf(f, "%s{\"goal\": ", i ? ", " : "");
            json_str(f, g[i].text);
            fprintf(f, ", \"value\": ");
            json_num(f, g[i].value);
            fprintf(f, ", \"target\": ");
            json_num(f, g[i].target);
            fprintf(f, ", \"status\": \"%s\", \"detail\": ", verdict(g[i].value, g[i].target, g[i].higher));
            json_str(f, g[i].detail);
            fprintf(f, "}");
        }
        fprintf(f, "]");
    }
    fprintf(f, "}\n");
}

/* ------------------------------------------------------------------------ */
/* Modes.                                                                    */

static int model_usage(const char *mode, FILE *f)
{
    fprintf(f,
            "usage: " PROG " %s [--quick] [--threads N] [--batch B] [--size S] [--steps K]\n"
            "                   [--vs-torch] [--torch-script PATH] [--vs-ort] [--ort-modules DIR] [--json]\n"
            "The article's model (5 x conv 3x3 + max-pool, dense 128/64/1) on random input:\n"
            "  train  FP32 FMA peak (measured), training images/s (forward + backward + Adam)\n"
            "         with 1 and N threads, per-layer forward/backward times with GFLOP/s and\n"
            "         share of the peak, peak RSS of a process that only trains\n"
            "  infer  single-image latency (8-bit image -> probability) and batch images/s\n"
            "  all    both\n"
            "  --quick        short run (1 warm-up + 2 timed steps; < 1 minute with --vs-torch)\n"
            "  --threads N    threads of the parallel runs (default: online cores)\n"
            "  --batch B      batch size (default 16)\n"
            "  --size S       input S x S x 1 (default 500, the article's)\n"
            "  --steps K      timed training steps per thread count (default 8; 2 with --quick)\n"
            "  --vs-torch     also run the model in PyTorch (" BENCH_PYTHON ", bench_torch.py)\n"
            "  --torch-script PATH  bench_torch.py to run (default: $PNEUMO_BENCH_TORCH_SCRIPT, else\n"
            "                 the copy next to pneumo-bench, else " BENCH_TORCH_SCRIPT ")\n"
            "  --vs-ort       also run the model's inference in ONNX Runtime: exported by\n"
            "                 bench_torch.py --export-onnx (torch.onnx.export, opset 13, NCHW), timed by\n"
            "                 bench_ort.js under node with onnxruntime-node, intra-op threads = N\n"
            "  --ort-modules DIR  node_modules folder holding onnxruntime-node (default:\n"
            "                 $PNEUMO_BENCH_ORT_MODULES, else $PNEUMO_ONNXRUNTIME_NODE, the build tree's\n"
            "                 npm/node_modules or node_modules, ./node_modules, the global folders);\n"
            "                 bench_ort.js: $PNEUMO_BENCH_ORT_SCRIPT, else next to pneumo-bench, else\n"
            "                 " BENCH_ORT_SCRIPT "\n"
            "  --json         print one JSON object (progress to stderr)\n",
            mode);
    return f == stdout ? 0 : 2;
}

/* The default script `name`: a copy next to this executable (a build tree,
 * its path into buf), else the installed one. */
static const char *default_script(const char *name, const char *installed, char *buf, size_t cap)
{
    size_t len = strlen(name);
    ssize_t n = readlink("/proc/self/exe", buf, cap - 1);
    if (n > 0) {
        buf[n] = '\0';
        char *slash = strrchr(buf, '/');
        if (slash && (size_t)(slash + 1 - buf) + len + 1 <= cap) {
            memcpy(slash + 1, name, len + 1);
            if (access(buf, R_OK) == 0)
                return buf;
        }
    }
    return installed;
}

static int run_modes(const char *mode, int train, int infer, int argc, char **argv)
{
    bench_opts o;
    bench_results *r;
    long online = sysconf(_SC_NPROCESSORS_ONLN);
    double t_start = now_s();
    const char *env_script = getenv("PNEUMO_BENCH_TORCH_SCRIPT");
    const char *env_ort_script = getenv("PNEUMO_BENCH_ORT_SCRIPT");
    const char *env_ort_modules = getenv("PNEUMO_BENCH_ORT_MODULES");
    char torch_path[4096], ort_path[4096];
    FILE *pf;
    int rc = 0, steps = -1;
    memset(&o, 0, sizeof o);
    o.mode = mode;
    o.train = train;
    o.infer = infer;
    o.threads = online < 1 ? 1 : online > 64 ? 64 : (int)online;
    o.batch = 16;
    o.size = 500;
    o.torch_script = env_script && *env_script ? env_script : NULL;
    o.ort_script = env_ort_script && *env_ort_script ? env_ort_script : NULL;
    o.ort_modules = env_ort_modules && *env_ort_modules ? env_ort_modules : NULL;
    for (int i = 0; i < argc; i++) {
        const char *a = argv[i];
        if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0)
            return model_usage(mode, stdout);
        if (strcmp(a, "--quick") == 0)
            o.quick = 1;
        else if (strcmp(a, "--json") == 0)
            o.json = 1;
        else if (strcmp(a, "--vs-torch") == 0)
            o.vs_torch = 1;
        else if (strcmp(a, "--vs-ort") == 0)
            o.vs_ort = 1;
        else if (i + 1 < argc && strcmp(a, "--ort-modules") == 0)
            o.ort_modules = argv[++i];
        else if (i + 1 < argc && strcmp(a, "--threads") == 0)
            o.threads = (int)parse_long(a, argv[++i], 1, 64);
        else if (i + 1 < argc && strcmp(a, "--batch") == 0)
            o.batch = (int)parse_long(a, argv[++i], 1, 4096);
        else if (i + 1 < argc && strcmp(a, "--size") == 0)
            o.size = (int)parse_long(a, argv[++i], 94, 4096);
        else if (i + 1 < argc && strcmp(a, "--steps") == 0)
            steps = (int)parse_long(a, argv[++i], 1, 64);
        else if (i + 1 < argc && strcmp(a, "--torch-script") == 0)
            o.torch_script = argv[++i];
        else {
            fprintf(stderr, PROG " %s: unknown or incomplete option '%s'\n", mode, a);
            return model_usage(mode, stderr);
        }
    }
    if (!o.torch_script)
        o.torch_script = default_script("bench_torch.py", BENCH_TORCH_SCRIPT, torch_path, sizeof torch_path);
    if (!o.ort_script)
        o.ort_script = default_script("bench_ort.js", BENCH_ORT_SCRIPT, ort_path, sizeof ort_path);
    o.steps = steps > 0 ? steps : o.quick ? 2 : 8;
    o.warmup = 1;
    o.runs = o.quick ? 8 : 20;
    if (!(r = malloc(sizeof *r))) {
        fprintf(stderr, PROG ": out of memory\n");
        return 1;
    }
    results_init(r);
    loadavg(r->load_start);
    pf = progress_stream(&o);
    fprintf(pf, PROG " %s: libpneumo %s, isa %s, threads 1 and %d, batch %d, %dx%d%s; load %.2f\n", mode,
            pneumo_version(), pneumo_kernel_isa(), o.threads, o.batch, o.size, o.size,
            o.quick ? ", quick" : "", r->load_start[0]);
    if (o.train) {
        train_data d;
        pneumo_model *m = NULL;
        measure_peak(&o, r);
        measure_bandwidth(&o, r);
        for (int i = 0; i < r->npeaks; i++)
            fprintf(pf, "FMA peak (%s): 1 thread %.1f GFLOP/s, %d threads %.1f GFLOP/s\n", r->peaks[i].isa,
                    r->peaks[i].p1, o.threads, r->peaks[i].pN);
        fprintf(pf, "reference peak: %s; memory copy bandwidth %.1f GB/s\n", r->peak_note, r->mem_gbs);
        if (make_train_data(o.batch, o.size, 1, &d)) {
            free(r);
            return 1;
        }
        fprintf(pf, "training, batch %d:\n", o.batch);
        rc = time_training(&o, &d, 1, r->rates1, &r->nrates1, &r->cpu1, o.threads == 1 ? &m : NULL);
        r->train1 = median_of(r->rates1, r->nrates1);
        if (!rc && o.threads > 1) {
            rc = time_training(&o, &d, o.threads, r->ratesN, &r->nratesN, &r->cpuN, &m);
            r->trainN = median_of(r->ratesN, r->nratesN);
        } else {
            r->trainN = r->train1;
            r->cpuN = r->cpu1;
        }
        if (!rc) {
            fprintf(pf, "per-layer times...\n");
            fflush(pf);
            rc = time_layers(&o, m, &d, r);
        }
        pneumo_model_destroy(m);
        free_train_data(&d);
        if (!rc) {
            fprintf(pf, "peak RSS (child process %s train-rss)...\n", PROG);
            fflush(pf);
            rc = spawn_rss_child(&o, r);
        }
    }
    if (!rc && o.infer) {
        fprintf(pf, "inference, %d threads:\n", o.threads);
        rc = bench_infer(&o, r);
    }
    if (!rc && o.vs_torch) {
        fprintf(pf, "PyTorch:\n");
        run_torch(&o, r);
        if (!r->torch.ran)
            fprintf(pf, "  %s\n", r->torch.note);
    }
    if (!rc && o.vs_ort) {
        fprintf(pf, "ONNX Runtime:\n");
        run_ort(&o, r);
        if (r->ort.ran)
            fprintf(pf, "  single image: median %.2f ms; batch %d: median %.1f img/s\n", r->ort.single_ms,
                    o.batch, r->ort.batch_ips);
        else
            fprintf(pf, "  %s\n", r->ort.note);
    }
    loadavg(r->load_end);
    r->wall_s = now_s() - t_start;
    if (!rc) {
        if (o.json)
            print_json(&o, r);
        else
            print_table(&o, r);
    }
    free(r->torch.json);
    free(r->ort.json);
    free(r);
    return rc;
}

int bench_mode_train(int argc, char **argv) { return run_modes("train", 1, 0, argc, argv); }
int bench_mode_infer(int argc, char **argv) { return run_modes("infer", 0, 1, argc, argv); }
int bench_mode_all(int argc, char **argv) { return run_modes("all", 1, 1, argc, argv); }
