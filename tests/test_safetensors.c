/* Tests for the safetensors reader/writer (lib/format/safetensors.c). */
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

/* ---- fixtures ---------------------------------------------------------------- */

/* Several tensors of different ranks, including a scalar, an empty tensor and
 * non-finite values (which must be carried, not rejected). */
typedef struct sample {
    float kernel[3 * 3 * 1 * 4];
    float bias[4];
    float scalar[1];
    float dense[5 * 2];
    pn_st_tensor tensors[5];
    pn_st_meta meta[3];
} sample;

static void make_sample(sample *s)
{
    uint64_t rng = 7;
    tu_fill(&rng, s->kernel, 36, -1.0f, 1.0f);
    tu_fill(&rng, s->bias, 4, -0.1f, 0.1f);
    s->scalar[0] = 0.5f;
    tu_fill(&rng, s->dense, 10, -2.0f, 2.0f);
    s->dense[3] = NAN;
    s->dense[4] = -INFINITY;
    s->dense[5] = -0.0f;
    s->dense[6] = 1.4e-45f; /* subnormal */
    s->tensors[0] = (pn_st_tensor){"conv2d/kernel", 4, {3, 3, 1, 4}, s->kernel};
    s->tensors[1] = (pn_st_tensor){"conv2d/bias", 1, {4, 0, 0, 0}, s->bias};
    s->tensors[2] = (pn_st_tensor){"optimizer/step", 0, {0, 0, 0, 0}, s->scalar};
    s->tensors[3] = (pn_st_tensor){"empty", 2, {0, 7, 0, 0}, NULL};
    s->tensors[4] = (pn_st_tensor){"dense/kernel", 2, {5, 2, 0, 0}, s->dense};
    s->meta[0] = (pn_st_meta){"format", "pneumo"};
    s->meta[1] = (pn_st_meta){"config", "{\"layers\": [\"conv2d\"], \"q\": \"\\\"\"}"};
    s->meta[2] = (pn_st_meta){"unicode", "caf\xc3\xa9 \xf0\x9f\x98\x80\n"};
}

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

/* A valid in-memory image of the sample. */
static void sample_image(pn_buf *img)
{
    sample s;
    make_sample(&s);
    pn_buf_init(img);
    assert_int_equal(pn_safetensors_serialize("mem", s.meta, 3, s.tensors, 5, img), PNEUMO_OK);
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
    assert_int_equal(pn_safetensors_parse((const uint8_t *)img.data, img.len, "e", &f),
                     PNEUMO_OK);
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
        {{"a", 1, {2, 0, 0, 0}, x}, {"a", 1, {2, 0, 0, 0}, x}},       /* duplicate */
        {{"", 1, {2, 0, 0, 0}, x}, {"b", 0, {0}, x}},                 /* empty name */
        {{NULL, 1, {2, 0, 0, 0}, x}, {"b", 0, {0}, x}},               /* no name */
        {{long_name, 1, {2, 0, 0, 0}, x}, {"b", 0, {0}, x}},          /* too long */
        {{"__metadata__", 1, {2, 0, 0, 0}, x}, {"b", 0, {0}, x}},     /* reserved */
        {{"a", 5, {2, 1, 1, 1}, x}, {"b", 0, {0}, x}},                /* ndim 5 */
        {{"a", 1, {-2, 0, 0, 0}, x}, {"b", 0, {0}, x}},               /* negative */
        {{"a", 1, {2, 0, 0, 0}, NULL}, {"b", 0, {0}, x}},             /* no data */
        {{"a\xff", 1, {2, 0, 0, 0}, x}, {"b", 0, {0}, x}},            /* bad UTF-8 */
        {{"a", 4, {INT64_MAX, INT64_MAX, 2, 2}, x}, {"b", 0, {0}, x}}, /* overflow */
    };
    const char *dir = tu_tmpdir();
    char *path = tu_join(dir, "m.safetensors");
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        pn_buf img;
        pn_buf_init(&img);
        assert_int_equal(pn_safetensors_serialize("m", NULL, 0, cases[i], 2, &img),
                         PNEUMO_ERR_INVALID_ARG);
        pn_buf_free(&img);
        assert_int_equal(pn_safetensors_save(path, NULL, 0, cases[i], 2),
                         PNEUMO_ERR_INVALID_ARG);
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

/* ---- rejection of malformed files ---------------------------------------------- */

static pneumo_status parse_bytes(const uint8_t *data, size_t size)
{
    pn_st_file *f = (pn_st_file *)0x1;
    pneumo_status st = pn_safetensors_parse(data, size, "bad.safetensors", &f);
    if (st == PNEUMO_OK) {
        assert_non_null(f);
        pn_st_free(f);
    } else {
        assert_null(f);
        /* every failure is explained and names the file */
        assert_true(strncmp(pneumo_last_error(), "bad.safetensors: ", 17) == 0);
    }
    return st;
}

static void test_truncation_at_every_length(void **state)
{
    (void)state;
    pn_buf img;
    sample_image(&img);
    assert_int_equal(parse_bytes((const uint8_t *)img.data, img.len), PNEUMO_OK);
    for (size_t n = 0; n < img.len; n++) {
        /* an exact-size copy so ASan catches any read past the end */
        uint8_t *copy = malloc(n ? n : 1);
        assert_non_null(copy);
        memcpy(copy, img.data, n);
        pneumo_status st = parse_bytes(copy, n);
        if (st == PNEUMO_OK)
            fail_msg("file truncated to %zu of %zu bytes was accepted", n, img.len);
        assert_int_equal(st, PNEUMO_ERR_FORMAT);
        free(copy);
    }
    /* the first message is explicit about what is missing */
    pn_st_file *f = NULL;
    assert_int_equal(pn_safetensors_parse((const uint8_t *)img.data, 20, "m.st", &f),
                     PNEUMO_ERR_FORMAT);
    assert_non_null(strstr(pneumo_last_error(), "m.st: truncated: header claims"));
    assert_non_null(strstr(pneumo_last_error(), "but only 12 follow"));
    pn_buf_free(&img);
}

static void set_le64(uint8_t *p, uint64_t v)
{
    for (int i = 0; i < 8; i++)
        p[i] = (uint8_t)(v >> (8 * i));
}

static void test_bad_header_length(void **state)
{
    (void)state;
    pn_buf img;
    sample_image(&img);
    uint8_t *b = (uint8_t *)img.data;
    const uint64_t lengths[] = {UINT64_C(1) << 63, UINT64_MAX, (uint64_t)img.len - 7,
                                (uint64_t)img.len, 0};
    for (size_t i = 0; i < sizeof lengths / sizeof lengths[0]; i++) {
        uint8_t saved[8];
        memcpy(saved, b, 8);
        set_le64(b, lengths[i]);
        assert_int_equal(parse_bytes(b, img.len), PNEUMO_ERR_FORMAT);
        memcpy(b, saved, 8);
    }
    pn_buf_free(&img);

    /* a header that fits in the file but exceeds the 100 MiB limit */
    size_t big = (size_t)PN_ST_MAX_HEADER + 16;
    uint8_t *huge = calloc(1, big);
    assert_non_null(huge);
    set_le64(huge, PN_ST_MAX_HEADER + 1);
    assert_int_equal(parse_bytes(huge, big), PNEUMO_ERR_LIMIT);
    free(huge);
}

typedef struct bad_case {
    const char *why;
    const char *header;
    size_t data_bytes;
    pneumo_status expected;
    const char *message; /* expected substring of the error, or NULL */
} bad_case;

/* Build "<len><header><data_bytes bytes of 0x3f>" and parse it. */
static pneumo_status parse_constructed(const char *header, size_t data_bytes)
{
    size_t hl = strlen(header);
    size_t size = 8 + hl + data_bytes;
    uint8_t *b = malloc(size);
    assert_non_null(b);
    set_le64(b, hl);
    memcpy(b + 8, header, hl);
    memset(b + 8 + hl, 0x3f, data_bytes);
    pneumo_status st = parse_bytes(b, size);
    free(b);
    return st;
}

#define T(name, rest) "\"" name "\":{\"dtype\":\"F32\"," rest "}"

static void test_rejection_table(void **state)
{
    (void)state;
    static const bad_case cases[] = {
        {"valid baseline", "{" T("a", "\"shape\":[2],\"data_offsets\":[0,8]") "}", 8,
         PNEUMO_OK, NULL},
        {"valid, padded, zero-size and scalar",
         "{" T("a", "\"shape\":[0,3],\"data_offsets\":[4,4]") ","
         T("s", "\"shape\":[],\"data_offsets\":[0,4]") "}    ", 4, PNEUMO_OK, NULL},
        {"valid, out of order offsets",
         "{" T("b", "\"shape\":[1],\"data_offsets\":[4,8]") ","
         T("a", "\"shape\":[1],\"data_offsets\":[0,4]") "}", 8, PNEUMO_OK, NULL},
        {"empty header", "", 0, PNEUMO_ERR_FORMAT, "JSON error"},
        {"not JSON", "hello world", 0, PNEUMO_ERR_FORMAT, "header: JSON error at byte 0"},
        {"JSON array", "[]", 0, PNEUMO_ERR_FORMAT, "not a JSON object"},
        {"trailing garbage", "{}x", 0, PNEUMO_ERR_FORMAT, "JSON error"},
        {"F16", "{\"a\":{\"dtype\":\"F16\",\"shape\":[2],\"data_offsets\":[0,4]}}", 4,
         PNEUMO_ERR_FORMAT, "tensor 'a': unsupported dtype \"F16\""},
        {"f32 lowercase", "{\"a\":{\"dtype\":\"f32\",\"shape\":[1],\"data_offsets\":[0,4]}}", 4,
         PNEUMO_ERR_FORMAT, "unsupported dtype"},
        {"dtype number", "{\"a\":{\"dtype\":32,\"shape\":[1],\"data_offsets\":[0,4]}}", 4,
         PNEUMO_ERR_FORMAT, "dtype"},
        {"missing dtype", "{\"a\":{\"shape\":[1],\"data_offsets\":[0,4]}}", 4,
         PNEUMO_ERR_FORMAT, "dtype"},
        {"missing shape", "{" T("a", "\"data_offsets\":[0,4]") "}", 4, PNEUMO_ERR_FORMAT,
         "shape"},
        {"missing offsets", "{" T("a", "\"shape\":[1]") "}", 4, PNEUMO_ERR_FORMAT,
         "data_offsets"},
        {"unknown field", "{" T("a", "\"shape\":[1],\"data_offsets\":[0,4],\"x\":1") "}", 4,
         PNEUMO_ERR_FORMAT, "unexpected field"},
        {"entry not object", "{\"a\":[1]}", 0, PNEUMO_ERR_FORMAT, "not a JSON object"},
        {"shape/offset mismatch", "{" T("dense/kernel", "\"shape\":[3,4],\"data_offsets\":[0,12]") "}",
         12, PNEUMO_ERR_FORMAT,
         "bad.safetensors: tensor 'dense/kernel': data_offsets [0, 12] do not match shape (3, 4) of F32"},
        {"1-D mismatch", "{" T("a", "\"shape\":[3],\"data_offsets\":[0,8]") "}", 8,
         PNEUMO_ERR_FORMAT, "shape (3,) of F32"},
        {"scalar mismatch", "{" T("a", "\"shape\":[],\"data_offsets\":[0,8]") "}", 8,
         PNEUMO_ERR_FORMAT, "shape () of F32"},
        {"offsets past end", "{" T("a", "\"shape\":[2],\"data_offsets\":[4,12]") "}", 8,
         PNEUMO_ERR_FORMAT, "past the end"},
        {"offsets reversed", "{" T("a", "\"shape\":[0],\"data_offsets\":[4,0]") "}", 4,
         PNEUMO_ERR_FORMAT, NULL},
        {"offsets huge", "{" T("a", "\"shape\":[1],\"data_offsets\":[18446744073709551612,"
                                    "18446744073709551616]") "}", 4, PNEUMO_ERR_FORMAT, NULL},
        {"overlap", "{" T("a", "\"shape\":[2],\"data_offsets\":[0,8]") ","
                    T("b", "\"shape\":[2],\"data_offsets\":[4,12]") "}", 12,
         PNEUMO_ERR_FORMAT, "overlaps"},
        {"identical ranges", "{" T("a", "\"shape\":[1],\"data_offsets\":[0,4]") ","
                             T("b", "\"shape\":[1],\"data_offsets\":[0,4]") "}", 4,
         PNEUMO_ERR_FORMAT, "overlaps"},
        {"zero-size inside another", "{" T("a", "\"shape\":[2],\"data_offsets\":[0,8]") ","
                                     T("b", "\"shape\":[0],\"data_offsets\":[4,4]") "}", 8,
         PNEUMO_ERR_FORMAT, "overlaps"},
        {"hole", "{" T("a", "\"shape\":[1],\"data_offsets\":[0,4]") ","
                 T("b", "\"shape\":[1],\"data_offsets\":[8,12]") "}", 12,
         PNEUMO_ERR_FORMAT, "belong to no tensor"},
        {"hole at start", "{" T("a", "\"shape\":[1],\"data_offsets\":[4,8]") "}", 8,
         PNEUMO_ERR_FORMAT, "belong to no tensor"},
        {"extra bytes after buffer", "{" T("a", "\"shape\":[1],\"data_offsets\":[0,4]") "}", 8,
         PNEUMO_ERR_FORMAT, "cover 4 bytes but the buffer has 8"},
        {"data but no tensors", "{}", 4, PNEUMO_ERR_FORMAT, "cover 0 bytes"},
        {"negative shape", "{" T("a", "\"shape\":[-1],\"data_offsets\":[0,4]") "}", 4,
         PNEUMO_ERR_FORMAT, "non-negative integers"},
        {"fractional shape", "{" T("a", "\"shape\":[1.5],\"data_offsets\":[0,4]") "}", 4,
         PNEUMO_ERR_FORMAT, "non-negative integers"},
        {"1.0 shape", "{" T("a", "\"shape\":[1.0],\"data_offsets\":[0,4]") "}", 4,
         PNEUMO_ERR_FORMAT, "non-negative integers"},
        {"exponent offset", "{" T("a", "\"shape\":[1],\"data_offsets\":[0,4e0]") "}", 4,
         PNEUMO_ERR_FORMAT, "data_offsets"},
        {"negative offset", "{" T("a", "\"shape\":[0],\"data_offsets\":[-4,-4]") "}", 0,
         PNEUMO_ERR_FORMAT, "data_offsets"},
        {"string offset", "{" T("a", "\"shape\":[1],\"data_offsets\":[\"0\",4]") "}", 4,
         PNEUMO_ERR_FORMAT, "data_offsets"},
        {"three offsets", "{" T("a", "\"shape\":[1],\"data_offsets\":[0,4,4]") "}", 4,
         PNEUMO_ERR_FORMAT, "data_offsets"},
        {"shape not array", "{" T("a", "\"shape\":1,\"data_offsets\":[0,4]") "}", 4,
         PNEUMO_ERR_FORMAT, "shape"},
        {"five dims", "{" T("a", "\"shape\":[1,1,1,1,1],\"data_offsets\":[0,4]") "}", 4,
         PNEUMO_ERR_FORMAT, "5 dimensions"},
        {"shape overflow",
         "{" T("a", "\"shape\":[4294967296,4294967296,4],\"data_offsets\":[0,4]") "}", 4,
         PNEUMO_ERR_FORMAT, "too large"},
        {"shape overflow to 0 bytes",
         "{" T("a", "\"shape\":[4611686018427387904,4],\"data_offsets\":[0,0]") "}", 0,
         PNEUMO_ERR_FORMAT, "too large"},
        {"empty name", "{" T("", "\"shape\":[1],\"data_offsets\":[0,4]") "}", 4,
         PNEUMO_ERR_FORMAT, "empty name"},
        {"duplicate name", "{" T("a", "\"shape\":[1],\"data_offsets\":[0,4]") ","
                           T("a", "\"shape\":[1],\"data_offsets\":[4,8]") "}", 8,
         PNEUMO_ERR_FORMAT, "duplicate key"},
        {"metadata value number", "{\"__metadata__\":{\"a\":1}}", 0, PNEUMO_ERR_FORMAT,
         "\"__metadata__\" value for \"a\" is not a string"},
        {"metadata value null", "{\"__metadata__\":{\"a\":\"x\",\"b\":null}}", 0,
         PNEUMO_ERR_FORMAT, "not a string"},
        {"metadata not object", "{\"__metadata__\":\"x\"}", 0, PNEUMO_ERR_FORMAT,
         "not a JSON object"},
        {"metadata only, valid", "{\"__metadata__\":{\"a\":\"x\"}}", 0, PNEUMO_OK, NULL},
        {"invalid UTF-8 name", "{" T("\xff", "\"shape\":[1],\"data_offsets\":[0,4]") "}", 4,
         PNEUMO_ERR_FORMAT, "UTF-8"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        const bad_case *c = &cases[i];
        pneumo_status st = parse_constructed(c->header, c->data_bytes);
        if (st != c->expected)
            fail_msg("case '%s': expected %d, got %d (%s)", c->why, c->expected, st,
                     st ? pneumo_last_error() : "");
        if (c->message && !strstr(pneumo_last_error(), c->message))
            fail_msg("case '%s': message '%s' lacks '%s'", c->why, pneumo_last_error(),
                     c->message);
    }

    /* NUL padding instead of spaces (the table uses strlen, so test it here) */
    const char hdr[] = "{}\0\0\0\0\0\0";
    uint8_t b[8 + 8];
    set_le64(b, 8);
    memcpy(b + 8, hdr, 8);
    assert_int_equal(parse_bytes(b, sizeof b), PNEUMO_ERR_FORMAT);

    /* names: 255 bytes are fine, 256 are not */
    for (size_t len = 255; len <= 256; len++) {
        char header[400];
        char name[300];
        memset(name, 'n', len);
        name[len] = '\0';
        snprintf(header, sizeof header,
                 "{\"%s\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]}}", name);
        assert_int_equal(parse_constructed(header, 4),
                         len == 255 ? PNEUMO_OK : PNEUMO_ERR_FORMAT);
    }
}

/* Random byte changes to a valid file: each result must be a clean success or
 * a clean failure (the suite runs under ASan/UBSan in CI). */
static void test_random_mutations(void **state)
{
    (void)state;
    pn_buf img;
    sample_image(&img);
    uint8_t *copy = malloc(img.len);
    assert_non_null(copy);
    uint64_t rng = 0xC0FFEE;
    int accepted = 0;
    for (int iter = 0; iter < 2000; iter++) {
        memcpy(copy, img.data, img.len);
        int flips = 1 + (int)(tu_next(&rng) % 4);
        for (int k = 0; k < flips; k++) {
            uint64_t r = tu_next(&rng);
            /* bias towards the header, where the interesting structure is */
            size_t limit = (r & 1) ? img.len : (img.len < 400 ? img.len : 400);
            size_t pos = (size_t)((r >> 8) % limit);
            copy[pos] = (uint8_t)(r >> 40);
        }
        pneumo_status st = parse_bytes(copy, img.len);
        if (st == PNEUMO_OK)
            accepted++;
        else
            assert_true(st == PNEUMO_ERR_FORMAT || st == PNEUMO_ERR_LIMIT);
    }
    /* flips in the tensor data keep the file valid, so some must pass */
    assert_true(accepted > 0);
    free(copy);
    pn_buf_free(&img);
}

static void test_parse_argument_checks(void **state)
{
    (void)state;
    pn_st_file *f = NULL;
    uint8_t b[8] = {0};
    assert_int_equal(pn_safetensors_parse(b, 8, "x", NULL), PNEUMO_ERR_INVALID_ARG);
    assert_int_equal(pn_safetensors_parse(NULL, 8, "x", &f), PNEUMO_ERR_INVALID_ARG);
    assert_int_equal(pn_safetensors_parse(NULL, 0, "x", &f), PNEUMO_ERR_FORMAT);
    assert_int_equal(pn_st_count(NULL), 0);
    assert_int_equal(pn_st_find(NULL, "a"), -1);
    assert_null(pn_st_meta_get(NULL, "a"));
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
        cmocka_unit_test(test_truncation_at_every_length),
        cmocka_unit_test(test_bad_header_length),
        cmocka_unit_test(test_rejection_table),
        cmocka_unit_test(test_random_mutations),
        cmocka_unit_test(test_parse_argument_checks),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
