/* Internal helpers of the HTML report (lib/report/report.c): locale-independent
 * number text, HTML escaping, base64, and inline SVG line charts.
 *
 * Everything appends to a pn_buf (io/json.h); like the rest of pn_buf, a failed
 * allocation sets buf->failed and later appends do nothing, so a writer checks
 * `failed` once at the end. Nothing here prints or allocates outside the buf. */
#ifndef PN_TRAIN_SVG_H
#define PN_TRAIN_SVG_H

#include <stddef.h>
#include <stdint.h>

#include "core/buf.h"

/* v with `decimals` digits after the point, as printf("%.*f") rounds it, but
 * always with '.' whatever LC_NUMERIC says. Non-finite values give "nan"/"inf". */
void pn_fmt_fixed(pn_buf *b, double v, int decimals);

/* A learning rate in short scientific form: 0.0003 -> "3e-4", 9e-5 -> "9e-5",
 * 2.7e-4 -> "2.7e-4"; values >= 0.01 as "%g" ("0.1"). */
void pn_fmt_lr(pn_buf *b, double v);

/* `s` with & < > " ' escaped; control characters other than tab and newline are
 * dropped. With `newline_br`, '\n' becomes "<br>". NULL appends nothing. */
void pn_html_escape(pn_buf *b, const char *s, int newline_br);

/* Standard base64 (RFC 4648, with '=' padding) of n bytes. */
void pn_base64(pn_buf *b, const void *data, size_t n);

/* One polyline of a chart. Points with a non-finite x or y are gaps. */
typedef struct pn_series {
    const char *name; /* legend text (NULL: not in the legend) */
    const double *x, *y;
    int64_t n;
    const char *color; /* CSS colour */
    int dashed;        /* 1: dashed stroke */
    int dots;          /* 1: a dot on every point */
    int fill;          /* 1: fill the area under the curve (lightly) */
} pn_series;

/* A vertical dashed line at x with a label above the plot area. */
typedef struct pn_vmarker {
    double x;
    const char *label;   /* short text drawn above the plot */
    const char *tooltip; /* <title> text (NULL: the label) */
    const char *color;
    int label_left; /* 1: label ends at the line; 0: starts at it */
} pn_vmarker;

typedef struct pn_chart {
    const char *title, *xlabel, *ylabel;
    double xmin, xmax, ymin, ymax;
    double xstep, ystep; /* tick spacing; <= 0: chosen automatically */
    int width, height;   /* SVG size in px */
    const pn_series *series;
    int nseries;
    const pn_vmarker *markers;
    int nmarkers;
    int diagonal;     /* 1: gray dashed line y = x (ROC chance line) */
    const char *note; /* text in the lower right corner of the plot (e.g. AUC) */
    const char *aria; /* accessible description */
} pn_chart;

/* A "nice" tick step (1, 2, 2.5 or 5 times a power of ten) giving about
 * `target` intervals over `range`. */
double pn_nice_step(double range, int target);

/* Append an <svg> element drawing the chart. */
void pn_svg_line_chart(pn_buf *b, const pn_chart *c);

#endif
