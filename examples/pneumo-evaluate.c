/* pneumo-evaluate: the article's test-set evaluation.
 *
 *   pneumo-evaluate --model M DIR [--batch N] [--threshold T] [--report FILE] [--html FILE]
 *
 * Prints loss, accuracy, the confusion matrix (rows actual, columns predicted),
 * sklearn's classification report and the ROC AUC for DIR (class sub-folders).
 * --html writes a self-contained HTML report: confusion heatmap, classification
 * report, ROC curve, 9 images titled with their probability, the model summary. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <pneumo/pneumo.h>

#include "cli_common.h"

#define PROG "pneumo-evaluate"

static int usage(FILE *f)
{
    fprintf(f, "usage: " PROG " --model MODEL [--model MODEL...] DIR [--tta none|flip] [--batch N]\n"
               "       [--threshold T] [--threads N] [--report FILE] [--html FILE]\n"
               "  --model FILE      model saved by pneumo-train (required); given several times, the\n"
               "                    ensemble's mean probability is evaluated, at the first model's\n"
               "                    threshold (default: one model)\n"
               "  --tta MODE        'flip': average each image and its left-right mirror; 'none'\n"
               "                    (default)\n"
               "  DIR               folder with one sub-folder per class (required)\n"
               "  --batch N         (default 16)\n"
               "  --threshold T     probability above which a sample is class 1 (default: the\n"
               "                    model's operating threshold, 0.5 unless pneumo-train chose\n"
               "                    another)\n"
               "  --threads N       (default: online cores)\n"
               "  --report FILE     also write the text report here (default: none)\n"
               "  --html FILE       also write an HTML report here (default: none)\n"
               "  --version         print the version and exit\n"
               "  --help            print this help and exit\n");
    return f == stdout ? 0 : 2;
}

/* The HTML report of the evaluation. Returns 0, or 1 after printing an error. */
static int write_html(const char *path, const char *model_path, const char *dir, double threshold,
                      const pneumo_model *m, pneumo_dataset *ds, const pneumo_evaluation *ev,
                      const float *probs, const float *labels, int32_t w, int32_t h)
{
    pneumo_report *r = NULL;
    char n0[256], n1[256];
    int rc = 1;
    if (pneumo_report_create("Chest X-ray pneumonia classifier: evaluation report", &r) != PNEUMO_OK) {
        fprintf(stderr, PROG ": %s\n", pneumo_last_error());
        return 1;
    }
    if (cli_report_setting(r, PROG, "model", "%s (%lld parameters)", model_path,
                           (long long)pneumo_model_num_params(m)) ||
        cli_report_setting(r, PROG, "data", "%s (%lld images)", dir, (long long)pneumo_dataset_size(ds)) ||
        cli_report_setting(r, PROG, "classes", "0: %s, 1: %s", cli_class_name(ds, 0, n0, sizeof n0),
                           cli_class_name(ds, 1, n1, sizeof n1)) ||
        cli_report_setting(r, PROG, "images", "%d x %d grayscale, nearest resize, pixels / 255", w, h) ||
        cli_report_setting(r, PROG, "threshold", "probability > %g: class 1 (%s)", threshold, n1) ||
        cli_report_setting(r, PROG, "temperature", "%g (probabilities are sigmoid(logit / T))",
                           (double)pneumo_model_temperature(m)) ||
        cli_report_setting(r, PROG, "libpneumo", "%s, kernels %s", pneumo_version(), pneumo_kernel_isa()))
        goto out;
    if (pneumo_report_set_model(r, m) != PNEUMO_OK) {
        fprintf(stderr, PROG ": %s\n", pneumo_last_error());
        goto out;
    }
    if (cli_report_evaluation(r, PROG, dir, ev, probs, labels, ds))
        goto out;
    pneumo_report_set_images_title(r, "Images: predicted probability and actual class");
    if (cli_report_samples(r, PROG, ds, w, h, probs, 9))
        goto out;
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
    const char *model_paths[PNEUMO_ENSEMBLE_MAX], *model_path = NULL, *dir = NULL, *report = NULL,
                                                  *html = NULL;
    pneumo_model *ms[PNEUMO_ENSEMBLE_MAX];
    int32_t nmodels = 0, loaded = 0;
    pneumo_ensemble_options eo;
    float *probs = NULL, *labels = NULL;
    long batch = 16, threads = 0;
    double threshold = -1.0; /* the model's unless --threshold */
    int32_t h, w;
    pneumo_preprocessing pre;
    pneumo_model *m = NULL;
    pneumo_dataset *ds = NULL;
    pneumo_dataset_options o;
    pneumo_augment_options aug;
    pneumo_evaluation ev;
    int rc = 1;
    pneumo_ensemble_default_options(&eo);
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (strcmp(a, "--help") == 0)
            return usage(stdout);
        if (strcmp(a, "--version") == 0)
            return cli_version(PROG);
        if (a[0] != '-') {
            if (dir)
                return cli_bad_option(PROG, a, "a second folder (only one is evaluated)");
            dir = a;
            continue;
        }
        if (strcmp(a, "--model") && strcmp(a, "--batch") && strcmp(a, "--threads") &&
            strcmp(a, "--threshold") && strcmp(a, "--report") && strcmp(a, "--html") && strcmp(a, "--tta"))
            return cli_bad_option(PROG, a, "unknown option");
        if (!v)
            return cli_bad_option(PROG, a, "needs a value");
        i++;
        if (strcmp(a, "--model") == 0) {
            if (nmodels == PNEUMO_ENSEMBLE_MAX)
                return cli_bad_option(PROG, a, "too many models");
            model_paths[nmodels++] = v;
        } else if (strcmp(a, "--tta") == 0) {
            if (strcmp(v, "none") != 0 && strcmp(v, "flip") != 0)
                return cli_bad_option(PROG, a, "wants 'none' or 'flip'");
            eo.tta = v[0] == 'f' ? PNEUMO_TTA_FLIP : PNEUMO_TTA_NONE;
        } else if (strcmp(a, "--batch") == 0)
            batch = cli_long(PROG, a, v, 1, 4096);
        else if (strcmp(a, "--threads") == 0)
            threads = cli_long(PROG, a, v, 0, 256);
        else if (strcmp(a, "--threshold") == 0)
            threshold = cli_double(PROG, a, v, 0.0, 1.0);
        else if (strcmp(a, "--report") == 0)
            report = v;
        else if (strcmp(a, "--html") == 0)
            html = v;
    }
    if (!nmodels || !dir)
        return usage(stderr);
    model_path = model_paths[0];
    for (; loaded < nmodels; loaded++)
        if (pneumo_model_load(model_paths[loaded], &ms[loaded], NULL) != PNEUMO_OK) {
            fprintf(stderr, PROG ": %s\n", pneumo_last_error());
            goto done;
        }
    m = ms[0]; /* preprocessing and threshold */
    pneumo_model_input_shape(m, &h, &w, NULL);
    if (threshold < 0.0)
        threshold = pneumo_model_threshold(m);
    pneumo_preprocessing_default(&pre);
    pneumo_model_preprocessing(m, &pre);
    pneumo_dataset_default_options(&o);
    o.width = w;
    o.height = h;
    o.resample = pre.resample;
    pneumo_augment_default_options(&aug);
    aug.rescale = pre.rescale;
    o.augment_options = &aug;
    o.shuffle = 0;
    o.threads = (int32_t)threads;
    if (pneumo_dataset_open_dir(dir, &o, &ds) != PNEUMO_OK) {
        fprintf(stderr, PROG ": %s\n", pneumo_last_error());
        goto done;
    }
    if (cli_print_dataset(stdout, PROG, ds, 0))
        goto done;
    if (nmodels > 1 || eo.tta == PNEUMO_TTA_FLIP)
        printf("ensemble: mean probability of %d model%s%s\n", (int)nmodels, nmodels > 1 ? "s" : "",
               eo.tta == PNEUMO_TTA_FLIP ? ", each image and its mirror" : "");
    if (html) {
        probs = malloc((size_t)pneumo_dataset_size(ds) * sizeof *probs);
        labels = malloc((size_t)pneumo_dataset_size(ds) * sizeof *labels);
        if (!probs || !labels) {
            fprintf(stderr, PROG ": out of memory for the predictions\n");
            goto done;
        }
    }
    if ((nmodels == 1 && eo.tta == PNEUMO_TTA_NONE
             ? pneumo_model_evaluate(m, ds, (int32_t)batch, (float)threshold, &ev, probs, labels,
                                     probs ? (size_t)pneumo_dataset_size(ds) : 0)
             : pneumo_ensemble_evaluate(ms, nmodels, &eo, ds, (int32_t)batch, (float)threshold, &ev, probs,
                                        labels, probs ? (size_t)pneumo_dataset_size(ds) : 0)) != PNEUMO_OK) {
        fprintf(stderr, PROG ": %s\n", pneumo_last_error());
        goto done;
    }
    cli_print_evaluation(stdout, &ev, ds);
    if (report) {
        FILE *f = fopen(report, "w");
        if (!f) {
            fprintf(stderr, PROG ": cannot write %s\n", report);
            goto done;
        }
        fprintf(f, "model: %s", model_path);
        for (int32_t k = 1; k < nmodels; k++)
            fprintf(f, ", %s", model_paths[k]);
        fprintf(f, "\ntta: %s\ndata: %s\nthreshold: %g\n\n", eo.tta == PNEUMO_TTA_FLIP ? "flip" : "none", dir,
                threshold);
        cli_print_evaluation(f, &ev, ds);
        fclose(f);
    }
    if (html && write_html(html, model_path, dir, threshold, m, ds, &ev, probs, labels, w, h))
        goto done;
    rc = 0;
done:
    free(probs);
    free(labels);
    pneumo_dataset_destroy(ds);
    for (int32_t k = 0; k < loaded; k++)
        pneumo_model_destroy(ms[k]);
    return rc;
}
