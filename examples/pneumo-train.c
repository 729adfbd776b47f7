/* pneumo-train: the article's training run.
 *
 *   pneumo-train --data DIR [options]     (DIR/train and DIR/val, class sub-folders)
 *   pneumo-train --train DIR --val DIR [options]
 *
 * Defaults reproduce the article: 500x500 grayscale, batch 16, 25 epochs, Adam 1e-3,
 * shear 0.2 / zoom 0.2 / horizontal flip augmentation, balanced class weights,
 * EarlyStopping(val_loss, patience 3), ReduceLROnPlateau(val_loss, factor 0.3,
 * patience 2, min_lr 1e-6). Writes the model, history.csv, a text report and a
 * self-contained HTML report (curves, confusion matrix, ROC, sample images).
 *
 * Nothing the user already has is lost: every output path is checked before
 * the first epoch, outputs are replaced (atomically) only by a run that
 * finishes, Ctrl-C stops at the next step and saves the checkpoint there (the
 * resumed run continues inside the epoch), prints
 * the command that resumes (a second Ctrl-C quits at once), and --resume takes
 * every training setting from the checkpoint (the model records them, see
 * record_settings); a flag that disagrees with the checkpoint is an error
 * before anything runs. */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <pneumo/pneumo.h>

#include "cli_common.h"
#include "train_recipe.h"
#include "train_seeds.h"

#define PROG "pneumo-train"

static int usage(FILE *f)
{
    fprintf(f, "usage: " PROG " (--data DIR | --train DIR --val DIR) [options]\n"
               "  --data DIR        DIR/train and DIR/val (default: none)\n"
               "  --train DIR       training folder, one sub-folder per class (default: DIR/train)\n"
               "  --val DIR         validation folder (default: DIR/val)\n"
               "  --test DIR        evaluate on this folder at the end (default: none)\n"
               "  --val-split F     carve the validation set out of the training folder instead of\n"
               "                    --val: a fraction F in (0, 1) of each class (default: none)\n"
               "  --split-group G   patient (default: all images of a patient on one side; the\n"
               "                    patient comes from the file name, pneumo_patient_id()) or none\n"
               "  --size N          image side (default 500)\n"
               "  --epochs N        (default 25)\n"
               "  --batch N         (default 16)\n"
               "  --lr X            Adam learning rate (default 0.001)\n"
               "  --seed N          weights, shuffling and augmentation (default 1)\n"
               "  --threads N       model and data pipeline threads (default: online cores)\n"
               "  --no-augment      train without augmentation (--augment none)\n"
               "  --augment SET     none, article (shear, zoom, flip) or strong (see docs/recipes.md);\n"
               "                    default: the recipe's\n"
               "  --contrast LO,HI  add PIL contrast c ~ U(LO, HI) to the augmentation, or off\n"
               "                    (default: the recipe's: article off, best 0.75,1.25)\n"
               "  --gamma LO,HI     add gamma g ~ U(LO, HI): 255 (x / 255)^g, or off (default: the\n"
               "                    recipe's: article off, best 0.8,1.25)\n"
               "  --crop LO         add random square crops of side s ~ U(LO, 1), resized back, or\n"
               "                    off (default: the recipe's: article off, best 0.85); --augment\n"
               "                    or --no-augment drops the recipe's contrast, gamma and crop\n"
               "  --model ARCH      article (the article's network) or compact (batch-normalised\n"
               "                    blocks, global average pooling); default: the recipe's\n"
               "  --recipe NAME     defaults of every setting above and below: article (default: the\n"
               "                    article's run, exactly) or best (docs/recipes.md); a flag given\n"
               "                    overrides the recipe's value\n"
               "  --patience N      EarlyStopping patience (default 3; 0 disables)\n"
               "  --weight-decay X  AdamW decoupled weight decay of the kernels (default 0: Adam)\n"
               "  --label-smoothing S  loss target y (1 - S) + 0.5 S (default 0)\n"
               "  --lr-schedule K   constant (default; ReduceLROnPlateau only) or cosine: per-step\n"
               "                    cosine decay to 0 after a linear warm-up from 0.1 x lr\n"
               "  --warmup-epochs N warm-up of the cosine schedule (default 0)\n"
               "  --out FILE        model file (default model.safetensors)\n"
               "  --best FILE       also save the best model (by val_loss) here (default: none)\n"
               "  --checkpoint FILE save the run after every epoch (default checkpoint.safetensors)\n"
               "  --resume FILE     continue the run saved in this checkpoint (default: none),\n"
               "                    with its settings (size, epochs, batch, lr, seed, threads,\n"
               "                    augmentation, patience, threshold, class names)\n"
               "  --history FILE    history CSV (default history.csv)\n"
               "  --report FILE     text report (default report.txt)\n"
               "  --report-html FILE  HTML report (default report.html next to the text report)\n"
               "  --threshold T     operating threshold stored in the model: a number in (0, 1),\n"
               "                    'youden' (Youden's J on the validation set) or 'sensitivity:S'\n"
               "                    (the highest threshold with recall of class 1 >= S on the\n"
               "                    validation set); default 0.5\n"
               "  --calibrate M     'temperature': fit temperature scaling on the validation set\n"
               "                    after training and store it (before the threshold is chosen);\n"
               "                    'none' (default): probabilities as the model gives them\n"
               "  --class-names A,B names of class 0 and 1 stored in the model (default NORMAL,PNEUMONIA)\n"
               "  --seeds N         train N runs, seeds --seed .. --seed + N - 1, each into\n"
               "                    RUNS/seed-K/ (its model, checkpoint, history and reports), then\n"
               "                    print and write RUNS/summary.txt and .json: each seed's accuracy,\n"
               "                    ROC AUC, recall of each class and calibration error on the\n"
               "                    validation and --test folders, and their mean +- SD. A finished\n"
               "                    seed is not trained again, an interrupted one continues\n"
               "                    (default 1: one run, the outputs below)\n"
               "  --runs-dir RUNS   folder of the --seeds runs (default runs)\n"
               "  --quiet           no progress output (default: progress on stdout)\n"
               "  --version         print the version and exit\n"
               "  --help            print this help and exit\n");
    return f == stdout ? 0 : 2;
}

/* Options that take a value. */
static int takes_value(const char *a)
{
    static const char *const names[] = {
        "--data",         "--train",           "--val",         "--test",
        "--size",         "--epochs",          "--batch",       "--lr",
        "--seed",         "--threads",         "--patience",    "--out",
        "--best",         "--checkpoint",      "--resume",      "--history",
        "--report",       "--report-html",     "--threshold",   "--class-names",
        "--weight-decay", "--label-smoothing", "--lr-schedule", "--warmup-epochs",
        "--calibrate",    "--augment",         "--model",       "--recipe",
        "--seeds",        "--runs-dir",        "--val-split",   "--split-group",
        "--contrast",     "--gamma",           "--crop"};
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++)
        if (strcmp(a, names[i]) == 0)
            return 1;
    return 0;
}

/* Ctrl-C: the first asks training to stop after the current step, the second
 * quits at once. */
static volatile sig_atomic_t interrupted;

static void on_sigint(int sig)
{
    static const char msg[] = "\n" PROG ": stopping after this step (Ctrl-C again to quit now)\n";
    (void)sig;
    if (interrupted)
        _exit(130);
    interrupted = 1;
    (void)!write(STDERR_FILENO, msg, sizeof msg - 1);
}

static int stop_when_interrupted(const pneumo_fit_event *event, void *user)
{
    (void)event;
    (void)user;
    return interrupted != 0;
}

/* The command that continues an interrupted run: this one with --resume CK. */
static void print_resume_command(int argc, char **argv, const char *checkpoint)
{
    fprintf(stderr, PROG ": interrupted; %s holds the run up to the step it stopped at. Continue with:\n ",
            checkpoint);
    for (int i = 0; i < argc; i++) {
        /* a resumed run takes the learning rate from the checkpoint */
        if ((strcmp(argv[i], "--resume") == 0 || strcmp(argv[i], "--lr") == 0) && i + 1 < argc) {
            i++;
            continue;
        }
        fprintf(stderr, " '%s'", argv[i]);
    }
    fprintf(stderr, " --resume '%s'\n", checkpoint);
}

/* The training settings of a run, recorded in its model (and so in every
 * checkpoint) as one "key=value" line each. */
typedef struct train_settings {
    long size, epochs, batch, seed, threads, patience;
    double lr;
    int augment;      /* 0 none, 1 article, 2 strong */
    char model[16];   /* recorded when not "article" */
    double val_split; /* recorded with split_patient when > 0 */
    int split_patient;
    float intensity[5]; /* contrast lo, hi, gamma lo, hi, crop_lo on top of the set; recorded when not 0 */
    char threshold[32]; /* "youden", "sensitivity:S" or the number */
    int calibrate;      /* 1: temperature scaling on val */
    char class_names[2 * (PNEUMO_CLASS_NAME_MAX + 1)]; /* "" for the defaults */
    double weight_decay, label_smoothing;              /* recorded when not 0 */
    int cosine;                                        /* recorded with warmup_epochs when 1 */
    long warmup_epochs;
} train_settings;

/* The augmentation set of train_settings.augment. */
static const char *augment_name(int augment)
{
    return augment == 2 ? "strong" : augment ? "article" : "none";
}

/* train_settings.augment of a train_augment_known() set name. */
static int augment_index(const char *name)
{
    return strcmp(name, "strong") == 0 ? 2 : strcmp(name, "article") == 0;
}

/* What this program always uses; recorded too, and a checkpoint that records
 * something else cannot be resumed by it. */
#define FIXED_CLASS_WEIGHTS "balanced"
#define FIXED_REDUCE_LR "val_loss factor 0.3 patience 2 min_lr 1e-06"

static void record_settings(const train_settings *t, char *buf, size_t size)
{
    snprintf(buf, size,
             "size=%ld\nepochs=%ld\nbatch=%ld\nlr=%.17g\nseed=%ld\nthreads=%ld\naugment=%s\npatience=%ld\n"
             "threshold=%s\ncalibrate=%s\nclass_names=%s\nclass_weights=" FIXED_CLASS_WEIGHTS
             "\nreduce_lr=" FIXED_REDUCE_LR "\n",
             t->size, t->epochs, t->batch, t->lr, t->seed, t->threads,
             t->augment == 2 ? "strong"
             : t->augment    ? "1"
                             : "0",
             t->patience, t->threshold, t->calibrate ? "temperature" : "none", t->class_names);
    /* the knobs past the article's, only when used: a default run records what it always did */
    if (t->weight_decay > 0.0)
        snprintf(buf + strlen(buf), size - strlen(buf), "weight_decay=%.17g\n", t->weight_decay);
    if (t->label_smoothing > 0.0)
        snprintf(buf + strlen(buf), size - strlen(buf), "label_smoothing=%.17g\n", t->label_smoothing);
    if (t->cosine)
        snprintf(buf + strlen(buf), size - strlen(buf), "lr_schedule=cosine\nwarmup_epochs=%ld\n",
                 t->warmup_epochs);
    if (strcmp(t->model, "article") != 0)
        snprintf(buf + strlen(buf), size - strlen(buf), "model=%s\n", t->model);
    if (t->intensity[0] > 0.0f)
        snprintf(buf + strlen(buf), size - strlen(buf), "contrast=%.9g,%.9g\n", (double)t->intensity[0],
                 (double)t->intensity[1]);
    if (t->intensity[2] > 0.0f)
        snprintf(buf + strlen(buf), size - strlen(buf), "gamma=%.9g,%.9g\n", (double)t->intensity[2],
                 (double)t->intensity[3]);
    if (t->intensity[4] > 0.0f)
        snprintf(buf + strlen(buf), size - strlen(buf), "crop=%.9g\n", (double)t->intensity[4]);
    if (t->val_split > 0.0)
        snprintf(buf + strlen(buf), size - strlen(buf), "val_split=%.17g\nsplit_group=%s\n", t->val_split,
                 t->split_patient ? "patient" : "none");
}

/* A recorded number in lo..hi into *x; 1 after printing the bad line. */
static int take_double(const char *checkpoint, const char *key, const char *v, double lo, double hi,
                       double *x)
{
    char *end;
    *x = strtod(v, &end);
    if (!*v || *end || !(*x >= lo && *x <= hi)) {
        fprintf(stderr, PROG ": %s records %s=%s, not a number in %g..%g\n", checkpoint, key, v, lo, hi);
        return 1;
    }
    return 0;
}

/* The settings a --seeds run of `seed` records (user: the train_settings). */
static void settings_for_seed(long seed, char *buf, size_t size, void *user)
{
    train_settings t = *(const train_settings *)user;
    t.seed = seed;
    record_settings(&t, buf, size);
}

/* "LO,HI" with 0 < LO <= HI <= max into out[0], out[1]; 1 after printing why not. */
static int parse_range(const char *what, const char *v, double max, float out[2])
{
    char *end;
    const double lo = strtod(v, &end);
    double hi = 0.0;
    if (*end == ',')
        hi = strtod(end + 1, &end);
    if (*end || !(lo > 0.0 && lo <= hi && hi <= max)) {
        fprintf(stderr, PROG ": %s %s: wants LO,HI with 0 < LO <= HI <= %g\n", what, v, max);
        return 1;
    }
    out[0] = (float)lo, out[1] = (float)hi;
    return 0;
}

/* Which settings the command line gave. */
typedef struct given_flags {
    int size, epochs, batch, lr, seed, threads, no_augment, patience, threshold, calibrate, class_names;
    int weight_decay, label_smoothing, lr_schedule, warmup_epochs, augment, model, val_split, split_group;
    int intensity; /* any of --contrast, --gamma, --crop with a value (not "off") */
    int contrast, gamma, crop;
} given_flags;

static int conflict(const char *checkpoint, const char *flag, const char *given, const char *key,
                    const char *stored)
{
    fprintf(stderr,
            PROG ": %s %s conflicts with the checkpoint %s (%s %s); leave it out to continue "
                 "with the checkpoint's\n",
            flag, given, checkpoint, key, stored);
    return 2;
}

/* One long setting: the flag's value if given (it must equal the stored one), else the stored one
 * (within the flag's range lo..hi). */
static int take_long(const char *checkpoint, const char *flag, int given, long *v, const char *key,
                     const char *stored, long lo, long hi)
{
    char *end;
    long x = strtol(stored, &end, 10);
    if (!*stored || *end || x < lo || x > hi) {
        fprintf(stderr, PROG ": %s records %s=%s, not an integer in %ld..%ld\n", checkpoint, key, stored, lo,
                hi);
        return 1;
    }
    if (given && *v != x) {
        char g[32];
        snprintf(g, sizeof g, "%ld", *v);
        return conflict(checkpoint, flag, g, key, stored);
    }
    *v = x;
    return 0;
}

/* Take the settings recorded in a checkpoint (text from
 * pneumo_model_training_settings) into t, where the flags agree. Returns 0, or
 * the exit status after printing the conflict or the bad line. */
static int take_settings(const char *checkpoint, const char *text, const given_flags *g, train_settings *t)
{
    char line[PNEUMO_TRAINING_SETTINGS_MAX + 1];
    const char *p = text;
    while (*p) {
        size_t n = strcspn(p, "\n");
        snprintf(line, sizeof line, "%.*s", (int)n, p);
        p += n + (p[n] == '\n');
        char *eq = strchr(line, '=');
        if (!eq) {
            fprintf(stderr, PROG ": %s records a setting without '=': '%s'\n", checkpoint, line);
            return 1;
        }
        *eq = '\0';
        const char *key = line, *v = eq + 1;
        int rc = 0;
        if (strcmp(key, "size") == 0)
            rc = take_long(checkpoint, "--size", g->size, &t->size, key, v, 94, 16384);
        else if (strcmp(key, "epochs") == 0)
            rc = take_long(checkpoint, "--epochs", g->epochs, &t->epochs, key, v, 1, 100000);
        else if (strcmp(key, "batch") == 0)
            rc = take_long(checkpoint, "--batch", g->batch, &t->batch, key, v, 1, 4096);
        else if (strcmp(key, "seed") == 0)
            rc = take_long(checkpoint, "--seed", g->seed, &t->seed, key, v, 0, 1L << 31);
        else if (strcmp(key, "threads") == 0)
            rc = take_long(checkpoint, "--threads", g->threads, &t->threads, key, v, 0, 256);
        else if (strcmp(key, "patience") == 0)
            rc = take_long(checkpoint, "--patience", g->patience, &t->patience, key, v, 0, 100000);
        else if (strcmp(key, "lr") == 0) {
            char *end;
            double x = strtod(v, &end);
            if (!*v || *end || !(x >= 1e-9 && x <= 10.0)) {
                fprintf(stderr, PROG ": %s records lr=%s, not a number in 1e-09..10\n", checkpoint, v);
                return 1;
            }
            if (g->lr && t->lr != x) {
                char given[32];
                snprintf(given, sizeof given, "%g", t->lr);
                return conflict(checkpoint, "--lr", given, key, v);
            }
            t->lr = x;
        } else if (strcmp(key, "augment") == 0) {
            const int a = strcmp(v, "0") == 0        ? 0
                          : strcmp(v, "1") == 0      ? 1
                          : strcmp(v, "strong") == 0 ? 2
                                                     : -1;
            if (a < 0) {
                fprintf(stderr, PROG ": %s records augment=%s, not 0, 1 or strong\n", checkpoint, v);
                return 1;
            }
            if ((g->no_augment || g->augment) && t->augment != a)
                return conflict(checkpoint, "--augment", augment_name(t->augment), key, augment_name(a));
            t->augment = a;
        } else if (strcmp(key, "contrast") == 0 || strcmp(key, "gamma") == 0) {
            rc = parse_range(key, v, 1000.0, t->intensity + (key[0] == 'g' ? 2 : 0));
        } else if (strcmp(key, "crop") == 0) {
            double c;
            rc = take_double(checkpoint, key, v, 1e-6, 1.0, &c);
            t->intensity[4] = (float)c;
        } else if (strcmp(key, "val_split") == 0) {
            rc = take_double(checkpoint, key, v, 1e-6, 1.0 - 1e-6, &t->val_split);
        } else if (strcmp(key, "split_group") == 0 && (strcmp(v, "patient") == 0 || strcmp(v, "none") == 0)) {
            t->split_patient = v[0] == 'p';
        } else if (strcmp(key, "model") == 0) {
            if (!train_model_known(v)) {
                fprintf(stderr, PROG ": %s records model=%s, not an architecture this " PROG " knows\n",
                        checkpoint, v);
                return 1;
            }
            if (g->model && strcmp(t->model, v) != 0)
                return conflict(checkpoint, "--model", t->model, key, v);
            snprintf(t->model, sizeof t->model, "%s", v);
        } else if (strcmp(key, "threshold") == 0) {
            if (g->threshold && strcmp(t->threshold, v) != 0)
                return conflict(checkpoint, "--threshold", t->threshold, key, v);
            snprintf(t->threshold, sizeof t->threshold, "%.31s", v);
        } else if (strcmp(key, "calibrate") == 0) {
            if (strcmp(v, "none") != 0 && strcmp(v, "temperature") != 0) {
                fprintf(stderr, PROG ": %s records calibrate=%s, not none or temperature\n", checkpoint, v);
                return 1;
            }
            if (g->calibrate && t->calibrate != (v[0] == 't'))
                return conflict(checkpoint, "--calibrate", t->calibrate ? "temperature" : "none", key, v);
            t->calibrate = v[0] == 't';
        } else if (strcmp(key, "class_names") == 0) {
            if (g->class_names && strcmp(t->class_names, v) != 0)
                return conflict(checkpoint, "--class-names", t->class_names, key, *v ? v : "(the defaults)");
            if (*v && (strlen(v) >= sizeof t->class_names || !strchr(v, ','))) {
                fprintf(stderr, PROG ": %s records class_names=%s, not two names separated by a comma\n",
                        checkpoint, v);
                return 1;
            }
            snprintf(t->class_names, sizeof t->class_names, "%.*s", (int)sizeof t->class_names - 1, v);
        } else if (strcmp(key, "weight_decay") == 0) {
            rc = take_double(checkpoint, key, v, 0.0, 10.0, &t->weight_decay);
        } else if (strcmp(key, "label_smoothing") == 0) {
            rc = take_double(checkpoint, key, v, 0.0, 1.0, &t->label_smoothing);
        } else if (strcmp(key, "lr_schedule") == 0 && strcmp(v, "cosine") == 0) {
            t->cosine = 1;
        } else if (strcmp(key, "warmup_epochs") == 0) {
            rc = take_long(checkpoint, "--warmup-epochs", 0, &t->warmup_epochs, key, v, 0, 100000);
        } else if ((strcmp(key, "class_weights") == 0 && strcmp(v, FIXED_CLASS_WEIGHTS) == 0) ||
                   (strcmp(key, "reduce_lr") == 0 && strcmp(v, FIXED_REDUCE_LR) == 0)) {
            /* what this program always uses */
        } else {
            fprintf(stderr, PROG ": %s records the setting %s=%s, which this " PROG " cannot honour\n",
                    checkpoint, key, v);
            return 1;
        }
        if (rc)
            return rc;
    }
    return 0;
}

/* Dataset options; `aug` holds the augmentation they point to. */
/* --contrast, --gamma and --crop on top of the augmentation set (0: off). */
static float intensity_flags[5];

/* The augmentation in words: the set, then --contrast, --gamma and --crop. */
static const char *augment_text(int augment, char *buf, size_t size)
{
    size_t n;
    snprintf(buf, size, "%s", train_augment_description(augment_name(augment)));
    n = strlen(buf);
    if (augment && intensity_flags[0] > 0.0f && n < size)
        n += (size_t)snprintf(buf + n, size - n, ", contrast %g..%g", (double)intensity_flags[0],
                              (double)intensity_flags[1]);
    if (augment && intensity_flags[2] > 0.0f && n < size)
        n += (size_t)snprintf(buf + n, size - n, ", gamma %g..%g", (double)intensity_flags[2],
                              (double)intensity_flags[3]);
    if (augment && intensity_flags[4] > 0.0f && n < size)
        snprintf(buf + n, size - n, ", crop %g..1", (double)intensity_flags[4]);
    return buf;
}

static void ds_options(pneumo_dataset_options *o, pneumo_augment_options *aug, int32_t size, int augment,
                       uint64_t seed, int32_t threads, int shuffle)
{
    pneumo_dataset_default_options(o);
    o->width = o->height = size;
    o->seed = seed;
    o->threads = threads;
    o->shuffle = shuffle;
    o->augment = augment != 0;
    if (augment) {
        train_augment_options(augment_name(augment), aug);
        if (intensity_flags[0] > 0.0f)
            aug->contrast_lo = intensity_flags[0], aug->contrast_hi = intensity_flags[1];
        if (intensity_flags[2] > 0.0f)
            aug->gamma_lo = intensity_flags[2], aug->gamma_hi = intensity_flags[3];
        if (intensity_flags[4] > 0.0f)
            aug->crop_lo = intensity_flags[4];
        o->augment_options = aug;
    }
}

static pneumo_dataset *open_ds(const char *dir, int32_t size, int augment, uint64_t seed, int32_t threads,
                               int shuffle)
{
    pneumo_dataset_options o;
    pneumo_augment_options aug;
    pneumo_dataset *ds = NULL;
    ds_options(&o, &aug, size, augment, seed, threads, shuffle);
    if (pneumo_dataset_open_dir(dir, &o, &ds) != PNEUMO_OK) {
        fprintf(stderr, PROG ": %s\n", pneumo_last_error());
        return NULL;
    }
    return ds;
}

/* The validation set's probabilities and labels (caller frees both).
 * Returns 0 or 1 after printing an error naming `what`. */
static int val_predictions(pneumo_model *m, pneumo_dataset *val, int32_t batch, const char *what, float **p,
                           float **y, int64_t *n)
{
    pneumo_evaluation ev;
    *n = pneumo_dataset_size(val);
    *p = malloc((size_t)(*n ? *n : 1) * sizeof **p);
    *y = malloc((size_t)(*n ? *n : 1) * sizeof **y);
    if (!*p || !*y) {
        fprintf(stderr, PROG ": %s: out of memory\n", what);
        return 1;
    }
    if (pneumo_model_evaluate(m, val, batch, 0.5f, &ev, *p, *y, (size_t)*n) != PNEUMO_OK) {
        fprintf(stderr, PROG ": %s: %s\n", what, pneumo_last_error());
        return 1;
    }
    return 0;
}

/* The model card's temperature (fitted on the validation set: never the test
 * set), operating threshold (a number, Youden's J or a target sensitivity on
 * the validation set, after the temperature) and class names. Returns 0 or 1
 * after printing an error. */
static int set_model_card(pneumo_model *m, pneumo_dataset *val, int32_t batch, const char *threshold_arg,
                          float threshold, int calibrate, const char *class_names, char *names_buf, int quiet)
{
    float *p = NULL, *y = NULL;
    int64_t n = 0;
    int rc = 1;
    if (class_names) {
        const char *names[2];
        char *comma;
        strcpy(names_buf, class_names);
        comma = strchr(names_buf, ',');
        *comma = '\0';
        names[0] = names_buf;
        names[1] = comma + 1;
        if (pneumo_model_set_class_names(m, 2, names) != PNEUMO_OK) {
            fprintf(stderr, PROG ": --class-names: %s\n", pneumo_last_error());
            return 1;
        }
    }
    if (calibrate) {
        float t = 1.0f;
        if (val_predictions(m, val, batch, "--calibrate temperature", &p, &y, &n))
            goto out;
        if (pneumo_fit_temperature(p, y, n, &t) != PNEUMO_OK ||
            pneumo_model_set_temperature(m, pneumo_model_temperature(m) * t) != PNEUMO_OK) {
            fprintf(stderr, PROG ": --calibrate temperature: %s\n", pneumo_last_error());
            goto out;
        }
        if (!quiet)
            printf("temperature scaling (fitted on the validation set): T = %.4f\n",
                   (double)pneumo_model_temperature(m));
        free(p);
        free(y);
        p = y = NULL;
    }
    if (strcmp(threshold_arg, "youden") == 0 || strncmp(threshold_arg, "sensitivity:", 12) == 0) {
        const int youden = threshold_arg[0] == 'y';
        if (val_predictions(m, val, batch, youden ? "--threshold youden" : "--threshold sensitivity", &p, &y,
                            &n))
            goto out;
        if ((youden ? pneumo_youden_threshold(p, y, n, &threshold)
                    : pneumo_sensitivity_threshold(p, y, n, strtod(threshold_arg + 12, NULL), &threshold)) !=
            PNEUMO_OK) {
            fprintf(stderr, PROG ": --threshold %s: %s\n", threshold_arg, pneumo_last_error());
            goto out;
        }
        if (!quiet)
            printf("operating threshold (%s on the validation set): %.4f\n",
                   youden ? "Youden's J" : threshold_arg, (double)threshold);
    }
    if (pneumo_model_set_threshold(m, threshold) != PNEUMO_OK) {
        fprintf(stderr, PROG ": --threshold: %s\n", pneumo_last_error());
        goto out;
    }
    rc = 0;
out:
    free(p);
    free(y);
    return rc;
}

/* What the HTML report lists as the run's settings. */
typedef struct run_settings {
    const char *train_dir, *val_dir, *test_dir, *out, *history_csv, *report_path, *resume;
    long size, epochs, batch, seed, threads, patience;
    double lr;
    int augment;
    const char *optimizer, *schedule; /* "Adam" or "AdamW (weight decay W)"; "" or ", cosine ..." */
} run_settings;

/* The self-contained HTML report: settings, model, curves, the validation and
 * (with --test) test evaluations, and 9 images of the test (else val) set titled
 * with their predicted probability and actual class. Returns 0 or 1 after
 * printing an error. */
static int write_html(const char *path, pneumo_model *m, const pneumo_history *h, const pneumo_dataset *train,
                      pneumo_dataset *val, pneumo_dataset *test, const pneumo_evaluation *ev_val,
                      const float *val_probs, const float *val_labels, const pneumo_evaluation *ev_test,
                      const float *test_probs, const float *test_labels, const run_settings *s)
{
    pneumo_report *r = NULL;
    double cw[2] = {0, 0};
    int32_t n_ep = pneumo_history_size(h), ih = 0, iw = 0;
    int rc = 1;
    pneumo_dataset *grid = test ? test : val;
    pneumo_dataset_class_weights(train, cw, 2);
    pneumo_model_input_shape(m, &ih, &iw, NULL);
    char n0[256], n1[256], aug_text[256];
    if (pneumo_report_create("Chest X-ray pneumonia classifier: training report", &r) != PNEUMO_OK) {
        fprintf(stderr, PROG ": %s\n", pneumo_last_error());
        return 1;
    }
    if (cli_report_setting(r, PROG, "training data", "%s (%lld images)", s->train_dir,
                           (long long)pneumo_dataset_size(train)) ||
        cli_report_setting(r, PROG, "validation data", "%s (%lld images)", s->val_dir,
                           (long long)pneumo_dataset_size(val)) ||
        (test && cli_report_setting(r, PROG, "test data", "%s (%lld images)", s->test_dir,
                                    (long long)pneumo_dataset_size(test))) ||
        cli_report_setting(r, PROG, "classes", "0: %s, 1: %s", cli_class_name(train, 0, n0, sizeof n0),
                           cli_class_name(train, 1, n1, sizeof n1)) ||
        cli_report_setting(r, PROG, "images", "%d x %d grayscale, nearest resize, pixels / 255", iw, ih) ||
        (s->resume && cli_report_setting(r, PROG, "resumed from", "%s", s->resume)) ||
        cli_report_setting(r, PROG, "epochs", "%ld requested, %d run%s", s->epochs, n_ep,
                           pneumo_history_stopped_early(h) ? ", stopped early" : "") ||
        cli_report_setting(r, PROG, "batch size", "%ld", s->batch) ||
        cli_report_setting(r, PROG, "optimizer", "%s, initial learning rate %g%s", s->optimizer, s->lr,
                           s->schedule) ||
        cli_report_setting(r, PROG, "augmentation", "%s",
                           augment_text(s->augment, aug_text, sizeof aug_text)) ||
        cli_report_setting(r, PROG, "class weights", "balanced {0: %.4f, 1: %.4f}", cw[0], cw[1]) ||
        cli_report_setting(r, PROG, "callbacks",
                           "EarlyStopping(val_loss, patience %ld)%s, "
                           "ReduceLROnPlateau(val_loss, factor 0.3, patience 2, min_lr 1e-6)",
                           s->patience, s->patience > 0 ? "" : " off") ||
        cli_report_setting(r, PROG, "seed", "%ld", s->seed) ||
        cli_report_setting(r, PROG, "threads", "model %d, data %ld (0: all cores), kernels %s",
                           pneumo_model_threads(m), s->threads, pneumo_kernel_isa()) ||
        cli_report_setting(r, PROG, "outputs", "model %s, history %s, text report %s", s->out, s->history_csv,
                           s->report_path) ||
        cli_report_setting(r, PROG, "libpneumo", "%s", pneumo_version()))
        goto out;
    if (pneumo_report_set_model(r, m) != PNEUMO_OK || (h && pneumo_report_set_history(r, h) != PNEUMO_OK)) {
        fprintf(stderr, PROG ": %s\n", pneumo_last_error());
        goto out;
    }
    if (ev_val && cli_report_evaluation(r, PROG, "Validation set", ev_val, val_probs, val_labels, val))
        goto out;
    if (ev_test && cli_report_evaluation(r, PROG, "Test set", ev_test, test_probs, test_labels, test))
        goto out;
    if (test ? ev_test != NULL : ev_val != NULL) {
        pneumo_report_set_images_title(r, test ? "Test images: predicted probability and actual class"
                                               : "Validation images: predicted probability and actual class");
        if (cli_report_samples(r, PROG, grid, (int32_t)s->size, (int32_t)s->size,
                               test ? test_probs : val_probs, 9))
            goto out;
    }
    if (pneumo_report_save_html(r, path) != PNEUMO_OK) {
        fprintf(stderr, PROG ": %s\n", pneumo_last_error());
        goto out;
    }
    rc = 0;
out:
    pneumo_report_destroy(r);
    return rc;
}

int main(int argc, char **argv)
{
    const char *data = NULL, *train_dir = NULL, *val_dir = NULL, *test_dir = NULL;
    const char *out = "model.safetensors", *best = NULL, *history_csv = "history.csv";
    const char *html_path = NULL;
    char html_buf[4096];
    float *val_probs = NULL, *val_labels = NULL, *test_probs = NULL, *test_labels = NULL;
    int have_val_ev = 0;
    run_settings set;
    const char *report_path = "report.txt", *checkpoint = "checkpoint.safetensors", *resume = NULL;
    const char *threshold_arg = "0.5", *class_names = NULL, *calibrate_arg = "none";
    char names_buf[2 * (PNEUMO_CLASS_NAME_MAX + 1)];
    float threshold = 0.5f;
    long size = 500, epochs = 25, batch = 16, seed = 1, threads = 0, patience = 3;
    double lr = 1e-3;
    int augment = 1, quiet = 0, rc = 1;
    char train_buf[4096], val_buf[4096];
    pneumo_dataset *train = NULL, *val = NULL, *test = NULL;
    pneumo_model *m = NULL;
    pneumo_optimizer *opt = NULL;
    pneumo_adam_params ap;
    pneumo_fit_options fo;
    pneumo_early_stopping_params es;
    pneumo_reduce_lr_params rl;
    pneumo_history *h = NULL;
    pneumo_evaluation ev_val, ev_test;
    pneumo_status st;
    FILE *rep;
    char rep_tmp[4200];
    given_flags g;
    train_settings t;
    double weight_decay = 0.0, label_smoothing = 0.0;
    long warmup_epochs = 0;
    int cosine = 0;
    const char *model_arch = "article", *recipe_name = "article", *runs_dir = "runs";
    long seeds = 1;
    double val_split = 0.0;
    int split_patient = 1;
    const train_recipe *recipe;
    char optimizer_text[64], schedule_text[96], aug_text[256];
    char settings_text[PNEUMO_TRAINING_SETTINGS_MAX + 1];

    memset(&g, 0, sizeof g);

    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0)
            return usage(stdout);
        if (strcmp(a, "--version") == 0)
            return cli_version(PROG);
        if (strcmp(a, "--no-augment") == 0) {
            augment = 0;
            g.no_augment = 1;
            continue;
        }
        if (strcmp(a, "--augment") == 0 && v) {
            if (!train_augment_known(v))
                return cli_bad_option(PROG, a, "wants none, article or strong");
            augment = augment_index(v), g.augment = 1;
            i++;
            continue;
        }
        if (strcmp(a, "--quiet") == 0 || strcmp(a, "-q") == 0) {
            quiet = 1;
            continue;
        }
        if (!takes_value(a))
            return cli_bad_option(PROG, a, "unknown option");
        if (!v)
            return cli_bad_option(PROG, a, "needs a value");
        i++;
        /* clang-format off */
        if (strcmp(a, "--data") == 0) data = v;
        else if (strcmp(a, "--train") == 0) train_dir = v;
        else if (strcmp(a, "--val") == 0) val_dir = v;
        else if (strcmp(a, "--test") == 0) test_dir = v;
        else if (strcmp(a, "--size") == 0) size = cli_long(PROG, a, v, 94, 16384), g.size = 1;
        else if (strcmp(a, "--epochs") == 0) epochs = cli_long(PROG, a, v, 1, 100000), g.epochs = 1;
        else if (strcmp(a, "--batch") == 0) batch = cli_long(PROG, a, v, 1, 4096), g.batch = 1;
        else if (strcmp(a, "--lr") == 0) lr = cli_double(PROG, a, v, 1e-9, 10.0), g.lr = 1;
        else if (strcmp(a, "--seed") == 0) seed = cli_long(PROG, a, v, 0, 1L << 31), g.seed = 1;
        else if (strcmp(a, "--threads") == 0) threads = cli_long(PROG, a, v, 0, 256), g.threads = 1;
        else if (strcmp(a, "--patience") == 0) patience = cli_long(PROG, a, v, 0, 100000), g.patience = 1;
        else if (strcmp(a, "--out") == 0) out = v;
        else if (strcmp(a, "--best") == 0) best = v;
        else if (strcmp(a, "--checkpoint") == 0) checkpoint = v;
        else if (strcmp(a, "--resume") == 0) resume = v;
        else if (strcmp(a, "--history") == 0) history_csv = v;
        else if (strcmp(a, "--report") == 0) report_path = v;
        else if (strcmp(a, "--report-html") == 0) html_path = v;
        else if (strcmp(a, "--threshold") == 0) threshold_arg = v, g.threshold = 1;
        else if (strcmp(a, "--class-names") == 0) class_names = v, g.class_names = 1;
        else if (strcmp(a, "--calibrate") == 0) calibrate_arg = v, g.calibrate = 1;
        else if (strcmp(a, "--weight-decay") == 0) weight_decay = cli_double(PROG, a, v, 0.0, 10.0), g.weight_decay = 1;
        else if (strcmp(a, "--label-smoothing") == 0) label_smoothing = cli_double(PROG, a, v, 0.0, 1.0), g.label_smoothing = 1;
        else if (strcmp(a, "--recipe") == 0) recipe_name = v;
        else if (strcmp(a, "--seeds") == 0) seeds = cli_long(PROG, a, v, 1, 1000);
        else if (strcmp(a, "--runs-dir") == 0) runs_dir = v;
        else if (strcmp(a, "--val-split") == 0) val_split = cli_double(PROG, a, v, 1e-6, 1.0 - 1e-6), g.val_split = 1;
        else if (strcmp(a, "--contrast") == 0 || strcmp(a, "--gamma") == 0) {
            float *range = intensity_flags + (a[2] == 'g' ? 2 : 0);
            *(a[2] == 'g' ? &g.gamma : &g.contrast) = 1;
            if (strcmp(v, "off") == 0)
                range[0] = range[1] = 0.0f;
            else if (parse_range(a, v, 1000.0, range))
                return 2;
            else
                g.intensity = 1;
        }
        else if (strcmp(a, "--crop") == 0) {
            g.crop = 1;
            if (strcmp(v, "off") == 0)
                intensity_flags[4] = 0.0f;
            else
                intensity_flags[4] = (float)cli_double(PROG, a, v, 1e-6, 1.0 - 1e-6), g.intensity = 1;
        }
        else if (strcmp(a, "--split-group") == 0) {
            if (strcmp(v, "patient") != 0 && strcmp(v, "none") != 0)
                return cli_bad_option(PROG, a, "wants patient or none");
            split_patient = strcmp(v, "patient") == 0, g.split_group = 1;
        }
        else if (strcmp(a, "--model") == 0) model_arch = v, g.model = 1;
        else if (strcmp(a, "--warmup-epochs") == 0) warmup_epochs = cli_long(PROG, a, v, 0, 100000), g.warmup_epochs = 1;
        else if (strcmp(a, "--lr-schedule") == 0) {
            if (strcmp(v, "cosine") != 0 && strcmp(v, "constant") != 0)
                return cli_bad_option(PROG, a, "wants constant or cosine");
            cosine = strcmp(v, "cosine") == 0, g.lr_schedule = 1;
        }
        /* clang-format on */
    }
    if (!(recipe = train_recipe_find(recipe_name)))
        return cli_bad_option(PROG, "--recipe", "wants article or best");
    if (!train_model_known(model_arch))
        return cli_bad_option(PROG, "--model", "wants article or compact");
    if (g.no_augment && g.augment && augment != 0)
        return cli_bad_option(PROG, "--no-augment", "contradicts --augment");
    if (g.intensity && (g.no_augment || (g.augment && augment == 0)))
        return cli_bad_option(PROG, "--contrast/--gamma/--crop", "add to an augmentation set, not to none");
    /* the recipe's value for every setting the command line left out */
    /* clang-format off */
    if (!g.size) size = recipe->size;
    if (!g.epochs) epochs = recipe->epochs;
    if (!g.batch) batch = recipe->batch;
    if (!g.lr) lr = recipe->lr;
    if (!g.patience) patience = recipe->patience;
    if (!g.weight_decay) weight_decay = recipe->weight_decay;
    if (!g.label_smoothing) label_smoothing = recipe->label_smoothing;
    if (!g.lr_schedule) cosine = recipe->cosine;
    if (!g.warmup_epochs) /* a shorter run than the recipe's keeps at least one epoch after the warm-up */
        warmup_epochs = recipe->warmup_epochs < epochs ? recipe->warmup_epochs : epochs - 1;
    if (!g.threshold) threshold_arg = recipe->threshold;
    if (!g.calibrate) calibrate_arg = recipe->calibrate ? "temperature" : "none";
    if (!g.model) model_arch = recipe->model;
    if (!g.augment && !g.no_augment) augment = augment_index(recipe->augment);
    /* clang-format on */
    /* the recipe's contrast, gamma and crop belong to its augmentation set:
     * --augment or --no-augment replaces both */
    if (!g.augment && !g.no_augment) {
        if (!g.contrast)
            memcpy(intensity_flags, recipe->intensity, 2 * sizeof intensity_flags[0]);
        if (!g.gamma)
            memcpy(intensity_flags + 2, recipe->intensity + 2, 2 * sizeof intensity_flags[0]);
        if (!g.crop)
            intensity_flags[4] = recipe->intensity[4];
    }
    if (strncmp(threshold_arg, "sensitivity:", 12) == 0)
        cli_double(PROG, "--threshold sensitivity:", threshold_arg + 12, 1e-6, 1.0);
    else if (strcmp(threshold_arg, "youden") != 0)
        threshold = (float)cli_double(PROG, "--threshold", threshold_arg, 1e-6, 1.0 - 1e-6);
    if (strcmp(calibrate_arg, "none") != 0 && strcmp(calibrate_arg, "temperature") != 0)
        return cli_bad_option(PROG, "--calibrate", "wants 'none' or 'temperature'");
    if (class_names && (strlen(class_names) >= sizeof names_buf || !strchr(class_names, ','))) {
        fprintf(stderr, PROG ": --class-names wants two names separated by a comma, e.g. NORMAL,PNEUMONIA\n");
        return 2;
    }
    if (data) {
        snprintf(train_buf, sizeof train_buf, "%s/train", data);
        snprintf(val_buf, sizeof val_buf, "%s/val", data);
        train_dir = train_dir ? train_dir : train_buf;
        val_dir = val_dir ? val_dir : val_buf;
    }
    if (val_split > 0.0 && val_dir && !data) {
        fprintf(stderr, PROG ": --val-split carves the validation set out of --train; leave out --val\n");
        return 2;
    }
    if (g.split_group && val_split <= 0.0)
        return cli_bad_option(PROG, "--split-group", "needs --val-split");
    if (val_split > 0.0)
        val_dir = NULL;
    if (!train_dir || (!val_dir && val_split <= 0.0))
        return usage(stderr);
    if (seeds > 1) {
        for (int i = 1; i < argc; i++)
            if (train_seeds_sets_flag(argv[i])) {
                fprintf(stderr, PROG ": %s cannot be used with --seeds: each seed writes into %s/seed-K/\n",
                        argv[i], runs_dir);
                return 2;
            }
    }
    if (!html_path) {
        cli_html_path_next_to(report_path, html_buf, sizeof html_buf);
        html_path = html_buf;
    }
    /* hours of training must not end in "cannot write": check every output now */
    if (seeds == 1 &&
        (cli_check_output(PROG, "--out", out) || (best && cli_check_output(PROG, "--best", best)) ||
         (checkpoint && cli_check_output(PROG, "--checkpoint", checkpoint)) ||
         cli_check_output(PROG, "--history", history_csv) ||
         cli_check_output(PROG, "--report", report_path) ||
         cli_check_output(PROG, "--report-html", html_path)))
        return 1;
    /* the settings this run records (a resumed one: those of its checkpoint) */
    t = (train_settings){.size = size,
                         .epochs = epochs,
                         .batch = batch,
                         .seed = seed,
                         .threads = threads,
                         .patience = patience,
                         .lr = lr,
                         .augment = augment,
                         .weight_decay = weight_decay,
                         .label_smoothing = label_smoothing,
                         .cosine = cosine,
                         .warmup_epochs = warmup_epochs,
                         .calibrate = calibrate_arg[0] == 't'};
    snprintf(t.model, sizeof t.model, "%s", model_arch);
    t.val_split = val_split;
    t.split_patient = split_patient;
    memcpy(t.intensity, intensity_flags, sizeof t.intensity);
    if (strcmp(threshold_arg, "youden") == 0 || strncmp(threshold_arg, "sensitivity:", 12) == 0)
        snprintf(t.threshold, sizeof t.threshold, "%.31s", threshold_arg);
    else /* the shortest text that reads back as the same float: "0.7", not "0.699999988" */
        for (int digits = 1; digits <= 9; digits++) {
            snprintf(t.threshold, sizeof t.threshold, "%.*g", digits, (double)threshold);
            if (strtof(t.threshold, NULL) == threshold)
                break;
        }
    snprintf(t.class_names, sizeof t.class_names, "%s", class_names ? class_names : "");
    if (seeds > 1) {
        const seeds_job job = {.argc = argc,
                               .argv = argv,
                               .first_seed = seed,
                               .count = seeds,
                               .runs_dir = runs_dir,
                               .train_dir = train_dir,
                               .val_dir = val_dir,
                               .val_split = val_split,
                               .split_patient = split_patient,
                               .test_dir = test_dir,
                               .size = (int32_t)size,
                               .batch = (int32_t)batch,
                               .threads = (int32_t)threads,
                               .quiet = quiet,
                               .settings = settings_for_seed,
                               .user = &t};
        return train_seeds_run(&job);
    }
    if (resume) {
        /* the run continues with the checkpoint's settings and optimizer */
        int32_t ih = 0;
        int conflict_rc = 0;
        if (pneumo_model_load(resume, &m, NULL) != PNEUMO_OK) {
            fprintf(stderr, PROG ": %s\n", pneumo_last_error());
            return 1;
        }
        pneumo_model_input_shape(m, &ih, NULL, NULL);
        if (pneumo_model_training_settings(m, settings_text, sizeof settings_text, NULL) != PNEUMO_OK) {
            fprintf(stderr, PROG ": %s\n", pneumo_last_error());
            pneumo_model_destroy(m);
            return 1;
        }
        pneumo_model_destroy(m);
        m = NULL;
        if (settings_text[0]) {
            const train_settings flags = t;
            /* the knobs a checkpoint records only when used: absent means off */
            t.weight_decay = t.label_smoothing = 0.0;
            t.cosine = 0;
            t.warmup_epochs = 0;
            snprintf(t.model, sizeof t.model, "article");
            t.val_split = 0.0;
            t.split_patient = 1;
            memset(t.intensity, 0, sizeof t.intensity);
            if ((conflict_rc = take_settings(resume, settings_text, &g, &t)) != 0)
                return conflict_rc;
            if (g.weight_decay && flags.weight_decay != t.weight_decay)
                return conflict(resume, "--weight-decay", "(given)", "weight_decay", "(recorded otherwise)");
            if (g.label_smoothing && flags.label_smoothing != t.label_smoothing)
                return conflict(resume, "--label-smoothing", "(given)", "label_smoothing",
                                "(recorded otherwise)");
            if ((g.lr_schedule && flags.cosine != t.cosine) ||
                (g.warmup_epochs && flags.warmup_epochs != t.warmup_epochs))
                return conflict(resume, "--lr-schedule/--warmup-epochs", "(given)", "lr_schedule",
                                t.cosine ? "cosine" : "constant");
            if (g.model && strcmp(flags.model, t.model) != 0)
                return conflict(resume, "--model", flags.model, "model", t.model);
            if ((g.val_split && flags.val_split != t.val_split) ||
                (g.split_group && flags.split_patient != t.split_patient))
                return conflict(resume, "--val-split/--split-group", "(given)", "val_split",
                                t.val_split > 0.0 ? "(recorded otherwise)" : "(none: --val)");
            val_split = t.val_split, split_patient = t.split_patient;
            if (g.intensity && memcmp(flags.intensity, t.intensity, sizeof t.intensity) != 0)
                return conflict(resume, "--contrast/--gamma/--crop", "(given)", "contrast/gamma/crop",
                                "(recorded otherwise)");
            memcpy(intensity_flags, t.intensity, sizeof intensity_flags);
            weight_decay = t.weight_decay, label_smoothing = t.label_smoothing;
            cosine = t.cosine, warmup_epochs = t.warmup_epochs;
            if (t.size != ih) {
                fprintf(stderr, PROG ": %s records size=%ld but its model takes %d x %d images\n", resume,
                        t.size, ih, ih);
                return 1;
            }
            size = t.size, epochs = t.epochs, batch = t.batch, seed = t.seed, threads = t.threads;
            patience = t.patience, lr = t.lr, augment = t.augment;
            threshold_arg = t.threshold;
            if (strncmp(threshold_arg, "sensitivity:", 12) == 0)
                cli_double(PROG, "the checkpoint's threshold sensitivity:", threshold_arg + 12, 1e-6, 1.0);
            else if (strcmp(threshold_arg, "youden") != 0)
                threshold = (float)cli_double(PROG, "the checkpoint's threshold", threshold_arg, 1e-6,
                                              1.0 - 1e-6);
            class_names = t.class_names[0] ? t.class_names : NULL;
        }
        /* a checkpoint from before the settings were recorded: its size, the flags for the rest */
        if (g.size && size != ih) {
            fprintf(stderr, PROG ": --size %ld conflicts with the checkpoint %s (size %d)\n", size, resume,
                    ih);
            return 2;
        }
        if (!settings_text[0] && g.lr) {
            fprintf(stderr,
                    PROG ": --lr conflicts with --resume: the run continues with the "
                         "learning rate and optimizer state of %s\n",
                    resume);
            return 2;
        }
        size = ih;
    }

    if (!resume) {
        record_settings(&t, settings_text, sizeof settings_text);
        if (train_model_create(t.model, (int32_t)size, (uint64_t)seed, &m) != PNEUMO_OK ||
            pneumo_model_set_training_settings(m, settings_text) != PNEUMO_OK) {
            fprintf(stderr, PROG ": %s\n", pneumo_last_error());
            pneumo_model_destroy(m);
            return 1;
        }
    }
    if (weight_decay > 0.0)
        snprintf(optimizer_text, sizeof optimizer_text, "AdamW (weight decay %g)", weight_decay);
    else
        snprintf(optimizer_text, sizeof optimizer_text, "Adam");
    if (cosine)
        snprintf(schedule_text, sizeof schedule_text, ", cosine decay after %ld warm-up epochs",
                 warmup_epochs);
    else
        schedule_text[0] = '\0';
    if (label_smoothing > 0.0)
        snprintf(schedule_text + strlen(schedule_text), sizeof schedule_text - strlen(schedule_text),
                 ", label smoothing %g", label_smoothing);
    if (!quiet && m)
        pneumo_model_summary(m, cli_write_stream, stdout);
    if (val_split > 0.0) {
        /* validation carved from the training folder, no patient on both sides */
        pneumo_dataset_options to, vo;
        pneumo_augment_options ta, va;
        ds_options(&to, &ta, (int32_t)size, augment, (uint64_t)seed, (int32_t)threads, 1);
        ds_options(&vo, &va, (int32_t)size, 0, (uint64_t)seed, (int32_t)threads, 1);
        if (train_open_split(train_dir, val_split, split_patient, &to, &vo, &train, &val))
            goto done;
        if (!quiet)
            printf("validation: %.3g of %s's %s carved out (split seed 0)\n", val_split, train_dir,
                   split_patient ? "patients of each class" : "images of each class");
        if ((!quiet && cli_print_dataset(stdout, PROG, train, 1)) ||
            (!quiet && cli_print_dataset(stdout, PROG, val, 0)))
            goto done;
    } else if (!(train = open_ds(train_dir, (int32_t)size, augment, (uint64_t)seed, (int32_t)threads, 1)) ||
               (!quiet && cli_print_dataset(stdout, PROG, train, 1)) ||
               !(val = open_ds(val_dir, (int32_t)size, 0, (uint64_t)seed, (int32_t)threads, 1)) ||
               (!quiet && cli_print_dataset(stdout, PROG, val, 0)))
        goto done;
    if (test_dir && (!(test = open_ds(test_dir, (int32_t)size, 0, (uint64_t)seed, (int32_t)threads, 0)) ||
                     (!quiet && cli_print_dataset(stdout, PROG, test, 0))))
        goto done;

    pneumo_fit_default_options(&fo);
    fo.epochs = (int32_t)epochs;
    fo.batch_size = (int32_t)batch;
    fo.class_weighting = PNEUMO_CLASS_WEIGHT_BALANCED;
    fo.label_smoothing = (float)label_smoothing;
    fo.lr_schedule = cosine ? PNEUMO_LR_COSINE : PNEUMO_LR_CONSTANT;
    fo.warmup_epochs = (int32_t)warmup_epochs;
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
    fo.best_model_path = best;
    fo.checkpoint_path = checkpoint;
    fo.threads = (int32_t)threads; /* also the model's, so a resumed run matches */
    fo.progress = quiet ? NULL : cli_write_stream;
    fo.progress_user = stdout;
    fo.progress_bar = !quiet && isatty(STDOUT_FILENO);
    fo.progress_timing = 1; /* a line per epoch saying where its time went */
    fo.callback = stop_when_interrupted;
    signal(SIGINT, on_sigint);
    if (resume) {
        if (!quiet)
            printf("resuming the run saved in %s\n", resume);
        st = pneumo_model_fit_resume(resume, train, val, &fo, &m, &opt, &h);
        if (!m) {
            fprintf(stderr, PROG ": %s\n", pneumo_last_error());
            goto done;
        }
    } else {
        pneumo_adam_default_params(&ap);
        ap.learning_rate = (float)lr;
        ap.weight_decay = (float)weight_decay;
        if (pneumo_optimizer_create_adam(&ap, &opt) != PNEUMO_OK) {
            fprintf(stderr, PROG ": %s\n", pneumo_last_error());
            goto done;
        }
        st = pneumo_model_fit(m, opt, train, val, &fo, &h);
    }
    signal(SIGINT, SIG_DFL);
    if (st != PNEUMO_OK) {
        /* the previous run's outputs stay: only a finished run replaces them */
        if (st == PNEUMO_ERR_CANCELLED && checkpoint && access(checkpoint, F_OK) == 0)
            print_resume_command(argc, argv, checkpoint);
        else if (st == PNEUMO_ERR_CANCELLED)
            fprintf(stderr, PROG ": interrupted before the first epoch finished; nothing saved\n");
        else
            fprintf(stderr, PROG ": training stopped: %s\n", pneumo_last_error());
        if (st != PNEUMO_ERR_CANCELLED && checkpoint && access(checkpoint, F_OK) == 0)
            fprintf(stderr,
                    PROG ": %s, %s and the reports were left as they were; %s holds "
                         "the last finished epoch (--resume %s)\n",
                    out, history_csv, checkpoint, checkpoint);
        goto done;
    }
    if (set_model_card(m, val, (int32_t)batch, threshold_arg, threshold, t.calibrate, class_names, names_buf,
                       quiet) != 0)
        goto done;
    if (h && pneumo_history_save_csv(h, history_csv) != PNEUMO_OK)
        fprintf(stderr, PROG ": %s\n", pneumo_last_error());
    if (pneumo_model_save(m, opt, out) != PNEUMO_OK) {
        fprintf(stderr, PROG ": %s\n", pneumo_last_error());
        goto done;
    }
    if (!quiet)
        printf("saved %s and %s\n", out, history_csv);

    rep = cli_fopen_atomic(PROG, report_path, rep_tmp, sizeof rep_tmp);
    if (!rep)
        goto done;
    fprintf(rep,
            "libpneumo %s training report\n\nsettings: size %ld, epochs %ld (ran %d%s), batch %ld, "
            "%s lr %g%s, seed %ld, augmentation %s, balanced class weights, model %s\n\n",
            pneumo_version(), size, epochs, pneumo_history_size(h),
            pneumo_history_stopped_early(h) ? ", stopped early" : "", batch, optimizer_text, lr,
            schedule_text, seed, augment_text(augment, aug_text, sizeof aug_text), t.model);
    pneumo_model_summary(m, cli_write_stream, rep);
    fprintf(rep, "operating threshold %.4f (%s, chosen on the validation set)\n",
            (double)pneumo_model_threshold(m), strcmp(threshold_arg, "youden") == 0 ? "Youden's J" : "given");
    fprintf(rep, "\nepoch  loss    accuracy  val_loss  val_accuracy  lr          seconds\n");
    for (int32_t e = 0; e < pneumo_history_size(h); e++) {
        pneumo_epoch_record r;
        pneumo_history_get(h, e, &r);
        fprintf(rep, "%5d  %.4f  %.4f    %.4f    %.4f        %-10.3g  %.0f\n", r.epoch + 1, r.loss,
                r.accuracy, r.val_loss, r.val_accuracy, r.lr, r.seconds);
    }
    fprintf(rep, "\nwhere the time went (seconds; loader figures are CPU seconds of its threads)\n"
                 "epoch  total    train    data wait  val      val wait  callbacks  other    loader CPU  "
                 "val loader CPU\n");
    for (int32_t e = 0; e < pneumo_history_size(h); e++) {
        pneumo_epoch_timing tm = {.size = sizeof tm};
        pneumo_history_timing(h, e, &tm);
        fprintf(rep, "%5d  %-7.2f  %-7.2f  %-9.2f  %-7.2f  %-8.2f  %-9.2f  %-7.2f  %-10.2f  %.2f\n",
                tm.epoch + 1, tm.seconds, tm.train_seconds, tm.data_wait_seconds, tm.val_seconds,
                tm.val_data_wait_seconds, tm.callback_seconds, tm.other_seconds, tm.loader_cpu_seconds,
                tm.val_loader_cpu_seconds);
    }
    val_probs = malloc((size_t)pneumo_dataset_size(val) * sizeof *val_probs);
    val_labels = malloc((size_t)pneumo_dataset_size(val) * sizeof *val_labels);
    if (test) {
        test_probs = malloc((size_t)pneumo_dataset_size(test) * sizeof *test_probs);
        test_labels = malloc((size_t)pneumo_dataset_size(test) * sizeof *test_labels);
    }
    if (!val_probs || !val_labels || (test && (!test_probs || !test_labels))) {
        fprintf(stderr, PROG ": out of memory for the predictions\n");
        cli_fclose_atomic(PROG, rep, rep_tmp, report_path, 0);
        goto done;
    }
    if (pneumo_model_evaluate(m, val, (int32_t)batch, pneumo_model_threshold(m), &ev_val, val_probs,
                              val_labels, (size_t)pneumo_dataset_size(val)) == PNEUMO_OK) {
        fprintf(rep, "\nvalidation (%s):\n", val_dir);
        cli_print_evaluation(rep, &ev_val, val);
        have_val_ev = 1;
    }
    if (test) {
        if (pneumo_model_evaluate(m, test, (int32_t)batch, pneumo_model_threshold(m), &ev_test, test_probs,
                                  test_labels, (size_t)pneumo_dataset_size(test)) != PNEUMO_OK) {
            fprintf(stderr, PROG ": test evaluation: %s\n", pneumo_last_error());
            cli_fclose_atomic(PROG, rep, rep_tmp, report_path, 0);
            goto done;
        }
        fprintf(rep, "\ntest (%s):\n", test_dir);
        cli_print_evaluation(rep, &ev_test, test);
        if (!quiet) {
            printf("\nTest set (%s):\n", test_dir);
            cli_print_evaluation(stdout, &ev_test, test);
        }
    }
    if (cli_fclose_atomic(PROG, rep, rep_tmp, report_path, 1))
        goto done;
    if (!quiet)
        printf("report: %s\n", report_path);

    /* the HTML report */
    set = (run_settings){train_dir, val_dir,        test_dir,     out,  history_csv, report_path, resume,
                         size,      epochs,         batch,        seed, threads,     patience,    lr,
                         augment,   optimizer_text, schedule_text};
    if (write_html(html_path, m, h, train, val, test, have_val_ev ? &ev_val : NULL, val_probs, val_labels,
                   test ? &ev_test : NULL, test_probs, test_labels, &set) != 0)
        goto done;
    if (!quiet)
        printf("html report: %s\n", html_path);
    rc = 0;
done:
    free(val_probs);
    free(val_labels);
    free(test_probs);
    free(test_labels);
    pneumo_history_destroy(h);
    pneumo_optimizer_destroy(opt);
    pneumo_model_destroy(m);
    pneumo_dataset_destroy(train);
    pneumo_dataset_destroy(val);
    pneumo_dataset_destroy(test);
    return rc;
}
