/* Inline SVG line charts and text helpers for the HTML report. */
#include "report/svg.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

void pn_fmt_fixed(pn_buf *b, double v, int decimals)
{
    char tmp[64], out[64];
    size_t j = 0;
    int in_sep = 0;
    if (!isfinite(v)) {
        pn_buf_printf(b, "%s", isnan(v) ? "nan" : v > 0 ? "inf" : "-inf");
        return;
    }
    if (decimals < 0)
        decimals = 0;
    if (decimals > 12)
        decimals = 12;
    if (fabs(v) >= 1e15) /* keep the text short; never reached by the report */
        v = v > 0 ? 1e15 : -1e15;
    snprintf(tmp, sizeof tmp, "%.*f", decimals, v);
    /* "%.*f" gives [-]digits[<decimal point>digits]; the decimal point may be any
     * (even multi-byte) text in the current locale: turn it into '.'. */
    for (size_t i = 0; tmp[i] && j + 1 < sizeof out; i++) {
        char ch = tmp[i];
        if ((ch >= '0' && ch <= '9') || (ch == '-' && i == 0)) {
            out[j++] = ch;
            in_sep = 0;
        } else if (!in_sep) {
            out[j++] = '.';
            in_sep = 1;
        }
    }
    out[j] = '\0';
    pn_buf_append(b, out, j);
}

void pn_fmt_lr(pn_buf *b, double v)
{
    int e;
    double mant;
    if (!isfinite(v) || v <= 0.0) {
        pn_fmt_fixed(b, v, 0);
        return;
    }
    if (v >= 0.01) {
        /* 0.01 .. : plain decimal with up to 4 significant digits */
        int dec = v >= 100 ? 0 : v >= 1 ? 3 : 4;
        char tmp[64];
        size_t len;
        pn_buf nb;
        pn_buf_init(&nb);
        pn_fmt_fixed(&nb, v, dec);
        if (nb.failed || !nb.data) {
            pn_buf_free(&nb);
            b->failed = b->failed ? b->failed : PN_BUF_NOMEM;
            return;
        }
        snprintf(tmp, sizeof tmp, "%s", nb.data);
        pn_buf_free(&nb);
        len = strlen(tmp);
        if (strchr(tmp, '.')) { /* strip trailing zeros and a bare point */
            while (len > 0 && tmp[len - 1] == '0')
                len--;
            if (len > 0 && tmp[len - 1] == '.')
                len--;
        }
        pn_buf_append(b, tmp, len);
        return;
    }
    e = (int)floor(log10(v));
    mant = v / pow(10.0, e);
    mant = round(mant * 10.0) / 10.0; /* two significant digits */
    if (mant >= 10.0) {
        mant /= 10.0;
        e++;
    }
    if (fabs(mant - round(mant)) < 1e-9)
        pn_fmt_fixed(b, mant, 0);
    else
        pn_fmt_fixed(b, mant, 1);
    pn_buf_printf(b, "e%d", e);
}

void pn_html_escape(pn_buf *b, const char *s, int newline_br)
{
    const char *run;
    if (!s)
        return;
    run = s;
    for (; *s; s++) {
        const char *rep = NULL;
        unsigned char ch = (unsigned char)*s;
        switch (ch) {
        case '&': rep = "&amp;"; break;
        case '<': rep = "&lt;"; break;
        case '>': rep = "&gt;"; break;
        case '"': rep = "&quot;"; break;
        case '\'': rep = "&#39;"; break;
        case '\n': rep = newline_br ? "<br>" : NULL; break;
        case '\t': break;
        default:
            if (ch < 0x20 || ch == 0x7f)
                rep = "";
            break;
        }
        if (rep) {
            pn_buf_append(b, run, (size_t)(s - run));
            pn_buf_append(b, rep, strlen(rep));
            run = s + 1;
        }
    }
    pn_buf_append(b, run, (size_t)(s - run));
}

void pn_base64(pn_buf *b, const void *data, size_t n)
{
    static const char tab[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    const unsigned char *p = data;
    char chunk[256];
    size_t k = 0, i = 0;
    for (; i + 3 <= n; i += 3) {
        uint32_t v = (uint32_t)p[i] << 16 | (uint32_t)p[i + 1] << 8 | p[i + 2];
        chunk[k++] = tab[v >> 18];
        chunk[k++] = tab[(v >> 12) & 63];
        chunk[k++] = tab[(v >> 6) & 63];
        chunk[k++] = tab[v & 63];
        if (k + 4 > sizeof chunk) {
            pn_buf_append(b, chunk, k);
            k = 0;
        }
    }
    if (n - i == 1) {
        uint32_t v = (uint32_t)p[i] << 16;
        chunk[k++] = tab[v >> 18];
        chunk[k++] = tab[(v >> 12) & 63];
        chunk[k++] = '=';
        chunk[k++] = '=';
    } else if (n - i == 2) {
        uint32_t v = (uint32_t)p[i] << 16 | (uint32_t)p[i + 1] << 8;
        chunk[k++] = tab[v >> 18];
        chunk[k++] = tab[(v >> 12) & 63];
        chunk[k++] = tab[(v >> 6) & 63];
        chunk[k++] = '=';
    }
    pn_buf_append(b, chunk, k);
}

double pn_nice_step(double range, int target)
{
    double raw, mag, f;
    if (!(range > 0.0) || !isfinite(range) || target < 1)
        return range > 0.0 ? range : 1.0; /* non-finite range: callers cap it first */
    raw = range / target;
    mag = pow(10.0, floor(log10(raw)));
    f = raw / mag;
    if (f <= 1.0)
        f = 1.0;
    else if (f <= 2.0)
        f = 2.0;
    else if (f <= 2.5)
        f = 2.5;
    else if (f <= 5.0)
        f = 5.0;
    else
        f = 10.0;
    return f * mag;
}

/* Digits after the point needed to print multiples of `step` exactly. */
static int step_decimals(double step)
{
    for (int d = 0; d < 8; d++) {
        double s = step * pow(10.0, d);
        if (fabs(s - round(s)) < 1e-6 * (s > 1 ? s : 1))
            return d;
    }
    return 8;
}

/* Coordinates in px with one decimal. */
static void coord(pn_buf *b, double v) { pn_fmt_fixed(b, v, 1); }

typedef struct frame {
    double left, top, pw, ph;
    double xmin, xmax, ymin, ymax;
} frame;

static double fx(const frame *f, double x) { return f->left + (x - f->xmin) / (f->xmax - f->xmin) * f->pw; }
static double fy(const frame *f, double y)
{
    return f->top + (1.0 - (y - f->ymin) / (f->ymax - f->ymin)) * f->ph;
}

/* Approximate width of `s` at the 11 px label font. */
static double text_w(const char *s)
{
    double w = 0.0;
    for (; *s; s++)
        if (((unsigned char)*s & 0xC0) != 0x80) /* count code points */
            w += 6.2;
    return w;
}

static void series_path(pn_buf *b, const frame *f, const pn_series *s)
{
    int pen = 0;
    for (int64_t i = 0; i < s->n; i++) {
        double x = s->x[i], y = s->y[i];
        if (!isfinite(x) || !isfinite(y)) {
            pen = 0;
            continue;
        }
        if (y < f->ymin)
            y = f->ymin;
        if (y > f->ymax)
            y = f->ymax;
        pn_buf_append(b, pen ? " L" : " M", 2);
        coord(b, fx(f, x));
        pn_buf_append(b, " ", 1);
        coord(b, fy(f, y));
        pen = 1;
    }
}

void pn_svg_line_chart(pn_buf *b, const pn_chart *c)
{
    frame f;
    double xstep, ystep, band_top;
    int rows_used = 0;
    double row_end[2] = {-1e9, -1e9};
    int label_row[64];

    f.xmin = c->xmin;
    f.xmax = c->xmax > c->xmin ? c->xmax : c->xmin + 1.0;
    f.ymin = c->ymin;
    f.ymax = c->ymax > c->ymin ? c->ymax : c->ymin + 1.0;

    /* Rows of marker labels above the plot, assigned greedily left to right. */
    for (int i = 0; i < c->nmarkers && i < 64; i++)
        label_row[i] = 0;
    {
        /* process in x order without sorting the caller's array: markers come
         * sorted by epoch from the report, which is all this needs */
        double pw_guess = c->width - 62.0 - 18.0;
        for (int i = 0; i < c->nmarkers && i < 64; i++) {
            const pn_vmarker *m = &c->markers[i];
            double x = 62.0 + (m->x - f.xmin) / (f.xmax - f.xmin) * pw_guess;
            double w = text_w(m->label ? m->label : "");
            double x0 = m->label_left ? x - 3 - w : x + 3;
            int r = row_end[0] < x0 - 6 ? 0 : 1;
            label_row[i] = r;
            if (x0 + w > row_end[r])
                row_end[r] = x0 + w;
            if (r + 1 > rows_used)
                rows_used = r + 1;
        }
    }
    band_top = 50.0;
    f.left = 62.0;
    f.top = band_top + 14.0 * rows_used + (rows_used ? 6.0 : 0.0);
    f.pw = c->width - f.left - 18.0;
    f.ph = c->height - f.top - 48.0;

    pn_buf_printf(b,
                  "<svg xmlns=\"http://www.w3.org/2000/svg\" class=\"chart\" width=\"%d\" height=\"%d\" "
                  "viewBox=\"0 0 %d %d\" role=\"img\" aria-label=\"",
                  c->width, c->height, c->width, c->height);
    pn_html_escape(b, c->aria ? c->aria : c->title, 0);
    pn_buf_printf(b, "\">\n");
    pn_buf_printf(b, "<rect x=\"0\" y=\"0\" width=\"%d\" height=\"%d\" fill=\"#fff\"/>\n", c->width,
                  c->height);
    /* title */
    pn_buf_printf(b, "<text x=\"%d\" y=\"20\" class=\"ct\" text-anchor=\"middle\">", c->width / 2);
    pn_html_escape(b, c->title, 0);
    pn_buf_printf(b, "</text>\n");
    /* legend */
    {
        double lx = f.left;
        for (int i = 0; i < c->nseries; i++) {
            const pn_series *s = &c->series[i];
            if (!s->name)
                continue;
            pn_buf_printf(b, "<line x1=\"");
            coord(b, lx);
            pn_buf_printf(b, "\" y1=\"38\" x2=\"");
            coord(b, lx + 22);
            pn_buf_printf(b, "\" y2=\"38\" stroke=\"%s\" stroke-width=\"2.5\"%s/>", s->color,
                          s->dashed ? " stroke-dasharray=\"6 3\"" : "");
            pn_buf_printf(b, "<text x=\"");
            coord(b, lx + 27);
            pn_buf_printf(b, "\" y=\"42\" class=\"cl\">");
            pn_html_escape(b, s->name, 0);
            pn_buf_printf(b, "</text>\n");
            lx += 27 + text_w(s->name) * 1.1 + 18;
        }
    }
    /* plot background and grid */
    pn_buf_printf(b, "<rect x=\"");
    coord(b, f.left);
    pn_buf_printf(b, "\" y=\"");
    coord(b, f.top);
    pn_buf_printf(b, "\" width=\"");
    coord(b, f.pw);
    pn_buf_printf(b, "\" height=\"");
    coord(b, f.ph);
    pn_buf_printf(b, "\" fill=\"#fafbfc\" stroke=\"#444\" stroke-width=\"1\"/>\n");

    xstep = c->xstep > 0 ? c->xstep : pn_nice_step(f.xmax - f.xmin, 8);
    ystep = c->ystep > 0 ? c->ystep : pn_nice_step(f.ymax - f.ymin, 5);
    /* at most ~100 ticks whatever the caller asked for */
    if (!((f.xmax - f.xmin) / xstep <= 100.0))
        xstep = pn_nice_step(f.xmax - f.xmin, 8);
    if (!((f.ymax - f.ymin) / ystep <= 100.0))
        ystep = pn_nice_step(f.ymax - f.ymin, 5);
    {
        int xd = step_decimals(xstep), yd = step_decimals(ystep);
        double eps;
        double t0;
        eps = xstep * 1e-6;
        t0 = ceil((f.xmin - eps) / xstep) * xstep;
        for (int k = 0; k <= 120 && t0 + k * xstep <= f.xmax + eps; k++) {
            double t = t0 + k * xstep, px = fx(&f, t);
            pn_buf_printf(b, "<line x1=\"");
            coord(b, px);
            pn_buf_printf(b, "\" y1=\"");
            coord(b, f.top);
            pn_buf_printf(b, "\" x2=\"");
            coord(b, px);
            pn_buf_printf(b, "\" y2=\"");
            coord(b, f.top + f.ph + 5);
            pn_buf_printf(b, "\" class=\"grid\"/><text x=\"");
            coord(b, px);
            pn_buf_printf(b, "\" y=\"");
            coord(b, f.top + f.ph + 18);
            pn_buf_printf(b, "\" class=\"tk\" text-anchor=\"middle\">");
            pn_fmt_fixed(b, fabs(t) < eps ? 0.0 : t, xd);
            pn_buf_printf(b, "</text>\n");
        }
        eps = ystep * 1e-6;
        t0 = ceil((f.ymin - eps) / ystep) * ystep;
        for (int k = 0; k <= 120 && t0 + k * ystep <= f.ymax + eps; k++) {
            double t = t0 + k * ystep, py = fy(&f, t);
            pn_buf_printf(b, "<line x1=\"");
            coord(b, f.left - 5);
            pn_buf_printf(b, "\" y1=\"");
            coord(b, py);
            pn_buf_printf(b, "\" x2=\"");
            coord(b, f.left + f.pw);
            pn_buf_printf(b, "\" y2=\"");
            coord(b, py);
            pn_buf_printf(b, "\" class=\"grid\"/><text x=\"");
            coord(b, f.left - 8);
            pn_buf_printf(b, "\" y=\"");
            coord(b, py + 4);
            pn_buf_printf(b, "\" class=\"tk\" text-anchor=\"end\">");
            pn_fmt_fixed(b, fabs(t) < eps ? 0.0 : t, yd);
            pn_buf_printf(b, "</text>\n");
        }
    }
    /* axis labels */
    if (c->xlabel) {
        pn_buf_printf(b, "<text x=\"");
        coord(b, f.left + f.pw / 2);
        pn_buf_printf(b, "\" y=\"");
        coord(b, f.top + f.ph + 38);
        pn_buf_printf(b, "\" class=\"al\" text-anchor=\"middle\">");
        pn_html_escape(b, c->xlabel, 0);
        pn_buf_printf(b, "</text>\n");
    }
    if (c->ylabel) {
        double cy = f.top + f.ph / 2;
        pn_buf_printf(b, "<text x=\"16\" y=\"");
        coord(b, cy);
        pn_buf_printf(b, "\" class=\"al\" text-anchor=\"middle\" transform=\"rotate(-90 16 ");
        coord(b, cy);
        pn_buf_printf(b, ")\">");
        pn_html_escape(b, c->ylabel, 0);
        pn_buf_printf(b, "</text>\n");
    }
    if (c->diagonal) {
        pn_buf_printf(b, "<line x1=\"");
        coord(b, fx(&f, f.xmin > f.ymin ? f.xmin : f.ymin));
        pn_buf_printf(b, "\" y1=\"");
        coord(b, fy(&f, f.xmin > f.ymin ? f.xmin : f.ymin));
        pn_buf_printf(b, "\" x2=\"");
        coord(b, fx(&f, f.xmax < f.ymax ? f.xmax : f.ymax));
        pn_buf_printf(b, "\" y2=\"");
        coord(b, fy(&f, f.xmax < f.ymax ? f.xmax : f.ymax));
        pn_buf_printf(b, "\" stroke=\"#999\" stroke-width=\"1.2\" stroke-dasharray=\"5 4\"/>\n");
    }
    /* markers: dashed vertical lines with labels in the band above the plot */
    for (int i = 0; i < c->nmarkers; i++) {
        const pn_vmarker *m = &c->markers[i];
        double px = fx(&f, m->x), ly;
        int r = i < 64 ? label_row[i] : 1;
        if (m->x < f.xmin || m->x > f.xmax)
            continue;
        ly = band_top + 11.0 + 14.0 * r;
        pn_buf_printf(b, "<g class=\"marker\"><title>");
        pn_html_escape(b, m->tooltip ? m->tooltip : m->label, 0);
        pn_buf_printf(b, "</title><line x1=\"");
        coord(b, px);
        pn_buf_printf(b, "\" y1=\"");
        coord(b, ly - 10);
        pn_buf_printf(b, "\" x2=\"");
        coord(b, px);
        pn_buf_printf(b, "\" y2=\"");
        coord(b, f.top + f.ph);
        pn_buf_printf(b, "\" stroke=\"%s\" stroke-width=\"1.5\" stroke-dasharray=\"5 4\"/><text x=\"",
                      m->color);
        coord(b, m->label_left ? px - 4 : px + 4);
        pn_buf_printf(b, "\" y=\"");
        coord(b, ly);
        pn_buf_printf(b, "\" class=\"ml\" fill=\"%s\" text-anchor=\"%s\">", m->color,
                      m->label_left ? "end" : "start");
        pn_html_escape(b, m->label, 0);
        pn_buf_printf(b, "</text></g>\n");
    }
    /* series */
    for (int i = 0; i < c->nseries; i++) {
        const pn_series *s = &c->series[i];
        if (s->fill) {
            /* area between the curve and y = ymin, over the finite points */
            int64_t first = -1, last = -1;
            for (int64_t k = 0; k < s->n; k++)
                if (isfinite(s->x[k]) && isfinite(s->y[k])) {
                    if (first < 0)
                        first = k;
                    last = k;
                }
            if (first >= 0) {
                pn_buf_printf(b, "<path d=\"M");
                coord(b, fx(&f, s->x[first]));
                pn_buf_append(b, " ", 1);
                coord(b, fy(&f, f.ymin));
                for (int64_t k = first; k <= last; k++) {
                    if (!isfinite(s->x[k]) || !isfinite(s->y[k]))
                        continue;
                    pn_buf_append(b, " L", 2);
                    coord(b, fx(&f, s->x[k]));
                    pn_buf_append(b, " ", 1);
                    coord(b, fy(&f, s->y[k] < f.ymin ? f.ymin : s->y[k] > f.ymax ? f.ymax : s->y[k]));
                }
                pn_buf_append(b, " L", 2);
                coord(b, fx(&f, s->x[last]));
                pn_buf_append(b, " ", 1);
                coord(b, fy(&f, f.ymin));
                pn_buf_printf(b, " Z\" fill=\"%s\" fill-opacity=\"0.12\" stroke=\"none\"/>\n", s->color);
            }
        }
        pn_buf_printf(b, "<path d=\"");
        series_path(b, &f, s);
        pn_buf_printf(b,
                      "\" fill=\"none\" stroke=\"%s\" stroke-width=\"2.2\" stroke-linejoin=\"round\"%s/>\n",
                      s->color, s->dashed ? " stroke-dasharray=\"7 4\"" : "");
        if (s->dots) {
            for (int64_t k = 0; k < s->n; k++) {
                if (!isfinite(s->x[k]) || !isfinite(s->y[k]) || s->y[k] < f.ymin || s->y[k] > f.ymax)
                    continue;
                pn_buf_printf(b, "<circle cx=\"");
                coord(b, fx(&f, s->x[k]));
                pn_buf_printf(b, "\" cy=\"");
                coord(b, fy(&f, s->y[k]));
                pn_buf_printf(b, "\" r=\"3\" fill=\"%s\"/>", s->color);
            }
            pn_buf_append(b, "\n", 1);
        }
    }
    if (c->note) {
        pn_buf_printf(b, "<text x=\"");
        coord(b, f.left + f.pw - 10);
        pn_buf_printf(b, "\" y=\"");
        coord(b, f.top + f.ph - 12);
        pn_buf_printf(b, "\" class=\"note\" text-anchor=\"end\">");
        pn_html_escape(b, c->note, 0);
        pn_buf_printf(b, "</text>\n");
    }
    pn_buf_printf(b, "</svg>\n");
}
