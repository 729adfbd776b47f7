/* Confusion matrix, classification report and ROC AUC against hand-computed
 * cases and the article's printed report. */
#include <math.h>
#include <string.h>

#include "pneumo/pneumo.h"
#include "testutil.h"

/* ARTICLE.md: [[190, 44], [11, 379]] and the report sklearn printed for it. */
static const char article_report[] = "              precision    recall  f1-score   support\n"
                                     "\n"
                                     "      NORMAL       0.95      0.81      0.87       234\n"
                                     "   PNEUMONIA       0.90      0.97      0.93       390\n"
                                     "\n"
                                     "    accuracy                           0.91       624\n"
                                     "   macro avg       0.92      0.89      0.90       624\n"
                                     "weighted avg       0.91      0.91      0.91       624\n";

static void test_article_report(void **state)
{
    pneumo_confusion c = {{190, 44, 11, 379}};
    const char *names[2] = {"NORMAL", "PNEUMONIA"};
    char buf[1024];
    size_t needed = 0;
    (void)state;
    assert_int_equal(pneumo_classification_report(&c, names, buf, sizeof buf, &needed), PNEUMO_OK);
    assert_string_equal(buf, article_report);
    assert_int_equal(needed, strlen(article_report));
    /* "The testing accuracy is : 91.18589758872986 %" */
    assert_true(fabs(pneumo_confusion_accuracy(&c) * 100.0 - 91.18589743589743) < 1e-9);
}

static void test_confusion_from_predictions(void **state)
{
    /* rows actual, columns predicted; p > 0.5 is class 1, so 0.5 itself is class 0 */
    const float p[8] = {0.1f, 0.5f, 0.51f, 0.9f, 0.2f, 0.7f, 0.49f, 0.99f};
    const float y[8] = {0, 0, 0, 0, 1, 1, 1, 1};
    pneumo_confusion c;
    (void)state;
    assert_int_equal(pneumo_confusion_from_predictions(p, y, 8, 0.5f, &c), PNEUMO_OK);
    assert_int_equal(c.m[0], 2); /* 0.1, 0.5 */
    assert_int_equal(c.m[1], 2); /* 0.51, 0.9 */
    assert_int_equal(c.m[2], 2); /* 0.2, 0.49 */
    assert_int_equal(c.m[3], 2);
    assert_int_equal(pneumo_confusion_from_predictions(p, y, 8, 0.6f, &c), PNEUMO_OK);
    assert_int_equal(c.m[1], 1);
    assert_int_equal(c.m[3], 2);
    {
        const float bad_y[2] = {0, 2};
        assert_int_equal(pneumo_confusion_from_predictions(p, bad_y, 2, 0.5f, &c), PNEUMO_ERR_INVALID_ARG);
        assert_non_null(strstr(pneumo_last_error(), "label 1"));
    }
    assert_int_equal(pneumo_confusion_from_predictions(p, y, 8, 1.5f, &c), PNEUMO_ERR_INVALID_ARG);
    assert_int_equal(pneumo_confusion_from_predictions(NULL, y, 8, 0.5f, &c), PNEUMO_ERR_INVALID_ARG);
}

static void test_report_hand_case_and_zero_division(void **state)
{
    /* tn 3, fp 1, fn 2, tp 4: precision0 3/5, recall0 3/4, precision1 4/5, recall1 4/6 */
    pneumo_confusion c = {{3, 1, 2, 4}};
    pneumo_confusion none_predicted_1 = {{5, 0, 5, 0}};
    char buf[1024];
    (void)state;
    assert_int_equal(pneumo_classification_report(&c, NULL, buf, sizeof buf, NULL), PNEUMO_OK);
    /* f1_0 = 2*.6*.75/1.35 = 0.6667, f1_1 = 2*.8*.6667/1.4667 = 0.7273 */
    assert_non_null(strstr(buf, "           0       0.60      0.75      0.67         4\n"));
    assert_non_null(strstr(buf, "           1       0.80      0.67      0.73         6\n"));
    assert_non_null(strstr(buf, "    accuracy                           0.70        10\n"));
    assert_non_null(strstr(buf, "   macro avg       0.70      0.71      0.70        10\n"));
    /* weighted: p = .4*.6 + .6*.8 = .72; r = .4*.75 + .6*.6667 = .70; f = .4*.6667 + .6*.7273 = .7030 */
    assert_non_null(strstr(buf, "weighted avg       0.72      0.70      0.70        10\n"));
    assert_int_equal(pneumo_classification_report(&none_predicted_1, NULL, buf, sizeof buf, NULL), PNEUMO_OK);
    assert_non_null(strstr(buf, "           1       0.00      0.00      0.00         5\n"));
}

static void test_roc_auc(void **state)
{
    const float p1[4] = {0.1f, 0.4f, 0.35f, 0.8f};
    const float y1[4] = {0, 0, 1, 1};
    const float p2[4] = {0.5f, 0.5f, 0.5f, 0.5f};
    const float p3[6] = {0.9f, 0.8f, 0.7f, 0.3f, 0.2f, 0.1f};
    const float y3[6] = {1, 1, 1, 0, 0, 0};
    const float y_one[3] = {1, 1, 1};
    double auc = 0;
    (void)state;
    /* sklearn's documented example: roc_auc_score([0,0,1,1], [.1,.4,.35,.8]) = 0.75 */
    assert_int_equal(pneumo_roc_auc(p1, y1, 4, &auc), PNEUMO_OK);
    assert_true(fabs(auc - 0.75) < 1e-12);
    assert_int_equal(pneumo_roc_auc(p2, y1, 4, &auc), PNEUMO_OK); /* all tied: 0.5 */
    assert_true(fabs(auc - 0.5) < 1e-12);
    assert_int_equal(pneumo_roc_auc(p3, y3, 6, &auc), PNEUMO_OK);
    assert_true(auc == 1.0);
    assert_int_equal(pneumo_roc_auc(p3, y_one, 3, &auc), PNEUMO_ERR_INVALID_ARG);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_article_report),
        cmocka_unit_test(test_confusion_from_predictions),
        cmocka_unit_test(test_report_hand_case_and_zero_division),
        cmocka_unit_test(test_roc_auc),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
