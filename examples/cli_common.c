#include "cli_common.h"

#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

void cli_format_repr(double v, char *buf, size_t size)
{
    for (int prec = 15; prec <= 17; prec++) {
        snprintf(buf, size, "%.*g", prec, v);
        if (strtod(buf, NULL) == v)
            break;
    }
    if (isfinite(v) && !strpbrk(buf, ".e") && strlen(buf) + 2 < size)
        strcat(buf, ".0");
}

int cli_print_dataset(FILE *f, const char *prog, const pneumo_dataset *ds, int verbose)
{
    char report[256];
    int32_t k = pneumo_dataset_num_classes(ds);
    double w[64];
    if (pneumo_dataset_report(ds, report, sizeof report, NULL) != PNEUMO_OK) {
        fprintf(stderr, "%s: %s\n", prog, pneumo_last_error());
        return 1;
    }
    fprintf(f, "%s\n", report);
    for (int64_t i = 0; i < pneumo_dataset_num_skipped(ds); i++) {
        char line[4600];
        fprintf(f, "skipped: %s\n", cli_skipped(ds, i, line, sizeof line));
    }
    if (!verbose)
        return 0;
    for (int32_t c = 0; c < k; c++) {
        char name[256];
        fprintf(f, "class %d: %s, %lld images\n", c, cli_class_name(ds, c, name, sizeof name),
                (long long)pneumo_dataset_class_count(ds, c));
    }
    if (k <= 64 && pneumo_dataset_class_weights(ds, w, k) == PNEUMO_OK) {
        fprintf(f, "class weights: {");
        for (int32_t c = 0; c < k; c++) {
            char num[40];
            cli_format_repr(w[c], num, sizeof num);
            fprintf(f, "%s%d: %s", c ? ", " : "", c, num);
        }
        fprintf(f, "}\n");
    }
    return 0;
}

static const char *or_unknown(pneumo_status st, char *buf, size_t size)
{
    if (st != PNEUMO_OK)
        snprintf(buf, size, "?");
    return buf;
}

const char *cli_class_name(const pneumo_dataset *ds, int32_t c, char *buf, size_t size)
{
    return or_unknown(pneumo_dataset_class_name(ds, c, buf, size, NULL), buf, size);
}

const char *cli_path(const pneumo_dataset *ds, int64_t i, char *buf, size_t size)
{
    return or_unknown(pneumo_dataset_path(ds, i, buf, size, NULL), buf, size);
}

const char *cli_skipped(const pneumo_dataset *ds, int64_t i, char *buf, size_t size)
{
    return or_unknown(pneumo_dataset_skipped(ds, i, buf, size, NULL), buf, size);
}

pneumo_status cli_write_stream(void *stream, const void *data, size_t size)
{
    FILE *f = stream;
    if (fwrite(data, 1, size, f) != size || fflush(f) != 0)
        return PNEUMO_ERR_IO;
    return PNEUMO_OK;
}

int cli_version(const char *prog)
{
    printf("%s (libpneumo %s)\n", prog, pneumo_version());
    return 0;
}

int cli_bad_option(const char *prog, const char *option, const char *why)
{
    fprintf(stderr, "%s: %s: %s (see %s --help)\n", prog, option, why, prog);
    return 2;
}

int cli_check_output(const char *prog, const char *flag, const char *path)
{
    char dir[4096];
    const char *slash = strrchr(path, '/');
    struct stat st;
    if (!path[0]) {
        fprintf(stderr, "%s: %s: the path is empty\n", prog, flag);
        return 1;
    }
    if (stat(path, &st) == 0 && S_ISDIR(st.st_mode)) {
        fprintf(stderr, "%s: %s %s: is a folder, not a file\n", prog, flag, path);
        return 1;
    }
    if (!slash)
        snprintf(dir, sizeof dir, ".");
    else
        snprintf(dir, sizeof dir, "%.*s", slash == path ? 1 : (int)(slash - path), path);
    if (stat(dir, &st) != 0 || !S_ISDIR(st.st_mode)) {
        fprintf(stderr, "%s: %s %s: folder %s does not exist\n", prog, flag, path, dir);
        return 1;
    }
    if (access(dir, W_OK) != 0) {
        fprintf(stderr, "%s: %s %s: folder %s is not writable: %s\n", prog, flag, path, dir, strerror(errno));
        return 1;
    }
    return 0;
}

FILE *cli_fopen_atomic(const char *prog, const char *path, char *tmp, size_t tmp_size)
{
    FILE *f;
    snprintf(tmp, tmp_size, "%s.tmp.%ld", path, (long)getpid());
    f = fopen(tmp, "w");
    if (!f)
        fprintf(stderr, "%s: cannot write %s: %s\n", prog, tmp, strerror(errno));
    return f;
}

int cli_fclose_atomic(const char *prog, FILE *f, const char *tmp, const char *path, int ok)
{
    int failed = ferror(f) != 0;
    failed |= fflush(f) != 0 || fsync(fileno(f)) != 0;
    failed |= fclose(f) != 0;
    if (!ok || failed || rename(tmp, path) != 0) {
        if (ok)
            fprintf(stderr, "%s: cannot write %s: %s\n", prog, path, strerror(errno));
        remove(tmp);
        return 1;
    }
    return 0;
}

long cli_long(const char *prog, const char *flag, const char *v, long lo, long hi)
{
    char *end;
    long x;
    errno = 0;
    x = strtol(v, &end, 10);
    if (errno || end == v || *end || x < lo || x > hi) {
        fprintf(stderr, "%s: %s must be an integer in %ld..%ld, not '%s'\n", prog, flag, lo, hi, v);
        exit(2);
    }
    return x;
}

double cli_double(const char *prog, const char *flag, const char *v, double lo, double hi)
{
    char *end;
    double x;
    errno = 0;
    x = strtod(v, &end);
    if (errno || end == v || *end || !(x >= lo && x <= hi)) {
        fprintf(stderr, "%s: %s must be a number in [%g, %g], not '%s'\n", prog, flag, lo, hi, v);
        exit(2);
    }
    return x;
}

void cli_print_evaluation(FILE *f, const pneumo_evaluation *ev, const pneumo_dataset *ds)
{
    char n0[256], n1[256];
    const char *names[2] = {cli_class_name(ds, 0, n0, sizeof n0), cli_class_name(ds, 1, n1, sizeof n1)};
    char report[2048];
    fprintf(f, "loss: %.4f - accuracy: %.4f (%lld images)\n", ev->loss, ev->accuracy, (long long)ev->count);
    fprintf(f, "The testing accuracy is : %.14g %%\n", ev->accuracy * 100.0);
    fprintf(f, "Confusion matrix (rows actual, columns predicted):\n");
    fprintf(f, "  %-10s [%5lld, %5lld]\n", names[0], (long long)ev->confusion.m[0],
            (long long)ev->confusion.m[1]);
    fprintf(f, "  %-10s [%5lld, %5lld]\n", names[1], (long long)ev->confusion.m[2],
            (long long)ev->confusion.m[3]);
    if (pneumo_classification_report(&ev->confusion, names, report, sizeof report, NULL) == PNEUMO_OK)
        fprintf(f, "%s", report);
    if (isnan(ev->roc_auc))
        fprintf(f, "ROC AUC: undefined (one class only)\n");
    else
        fprintf(f, "ROC AUC: %.4f\n", ev->roc_auc);
    if (!isnan(ev->calibration_error))
        fprintf(f, "Calibration error (ECE, %d bins): %.4f\n", PNEUMO_EVALUATION_ECE_BINS,
                ev->calibration_error);
}

void cli_html_path_next_to(const char *text_report, char *buf, size_t size)
{
    const char *slash = strrchr(text_report, '/');
    if (!slash)
        snprintf(buf, size, "report.html");
    else
        snprintf(buf, size, "%.*s/report.html", (int)(slash - text_report), text_report);
}

int cli_report_setting(pneumo_report *r, const char *prog, const char *key, const char *fmt, ...)
{
    char value[4096];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(value, sizeof value, fmt, ap);
    va_end(ap);
    if (pneumo_report_add_setting(r, key, value) != PNEUMO_OK) {
        fprintf(stderr, "%s: %s\n", prog, pneumo_last_error());
        return 1;
    }
    return 0;
}

int cli_report_evaluation(pneumo_report *r, const char *prog, const char *name, const pneumo_evaluation *ev,
                          const float *probs, const float *labels, const pneumo_dataset *ds)
{
    char n0[256], n1[256];
    const char *names[2] = {cli_class_name(ds, 0, n0, sizeof n0), cli_class_name(ds, 1, n1, sizeof n1)};
    int64_t n = probs && labels ? pneumo_dataset_size(ds) : 0;
    if (pneumo_report_add_evaluation(r, name, ev, n ? probs : NULL, n ? labels : NULL, n,
                                     names[0] && names[1] ? names : NULL) != PNEUMO_OK) {
        fprintf(stderr, "%s: %s\n", prog, pneumo_last_error());
        return 1;
    }
    return 0;
}

int cli_report_samples(pneumo_report *r, const char *prog, pneumo_dataset *ds, int32_t w, int32_t h,
                       const float *probs, int count)
{
    int64_t n = pneumo_dataset_size(ds);
    pneumo_image *img = NULL;
    float *buf = NULL;
    int rc = 1;
    if (n <= 0 || count <= 0)
        return 0;
    if (count > n)
        count = (int)n;
    buf = malloc((size_t)w * (size_t)h * sizeof *buf);
    if (!buf || pneumo_image_create(w, h, &img) != PNEUMO_OK) {
        fprintf(stderr, "%s: out of memory for the report's images\n", prog);
        goto out;
    }
    for (int k = 0; k < count; k++) {
        int64_t idx = (int64_t)((double)k * (double)n / count + (double)n / (2.0 * count));
        char cls_buf[256];
        const char *cls = cli_class_name(ds, pneumo_dataset_label(ds, idx), cls_buf, sizeof cls_buf);
        uint8_t *px = pneumo_image_pixels_mut(img);
        char caption[512], upper[256];
        size_t j = 0;
        if (idx >= n)
            idx = n - 1;
        if (pneumo_dataset_load_sample(ds, idx, buf, (size_t)w * (size_t)h) != PNEUMO_OK) {
            fprintf(stderr, "%s: %s\n", prog, pneumo_last_error());
            goto out;
        }
        for (int64_t i = 0; i < (int64_t)w * h; i++) {
            float v = buf[i] * 255.0f;
            px[i] = (uint8_t)(v <= 0.0f ? 0 : v >= 255.0f ? 255 : (int)lrintf(v));
        }
        for (; cls && cls[j] && j + 1 < sizeof upper; j++)
            upper[j] = (char)toupper((unsigned char)cls[j]);
        upper[j] = '\0';
        snprintf(caption, sizeof caption, "%.2f%% probability of being Pneumonia case\nActual case: %s",
                 100.0 * (double)probs[idx], upper);
        if (pneumo_report_add_image(r, img, caption) != PNEUMO_OK) {
            fprintf(stderr, "%s: %s\n", prog, pneumo_last_error());
            goto out;
        }
    }
    rc = 0;
out:
    pneumo_image_destroy(img);
    free(buf);
    return rc;
}
