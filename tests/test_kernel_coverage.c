/* The warning pneumo-bench prints when a layer of the model it runs falls back
 * to the scalar reference (pn_conv2d_fallback, kernels.h: coverage). The
 * tables here are the reference with its slots marked as a SIMD tier's and
 * that tier's lanes, so every case runs on any CPU: conv2d_bwd_data needs
 * kw * oc * lanes <= PN_SIMD_WT_FLOATS, the pooled-gradient kernels of a fused
 * conv + pool block pn_pool2_bwd_fast(). */
#include <stdio.h>
#include <string.h>

#include "kernels/cpu.h"
#include "kernels/kernels.h"
#include "layers/layer.h"
#include "testutil.h"

static pn_kernels tier_like(const char *isa, int lanes)
{
    pn_kernels k = pn_kernels_ref;
    k.isa = isa;
    k.lanes = lanes;
    for (int op = 0; op < PN_KOP_COUNT; op++)
        k.impl[op] = isa;
    return k;
}

static void conv_layer(pn_layer *l, int ic, int filters, int kh, int kw)
{
    const pn_dims in = {3, 12, 12, ic};
    pneumo_conv2d_params p;
    pneumo_conv2d_default_params(&p);
    p.filters = filters;
    p.kernel_h = kh;
    p.kernel_w = kw;
    assert_int_equal(pn_conv2d_setup(l, &in, &p), PNEUMO_OK);
    snprintf(l->name, sizeof l->name, "conv2d_7");
}

static void test_bwd_data_limit(void **state)
{
    const pn_kernels avx2 = tier_like("avx2", 8), avx512 = tier_like("avx512", 16),
                     neon = tier_like("neon", 4);
    pn_layer l;
    char msg[256];
    (void)state;
    /* 3 x 512 x 8 = PN_SIMD_WT_FLOATS: still covered at 8 lanes */
    conv_layer(&l, 4, 512, 3, 3);
    assert_int_equal(pn_conv2d_fallback(&avx2, &l, 2, 0, NULL, 0), -1);
    assert_int_equal(pn_conv2d_fallback(&avx512, &l, 2, 0, NULL, 0), PN_KOP_conv2d_bwd_data);
    assert_int_equal(pn_conv2d_fallback(&neon, &l, 2, 0, NULL, 0), -1);
    /* one filter more: the message names the layer, op, shape and tier */
    conv_layer(&l, 4, 513, 3, 3);
    strcpy(msg, "unchanged");
    assert_int_equal(pn_conv2d_fallback(&avx2, &l, 2, 0, msg, sizeof msg), PN_KOP_conv2d_bwd_data);
    assert_string_equal(msg, "layer conv2d_7: conv2d_bwd_data runs the scalar reference for its shape "
                             "(12x12x4 -> 10x10x513, kernel 3x3) at the avx2 tier");
    /* the reference itself never "falls back", and leaves msg alone */
    strcpy(msg, "unchanged");
    assert_int_equal(pn_conv2d_fallback(&pn_kernels_ref, &l, 2, 0, msg, sizeof msg), -1);
    assert_string_equal(msg, "unchanged");
    /* 3 x 1024 x 4 fits NEON's 4 lanes, 1025 filters do not */
    conv_layer(&l, 4, 1024, 3, 3);
    assert_int_equal(pn_conv2d_fallback(&neon, &l, 1, 0, NULL, 0), -1);
    conv_layer(&l, 4, 1025, 3, 3);
    assert_int_equal(pn_conv2d_fallback(&neon, &l, 1, 0, NULL, 0), PN_KOP_conv2d_bwd_data);
}

static void test_fused_blocks(void **state)
{
    const pn_kernels avx2 = tier_like("avx2", 8);
    pn_layer l;
    (void)state;
    /* fused 3x3 stride 1 with at most PN_POOL2_MAX_OC filters: the pooled
     * kernels run and cover it, however wide */
    conv_layer(&l, 4, 1000, 3, 3);
    assert_int_equal(pn_conv2d_fallback(&avx2, &l, 2, 1, NULL, 0), -1);
    assert_int_equal(pn_conv2d_fallback(&avx2, &l, 2, 0, NULL, 0), PN_KOP_conv2d_bwd_data);
    /* past PN_POOL2_MAX_OC the block rebuilds the conv-sized gradient */
    conv_layer(&l, 4, PN_POOL2_MAX_OC + 1, 3, 3);
    assert_int_equal(pn_conv2d_fallback(&avx2, &l, 2, 1, NULL, 0), PN_KOP_conv2d_bwd_data);
    /* a 3x2 kernel is no fast shape either: 2 x 800 x 8 > PN_SIMD_WT_FLOATS */
    conv_layer(&l, 4, 800, 3, 2);
    assert_int_equal(pn_conv2d_fallback(&avx2, &l, 2, 1, NULL, 0), PN_KOP_conv2d_bwd_data);
    conv_layer(&l, 4, 768, 3, 2);
    assert_int_equal(pn_conv2d_fallback(&avx2, &l, 2, 1, NULL, 0), -1);
}

static void test_other_layers_and_real_tiers(void **state)
{
    const pn_kernels avx2 = tier_like("avx2", 8);
    const pn_dims in = {1, 1, 1, 4096};
    int nall;
    const pn_kernel_tier *all = pn_kernel_tiers(&nall);
    pn_layer l;
    (void)state;
    assert_int_equal(pn_dense_setup(&l, &in, 4096, PNEUMO_ACT_RELU), PNEUMO_OK);
    assert_int_equal(pn_conv2d_fallback(&avx2, &l, 8, 0, NULL, 0), -1);
    /* the tiers this CPU runs agree with the lanes rule */
    conv_layer(&l, 4, 513, 3, 3);
    for (int i = 0; i < nall; i++) {
        const pn_kernels *k = pn_kernels_for_isa(all[i].name);
        if (k)
            assert_int_equal(pn_conv2d_fallback(k, &l, 1, 0, NULL, 0),
                             strcmp(k->impl[PN_KOP_conv2d_bwd_data], "scalar") != 0 &&
                                     3 * 513 * k->lanes > PN_SIMD_WT_FLOATS
                                 ? PN_KOP_conv2d_bwd_data
                                 : -1);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_bwd_data_limit),
        cmocka_unit_test(test_fused_blocks),
        cmocka_unit_test(test_other_layers_and_real_tiers),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
