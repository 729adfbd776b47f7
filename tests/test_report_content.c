/* The HTML report (pneumo/report.h): content, self-containment, escaping,
 * embedded PNGs, agreement with the text class report and independence from
 * the C locale. */
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

#include "report_fixtures.h"

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
    html = tu_read_all(path, &len);
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
        assert_int_equal(pneumo_classification_report(&ev.confusion, names, text, sizeof text, NULL),
                         PNEUMO_OK);
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

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_content),
        cmocka_unit_test(test_class_report_matches_text),
        cmocka_unit_test(test_locale_independent),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
