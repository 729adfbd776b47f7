/* The HTML report (pneumo/report.h): content, self-containment, escaping,
 * embedded PNGs, atomic saving and argument checks. */
#include <dirent.h>
#include <locale.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "testutil.h"

#include "pneumo/pneumo.h"
#include "train/fit_internal.h"

/* The article's run: lr drops after epochs 4 and 9, early stop after 10. */
static pneumo_history *article_history(void)
{
    static const double col[10][4] = {
        {0.4805, 0.7178, 0.2743, 0.8904}, {0.2338, 0.9086, 0.2060, 0.9279}, {0.2036, 0.9134, 0.4769, 0.7923},
        {0.1951, 0.9179, 0.2141, 0.9452}, {0.1597, 0.9368, 0.1536, 0.9538}, {0.1380, 0.9461, 0.1628, 0.9346},
        {0.1378, 0.9447, 0.1470, 0.9442}, {0.1320, 0.9470, 0.1797, 0.9510}, {0.1427, 0.9458, 0.1528, 0.9394},
        {0.1211, 0.9506, 0.1490, 0.9462}};
    pneumo_history *h = NULL;
    assert_int_equal(pn_history_new(&h), PNEUMO_OK);
    for (int e = 0; e < 10; e++) {
        pneumo_epoch_record r;
        memset(&r, 0, sizeof r);
        r.epoch = e;
        r.loss = col[e][0];
        r.accuracy = col[e][1];
        r.val_loss = col[e][2];
        r.val_accuracy = col[e][3];
        r.lr = e < 4 ? 1e-3 : e < 9 ? (double)(float)3e-4 : (double)(float)9e-5;
        r.seconds = 1300.0 + e;
        assert_int_equal(pn_history_append(h, &r), PNEUMO_OK);
    }
    h->stopped_early = 1;
    return h;
}

/* 624 probabilities matching the article's confusion matrix [[190, 44], [11, 379]]
 * at threshold 0.5, with some tied scores. */
static void article_predictions(float *probs, float *labels, pneumo_evaluation *ev)
{
    int64_t i = 0;
    uint64_t rng = 7;
    for (int k = 0; k < 190; k++, i++) {
        labels[i] = 0.0f;
        probs[i] = k % 10 == 0 ? 0.25f : tu_uniform(&rng, 0.0f, 0.5f);
    }
    for (int k = 0; k < 44; k++, i++) {
        labels[i] = 0.0f;
        probs[i] = k % 4 == 0 ? 0.75f : tu_uniform(&rng, 0.51f, 0.95f);
    }
    for (int k = 0; k < 11; k++, i++) {
        labels[i] = 1.0f;
        probs[i] = k % 2 ? 0.25f : tu_uniform(&rng, 0.1f, 0.5f);
    }
    for (int k = 0; k < 379; k++, i++) {
        labels[i] = 1.0f;
        probs[i] = k % 10 == 0 ? 0.75f : tu_uniform(&rng, 0.55f, 1.0f);
    }
    assert_int_equal(i, 624);
    memset(ev, 0, sizeof *ev);
    assert_int_equal(pneumo_confusion_from_predictions(probs, labels, 624, 0.5f, &ev->confusion), PNEUMO_OK);
    assert_int_equal(ev->confusion.m[0], 190);
    assert_int_equal(ev->confusion.m[1], 44);
    assert_int_equal(ev->confusion.m[2], 11);
    assert_int_equal(ev->confusion.m[3], 379);
    ev->accuracy = pneumo_confusion_accuracy(&ev->confusion);
    ev->loss = 0.3132;
    ev->count = 624;
    assert_int_equal(pneumo_roc_auc(probs, labels, 624, &ev->roc_auc), PNEUMO_OK);
}

static pneumo_image *gradient_image(int32_t w, int32_t h, int seed)
{
    pneumo_image *img = NULL;
    uint8_t *p;
    assert_int_equal(pneumo_image_create(w, h, &img), PNEUMO_OK);
    p = pneumo_image_pixels_mut(img);
    for (int32_t y = 0; y < h; y++)
        for (int32_t x = 0; x < w; x++)
            p[y * w + x] = (uint8_t)((x * 7 + y * 3 + seed * 50 + (x * y) % 13) & 255);
    return img;
}

static char *read_all(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    char *s;
    long n;
    assert_non_null(f);
    assert_int_equal(fseek(f, 0, SEEK_END), 0);
    n = ftell(f);
    assert_true(n > 0);
    rewind(f);
    s = malloc((size_t)n + 1);
    assert_non_null(s);
    assert_int_equal(fread(s, 1, (size_t)n, f), (size_t)n);
    s[n] = '\0';
    fclose(f);
    if (len)
        *len = (size_t)n;
    return s;
}

static int b64val(char c)
{
    if (c >= 'A' && c <= 'Z')
        return c - 'A';
    if (c >= 'a' && c <= 'z')
        return c - 'a' + 26;
    if (c >= '0' && c <= '9')
        return c - '0' + 52;
    if (c == '+')
        return 62;
    if (c == '/')
        return 63;
    return -1;
}

/* Decode base64 up to the first character outside the alphabet (and '='). */
static unsigned char *b64decode(const char *s, size_t *outlen)
{
    size_t n = 0, cap = strlen(s) / 4 * 3 + 3;
    unsigned char *out = malloc(cap);
    uint32_t acc = 0;
    int bits = 0;
    assert_non_null(out);
    for (; *s && *s != '"'; s++) {
        int v;
        if (*s == '=')
            continue;
        v = b64val(*s);
        assert_true(v >= 0);
        acc = acc << 6 | (uint32_t)v;
        bits += 6;
        if (bits >= 8) {
            bits -= 8;
            out[n++] = (unsigned char)(acc >> bits);
        }
    }
    *outlen = n;
    return out;
}

/* The whole HTML text in malloc'ed memory through the caller-buffer call:
 * once to size it, once to fill it (the two lengths agree). */
static pneumo_status render_html(const pneumo_report *r, char **html, size_t *len)
{
    size_t needed = 0, again = 0;
    pneumo_status st = pneumo_report_render_html(r, NULL, 0, &needed);
    *html = NULL;
    if (st != PNEUMO_OK)
        return st;
    *html = malloc(needed + 1);
    assert_non_null(*html);
    st = pneumo_report_render_html(r, *html, needed + 1, &again);
    assert_int_equal(again, needed);
    if (len)
        *len = needed;
    return st;
}

static void expect(const char *html, const char *needle)
{
    if (!strstr(html, needle))
        fail_msg("report lacks '%s'", needle);
}

static size_t count(const char *html, const char *needle)
{
    size_t k = 0;
    for (const char *p = html; (p = strstr(p, needle)); p += strlen(needle))
        k++;
    return k;
}

static const char *const names[2] = {"NORMAL", "PNEUMONIA"};

static pneumo_report *full_report(pneumo_image **imgs, int nimg)
{
    pneumo_report *r = NULL;
    pneumo_history *h = article_history();
    pneumo_model *m = NULL;
    float probs[624], labels[624];
    pneumo_evaluation ev;
    article_predictions(probs, labels, &ev);
    assert_int_equal(pneumo_report_create("Chest X-ray <CNN> & friends", &r), PNEUMO_OK);
    assert_int_equal(pneumo_report_add_setting(r, "image size", "500 x 500 grayscale"), PNEUMO_OK);
    assert_int_equal(pneumo_report_add_setting(r, "optimizer", "Adam lr 0.001"), PNEUMO_OK);
    assert_int_equal(pneumo_report_set_history(r, h), PNEUMO_OK);
    pneumo_history_destroy(h); /* nothing retained */
    assert_int_equal(pneumo_model_create_article(96, 1, &m), PNEUMO_OK);
    assert_int_equal(pneumo_report_set_model(r, m), PNEUMO_OK);
    pneumo_model_destroy(m);
    assert_int_equal(pneumo_report_add_evaluation(r, "Test set", &ev, probs, labels, 624, names), PNEUMO_OK);
    memset(probs, 0, sizeof probs); /* copied in: scribbling must not matter */
    for (int i = 0; i < nimg; i++) {
        char cap[128];
        if (i == 1)
            snprintf(cap, sizeof cap, "<script>alert(1)</script> \"quoted\" & 'single'");
        else
            snprintf(cap, sizeof cap, "%.2f%% probability of being Pneumonia case\nActual case: PNEUMONIA",
                     97.31 - i);
        imgs[i] = gradient_image(40 + i, 30 + 2 * i, i);
        assert_int_equal(pneumo_report_add_image(r, imgs[i], cap), PNEUMO_OK);
    }
    return r;
}

static void test_content(void **state)
{
    char path[4096];
    pneumo_image *imgs[3];
    pneumo_report *r;
    char *html, *mem = NULL;
    size_t len, memlen = 0;
    char auc_text[64];
    float probs[624], labels[624];
    pneumo_evaluation ev;
    (void)state;
    r = full_report(imgs, 3);
    snprintf(path, sizeof path, "%s/report.html", tu_tmpdir());
    assert_int_equal(pneumo_report_save_html(r, path), PNEUMO_OK);
    html = read_all(path, &len);
    assert_int_equal(render_html(r, &mem, &memlen), PNEUMO_OK);
    assert_int_equal(memlen, len);
    assert_memory_equal(mem, html, len);
    free(mem);
    /* a short buffer gets the truncated text, NUL-terminated, and the full length */
    {
        char head[16];
        size_t needed = 0;
        assert_int_equal(pneumo_report_render_html(r, head, sizeof head, &needed), PNEUMO_OK);
        assert_int_equal(needed, len);
        assert_int_equal(strlen(head), sizeof head - 1);
        assert_memory_equal(head, html, sizeof head - 1);
    }

    assert_int_equal(strncmp(html, "<!DOCTYPE html>", 15), 0);
    expect(html, "</html>");
    /* self-contained: nothing fetched, no scripts */
    assert_null(strstr(html, "src=\"http"));
    assert_null(strstr(html, "href=\"http"));
    assert_null(strstr(html, "url(http"));
    assert_null(strstr(html, "@import"));
    assert_null(strstr(html, "<link"));
    assert_null(strstr(html, "<script"));
    assert_null(strstr(html, "https://"));
    /* title escaped */
    expect(html, "<h1>Chest X-ray &lt;CNN&gt; &amp; friends</h1>");
    expect(html, "<th>image size</th><td>500 x 500 grayscale</td>");
    /* curves, markers */
    expect(html, ">Loss</text>");
    expect(html, ">Accuracy</text>");
    expect(html, ">val_loss</text>");
    expect(html, ">val_accuracy</text>");
    expect(html, "lr \xe2\x86\x92 3e-4");
    expect(html, "lr \xe2\x86\x92 9e-5");
    expect(html, ">early stop</text>");
    expect(html, "ReduceLROnPlateau after epoch 4: learning rate 1e-3 \xe2\x86\x92 3e-4");
    expect(html, "ReduceLROnPlateau after epoch 9: learning rate 3e-4 \xe2\x86\x92 9e-5");
    assert_int_equal(count(html, ">lr \xe2\x86\x92 "), 4); /* two charts x two drops */
    assert_int_equal(count(html, ">early stop</text>"), 2);
    expect(html, "<th>10</th><td>0.1211</td><td>0.9506</td><td>0.1490</td><td>0.9462</td>");
    /* evaluation */
    expect(html, "Evaluation: Test set");
    expect(html, "624 images");
    expect(html, "accuracy <b>91.19%</b>");
    expect(html, ">Confusion matrix</text>");
    expect(html, ">190</text>");
    expect(html, ">44</text>");
    expect(html, ">11</text>");
    expect(html, ">379</text>");
    expect(html, "Predicted</text>");
    expect(html, ">Actual</text>");
    /* classification report: the article's numbers */
    expect(html, "<th>NORMAL</th><td>0.95</td><td>0.81</td><td>0.87</td><td>234</td>");
    expect(html, "<th>PNEUMONIA</th><td>0.90</td><td>0.97</td><td>0.93</td><td>390</td>");
    expect(html, "<th>accuracy</th><td></td><td></td><td>0.91</td><td>624</td>");
    expect(html, "<th>macro avg</th><td>0.92</td><td>0.89</td><td>0.90</td><td>624</td>");
    expect(html, "<th>weighted avg</th><td>0.91</td><td>0.91</td><td>0.91</td><td>624</td>");
    /* ROC curve with the evaluation's AUC */
    article_predictions(probs, labels, &ev);
    snprintf(auc_text, sizeof auc_text, "AUC = %.3f", ev.roc_auc);
    expect(html, auc_text);
    assert_true(ev.roc_auc > 0.9);
    expect(html, ">ROC curve</text>");
    expect(html, "false positive rate");
    /* captions, escaped; newline as a line break */
    expect(html, "97.31% probability of being Pneumonia case<br>Actual case: PNEUMONIA");
    expect(html, "&lt;script&gt;alert(1)&lt;/script&gt; &quot;quoted&quot; &amp; &#39;single&#39;");
    /* model summary */
    expect(html, "<pre>");
    expect(html, "Total params");
    /* images: decode each data URI and compare the pixels */
    assert_int_equal(count(html, "data:image/png;base64,"), 3);
    {
        const char *p = html;
        for (int i = 0; i < 3; i++) {
            unsigned char *png;
            size_t n;
            pneumo_image *back = NULL;
            p = strstr(p, "data:image/png;base64,");
            assert_non_null(p);
            p += strlen("data:image/png;base64,");
            png = b64decode(p, &n);
            assert_true(n > 8);
            assert_memory_equal(png, "\x89PNG\r\n\x1a\n", 8);
            assert_int_equal(pneumo_image_decode(png, n, "embedded", NULL, &back), PNEUMO_OK);
            assert_int_equal(pneumo_image_width(back), pneumo_image_width(imgs[i]));
            assert_int_equal(pneumo_image_height(back), pneumo_image_height(imgs[i]));
            assert_memory_equal(pneumo_image_pixels(back), pneumo_image_pixels(imgs[i]),
                                (size_t)(pneumo_image_width(back) * pneumo_image_height(back)));
            pneumo_image_destroy(back);
            free(png);
        }
    }
    for (int i = 0; i < 3; i++)
        pneumo_image_destroy(imgs[i]);
    free(html);
    pneumo_report_destroy(r);
}

/* The same numbers as pneumo_classification_report() for other matrices. */
static void test_class_report_matches_text(void **state)
{
    static const int64_t cms[][4] = {{5, 0, 0, 7}, {0, 3, 4, 0}, {1, 2, 3, 4}, {0, 0, 1, 9}, {13, 7, 2, 0}};
    (void)state;
    for (size_t t = 0; t < sizeof cms / sizeof cms[0]; t++) {
        pneumo_report *r = NULL;
        pneumo_evaluation ev;
        char text[2048], *html = NULL, row[256];
        double v[5][3];
        const char *rows[5] = {"NORMAL", "PNEUMONIA", "accuracy", "macro avg", "weighted avg"};
        memset(&ev, 0, sizeof ev);
        memcpy(ev.confusion.m, cms[t], sizeof ev.confusion.m);
        ev.roc_auc = NAN;
        assert_int_equal(pneumo_classification_report(&ev.confusion, names, text, sizeof text, NULL), PNEUMO_OK);
        assert_int_equal(pneumo_report_create(NULL, &r), PNEUMO_OK);
        assert_int_equal(pneumo_report_add_evaluation(r, "cm", &ev, NULL, NULL, 0, names), PNEUMO_OK);
        assert_int_equal(render_html(r, &html, NULL), PNEUMO_OK);
        expect(html, "<title>libpneumo report</title>");
        for (int k = 0; k < 5; k++) {
            const char *line = strstr(text, rows[k]);
            long long sup;
            assert_non_null(line);
            line += strlen(rows[k]);
            if (k == 2) {
                assert_int_equal(sscanf(line, "%lf %lld", &v[k][2], &sup), 2);
                snprintf(row, sizeof row, "<th>%s</th><td></td><td></td><td>%.2f</td><td>%lld</td>", rows[k],
                         v[k][2], sup);
            } else {
                assert_int_equal(sscanf(line, "%lf %lf %lf %lld", &v[k][0], &v[k][1], &v[k][2], &sup), 4);
                snprintf(row, sizeof row, "<th>%s</th><td>%.2f</td><td>%.2f</td><td>%.2f</td><td>%lld</td>",
                         rows[k], v[k][0], v[k][1], v[k][2], sup);
            }
            expect(html, row);
        }
        /* no probabilities: no ROC chart; AUC undefined */
        assert_null(strstr(html, ">ROC curve</text>"));
        expect(html, "ROC AUC <b>undefined");
        free(html);
        pneumo_report_destroy(r);
    }
}

static void test_roc_ties_and_fallback(void **state)
{
    /* all scores tied: the curve is the diagonal, AUC 0.5 */
    float p1[4] = {0.7f, 0.7f, 0.7f, 0.7f}, l1[4] = {1, 0, 1, 0};
    /* perfectly separated */
    float p2[4] = {0.1f, 0.2f, 0.8f, 0.9f}, l2[4] = {0, 0, 1, 1};
    /* one class only */
    float p3[3] = {0.1f, 0.6f, 0.9f}, l3[3] = {1, 1, 1};
    struct {
        float *p, *l;
        int64_t n;
        const char *want;
    } cases[3] = {{p1, l1, 4, "AUC = 0.500"}, {p2, l2, 4, "AUC = 1.000"}, {p3, l3, 3, "undefined"}};
    (void)state;
    for (int t = 0; t < 3; t++) {
        pneumo_report *r = NULL;
        pneumo_evaluation ev;
        char *html = NULL;
        memset(&ev, 0, sizeof ev);
        assert_int_equal(pneumo_confusion_from_predictions(cases[t].p, cases[t].l, cases[t].n, 0.5f, &ev.confusion),
                         PNEUMO_OK);
        ev.roc_auc = NAN; /* the report computes it from the curve */
        assert_int_equal(pneumo_report_create("roc", &r), PNEUMO_OK);
        assert_int_equal(pneumo_report_add_evaluation(r, "x", &ev, cases[t].p, cases[t].l, cases[t].n, NULL),
                         PNEUMO_OK);
        assert_int_equal(render_html(r, &html, NULL), PNEUMO_OK);
        expect(html, cases[t].want);
        if (t == 2)
            assert_null(strstr(html, ">ROC curve</text>"));
        else
            expect(html, ">ROC curve</text>");
        if (t == 0) /* ties give one diagonal segment, not a staircase */
            expect(html, "<path d=\" M62.0 310.0 L322.0 50.0\"");
        expect(html, "<th>0</th>"); /* default class names */
        free(html);
        pneumo_report_destroy(r);
    }
}

static void test_history_edge_cases(void **state)
{
    pneumo_history *h = NULL;
    pneumo_report *r = NULL;
    pneumo_epoch_record rec;
    char *html = NULL;
    (void)state;
    /* one epoch, no validation, no early stop */
    assert_int_equal(pn_history_new(&h), PNEUMO_OK);
    memset(&rec, 0, sizeof rec);
    rec.loss = 0.69;
    rec.accuracy = 0.5;
    rec.val_loss = NAN;
    rec.val_accuracy = NAN;
    rec.lr = 1e-3;
    assert_int_equal(pn_history_append(h, &rec), PNEUMO_OK);
    assert_int_equal(pneumo_report_create("one", &r), PNEUMO_OK);
    assert_int_equal(pneumo_report_set_history(r, h), PNEUMO_OK);
    assert_int_equal(render_html(r, &html, NULL), PNEUMO_OK);
    expect(html, "Training (1 epoch)");
    assert_null(strstr(html, "early stop"));
    assert_null(strstr(html, ">val_loss</text>"));
    assert_null(strstr(html, "nan"));
    free(html);
    /* a long, diverging run: huge and infinite losses are clipped, ticks stay few */
    pneumo_history_destroy(h);
    assert_int_equal(pn_history_new(&h), PNEUMO_OK);
    for (int e = 0; e < 300; e++) {
        rec.epoch = e;
        rec.loss = e == 0 ? 1e30 : e == 1 ? INFINITY : 1.0 / (e + 1);
        rec.val_loss = e % 7 ? 0.5 : NAN;
        rec.accuracy = e == 2 ? NAN : 0.5 + e / 1000.0;
        rec.val_accuracy = 0.6;
        rec.lr = 1e-3 * pow(0.3, e / 100);
        assert_int_equal(pn_history_append(h, &rec), PNEUMO_OK);
    }
    assert_int_equal(pneumo_report_set_history(r, h), PNEUMO_OK);
    assert_int_equal(render_html(r, &html, NULL), PNEUMO_OK);
    expect(html, "Training (300 epochs)");
    expect(html, ">lr \xe2\x86\x92 3e-4</text>");
    expect(html, ">lr \xe2\x86\x92 9e-5</text>");
    expect(html, "ReduceLROnPlateau after epoch 100: learning rate 1e-3");
    expect(html, ">1000000</text>"); /* the loss axis is capped at 1e6 */
    assert_null(strstr(html, "nan"));
    assert_null(strstr(html, "inf"));
    assert_true(count(html, "class=\"grid\"") < 60);
    free(html);
    /* an empty history clears the section */
    pneumo_history_destroy(h);
    assert_int_equal(pn_history_new(&h), PNEUMO_OK);
    assert_int_equal(pneumo_report_set_history(r, h), PNEUMO_OK);
    assert_int_equal(render_html(r, &html, NULL), PNEUMO_OK);
    assert_null(strstr(html, "Training ("));
    free(html);
    pneumo_history_destroy(h);
    pneumo_report_destroy(r);
}

static void test_locale_independent(void **state)
{
    pneumo_image *imgs[1];
    pneumo_report *r;
    char *html = NULL;
    (void)state;
    if (!setlocale(LC_NUMERIC, "de_DE.UTF-8") && !setlocale(LC_NUMERIC, "fr_FR.UTF-8")) {
        print_message("skipped: no decimal-comma locale installed\n");
        return;
    }
    r = full_report(imgs, 1);
    assert_int_equal(render_html(r, &html, NULL), PNEUMO_OK);
    setlocale(LC_NUMERIC, "C");
    expect(html, "<th>NORMAL</th><td>0.95</td><td>0.81</td><td>0.87</td><td>234</td>");
    assert_null(strstr(html, "0,95"));
    free(html);
    pneumo_image_destroy(imgs[0]);
    pneumo_report_destroy(r);
}

static int only_report_in(const char *dir)
{
    DIR *d = opendir(dir);
    struct dirent *e;
    int others = 0;
    assert_non_null(d);
    while ((e = readdir(d)))
        if (strcmp(e->d_name, ".") && strcmp(e->d_name, "..") && strcmp(e->d_name, "report.html"))
            others++;
    closedir(d);
    return others == 0;
}

static void test_atomic_save(void **state)
{
    char dir[4096], path[4200], missing[4200];
    pneumo_image *imgs[2];
    pneumo_report *r;
    char *first;
    (void)state;
    snprintf(dir, sizeof dir, "%s/atomic", tu_tmpdir());
    assert_int_equal(mkdir(dir, 0700), 0);
    snprintf(path, sizeof path, "%s/report.html", dir);
    r = full_report(imgs, 2);
    assert_int_equal(pneumo_report_save_html(r, path), PNEUMO_OK);
    assert_true(only_report_in(dir));
    first = read_all(path, NULL);
    /* saving again replaces the file, still nothing else left */
    assert_int_equal(pneumo_report_add_setting(r, "again", "yes"), PNEUMO_OK);
    assert_int_equal(pneumo_report_save_html(r, path), PNEUMO_OK);
    assert_true(only_report_in(dir));
    {
        char *second = read_all(path, NULL);
        assert_null(strstr(first, "<th>again</th>"));
        expect(second, "<th>again</th><td>yes</td>");
        free(second);
    }
    /* a missing directory: IO error naming the path, the old file untouched */
    snprintf(missing, sizeof missing, "%s/no/such/dir/report.html", dir);
    assert_int_equal(pneumo_report_save_html(r, missing), PNEUMO_ERR_IO);
    assert_non_null(strstr(pneumo_last_error(), missing));
    assert_true(only_report_in(dir));
    free(first);
    for (int i = 0; i < 2; i++)
        pneumo_image_destroy(imgs[i]);
    pneumo_report_destroy(r);
}

static void test_invalid_args(void **state)
{
    pneumo_report *r = NULL;
    pneumo_evaluation ev;
    pneumo_history *h = NULL;
    pneumo_image *img = gradient_image(4, 4, 0);
    float p[3] = {0.1f, 0.9f, 0.4f}, l[3] = {0, 1, 1}, bad[3] = {0, 2, 1}, nanp[3] = {0.1f, NAN, 0.2f};
    const char *half[2] = {"a", NULL};
    char *html = NULL;
    size_t sz = 7;
    (void)state;
    pneumo_report_destroy(NULL);
    assert_int_equal(pneumo_report_create("x", NULL), PNEUMO_ERR_INVALID_ARG);
    assert_int_equal(pneumo_report_create("x", &r), PNEUMO_OK);
    assert_int_equal(pneumo_report_add_setting(NULL, "k", "v"), PNEUMO_ERR_INVALID_ARG);
    assert_int_equal(pneumo_report_add_setting(r, NULL, "v"), PNEUMO_ERR_INVALID_ARG);
    assert_int_equal(pneumo_report_add_setting(r, "k", NULL), PNEUMO_ERR_INVALID_ARG);
    assert_non_null(strstr(pneumo_last_error(), "value is NULL"));
    assert_int_equal(pneumo_report_add_setting(r, "", "v"), PNEUMO_ERR_INVALID_ARG);
    assert_int_equal(pneumo_report_add_setting(r, "k", ""), PNEUMO_OK);
    assert_int_equal(pneumo_report_set_model(r, NULL), PNEUMO_ERR_INVALID_ARG);
    assert_int_equal(pneumo_report_set_model(NULL, NULL), PNEUMO_ERR_INVALID_ARG);
    assert_int_equal(pneumo_report_set_history(r, NULL), PNEUMO_ERR_INVALID_ARG);
    assert_int_equal(pn_history_new(&h), PNEUMO_OK);
    assert_int_equal(pneumo_report_set_history(NULL, h), PNEUMO_ERR_INVALID_ARG);
    pneumo_history_destroy(h);

    memset(&ev, 0, sizeof ev);
    assert_int_equal(pneumo_confusion_from_predictions(p, l, 3, 0.5f, &ev.confusion), PNEUMO_OK);
    assert_int_equal(pneumo_report_add_evaluation(NULL, "t", &ev, p, l, 3, NULL), PNEUMO_ERR_INVALID_ARG);
    assert_int_equal(pneumo_report_add_evaluation(r, NULL, &ev, p, l, 3, NULL), PNEUMO_ERR_INVALID_ARG);
    assert_int_equal(pneumo_report_add_evaluation(r, "t", NULL, p, l, 3, NULL), PNEUMO_ERR_INVALID_ARG);
    assert_int_equal(pneumo_report_add_evaluation(r, "t", &ev, p, NULL, 3, NULL), PNEUMO_ERR_INVALID_ARG);
    assert_non_null(strstr(pneumo_last_error(), "labels is NULL"));
    assert_int_equal(pneumo_report_add_evaluation(r, "t", &ev, NULL, NULL, 3, NULL), PNEUMO_ERR_INVALID_ARG);
    assert_int_equal(pneumo_report_add_evaluation(r, "t", &ev, p, l, 2, NULL), PNEUMO_ERR_INVALID_ARG);
    assert_non_null(strstr(pneumo_last_error(), "counts 3 images"));
    assert_int_equal(pneumo_report_add_evaluation(r, "t", &ev, p, bad, 3, NULL), PNEUMO_ERR_INVALID_ARG);
    assert_non_null(strstr(pneumo_last_error(), "label 1 is 2"));
    assert_int_equal(pneumo_report_add_evaluation(r, "t", &ev, nanp, l, 3, NULL), PNEUMO_ERR_INVALID_ARG);
    assert_non_null(strstr(pneumo_last_error(), "probability 1 is not finite"));
    assert_int_equal(pneumo_report_add_evaluation(r, "t", &ev, p, l, 3, half), PNEUMO_ERR_INVALID_ARG);
    ev.confusion.m[2] = -1;
    assert_int_equal(pneumo_report_add_evaluation(r, "t", &ev, NULL, NULL, 0, NULL), PNEUMO_ERR_INVALID_ARG);
    assert_non_null(strstr(pneumo_last_error(), "negative"));

    assert_int_equal(pneumo_report_add_image(NULL, img, "c"), PNEUMO_ERR_INVALID_ARG);
    assert_int_equal(pneumo_report_add_image(r, NULL, "c"), PNEUMO_ERR_INVALID_ARG);
    assert_int_equal(pneumo_report_add_image(r, img, NULL), PNEUMO_OK);
    assert_int_equal(pneumo_report_set_images_title(r, NULL), PNEUMO_ERR_INVALID_ARG);
    assert_int_equal(pneumo_report_set_images_title(r, "Predictions <test>"), PNEUMO_OK);

    assert_int_equal(pneumo_report_save_html(NULL, "x.html"), PNEUMO_ERR_INVALID_ARG);
    assert_int_equal(pneumo_report_save_html(r, NULL), PNEUMO_ERR_INVALID_ARG);
    assert_int_equal(pneumo_report_save_html(r, ""), PNEUMO_ERR_INVALID_ARG);
    assert_int_equal(pneumo_report_render_html(NULL, NULL, 0, &sz), PNEUMO_ERR_INVALID_ARG);
    assert_int_equal(sz, 7);
    assert_int_equal(pneumo_report_render_html(r, NULL, 5, NULL), PNEUMO_ERR_INVALID_ARG);
    /* the failed calls left nothing behind: one image without caption */
    assert_int_equal(render_html(r, &html, &sz), PNEUMO_OK);
    assert_int_equal(strlen(html), sz);
    assert_int_equal(count(html, "data:image/png;base64,"), 1);
    expect(html, "alt=\"image 1\"");
    expect(html, "<h2>Predictions &lt;test&gt;</h2>");
    assert_null(strstr(html, "Evaluation:"));
    assert_null(strstr(html, "<figcaption>"));
    free(html);
    pneumo_image_destroy(img);
    pneumo_report_destroy(r);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_content),
        cmocka_unit_test(test_class_report_matches_text),
        cmocka_unit_test(test_roc_ties_and_fallback),
        cmocka_unit_test(test_history_edge_cases),
        cmocka_unit_test(test_locale_independent),
        cmocka_unit_test(test_atomic_save),
        cmocka_unit_test(test_invalid_args),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
