/* pneumo-train --seeds N (see train_seeds.h). Each seed is a separate run of
 * this program, so a seed's run is exactly `pneumo-train --seed K` with the
 * same flags and its folder holds everything such a run writes. */
#include "train_seeds.h"

#include <errno.h>
#include <math.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <pneumo/pneumo.h>

#include "cli_common.h"
#include "train_recipe.h"

#define PROG "pneumo-train"
#define METRICS 5 /* accuracy, ROC AUC, recall of class 0, recall of class 1, ECE */

static const char *const metric_names[METRICS] = {"accuracy", "roc_auc", "recall_0", "recall_1",
                                                  "calibration_error"};

typedef struct seed_result {
    long seed;
    int32_t epochs;
    double train_seconds; /* sum of the epochs' wall time (history.csv); NaN if unknown */
    double val[METRICS];  /* on the validation folder */
    double test[METRICS]; /* on the test folder (NaN without one) */
} seed_result;

int train_seeds_sets_flag(const char *flag)
{
    static const char *const set[] = {"--out",     "--best",   "--checkpoint", "--resume",
                                      "--history", "--report", "--report-html"};
    for (size_t i = 0; i < sizeof set / sizeof set[0]; i++)
        if (strcmp(flag, set[i]) == 0)
            return 1;
    return 0;
}

static volatile sig_atomic_t seeds_interrupted;

static void on_sigint(int sig)
{
    (void)sig;
    seeds_interrupted = 1;
}

static int make_dir(const char *path)
{
    struct stat sb;
    if (mkdir(path, 0777) == 0 || (errno == EEXIST && stat(path, &sb) == 0 && S_ISDIR(sb.st_mode)))
        return 0;
    fprintf(stderr, PROG ": --runs-dir: cannot create the folder %s: %s\n", path,
            errno == EEXIST ? "a file of that name exists" : strerror(errno));
    return 1;
}

static int file_exists(const char *path) { return access(path, F_OK) == 0; }

/* The model file at `path` if it records exactly `expected` as its training
 * settings, else NULL after printing why not (or why it cannot be read). */
static pneumo_model *load_checked(const char *path, const char *expected)
{
    char text[PNEUMO_TRAINING_SETTINGS_MAX + 1];
    pneumo_model *m = NULL;
    if (pneumo_model_load(path, &m, NULL) != PNEUMO_OK) {
        fprintf(stderr, PROG ": %s\n", pneumo_last_error());
        return NULL;
    }
    if (pneumo_model_training_settings(m, text, sizeof text, NULL) != PNEUMO_OK ||
        strcmp(text, expected) != 0) {
        fprintf(stderr,
                PROG ": %s was trained with other settings than this command's; it is left as it is: "
                     "remove its folder or choose another --runs-dir\n",
                path);
        pneumo_model_destroy(m);
        return NULL;
    }
    return m;
}

/* The command line of seed `seed`'s run: job->argv without --seeds,
 * --runs-dir and --seed, plus the seed and the outputs in `dir` (and --resume
 * when `resume`). Strings in `store`. Returns argv (NULL-terminated) or NULL. */
static char **child_argv(const seeds_job *job, long seed, const char *dir, int resume, char store[6][4200])
{
    char **a = calloc((size_t)job->argc + 16, sizeof *a);
    int n = 0;
    if (!a)
        return NULL;
    a[n++] = job->argv[0];
    for (int i = 1; i < job->argc; i++) {
        const char *f = job->argv[i];
        const int flag_only = strcmp(f, "--no-augment") == 0 || strcmp(f, "--quiet") == 0 ||
                              strcmp(f, "-q") == 0;
        if (!flag_only &&
            (strcmp(f, "--seeds") == 0 || strcmp(f, "--runs-dir") == 0 || strcmp(f, "--seed") == 0)) {
            i++;
            continue;
        }
        a[n++] = job->argv[i];
        if (!flag_only && i + 1 < job->argc)
            a[n++] = job->argv[++i];
    }
    snprintf(store[0], 4200, "%ld", seed);
    snprintf(store[1], 4200, "%s/model.safetensors", dir);
    snprintf(store[2], 4200, "%s/checkpoint.safetensors", dir);
    snprintf(store[3], 4200, "%s/history.csv", dir);
    snprintf(store[4], 4200, "%s/report.txt", dir);
    snprintf(store[5], 4200, "%s/report.html", dir);
    a[n++] = "--seed", a[n++] = store[0];
    a[n++] = "--out", a[n++] = store[1];
    a[n++] = "--checkpoint", a[n++] = store[2];
    a[n++] = "--history", a[n++] = store[3];
    a[n++] = "--report", a[n++] = store[4];
    a[n++] = "--report-html", a[n++] = store[5];
    if (resume)
        a[n++] = "--resume", a[n++] = store[2];
    a[n] = NULL;
    return a;
}

/* Run this program with `argv`; returns its exit status (1 if it could not
 * be started, 130 if it or this process was interrupted). */
static int run_child(char **argv)
{
    int status = 0;
    pid_t pid;
    fflush(NULL);
    pid = fork();
    if (pid < 0) {
        fprintf(stderr, PROG ": cannot start a run: %s\n", strerror(errno));
        return 1;
    }
    if (pid == 0) {
        execv("/proc/self/exe", argv);
        execvp(argv[0], argv);
        fprintf(stderr, PROG ": cannot run %s: %s\n", argv[0], strerror(errno));
        _exit(127);
    }
    while (waitpid(pid, &status, 0) < 0)
        if (errno != EINTR) {
            fprintf(stderr, PROG ": waiting for a run: %s\n", strerror(errno));
            return 1;
        }
    if (WIFSIGNALED(status))
        return WTERMSIG(status) == SIGINT ? 130 : 1;
    return WEXITSTATUS(status);
}

/* Epochs and the sum of their seconds from a history CSV (NaN seconds if
 * unreadable). */
static void read_history(const char *path, int32_t *epochs, double *seconds)
{
    char line[1024];
    int col = -1, rows = 0;
    double sum = 0.0;
    FILE *f = fopen(path, "r");
    *epochs = 0;
    *seconds = NAN;
    if (!f)
        return;
    if (fgets(line, sizeof line, f)) {
        int c = 0;
        for (char *tok = strtok(line, ",\n"); tok; tok = strtok(NULL, ",\n"), c++)
            if (strcmp(tok, "seconds") == 0)
                col = c;
    }
    while (col >= 0 && fgets(line, sizeof line, f)) {
        int c = 0;
        for (char *tok = strtok(line, ",\n"); tok; tok = strtok(NULL, ",\n"), c++)
            if (c == col)
                sum += strtod(tok, NULL);
        rows++;
    }
    fclose(f);
    *epochs = rows;
    if (col >= 0)
        *seconds = sum;
}

static pneumo_dataset *open_eval(const char *dir, const seeds_job *job)
{
    pneumo_dataset_options o;
    pneumo_dataset *ds = NULL;
    pneumo_dataset_default_options(&o);
    o.width = o.height = job->size;
    o.shuffle = 0;
    o.threads = job->threads;
    if (pneumo_dataset_open_dir(dir, &o, &ds) != PNEUMO_OK)
        fprintf(stderr, PROG ": %s\n", pneumo_last_error());
    return ds;
}

/* The five metrics of `m` on `ds` at the model's operating threshold. */
static int evaluate(pneumo_model *m, pneumo_dataset *ds, int32_t batch, const char *what, double out[METRICS])
{
    pneumo_evaluation ev;
    const int64_t *c = ev.confusion.m;
    if (pneumo_model_evaluate(m, ds, batch, pneumo_model_threshold(m), &ev, NULL, NULL, 0) != PNEUMO_OK) {
        fprintf(stderr, PROG ": %s: %s\n", what, pneumo_last_error());
        return 1;
    }
    out[0] = ev.accuracy;
    out[1] = ev.roc_auc;
    out[2] = c[0] + c[1] ? (double)c[0] / (double)(c[0] + c[1]) : NAN;
    out[3] = c[2] + c[3] ? (double)c[3] / (double)(c[2] + c[3]) : NAN;
    out[4] = ev.calibration_error;
    return 0;
}

static void mean_sd(const seed_result *r, long n, int test, int k, double *mean, double *sd)
{
    double s = 0.0, q = 0.0;
    for (long i = 0; i < n; i++)
        s += test ? r[i].test[k] : r[i].val[k];
    *mean = s / (double)n;
    for (long i = 0; i < n; i++) {
        const double d = (test ? r[i].test[k] : r[i].val[k]) - *mean;
        q += d * d;
    }
    *sd = n > 1 ? sqrt(q / (double)(n - 1)) : NAN;
}

static void print_table(FILE *f, const seeds_job *job, const seed_result *r, long n, const char *name0,
                        const char *name1)
{
    const int sets = job->test_dir ? 2 : 1;
    fprintf(f, "%ld seeds (%ld..%ld), runs in %s\n", n, job->first_seed, job->first_seed + n - 1,
            job->runs_dir);
    if (job->val_split > 0.0)
        fprintf(f, "validation: %.3g of %s (split by %s, split seed 0)\n", job->val_split, job->train_dir,
                job->split_patient ? "patient" : "image");
    else
        fprintf(f, "validation: %s\n", job->val_dir);
    if (job->test_dir)
        fprintf(f, "test: %s\n", job->test_dir);
    fprintf(f,
            "recall of class 0 = %s, class 1 = %s; ECE = expected calibration error (%d bins); "
            "at each model's operating threshold\n\n",
            name0, name1, PNEUMO_EVALUATION_ECE_BINS);
    fprintf(f, "seed    epochs  train s  | val: acc  AUC     rec0    rec1    ECE   ");
    if (sets == 2)
        fprintf(f, " | test: acc  AUC     rec0    rec1    ECE");
    fprintf(f, "\n");
    for (long i = 0; i < n; i++) {
        fprintf(f, "%-7ld %-7d %-8.0f |      ", r[i].seed, r[i].epochs, r[i].train_seconds);
        for (int k = 0; k < METRICS; k++)
            fprintf(f, "%.4f  ", r[i].val[k]);
        if (sets == 2) {
            fprintf(f, "|       ");
            for (int k = 0; k < METRICS; k++)
                fprintf(f, "%.4f  ", r[i].test[k]);
        }
        fprintf(f, "\n");
    }
    for (int row = 0; row < 2; row++) {
        fprintf(f, "%-7s %-7s %-8s |      ", row ? "SD" : "mean", "", "");
        for (int s = 0; s < sets; s++) {
            if (s)
                fprintf(f, "|       ");
            for (int k = 0; k < METRICS; k++) {
                double mean, sd;
                mean_sd(r, n, s, k, &mean, &sd);
                fprintf(f, "%.4f  ", row ? sd : mean);
            }
        }
        fprintf(f, "\n");
    }
    fprintf(f, "\n");
    for (int s = 0; s < sets; s++) {
        fprintf(f, "%s:", s ? "test" : "validation");
        for (int k = 0; k < METRICS; k++) {
            double mean, sd;
            mean_sd(r, n, s, k, &mean, &sd);
            fprintf(f, " %s %.4f +- %.4f%s", metric_names[k], mean, sd, k + 1 < METRICS ? "," : "\n");
        }
    }
}

static void print_json(FILE *f, const seeds_job *job, const seed_result *r, long n, const char *name0,
                       const char *name1)
{
    const int sets = job->test_dir ? 2 : 1;
    fprintf(f, "{\"first_seed\": %ld, \"count\": %ld, \"class_names\": [\"%s\", \"%s\"],\n", job->first_seed,
            n, name0, name1);
    fprintf(f, " \"seeds\": [\n");
    for (long i = 0; i < n; i++) {
        fprintf(f, "  {\"seed\": %ld, \"epochs\": %d, \"train_seconds\": ", r[i].seed, r[i].epochs);
        if (isnan(r[i].train_seconds))
            fprintf(f, "null");
        else
            fprintf(f, "%.3f", r[i].train_seconds);
        for (int s = 0; s < sets; s++) {
            fprintf(f, ", \"%s\": {", s ? "test" : "val");
            for (int k = 0; k < METRICS; k++) {
                const double v = s ? r[i].test[k] : r[i].val[k];
                fprintf(f, "\"%s\": ", metric_names[k]);
                fprintf(f, isnan(v) ? "null" : "%.6f", v);
                fprintf(f, "%s", k + 1 < METRICS ? ", " : "}");
            }
        }
        fprintf(f, "}%s\n", i + 1 < n ? "," : "");
    }
    fprintf(f, " ]");
    for (int stat = 0; stat < 2; stat++) {
        fprintf(f, ",\n \"%s\": {", stat ? "sd" : "mean");
        for (int s = 0; s < sets; s++) {
            fprintf(f, "%s\"%s\": {", s ? ", " : "", s ? "test" : "val");
            for (int k = 0; k < METRICS; k++) {
                double mean, sd;
                mean_sd(r, n, s, k, &mean, &sd);
                fprintf(f, "\"%s\": ", metric_names[k]);
                fprintf(f, isnan(stat ? sd : mean) ? "null" : "%.6f", stat ? sd : mean);
                fprintf(f, "%s", k + 1 < METRICS ? ", " : "}");
            }
        }
        fprintf(f, "}");
    }
    fprintf(f, "\n}\n");
}

static int write_summary(const seeds_job *job, const seed_result *r, long n, const char *name0,
                         const char *name1)
{
    char path[4200], tmp[4200];
    FILE *f;
    snprintf(path, sizeof path, "%s/summary.txt", job->runs_dir);
    if (!(f = cli_fopen_atomic(PROG, path, tmp, sizeof tmp)))
        return 1;
    print_table(f, job, r, n, name0, name1);
    if (cli_fclose_atomic(PROG, f, tmp, path, 1))
        return 1;
    snprintf(path, sizeof path, "%s/summary.json", job->runs_dir);
    if (!(f = cli_fopen_atomic(PROG, path, tmp, sizeof tmp)))
        return 1;
    print_json(f, job, r, n, name0, name1);
    return cli_fclose_atomic(PROG, f, tmp, path, 1);
}

/* Train the seeds that are not finished yet. */
static int train_all(const seeds_job *job)
{
    char dir[4096], model[4200], ckpt[4200], expected[PNEUMO_TRAINING_SETTINGS_MAX + 1];
    char store[6][4200];
    for (long i = 0; i < job->count; i++) {
        const long seed = job->first_seed + i;
        int rc, resume;
        char **argv;
        snprintf(dir, sizeof dir, "%s/seed-%ld", job->runs_dir, seed);
        snprintf(model, sizeof model, "%s/model.safetensors", dir);
        snprintf(ckpt, sizeof ckpt, "%s/checkpoint.safetensors", dir);
        job->settings(seed, expected, sizeof expected, job->user);
        if (make_dir(dir))
            return 1;
        if (file_exists(model)) {
            pneumo_model *m = load_checked(model, expected);
            if (!m)
                return 1;
            pneumo_model_destroy(m);
            if (!job->quiet)
                printf("seed %ld (%ld of %ld): %s holds its finished run; not trained again\n", seed, i + 1,
                       job->count, dir);
            continue;
        }
        resume = file_exists(ckpt);
        if (!job->quiet)
            printf("\nseed %ld (%ld of %ld): %s the run in %s\n", seed, i + 1, job->count,
                   resume ? "continuing" : "training", dir);
        if (!(argv = child_argv(job, seed, dir, resume, store))) {
            fprintf(stderr, PROG ": out of memory\n");
            return 1;
        }
        rc = run_child(argv);
        free(argv);
        if (rc == 130 || seeds_interrupted) {
            fprintf(stderr, PROG ": --seeds interrupted at seed %ld; the same command continues from there\n",
                    seed);
            return 130;
        }
        if (rc != 0) {
            fprintf(stderr,
                    PROG ": the run of seed %ld failed (exit status %d); the finished seeds stay in %s\n",
                    seed, rc, job->runs_dir);
            return 1;
        }
    }
    return 0;
}

int train_seeds_run(const seeds_job *job)
{
    seed_result *r = calloc((size_t)job->count, sizeof *r);
    pneumo_dataset *val = NULL, *test = NULL;
    char name0[256] = "class 0", name1[256] = "class 1";
    struct sigaction sa, old;
    int rc = 1;
    if (!r) {
        fprintf(stderr, PROG ": out of memory\n");
        return 1;
    }
    if (make_dir(job->runs_dir)) {
        free(r);
        return 1;
    }
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_sigint;
    sigaction(SIGINT, &sa, &old);
    rc = train_all(job);
    sigaction(SIGINT, &old, NULL);
    if (rc)
        goto out;
    rc = 1;
    if (job->val_split > 0.0) {
        pneumo_dataset_options o;
        pneumo_dataset *train = NULL;
        pneumo_dataset_default_options(&o);
        o.width = o.height = job->size;
        o.shuffle = 0;
        o.threads = job->threads;
        if (train_open_split(job->train_dir, job->val_split, job->split_patient, &o, &o, &train, &val))
            goto out;
        pneumo_dataset_destroy(train);
    } else if (!(val = open_eval(job->val_dir, job)))
        goto out;
    if (job->test_dir && !(test = open_eval(job->test_dir, job)))
        goto out;
    cli_class_name(val, 0, name0, sizeof name0);
    cli_class_name(val, 1, name1, sizeof name1);
    for (long i = 0; i < job->count; i++) {
        char path[4200], expected[PNEUMO_TRAINING_SETTINGS_MAX + 1];
        pneumo_model *m = NULL;
        int bad;
        r[i].seed = job->first_seed + i;
        snprintf(path, sizeof path, "%s/seed-%ld/history.csv", job->runs_dir, r[i].seed);
        read_history(path, &r[i].epochs, &r[i].train_seconds);
        snprintf(path, sizeof path, "%s/seed-%ld/model.safetensors", job->runs_dir, r[i].seed);
        job->settings(r[i].seed, expected, sizeof expected, job->user);
        if (!(m = load_checked(path, expected)))
            goto out;
        pneumo_model_set_threads(m, job->threads);
        for (int k = 0; k < METRICS; k++)
            r[i].test[k] = NAN;
        bad = evaluate(m, val, job->batch, path, r[i].val) ||
              (test && evaluate(m, test, job->batch, path, r[i].test));
        pneumo_model_destroy(m);
        if (bad)
            goto out;
    }
    if (!job->quiet) {
        printf("\n");
        print_table(stdout, job, r, job->count, name0, name1);
    }
    rc = write_summary(job, r, job->count, name0, name1);
    if (!rc && !job->quiet)
        printf("summary: %s/summary.txt and %s/summary.json\n", job->runs_dir, job->runs_dir);
out:
    pneumo_dataset_destroy(val);
    pneumo_dataset_destroy(test);
    free(r);
    return rc;
}
