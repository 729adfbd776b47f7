/* Dataset listing: label order, extension filtering and hidden files, the
 * skip policy and strict mode, and bad directories (nonexistent, a file,
 * dangling link, symbolic-link loops, no/one class, empty class). */
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

static void png_in(const char *root, const char *cls, const char *name, int w, int h, int k)
{
    char d[4096], p[4096];
    pjoin(d, root, cls);
    mkdir_ok(d);
    pjoin(p, d, name);
    write_png(p, w, h, k);
}

static void test_label_order(void **state)
{
    char root[4096];
    pneumo_dataset_options o = small_opts(4, 4, 2);
    pneumo_dataset *ds;
    (void)state;
    new_tmp(root);
    png_in(root, "Opacity", "x.png", 5, 5, 1);
    png_in(root, "Opacity", "y.png", 5, 5, 2);
    png_in(root, "Normal", "z.png", 5, 5, 3);
    assert_int_equal(pneumo_dataset_open_dir(root, &o, &ds), PNEUMO_OK);
    assert_int_equal(pneumo_dataset_num_classes(ds), 2);
    assert_string_equal(tu_ds_class(ds, 0), "Normal");
    assert_string_equal(tu_ds_class(ds, 1), "Opacity");
    assert_int_equal(pneumo_dataset_label(ds, 0), 0);
    assert_int_equal(pneumo_dataset_label(ds, 1), 1);
    assert_int_equal(pneumo_dataset_label(ds, 2), 1);
    assert_non_null(strstr(tu_ds_path(ds, 0), "/Normal/z.png"));
    assert_non_null(strstr(tu_ds_path(ds, 1), "/Opacity/x.png"));
    assert_non_null(strstr(tu_ds_path(ds, 2), "/Opacity/y.png"));
    pneumo_dataset_destroy(ds);
    rm_rf(root);

    /* strcmp order: "C" < "a" < "b" (byte values, as Python's sorted()). */
    new_tmp(root);
    png_in(root, "b", "1.png", 4, 4, 1);
    png_in(root, "a", "1.png", 4, 4, 2);
    png_in(root, "C", "1.png", 4, 4, 3);
    png_in(root, "a", "0.png", 4, 4, 4);
    assert_int_equal(pneumo_dataset_open_dir(root, &o, &ds), PNEUMO_OK);
    assert_int_equal(pneumo_dataset_num_classes(ds), 3);
    assert_string_equal(tu_ds_class(ds, 0), "C");
    assert_string_equal(tu_ds_class(ds, 1), "a");
    assert_string_equal(tu_ds_class(ds, 2), "b");
    assert_int_equal(pneumo_dataset_class_count(ds, 1), 2);
    assert_non_null(strstr(tu_ds_path(ds, 1), "/a/0.png"));
    assert_non_null(strstr(tu_ds_path(ds, 2), "/a/1.png"));
    assert_int_equal(pneumo_dataset_label(ds, 3), 2);
    pneumo_dataset_destroy(ds);
    rm_rf(root);
}

static void test_extension_filtering(void **state)
{
    char root[4096], d[4096], p[4096];
    pneumo_dataset_options o = small_opts(4, 4, 2);
    pneumo_dataset *ds;
    (void)state;
    new_tmp(root);
    png_in(root, "A", "one.JPG", 5, 4, 1); /* content decides the format, not the name */
    png_in(root, "A", "two.Png", 5, 4, 2);
    png_in(root, "A", "three.jpeg", 5, 4, 3);
    png_in(root, "A", "four.PNG", 5, 4, 4);
    png_in(root, "A", "notes.txt", 5, 4, 5);
    png_in(root, "A", "noext", 5, 4, 5);
    png_in(root, "A", "png", 5, 4, 5);
    png_in(root, "A", ".hidden.png", 5, 4, 6);
    pjoin(d, root, "A/sub.png"); /* a folder with an image name is not an image */
    mkdir_ok(d);
    pjoin(p, d, "deep.png"); /* not searched: no recursion below class folders */
    write_png(p, 4, 4, 7);
    pjoin(d, root, "A/.hiddendir");
    mkdir_ok(d);
    pjoin(p, d, "x.png");
    write_png(p, 4, 4, 7);
    png_in(root, "B", "b.png", 4, 4, 8);
    png_in(root, ".hiddenclass", "h.png", 4, 4, 9);
    pjoin(p, root, "README.png"); /* a plain file next to the classes is ignored */
    write_png(p, 4, 4, 9);
    /* A symbolic link to an image counts. */
    pjoin(p, root, "B/link.png");
    pjoin(d, root, "A/one.JPG");
    assert_int_equal(symlink(d, p), 0);

    assert_int_equal(pneumo_dataset_open_dir(root, &o, &ds), PNEUMO_OK);
    assert_int_equal(pneumo_dataset_num_classes(ds), 2);
    assert_int_equal(pneumo_dataset_class_count(ds, 0), 4);
    assert_int_equal(pneumo_dataset_class_count(ds, 1), 2);
    assert_int_equal(pneumo_dataset_num_skipped(ds), 0);
    /* strcmp order within the class: "four.PNG" < "one.JPG" < "three.jpeg" < "two.Png". */
    assert_non_null(strstr(tu_ds_path(ds, 0), "/A/four.PNG"));
    assert_non_null(strstr(tu_ds_path(ds, 1), "/A/one.JPG"));
    assert_non_null(strstr(tu_ds_path(ds, 2), "/A/three.jpeg"));
    assert_non_null(strstr(tu_ds_path(ds, 3), "/A/two.Png"));
    assert_non_null(strstr(tu_ds_path(ds, 4), "/B/b.png"));
    assert_non_null(strstr(tu_ds_path(ds, 5), "/B/link.png"));
    pneumo_dataset_destroy(ds);
    rm_rf(root);
}

static void test_skipped_and_strict(void **state)
{
    char root[4096], p[4096], rep[256];
    pneumo_dataset_options o = small_opts(6, 5, 3);
    pneumo_dataset *ds;
    size_t needed = 0;
    (void)state;
    new_tmp(root);
    make_dataset(root, 4);
    pjoin(p, root, "Normal/broken.png");
    write_bytes(p, "\x89PNG\r\n\x1a\n garbage that is not a PNG", 34);
    pjoin(p, root, "Opacity/empty.jpg");
    write_bytes(p, "", 0);
    pjoin(p, root, "Opacity/dangling.png");
    assert_int_equal(symlink("/nonexistent/pneumo/target.png", p), 0);

    assert_int_equal(pneumo_dataset_open_dir(root, &o, &ds), PNEUMO_OK);
    assert_int_equal(pneumo_dataset_size(ds), 8);
    assert_int_equal(pneumo_dataset_class_count(ds, 0), 4);
    assert_int_equal(pneumo_dataset_class_count(ds, 1), 4);
    assert_int_equal(pneumo_dataset_num_skipped(ds), 3);
    /* Listed in dataset order, "path: reason". */
    assert_non_null(strstr(tu_ds_skipped(ds, 0), "/Normal/broken.png: "));
    assert_non_null(strstr(tu_ds_skipped(ds, 1), "/Opacity/dangling.png: "));
    assert_non_null(strstr(tu_ds_skipped(ds, 2), "/Opacity/empty.jpg: "));
    assert_non_null(strstr(tu_ds_skipped(ds, 2), "empty"));
    assert_int_equal(pneumo_dataset_skipped(ds, 3, NULL, 0, NULL), PNEUMO_ERR_INVALID_ARG);
    for (int64_t i = 0; i < pneumo_dataset_size(ds); i++)
        assert_null(strstr(tu_ds_path(ds, i), "broken"));
    assert_int_equal(pneumo_dataset_report(ds, rep, sizeof rep, &needed), PNEUMO_OK);
    assert_string_equal(rep, "Found 8 images belonging to 2 classes.\n"
                             "Skipped 3 unreadable image files.");
    assert_int_equal(needed, strlen(rep));
    /* snprintf semantics. */
    assert_int_equal(pneumo_dataset_report(ds, rep, 6, &needed), PNEUMO_OK);
    assert_string_equal(rep, "Found");
    assert_int_equal(needed, strlen("Found 8 images belonging to 2 classes.\n"
                                    "Skipped 3 unreadable image files."));
    assert_int_equal(pneumo_dataset_report(ds, NULL, 0, &needed), PNEUMO_OK);
    assert_int_equal(pneumo_dataset_report(ds, NULL, 4, &needed), PNEUMO_ERR_INVALID_ARG);
    pneumo_dataset_destroy(ds);

    o.strict = 1;
    ds = (pneumo_dataset *)1;
    expect_error(pneumo_dataset_open_dir(root, &o, &ds), PNEUMO_ERR_FORMAT, "broken.png");
    assert_null(ds);
    assert_non_null(strstr(pneumo_last_error(), "strict"));

    /* A class whose only images are unreadable is an error even when not strict. */
    o.strict = 0;
    png_in(root, "Zempty", "bad.png", 1, 1, 0);
    pjoin(p, root, "Zempty/bad.png");
    write_bytes(p, "junk", 4);
    expect_error(pneumo_dataset_open_dir(root, &o, &ds), PNEUMO_ERR_FORMAT, "Zempty");
    rm_rf(root);
}

static void test_bad_directories(void **state)
{
    char root[4096], p[4096], q[4096];
    pneumo_dataset_options o = small_opts(4, 4, 2);
    pneumo_dataset *ds = NULL;
    (void)state;
    new_tmp(root);

    pjoin(p, root, "missing");
    expect_error(pneumo_dataset_open_dir(p, &o, &ds), PNEUMO_ERR_IO, "no such directory");
    assert_non_null(strstr(pneumo_last_error(), p));
    assert_null(ds);

    pjoin(p, root, "file.png");
    write_png(p, 4, 4, 1);
    expect_error(pneumo_dataset_open_dir(p, &o, &ds), PNEUMO_ERR_IO, "not a directory");
    pjoin(q, p, "sub");
    expect_error(pneumo_dataset_open_dir(q, &o, &ds), PNEUMO_ERR_IO, "not a directory");

    pjoin(p, root, "dangling");
    assert_int_equal(symlink("/nonexistent/pneumo-dir", p), 0);
    expect_error(pneumo_dataset_open_dir(p, &o, &ds), PNEUMO_ERR_IO, "dangling symbolic link");

    pjoin(p, root, "selfloop");
    assert_int_equal(symlink("selfloop", p), 0);
    expect_error(pneumo_dataset_open_dir(p, &o, &ds), PNEUMO_ERR_IO, "symbolic link loop");

    pjoin(p, root, "empty");
    mkdir_ok(p);
    expect_error(pneumo_dataset_open_dir(p, &o, &ds), PNEUMO_ERR_FORMAT, "no class sub-folders");
    assert_non_null(strstr(pneumo_last_error(), "empty"));

    pjoin(p, root, "one");
    mkdir_ok(p);
    png_in(p, "Normal", "a.png", 4, 4, 1);
    expect_error(pneumo_dataset_open_dir(p, &o, &ds), PNEUMO_ERR_FORMAT, "needs at least 2 classes");
    assert_non_null(strstr(pneumo_last_error(), "Normal"));

    /* A class folder without images (only a text file). */
    png_in(p, "Opacity", "readme.txt", 4, 4, 1);
    expect_error(pneumo_dataset_open_dir(p, &o, &ds), PNEUMO_ERR_FORMAT, "class folder without images");
    assert_non_null(strstr(pneumo_last_error(), "/one/Opacity"));
    png_in(p, "Opacity", "b.png", 4, 4, 2);
    assert_int_equal(pneumo_dataset_open_dir(p, &o, &ds), PNEUMO_OK);
    pneumo_dataset_destroy(ds);
    ds = NULL;

    /* Symbolic-link loops must not hang: a class folder linked to itself,
     * to the dataset folder and to its parent. */
    pjoin(q, p, "Loop");
    assert_int_equal(symlink("Loop", q), 0);
    expect_error(pneumo_dataset_open_dir(p, &o, &ds), PNEUMO_ERR_IO, "symbolic link loop");
    assert_non_null(strstr(pneumo_last_error(), "Loop"));
    assert_int_equal(unlink(q), 0);
    assert_int_equal(symlink(".", q), 0);
    expect_error(pneumo_dataset_open_dir(p, &o, &ds), PNEUMO_ERR_IO, "symbolic link loop");
    assert_int_equal(unlink(q), 0);
    assert_int_equal(symlink("..", q), 0);
    expect_error(pneumo_dataset_open_dir(p, &o, &ds), PNEUMO_ERR_IO, "symbolic link loop");
    assert_int_equal(unlink(q), 0);
    /* A dangling link among the classes is not a class (as Keras' isdir()). */
    assert_int_equal(symlink("/nonexistent/pneumo-class", q), 0);
    assert_int_equal(pneumo_dataset_open_dir(p, &o, &ds), PNEUMO_OK);
    assert_int_equal(pneumo_dataset_num_classes(ds), 2);
    pneumo_dataset_destroy(ds);
    ds = NULL;
    assert_int_equal(unlink(q), 0);
    /* A class folder that is a link to another folder outside is followed. */
    {
        char ext[4096];
        pjoin(ext, root, "outside");
        mkdir_ok(ext);
        png_in(ext, "x", "c.png", 4, 4, 3);
        pjoin(ext, root, "outside/x");
        assert_int_equal(symlink(ext, q), 0);
        assert_int_equal(pneumo_dataset_open_dir(p, &o, &ds), PNEUMO_OK);
        assert_int_equal(pneumo_dataset_num_classes(ds), 3);
        assert_string_equal(tu_ds_class(ds, 0), "Loop");
        assert_int_equal(pneumo_dataset_class_count(ds, 0), 1);
        pneumo_dataset_destroy(ds);
        ds = NULL;
    }

    expect_error(pneumo_dataset_open_dir(NULL, &o, &ds), PNEUMO_ERR_INVALID_ARG, "dir");
    expect_error(pneumo_dataset_open_dir("", &o, &ds), PNEUMO_ERR_INVALID_ARG, "empty");
    expect_error(pneumo_dataset_open_dir(p, &o, NULL), PNEUMO_ERR_INVALID_ARG, "out");
    rm_rf(root);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_label_order),
        cmocka_unit_test(test_extension_filtering),
        cmocka_unit_test(test_skipped_and_strict),
        cmocka_unit_test(test_bad_directories),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
