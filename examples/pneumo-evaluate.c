/* pneumo-evaluate: the article's test-set evaluation.
 *
 *   pneumo-evaluate --model M DIR [--batch N] [--threshold T] [--report FILE]
 *
 * Prints loss, accuracy, the confusion matrix (rows actual, columns predicted),
 * sklearn's classification report and the ROC AUC for DIR (class sub-folders). */
#include <stdio.h>
#include <string.h>

#include <pneumo/pneumo.h>

#include "cli_common.h"

#define PROG "pneumo-evaluate"

static int usage(FILE *f)
{
    fprintf(f, "usage: " PROG " --model MODEL DIR [--batch N] [--threshold T] [--threads N] [--report FILE]\n");
    return f == stdout ? 0 : 2;
}

int main(int argc, char **argv)
{
    const char *model_path = NULL, *dir = NULL, *report = NULL;
    long batch = 16, threads = 0;
    double threshold = 0.5;
    int32_t h, w;
    pneumo_model *m = NULL;
    pneumo_dataset *ds = NULL;
    pneumo_dataset_options o;
    pneumo_evaluation ev;
    int rc = 1;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (strcmp(a, "--help") == 0)
            return usage(stdout);
        if (a[0] != '-') {
            if (dir)
                return usage(stderr);
            dir = a;
            continue;
        }
        if (!v)
            return usage(stderr);
        i++;
        if (strcmp(a, "--model") == 0) model_path = v;
        else if (strcmp(a, "--batch") == 0) batch = cli_long(PROG, a, v, 1, 4096);
        else if (strcmp(a, "--threads") == 0) threads = cli_long(PROG, a, v, 0, 256);
        else if (strcmp(a, "--threshold") == 0) threshold = cli_double(PROG, a, v, 0.0, 1.0);
        else if (strcmp(a, "--report") == 0) report = v;
        else return usage(stderr);
    }
    if (!model_path || !dir)
        return usage(stderr);
    if (pneumo_model_load(model_path, &m, NULL) != PNEUMO_OK) {
        fprintf(stderr, PROG ": %s\n", pneumo_last_error());
        return 1;
    }
    pneumo_model_input_shape(m, &h, &w, NULL);
    pneumo_dataset_default_options(&o);
    o.width = w;
    o.height = h;
    o.shuffle = 0;
    o.threads = (int32_t)threads;
    if (pneumo_dataset_open_dir(dir, &o, &ds) != PNEUMO_OK) {
        fprintf(stderr, PROG ": %s\n", pneumo_last_error());
        goto done;
    }
    if (cli_print_dataset(stdout, PROG, ds, 0))
        goto done;
    if (pneumo_model_evaluate(m, ds, (int32_t)batch, (float)threshold, &ev, NULL, NULL) != PNEUMO_OK) {
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
        fprintf(f, "model: %s\ndata: %s\nthreshold: %g\n\n", model_path, dir, threshold);
        cli_print_evaluation(f, &ev, ds);
        fclose(f);
    }
    rc = 0;
done:
    pneumo_dataset_destroy(ds);
    pneumo_model_destroy(m);
    return rc;
}
