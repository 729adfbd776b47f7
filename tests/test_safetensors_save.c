/* The safetensors writer and reader on well-formed input
 * (lib/format/safetensors.c): round trips, the byte layout, empty files and
 * zero tensors, argument checks and atomic replacement of the destination. */
#include "testutil.h"

#include <dirent.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/file.h"
#include "format/json.h"
#include "format/safetensors.h"

#include "safetensors_fixtures.h"

static size_t numel_of(const pn_st_tensor *t)
{
    size_t n = 1;
    for (int d = 0; d < t->ndim; d++)
        n *= (size_t)t->shape[d];
    return n;
}

static void check_matches_sample(const pn_st_file *f, const sample *s)
{
    assert_int_equal(pn_st_count(f), 5);
    for (size_t i = 0; i < 5; i++) {
        const pn_st_tensor *t = &s->tensors[i];
        assert_string_equal(pn_st_name(f, i), t->name); /* order is kept */
        assert_int_equal(pn_st_find(f, t->name), (int)i);
        assert_int_equal(pn_st_ndim(f, i), t->ndim);
        for (int d = 0; d < t->ndim; d++)
            assert_true(pn_st_shape(f, i)[d] == t->shape[d]);
        size_t n = numel_of(t);
        assert_int_equal(pn_st_numel(f, i), n);
        if (n > 0)
            assert_memory_equal(pn_st_data(f, i), t->data, n * sizeof(float));
        else
            assert_null(pn_st_data(f, i));
    }
    assert_int_equal(pn_st_find(f, "nope"), -1);
    assert_null(pn_st_name(f, 5));
    assert_null(pn_st_shape(f, 99));
    assert_int_equal(pn_st_meta_count(f), 3);
    for (size_t i = 0; i < 3; i++)
        assert_string_equal(pn_st_meta_get(f, s->meta[i].key), s->meta[i].value);
    assert_null(pn_st_meta_get(f, "absent"));
}

static void write_file(const char *path, const void *data, size_t n)
{
    FILE *fp = fopen(path, "wb");
    assert_non_null(fp);
    assert_int_equal(fwrite(data, 1, n, fp), n);
    assert_int_equal(fclose(fp), 0);
}

/* ---- round trip -------------------------------------------------------------- */

static void test_save_load_round_trip(void **state)
{
    (void)state;
    sample s;
    make_sample(&s);
    const char *dir = tu_tmpdir();
    assert_non_null(dir);
    char *path = tu_join(dir, "model.safetensors");
    assert_int_equal(pn_safetensors_save(path, s.meta, 3, s.tensors, 5), PNEUMO_OK);

    uint8_t *bytes = NULL;
    size_t size = 0;
    assert_int_equal(pn_read_file(path, 1 << 20, &bytes, &size), PNEUMO_OK);
    pn_st_file *f = NULL;
    assert_int_equal(pn_safetensors_parse(bytes, size, path, &f), PNEUMO_OK);
    check_matches_sample(f, &s);
    pn_st_free(f);

    /* the in-memory serializer produces the very same bytes */
    pn_buf img;
    sample_image(&img);
    assert_int_equal(img.len, size);
    assert_memory_equal(img.data, bytes, size);
    pn_buf_free(&img);

    int has_tmp;
    assert_int_equal(tu_count_entries(dir, &has_tmp), 1);
    assert_false(has_tmp);
    free(bytes);
    unlink(path);
    free(path);
    rmdir(dir);
}

static void test_layout(void **state)
{
    (void)state;
    pn_buf img;
    sample_image(&img);
    const uint8_t *b = (const uint8_t *)img.data;
    uint64_t n = 0;
    for (int i = 7; i >= 0; i--)
        n = (n << 8) | b[i]; /* little-endian length */
    assert_true(n + 8 <= img.len);
    assert_int_equal((8 + n) % 8, 0); /* data starts 8-byte aligned */
    assert_int_equal(b[8], '{');

    /* the header is plain JSON padded with spaces, offsets contiguous in order */
    pn_json *h = NULL;
    assert_int_equal(pn_json_parse((const char *)b + 8, (size_t)n, "hdr", &h), PNEUMO_OK);
    assert_string_equal(h->keys[0], "__metadata__");
    const pn_json *k = pn_json_get(h, "conv2d/kernel");
    assert_string_equal(pn_json_get_string(k, "dtype"), "F32");
    const pn_json *offs = pn_json_get(k, "data_offsets");
    assert_true(offs->items[0].integer == 0 && offs->items[1].integer == 144);
    offs = pn_json_get(pn_json_get(h, "conv2d/bias"), "data_offsets");
    assert_true(offs->items[0].integer == 144 && offs->items[1].integer == 160);
    const pn_json *scalar = pn_json_get(h, "optimizer/step");
    assert_int_equal(pn_json_get(scalar, "shape")->count, 0);
    pn_json_free(h);
    assert_int_equal(img.len, 8 + n + (36 + 4 + 1 + 0 + 10) * 4);

    /* tensor bytes are little-endian F32: 0.5f is 00 00 00 3f */
    const uint8_t half_le[4] = {0x00, 0x00, 0x00, 0x3f};
    assert_memory_equal(b + 8 + n + 160, half_le, 4);
    pn_buf_free(&img);
}

static void test_empty_file_and_zero_tensors(void **state)
{
    (void)state;
    pn_buf img;
    pn_buf_init(&img);
    assert_int_equal(pn_safetensors_serialize("e", NULL, 0, NULL, 0, &img), PNEUMO_OK);
    assert_int_equal(img.len, 16); /* "{}" padded to 8 */
    pn_st_file *f = NULL;
    assert_int_equal(pn_safetensors_parse((const uint8_t *)img.data, img.len, "e", &f), PNEUMO_OK);
    assert_int_equal(pn_st_count(f), 0);
    assert_int_equal(pn_st_meta_count(f), 0);
    pn_st_free(f);
    pn_st_free(NULL);
    pn_buf_free(&img);
}

static void test_save_rejects_bad_arguments(void **state)
{
    (void)state;
    float x[2] = {1, 2};
    char long_name[300];
    memset(long_name, 'a', sizeof long_name - 1);
    long_name[sizeof long_name - 1] = '\0';
    const pn_st_tensor cases[][2] = {
        {{"a", 1, {2, 0, 0, 0}, x}, {"a", 1, {2, 0, 0, 0}, x}},        /* duplicate */
        {{"", 1, {2, 0, 0, 0}, x}, {"b", 0, {0}, x}},                  /* empty name */
        {{NULL, 1, {2, 0, 0, 0}, x}, {"b", 0, {0}, x}},                /* no name */
        {{long_name, 1, {2, 0, 0, 0}, x}, {"b", 0, {0}, x}},           /* too long */
        {{"__metadata__", 1, {2, 0, 0, 0}, x}, {"b", 0, {0}, x}},      /* reserved */
        {{"a", 5, {2, 1, 1, 1}, x}, {"b", 0, {0}, x}},                 /* ndim 5 */
        {{"a", 1, {-2, 0, 0, 0}, x}, {"b", 0, {0}, x}},                /* negative */
        {{"a", 1, {2, 0, 0, 0}, NULL}, {"b", 0, {0}, x}},              /* no data */
        {{"a\xff", 1, {2, 0, 0, 0}, x}, {"b", 0, {0}, x}},             /* bad UTF-8 */
        {{"a", 4, {INT64_MAX, INT64_MAX, 2, 2}, x}, {"b", 0, {0}, x}}, /* overflow */
    };
    const char *dir = tu_tmpdir();
    char *path = tu_join(dir, "m.safetensors");
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        pn_buf img;
        pn_buf_init(&img);
        assert_int_equal(pn_safetensors_serialize("m", NULL, 0, cases[i], 2, &img), PNEUMO_ERR_INVALID_ARG);
        pn_buf_free(&img);
        assert_int_equal(pn_safetensors_save(path, NULL, 0, cases[i], 2), PNEUMO_ERR_INVALID_ARG);
        assert_non_null(strstr(pneumo_last_error(), path));
    }
    const pn_st_meta dup_meta[2] = {{"k", "1"}, {"k", "2"}};
    assert_int_equal(pn_safetensors_save(path, dup_meta, 2, NULL, 0), PNEUMO_ERR_INVALID_ARG);
    const pn_st_meta null_meta[1] = {{"k", NULL}};
    assert_int_equal(pn_safetensors_save(path, null_meta, 1, NULL, 0), PNEUMO_ERR_INVALID_ARG);
    assert_int_equal(pn_safetensors_save(NULL, NULL, 0, NULL, 0), PNEUMO_ERR_INVALID_ARG);
    int has_tmp;
    assert_int_equal(tu_count_entries(dir, &has_tmp), 0); /* nothing was created */
    free(path);
    rmdir(dir);
}

/* ---- atomic save ------------------------------------------------------------- */

static void test_save_into_missing_directory(void **state)
{
    (void)state;
    sample s;
    make_sample(&s);
    const char *dir = tu_tmpdir();
    char *sub = tu_join(dir, "does-not-exist");
    char *path = tu_join(sub, "model.safetensors");
    assert_int_equal(pn_safetensors_save(path, s.meta, 3, s.tensors, 5), PNEUMO_ERR_IO);
    assert_non_null(strstr(pneumo_last_error(), path));
    assert_non_null(strstr(pneumo_last_error(), strerror(ENOENT)));
    struct stat sb;
    assert_int_equal(stat(sub, &sb), -1);
    int has_tmp;
    assert_int_equal(tu_count_entries(dir, &has_tmp), 0);
    free(path);
    free(sub);
    rmdir(dir);
}

static void test_save_replaces_existing_file(void **state)
{
    (void)state;
    sample s;
    make_sample(&s);
    const char *dir = tu_tmpdir();
    char *path = tu_join(dir, "model.safetensors");
    write_file(path, "old contents", 12);
    assert_int_equal(pn_safetensors_save(path, s.meta, 3, s.tensors, 5), PNEUMO_OK);

    uint8_t *bytes = NULL;
    size_t size = 0;
    assert_int_equal(pn_read_file(path, 1 << 20, &bytes, &size), PNEUMO_OK);
    pn_st_file *f = NULL;
    assert_int_equal(pn_safetensors_parse(bytes, size, path, &f), PNEUMO_OK);
    check_matches_sample(f, &s);
    pn_st_free(f);
    free(bytes);

    /* a second save over it also works, with different content */
    assert_int_equal(pn_safetensors_save(path, NULL, 0, s.tensors + 1, 1), PNEUMO_OK);
    assert_int_equal(pn_read_file(path, 1 << 20, &bytes, &size), PNEUMO_OK);
    assert_int_equal(pn_safetensors_parse(bytes, size, path, &f), PNEUMO_OK);
    assert_int_equal(pn_st_count(f), 1);
    assert_string_equal(pn_st_name(f, 0), "conv2d/bias");
    pn_st_free(f);
    free(bytes);

    int has_tmp;
    assert_int_equal(tu_count_entries(dir, &has_tmp), 1);
    assert_false(has_tmp);
    unlink(path);
    free(path);
    rmdir(dir);
}

/* When the final rename fails (the destination is a non-empty directory), the
 * temporary file is removed and the destination is untouched. */
static void test_failed_save_leaves_destination(void **state)
{
    (void)state;
    sample s;
    make_sample(&s);
    const char *dir = tu_tmpdir();
    char *target = tu_join(dir, "model.safetensors");
    assert_int_equal(mkdir(target, 0700), 0);
    char *inner = tu_join(target, "keep");
    write_file(inner, "x", 1);
    assert_int_equal(pn_safetensors_save(target, s.meta, 3, s.tensors, 5), PNEUMO_ERR_IO);
    assert_non_null(strstr(pneumo_last_error(), target));
    int has_tmp;
    assert_int_equal(tu_count_entries(dir, &has_tmp), 1);
    assert_false(has_tmp);
    assert_int_equal(tu_count_entries(target, &has_tmp), 1);
    unlink(inner);
    rmdir(target);
    free(inner);
    free(target);
    rmdir(dir);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_save_load_round_trip),
        cmocka_unit_test(test_layout),
        cmocka_unit_test(test_empty_file_and_zero_tensors),
        cmocka_unit_test(test_save_rejects_bad_arguments),
        cmocka_unit_test(test_save_into_missing_directory),
        cmocka_unit_test(test_save_replaces_existing_file),
        cmocka_unit_test(test_failed_save_leaves_destination),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
