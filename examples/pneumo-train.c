/* pneumo-train: the article's training run.
 *
 *   pneumo-train --data DIR [options]     (DIR/train and DIR/val, class sub-folders)
 *   pneumo-train --train DIR --val DIR [options]
 *
 * Defaults reproduce the article: 500x500 grayscale, batch 16, 25 epochs, Adam 1e-3,
 * shear 0.2 / zoom 0.2 / horizontal flip augmentation, balanced class weights,
 * EarlyStopping(val_loss, patience 3), ReduceLROnPlateau(val_loss, factor 0.3,
 * patience 2, min_lr 1e-6). Writes the model, history.csv and a text report. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <pneumo/pneumo.h>

#include "cli_common.h"

#define PROG "pneumo-train"

static int usage(FILE *f)
{
    fprintf(f,
            "usage: " PROG " (--data DIR | --train DIR --val DIR) [options]\n"
            "  --test DIR        evaluate on this folder at the end\n"
            "  --size N          image side (default 500)\n"
            "  --epochs N        (default 25)\n"
            "  --batch N         (default 16)\n"
            "  --lr X            Adam learning rate (default 0.001)\n"
            "  --seed N          weights, shuffling and augmentation (default 1)\n"
            "  --threads N       data pipeline threads (default: online cores)\n"
            "  --no-augment      train without augmentation\n"
            "  --patience N      EarlyStopping patience (default 3; 0 disables)\n"
            "  --out FILE        model file (default model.safetensors)\n"
            "  --best FILE       also save the best model (by val_loss) here\n"
            "  --checkpoint FILE save the run after every epoch (default checkpoint.safetensors)\n"
            "  --resume FILE     continue the run saved in this checkpoint\n"
            "  --history FILE    history CSV (default history.csv)\n"
            "  --report FILE     text report (default report.txt)\n"
            "  --quiet           no progress output\n");
    return f == stdout ? 0 : 2;
}

static pneumo_dataset *open_ds(const char *dir, int32_t size, int augment, uint64_t seed,
                               int32_t threads, int shuffle)
{
    pneumo_dataset_options o;
    pneumo_dataset *ds = NULL;
    pneumo_dataset_default_options(&o);
    o.width = o.height = size;
    o.seed = seed;
    o.threads = threads;
    o.shuffle = shuffle;
    o.augment = augment;
    if (augment)
        pneumo_augment_article_options(&o.augment_options);
    if (pneumo_dataset_open_dir(dir, &o, &ds) != PNEUMO_OK) {
        fprintf(stderr, PROG ": %s\n", pneumo_last_error());
        return NULL;
    }
    return ds;
}

int main(int argc, char **argv)
{
    const char *data = NULL, *train_dir = NULL, *val_dir = NULL, *test_dir = NULL;
    const char *out = "model.safetensors", *best = NULL, *history_csv = "history.csv";
    const char *report_path = "report.txt", *checkpoint = "checkpoint.safetensors", *resume = NULL;
    long size = 500, epochs = 25, batch = 16, seed = 1, threads = 0, patience = 3;
    double lr = 1e-3;
    int augment = 1, quiet = 0, rc = 1;
    char train_buf[4096], val_buf[4096];
    pneumo_dataset *train = NULL, *val = NULL, *test = NULL;
    pneumo_model *m = NULL;
    pneumo_optimizer *opt = NULL;
    pneumo_adam_params ap;
    pneumo_fit_options fo;
    pneumo_history *h = NULL;
    pneumo_evaluation ev_val, ev_test;
    pneumo_status st;
    FILE *rep;

    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0)
            return usage(stdout);
        if (strcmp(a, "--no-augment") == 0) {
            augment = 0;
            continue;
        }
        if (strcmp(a, "--quiet") == 0 || strcmp(a, "-q") == 0) {
            quiet = 1;
            continue;
        }
        if (!v)
            return usage(stderr);
        i++;
        if (strcmp(a, "--data") == 0) data = v;
        else if (strcmp(a, "--train") == 0) train_dir = v;
        else if (strcmp(a, "--val") == 0) val_dir = v;
        else if (strcmp(a, "--test") == 0) test_dir = v;
        else if (strcmp(a, "--size") == 0) size = cli_long(PROG, a, v, 94, 16384);
        else if (strcmp(a, "--epochs") == 0) epochs = cli_long(PROG, a, v, 1, 100000);
        else if (strcmp(a, "--batch") == 0) batch = cli_long(PROG, a, v, 1, 4096);
        else if (strcmp(a, "--lr") == 0) lr = cli_double(PROG, a, v, 1e-9, 10.0);
        else if (strcmp(a, "--seed") == 0) seed = cli_long(PROG, a, v, 0, 1L << 31);
        else if (strcmp(a, "--threads") == 0) threads = cli_long(PROG, a, v, 0, 256);
        else if (strcmp(a, "--patience") == 0) patience = cli_long(PROG, a, v, 0, 100000);
        else if (strcmp(a, "--out") == 0) out = v;
        else if (strcmp(a, "--best") == 0) best = v;
        else if (strcmp(a, "--checkpoint") == 0) checkpoint = v;
        else if (strcmp(a, "--resume") == 0) resume = v;
        else if (strcmp(a, "--history") == 0) history_csv = v;
        else if (strcmp(a, "--report") == 0) report_path = v;
        else return usage(stderr);
    }
    if (data) {
        snprintf(train_buf, sizeof train_buf, "%s/train", data);
        snprintf(val_buf, sizeof val_buf, "%s/val", data);
        train_dir = train_dir ? train_dir : train_buf;
        val_dir = val_dir ? val_dir : val_buf;
    }
    if (!train_dir || !val_dir)
        return usage(stderr);

    if (!resume && pneumo_model_create_article((int32_t)size, (uint64_t)seed, &m) != PNEUMO_OK) {
        fprintf(stderr, PROG ": %s\n", pneumo_last_error());
        return 1;
    }
    if (!quiet && m)
        pneumo_model_summary(m, stdout);
    if (!(train = open_ds(train_dir, (int32_t)size, augment, (uint64_t)seed, (int32_t)threads, 1)) ||
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
    fo.early_stopping.enabled = patience > 0;
    fo.early_stopping.patience = (int32_t)patience;
    fo.reduce_lr.enabled = 1;
    fo.reduce_lr.factor = 0.3;
    fo.reduce_lr.patience = 2;
    fo.reduce_lr.min_lr = 1e-6;
    fo.best_model_path = best;
    fo.checkpoint_path = checkpoint;
    fo.progress = quiet ? NULL : stdout;
    fo.progress_bar = !quiet && isatty(STDOUT_FILENO);
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
        if (pneumo_optimizer_create_adam(&ap, &opt) != PNEUMO_OK) {
            fprintf(stderr, PROG ": %s\n", pneumo_last_error());
            goto done;
        }
        st = pneumo_model_fit(m, opt, train, val, &fo, &h);
    }
    if (st != PNEUMO_OK)
        fprintf(stderr, PROG ": training stopped: %s\n", pneumo_last_error());
    if (h && pneumo_history_save_csv(h, history_csv) != PNEUMO_OK)
        fprintf(stderr, PROG ": %s\n", pneumo_last_error());
    if (pneumo_model_save(m, opt, out) != PNEUMO_OK) {
        fprintf(stderr, PROG ": %s\n", pneumo_last_error());
        goto done;
    }
    if (!quiet)
        printf("saved %s and %s\n", out, history_csv);
    if (st != PNEUMO_OK)
        goto done;

    rep = fopen(report_path, "w");
    if (!rep) {
        fprintf(stderr, PROG ": cannot write %s\n", report_path);
        goto done;
    }
    fprintf(rep, "libpneumo %s training report\n\nsettings: size %ld, epochs %ld (ran %d%s), batch %ld, "
                 "Adam lr %g, seed %ld, augmentation %s, balanced class weights\n\n",
            pneumo_version(), size, epochs, pneumo_history_size(h),
            pneumo_history_stopped_early(h) ? ", stopped early" : "", batch, lr, seed,
            augment ? "shear 0.2, zoom 0.2, horizontal flip" : "off");
    pneumo_model_summary(m, rep);
    fprintf(rep, "\nepoch  loss    accuracy  val_loss  val_accuracy  lr          seconds\n");
    for (int32_t e = 0; e < pneumo_history_size(h); e++) {
        pneumo_epoch_record r;
        pneumo_history_get(h, e, &r);
        fprintf(rep, "%5d  %.4f  %.4f    %.4f    %.4f        %-10.3g  %.0f\n", r.epoch + 1, r.loss,
                r.accuracy, r.val_loss, r.val_accuracy, r.lr, r.seconds);
    }
    if (pneumo_model_evaluate(m, val, (int32_t)batch, 0.5f, &ev_val, NULL, NULL) == PNEUMO_OK) {
        fprintf(rep, "\nvalidation (%s):\n", val_dir);
        cli_print_evaluation(rep, &ev_val, val);
    }
    if (test) {
        if (pneumo_model_evaluate(m, test, (int32_t)batch, 0.5f, &ev_test, NULL, NULL) != PNEUMO_OK) {
            fprintf(stderr, PROG ": test evaluation: %s\n", pneumo_last_error());
            fclose(rep);
            goto done;
        }
        fprintf(rep, "\ntest (%s):\n", test_dir);
        cli_print_evaluation(rep, &ev_test, test);
        if (!quiet) {
            printf("\nTest set (%s):\n", test_dir);
            cli_print_evaluation(stdout, &ev_test, test);
        }
    }
    fclose(rep);
    if (!quiet)
        printf("report: %s\n", report_path);
    rc = 0;
done:
    pneumo_history_destroy(h);
    pneumo_optimizer_destroy(opt);
    pneumo_model_destroy(m);
    pneumo_dataset_destroy(train);
    pneumo_dataset_destroy(val);
    pneumo_dataset_destroy(test);
    return rc;
}
