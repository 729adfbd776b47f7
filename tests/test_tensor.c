/* Tensors: creation, wrapping, copies, shapes and misuse. */
#include <string.h>

#include "pneumo/pneumo.h"
#include "testutil.h"

static void test_create_zeroed_and_shape(void **state)
{
    int64_t shape[4] = {2, 3, 4, 5}, got[PNEUMO_MAX_DIMS];
    pneumo_tensor *t = NULL;
    char buf[64];
    (void)state;
    assert_int_equal(pneumo_tensor_create(4, shape, &t), PNEUMO_OK);
    assert_int_equal(pneumo_tensor_ndim(t), 4);
    assert_int_equal(pneumo_tensor_numel(t), 120);
    assert_int_equal(pneumo_tensor_dim(t, 1), 3);
    assert_int_equal(pneumo_tensor_dim(t, -1), 5);
    assert_int_equal(pneumo_tensor_dim(t, 4), 0);
    assert_int_equal(pneumo_tensor_shape(t, got, 4), 4);
    assert_memory_equal(got, shape, sizeof shape);
    for (int i = 0; i < 120; i++)
        assert_true(pneumo_tensor_data(t)[i] == 0.0f);
    {
        size_t needed = 0;
        assert_int_equal(pneumo_tensor_shape_str(t, buf, sizeof buf, &needed), PNEUMO_OK);
        assert_string_equal(buf, "(2, 3, 4, 5)");
        assert_int_equal(needed, 12);
        assert_int_equal(pneumo_tensor_shape_str(t, buf, 4, &needed), PNEUMO_OK);
        assert_string_equal(buf, "(2,");
        assert_int_equal(pneumo_tensor_shape_str(NULL, buf, sizeof buf, NULL), PNEUMO_ERR_INVALID_ARG);
    }
    pneumo_tensor_destroy(t);
}

static void test_wrap_shares_memory(void **state)
{
    float data[6] = {1, 2, 3, 4, 5, 6};
    int64_t shape[2] = {2, 3};
    pneumo_tensor *t = NULL, *c = NULL;
    (void)state;
    assert_int_equal(pneumo_tensor_wrap(2, shape, data, 6, &t), PNEUMO_OK);
    assert_ptr_equal(pneumo_tensor_data(t), data);
    pneumo_tensor_data(t)[0] = 10.0f;
    assert_true(data[0] == 10.0f);
    assert_int_equal(pneumo_tensor_clone(t, &c), PNEUMO_OK);
    assert_ptr_not_equal(pneumo_tensor_data(c), data);
    assert_memory_equal(pneumo_tensor_data_const(c), data, sizeof data);
    pneumo_tensor_destroy(t); /* must not free `data` (a stack array: ASan would catch it) */
    pneumo_tensor_destroy(c);
}

static void test_copy_checks_shapes(void **state)
{
    int64_t a_shape[2] = {2, 3}, b_shape[2] = {3, 2};
    pneumo_tensor *a = NULL, *b = NULL, *c = NULL;
    (void)state;
    assert_int_equal(pneumo_tensor_create(2, a_shape, &a), PNEUMO_OK);
    assert_int_equal(pneumo_tensor_create(2, b_shape, &b), PNEUMO_OK);
    assert_int_equal(pneumo_tensor_create(2, a_shape, &c), PNEUMO_OK);
    pneumo_tensor_data(a)[5] = 7.0f;
    assert_int_equal(pneumo_tensor_copy(b, a), PNEUMO_ERR_SHAPE);
    assert_non_null(strstr(pneumo_last_error(), "(3, 2)"));
    assert_non_null(strstr(pneumo_last_error(), "(2, 3)"));
    assert_int_equal(pneumo_tensor_copy(c, a), PNEUMO_OK);
    assert_true(pneumo_tensor_data(c)[5] == 7.0f);
    pneumo_tensor_destroy(a);
    pneumo_tensor_destroy(b);
    pneumo_tensor_destroy(c);
}

static void test_misuse(void **state)
{
    int64_t shape[5] = {1, 1, 1, 1, 1}, bad[2] = {2, 0}, huge[2] = {1 << 20, 1 << 20};
    pneumo_tensor *t = (pneumo_tensor *)0x1;
    (void)state;
    assert_int_equal(pneumo_tensor_create(0, shape, &t), PNEUMO_ERR_INVALID_ARG);
    assert_null(t);
    assert_int_equal(pneumo_tensor_create(5, shape, &t), PNEUMO_ERR_INVALID_ARG);
    assert_int_equal(pneumo_tensor_create(2, bad, &t), PNEUMO_ERR_INVALID_ARG);
    assert_non_null(strstr(pneumo_last_error(), "dimension 1"));
    assert_int_equal(pneumo_tensor_create(2, huge, &t), PNEUMO_ERR_LIMIT);
    assert_int_equal(pneumo_tensor_create(2, NULL, &t), PNEUMO_ERR_INVALID_ARG);
    assert_int_equal(pneumo_tensor_create(1, shape, NULL), PNEUMO_ERR_INVALID_ARG);
    assert_int_equal(pneumo_tensor_wrap(1, shape, NULL, 0, &t), PNEUMO_ERR_INVALID_ARG);
    assert_int_equal(pneumo_tensor_clone(NULL, &t), PNEUMO_ERR_INVALID_ARG);
    assert_int_equal(pneumo_tensor_copy(NULL, NULL), PNEUMO_ERR_INVALID_ARG);
    assert_int_equal(pneumo_last_status(), PNEUMO_ERR_INVALID_ARG);
    pneumo_tensor_destroy(NULL);
    assert_int_equal(pneumo_tensor_ndim(NULL), 0);
    assert_int_equal(pneumo_tensor_numel(NULL), 0);
    assert_null(pneumo_tensor_data(NULL));
    pneumo_clear_error();
    assert_string_equal(pneumo_last_error(), "");
    assert_int_equal(pneumo_last_status(), PNEUMO_OK);
}

static void test_strerror_and_version(void **state)
{
    (void)state;
    assert_string_equal(pneumo_strerror(PNEUMO_OK), "success");
    assert_string_equal(pneumo_strerror(PNEUMO_ERR_SHAPE), "shape mismatch");
    assert_string_equal(pneumo_strerror(12345), "unknown status");
    assert_string_equal(pneumo_version(), PNEUMO_VERSION_STRING);
    assert_int_equal(pneumo_version_number(), PNEUMO_VERSION_NUMBER);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_create_zeroed_and_shape), cmocka_unit_test(test_wrap_shares_memory),
        cmocka_unit_test(test_copy_checks_shapes),      cmocka_unit_test(test_misuse),
        cmocka_unit_test(test_strerror_and_version),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
