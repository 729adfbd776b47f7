/* pneumo-bench: throughput benchmarks of libpneumo, one mode per subsystem.
 *
 *   pneumo-bench data [--data DIR] [--size N] [--threads N] [--epochs E] [--quick]
 *   pneumo-bench serve [--model M | --size N] [--seconds S] [--quick] ...  (bench_serve.c)
 *   pneumo-bench --help
 *
 * Mode `data` (the input pipeline):
 *   1. DIR/originals: decode + resize to N x N of every image (120 originals of
 *      up to ~2300x2000 px), one pass, no cache: the time of opening the dataset,
 *      which decodes every file once;
 *   2. DIR/chest_xray_224/train: opening (first pass: decode, resize, fill the
 *      cache), then augmented epochs (the article's ImageDataGenerator options,
 *      batch 16, shuffled) served from the cache, reporting images/s per epoch
 *      and the median.
 * Both with 1 worker thread and with N (default: online cores). Parts whose
 * folder is absent are skipped with a message. --quick (for the test suite):
 * size 128 unless --size is given, 1 epoch. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <pneumo/pneumo.h>

#include "bench_model.h"  /* modes train, infer, all (bench_model.c) */
#include "bench_serve.h"  /* mode serve (bench_serve.c) */
#include "train_recipe.h" /* data --augment: the recipes' sets */

#define PROG "pneumo-bench"

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

/* CPU time of the whole process (all threads): on a loaded machine the wall
 * clock says little, CPU time per image still gives the per-core capacity. */
static double cpu_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static int is_dir(const char *p)
{
    struct stat st;
    return stat(p, &st) == 0 && S_ISDIR(st.st_mode);
}

static long parse_long(const char *flag, const char *v, long lo, long hi)
{
    char *end;
    long x = strtol(v, &end, 10);
    if (!*v || *end || x < lo || x > hi) {
        fprintf(stderr, PROG ": %s must be an integer in %ld..%ld (got '%s')\n", flag, lo, hi, v);
        exit(2);
    }
    return x;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

static double median(double *v, int n)
{
    qsort(v, (size_t)n, sizeof *v, cmp_double);
    return n % 2 ? v[n / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2]);
}

static const char *plural(int n, const char *one, const char *many) { return n == 1 ? one : many; }

/* ------------------------------------------------------------------------ */
/* Mode "data".                                                              */

static int data_usage(FILE *f)
{
    fprintf(f, "usage: " PROG " data [--data DIR] [--size N] [--threads N] [--epochs E] [--augment SET]\n"
               "       [--quick]\n"
               "Images/s of the input pipeline:\n"
               "  DIR/originals               decode + resize to N x N, one pass, no cache\n"
               "  DIR/chest_xray_224/train    open (decode + cache), then augmented epochs\n"
               "                              (batch 16) from the cache\n"
               "each with 1 worker thread and with --threads (default: online cores).\n"
               "  --data DIR    shared data folder (default ../shared/data)\n"
               "  --size N      target size N x N (default 500, the article's; 128 with --quick)\n"
               "  --threads N   worker threads of the parallel runs (default: online cores)\n"
               "  --epochs E    timed epochs per run, the median is reported (default 3;\n"
               "                1 with --quick)\n"
               "  --augment SET augmentation of the epochs: article (default: the article's\n"
               "                ImageDataGenerator), strong, or best (pneumo-train --recipe best's:\n"
               "                strong plus its contrast, gamma and crops)\n"
               "  --quick       short run for the test suite\n");
    return f == stdout ? 0 : 2;
}

static int print_skipped(const pneumo_dataset *ds)
{
    int64_t n = pneumo_dataset_num_skipped(ds);
    for (int64_t i = 0; i < n; i++) {
        char line[4600];
        if (pneumo_dataset_skipped(ds, i, line, sizeof line, NULL) == PNEUMO_OK)
            printf("  warning: skipped %s\n", line);
    }
    return 0;
}

static int bench_originals(const char *dir, int size, const int *threads, int nthreads)
{
    printf("[originals] %s: decode + resize to %dx%d, one pass, no cache\n", dir, size, size);
    for (int t = 0; t < nthreads; t++) {
        pneumo_dataset_options o;
        pneumo_dataset *ds;
        char rep[256];
        double t0, dt, c0, dc;
        int64_t n;
        pneumo_dataset_default_options(&o);
        o.width = o.height = size;
        o.cache_bytes = 0;
        o.shuffle = 0;
        o.threads = threads[t];
        c0 = cpu_s();
        t0 = now_s();
        if (pneumo_dataset_open_dir(dir, &o, &ds) != PNEUMO_OK) {
            fprintf(stderr, PROG ": %s\n", pneumo_last_error());
            return 1;
        }
        dt = now_s() - t0;
        dc = cpu_s() - c0;
        n = pneumo_dataset_size(ds) + pneumo_dataset_num_skipped(ds);
        if (t == 0) {
            pneumo_dataset_report(ds, rep, sizeof rep, NULL);
            printf("  %s\n", rep);
            print_skipped(ds);
        }
        printf("  %2d %s: %lld images in %.3f s = %.1f images/s (CPU %.3f ms/image)\n", threads[t],
               plural(threads[t], "thread ", "threads"), (long long)n, dt, (double)n / dt,
               1e3 * dc / (double)n);
        pneumo_dataset_destroy(ds);
    }
    return 0;
}

/* The augmentation of `set`: a train_augment_options() set, or "best": the
 * best recipe's set with its contrast, gamma and crop. */
static void bench_augment(const char *set, pneumo_augment_options *o)
{
    const train_recipe *r = strcmp(set, "best") == 0 ? train_recipe_find("best") : NULL;
    train_augment_options(r ? r->augment : set, o);
    if (r) {
        o->contrast_lo = r->intensity[0];
        o->contrast_hi = r->intensity[1];
        o->gamma_lo = r->intensity[2];
        o->gamma_hi = r->intensity[3];
        o->crop_lo = r->intensity[4];
    }
}

static int bench_train(const char *dir, int size, const int *threads, int nthreads, int epochs,
                       const char *set)
{
    printf("[train] %s: %dx%d, cache, augmented epochs (%s augmentation), batch 16\n", dir, size, size, set);
    for (int t = 0; t < nthreads; t++) {
        pneumo_dataset_options o;
        pneumo_augment_options aug;
        pneumo_dataset *ds;
        char rep[256];
        double t0, dt, c0, dc, rates[64], cpu[64];
        int64_t n;
        pneumo_dataset_default_options(&o);
        o.width = o.height = size;
        o.shuffle = 1;
        o.augment = 1;
        bench_augment(set, &aug);
        o.augment_options = &aug;
        o.threads = threads[t];
        c0 = cpu_s();
        t0 = now_s();
        if (pneumo_dataset_open_dir(dir, &o, &ds) != PNEUMO_OK) {
            fprintf(stderr, PROG ": %s\n", pneumo_last_error());
            return 1;
        }
        dt = now_s() - t0;
        dc = cpu_s() - c0;
        n = pneumo_dataset_size(ds);
        if (t == 0) {
            pneumo_dataset_report(ds, rep, sizeof rep, NULL);
            printf("  %s\n", rep);
            print_skipped(ds);
        }
        printf("  %2d %s: open (decode + resize + cache): %lld images in %.3f s = %.1f "
               "images/s (CPU %.3f ms/image)\n",
               threads[t], plural(threads[t], "thread ", "threads"), (long long)n, dt, (double)n / dt,
               1e3 * dc / (double)n);
        printf("  %2d %s: augmented epoch from cache:", threads[t], plural(threads[t], "thread ", "threads"));
        for (int e = 0; e < epochs; e++) {
            pneumo_tensor *x, *y;
            int64_t got = 0;
            c0 = cpu_s();
            t0 = now_s();
            if (pneumo_dataset_begin_epoch(ds, e, 16) != PNEUMO_OK) {
                fprintf(stderr, "\n" PROG ": %s\n", pneumo_last_error());
                pneumo_dataset_destroy(ds);
                return 1;
            }
            for (;;) {
                if (pneumo_dataset_next_batch(ds, &x, &y, NULL) != PNEUMO_OK) {
                    fprintf(stderr, "\n" PROG ": %s\n", pneumo_last_error());
                    pneumo_dataset_destroy(ds);
                    return 1;
                }
                if (!x)
                    break;
                got += pneumo_tensor_dim(x, 0);
            }
            dt = now_s() - t0;
            rates[e] = (double)got / dt;
            cpu[e] = 1e3 * (cpu_s() - c0) / (double)got;
            printf(" %.1f", rates[e]);
            fflush(stdout);
        }
        printf(" images/s; median %.1f images/s (CPU %.3f ms/image)\n", median(rates, epochs),
               median(cpu, epochs));
        pneumo_dataset_destroy(ds);
    }
    return 0;
}

static int mode_data(int argc, char **argv)
{
    const char *data = "../shared/data", *set = "article";
    long size = -1, nthr = sysconf(_SC_NPROCESSORS_ONLN), epochs = -1;
    int quick = 0, threads[2], nthreads, rc = 0;
    char path[4096];
    if (nthr < 1)
        nthr = 1;
    if (nthr > 256)
        nthr = 256;
    for (int i = 0; i < argc; i++) {
        const char *a = argv[i];
        if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0)
            return data_usage(stdout);
        if (strcmp(a, "--quick") == 0) {
            quick = 1;
        } else if (i + 1 < argc && strcmp(a, "--data") == 0) {
            data = argv[++i];
        } else if (i + 1 < argc && strcmp(a, "--size") == 0) {
            size = parse_long(a, argv[++i], 1, 16384);
        } else if (i + 1 < argc && strcmp(a, "--threads") == 0) {
            nthr = parse_long(a, argv[++i], 1, 256);
        } else if (i + 1 < argc && strcmp(a, "--epochs") == 0) {
            epochs = parse_long(a, argv[++i], 1, 64);
        } else if (i + 1 < argc && strcmp(a, "--augment") == 0) {
            set = argv[++i];
            if (strcmp(set, "best") != 0 && (strcmp(set, "none") == 0 || !train_augment_known(set))) {
                fprintf(stderr, PROG " data: --augment must be article, strong or best, not '%s'\n", set);
                return 2;
            }
        } else {
            fprintf(stderr, PROG " data: unknown or incomplete option '%s'\n", a);
            return data_usage(stderr);
        }
    }
    if (size < 0)
        size = quick ? 128 : 500;
    if (epochs < 0)
        epochs = quick ? 1 : 3;
    threads[0] = 1;
    threads[1] = (int)nthr;
    nthreads = nthr > 1 ? 2 : 1;
    printf(PROG " data: libpneumo %s, target %ldx%ld, threads 1 and %ld (%ld online cores)%s\n",
           pneumo_version(), size, size, nthr, sysconf(_SC_NPROCESSORS_ONLN), quick ? ", quick" : "");

    snprintf(path, sizeof path, "%s/originals", data);
    if (is_dir(path))
        rc |= bench_originals(path, (int)size, threads, nthreads);
    else
        printf("[originals] skipped: %s not found (pass --data DIR)\n", path);

    snprintf(path, sizeof path, "%s/chest_xray_224/train", data);
    if (is_dir(path))
        rc |= bench_train(path, (int)size, threads, nthreads, (int)epochs, set);
    else
        printf("[train] skipped: %s not found (pass --data DIR)\n", path);
    return rc;
}

/* ------------------------------------------------------------------------ */
/* Modes.                                                                    */

typedef struct bench_mode {
    const char *name;
    int (*run)(int argc, char **argv); /* arguments after the mode name */
    const char *help;
} bench_mode;

static const bench_mode modes[] = {
    {"data", mode_data, "input pipeline: decode/resize, cache, augmented epochs (images/s)"},
    {"train", bench_mode_train, "training img/s (1 and N threads), per-layer times, FMA peak, RSS"},
    {"infer", bench_mode_infer, "single-image latency and batch inference img/s"},
    {"all", bench_mode_all, "train + infer (--vs-torch: PyTorch, --vs-ort: ONNX Runtime)"},
    {"serve", bench_mode_serve, "pneumo-serve at 1, 4, 16 clients: req/s, p50/p99 vs batch img/s"},
    {"train-rss", bench_mode_train_rss, NULL}, /* hidden: child whose peak RSS `train` reads */
};

static int usage(FILE *f)
{
    fprintf(f, "usage: " PROG " MODE [options]   (" PROG " MODE --help for its options)\n"
               "       " PROG " --version\n"
               "modes:\n");
    for (size_t i = 0; i < sizeof modes / sizeof modes[0]; i++)
        if (modes[i].help)
            fprintf(f, "  %-8s %s\n", modes[i].name, modes[i].help);
    return f == stdout ? 0 : 2;
}

int main(int argc, char **argv)
{
    if (argc < 2)
        return usage(stderr);
    if (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0)
        return usage(stdout);
    if (strcmp(argv[1], "--version") == 0) {
        printf(PROG " (libpneumo %s)\n", pneumo_version());
        return 0;
    }
    for (size_t i = 0; i < sizeof modes / sizeof modes[0]; i++)
        if (strcmp(argv[1], modes[i].name) == 0)
            return modes[i].run(argc - 2, argv + 2);
    fprintf(stderr, PROG ": unknown mode '%s'\n", argv[1]);
    return usage(stderr);
}
