/* Patient keys of file names and the stratified, patient-grouped
 * train/validation split of a class-folder dataset (pneumo_dataset_open_split):
 * fixture trees written here, and the shared X-ray data when present. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "testutil.h"

#include "pneumo/pneumo.h"

#include "dataset_fixtures.h"

/* Fixture: Normal/ holds patients IM-0k (k < 12) with k % 3 + 1 images,
 * Opacity/ patients person k (k < 20) with k % 4 + 1 images, bacteria and
 * virus alternating: 24 + 50 images. `reverse` writes them in the opposite
 * order (the listing must not matter). */
#define FIX_NORMAL_PATIENTS 12
#define FIX_OPACITY_PATIENTS 20
#define FIX_NORMAL_IMAGES 24
#define FIX_OPACITY_IMAGES 50

static void make_patient_tree(const char *root, int reverse)
{
    char cls[4096], p[4096], name[64];
    pjoin(cls, root, "Normal");
    mkdir_ok(cls);
    for (int t = 0; t < FIX_NORMAL_PATIENTS; t++) {
        int k = reverse ? FIX_NORMAL_PATIENTS - 1 - t : t;
        for (int j = 0; j < k % 3 + 1; j++) {
            snprintf(name, sizeof name, "%sIM-%04d-%04d.png", k % 2 ? "NORMAL2-" : "", k, j + 1);
            pjoin(p, cls, name);
            write_png(p, 4, 4, k + j);
        }
    }
    pjoin(cls, root, "Opacity");
    mkdir_ok(cls);
    for (int t = 0; t < FIX_OPACITY_PATIENTS; t++) {
        int k = reverse ? FIX_OPACITY_PATIENTS - 1 - t : t;
        for (int j = 0; j < k % 4 + 1; j++) {
            snprintf(name, sizeof name, "person%d_%s_%d.png", k + 1, j % 2 ? "virus" : "bacteria",
                     10 * k + j);
            pjoin(p, cls, name);
            write_png(p, 4, 4, k + 2 * j);
        }
    }
}

static const char *patient_of(const char *path, char *buf, size_t size)
{
    assert_int_equal(pneumo_patient_id(path, buf, size, NULL), PNEUMO_OK);
    return buf;
}

static const char *path_of(const pneumo_dataset *ds, int64_t i, char *buf, size_t size)
{
    assert_int_equal(pneumo_dataset_path(ds, i, buf, size, NULL), PNEUMO_OK);
    return buf;
}

/* Number of images of `a` whose patient also has an image in `b`. */
static int64_t patient_overlap(const pneumo_dataset *a, const pneumo_dataset *b)
{
    int64_t na = pneumo_dataset_size(a), nb = pneumo_dataset_size(b), shared = 0;
    char **keys = malloc((size_t)nb * sizeof *keys);
    assert_non_null(keys);
    for (int64_t j = 0; j < nb; j++) {
        char p[4096], k[4096];
        keys[j] = strdup(patient_of(path_of(b, j, p, sizeof p), k, sizeof k));
        assert_non_null(keys[j]);
    }
    for (int64_t i = 0; i < na; i++) {
        char p[4096], k[4096];
        patient_of(path_of(a, i, p, sizeof p), k, sizeof k);
        for (int64_t j = 0; j < nb; j++) {
            if (strcmp(k, keys[j]) == 0) {
                shared++;
                break;
            }
        }
    }
    for (int64_t j = 0; j < nb; j++)
        free(keys[j]);
    free(keys);
    return shared;
}

/* "Class/name" of every image, one per line, in dataset order. */
static char *relative_names(const pneumo_dataset *ds)
{
    size_t cap = 1, len = 0;
    char *out = NULL;
    for (int64_t i = 0; i < pneumo_dataset_size(ds); i++) {
        char p[4096];
        const char *base, *cls;
        path_of(ds, i, p, sizeof p);
        base = strrchr(p, '/');
        assert_non_null(base);
        cls = base - 1;
        while (cls > p && cls[-1] != '/')
            cls--;
        cap += strlen(cls) + 1;
        out = realloc(out, cap);
        assert_non_null(out);
        len += (size_t)sprintf(out + len, "%s\n", cls);
    }
    return out ? out : strdup("");
}

static void split_ok(const char *dir, const pneumo_split_options *s, pneumo_dataset **train,
                     pneumo_dataset **val)
{
    pneumo_dataset_options o = small_opts(4, 4, 2);
    pneumo_status st = pneumo_dataset_open_split(dir, s, &o, &o, train, val);
    if (st != PNEUMO_OK)
        fail_msg("open_split(%s): %s", dir, pneumo_last_error());
}

static pneumo_split_options split_opts(int group, double fraction, uint64_t seed)
{
    pneumo_split_options s;
    pneumo_split_default_options(&s);
    s.group = group;
    s.val_fraction = fraction;
    s.seed = seed;
    return s;
}

/* ------------------------------------------------------------------------ */
/* Tests.                                                                    */

static void test_patient_id(void **state)
{
    static const char *const cases[][2] = {
        {"person1_bacteria_1.jpeg", "person1"},
        {"/data/train/Opacity/person1010_virus_1695.jpeg", "person1010"},
        {"person12_virus_3_1.JPG", "person12"},
        {"IM-0115-0001.jpeg", "IM-0115"},
        {"Normal/NORMAL2-IM-1427-0001.jpeg", "NORMAL2-IM-1427"},
        {"IM-0001-0001-0001.png", "IM-0001"},
        {"NORMAL2-IM-0012-0001-0002.dcm", "NORMAL2-IM-0012"},
        /* Not one of the two forms: the whole base name. */
        {"person1_covid_1.jpeg", "person1_covid_1.jpeg"},
        {"personA_virus_1.jpeg", "personA_virus_1.jpeg"},
        {"person1_virus_.jpeg", "person1_virus_.jpeg"},
        {"IM-0115.jpeg", "IM-0115.jpeg"},
        {"IM-0115-00a1.jpeg", "IM-0115-00a1.jpeg"},
        {"NORMAL3-IM-0001-0001.jpeg", "NORMAL3-IM-0001-0001.jpeg"},
        {"dir/scan 7.png", "scan 7.png"},
        {"IM-0001-0001.jpeg.bak", "IM-0001-0001.jpeg.bak"},
    };
    char buf[64];
    size_t need = 0;
    (void)state;
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        assert_int_equal(pneumo_patient_id(cases[i][0], buf, sizeof buf, &need), PNEUMO_OK);
        assert_string_equal(buf, cases[i][1]);
        assert_int_equal(need, strlen(cases[i][1]));
    }
    /* snprintf semantics: truncated copy, full length in *needed. */
    assert_int_equal(pneumo_patient_id("person1010_virus_1.jpeg", buf, 5, &need), PNEUMO_OK);
    assert_string_equal(buf, "pers");
    assert_int_equal(need, 10);
    assert_int_equal(pneumo_patient_id("IM-0115-0001.jpeg", NULL, 0, &need), PNEUMO_OK);
    assert_int_equal(need, 7);
    expect_error(pneumo_patient_id(NULL, buf, sizeof buf, NULL), PNEUMO_ERR_INVALID_ARG, "NULL");
    expect_error(pneumo_patient_id("", buf, sizeof buf, NULL), PNEUMO_ERR_INVALID_ARG, "empty");
    expect_error(pneumo_patient_id("a/b/", buf, sizeof buf, NULL), PNEUMO_ERR_INVALID_ARG, "a/b/");
    expect_error(pneumo_patient_id("x.png", NULL, 4, NULL), PNEUMO_ERR_INVALID_ARG, "buf");
}

static void test_split_by_patient(void **state)
{
    char root[4096];
    const double fractions[] = {0.2, 0.25, 0.5, 0.8};
    (void)state;
    new_tmp(root);
    make_patient_tree(root, 0);
    for (size_t f = 0; f < sizeof fractions / sizeof fractions[0]; f++) {
        pneumo_split_options s = split_opts(PNEUMO_SPLIT_GROUP_PATIENT, fractions[f], 7);
        pneumo_dataset *train, *val;
        const int64_t total[2] = {FIX_NORMAL_IMAGES, FIX_OPACITY_IMAGES};
        /* Largest patient: 3 images in Normal, 4 in Opacity. */
        const double half_patient[2] = {1.5, 2.0};
        double w[2];
        split_ok(root, &s, &train, &val);
        assert_int_equal(pneumo_dataset_size(train) + pneumo_dataset_size(val),
                         FIX_NORMAL_IMAGES + FIX_OPACITY_IMAGES);
        assert_int_equal(patient_overlap(train, val), 0);
        assert_int_equal(patient_overlap(val, train), 0);
        for (int32_t c = 0; c < 2; c++) {
            int64_t nv = pneumo_dataset_class_count(val, c), nt = pneumo_dataset_class_count(train, c);
            double target = fractions[f] * (double)total[c];
            assert_int_equal(nv + nt, total[c]);
            assert_true(nv > 0 && nt > 0);
            if (fabs((double)nv - target) > half_patient[c])
                fail_msg("fraction %g class %d: %lld validation images, target %g", fractions[f], (int)c,
                         (long long)nv, target);
        }
        for (pneumo_dataset **d = (pneumo_dataset *[]){train, val}, **e = d + 2; d < e; d++) {
            assert_int_equal(pneumo_dataset_num_classes(*d), 2);
            assert_string_equal(tu_ds_class(*d, 0), "Normal");
            assert_string_equal(tu_ds_class(*d, 1), "Opacity");
            assert_int_equal(pneumo_dataset_class_weights(*d, w, 2), PNEUMO_OK);
            assert_int_equal(pneumo_dataset_num_skipped(*d), 0);
            /* Dataset order: class by class, names sorted. */
            for (int64_t i = 1; i < pneumo_dataset_size(*d); i++) {
                char a[4096], b[4096];
                assert_true(pneumo_dataset_label(*d, i - 1) <= pneumo_dataset_label(*d, i));
                if (pneumo_dataset_label(*d, i - 1) == pneumo_dataset_label(*d, i))
                    assert_true(strcmp(path_of(*d, i - 1, a, sizeof a), path_of(*d, i, b, sizeof b)) < 0);
            }
        }
        pneumo_dataset_destroy(train);
        pneumo_dataset_destroy(val);
    }
    rm_rf(root);
}

static void test_split_determinism(void **state)
{
    char a[4096], b[4096];
    pneumo_dataset *ta, *va, *tb, *vb, *tc, *vc;
    pneumo_split_options s = split_opts(PNEUMO_SPLIT_GROUP_PATIENT, 0.3, 42);
    char *na, *nb, *nc, *ta_names, *tb_names;
    (void)state;
    new_tmp(a);
    make_patient_tree(a, 0);
    new_tmp(b);
    make_patient_tree(b, 1); /* same names, other folder, other creation order */
    split_ok(a, &s, &ta, &va);
    split_ok(b, &s, &tb, &vb);
    na = relative_names(va);
    nb = relative_names(vb);
    ta_names = relative_names(ta);
    tb_names = relative_names(tb);
    assert_string_equal(na, nb);
    assert_string_equal(ta_names, tb_names);
    /* Opening again gives the same split; another seed another one. */
    pneumo_dataset_destroy(tb);
    pneumo_dataset_destroy(vb);
    split_ok(a, &s, &tb, &vb);
    free(nb);
    nb = relative_names(vb);
    assert_string_equal(na, nb);
    s.seed = 43;
    split_ok(a, &s, &tc, &vc);
    nc = relative_names(vc);
    assert_string_not_equal(na, nc);
    assert_int_equal(patient_overlap(tc, vc), 0);
    free(na);
    free(nb);
    free(nc);
    free(ta_names);
    free(tb_names);
    pneumo_dataset_destroy(ta);
    pneumo_dataset_destroy(va);
    pneumo_dataset_destroy(tb);
    pneumo_dataset_destroy(vb);
    pneumo_dataset_destroy(tc);
    pneumo_dataset_destroy(vc);
    rm_rf(a);
    rm_rf(b);
}

/* One patient per class with 10 images: grouped it cannot be split, ungrouped
 * the images are split 2 + 8 per class. */
static void test_split_group_none(void **state)
{
    char root[4096], cls[4096], p[4096], name[64];
    pneumo_dataset *train = (pneumo_dataset *)1, *val = (pneumo_dataset *)1;
    pneumo_dataset_options o = small_opts(4, 4, 2);
    pneumo_split_options s = split_opts(PNEUMO_SPLIT_GROUP_PATIENT, 0.2, 0);
    (void)state;
    new_tmp(root);
    pjoin(cls, root, "Normal");
    mkdir_ok(cls);
    for (int j = 0; j < 10; j++) {
        snprintf(name, sizeof name, "IM-0007-%04d.png", j);
        pjoin(p, cls, name);
        write_png(p, 4, 4, j);
    }
    pjoin(cls, root, "Opacity");
    mkdir_ok(cls);
    for (int j = 0; j < 10; j++) {
        snprintf(name, sizeof name, "person3_virus_%d.png", j);
        pjoin(p, cls, name);
        write_png(p, 4, 4, j + 1);
    }
    expect_error(pneumo_dataset_open_split(root, &s, &o, &o, &train, &val), PNEUMO_ERR_FORMAT,
                 "class 'Normal' has 1 patient");
    assert_null(train);
    assert_null(val);
    assert_non_null(strstr(pneumo_last_error(), root));
    s.group = PNEUMO_SPLIT_GROUP_NONE;
    split_ok(root, &s, &train, &val);
    assert_int_equal(pneumo_dataset_class_count(val, 0), 2);
    assert_int_equal(pneumo_dataset_class_count(val, 1), 2);
    assert_int_equal(pneumo_dataset_class_count(train, 0), 8);
    assert_int_equal(pneumo_dataset_class_count(train, 1), 8);
    assert_int_equal(patient_overlap(train, val), 16); /* the same two patients on both sides */
    pneumo_dataset_destroy(train);
    pneumo_dataset_destroy(val);
    rm_rf(root);
}

/* Names of neither form are one group per image even when both class folders
 * use them; a patient with images in two classes stays on one side. */
static void test_split_generic_names(void **state)
{
    char root[4096], cls[4096], p[4096], name[64];
    const char *classes[2] = {"Normal", "Opacity"};
    pneumo_dataset *train, *val;
    pneumo_split_options s = split_opts(PNEUMO_SPLIT_GROUP_PATIENT, 0.5, 3);
    pneumo_dataset_options o = small_opts(4, 4, 2);
    int sides = 0;
    (void)state;
    new_tmp(root);
    for (int c = 0; c < 2; c++) {
        pjoin(cls, root, classes[c]);
        mkdir_ok(cls);
        for (int i = 0; i < 4; i++) {
            snprintf(name, sizeof name, "%d.png", i);
            pjoin(p, cls, name);
            write_png(p, 4, 4, 4 * c + i);
        }
        /* person5 has one image in each class */
        snprintf(name, sizeof name, "person5_virus_%d.png", c);
        pjoin(p, cls, name);
        write_png(p, 4, 4, 9 + c);
    }
    split_ok(root, &s, &train, &val);
    assert_int_equal(pneumo_dataset_size(train) + pneumo_dataset_size(val), 10);
    for (int32_t c = 0; c < 2; c++) {
        assert_true(pneumo_dataset_class_count(val, c) > 0);
        assert_true(pneumo_dataset_class_count(train, c) > 0);
    }
    for (pneumo_dataset **d = (pneumo_dataset *[]){train, val}, **e = d + 2; d < e; d++) {
        int n5 = 0;
        for (int64_t i = 0; i < pneumo_dataset_size(*d); i++) {
            char path[4096], key[64];
            if (strcmp(patient_of(path_of(*d, i, path, sizeof path), key, sizeof key), "person5") == 0)
                n5++;
        }
        assert_true(n5 == 0 || n5 == 2);
        sides += n5 > 0;
    }
    assert_int_equal(sides, 1);
    pneumo_dataset_destroy(train);
    pneumo_dataset_destroy(val);
    /* Opacity holding only images of a Normal patient has no group of its own. */
    rm_rf(root);
    new_tmp(root);
    for (int c = 0; c < 2; c++) {
        pjoin(cls, root, classes[c]);
        mkdir_ok(cls);
        for (int i = 0; i < 3; i++) {
            snprintf(name, sizeof name, "person%d_virus_%d.png", i + 1, c);
            pjoin(p, cls, name);
            write_png(p, 4, 4, i + c);
        }
    }
    expect_error(pneumo_dataset_open_split(root, &s, &o, &o, &train, &val), PNEUMO_ERR_FORMAT,
                 "class 'Opacity' has 0 patient(s) of its own");
    rm_rf(root);
}

/* An unreadable file is skipped by the side it falls on, as open_dir does;
 * with strict the split fails naming it. */
static void test_split_skipped(void **state)
{
    char root[4096], p[4096];
    pneumo_dataset *train, *val;
    pneumo_dataset_options o = small_opts(4, 4, 2);
    pneumo_split_options s = split_opts(PNEUMO_SPLIT_GROUP_PATIENT, 0.2, 1);
    char line[4096];
    (void)state;
    new_tmp(root);
    make_patient_tree(root, 0);
    pjoin(p, root, "Opacity/person99_virus_1.png");
    write_bytes(p, "not a png", 9);
    split_ok(root, &s, &train, &val);
    assert_int_equal(pneumo_dataset_num_skipped(train) + pneumo_dataset_num_skipped(val), 1);
    assert_int_equal(pneumo_dataset_size(train) + pneumo_dataset_size(val),
                     FIX_NORMAL_IMAGES + FIX_OPACITY_IMAGES);
    assert_int_equal(pneumo_dataset_skipped(pneumo_dataset_num_skipped(train) ? train : val, 0, line,
                                            sizeof line, NULL),
                     PNEUMO_OK);
    assert_non_null(strstr(line, "person99_virus_1.png"));
    pneumo_dataset_destroy(train);
    pneumo_dataset_destroy(val);
    o.strict = 1;
    expect_error(pneumo_dataset_open_split(root, &s, &o, &o, &train, &val), PNEUMO_ERR_FORMAT,
                 "person99_virus_1.png");
    assert_null(train);
    assert_null(val);
    rm_rf(root);
}

static void test_split_errors(void **state)
{
    char root[4096], file[4096];
    pneumo_dataset *train = (pneumo_dataset *)1, *val = (pneumo_dataset *)1;
    const double bad[] = {0.0, 1.0, -0.2, 1.5, NAN};
    pneumo_split_options s;
    (void)state;
    new_tmp(root);
    make_patient_tree(root, 0);
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        s = split_opts(PNEUMO_SPLIT_GROUP_PATIENT, bad[i], 0);
        expect_error(pneumo_dataset_open_split(root, &s, NULL, NULL, &train, &val), PNEUMO_ERR_INVALID_ARG,
                     "val_fraction");
        assert_non_null(strstr(pneumo_last_error(), root));
        assert_null(train);
        assert_null(val);
    }
    s = split_opts(2, 0.2, 0);
    expect_error(pneumo_dataset_open_split(root, &s, NULL, NULL, &train, &val), PNEUMO_ERR_INVALID_ARG,
                 "group 2");
    s = split_opts(PNEUMO_SPLIT_GROUP_PATIENT, 0.2, 0);
    s.reserved[3] = 1;
    expect_error(pneumo_dataset_open_split(root, &s, NULL, NULL, &train, &val), PNEUMO_ERR_INVALID_ARG,
                 "reserved");
    s.reserved[3] = 0;
    s.size = 8;
    expect_error(pneumo_dataset_open_split(root, &s, NULL, NULL, &train, &val), PNEUMO_ERR_INVALID_ARG,
                 "size");
    expect_error(pneumo_dataset_open_split(NULL, NULL, NULL, NULL, &train, &val), PNEUMO_ERR_INVALID_ARG,
                 "dir is NULL");
    expect_error(pneumo_dataset_open_split(root, NULL, NULL, NULL, NULL, &val), PNEUMO_ERR_INVALID_ARG,
                 "train is NULL");
    assert_null(val);
    expect_error(pneumo_dataset_open_split(root, NULL, NULL, NULL, &train, NULL), PNEUMO_ERR_INVALID_ARG,
                 "val is NULL");
    expect_error(pneumo_dataset_open_split("", NULL, NULL, NULL, &train, &val), PNEUMO_ERR_INVALID_ARG,
                 "empty");
    /* Directory errors are open_dir's. */
    pjoin(file, root, "Normal/IM-0000-0001.png");
    expect_error(pneumo_dataset_open_split(file, NULL, NULL, NULL, &train, &val), PNEUMO_ERR_IO,
                 "not a directory");
    pjoin(file, root, "missing");
    expect_error(pneumo_dataset_open_split(file, NULL, NULL, NULL, &train, &val), PNEUMO_ERR_IO, "missing");
    /* Bad dataset options are reported for their side. */
    {
        pneumo_dataset_options o = small_opts(4, 4, 2), bad_o = small_opts(0, 4, 2);
        expect_error(pneumo_dataset_open_split(root, NULL, &o, &bad_o, &train, &val), PNEUMO_ERR_INVALID_ARG,
                     "validation side");
        assert_null(train);
        assert_null(val);
        expect_error(pneumo_dataset_open_split(root, NULL, &bad_o, &o, &train, &val), PNEUMO_ERR_INVALID_ARG,
                     "training side");
    }
    rm_rf(root);
}

/* The shared data: train/ and val/ share patients; a 20% patient split of
 * train/ shares none. */
static void test_real_data(void **state)
{
    const char *data = tu_shared_data();
    char dir[4096], vdir[4096];
    pneumo_dataset *train, *val, *orig_val;
    pneumo_dataset_options o = small_opts(8, 8, 2);
    pneumo_split_options s = split_opts(PNEUMO_SPLIT_GROUP_PATIENT, 0.2, 0);
    int64_t shared_orig;
    (void)state;
    if (!data)
        return;
    o.cache_bytes = 0;
    pjoin(dir, data, "chest_xray_224/train");
    pjoin(vdir, data, "chest_xray_224/val");
    assert_int_equal(pneumo_dataset_open_split(dir, &s, &o, &o, &train, &val), PNEUMO_OK);
    assert_int_equal(pneumo_dataset_size(train) + pneumo_dataset_size(val), 4176);
    assert_int_equal(pneumo_dataset_class_count(train, 0) + pneumo_dataset_class_count(val, 0), 1074);
    assert_int_equal(pneumo_dataset_class_count(train, 1) + pneumo_dataset_class_count(val, 1), 3102);
    assert_int_equal(patient_overlap(val, train), 0);
    assert_int_equal(patient_overlap(train, val), 0);
    for (int32_t c = 0; c < 2; c++) {
        double share = (double)pneumo_dataset_class_count(val, c) /
                       (double)(pneumo_dataset_class_count(train, c) + pneumo_dataset_class_count(val, c));
        assert_true(fabs(share - 0.2) < 0.01);
    }
    assert_int_equal(pneumo_dataset_open_dir(vdir, &o, &orig_val), PNEUMO_OK);
    shared_orig = patient_overlap(orig_val, train);
    printf("split of %s by patient, 20%%: train %lld (Normal %lld, Opacity %lld), val %lld (Normal %lld, "
           "Opacity %lld); val images whose patient is in train: %lld; for the shipped val/: %lld of %lld\n",
           dir, (long long)pneumo_dataset_size(train), (long long)pneumo_dataset_class_count(train, 0),
           (long long)pneumo_dataset_class_count(train, 1), (long long)pneumo_dataset_size(val),
           (long long)pneumo_dataset_class_count(val, 0), (long long)pneumo_dataset_class_count(val, 1),
           (long long)patient_overlap(val, train), (long long)shared_orig,
           (long long)pneumo_dataset_size(orig_val));
    assert_true(shared_orig > 0); /* the leak the split removes */
    pneumo_dataset_destroy(orig_val);
    pneumo_dataset_destroy(train);
    pneumo_dataset_destroy(val);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_patient_id),          cmocka_unit_test(test_split_by_patient),
        cmocka_unit_test(test_split_determinism),   cmocka_unit_test(test_split_group_none),
        cmocka_unit_test(test_split_generic_names), cmocka_unit_test(test_split_skipped),
        cmocka_unit_test(test_split_errors),        cmocka_unit_test(test_real_data),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
