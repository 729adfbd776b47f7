/* Fixtures shared by the HTML report tests: the article's history and
 * predictions, an image, rendering a report and reading it back. */
#ifndef PN_REPORT_FIXTURES_H
#define PN_REPORT_FIXTURES_H

#include "testutil.h"

/* 624 probabilities matching the article's confusion matrix [[190, 44], [11, 379]]
 * at threshold 0.5, with some tied scores. */
void article_predictions(float *probs, float *labels, pneumo_evaluation *ev);

pneumo_image *gradient_image(int32_t w, int32_t h, int seed);


/* The whole HTML text in malloc'ed memory through the caller-buffer call:
 * once to size it, once to fill it (the two lengths agree). */
pneumo_status render_html(const pneumo_report *r, char **html, size_t *len);

void expect(const char *html, const char *needle);

size_t count(const char *html, const char *needle);

extern const char *const names[2];

pneumo_report *full_report(pneumo_image **imgs, int nimg);

#endif
