/* Tests for the shared mechanisms of lib/core/: growable arrays and the pn_buf
 * text buffer (buf.h; JSON writing into it is in test_json.c), whole-file
 * reading (file.h) and the online-core count (threadpool.h). */
#include "testutil.h"

#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/alloc.h"
#include "core/buf.h"
#include "core/file.h"
#include "core/threadpool.h"
#include "pneumo/common.h"

/* ---- pn_array_reserve ------------------------------------------------------- */

static void test_array_growth(void **state)
{
    (void)state;
    int32_t *a = NULL;
    size_t cap = 0;

    assert_true(pn_array_reserve(&a, &cap, 0, sizeof *a, SIZE_MAX)); /* nothing needed */
    assert_null(a);
    assert_int_equal(cap, 0);

    assert_true(pn_array_reserve(&a, &cap, 1, sizeof *a, SIZE_MAX));
    assert_non_null(a);
    assert_int_equal(cap, 4); /* the first capacity */
    for (int32_t i = 0; i < 4; i++)
        a[i] = i;

    int32_t *before = a;
    assert_true(pn_array_reserve(&a, &cap, 4, sizeof *a, SIZE_MAX)); /* fits: untouched */
    assert_ptr_equal(a, before);
    assert_int_equal(cap, 4);

    assert_true(pn_array_reserve(&a, &cap, 5, sizeof *a, SIZE_MAX));
    assert_int_equal(cap, 8); /* doubles */
    assert_true(pn_array_reserve(&a, &cap, 100, sizeof *a, SIZE_MAX));
    assert_int_equal(cap, 128); /* doubles until the need fits */
    for (int32_t i = 0; i < 4; i++)
        assert_int_equal(a[i], i); /* contents kept */
    free(a);
}

static void test_array_bounds(void **state)
{
    (void)state;
    uint8_t *a = NULL;
    size_t cap = 0;

    /* doubling stops at max */
    assert_true(pn_array_reserve(&a, &cap, 5, 1, 6));
    assert_int_equal(cap, 6);
    /* a need above max fails and leaves the array alone */
    uint8_t *before = a;
    assert_false(pn_array_reserve(&a, &cap, 7, 1, 6));
    assert_ptr_equal(a, before);
    assert_int_equal(cap, 6);
    free(a);

    /* element count times size overflowing size_t: refused, nothing allocated */
    uint64_t *big = NULL;
    cap = 0;
    assert_false(pn_array_reserve(&big, &cap, SIZE_MAX / 4, sizeof *big, SIZE_MAX));
    assert_null(big);
    assert_int_equal(cap, 0);
    /* a zero element size is a caller error, refused */
    assert_false(pn_array_reserve(&big, &cap, 1, 0, SIZE_MAX));
    assert_null(big);

    /* doubling the count would overflow the byte size but the need alone does
     * not: the allocation is tried with exactly the need (the hook makes it
     * fail, and shows it was tried) */
    uint16_t *halves = NULL;
    size_t hcap = SIZE_MAX / 4 + 1;
    pn_alloc_fail_nth(1);
    assert_false(pn_array_reserve(&halves, &hcap, SIZE_MAX / 4 + 2, sizeof *halves, SIZE_MAX));
    assert_true(pn_alloc_fail_fired());
    assert_null(halves);
    assert_int_equal(hcap, SIZE_MAX / 4 + 1);
    /* both overflow: refused before any allocation */
    pn_alloc_fail_nth(1);
    assert_false(pn_array_reserve(&halves, &hcap, SIZE_MAX / 2 + 1, sizeof *halves, SIZE_MAX));
    assert_false(pn_alloc_fail_fired());
    pn_alloc_fail_nth(0);
}

static void test_array_alloc_failure(void **state)
{
    (void)state;
    double *a = NULL;
    size_t cap = 0;

    pn_alloc_fail_nth(1);
    assert_false(pn_array_reserve(&a, &cap, 1, sizeof *a, SIZE_MAX));
    assert_true(pn_alloc_fail_fired());
    assert_null(a);
    assert_int_equal(cap, 0);

    assert_true(pn_array_reserve(&a, &cap, 3, sizeof *a, SIZE_MAX));
    a[0] = 1.5;
    a[2] = -2.5;
    double *before = a;
    pn_alloc_fail_nth(1);
    assert_false(pn_array_reserve(&a, &cap, 5, sizeof *a, SIZE_MAX));
    assert_true(pn_alloc_fail_fired());
    assert_ptr_equal(a, before); /* the old array survives a failed growth */
    assert_int_equal(cap, 4);
    assert_true(a[0] == 1.5 && a[2] == -2.5);
    pn_alloc_fail_nth(0);
    free(a);
}

/* ---- pn_buf ----------------------------------------------------------------- */

static void test_buf(void **state)
{
    (void)state;
    pn_buf b;
    pn_buf_init(&b);
    pn_buf_printf(&b, "ab-%d-%s", 42, "x");
    char out[5];
    size_t needed = 0;
    assert_int_equal(pn_buf_export(&b, out, sizeof out, &needed, "test text"), PNEUMO_OK);
    assert_string_equal(out, "ab-4"); /* truncated like snprintf */
    assert_int_equal(needed, 7);
    assert_null(b.data); /* export frees */

    /* an allocation failure sticks: later appends do nothing, export says NOMEM */
    pn_buf_init(&b);
    pn_alloc_fail_nth(1);
    pn_buf_append(&b, "abc", 3);
    assert_true(pn_alloc_fail_fired());
    assert_int_equal(b.failed, PN_BUF_NOMEM);
    pn_buf_printf(&b, "%s", "more");
    assert_int_equal(b.len, 0);
    assert_int_equal(pn_buf_export(&b, out, sizeof out, &needed, "test text"), PNEUMO_ERR_NOMEM);
    assert_non_null(strstr(pneumo_last_error(), "test text"));
    pn_alloc_fail_nth(0);

    /* a length that cannot be added to the buffer's without overflow */
    pn_buf_init(&b);
    pn_buf_append(&b, "a", 1);
    pn_buf_append(&b, "", SIZE_MAX);
    assert_int_equal(b.failed, PN_BUF_NOMEM);
    assert_int_equal(b.len, 1);
    pn_buf_free(&b);
}

/* ---- pn_read_file ----------------------------------------------------------- */

static void write_file(const char *path, const char *text, size_t n)
{
    FILE *f = fopen(path, "wb");
    assert_non_null(f);
    assert_int_equal(fwrite(text, 1, n, f), n);
    assert_int_equal(fclose(f), 0);
}

static void test_read_file(void **state)
{
    (void)state;
    const char *dir = tu_tmpdir();
    assert_non_null(dir);
    char *path = tu_join(dir, "f.bin");
    uint8_t *data = NULL;
    size_t size = 1;

    /* empty: success with a buffer the caller frees and size 0 */
    write_file(path, "", 0);
    assert_int_equal(pn_read_file(path, 100, &data, &size), PNEUMO_OK);
    assert_non_null(data);
    assert_int_equal(size, 0);
    free(data);

    /* exactly at the limit, and one byte over it */
    write_file(path, "0123456789", 10);
    assert_int_equal(pn_read_file(path, 10, &data, &size), PNEUMO_OK);
    assert_int_equal(size, 10);
    assert_memory_equal(data, "0123456789", 10);
    free(data);
    assert_int_equal(pn_read_file(path, 9, &data, &size), PNEUMO_ERR_LIMIT);
    assert_null(data);
    assert_int_equal(size, 0);
    assert_non_null(strstr(pneumo_last_error(), path));
    assert_non_null(strstr(pneumo_last_error(), "file is 10 bytes, more than the limit of 9"));

    /* a directory */
    assert_int_equal(pn_read_file(dir, 100, &data, &size), PNEUMO_ERR_IO);
    assert_null(data);
    assert_non_null(strstr(pneumo_last_error(), "directory"));
    assert_non_null(strstr(pneumo_last_error(), dir));
    assert_non_null(strstr(pneumo_last_error(), "is a directory, not a regular file"));
    /* a FIFO must be refused without blocking */
    char *fifo = tu_join(dir, "fifo");
    assert_int_equal(mkfifo(fifo, 0600), 0);
    assert_int_equal(pn_read_file(fifo, 100, &data, &size), PNEUMO_ERR_IO);
    assert_non_null(strstr(pneumo_last_error(), "not a regular file"));
    unlink(fifo);
    free(fifo);
    /* a device */
    assert_int_equal(pn_read_file("/dev/null", 100, &data, &size), PNEUMO_ERR_IO);
    assert_non_null(strstr(pneumo_last_error(), "/dev/null: not a regular file"));
    /* missing: names the path and the errno text */
    char *missing = tu_join(dir, "missing");
    assert_int_equal(pn_read_file(missing, 100, &data, &size), PNEUMO_ERR_IO);
    assert_null(data);
    assert_non_null(strstr(pneumo_last_error(), missing));
    assert_non_null(strstr(pneumo_last_error(), "cannot open"));
    assert_non_null(strstr(pneumo_last_error(), strerror(ENOENT)));
    free(missing);

    /* NULL arguments */
    assert_int_equal(pn_read_file(NULL, 100, &data, &size), PNEUMO_ERR_INVALID_ARG);
    assert_int_equal(pn_read_file(path, 100, NULL, &size), PNEUMO_ERR_INVALID_ARG);

    /* the buffer is allocated through the failure hook */
    pn_alloc_fail_nth(1);
    assert_int_equal(pn_read_file(path, 100, &data, &size), PNEUMO_ERR_NOMEM);
    assert_true(pn_alloc_fail_fired());
    assert_null(data);
    pn_alloc_fail_nth(0);

    unlink(path);
    free(path);
    rmdir(dir);
}

/* ---- pn_online_cores -------------------------------------------------------- */

static void test_online_cores(void **state)
{
    (void)state;
    long n = sysconf(_SC_NPROCESSORS_ONLN);
    int want = n < 1 ? 1 : n > 64 ? 64 : (int)n;
    assert_int_equal(pn_online_cores(), want);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_array_growth),        cmocka_unit_test(test_array_bounds),
        cmocka_unit_test(test_array_alloc_failure), cmocka_unit_test(test_buf),
        cmocka_unit_test(test_read_file),           cmocka_unit_test(test_online_cores),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
