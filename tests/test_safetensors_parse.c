/* The safetensors reader on malformed input (lib/format/safetensors.c):
 * truncation at every length, bad header lengths, a table of rejected
 * headers, random mutations and argument checks. */
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
    assert_int_equal(pn_safetensors_parse((const uint8_t *)img.data, 20, "m.st", &f), PNEUMO_ERR_FORMAT);
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
    const uint64_t lengths[] = {UINT64_C(1) << 63, UINT64_MAX, (uint64_t)img.len - 7, (uint64_t)img.len, 0};
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
        {"valid baseline", "{" T("a", "\"shape\":[2],\"data_offsets\":[0,8]") "}", 8, PNEUMO_OK, NULL},
        {"valid, padded, zero-size and scalar",
         "{" T("a",
               "\"shape\":[0,3],\"data_offsets\":[4,4]") "," T("s",
                                                               "\"shape\":[],\"data_offsets\":[0,4]") "}    ",
         4, PNEUMO_OK, NULL},
        {"valid, out of order offsets",
         "{" T("b", "\"shape\":[1],\"data_offsets\":[4,8]") "," T("a",
                                                                  "\"shape\":[1],\"data_offsets\":[0,4]") "}",
         8, PNEUMO_OK, NULL},
        {"empty header", "", 0, PNEUMO_ERR_FORMAT, "JSON error"},
        {"not JSON", "hello world", 0, PNEUMO_ERR_FORMAT, "header: JSON error at byte 0"},
        {"JSON array", "[]", 0, PNEUMO_ERR_FORMAT, "not a JSON object"},
        {"trailing garbage", "{}x", 0, PNEUMO_ERR_FORMAT, "JSON error"},
        {"F16", "{\"a\":{\"dtype\":\"F16\",\"shape\":[2],\"data_offsets\":[0,4]}}", 4, PNEUMO_ERR_FORMAT,
         "tensor 'a': unsupported dtype \"F16\""},
        {"f32 lowercase", "{\"a\":{\"dtype\":\"f32\",\"shape\":[1],\"data_offsets\":[0,4]}}", 4,
         PNEUMO_ERR_FORMAT, "unsupported dtype"},
        {"dtype number", "{\"a\":{\"dtype\":32,\"shape\":[1],\"data_offsets\":[0,4]}}", 4, PNEUMO_ERR_FORMAT,
         "dtype"},
        {"missing dtype", "{\"a\":{\"shape\":[1],\"data_offsets\":[0,4]}}", 4, PNEUMO_ERR_FORMAT, "dtype"},
        {"missing shape", "{" T("a", "\"data_offsets\":[0,4]") "}", 4, PNEUMO_ERR_FORMAT, "shape"},
        {"missing offsets", "{" T("a", "\"shape\":[1]") "}", 4, PNEUMO_ERR_FORMAT, "data_offsets"},
        {"unknown field", "{" T("a", "\"shape\":[1],\"data_offsets\":[0,4],\"x\":1") "}", 4,
         PNEUMO_ERR_FORMAT, "unexpected field"},
        {"entry not object", "{\"a\":[1]}", 0, PNEUMO_ERR_FORMAT, "not a JSON object"},
        {"shape/offset mismatch", "{" T("dense/kernel", "\"shape\":[3,4],\"data_offsets\":[0,12]") "}", 12,
         PNEUMO_ERR_FORMAT,
         "bad.safetensors: tensor 'dense/kernel': data_offsets [0, 12] do not match shape (3, 4) of F32"},
        {"1-D mismatch", "{" T("a", "\"shape\":[3],\"data_offsets\":[0,8]") "}", 8, PNEUMO_ERR_FORMAT,
         "shape (3,) of F32"},
        {"scalar mismatch", "{" T("a", "\"shape\":[],\"data_offsets\":[0,8]") "}", 8, PNEUMO_ERR_FORMAT,
         "shape () of F32"},
        {"offsets past end", "{" T("a", "\"shape\":[2],\"data_offsets\":[4,12]") "}", 8, PNEUMO_ERR_FORMAT,
         "past the end"},
        {"offsets reversed", "{" T("a", "\"shape\":[0],\"data_offsets\":[4,0]") "}", 4, PNEUMO_ERR_FORMAT,
         NULL},
        {"offsets huge",
         "{" T("a", "\"shape\":[1],\"data_offsets\":[18446744073709551612,"
                    "18446744073709551616]") "}",
         4, PNEUMO_ERR_FORMAT, NULL},
        {"overlap",
         "{" T("a",
               "\"shape\":[2],\"data_offsets\":[0,8]") "," T("b",
                                                             "\"shape\":[2],\"data_offsets\":[4,12]") "}",
         12, PNEUMO_ERR_FORMAT, "overlaps"},
        {"identical ranges",
         "{" T("a", "\"shape\":[1],\"data_offsets\":[0,4]") "," T("b",
                                                                  "\"shape\":[1],\"data_offsets\":[0,4]") "}",
         4, PNEUMO_ERR_FORMAT, "overlaps"},
        {"zero-size inside another",
         "{" T("a", "\"shape\":[2],\"data_offsets\":[0,8]") "," T("b",
                                                                  "\"shape\":[0],\"data_offsets\":[4,4]") "}",
         8, PNEUMO_ERR_FORMAT, "overlaps"},
        {"hole",
         "{" T("a",
               "\"shape\":[1],\"data_offsets\":[0,4]") "," T("b",
                                                             "\"shape\":[1],\"data_offsets\":[8,12]") "}",
         12, PNEUMO_ERR_FORMAT, "belong to no tensor"},
        {"hole at start", "{" T("a", "\"shape\":[1],\"data_offsets\":[4,8]") "}", 8, PNEUMO_ERR_FORMAT,
         "belong to no tensor"},
        {"extra bytes after buffer", "{" T("a", "\"shape\":[1],\"data_offsets\":[0,4]") "}", 8,
         PNEUMO_ERR_FORMAT, "cover 4 bytes but the buffer has 8"},
        {"data but no tensors", "{}", 4, PNEUMO_ERR_FORMAT, "cover 0 bytes"},
        {"negative shape", "{" T("a", "\"shape\":[-1],\"data_offsets\":[0,4]") "}", 4, PNEUMO_ERR_FORMAT,
         "non-negative integers"},
        {"fractional shape", "{" T("a", "\"shape\":[1.5],\"data_offsets\":[0,4]") "}", 4, PNEUMO_ERR_FORMAT,
         "non-negative integers"},
        {"1.0 shape", "{" T("a", "\"shape\":[1.0],\"data_offsets\":[0,4]") "}", 4, PNEUMO_ERR_FORMAT,
         "non-negative integers"},
        {"exponent offset", "{" T("a", "\"shape\":[1],\"data_offsets\":[0,4e0]") "}", 4, PNEUMO_ERR_FORMAT,
         "data_offsets"},
        {"negative offset", "{" T("a", "\"shape\":[0],\"data_offsets\":[-4,-4]") "}", 0, PNEUMO_ERR_FORMAT,
         "data_offsets"},
        {"string offset", "{" T("a", "\"shape\":[1],\"data_offsets\":[\"0\",4]") "}", 4, PNEUMO_ERR_FORMAT,
         "data_offsets"},
        {"three offsets", "{" T("a", "\"shape\":[1],\"data_offsets\":[0,4,4]") "}", 4, PNEUMO_ERR_FORMAT,
         "data_offsets"},
        {"shape not array", "{" T("a", "\"shape\":1,\"data_offsets\":[0,4]") "}", 4, PNEUMO_ERR_FORMAT,
         "shape"},
        {"five dims", "{" T("a", "\"shape\":[1,1,1,1,1],\"data_offsets\":[0,4]") "}", 4, PNEUMO_ERR_FORMAT,
         "5 dimensions"},
        {"shape overflow", "{" T("a", "\"shape\":[4294967296,4294967296,4],\"data_offsets\":[0,4]") "}", 4,
         PNEUMO_ERR_FORMAT, "too large"},
        {"shape overflow to 0 bytes",
         "{" T("a", "\"shape\":[4611686018427387904,4],\"data_offsets\":[0,0]") "}", 0, PNEUMO_ERR_FORMAT,
         "too large"},
        {"empty name", "{" T("", "\"shape\":[1],\"data_offsets\":[0,4]") "}", 4, PNEUMO_ERR_FORMAT,
         "empty name"},
        {"duplicate name",
         "{" T("a", "\"shape\":[1],\"data_offsets\":[0,4]") "," T("a",
                                                                  "\"shape\":[1],\"data_offsets\":[4,8]") "}",
         8, PNEUMO_ERR_FORMAT, "duplicate key"},
        {"metadata value number", "{\"__metadata__\":{\"a\":1}}", 0, PNEUMO_ERR_FORMAT,
         "\"__metadata__\" value for \"a\" is not a string"},
        {"metadata value null", "{\"__metadata__\":{\"a\":\"x\",\"b\":null}}", 0, PNEUMO_ERR_FORMAT,
         "not a string"},
        {"metadata not object", "{\"__metadata__\":\"x\"}", 0, PNEUMO_ERR_FORMAT, "not a JSON object"},
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
            fail_msg("case '%s': message '%s' lacks '%s'", c->why, pneumo_last_error(), c->message);
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
        snprintf(header, sizeof header, "{\"%s\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]}}",
                 name);
        assert_int_equal(parse_constructed(header, 4), len == 255 ? PNEUMO_OK : PNEUMO_ERR_FORMAT);
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
        cmocka_unit_test(test_truncation_at_every_length),
        cmocka_unit_test(test_bad_header_length),
        cmocka_unit_test(test_rejection_table),
        cmocka_unit_test(test_random_mutations),
        cmocka_unit_test(test_parse_argument_checks),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
