/* Dataset class weights (sklearn 'balanced', the article's values) from
 * folders and from file lists, and the rules of pneumo_dataset_open_files. */
#define _XOPEN_SOURCE 700 /* nftw */
#include <errno.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <jpeglib.h>
#include <png.h>

#include "testutil.h"

#include "pneumo/pneumo.h"
#include "data/dataset_internal.h"
#include "core/tensor.h"

#include "dataset_fixtures.h"

/* ------------------------------------------------------------------------ */
/* Tests.                                                                    */

static void test_class_weights(void **state)
{
    const int64_t counts[2] = {1082, 3110};
    double w[2];
    (void)state;
    assert_int_equal(pn_ds_class_weights(counts, 2, w), PNEUMO_OK);
    /* Exactly the doubles sklearn prints ({0: 1.9371534195933457, 1: 0.6739549839228296}). */
    assert_true(w[0] == 1.9371534195933457);
    assert_true(w[1] == 0.6739549839228296);
    {
        char buf[64];
        snprintf(buf, sizeof buf, "%.17g", w[0]);
        assert_string_equal(buf, "1.9371534195933457");
    }
    const int64_t zero[2] = {5, 0};
    expect_error(pn_ds_class_weights(zero, 2, w), PNEUMO_ERR_STATE, "class 1");
}

/* 1082 + 3110 entries of the same tiny file through open_files: the public
 * function gives the article's weights. */
static void test_class_weights_open_files(void **state)
{
    char root[4096], p[4096];
    const int64_t n = 1082 + 3110;
    const char **paths = malloc((size_t)n * sizeof *paths);
    int32_t *labels = malloc((size_t)n * sizeof *labels);
    const char *names[2] = {"Normal", "Opacity"};
    pneumo_dataset_options o = small_opts(2, 2, 2);
    pneumo_dataset *ds;
    double w[2];
    char rep[128];
    (void)state;
    assert_true(paths && labels);
    new_tmp(root);
    pjoin(p, root, "tiny.png");
    write_png(p, 3, 2, 1);
    for (int64_t i = 0; i < n; i++) {
        paths[i] = p;
        labels[i] = i < 1082 ? 0 : 1;
    }
    assert_int_equal(pneumo_dataset_open_files(paths, labels, n, 2, names, &o, &ds), PNEUMO_OK);
    assert_int_equal(pneumo_dataset_size(ds), 4192);
    assert_int_equal(pneumo_dataset_class_count(ds, 0), 1082);
    assert_int_equal(pneumo_dataset_class_count(ds, 1), 3110);
    assert_int_equal(pneumo_dataset_class_weights(ds, w, 2), PNEUMO_OK);
    assert_true(w[0] == 1.9371534195933457);
    assert_true(w[1] == 0.6739549839228296);
    expect_error(pneumo_dataset_class_weights(ds, w, 3), PNEUMO_ERR_INVALID_ARG, "num_classes");
    assert_int_equal(pneumo_dataset_report(ds, rep, sizeof rep, NULL), PNEUMO_OK);
    assert_string_equal(rep, "Found 4192 images belonging to 2 classes.");
    assert_string_equal(tu_ds_class(ds, 1), "Opacity");
    pneumo_dataset_destroy(ds);
    free(paths);
    free(labels);
    rm_rf(root);
}

static void test_open_files_rules(void **state)
{
    char root[4096], a[4096], b[4096];
    const char *paths[3];
    int32_t labels[3] = {0, 0, 0};
    pneumo_dataset_options o = small_opts(4, 4, 1);
    pneumo_dataset *ds = NULL;
    double w[3];
    (void)state;
    new_tmp(root);
    pjoin(a, root, "a.png");
    pjoin(b, root, "b.weird"); /* the extension does not matter for a file list */
    write_png(a, 5, 5, 1);
    write_png(b, 6, 3, 2);
    paths[0] = b;
    paths[1] = a;
    paths[2] = b;
    /* One class, names defaulted, caller's order kept. */
    assert_int_equal(pneumo_dataset_open_files(paths, labels, 3, 1, NULL, &o, &ds), PNEUMO_OK);
    assert_int_equal(pneumo_dataset_num_classes(ds), 1);
    assert_string_equal(tu_ds_class(ds, 0), "0");
    assert_int_equal(pneumo_dataset_class_name(ds, 1, NULL, 0, NULL), PNEUMO_ERR_INVALID_ARG);
    assert_string_equal(tu_ds_path(ds, 0), b);
    assert_string_equal(tu_ds_path(ds, 1), a);
    assert_int_equal(pneumo_dataset_path(ds, 3, NULL, 0, NULL), PNEUMO_ERR_INVALID_ARG);
    assert_int_equal(pneumo_dataset_label(ds, 5), -1);
    pneumo_dataset_destroy(ds);
    /* An empty class is allowed, but has no balanced weight. */
    labels[1] = 2;
    assert_int_equal(pneumo_dataset_open_files(paths, labels, 3, 3, NULL, &o, &ds), PNEUMO_OK);
    assert_int_equal(pneumo_dataset_class_count(ds, 1), 0);
    assert_int_equal(pneumo_dataset_class_count(ds, 2), 1);
    expect_error(pneumo_dataset_class_weights(ds, w, 3), PNEUMO_ERR_STATE, "'1'");
    pneumo_dataset_destroy(ds);
    /* Argument errors. */
    labels[1] = 3;
    expect_error(pneumo_dataset_open_files(paths, labels, 3, 3, NULL, &o, &ds), PNEUMO_ERR_INVALID_ARG,
                 "labels[1]");
    assert_null(ds);
    labels[1] = 0;
    expect_error(pneumo_dataset_open_files(paths, labels, 0, 1, NULL, &o, &ds), PNEUMO_ERR_INVALID_ARG,
                 "count");
    expect_error(pneumo_dataset_open_files(paths, labels, 3, 0, NULL, &o, &ds), PNEUMO_ERR_INVALID_ARG,
                 "num_classes");
    expect_error(pneumo_dataset_open_files(NULL, labels, 3, 1, NULL, &o, &ds), PNEUMO_ERR_INVALID_ARG,
                 "paths");
    {
        const char *names[2] = {"x", NULL};
        expect_error(pneumo_dataset_open_files(paths, labels, 3, 2, names, &o, &ds), PNEUMO_ERR_INVALID_ARG,
                     "class_names[1]");
    }
    /* Nothing usable. */
    {
        char bad[4096];
        const char *bp[1];
        pjoin(bad, root, "bad.png");
        write_bytes(bad, "not an image", 12);
        bp[0] = bad;
        expect_error(pneumo_dataset_open_files(bp, labels, 1, 1, NULL, &o, &ds), PNEUMO_ERR_FORMAT,
                     "bad.png");
    }
    /* Images over the decode limits are skipped with the reason (strict: LIMIT). */
    {
        char big[4096];
        const char *lp[2];
        int32_t ll[2] = {0, 0};
        pneumo_decode_limits lim;
        pneumo_decode_default_limits(&lim);
        pjoin(big, root, "big.png");
        write_png(big, 40, 3, 3);
        lp[0] = a;
        lp[1] = big;
        lim.max_side = 16;
        o.limits = &lim;
        assert_int_equal(pneumo_dataset_open_files(lp, ll, 2, 1, NULL, &o, &ds), PNEUMO_OK);
        assert_int_equal(pneumo_dataset_size(ds), 1);
        assert_int_equal(pneumo_dataset_num_skipped(ds), 1);
        assert_non_null(strstr(tu_ds_skipped(ds, 0), "big.png: "));
        assert_non_null(strstr(tu_ds_skipped(ds, 0), "limit"));
        pneumo_dataset_destroy(ds);
        o.strict = 1;
        expect_error(pneumo_dataset_open_files(lp, ll, 2, 1, NULL, &o, &ds), PNEUMO_ERR_LIMIT, "big.png");
        lim.max_side = 0;
        expect_error(pneumo_dataset_open_files(lp, ll, 2, 1, NULL, &o, &ds), PNEUMO_ERR_INVALID_ARG,
                     "limits");
        o = small_opts(4, 4, 1);
    }
    /* Bad options. */
    o.width = 0;
    expect_error(pneumo_dataset_open_files(paths, labels, 3, 1, NULL, &o, &ds), PNEUMO_ERR_INVALID_ARG,
                 "target size");
    o = small_opts(4, 4, 1);
    o.reserved[2] = 1;
    expect_error(pneumo_dataset_open_files(paths, labels, 3, 1, NULL, &o, &ds), PNEUMO_ERR_INVALID_ARG,
                 "reserved");
    o = small_opts(4, 4, 1);
    {
        pneumo_augment_options aug;
        pneumo_augment_default_options(&aug);
        aug.zoom_lo = 2.0;
        o.augment_options = &aug;
        assert_int_equal(pneumo_dataset_open_files(paths, labels, 3, 1, NULL, &o, &ds),
                         PNEUMO_ERR_INVALID_ARG);
    }
    o = small_opts(4, 4, -1);
    expect_error(pneumo_dataset_open_files(paths, labels, 3, 1, NULL, &o, &ds), PNEUMO_ERR_INVALID_ARG,
                 "threads");
    o = small_opts(4, 4, 1);
    o.prefetch_batches = 1000;
    expect_error(pneumo_dataset_open_files(paths, labels, 3, 1, NULL, &o, &ds), PNEUMO_ERR_INVALID_ARG,
                 "prefetch");
    assert_null(ds);
    rm_rf(root);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_class_weights),
        cmocka_unit_test(test_class_weights_open_files),
        cmocka_unit_test(test_open_files_rules),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
