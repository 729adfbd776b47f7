/* The self-contained HTML report: settings, training curves, evaluations
 * (confusion heatmap, classification report, ROC curve), image grid, model
 * summary. See include/pneumo/report.h. */
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "core/alloc.h"
#include "core/error.h"
#include "core/atomic_file.h"
#include "core/buf.h"
#include "pneumo/image_write.h"
#include "pneumo/metrics.h"
#include "pneumo/report.h"
#include "report/svg.h"

typedef struct rp_eval {
    char *name;
    char *names[2];
    pneumo_evaluation ev;
    int has_curve;    /* probs were given */
    int64_t npts;     /* ROC vertices (0 if only one class occurs) */
    int64_t *fp, *tp; /* counts at each vertex, from (0, 0) to (N, P) */
    int64_t pos, neg;
    /* reliability diagram (with probs): PNEUMO_EVALUATION_ECE_BINS bins */
    int64_t rel_count[PNEUMO_EVALUATION_ECE_BINS];
    double rel_mean[PNEUMO_EVALUATION_ECE_BINS], rel_frac[PNEUMO_EVALUATION_ECE_BINS], rel_ece;
} rp_eval;

typedef struct rp_image {
    char *b64;
    int32_t w, h;
    char *caption;
} rp_image;

struct pneumo_report {
    char *title;
    char **keys, **values;
    size_t nsettings, capsettings;
    char *summary;
    pneumo_epoch_record *epochs;
    int32_t nepochs, stopped_early;
    rp_eval *evals;
    size_t nevals, capevals;
    rp_image *images;
    size_t nimages, capimages;
    char *images_title;
};

pneumo_status pneumo_report_create(const char *title, pneumo_report **out)
{
    pneumo_report *r;
    if (!out)
        return pn_error(PNEUMO_ERR_INVALID_ARG, "pneumo_report_create: out is NULL");
    *out = NULL;
    r = pn_calloc(1, sizeof *r);
    if (!r)
        return pn_error_nomem("report", sizeof *r);
    r->title = pn_strdup(title && title[0] ? title : "libpneumo report");
    r->images_title = pn_strdup("Sample images");
    if (!r->title || !r->images_title) {
        pneumo_report_destroy(r);
        return pn_error_nomem("report title", 0);
    }
    *out = r;
    return PNEUMO_OK;
}

static void free_eval(rp_eval *e)
{
    free(e->name);
    free(e->names[0]);
    free(e->names[1]);
    free(e->fp);
    free(e->tp);
}

void pneumo_report_destroy(pneumo_report *r)
{
    if (!r)
        return;
    free(r->title);
    for (size_t i = 0; i < r->nsettings; i++) {
        free(r->keys[i]);
        free(r->values[i]);
    }
    free(r->keys);
    free(r->values);
    free(r->summary);
    free(r->epochs);
    for (size_t i = 0; i < r->nevals; i++)
        free_eval(&r->evals[i]);
    free(r->evals);
    for (size_t i = 0; i < r->nimages; i++) {
        free(r->images[i].b64);
        free(r->images[i].caption);
    }
    free(r->images);
    free(r->images_title);
    free(r);
}

pneumo_status pneumo_report_add_setting(pneumo_report *r, const char *key, const char *value)
{
    size_t cap;
    char *k, *v;
    if (!r || !key || !value)
        return pn_error(PNEUMO_ERR_INVALID_ARG, "pneumo_report_add_setting: %s is NULL",
                        !r     ? "report"
                        : !key ? "key"
                               : "value");
    if (!key[0])
        return pn_error(PNEUMO_ERR_INVALID_ARG, "pneumo_report_add_setting: key is empty");
    cap = r->capsettings;
    if (!pn_array_reserve(&r->keys, &cap, r->nsettings + 1, sizeof *r->keys, SIZE_MAX))
        return pn_error_nomem("report settings", 0);
    cap = r->capsettings;
    if (!pn_array_reserve(&r->values, &cap, r->nsettings + 1, sizeof *r->values, SIZE_MAX))
        return pn_error_nomem("report settings", 0);
    r->capsettings = cap;
    k = pn_strdup(key);
    v = pn_strdup(value);
    if (!k || !v) {
        free(k);
        free(v);
        return pn_error_nomem("report setting", strlen(key) + strlen(value) + 2);
    }
    r->keys[r->nsettings] = k;
    r->values[r->nsettings] = v;
    r->nsettings++;
    return PNEUMO_OK;
}

pneumo_status pneumo_report_set_model(pneumo_report *r, const pneumo_model *m)
{
    size_t need = 0;
    char *s;
    pneumo_status st;
    if (!r || !m)
        return pn_error(PNEUMO_ERR_INVALID_ARG, "pneumo_report_set_model: %s is NULL",
                        r ? "model" : "report");
    st = pneumo_model_summary_string(m, NULL, 0, &need);
    if (st != PNEUMO_OK)
        return st;
    s = pn_malloc(need + 1);
    if (!s)
        return pn_error_nomem("model summary", need + 1);
    st = pneumo_model_summary_string(m, s, need + 1, NULL);
    if (st != PNEUMO_OK) {
        free(s);
        return st;
    }
    free(r->summary);
    r->summary = s;
    return PNEUMO_OK;
}

pneumo_status pneumo_report_set_history(pneumo_report *r, const pneumo_history *h)
{
    int32_t n;
    pneumo_epoch_record *rec = NULL;
    if (!r || !h)
        return pn_error(PNEUMO_ERR_INVALID_ARG, "pneumo_report_set_history: %s is NULL",
                        r ? "history" : "report");
    n = pneumo_history_size(h);
    if (n > 0) {
        rec = pn_malloc((size_t)n * sizeof *rec);
        if (!rec)
            return pn_error_nomem("report history", (size_t)n * sizeof *rec);
        for (int32_t i = 0; i < n; i++) {
            pneumo_status st = pneumo_history_get(h, i, &rec[i]);
            if (st != PNEUMO_OK) {
                free(rec);
                return st;
            }
        }
    }
    free(r->epochs);
    r->epochs = rec;
    r->nepochs = n;
    r->stopped_early = n > 0 && pneumo_history_stopped_early(h);
    return PNEUMO_OK;
}

typedef struct scored {
    float p;
    float y;
} scored;

static int by_score_desc(const void *a, const void *b)
{
    float x = ((const scored *)a)->p, y = ((const scored *)b)->p;
    return (x < y) - (x > y);
}

/* ROC vertices from the scores: one point per distinct threshold (ties move
 * diagonally), collinear intermediate points dropped. */
static pneumo_status build_roc(rp_eval *e, const float *probs, const float *labels, int64_t n)
{
    scored *s;
    int64_t k = 0, fp = 0, tp = 0;
    e->pos = e->neg = 0;
    for (int64_t i = 0; i < n; i++) {
        if (labels[i] == 1.0f)
            e->pos++;
        else
            e->neg++;
    }
    e->npts = 0;
    if (e->pos == 0 || e->neg == 0)
        return PNEUMO_OK;
    s = pn_malloc((size_t)n * sizeof *s);
    e->fp = pn_malloc((size_t)(n + 1) * sizeof *e->fp);
    e->tp = pn_malloc((size_t)(n + 1) * sizeof *e->tp);
    if (!s || !e->fp || !e->tp) {
        free(s);
        return pn_error_nomem("ROC curve", (size_t)n * (sizeof *s + 2 * sizeof *e->fp));
    }
    for (int64_t i = 0; i < n; i++) {
        s[i].p = probs[i];
        s[i].y = labels[i];
    }
    qsort(s, (size_t)n, sizeof *s, by_score_desc);
    e->fp[k] = 0;
    e->tp[k] = 0;
    k++;
    for (int64_t i = 0; i < n;) {
        int64_t j = i;
        while (j < n && s[j].p == s[i].p) {
            if (s[j].y == 1.0f)
                tp++;
            else
                fp++;
            j++;
        }
        /* drop the previous vertex if it lies on the segment to this one */
        if (k >= 2) {
            int64_t ax = e->fp[k - 2], ay = e->tp[k - 2], bx = e->fp[k - 1], by = e->tp[k - 1];
            if ((bx - ax) * (tp - by) == (by - ay) * (fp - bx))
                k--;
        }
        e->fp[k] = fp;
        e->tp[k] = tp;
        k++;
        i = j;
    }
    free(s);
    e->npts = k;
    return PNEUMO_OK;
}

/* Trapezoidal area under the stored curve (= roc_auc_score); NaN without one. */
static double curve_auc(const rp_eval *e)
{
    double area = 0.0;
    if (e->npts < 2)
        return NAN;
    for (int64_t i = 1; i < e->npts; i++)
        area += (double)(e->fp[i] - e->fp[i - 1]) * (double)(e->tp[i] + e->tp[i - 1]) / 2.0;
    return area / ((double)e->pos * (double)e->neg);
}

pneumo_status pneumo_report_add_evaluation(pneumo_report *r, const char *name, const pneumo_evaluation *ev,
                                           const float *probs, const float *labels, int64_t n,
                                           const char *const class_names[2])
{
    static const char fn[] = "pneumo_report_add_evaluation";
    rp_eval e;
    int64_t total = 0;
    pneumo_status st;
    if (!r || !ev || !name)
        return pn_error(PNEUMO_ERR_INVALID_ARG, "%s: %s is NULL", fn,
                        !r    ? "report"
                        : !ev ? "evaluation"
                              : "name");
    for (size_t i = 0; i < sizeof ev->reserved / sizeof ev->reserved[0]; i++)
        if (ev->reserved[i])
            return pn_error(PNEUMO_ERR_INVALID_ARG, "%s: pneumo_evaluation.reserved[%zu] is not zero", fn, i);
    for (int k = 0; k < 4; k++) {
        if (ev->confusion.m[k] < 0)
            return pn_error(PNEUMO_ERR_INVALID_ARG, "%s: confusion matrix entry %d is negative (%lld)", fn, k,
                            (long long)ev->confusion.m[k]);
        total += ev->confusion.m[k];
    }
    if (!probs != !labels)
        return pn_error(PNEUMO_ERR_INVALID_ARG, "%s: %s is NULL but %s is not", fn,
                        probs ? "labels" : "probs", probs ? "probs" : "labels");
    if (!probs && n != 0)
        return pn_error(PNEUMO_ERR_INVALID_ARG, "%s: n is %lld without probabilities", fn, (long long)n);
    if (probs && n != total)
        return pn_error(PNEUMO_ERR_INVALID_ARG, "%s: n is %lld but the confusion matrix counts %lld images",
                        fn, (long long)n, (long long)total);
    if (class_names && (!class_names[0] || !class_names[1]))
        return pn_error(PNEUMO_ERR_INVALID_ARG, "%s: class name %d is NULL", fn, class_names[0] ? 1 : 0);
    for (int64_t i = 0; probs && i < n; i++) {
        if (labels[i] != 0.0f && labels[i] != 1.0f)
            return pn_error(PNEUMO_ERR_INVALID_ARG, "%s: label %lld is %g (must be 0 or 1)", fn, (long long)i,
                            (double)labels[i]);
        if (!isfinite(probs[i]))
            return pn_error(PNEUMO_ERR_INVALID_ARG, "%s: probability %lld is not finite", fn, (long long)i);
    }
    memset(&e, 0, sizeof e);
    e.ev = *ev;
    e.has_curve = probs != NULL;
    e.name = pn_strdup(name);
    e.names[0] = pn_strdup(class_names ? class_names[0] : "0");
    e.names[1] = pn_strdup(class_names ? class_names[1] : "1");
    if (!e.name || !e.names[0] || !e.names[1]) {
        free_eval(&e);
        return pn_error_nomem("report evaluation", 0);
    }
    if (probs && (st = build_roc(&e, probs, labels, n)) != PNEUMO_OK) {
        free_eval(&e);
        return st;
    }
    e.rel_ece = NAN;
    if (probs && n > 0 &&
        (st = pneumo_calibration_curve(probs, labels, n, PNEUMO_EVALUATION_ECE_BINS, e.rel_count, e.rel_mean,
                                       e.rel_frac, &e.rel_ece)) != PNEUMO_OK) {
        free_eval(&e);
        return pn_error_prefix("%s", fn);
    }
    if (!pn_array_reserve(&r->evals, &r->capevals, r->nevals + 1, sizeof *r->evals, SIZE_MAX)) {
        free_eval(&e);
        return pn_error_nomem("report evaluations", 0);
    }
    r->evals[r->nevals++] = e;
    return PNEUMO_OK;
}

pneumo_status pneumo_report_add_image(pneumo_report *r, const pneumo_image *img, const char *caption)
{
    void *png = NULL;
    size_t size = 0;
    pn_buf b;
    rp_image im;
    pneumo_status st;
    if (!r || !img)
        return pn_error(PNEUMO_ERR_INVALID_ARG, "pneumo_report_add_image: %s is NULL",
                        r ? "image" : "report");
    st = pneumo_image_encode_png(img, &png, &size);
    if (st != PNEUMO_OK)
        return st;
    pn_buf_init(&b);
    pn_base64(&b, png, size);
    pneumo_free(png);
    if (b.failed || !b.data) {
        pn_buf_free(&b);
        return pn_error_nomem("report image (base64)", size * 4 / 3 + 4);
    }
    im.b64 = b.data; /* take the buffer's storage */
    im.w = pneumo_image_width(img);
    im.h = pneumo_image_height(img);
    im.caption = caption ? pn_strdup(caption) : NULL;
    if ((caption && !im.caption) ||
        !pn_array_reserve(&r->images, &r->capimages, r->nimages + 1, sizeof *r->images, SIZE_MAX)) {
        free(im.caption);
        free(im.b64);
        return pn_error_nomem("report image", 0);
    }
    r->images[r->nimages++] = im;
    return PNEUMO_OK;
}

pneumo_status pneumo_report_set_images_title(pneumo_report *r, const char *title)
{
    char *t;
    if (!r || !title)
        return pn_error(PNEUMO_ERR_INVALID_ARG, "pneumo_report_set_images_title: %s is NULL",
                        r ? "title" : "report");
    t = pn_strdup(title);
    if (!t)
        return pn_error_nomem("report images title", strlen(title) + 1);
    free(r->images_title);
    r->images_title = t;
    return PNEUMO_OK;
}

/* ---- rendering ----------------------------------------------------------- */

static const char css[] =
    "*{box-sizing:border-box}\n"
    "body{margin:0;background:#eef1f5;color:#1c2430;"
    "font-family:'Segoe UI','Helvetica Neue',Arial,'Liberation Sans','DejaVu Sans',sans-serif;font-size:14px;line-height:1.4}\n"
    "main{max-width:1200px;margin:0 auto;padding:20px 20px 32px}\n"
    "h1{font-size:26px;margin:0 0 2px;color:#10263d}\n"
    ".sub{color:#5b6575;margin:0 0 16px;font-size:13px}\n"
    "section{background:#fff;border:1px solid #d9dee6;border-radius:8px;padding:14px 18px 16px;margin:0 0 16px}\n"
    "h2{font-size:18px;margin:0 0 10px;color:#17324d}\n"
    "h3{font-size:14px;margin:0 0 6px;color:#17324d}\n"
    ".row{display:flex;flex-wrap:wrap;gap:12px;align-items:flex-start}\n"
    "table{border-collapse:collapse;font-size:13px}\n"
    "th,td{padding:3px 10px;text-align:right;border-bottom:1px solid #e7eaf0;white-space:nowrap}\n"
    "thead th{border-bottom:2px solid #b9c2cf;color:#33404f}\n"
    "tbody th{text-align:left;font-weight:600;color:#33404f}\n"
    "table.kv th{text-align:left;width:1%}\n"
    "table.kv td{text-align:left;white-space:normal;font-family:'DejaVu Sans Mono',monospace;font-size:12.5px}\n"
    "table.cr{font-size:13.5px;margin-top:4px}\n"
    "table.cr th,table.cr td{padding:4px 7px}\n"
    "table.cr tr.gap th,table.cr tr.gap td{border-top:10px solid #fff}\n"
    "table.ep td.note{text-align:left;color:#8a3b12}\n"
    ".stats{margin:0 0 10px;font-size:14px}\n"
    ".stats b{color:#10263d}\n"
    ".card{border:1px solid #e3e7ee;border-radius:6px;padding:8px 10px;background:#fff}\n"
    "pre{font-family:'DejaVu Sans Mono','Liberation Mono',monospace;font-size:12px;background:#f6f7f9;"
    "border:1px solid #e3e7ee;border-radius:6px;padding:10px 12px;margin:0;overflow:auto}\n"
    ".imgs{display:grid;grid-template-columns:repeat(3,minmax(0,1fr));gap:16px 18px}\n"
    "figure{margin:0;text-align:center}\n"
    "figure img{width:100%;max-width:320px;height:auto;border-radius:3px;background:#000}\n"
    "figcaption{font-size:13.5px;margin-top:5px;color:#1c2430}\n"
    "svg.chart{max-width:100%;height:auto;font-family:'Segoe UI','Helvetica Neue',Arial,'Liberation Sans','DejaVu Sans',sans-serif}\n"
    "svg .ct{font-size:15px;font-weight:bold;fill:#10263d}\n"
    "svg .cl{font-size:12px;fill:#33404f}\n"
    "svg .tk{font-size:11px;fill:#3d4651}\n"
    "svg .al{font-size:12.5px;fill:#1c2430}\n"
    "svg .ml{font-size:11px;font-weight:bold}\n"
    "svg .note{font-size:16px;font-weight:bold;fill:#10263d}\n"
    "svg .grid{stroke:#e2e6ec;stroke-width:1}\n"
    "svg .cell{font-size:22px;font-weight:bold}\n"
    "footer{color:#6b7482;font-size:12px;text-align:center}\n"
    "@media print{body{background:#fff}section{break-inside:avoid;border-color:#ccc}}\n";

static void esc(pn_buf *b, const char *s) { pn_html_escape(b, s, 0); }

static void render_settings(pn_buf *b, const pneumo_report *r)
{
    if (!r->nsettings)
        return;
    pn_buf_printf(b, "<section id=\"settings\"><h2>Run settings</h2>\n<table class=\"kv\"><tbody>\n");
    for (size_t i = 0; i < r->nsettings; i++) {
        pn_buf_printf(b, "<tr><th>");
        esc(b, r->keys[i]);
        pn_buf_printf(b, "</th><td>");
        pn_html_escape(b, r->values[i], 1);
        pn_buf_printf(b, "</td></tr>\n");
    }
    pn_buf_printf(b, "</tbody></table></section>\n");
}

static double finite_max(const double *v, int32_t n, double dflt)
{
    double m = -INFINITY;
    for (int32_t i = 0; i < n; i++)
        if (isfinite(v[i]) && v[i] > m)
            m = v[i];
    return isfinite(m) ? m : dflt;
}

static double finite_min(const double *v, int32_t n, double dflt)
{
    double m = INFINITY;
    for (int32_t i = 0; i < n; i++)
        if (isfinite(v[i]) && v[i] < m)
            m = v[i];
    return isfinite(m) ? m : dflt;
}

static int has_finite(const double *v, int32_t n)
{
    for (int32_t i = 0; i < n; i++)
        if (isfinite(v[i]))
            return 1;
    return 0;
}

/* Copy of `b`'s text from `from` on, then truncate `b` back to `from`. */
static char *take_tail(pn_buf *b, size_t from)
{
    char *s;
    if (b->failed || !b->data)
        return NULL;
    s = pn_strdup(b->data + from);
    b->len = from;
    b->data[from] = '\0';
    return s;
}

static pneumo_status render_history(pn_buf *b, const pneumo_report *r)
{
    int32_t n = r->nepochs;
    double *x = NULL;
    pn_vmarker *mk = NULL;
    char **labels = NULL, **tips = NULL;
    int nm = 0;
    pneumo_status st = PNEUMO_OK;
    if (n <= 0)
        return PNEUMO_OK;
    x = pn_malloc((size_t)n * 5 * sizeof *x);
    mk = pn_calloc((size_t)n + 1, sizeof *mk);
    labels = pn_calloc((size_t)n + 1, sizeof *labels);
    tips = pn_calloc((size_t)n + 1, sizeof *tips);
    if (!x || !mk || !labels || !tips) {
        st = pn_error_nomem("report charts", (size_t)n * 5 * sizeof *x);
        goto out;
    }
    {
        double *ex = x, *loss = x + n, *vloss = x + 2 * n, *acc = x + 3 * n, *vacc = x + 4 * n;
        const pneumo_epoch_record *rec = r->epochs;
        pn_series s[2];
        pn_chart c;
        double ymax, ymin, step;
        size_t mark;
        for (int32_t i = 0; i < n; i++) {
            ex[i] = rec[i].epoch + 1.0;
            loss[i] = rec[i].loss;
            vloss[i] = rec[i].val_loss;
            acc[i] = rec[i].accuracy;
            vacc[i] = rec[i].val_accuracy;
        }
        /* markers: lr drops (after the epoch whose successor has a lower lr), early stop */
        for (int32_t i = 1; i < n; i++) {
            if (!(rec[i].lr < rec[i - 1].lr))
                continue;
            mark = b->len;
            pn_buf_printf(b, "lr \xe2\x86\x92 ");
            pn_fmt_lr(b, rec[i].lr);
            labels[nm] = take_tail(b, mark);
            pn_buf_printf(b, "ReduceLROnPlateau after epoch %d: learning rate ", rec[i - 1].epoch + 1);
            pn_fmt_lr(b, rec[i - 1].lr);
            pn_buf_printf(b, " \xe2\x86\x92 ");
            pn_fmt_lr(b, rec[i].lr);
            tips[nm] = take_tail(b, mark);
            if (!labels[nm] || !tips[nm]) {
                st = pn_error_nomem("report charts", 0);
                nm++;
                goto out;
            }
            mk[nm].x = ex[i - 1];
            mk[nm].label = labels[nm];
            mk[nm].tooltip = tips[nm];
            mk[nm].color = "#2a9d3f";
            mk[nm].label_left = 0;
            nm++;
        }
        if (r->stopped_early) {
            mk[nm].x = ex[n - 1];
            mk[nm].label = "early stop";
            mk[nm].tooltip = "EarlyStopping stopped training after this epoch";
            mk[nm].color = "#d62728";
            mk[nm].label_left = 1;
            nm++;
        }

        pn_buf_printf(b, "<section id=\"training\"><h2>Training (%d epoch%s%s)</h2>\n<div class=\"row\">\n",
                      n, n == 1 ? "" : "s", r->stopped_early ? ", stopped early" : "");
        memset(&c, 0, sizeof c);
        c.xmin = ex[0] - 0.5;
        c.xmax = ex[n - 1] + 0.5;
        if (c.xmax - c.xmin < 2.0) {
            c.xmin -= 0.5;
            c.xmax += 0.5;
        }
        c.xstep = n <= 15 ? 1.0 : 0.0;
        if (c.xstep == 0.0) {
            c.xstep = pn_nice_step(c.xmax - c.xmin, 10);
            if (c.xstep < 1.0)
                c.xstep = 1.0;
        }
        c.width = 535;
        c.height = 340;
        c.xlabel = "epoch";
        c.markers = mk;
        c.nmarkers = nm;
        c.series = s;
        memset(s, 0, sizeof s);

        /* loss */
        ymax = finite_max(loss, n, 1.0);
        if (finite_max(vloss, n, 0.0) > ymax)
            ymax = finite_max(vloss, n, 0.0);
        if (!(ymax > 0))
            ymax = 1.0;
        if (ymax > 1e6) /* a diverged run: clip the curve at the top */
            ymax = 1e6;
        step = pn_nice_step(ymax * 1.05, 5);
        c.ymin = 0.0;
        c.ymax = ceil(ymax * 1.05 / step) * step;
        c.ystep = step;
        c.title = "Loss";
        c.ylabel = "binary cross-entropy";
        c.aria = "Training and validation loss per epoch";
        s[0] = (pn_series){"loss (train)", ex, loss, n, "#1f6fb4", 0, 1, 0};
        s[1] = (pn_series){"val_loss", ex, vloss, n, "#e8710a", 1, 1, 0};
        c.nseries = has_finite(vloss, n) ? 2 : 1;
        pn_svg_line_chart(b, &c);

        /* accuracy */
        ymin = finite_min(acc, n, 0.0);
        if (finite_min(vacc, n, 1.0) < ymin)
            ymin = finite_min(vacc, n, 1.0);
        ymin = floor((ymin - 0.02) * 10.0) / 10.0;
        if (ymin < 0.0)
            ymin = 0.0;
        if (ymin > 0.9)
            ymin = 0.9;
        c.ymin = ymin;
        c.ymax = 1.0;
        c.ystep = pn_nice_step(1.0 - ymin, 5);
        c.title = "Accuracy";
        c.ylabel = "accuracy";
        c.aria = "Training and validation accuracy per epoch";
        s[0] = (pn_series){"accuracy (train)", ex, acc, n, "#1f6fb4", 0, 1, 0};
        s[1] = (pn_series){"val_accuracy", ex, vacc, n, "#e8710a", 1, 1, 0};
        c.nseries = has_finite(vacc, n) ? 2 : 1;
        pn_svg_line_chart(b, &c);
        pn_buf_printf(b, "</div>\n");

        /* the epochs as a table */
        pn_buf_printf(b, "<table class=\"ep\"><thead><tr><th>epoch</th><th>loss</th><th>accuracy</th>"
                         "<th>val_loss</th><th>val_accuracy</th><th>lr</th><th>seconds</th><th></th></tr>"
                         "</thead><tbody>\n");
        for (int32_t i = 0; i < n; i++) {
            const double cells[4] = {rec[i].loss, rec[i].accuracy, rec[i].val_loss, rec[i].val_accuracy};
            pn_buf_printf(b, "<tr><th>%d</th>", rec[i].epoch + 1);
            for (int k = 0; k < 4; k++) {
                pn_buf_printf(b, "<td>");
                if (isfinite(cells[k]))
                    pn_fmt_fixed(b, cells[k], 4);
                else
                    pn_buf_printf(b, "&ndash;");
                pn_buf_printf(b, "</td>");
            }
            pn_buf_printf(b, "<td>");
            pn_fmt_lr(b, rec[i].lr);
            pn_buf_printf(b, "</td><td>");
            pn_fmt_fixed(b, rec[i].seconds, rec[i].seconds < 10 ? 1 : 0);
            pn_buf_printf(b, "</td><td class=\"note\">");
            if (i + 1 < n && rec[i + 1].lr < rec[i].lr) {
                pn_buf_printf(b, "ReduceLROnPlateau: lr \xe2\x86\x92 ");
                pn_fmt_lr(b, rec[i + 1].lr);
            }
            if (i + 1 == n && r->stopped_early)
                pn_buf_printf(b, "EarlyStopping stops training");
            pn_buf_printf(b, "</td></tr>\n");
        }
        pn_buf_printf(b, "</tbody></table></section>\n");
    }
out:
    for (int i = 0; labels && tips && i < nm; i++) {
        free(labels[i]);
        free(tips[i]);
    }
    free(labels);
    free(tips);
    free(mk);
    free(x);
    return st;
}

/* Sequential blue scale (light to dark) for t in [0, 1]. */
static void blues(double t, int rgb[3])
{
    static const int stops[4][3] = {{239, 246, 253}, {158, 202, 225}, {49, 130, 189}, {8, 48, 107}};
    double u;
    int k;
    if (!(t > 0))
        t = 0;
    if (t > 1)
        t = 1;
    u = t * 3.0;
    k = (int)u;
    if (k > 2)
        k = 2;
    u -= k;
    for (int c = 0; c < 3; c++)
        rgb[c] = (int)lround(stops[k][c] + (stops[k + 1][c] - stops[k][c]) * u);
}

static void render_heatmap(pn_buf *b, const rp_eval *e, size_t idx)
{
    const int64_t *m = e->ev.confusion.m;
    int64_t mx = 0, total = 0;
    const int cell = 92, left = 104, top = 52, w = 348, h = 302;
    for (int k = 0; k < 4; k++) {
        if (m[k] > mx)
            mx = m[k];
        total += m[k];
    }
    pn_buf_printf(b,
                  "<svg xmlns=\"http://www.w3.org/2000/svg\" class=\"chart\" width=\"%d\" height=\"%d\" "
                  "viewBox=\"0 0 %d %d\" role=\"img\" aria-label=\"Confusion matrix\">\n",
                  w, h, w, h);
    pn_buf_printf(b, "<rect x=\"0\" y=\"0\" width=\"%d\" height=\"%d\" fill=\"#fff\"/>\n", w, h);
    pn_buf_printf(b, "<defs><linearGradient id=\"cmbar%zu\" x1=\"0\" y1=\"1\" x2=\"0\" y2=\"0\">", idx);
    for (int s = 0; s <= 4; s++) {
        int rgb[3];
        blues(s / 4.0, rgb);
        pn_buf_printf(b, "<stop offset=\"%d%%\" stop-color=\"rgb(%d,%d,%d)\"/>", s * 25, rgb[0], rgb[1],
                      rgb[2]);
    }
    pn_buf_printf(b, "</linearGradient></defs>\n");
    pn_buf_printf(b, "<text x=\"%d\" y=\"20\" class=\"ct\" text-anchor=\"middle\">Confusion matrix</text>\n",
                  left + cell);
    for (int row = 0; row < 2; row++)
        for (int col = 0; col < 2; col++) {
            int64_t v = m[row * 2 + col];
            double t = mx ? (double)v / (double)mx : 0.0;
            int rgb[3];
            blues(t, rgb);
            pn_buf_printf(b, "<g><title>actual ");
            esc(b, e->names[row]);
            pn_buf_printf(b, ", predicted ");
            esc(b, e->names[col]);
            pn_buf_printf(b,
                          ": %lld</title><rect x=\"%d\" y=\"%d\" width=\"%d\" height=\"%d\" "
                          "fill=\"rgb(%d,%d,%d)\" stroke=\"#fff\" stroke-width=\"2\"/>",
                          (long long)v, left + col * cell, top + row * cell, cell, cell, rgb[0], rgb[1],
                          rgb[2]);
            pn_buf_printf(
                b, "<text x=\"%d\" y=\"%d\" class=\"cell\" text-anchor=\"middle\" fill=\"%s\">%lld</text>",
                left + col * cell + cell / 2, top + row * cell + cell / 2 + 4, t > 0.45 ? "#fff" : "#10263d",
                (long long)v);
            if (total) {
                pn_buf_printf(b,
                              "<text x=\"%d\" y=\"%d\" class=\"tk\" text-anchor=\"middle\" "
                              "style=\"fill:%s\">",
                              left + col * cell + cell / 2, top + row * cell + cell / 2 + 24,
                              t > 0.45 ? "#e8f0f8" : "#3d4651");
                pn_fmt_fixed(b, 100.0 * (double)v / (double)total, 1);
                pn_buf_printf(b, "%%</text>");
            }
            pn_buf_printf(b, "</g>\n");
        }
    /* class names: columns (predicted) below, rows (actual) left */
    for (int k = 0; k < 2; k++) {
        pn_buf_printf(b, "<text x=\"%d\" y=\"%d\" class=\"al\" text-anchor=\"middle\">",
                      left + k * cell + cell / 2, top + 2 * cell + 18);
        esc(b, e->names[k]);
        pn_buf_printf(b, "</text><text x=\"%d\" y=\"%d\" class=\"al\" text-anchor=\"end\">", left - 8,
                      top + k * cell + cell / 2 + 4);
        esc(b, e->names[k]);
        pn_buf_printf(b, "</text>\n");
    }
    pn_buf_printf(b,
                  "<text x=\"%d\" y=\"%d\" class=\"al\" text-anchor=\"middle\" font-weight=\"bold\">"
                  "Predicted</text>\n",
                  left + cell, top + 2 * cell + 40);
    pn_buf_printf(b,
                  "<text x=\"18\" y=\"%d\" class=\"al\" text-anchor=\"middle\" font-weight=\"bold\" "
                  "transform=\"rotate(-90 18 %d)\">Actual</text>\n",
                  top + cell, top + cell);
    /* colour bar */
    {
        int bx = left + 2 * cell + 16, bh = 2 * cell;
        pn_buf_printf(b,
                      "<rect x=\"%d\" y=\"%d\" width=\"14\" height=\"%d\" fill=\"url(#cmbar%zu)\" "
                      "stroke=\"#9aa5b1\" stroke-width=\"0.5\"/>\n",
                      bx, top, bh, idx);
        pn_buf_printf(b, "<text x=\"%d\" y=\"%d\" class=\"tk\">%lld</text>\n", bx + 18, top + 9,
                      (long long)mx);
        pn_buf_printf(b, "<text x=\"%d\" y=\"%d\" class=\"tk\">0</text>\n", bx + 18, top + bh);
    }
    pn_buf_printf(b, "</svg>\n");
}

static void render_roc(pn_buf *b, const rp_eval *e, double auc)
{
    double *x, *y;
    pn_series s;
    pn_chart c;
    pn_buf note;
    x = pn_malloc((size_t)e->npts * 2 * sizeof *x);
    if (!x) {
        b->failed = PN_BUF_NOMEM;
        return;
    }
    y = x + e->npts;
    for (int64_t i = 0; i < e->npts; i++) {
        x[i] = (double)e->fp[i] / (double)e->neg;
        y[i] = (double)e->tp[i] / (double)e->pos;
    }
    pn_buf_init(&note);
    if (isfinite(auc)) {
        pn_buf_printf(&note, "AUC = ");
        pn_fmt_fixed(&note, auc, 3);
    } else {
        pn_buf_printf(&note, "AUC undefined");
    }
    memset(&c, 0, sizeof c);
    s = (pn_series){NULL, x, y, e->npts, "#c2185b", 0, e->npts <= 40, 1};
    c.title = "ROC curve";
    c.xlabel = "false positive rate";
    c.ylabel = "true positive rate";
    c.xmin = 0.0;
    c.xmax = 1.0;
    c.ymin = 0.0;
    c.ymax = 1.0;
    c.xstep = c.ystep = 0.2;
    c.width = 340;
    c.height = 358; /* square plot area: 260 x 260 px */
    c.series = &s;
    c.nseries = 1;
    c.diagonal = 1;
    c.note = note.failed ? NULL : note.data;
    c.aria = "ROC curve";
    pn_svg_line_chart(b, &c);
    pn_buf_free(&note);
    free(x);
}

/* Reliability diagram: fraction of class 1 against mean probability per
 * non-empty bin, with the diagonal of perfect calibration. */
static void render_reliability(pn_buf *b, const rp_eval *e)
{
    double x[PNEUMO_EVALUATION_ECE_BINS], y[PNEUMO_EVALUATION_ECE_BINS];
    int64_t k = 0;
    pn_series s;
    pn_chart c;
    pn_buf note;
    for (int i = 0; i < PNEUMO_EVALUATION_ECE_BINS; i++)
        if (e->rel_count[i] > 0) {
            x[k] = e->rel_mean[i];
            y[k++] = e->rel_frac[i];
        }
    pn_buf_init(&note);
    pn_buf_printf(&note, "ECE = ");
    pn_fmt_fixed(&note, e->rel_ece, 3);
    memset(&c, 0, sizeof c);
    s = (pn_series){NULL, x, y, k, "#1565c0", 0, 1, 0};
    c.title = "Reliability diagram";
    c.xlabel = "mean predicted probability (bins of 0.1)";
    c.ylabel = "fraction of class 1";
    c.xmin = 0.0;
    c.xmax = 1.0;
    c.ymin = 0.0;
    c.ymax = 1.0;
    c.xstep = c.ystep = 0.2;
    c.width = 340;
    c.height = 358;
    c.series = &s;
    c.nseries = 1;
    c.diagonal = 1;
    c.note = note.failed ? NULL : note.data;
    c.aria = "Reliability diagram";
    pn_svg_line_chart(b, &c);
    pn_buf_free(&note);
}

static void cr_row(pn_buf *b, const char *label, const char *cls, double p, double rc, double f,
                   int64_t support, int only_f)
{
    pn_buf_printf(b, "<tr%s><th>", cls);
    esc(b, label);
    pn_buf_printf(b, "</th>");
    if (only_f) {
        pn_buf_printf(b, "<td></td><td></td>");
    } else {
        pn_buf_printf(b, "<td>");
        pn_fmt_fixed(b, p, 2);
        pn_buf_printf(b, "</td><td>");
        pn_fmt_fixed(b, rc, 2);
        pn_buf_printf(b, "</td>");
    }
    pn_buf_printf(b, "<td>");
    pn_fmt_fixed(b, f, 2);
    pn_buf_printf(b, "</td><td>%lld</td></tr>\n", (long long)support);
}

static double ratio(int64_t a, int64_t b) { return b ? (double)a / (double)b : 0.0; }
static double f1(double p, double r) { return p + r > 0.0 ? 2.0 * p * r / (p + r) : 0.0; }

/* sklearn's classification_report with the formulas of pneumo_classification_report(). */
static void render_class_report(pn_buf *b, const rp_eval *e)
{
    const int64_t *m = e->ev.confusion.m;
    int64_t support[2] = {m[0] + m[1], m[2] + m[3]}, total = m[0] + m[1] + m[2] + m[3];
    double prec[2] = {ratio(m[0], m[0] + m[2]), ratio(m[3], m[1] + m[3])};
    double rec[2] = {ratio(m[0], support[0]), ratio(m[3], support[1])};
    double f[2] = {f1(prec[0], rec[0]), f1(prec[1], rec[1])};
    double w0 = ratio(support[0], total), w1 = ratio(support[1], total);
    pn_buf_printf(
        b, "<div class=\"card\"><h3>Classification report</h3>\n<table class=\"cr\"><thead><tr><th></th>"
           "<th>precision</th><th>recall</th><th>f1-score</th><th>support</th></tr></thead><tbody>\n");
    for (int k = 0; k < 2; k++)
        cr_row(b, e->names[k], "", prec[k], rec[k], f[k], support[k], 0);
    cr_row(b, "accuracy", " class=\"gap\"", 0, 0, pneumo_confusion_accuracy(&e->ev.confusion), total, 1);
    cr_row(b, "macro avg", "", (prec[0] + prec[1]) / 2, (rec[0] + rec[1]) / 2, (f[0] + f[1]) / 2, total, 0);
    cr_row(b, "weighted avg", "", w0 * prec[0] + w1 * prec[1], w0 * rec[0] + w1 * rec[1],
           w0 * f[0] + w1 * f[1], total, 0);
    pn_buf_printf(b, "</tbody></table></div>\n");
}

static void render_evaluation(pn_buf *b, const rp_eval *e, size_t idx)
{
    double auc = e->ev.roc_auc;
    if (!isfinite(auc))
        auc = curve_auc(e);
    pn_buf_printf(b, "<section class=\"eval\" id=\"eval%zu\"><h2>Evaluation: ", idx + 1);
    esc(b, e->name);
    pn_buf_printf(b, "</h2>\n<p class=\"stats\">%lld images &middot; loss <b>",
                  (long long)(e->ev.confusion.m[0] + e->ev.confusion.m[1] + e->ev.confusion.m[2] +
                              e->ev.confusion.m[3]));
    if (isfinite(e->ev.loss))
        pn_fmt_fixed(b, e->ev.loss, 4);
    else
        pn_buf_printf(b, "&ndash;");
    pn_buf_printf(b, "</b> &middot; accuracy <b>");
    pn_fmt_fixed(b, 100.0 * e->ev.accuracy, 2);
    pn_buf_printf(b, "%%</b> &middot; ROC AUC <b>");
    if (isfinite(auc))
        pn_fmt_fixed(b, auc, 4);
    else
        pn_buf_printf(b, "undefined (one class only)");
    if (e->has_curve && isfinite(e->rel_ece)) {
        pn_buf_printf(b, "</b> &middot; calibration error (ECE) <b>");
        pn_fmt_fixed(b, e->rel_ece, 3);
    }
    pn_buf_printf(b, "</b></p>\n<div class=\"row\">\n");
    render_heatmap(b, e, idx);
    if (e->has_curve && e->npts >= 2)
        render_roc(b, e, auc);
    if (e->has_curve && isfinite(e->rel_ece))
        render_reliability(b, e);
    render_class_report(b, e);
    pn_buf_printf(b, "</div></section>\n");
}

static void render_images(pn_buf *b, const pneumo_report *r)
{
    if (!r->nimages)
        return;
    pn_buf_printf(b, "<section id=\"images\"><h2>");
    esc(b, r->images_title);
    pn_buf_printf(b, "</h2>\n<div class=\"imgs\">\n");
    for (size_t i = 0; i < r->nimages; i++) {
        const rp_image *im = &r->images[i];
        pn_buf_printf(b, "<figure><img width=\"%d\" height=\"%d\" alt=\"", im->w, im->h);
        if (im->caption)
            esc(b, im->caption);
        else
            pn_buf_printf(b, "image %zu", i + 1);
        pn_buf_printf(b, "\" src=\"data:image/png;base64,");
        pn_buf_append(b, im->b64, strlen(im->b64));
        pn_buf_printf(b, "\">");
        if (im->caption) {
            pn_buf_printf(b, "<figcaption>");
            pn_html_escape(b, im->caption, 1);
            pn_buf_printf(b, "</figcaption>");
        }
        pn_buf_printf(b, "</figure>\n");
    }
    pn_buf_printf(b, "</div></section>\n");
}

static pneumo_status render(const pneumo_report *r, pn_buf *b)
{
    pneumo_status st;
    pn_buf_printf(b,
                  "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n"
                  "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n"
                  "<meta name=\"generator\" content=\"libpneumo %s\">\n<title>",
                  pneumo_version());
    esc(b, r->title);
    pn_buf_printf(b, "</title>\n<style>\n%s</style>\n</head>\n<body>\n<main>\n<h1>", css);
    esc(b, r->title);
    pn_buf_printf(
        b,
        "</h1>\n<p class=\"sub\">libpneumo %s &middot; self-contained report (no scripts, no network)"
        "</p>\n",
        pneumo_version());
    render_settings(b, r);
    st = render_history(b, r);
    if (st != PNEUMO_OK)
        return st;
    for (size_t i = 0; i < r->nevals; i++)
        render_evaluation(b, &r->evals[i], i);
    render_images(b, r);
    if (r->summary) {
        pn_buf_printf(b, "<section id=\"model\"><h2>Model</h2>\n<pre>");
        esc(b, r->summary);
        pn_buf_printf(b, "</pre></section>\n");
    }
    pn_buf_printf(b, "<footer>Generated by libpneumo %s.</footer>\n</main>\n</body>\n</html>\n",
                  pneumo_version());
    if (b->failed)
        return pn_error_nomem("HTML report", b->len);
    return PNEUMO_OK;
}

pneumo_status pneumo_report_render_html(const pneumo_report *r, char *buf, size_t size, size_t *needed)
{
    pn_buf b;
    pneumo_status st;
    if (!r)
        return pn_error(PNEUMO_ERR_INVALID_ARG, "pneumo_report_render_html: report is NULL");
    if (!buf && size)
        return pn_error(PNEUMO_ERR_INVALID_ARG, "pneumo_report_render_html: buf is NULL but size is %zu",
                        size);
    pn_buf_init(&b);
    st = render(r, &b);
    if (st != PNEUMO_OK) {
        pn_buf_free(&b);
        return st;
    }
    return pn_buf_export(&b, buf, size, needed, "HTML report");
}

pneumo_status pneumo_report_save_html(const pneumo_report *r, const char *path)
{
    pn_buf b;
    pneumo_status st;
    if (!r || !path || !path[0])
        return pn_error(PNEUMO_ERR_INVALID_ARG, "pneumo_report_save_html: %s",
                        !r ? "report is NULL" : "path is NULL or empty");
    pn_buf_init(&b);
    st = render(r, &b);
    if (st == PNEUMO_OK)
        st = pn_atomic_write(path, b.data, b.len);
    pn_buf_free(&b);
    return st;
}
