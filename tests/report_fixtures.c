/* Fixtures shared by the HTML report tests (report_fixtures.h). */
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

/* The article's run: lr drops after epochs 4 and 9, early stop after 10. */
static pneumo_history *article_history(void)
{
    static const double col[10][4] = {{0.4805, 0.7178, 0.2743, 0.8904}, {0.2338, 0.9086, 0.2060, 0.9279},
                                      {0.2036, 0.9134, 0.4769, 0.7923}, {0.1951, 0.9179, 0.2141, 0.9452},
                                      {0.1597, 0.9368, 0.1536, 0.9538}, {0.1380, 0.9461, 0.1628, 0.9346},
                                      {0.1378, 0.9447, 0.1470, 0.9442}, {0.1320, 0.9470, 0.1797, 0.9510},
                                      {0.1427, 0.9458, 0.1528, 0.9394}, {0.1211, 0.9506, 0.1490, 0.9462}};
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
void article_predictions(float *probs, float *labels, pneumo_evaluation *ev)
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

pneumo_image *gradient_image(int32_t w, int32_t h, int seed)
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

/* The whole HTML text in malloc'ed memory through the caller-buffer call:
 * once to size it, once to fill it (the two lengths agree). */
pneumo_status render_html(const pneumo_report *r, char **html, size_t *len)
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

void expect(const char *html, const char *needle)
{
    if (!strstr(html, needle))
        fail_msg("report lacks '%s'", needle);
}

size_t count(const char *html, const char *needle)
{
    size_t k = 0;
    for (const char *p = html; (p = strstr(p, needle)); p += strlen(needle))
        k++;
    return k;
}

const char *const names[2] = {"NORMAL", "PNEUMONIA"};

pneumo_report *full_report(pneumo_image **imgs, int nimg)
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
