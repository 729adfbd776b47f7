/* Confusion matrix, sklearn's classification report, ROC AUC. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "core/alloc.h"
#include "core/error.h"
#include "format/json.h"
#include "pneumo/metrics.h"
#include "pneumo/model_info.h"

static pneumo_status check_inputs(const float *probs, const float *labels, int64_t n, const char *fn)
{
    if (!probs || !labels || n < 0)
        return pn_error(PNEUMO_ERR_INVALID_ARG, "%s: %s", fn,
                        n < 0 ? "n is negative" : "probs or labels is NULL");
    for (int64_t i = 0; i < n; i++) {
        if (labels[i] != 0.0f && labels[i] != 1.0f)
            return pn_error(PNEUMO_ERR_INVALID_ARG, "%s: label %lld is %g (must be 0 or 1)", fn, (long long)i,
                            (double)labels[i]);
        if (!isfinite(probs[i]))
            return pn_error(PNEUMO_ERR_INVALID_ARG, "%s: probability %lld is not finite", fn, (long long)i);
    }
    return PNEUMO_OK;
}

/* Every probability inside [0, 1] (check_inputs() has checked finiteness). */
static pneumo_status check_unit_probs(const float *probs, int64_t n, const char *fn)
{
    for (int64_t i = 0; i < n; i++)
        if (!(probs[i] >= 0.0f && probs[i] <= 1.0f))
            return pn_error(PNEUMO_ERR_INVALID_ARG, "%s: probability %lld is %g, outside [0, 1]", fn,
                            (long long)i, (double)probs[i]);
    return PNEUMO_OK;
}

pneumo_status pneumo_confusion_from_predictions(const float *probs, const float *labels, int64_t n,
                                                float threshold, pneumo_confusion *out)
{
    const char *fn = "pneumo_confusion_from_predictions";
    pneumo_status st = check_inputs(probs, labels, n, fn);
    if (st != PNEUMO_OK)
        return st;
    if (!out)
        return pn_error(PNEUMO_ERR_INVALID_ARG, "%s: out is NULL", fn);
    if (!(threshold >= 0.0f && threshold <= 1.0f))
        return pn_error(PNEUMO_ERR_INVALID_ARG, "%s: threshold %g outside [0, 1]", fn, (double)threshold);
    memset(out, 0, sizeof *out);
    for (int64_t i = 0; i < n; i++)
        out->m[(labels[i] == 1.0f) * 2 + (probs[i] > threshold)]++;
    return PNEUMO_OK;
}

double pneumo_confusion_accuracy(const pneumo_confusion *c)
{
    int64_t total;
    if (!c)
        return 0.0;
    total = c->m[0] + c->m[1] + c->m[2] + c->m[3];
    return total ? (double)(c->m[0] + c->m[3]) / (double)total : 0.0;
}

static double ratio(int64_t a, int64_t b) { return b ? (double)a / (double)b : 0.0; }

static double f1(double p, double r) { return p + r > 0.0 ? 2.0 * p * r / (p + r) : 0.0; }

pneumo_status pneumo_classification_report(const pneumo_confusion *c, const char *const names[2], char *buf,
                                           size_t size, size_t *needed)
{
    const char *label[2] = {"0", "1"};
    double prec[2], rec[2], f[2];
    int64_t support[2], total;
    int width = 12; /* len("weighted avg") */
    pn_buf b;
    if (!c)
        return pn_error(PNEUMO_ERR_INVALID_ARG, "pneumo_classification_report: matrix is NULL");
    if (!buf && size)
        return pn_error(PNEUMO_ERR_INVALID_ARG, "pneumo_classification_report: buf is NULL, size %zu", size);
    for (int k = 0; k < 2; k++) {
        if (names && names[k])
            label[k] = names[k];
        if ((int)strlen(label[k]) > width)
            width = (int)strlen(label[k]);
    }
    /* class k: true positives m[3k], predicted k = column k, actual k = row k */
    support[0] = c->m[0] + c->m[1];
    support[1] = c->m[2] + c->m[3];
    total = support[0] + support[1];
    prec[0] = ratio(c->m[0], c->m[0] + c->m[2]);
    prec[1] = ratio(c->m[3], c->m[1] + c->m[3]);
    rec[0] = ratio(c->m[0], support[0]);
    rec[1] = ratio(c->m[3], support[1]);
    for (int k = 0; k < 2; k++)
        f[k] = f1(prec[k], rec[k]);

    pn_buf_init(&b);
    pn_buf_printf(&b, "%*s  %9s %9s %9s %9s\n\n", width, "", "precision", "recall", "f1-score", "support");
    for (int k = 0; k < 2; k++)
        pn_buf_printf(&b, "%*s  %9.2f %9.2f %9.2f %9lld\n", width, label[k], prec[k], rec[k], f[k],
                      (long long)support[k]);
    pn_buf_printf(&b, "\n%*s  %9s %9s %9.2f %9lld\n", width, "accuracy", "", "", pneumo_confusion_accuracy(c),
                  (long long)total);
    pn_buf_printf(&b, "%*s  %9.2f %9.2f %9.2f %9lld\n", width, "macro avg", (prec[0] + prec[1]) / 2,
                  (rec[0] + rec[1]) / 2, (f[0] + f[1]) / 2, (long long)total);
    {
        double w0 = ratio(support[0], total), w1 = ratio(support[1], total);
        pn_buf_printf(&b, "%*s  %9.2f %9.2f %9.2f %9lld\n", width, "weighted avg",
                      w0 * prec[0] + w1 * prec[1], w0 * rec[0] + w1 * rec[1], w0 * f[0] + w1 * f[1],
                      (long long)total);
    }
    return pn_buf_export(&b, buf, size, needed, "classification report");
}

typedef struct scored {
    float p;
    float y;
} scored;

static int by_score(const void *a, const void *b)
{
    float x = ((const scored *)a)->p, y = ((const scored *)b)->p;
    return (x > y) - (x < y);
}

pneumo_status pneumo_roc_auc(const float *probs, const float *labels, int64_t n, double *auc)
{
    const char *fn = "pneumo_roc_auc";
    pneumo_status st = check_inputs(probs, labels, n, fn);
    scored *s;
    double pos = 0.0, rank_sum = 0.0;
    if (st != PNEUMO_OK)
        return st;
    if (!auc)
        return pn_error(PNEUMO_ERR_INVALID_ARG, "%s: auc is NULL", fn);
    s = pn_malloc((size_t)(n ? n : 1) * sizeof *s);
    if (!s)
        return pn_error_nomem(fn, (size_t)n * sizeof *s);
    for (int64_t i = 0; i < n; i++) {
        s[i].p = probs[i];
        s[i].y = labels[i];
        pos += labels[i];
    }
    if (pos == 0.0 || pos == (double)n) {
        free(s);
        return pn_error(PNEUMO_ERR_INVALID_ARG, "%s: only one class present; ROC AUC is undefined", fn);
    }
    qsort(s, (size_t)n, sizeof *s, by_score);
    /* Mann-Whitney U with average ranks for ties (= trapezoidal ROC area). */
    for (int64_t i = 0; i < n;) {
        int64_t j = i;
        double tie_pos = 0.0, avg_rank;
        while (j < n && s[j].p == s[i].p)
            tie_pos += s[j++].y;
        avg_rank = (double)(i + 1 + j) / 2.0; /* ranks i+1 .. j */
        rank_sum += tie_pos * avg_rank;
        i = j;
    }
    *auc = (rank_sum - pos * (pos + 1.0) / 2.0) / (pos * ((double)n - pos));
    free(s);
    return PNEUMO_OK;
}

/* Probabilities and labels sorted by probability, with the class totals, for
 * the threshold choosers. */
static pneumo_status sorted_scores(const float *probs, const float *labels, int64_t n, float *threshold,
                                   const char *fn, const char *what, scored **out, double *pos, double *neg)
{
    pneumo_status st = check_inputs(probs, labels, n, fn);
    scored *s;
    if (st != PNEUMO_OK)
        return st;
    if (!threshold)
        return pn_error(PNEUMO_ERR_INVALID_ARG, "%s: threshold is NULL", fn);
    if (n < 2)
        return pn_error(PNEUMO_ERR_INVALID_ARG, "%s: needs at least 2 samples, got %lld", fn, (long long)n);
    if ((st = check_unit_probs(probs, n, fn)) != PNEUMO_OK)
        return st;
    s = pn_malloc((size_t)n * sizeof *s);
    if (!s)
        return pn_error_nomem(fn, (size_t)n * sizeof *s);
    *pos = 0.0;
    for (int64_t i = 0; i < n; i++) {
        s[i].p = probs[i];
        s[i].y = labels[i];
        *pos += labels[i];
    }
    *neg = (double)n - *pos;
    if (*pos == 0.0 || *neg == 0.0) {
        free(s);
        return pn_error(PNEUMO_ERR_STATE, "%s: only one class present; %s is undefined", fn, what);
    }
    qsort(s, (size_t)n, sizeof *s, by_score); /* ascending */
    *out = s;
    return PNEUMO_OK;
}

/* Call visit(ctx, t, tpr, fpr) for every cut t strictly inside (0, 1), from
 * "everything is class 1" upwards: the cut between the distinct scores
 * s[i-1] and s[i] classes s[i..n-1] as 1. */
static void walk_cuts(const scored *s, int64_t n, double pos, double neg,
                      void (*visit)(void *ctx, double t, double tpr, double fpr), void *ctx)
{
    double tp = pos, fp = neg;
    for (int64_t i = 0; i <= n;) {
        double t;
        if (i == 0)
            t = s[0].p / 2.0;
        else if (i == n)
            t = (s[n - 1].p + 1.0) / 2.0;
        else
            t = ((double)s[i - 1].p + (double)s[i].p) / 2.0;
        if (t > 0.0 && t < 1.0)
            visit(ctx, t, tp / pos, fp / neg);
        if (i == n)
            break;
        {
            int64_t k = i;
            while (k < n && s[k].p == s[i].p) {
                if (s[k].y > 0.5f)
                    tp -= 1.0;
                else
                    fp -= 1.0;
                k++;
            }
            i = k;
        }
    }
}

typedef struct cut_choice {
    double best_score, best_t, target;
    int found;
} cut_choice;

static void visit_youden(void *ctx, double t, double tpr, double fpr)
{
    cut_choice *c = ctx;
    const double j = tpr - fpr;
    if (j > c->best_score + 1e-12 ||
        (fabs(j - c->best_score) <= 1e-12 && fabs(t - 0.5) < fabs(c->best_t - 0.5))) {
        c->best_score = j;
        c->best_t = t;
    }
}

pneumo_status pneumo_youden_threshold(const float *probs, const float *labels, int64_t n, float *threshold)
{
    scored *s = NULL;
    double pos = 0.0, neg = 0.0;
    cut_choice c = {.best_score = -2.0, .best_t = 0.5};
    pneumo_status st = sorted_scores(probs, labels, n, threshold, "pneumo_youden_threshold", "Youden's J", &s,
                                     &pos, &neg);
    if (st != PNEUMO_OK)
        return st;
    walk_cuts(s, n, pos, neg, visit_youden, &c);
    free(s);
    *threshold = (float)c.best_t;
    return PNEUMO_OK;
}

/* The cuts come with falling TPR: keep the last one still at the target. */
static void visit_sensitivity(void *ctx, double t, double tpr, double fpr)
{
    cut_choice *c = ctx;
    (void)fpr;
    if (tpr >= c->target - 1e-12) {
        c->best_t = t;
        c->found = 1;
    }
}

pneumo_status pneumo_sensitivity_threshold(const float *probs, const float *labels, int64_t n,
                                           double sensitivity, float *threshold)
{
    const char *fn = "pneumo_sensitivity_threshold";
    scored *s = NULL;
    double pos = 0.0, neg = 0.0;
    cut_choice c = {.best_t = 0.5, .target = sensitivity};
    pneumo_status st;
    if (!(sensitivity > 0.0 && sensitivity <= 1.0))
        return pn_error(PNEUMO_ERR_INVALID_ARG, "%s: sensitivity %g is outside (0, 1]", fn, sensitivity);
    if ((st = sorted_scores(probs, labels, n, threshold, fn, "sensitivity", &s, &pos, &neg)) != PNEUMO_OK)
        return st;
    walk_cuts(s, n, pos, neg, visit_sensitivity, &c);
    free(s);
    if (!c.found)
        return pn_error(PNEUMO_ERR_STATE, "%s: no threshold inside (0, 1) reaches sensitivity %g", fn,
                        sensitivity);
    *threshold = (float)c.best_t;
    return PNEUMO_OK;
}

/* ---- calibration ---- */

pneumo_status pneumo_calibration_curve(const float *probs, const float *labels, int64_t n, int32_t bins,
                                       int64_t *counts, double *mean_prob, double *frac_pos, double *ece)
{
    const char *fn = "pneumo_calibration_curve";
    pneumo_status st = check_inputs(probs, labels, n, fn);
    int64_t cnt[PNEUMO_CALIBRATION_BINS_MAX];
    double psum[PNEUMO_CALIBRATION_BINS_MAX], ysum[PNEUMO_CALIBRATION_BINS_MAX], e = 0.0;
    if (st != PNEUMO_OK)
        return st;
    if (n < 1)
        return pn_error(PNEUMO_ERR_INVALID_ARG, "%s: needs at least 1 sample", fn);
    if (bins < 1 || bins > PNEUMO_CALIBRATION_BINS_MAX)
        return pn_error(PNEUMO_ERR_INVALID_ARG, "%s: bins %d outside [1, %d]", fn, (int)bins,
                        PNEUMO_CALIBRATION_BINS_MAX);
    if ((st = check_unit_probs(probs, n, fn)) != PNEUMO_OK)
        return st;
    memset(cnt, 0, sizeof cnt);
    memset(psum, 0, sizeof psum);
    memset(ysum, 0, sizeof ysum);
    for (int64_t i = 0; i < n; i++) {
        int32_t b = (int32_t)((double)probs[i] * bins);
        if (b >= bins)
            b = bins - 1; /* p = 1 */
        cnt[b]++;
        psum[b] += probs[i];
        ysum[b] += labels[i];
    }
    for (int32_t b = 0; b < bins; b++) {
        const double mp = cnt[b] ? psum[b] / (double)cnt[b] : 0.0;
        const double fp = cnt[b] ? ysum[b] / (double)cnt[b] : 0.0;
        if (counts)
            counts[b] = cnt[b];
        if (mean_prob)
            mean_prob[b] = mp;
        if (frac_pos)
            frac_pos[b] = fp;
        e += (double)cnt[b] / (double)n * fabs(fp - mp);
    }
    if (ece)
        *ece = e;
    return PNEUMO_OK;
}

/* The largest |logit| a float probability can carry: logit(1 - 2^-24). */
#define LOGIT_MAX 16.635532333438686

static double logit_of(float p)
{
    double z;
    if (p <= 0.0f)
        return -LOGIT_MAX;
    if (p >= 1.0f)
        return LOGIT_MAX;
    z = log((double)p) - log1p(-(double)p);
    return z > LOGIT_MAX ? LOGIT_MAX : z < -LOGIT_MAX ? -LOGIT_MAX : z;
}

/* d/ds of the mean BCE of sigmoid(s z_i) against y_i: mean (sigmoid(s z) - y) z. */
static double nll_slope(const double *z, const float *labels, int64_t n, double s)
{
    double g = 0.0;
    for (int64_t i = 0; i < n; i++) {
        const double a = s * z[i];
        const double p = a >= 0.0 ? 1.0 / (1.0 + exp(-a)) : exp(a) / (1.0 + exp(a));
        g += (p - labels[i]) * z[i];
    }
    return g / (double)n;
}

pneumo_status pneumo_fit_temperature(const float *probs, const float *labels, int64_t n, float *temperature)
{
    const char *fn = "pneumo_fit_temperature";
    pneumo_status st = check_inputs(probs, labels, n, fn);
    double *z, lo, hi;
    if (st != PNEUMO_OK)
        return st;
    if (!temperature)
        return pn_error(PNEUMO_ERR_INVALID_ARG, "%s: temperature is NULL", fn);
    if (n < 2)
        return pn_error(PNEUMO_ERR_INVALID_ARG, "%s: needs at least 2 samples, got %lld", fn, (long long)n);
    if ((st = check_unit_probs(probs, n, fn)) != PNEUMO_OK)
        return st;
    z = pn_malloc((size_t)n * sizeof *z);
    if (!z)
        return pn_error_nomem(fn, (size_t)n * sizeof *z);
    for (int64_t i = 0; i < n; i++)
        z[i] = logit_of(probs[i]);
    /* The loss is convex in s = 1/T, so its slope rises with s: bisect the
     * slope's sign change in log s over the allowed temperatures. */
    lo = log(1.0 / (double)PNEUMO_TEMPERATURE_MAX);
    hi = log(1.0 / (double)PNEUMO_TEMPERATURE_MIN);
    if (nll_slope(z, labels, n, exp(lo)) >= 0.0)
        hi = lo;
    else if (nll_slope(z, labels, n, exp(hi)) <= 0.0)
        lo = hi;
    for (int it = 0; it < 100 && hi - lo > 1e-12; it++) {
        const double mid = 0.5 * (lo + hi);
        if (nll_slope(z, labels, n, exp(mid)) < 0.0)
            lo = mid;
        else
            hi = mid;
    }
    free(z);
    *temperature = (float)(1.0 / exp(0.5 * (lo + hi)));
    return PNEUMO_OK;
}
