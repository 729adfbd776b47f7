/* Images read from files: pneumo_image_load on generated files (the content
 * decides, not the extension; empty, text, directory, FIFO, missing and
 * oversized files are refused) and on the original X-rays of the shared chest
 * X-ray data. */
#include "testutil.h"

#include "pneumo/image.h"
#include "image/image_internal.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <jpeglib.h>
#include <png.h>

#include "image_fixtures.h"

static void write_file(const char *path, const void *data, size_t n)
{
    FILE *f = fopen(path, "wb");
    assert_non_null(f);
    assert_int_equal(fwrite(data, 1, n, f), n);
    assert_int_equal(fclose(f), 0);
}

static void expect_load(const char *path, pneumo_status want)
{
    pneumo_image *img = NULL;
    pneumo_status st = pneumo_image_load(path, NULL, &img);
    if (st != want)
        fail_msg("%s: status %d, expected %d: %s", path, st, want, pneumo_last_error());
    if (want != PNEUMO_OK) {
        assert_null(img);
        if (!strstr(pneumo_last_error(), path))
            fail_msg("message does not name %s: %s", path, pneumo_last_error());
    }
    pneumo_image_destroy(img);
}

static void test_files(void **state)
{
    const char *dir;
    char p_png_as_jpg[4200], p_empty[4200], p_text[4200], p_sub[4200], p_fifo[4200], p_missing[4200],
        p_big[4200], dirbuf[4096];
    uint8_t px[30 * 20];
    membuf m;
    pneumo_image *img = NULL;
    (void)state;
    dir = tu_tmpdir();
    assert_non_null(dir);
    snprintf(dirbuf, sizeof dirbuf, "%s", dir); /* tu_tmpdir's buffer is reused */
    dir = dirbuf;
    snprintf(p_png_as_jpg, sizeof p_png_as_jpg, "%s/really-a-png.jpg", dir);
    snprintf(p_empty, sizeof p_empty, "%s/empty.jpeg", dir);
    snprintf(p_text, sizeof p_text, "%s/readme.png", dir);
    snprintf(p_sub, sizeof p_sub, "%s/folder.jpg", dir);
    snprintf(p_fifo, sizeof p_fifo, "%s/fifo.jpg", dir);
    snprintf(p_missing, sizeof p_missing, "%s/missing.jpg", dir);
    snprintf(p_big, sizeof p_big, "%s/big.png", dir);
    for (int i = 0; i < 30 * 20; i++)
        px[i] = (uint8_t)(i * 7);
    m = png_make(30, 20, PNG_COLOR_TYPE_GRAY, 8, 0, px, 30, NULL, 0, NULL, 0);
    write_file(p_png_as_jpg, m.data, m.size);
    write_file(p_empty, "", 0);
    write_file(p_text, "just text\n", 10);
    assert_int_equal(mkdir(p_sub, 0700), 0);
    assert_int_equal(mkfifo(p_fifo, 0600), 0);

    quiet_begin();
    /* content decides, not the extension */
    assert_int_equal(pneumo_image_load(p_png_as_jpg, NULL, &img), PNEUMO_OK);
    assert_int_equal(pneumo_image_width(img), 30);
    assert_memory_equal(pneumo_image_pixels(img), px, sizeof px);
    pneumo_image_destroy(img);
    expect_load(p_empty, PNEUMO_ERR_FORMAT);
    expect_load(p_text, PNEUMO_ERR_FORMAT);
    expect_load(p_sub, PNEUMO_ERR_IO);
    expect_load(p_fifo, PNEUMO_ERR_IO); /* must not block waiting for a writer */
    expect_load(p_missing, PNEUMO_ERR_IO);
    /* file size cap */
    {
        pneumo_decode_limits lim;
        pneumo_decode_default_limits(&lim);
        lim.max_file_bytes = (int64_t)m.size - 1;
        write_file(p_big, m.data, m.size);
        img = NULL;
        assert_int_equal(pneumo_image_load(p_big, &lim, &img), PNEUMO_ERR_LIMIT);
        assert_null(img);
    }
    /* decode + resize into a caller buffer */
    {
        uint8_t dst[60 * 10], want[60 * 10];
        int32_t sw = 0, sh = 0;
        assert_int_equal(pn_image_load_resized(p_png_as_jpg, 60, 10, PNEUMO_RESAMPLE_NEAREST, NULL, dst, &sw,
                                               &sh),
                         PNEUMO_OK);
        assert_int_equal(sw, 30);
        assert_int_equal(sh, 20);
        assert_int_equal(pn_resize_gray(px, 30, 20, want, 60, 10, PNEUMO_RESAMPLE_NEAREST), PNEUMO_OK);
        assert_memory_equal(dst, want, sizeof dst);
        assert_int_equal(pn_image_load_resized(p_text, 60, 10, PNEUMO_RESAMPLE_NEAREST, NULL, dst, NULL,
                                               NULL),
                         PNEUMO_ERR_FORMAT);
    }
    assert_int_equal(pneumo_image_load(NULL, NULL, &img), PNEUMO_ERR_INVALID_ARG);
    quiet_end();

    free(m.data);
    unlink(p_png_as_jpg);
    unlink(p_empty);
    unlink(p_text);
    unlink(p_fifo);
    unlink(p_big);
    rmdir(p_sub);
    rmdir(dir);
}

/* ------------------------------------------------------------------ */
/* the real X-rays                                                     */

static double now_seconds(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec * 1e-9;
}

static void test_real_originals(void **state)
{
    const char *base = tu_shared_data();
    char root[4200];
    int count = 0;
    double t_decode = 0, t_resized = 0;
    uint8_t *dst;
    (void)state;
    if (!base)
        skip();
    snprintf(root, sizeof root, "%s/originals", base);
    {
        struct stat st;
        if (stat(root, &st) != 0 || !S_ISDIR(st.st_mode)) {
            printf("skipped: %s not found\n", root);
            skip();
        }
    }
    dst = malloc(500 * 500);
    assert_non_null(dst);
    quiet_begin();
    {
        DIR *top = opendir(root);
        struct dirent *cls;
        assert_non_null(top);
        while ((cls = readdir(top)) != NULL) {
            char cdir[4600];
            DIR *d;
            struct dirent *e;
            if (cls->d_name[0] == '.')
                continue;
            snprintf(cdir, sizeof cdir, "%s/%s", root, cls->d_name);
            d = opendir(cdir);
            if (!d)
                continue;
            while ((e = readdir(d)) != NULL) {
                char path[5000];
                pneumo_image *img = NULL;
                double t0;
                int32_t sw, sh;
                if (e->d_name[0] == '.')
                    continue;
                snprintf(path, sizeof path, "%s/%s", cdir, e->d_name);
                t0 = now_seconds();
                if (pneumo_image_load(path, NULL, &img) != PNEUMO_OK)
                    fail_msg("%s", pneumo_last_error());
                t_decode += now_seconds() - t0;
                assert_true(pneumo_image_width(img) > 0 && pneumo_image_height(img) > 0);
                t0 = now_seconds();
                if (pn_image_load_resized(path, 500, 500, PNEUMO_RESAMPLE_NEAREST, NULL, dst, &sw, &sh) !=
                    PNEUMO_OK)
                    fail_msg("%s", pneumo_last_error());
                t_resized += now_seconds() - t0;
                assert_int_equal(sw, pneumo_image_width(img));
                assert_int_equal(sh, pneumo_image_height(img));
                pneumo_image_destroy(img);
                count++;
            }
            closedir(d);
        }
        closedir(top);
    }
    quiet_end();
    free(dst);
    assert_true(count > 0);
    printf("decoded %d originals: %.3f s (%.1f ms/image); decode+resize to 500x500 nearest: "
           "%.3f s (%.1f images/s)\n",
           count, t_decode, 1000.0 * t_decode / count, t_resized, count / t_resized);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_files),
        cmocka_unit_test(test_real_originals),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
