/* EarlyStopping and ReduceLROnPlateau against the article's training log and
 * hand-worked Keras cases. */
#include <math.h>

#include "testutil.h"
#include "train/callbacks.h"

/* ARTICLE.md: val_loss per epoch of the notebook's run. */
static const double article_val_loss[10] = {0.2743, 0.2060, 0.4769, 0.2141, 0.1536,
                                            0.1628, 0.1470, 0.1797, 0.1528, 0.1490};

static void test_article_schedule(void **state)
{
    pn_early_stopping es = {.mode = PN_MODE_MIN, .min_delta = 0.0, .patience = 3};
    pn_reduce_lr rl = {
        .mode = PN_MODE_MIN, .factor = 0.3, .min_delta = 1e-4, .patience = 2, .cooldown = 0, .min_lr = 1e-6};
    double lr = 1e-3;
    int stopped_after = -1, improved;
    double lr_after[10];
    (void)state;
    pn_early_stopping_reset(&es);
    pn_reduce_lr_reset(&rl);
    for (int e = 0; e < 25 && stopped_after < 0; e++) {
        double v = e < 10 ? article_val_loss[e] : 1.0;
        /* Keras runs callbacks in list order: [early, reduce_lr] */
        if (pn_early_stopping_update(&es, e, v, &improved))
            stopped_after = e + 1;
        lr = pn_reduce_lr_update(&rl, v, lr);
        lr_after[e] = lr;
    }
    assert_int_equal(stopped_after, 10);
    for (int e = 0; e < 3; e++)
        assert_true(lr_after[e] == 1e-3);
    assert_true(fabs(lr_after[3] - 3e-4) < 1e-12); /* reduced after epoch 4 */
    for (int e = 4; e < 8; e++)
        assert_true(fabs(lr_after[e] - 3e-4) < 1e-12);
    assert_true(fabs(lr_after[8] - 9e-5) < 1e-12); /* reduced after epoch 9 */
    assert_true(fabs(lr_after[9] - 9e-5) < 1e-12);
    assert_int_equal(es.best_epoch, 6); /* epoch 7 (0.1470) was the best */
    assert_true(es.best == 0.1470);
}

static void test_early_stopping_min_delta_and_max_mode(void **state)
{
    pn_early_stopping es = {.mode = PN_MODE_MIN, .min_delta = 0.01, .patience = 2};
    pn_early_stopping acc = {.mode = PN_MODE_MAX, .min_delta = 0.0, .patience = 1};
    int imp;
    (void)state;
    pn_early_stopping_reset(&es);
    assert_false(pn_early_stopping_update(&es, 0, 1.0, &imp));
    assert_true(imp);
    /* 0.995 is better by less than min_delta: not an improvement */
    assert_false(pn_early_stopping_update(&es, 1, 0.995, &imp));
    assert_false(imp);
    assert_true(pn_early_stopping_update(&es, 2, 0.991, &imp));
    assert_int_equal(es.stopped_epoch, 2);
    pn_early_stopping_reset(&acc);
    assert_false(pn_early_stopping_update(&acc, 0, 0.5, &imp)); /* never stops at epoch 0 */
    assert_false(pn_early_stopping_update(&acc, 1, 0.6, &imp));
    assert_true(pn_early_stopping_update(&acc, 2, 0.6, &imp)); /* equal is no improvement */
}

static void test_reduce_lr_cooldown_and_floor(void **state)
{
    pn_reduce_lr r = {
        .mode = PN_MODE_MIN, .factor = 0.1, .min_delta = 0.0, .patience = 1, .cooldown = 2, .min_lr = 5e-5};
    double lr = 1e-3;
    (void)state;
    pn_reduce_lr_reset(&r);
    lr = pn_reduce_lr_update(&r, 1.0, lr); /* best */
    lr = pn_reduce_lr_update(&r, 1.0, lr); /* wait 1 >= 1: reduce, cooldown 2 */
    assert_true(fabs(lr - 1e-4) < 1e-15);
    lr = pn_reduce_lr_update(&r, 1.0, lr); /* cooldown 2 -> 1: no waiting */
    assert_true(fabs(lr - 1e-4) < 1e-15);
    /* cooldown 1 -> 0; Keras re-checks in_cooldown() after the decrement, so this
     * epoch already counts: wait 1 >= patience, reduce, floored at min_lr */
    lr = pn_reduce_lr_update(&r, 1.0, lr);
    assert_true(lr == 5e-5);
    for (int i = 0; i < 5; i++)
        lr = pn_reduce_lr_update(&r, 1.0, lr);
    assert_true(lr == 5e-5);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_article_schedule),
        cmocka_unit_test(test_early_stopping_min_delta_and_max_mode),
        cmocka_unit_test(test_reduce_lr_cooldown_and_floor),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
