/* The HTML report (pneumo/report.h) at its edges: ROC ties and the fallback
 * without scores, unusual histories, atomic saving and argument checks. */
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
        assert_int_equal(pneumo_confusion_from_predictions(cases[t].p, cases[t].l, cases[t].n, 0.5f,
                                                           &ev.confusion),
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
    first = tu_read_all(path, NULL);
    /* saving again replaces the file, still nothing else left */
    assert_int_equal(pneumo_report_add_setting(r, "again", "yes"), PNEUMO_OK);
    assert_int_equal(pneumo_report_save_html(r, path), PNEUMO_OK);
    assert_true(only_report_in(dir));
    {
        char *second = tu_read_all(path, NULL);
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
        cmocka_unit_test(test_roc_ties_and_fallback),
        cmocka_unit_test(test_history_edge_cases),
        cmocka_unit_test(test_atomic_save),
        cmocka_unit_test(test_invalid_args),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
