/* End to end at every ISA tier this CPU supports: the article's model (94 x 94,
 * the smallest size it takes) trains a few Adam steps on one batch, and each
 * SIMD tier's losses, final weights and predictions are compared with the
 * scalar reference tier's. The tiers sum in other orders and the SIMD tiers
 * use polynomial exp / log1p, so the results agree within rounding, which
 * training then carries along: the stated tolerances are 1e-4 relative for the
 * losses, 1e-4 absolute for the probabilities and 2e-5 absolute (2% of one
 * step at lr 1e-3) for the weights after the steps. Tiers the CPU lacks are
 * reported as not run. */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "kernels/cpu.h"
#include "kernels/kernels.h"
#include "model/model.h"
#include "model/test_hooks.h"
#include "pneumo/pneumo.h"
#include "testutil.h"

#define STEPS 4
#define BATCH 4
#define SIZE 94

typedef struct run_result {
    double loss[STEPS];
    float prob[BATCH];
    pneumo_model *model;
} run_result;

static void run_tier(const pn_kernels *k, int threads, int steps, const pneumo_tensor *x,
                     const pneumo_tensor *y, run_result *r)
{
    pneumo_optimizer *opt = NULL;
    pneumo_adam_params ap;
    pneumo_tensor *out = NULL;
    int64_t os[2] = {BATCH, 1};
    assert_int_equal(pneumo_model_create_article(SIZE, 17, &r->model), PNEUMO_OK);
    pn_model_set_kernels(r->model, k);
    assert_int_equal(pneumo_model_set_threads(r->model, threads), PNEUMO_OK);
    pneumo_adam_default_params(&ap);
    assert_int_equal(pneumo_optimizer_create_adam(&ap, &opt), PNEUMO_OK);
    for (int s = 0; s < steps; s++) {
        pneumo_step_result sr;
        assert_int_equal(pneumo_model_train_step(r->model, opt, x, y, NULL, &sr), PNEUMO_OK);
        r->loss[s] = sr.loss;
    }
    assert_int_equal(pneumo_tensor_create(2, os, &out), PNEUMO_OK);
    assert_int_equal(pneumo_model_predict(r->model, x, out), PNEUMO_OK);
    memcpy(r->prob, pneumo_tensor_data(out), sizeof r->prob);
    pneumo_tensor_destroy(out);
    pneumo_optimizer_destroy(opt);
}

static void test_tiers_agree(void **state)
{
    int ntiers;
    const pn_kernel_tier *tiers = pn_kernel_tiers(&ntiers);
    pneumo_tensor *x = NULL, *y = NULL;
    int64_t xs[4] = {BATCH, SIZE, SIZE, 1}, ys[1] = {BATCH};
    uint64_t rng = 99;
    run_result ref;
    int compared = 0;
    (void)state;
    assert_int_equal(pneumo_tensor_create(4, xs, &x), PNEUMO_OK);
    assert_int_equal(pneumo_tensor_create(1, ys, &y), PNEUMO_OK);
    tu_fill(&rng, pneumo_tensor_data(x), (size_t)BATCH * SIZE * SIZE, 0.0f, 1.0f);
    for (int i = 0; i < BATCH; i++)
        pneumo_tensor_data(y)[i] = (float)(i % 2);
    run_tier(&pn_kernels_ref, 2, STEPS, x, y, &ref);
    /* the steps must have trained something, or agreeing proves little */
    assert_true(ref.loss[STEPS - 1] < ref.loss[0]);
    for (int t = 1; t < ntiers; t++) {
        const pn_kernels *k = pn_kernels_for_isa(tiers[t].name);
        run_result got;
        double wdiff = 0.0;
        if (!k) {
            printf("  %s: not supported by this CPU, not run\n", tiers[t].name);
            continue;
        }
        assert_ptr_not_equal(k, &pn_kernels_ref);
        run_tier(k, 2, STEPS, x, y, &got);
        for (int s = 0; s < STEPS; s++)
            if (fabs(got.loss[s] - ref.loss[s]) > 1e-4 * fabs(ref.loss[s]))
                fail_msg("%s step %d: loss %.9g, scalar %.9g", k->isa, s + 1, got.loss[s], ref.loss[s]);
        for (int i = 0; i < BATCH; i++)
            if (fabsf(got.prob[i] - ref.prob[i]) > 1e-4f)
                fail_msg("%s sample %d: probability %.9g, scalar %.9g", k->isa, i, (double)got.prob[i],
                         (double)ref.prob[i]);
        for (int64_t i = 0; i < ref.model->arena_size; i++) {
            const double d = fabs((double)got.model->params[i] - (double)ref.model->params[i]);
            wdiff = d > wdiff ? d : wdiff;
        }
        if (wdiff > 2e-5)
            fail_msg("%s: weights differ from scalar by %g after %d steps", k->isa, wdiff, STEPS);
        printf("  %s vs scalar: losses %.7f .. %.7f (scalar %.7f .. %.7f), weights within %.2g\n", k->isa,
               got.loss[0], got.loss[STEPS - 1], ref.loss[0], ref.loss[STEPS - 1], wdiff);
        pneumo_model_destroy(got.model);
        compared++;
    }
    printf("  %d SIMD tier(s) compared with scalar\n", compared);
    pneumo_model_destroy(ref.model);
    pneumo_tensor_destroy(x);
    pneumo_tensor_destroy(y);
}

/* test_isa --count=TIER: only one training step of TIER (one thread) and
 * the prediction, for counting instructions per training step of the tiers
 * (callgrind on x86, .ci/qemu-insn-count on AArch64: docs/performance.md). */
static int count_only(const char *tier)
{
    const pn_kernels *k = pn_kernels_for_isa(tier);
    int64_t xs[4] = {BATCH, SIZE, SIZE, 1}, ys[1] = {BATCH};
    pneumo_tensor *x = NULL, *y = NULL;
    uint64_t rng = 99;
    run_result r;
    if (!k) {
        fprintf(stderr, "test_isa: tier %s not available here\n", tier);
        return 1;
    }
    if (pneumo_tensor_create(4, xs, &x) != PNEUMO_OK || pneumo_tensor_create(1, ys, &y) != PNEUMO_OK)
        return 1;
    tu_fill(&rng, pneumo_tensor_data(x), (size_t)BATCH * SIZE * SIZE, 0.0f, 1.0f);
    for (int i = 0; i < BATCH; i++)
        pneumo_tensor_data(y)[i] = (float)(i % 2);
    run_tier(k, 1, 1, x, y, &r);
    printf("%s: 1 step of batch %d at %dx%d, loss %.7f\n", k->isa, BATCH, SIZE, SIZE, r.loss[0]);
    pneumo_model_destroy(r.model);
    pneumo_tensor_destroy(x);
    pneumo_tensor_destroy(y);
    return 0;
}

int main(int argc, char **argv)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_tiers_agree),
    };
    if (argc == 2 && strncmp(argv[1], "--count=", 8) == 0)
        return count_only(argv[1] + 8);
    return cmocka_run_group_tests(tests, NULL, NULL);
}
