/* Bounded memory and work on hostile model files, checkpoints and JSON
 * documents, parsed in a forked child (hostile_fixtures.h) whose peak resident
 * memory growth is checked against docs/security.md:
 *   model / checkpoint load: peak <= 2 x file + 128 MiB (the JSON tree of at
 *                  most PN_JSON_MAX_NODES values) + 32 MiB;
 *   JSON parse:    peak <= 2 x input + 128 MiB + 32 MiB.
 * The child also runs under an address-space limit so that a regression fails
 * with NOMEM instead of taking the machine's memory. */
#include "testutil.h"
#include "pneumo/image.h"
#include "pneumo/model.h"
#include "core/error.h"
#include "format/json.h"
#include "model/model.h"
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <zlib.h>
#include <jpeglib.h>

#include "hostile_fixtures.h"
#define JSON_TREE_BYTES (128.0 * MIB)

static void b_str(buf *b, const char *s) { b_add(b, s, strlen(s)); }

/* ---- model files, checkpoints, JSON ---- */

typedef struct {
    const buf *file;
} load_arg;

static pneumo_status load_work(const void *p)
{
    const load_arg *a = p;
    pneumo_model *m = NULL;
    pneumo_optimizer *o = NULL;
    pneumo_status st = pneumo_model_load_memory(a->file->data, a->file->size, &m, &o);
    pneumo_model_destroy(m);
    pneumo_optimizer_destroy(o);
    return st;
}

static pneumo_status json_work(const void *p)
{
    const buf *b = p;
    pn_json *j = NULL;
    pneumo_status st = pn_json_parse((const char *)b->data, b->size, "crafted", &j);
    pn_json_free(j);
    return st;
}

/* A safetensors file with the given header text (padded) and no tensors. */
static buf st_file(const char *header_json)
{
    buf b = {0};
    uint64_t n = strlen(header_json);
    uint8_t len[8];
    for (int i = 0; i < 8; i++)
        len[i] = (uint8_t)(n >> (8 * i));
    b_add(&b, len, 8);
    b_str(&b, header_json);
    return b;
}

static void check_load(const char *what, const buf *file)
{
    load_arg a = {file};
    cost c = measure(load_work, &a);
    assert_true(c.status == PNEUMO_ERR_FORMAT || c.status == PNEUMO_ERR_LIMIT);
    report(what, c, 2.0 * (double)file->size + JSON_TREE_BYTES + BASE_BYTES, 2.0);
}

static void test_model_files(void **state)
{
    buf b = {0}, f;
    (void)state;
    printf("model files:\n");
    /* a header length claiming 2^62 bytes */
    {
        uint8_t len[8] = {0, 0, 0, 0, 0, 0, 0, 0x40};
        b_add(&b, len, 8);
        b_str(&b, "{}");
        check_load("header length 2^62", &b);
        free(b.data);
        b = (buf){0};
    }
    /* 150000 tensors claiming 2^40 elements each */
    b_str(&b, "{\"__metadata__\":{\"format\":\"libpneumo\"}");
    for (int i = 0; i < 150000; i++) {
        char t[128];
        snprintf(t, sizeof t,
                 ",\"t%d\":{\"dtype\":\"F32\",\"shape\":[1048576,1048576],"
                 "\"data_offsets\":[0,0]}",
                 i);
        b_str(&b, t);
    }
    b_add(&b, "}", 2);
    f = st_file((const char *)b.data);
    check_load("150000 tensors of 2^40 elements", &f);
    free(f.data);
    free(b.data);
    b = (buf){0};
    /* an architecture asking for huge layers with no weights behind it */
    f = st_file("{\"__metadata__\":{\"format\":\"libpneumo\",\"seed\":\"1\",\"train_steps\":\"0\","
                "\"architecture\":\"{\\\"format_version\\\":1,\\\"input_shape\\\":[4096,4096,64],"
                "\\\"layers\\\":[{\\\"class\\\":\\\"Conv2D\\\",\\\"name\\\":\\\"c\\\","
                "\\\"filters\\\":65536,\\\"kernel_size\\\":[64,64],\\\"strides\\\":[1,1],"
                "\\\"padding\\\":\\\"same\\\",\\\"activation\\\":\\\"relu\\\","
                "\\\"use_bias\\\":true}]}\"}}");
    check_load("architecture with 2^40 parameters", &f);
    free(f.data);
    /* an architecture nested 100000 deep */
    b_str(&b, "{\"__metadata__\":{\"format\":\"libpneumo\",\"seed\":\"1\",\"train_steps\":\"0\","
              "\"architecture\":\"");
    for (int i = 0; i < 100000; i++)
        b_str(&b, "[");
    b_add(&b, "\"}}", 4);
    f = st_file((const char *)b.data);
    check_load("architecture nested 100000 deep", &f);
    free(f.data);
    free(b.data);
}

static void test_json_documents(void **state)
{
    buf b = {0};
    cost c;
    (void)state;
    printf("JSON documents:\n");
    for (int i = 0; i < 1000000; i++)
        b_str(&b, i % 2 ? "{\"a\":" : "[");
    c = measure(json_work, &b);
    assert_int_equal(c.status, PNEUMO_ERR_LIMIT);
    report("nested 10^6 deep", c, 2.0 * (double)b.size + JSON_TREE_BYTES + BASE_BYTES, 0.5);
    b.size = 0;
    b_str(&b, "[");
    for (int i = 0; i < 2000000; i++)
        b_str(&b, "0,");
    b_str(&b, "0]");
    c = measure(json_work, &b);
    assert_int_equal(c.status, PNEUMO_ERR_LIMIT);
    report("2*10^6 numbers (over the node limit)", c, 2.0 * (double)b.size + JSON_TREE_BYTES + BASE_BYTES,
           1.0);
    b.size = 0;
    b_str(&b, "[");
    for (int i = 0; i < 999990; i++)
        b_str(&b, "[],");
    b_str(&b, "[]]");
    c = measure(json_work, &b);
    assert_int_equal(c.status, PNEUMO_OK);
    report("999991 empty arrays (at the node limit)", c, 2.0 * (double)b.size + JSON_TREE_BYTES + BASE_BYTES,
           1.0);
    free(b.data);
}

/* A checkpoint whose fit_state holds a history of 10^6 rows. */
static pneumo_status checkpoint_work(const void *p)
{
    const char *path = p;
    pneumo_model *m = NULL;
    pneumo_optimizer *o = NULL;
    char *text = NULL;
    pn_json *j = NULL;
    pneumo_status st = pn_model_load_extra(path, &m, &o, "fit_state", &text);
    if (st == PNEUMO_OK)
        st = pn_json_parse(text, strlen(text), path, &j);
    pn_json_free(j);
    free(text);
    pneumo_model_destroy(m);
    pneumo_optimizer_destroy(o);
    return st;
}

static void test_checkpoint(void **state)
{
    pneumo_model *m = NULL;
    char *path = tu_join(tu_tmpdir(), "ck.safetensors");
    buf s = {0};
    cost c;
    (void)state;
    assert_int_equal(pneumo_model_create_article(96, 1, &m), PNEUMO_OK);
    b_str(&s, "{\"next_epoch\":1,\"history\":[");
    for (int i = 0; i < 200000; i++)
        b_str(&s, i ? ",[0,1,1,1,1,1,1]" : "[0,1,1,1,1,1,1]");
    b_add(&s, "]}", 3);
    assert_int_equal(pn_model_save_extra(m, NULL, path, "fit_state", (const char *)s.data), PNEUMO_OK);
    pneumo_model_destroy(m);
    c = measure(checkpoint_work, path);
    printf("checkpoint with 200000 history rows (%zu bytes of state):\n", s.size);
    assert_int_equal(c.status, PNEUMO_ERR_LIMIT); /* 1.6 M values: over the node limit */
    report("fit_state over the node limit", c, 2.0 * (double)s.size + JSON_TREE_BYTES + BASE_BYTES, 2.0);
    unlink(path);
    free(path);
    free(s.data);
}

/* Messages that wrap an earlier message ("m.safetensors:
 * m.safetensors: eep more than ..."): the earlier text must survive intact. */
static void test_wrapped_messages(void **state)
{
    char want[1200];
    buf f;
    pneumo_model *m = NULL;
    (void)state;
    pn_error(PNEUMO_ERR_LIMIT, "inner message with some length to it");
    assert_int_equal(pn_error(PNEUMO_ERR_FORMAT, "%s: %s", "m.safetensors", pneumo_last_error()),
                     PNEUMO_ERR_FORMAT);
    assert_string_equal(pneumo_last_error(), "m.safetensors: inner message with some length to it");
    assert_int_equal(pn_error_prefix("%s", "outer"), PNEUMO_ERR_FORMAT);
    assert_string_equal(pneumo_last_error(), "outer: m.safetensors: inner message with some length to it");
    /* a prefix taken from the message itself */
    assert_int_equal(pn_error_prefix("%.5s", pneumo_last_error()), PNEUMO_ERR_FORMAT);
    assert_string_equal(pneumo_last_error(),
                        "outer: outer: m.safetensors: inner message with some length to it");
    /* a message as long as the buffer keeps its head, prefixes cut the tail */
    memset(want, 'x', sizeof want);
    want[sizeof want - 1] = '\0';
    pn_error(PNEUMO_ERR_IO, "%s", want);
    assert_int_equal(strlen(pneumo_last_error()), 1023);
    pn_error(PNEUMO_ERR_IO, "%s: %s", "f", pneumo_last_error());
    assert_int_equal(strlen(pneumo_last_error()), 1023);
    assert_memory_equal(pneumo_last_error(), "f: xxx", 6);
    pn_error_prefix("g");
    assert_int_equal(strlen(pneumo_last_error()), 1023);
    assert_memory_equal(pneumo_last_error(), "g: f: xxx", 9);
    /* end to end: a model file whose input shape is over the limits */
    f = st_file("{\"__metadata__\":{\"format\":\"libpneumo\",\"seed\":\"1\",\"train_steps\":\"0\","
                "\"architecture\":\"{\\\"format_version\\\":1,\\\"input_shape\\\":"
                "[16384,16384,4096],\\\"layers\\\":[]}\"}}");
    assert_int_equal(pneumo_model_load_memory(f.data, f.size, &m, NULL), PNEUMO_ERR_FORMAT);
    assert_null(m);
    snprintf(want, sizeof want,
             "<memory>: pneumo_model_create: input shape (16384, 16384, 4096) "
             "exceeds the limits");
    assert_memory_equal(pneumo_last_error(), want, strlen(want));
    free(f.data);
}

/* A file that is not a safetensors file at all is named as such, not as a
 * truncated one whose first bytes claim an absurd header length. */
static void test_not_a_model_file(void **state)
{
    static const char text[] = "hello, this is a text file and not a model at all\n";
    buf jpeg = jpeg_encode(16, 16, 1, 0, SCANS_BASELINE, 1);
    pneumo_model *m = NULL;
    (void)state;
    assert_int_equal(pneumo_model_load_memory(text, sizeof text - 1, &m, NULL), PNEUMO_ERR_FORMAT);
    assert_string_equal(pneumo_last_error(),
                        "<memory>: not a libpneumo model file (its header is not JSON; a model "
                        "file is safetensors: an 8-byte header length, then a JSON header)");
    assert_int_equal(pneumo_model_load_memory(jpeg.data, jpeg.size, &m, NULL), PNEUMO_ERR_FORMAT);
    assert_non_null(strstr(pneumo_last_error(), "not a libpneumo model file (it is a JPEG image"));
    assert_null(m);
    free(jpeg.data);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_model_files),      cmocka_unit_test(test_json_documents),
        cmocka_unit_test(test_checkpoint),       cmocka_unit_test(test_wrapped_messages),
        cmocka_unit_test(test_not_a_model_file),
    };
    if (!bounds_checked())
        printf("AddressSanitizer build or emulator: memory and CPU bounds are printed, not "
               "checked\n");
    return cmocka_run_group_tests(tests, NULL, NULL);
}
