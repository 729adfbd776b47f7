/* Tests for the protobuf wire-format writer (lib/format/protobuf.c) against the
 * encodings of protobuf.dev/programming-guides/encoding, and for the argument
 * checks of the ONNX export built on it (lib/interop/onnx_export.c; the graph
 * itself is checked by onnx.checker and ONNX Runtime in tests/check_onnx.py). */
#include "testutil.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "format/protobuf.h"
#include "pneumo/interop.h"

static void expect_bytes(const pn_pb *b, const uint8_t *want, size_t n)
{
    assert_int_equal(b->failed, PN_PB_OK);
    assert_int_equal(b->len, n);
    assert_memory_equal(b->data, want, n);
}

static void test_varints(void **state)
{
    static const struct {
        uint64_t v;
        uint8_t bytes[10];
        size_t n;
    } cases[] = {
        {0, {0x00}, 1},
        {1, {0x01}, 1},
        {127, {0x7f}, 1},
        {128, {0x80, 0x01}, 2},
        {150, {0x96, 0x01}, 2},
        {300, {0xac, 0x02}, 2},
        {UINT64_MAX, {0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01}, 10},
    };
    (void)state;
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        pn_pb b;
        pn_pb_init(&b);
        pn_pb_varint(&b, cases[i].v);
        expect_bytes(&b, cases[i].bytes, cases[i].n);
        pn_pb_free(&b);
    }
}

static void test_fields(void **state)
{
    /* the encoding guide's examples: field 1 = 150; field 2 = "testing" */
    static const uint8_t want[] = {0x08, 0x96, 0x01, 0x12, 0x07, 't', 'e', 's', 't', 'i', 'n', 'g',
                                   /* field 4 int64 -1: ten bytes of two's complement */
                                   0x20, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01,
                                   /* field 5 float 1.0 (fixed32, little-endian) */
                                   0x2d, 0x00, 0x00, 0x80, 0x3f,
                                   /* field 9 bytes of floats 1.0, -2.0 */
                                   0x4a, 0x08, 0x00, 0x00, 0x80, 0x3f, 0x00, 0x00, 0x00, 0xc0,
                                   /* field 20 (two-byte key) = 7 */
                                   0xa0, 0x01, 0x07};
    const float fl[2] = {1.0f, -2.0f};
    pn_pb b;
    (void)state;
    pn_pb_init(&b);
    pn_pb_int64(&b, 1, 150);
    pn_pb_string(&b, 2, "testing");
    pn_pb_int64(&b, 4, -1);
    pn_pb_float(&b, 5, 1.0f);
    pn_pb_float_bytes(&b, 9, fl, 2);
    pn_pb_int64(&b, 20, 7);
    expect_bytes(&b, want, sizeof want);
    pn_pb_free(&b);
    assert_null(b.data);
    assert_int_equal(b.len, 0);
}

static void test_nested(void **state)
{
    /* the guide's embedded message: field 3 holding {field 1 = 150} */
    static const uint8_t want[] = {0x1a, 0x03, 0x08, 0x96, 0x01, 0x1a, 0x00};
    pn_pb b, sub, empty;
    (void)state;
    pn_pb_init(&b);
    pn_pb_init(&sub);
    pn_pb_init(&empty);
    pn_pb_int64(&sub, 1, 150);
    pn_pb_message(&b, 3, &sub);
    pn_pb_message(&b, 3, &empty);
    expect_bytes(&b, want, sizeof want);
    pn_pb_free(&b);
    pn_pb_free(&sub);
}

static void test_large_length_prefix(void **state)
{
    /* 300 bytes: the length takes a two-byte varint and the buffer grows */
    uint8_t *blob = malloc(300);
    pn_pb b;
    (void)state;
    assert_non_null(blob);
    for (int i = 0; i < 300; i++)
        blob[i] = (uint8_t)i;
    pn_pb_init(&b);
    pn_pb_bytes(&b, 1, blob, 300);
    assert_int_equal(b.failed, PN_PB_OK);
    assert_int_equal(b.len, 303);
    assert_int_equal(b.data[0], 0x0a);
    assert_int_equal(b.data[1], 0xac);
    assert_int_equal(b.data[2], 0x02);
    assert_memory_equal(b.data + 3, blob, 300);
    pn_pb_free(&b);
    free(blob);
}

static void test_failures_stick(void **state)
{
    pn_pb b, sub;
    float one = 1.0f;
    (void)state;
    /* a float array beyond 2 GiB is refused before any allocation */
    pn_pb_init(&b);
    pn_pb_int64(&b, 1, 1);
    pn_pb_float_bytes(&b, 2, &one, PN_PB_MAX_SIZE / 4 + 1);
    assert_int_equal(b.failed, PN_PB_TOO_BIG);
    assert_int_equal(b.len, 2);
    pn_pb_int64(&b, 3, 3); /* no-op after a failure */
    assert_int_equal(b.len, 2);
    pn_pb_free(&b);

    /* a failed sub-message fails its parent and is not appended */
    pn_pb_init(&b);
    pn_pb_init(&sub);
    sub.failed = PN_PB_NOMEM;
    pn_pb_message(&b, 1, &sub);
    assert_int_equal(b.failed, PN_PB_NOMEM);
    assert_int_equal(b.len, 0);
    pn_pb_free(&b);
}

static pneumo_model *small_model(void)
{
    pneumo_model *m = NULL;
    pneumo_conv2d_params c;
    assert_int_equal(pneumo_model_create(12, 10, 1, 5, &m), PNEUMO_OK);
    pneumo_conv2d_default_params(&c);
    c.filters = 3;
    c.activation = PNEUMO_ACT_RELU;
    assert_int_equal(pneumo_model_add_conv2d(m, &c), PNEUMO_OK);
    assert_int_equal(pneumo_model_add_flatten(m), PNEUMO_OK);
    assert_int_equal(pneumo_model_add_dense(m, 1, PNEUMO_ACT_SIGMOID), PNEUMO_OK);
    return m;
}

static void test_onnx_memory(void **state)
{
    pneumo_model *m = small_model();
    size_t needed = 0, needed2 = 0;
    uint8_t *buf;
    (void)state;
    assert_int_equal(pneumo_model_export_onnx_memory(m, NULL, NULL, 0, &needed), PNEUMO_OK);
    /* weights alone: 3*3*1*3 + 3 + 8*10*3 + 1 floats */
    assert_true(needed > (27 + 3 + 240 + 1) * 4);
    buf = malloc(needed);
    assert_non_null(buf);
    memset(buf, 0xab, needed);
    assert_int_equal(pneumo_model_export_onnx_memory(m, NULL, buf, needed - 1, &needed2), PNEUMO_ERR_LIMIT);
    assert_int_equal(needed2, needed);
    assert_int_equal(buf[0], 0xab);
    assert_non_null(strstr(pneumo_last_error(), "buffer of"));
    assert_int_equal(pneumo_model_export_onnx_memory(m, NULL, buf, needed, NULL), PNEUMO_OK);
    /* ModelProto starts with ir_version = 7 (opset 13) */
    assert_int_equal(buf[0], 0x08);
    assert_int_equal(buf[1], 0x07);
    free(buf);
    pneumo_model_destroy(m);
}

static void test_onnx_options_checked(void **state)
{
    pneumo_model *m = small_model(), *empty = NULL;
    pneumo_onnx_options o;
    size_t n;
    (void)state;
    pneumo_onnx_options_default(&o);
    assert_int_equal(o.size, sizeof o);
    assert_int_equal(o.input_layout, PNEUMO_ONNX_NHWC);
    assert_int_equal(o.opset, 13);
    assert_int_equal(o.batch, 0);
    pneumo_onnx_options_default(NULL);

    o.size = 4;
    assert_int_equal(pneumo_model_export_onnx_memory(m, &o, NULL, 0, &n), PNEUMO_ERR_INVALID_ARG);
    assert_non_null(strstr(pneumo_last_error(), "size"));
    pneumo_onnx_options_default(&o);
    o.reserved[7] = 1;
    assert_int_equal(pneumo_model_export_onnx_memory(m, &o, NULL, 0, &n), PNEUMO_ERR_INVALID_ARG);
    assert_non_null(strstr(pneumo_last_error(), "reserved[7]"));
    pneumo_onnx_options_default(&o);
    o.input_layout = 2;
    assert_int_equal(pneumo_model_export_onnx_memory(m, &o, NULL, 0, &n), PNEUMO_ERR_INVALID_ARG);
    assert_non_null(strstr(pneumo_last_error(), "input_layout"));
    pneumo_onnx_options_default(&o);
    o.opset = 22;
    assert_int_equal(pneumo_model_export_onnx_memory(m, &o, NULL, 0, &n), PNEUMO_ERR_INVALID_ARG);
    assert_non_null(strstr(pneumo_last_error(), "opset 22"));
    pneumo_onnx_options_default(&o);
    o.batch = -1;
    assert_int_equal(pneumo_model_export_onnx_memory(m, &o, NULL, 0, &n), PNEUMO_ERR_INVALID_ARG);
    pneumo_onnx_options_default(&o);
    assert_int_equal(pneumo_model_export_onnx_memory(m, &o, NULL, 8, &n), PNEUMO_ERR_INVALID_ARG);
    assert_int_equal(pneumo_model_export_onnx(m, &o, NULL), PNEUMO_ERR_INVALID_ARG);
    assert_int_equal(pneumo_model_export_onnx(NULL, &o, "x.onnx"), PNEUMO_ERR_INVALID_ARG);
    assert_int_equal(pneumo_model_export_onnx(m, &o, "/nonexistent-dir/x.onnx"), PNEUMO_ERR_IO);
    assert_non_null(strstr(pneumo_last_error(), "/nonexistent-dir/x.onnx"));

    assert_int_equal(pneumo_model_create(8, 8, 1, 0, &empty), PNEUMO_OK);
    assert_int_equal(pneumo_model_export_onnx_memory(empty, &o, NULL, 0, &n), PNEUMO_ERR_STATE);
    pneumo_model_destroy(empty);
    pneumo_model_destroy(m);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_varints),
        cmocka_unit_test(test_fields),
        cmocka_unit_test(test_nested),
        cmocka_unit_test(test_large_length_prefix),
        cmocka_unit_test(test_failures_stick),
        cmocka_unit_test(test_onnx_memory),
        cmocka_unit_test(test_onnx_options_checked),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
