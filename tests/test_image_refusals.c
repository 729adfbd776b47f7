/* Image decoding refusals: truncated and corrupt PNG/JPEG files and hostile
 * dimensions fail cleanly with a message. */
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

static uint32_t crc32_bytes(const uint8_t *p, size_t n)
{
    uint32_t c = 0xFFFFFFFFu;
    for (size_t i = 0; i < n; i++) {
        c ^= p[i];
        for (int k = 0; k < 8; k++)
            c = (c >> 1) ^ (0xEDB88320u & (0u - (c & 1u)));
    }
    return c ^ 0xFFFFFFFFu;
}

static void put_be32(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)(v >> 24);
    p[1] = (uint8_t)(v >> 16);
    p[2] = (uint8_t)(v >> 8);
    p[3] = (uint8_t)v;
}

/* ------------------------------------------------------------------ */
/* rejections                                                          */

static void expect_fail(const void *data, size_t size, pneumo_status want, const char *label)
{
    pneumo_image *img = (pneumo_image *)(uintptr_t)1;
    pneumo_status st = pneumo_image_decode(data, size, label, NULL, &img);
    if (st != want)
        fail_msg("%s: status %d (%s), expected %d; message: %s", label, st, pneumo_strerror(st), want,
                 pneumo_last_error());
    assert_null(img);
    if (!strstr(pneumo_last_error(), label))
        fail_msg("%s: message does not name the file: %s", label, pneumo_last_error());
}

static void test_truncated_and_corrupt(void **state)
{
    uint8_t px[JW * JH * 3];
    membuf jpg, pjpg, png;
    (void)state;
    quiet_begin();
    make_smooth(px, JW, JH, 3, 21);
    jpg = jpeg_make(JW, JH, 3, JCS_RGB, JCS_UNKNOWN, 0, 90, px, NULL, 0);
    pjpg = jpeg_make(JW, JH, 3, JCS_RGB, JCS_UNKNOWN, 1, 90, px, NULL, 0);
    png = png_make(JW, JH, PNG_COLOR_TYPE_RGB, 8, 0, px, JW * 3, NULL, 0, NULL, 0);

    /* truncations: header, tables, scan data, just before EOI / IEND */
    {
        const membuf *jpegs[2] = {&jpg, &pjpg};
        for (int k = 0; k < 2; k++) {
            size_t n = jpegs[k]->size;
            size_t cuts[] = {3, 4, 20, 100, 300, n / 2, n * 3 / 4, n - 10, n - 2, n - 1};
            for (size_t c = 0; c < sizeof cuts / sizeof cuts[0]; c++) {
                char label[64];
                snprintf(label, sizeof label, "cut%d-%zu.jpg", k, cuts[c]);
                expect_fail(jpegs[k]->data, cuts[c], PNEUMO_ERR_FORMAT, label);
            }
        }
    }
    {
        size_t n = png.size;
        size_t cuts[] = {1, 8, 16, 20, 33, 40, 60, n / 2, n - 13, n - 12, n - 4, n - 1};
        for (size_t c = 0; c < sizeof cuts / sizeof cuts[0]; c++) {
            char label[64];
            snprintf(label, sizeof label, "cut-%zu.png", cuts[c]);
            expect_fail(png.data, cuts[c], PNEUMO_ERR_FORMAT, label);
        }
    }
    /* PNG: one flipped byte inside IDAT data -> CRC error; also in IHDR */
    {
        uint8_t *b = malloc(png.size);
        assert_non_null(b);
        memcpy(b, png.data, png.size);
        b[png.size / 2] ^= 0x5A;
        expect_fail(b, png.size, PNEUMO_ERR_FORMAT, "badcrc.png");
        memcpy(b, png.data, png.size);
        b[18] ^= 0x01; /* IHDR width byte */
        expect_fail(b, png.size, PNEUMO_ERR_FORMAT, "badihdr.png");
        free(b);
    }
    /* JPEG: garbage in the middle of the entropy-coded scan, and in the tables */
    {
        uint8_t *b = malloc(jpg.size);
        uint64_t rng = 5;
        assert_non_null(b);
        for (int trial = 0; trial < 8; trial++) {
            char label[64];
            memcpy(b, jpg.data, jpg.size);
            for (size_t i = jpg.size / 2; i < jpg.size / 2 + 64; i++)
                b[i] = (uint8_t)tu_next(&rng);
            b[jpg.size / 2 + 10 + (size_t)trial] = 0xFF; /* make sure a bad marker shows */
            b[jpg.size / 2 + 11 + (size_t)trial] = (uint8_t)(0xC0 + trial);
            snprintf(label, sizeof label, "garbage%d.jpg", trial);
            expect_fail(b, jpg.size, PNEUMO_ERR_FORMAT, label);
        }
        memcpy(b, jpg.data, jpg.size);
        for (size_t i = 2; i < 200 && i < jpg.size; i++)
            b[i] = (uint8_t)(i * 37);
        b[2] = 0xFF;
        expect_fail(b, jpg.size, PNEUMO_ERR_FORMAT, "garbage-header.jpg");
        free(b);
    }
    /* not images */
    {
        static const char text[] = "hello, this is not an image\n";
        static const uint8_t gif[] = {'G', 'I', 'F', '8', '9', 'a', 1, 0, 1, 0, 0, 0, 0};
        expect_fail(text, sizeof text - 1, PNEUMO_ERR_FORMAT, "notes.jpg");
        expect_fail(gif, sizeof gif, PNEUMO_ERR_FORMAT, "anim.png");
        expect_fail("", 0, PNEUMO_ERR_FORMAT, "empty.png");
        expect_fail("\xFF\xD8", 2, PNEUMO_ERR_FORMAT, "soi-only.jpg");
        assert_non_null(strstr(pneumo_last_error(), "not a JPEG or PNG image"));
    }
    quiet_end();
    free(jpg.data);
    free(pjpg.data);
    free(png.data);
}

static void test_hostile_dimensions(void **state)
{
    (void)state;
    quiet_begin();
    /* PNG whose IHDR says 100000 x 100000 (valid CRC) */
    {
        const uint8_t raw[4] = {1, 2, 3, 4};
        membuf m = png_make(2, 2, PNG_COLOR_TYPE_GRAY, 8, 0, raw, 2, NULL, 0, NULL, 0);
        clock_t t0 = clock();
        put_be32(m.data + 16, 100000);
        put_be32(m.data + 20, 100000);
        put_be32(m.data + 29, crc32_bytes(m.data + 12, 17));
        expect_fail(m.data, m.size, PNEUMO_ERR_LIMIT, "huge.png");
        /* 20000 x 2: over max_side only */
        put_be32(m.data + 16, 20000);
        put_be32(m.data + 20, 2);
        put_be32(m.data + 29, crc32_bytes(m.data + 12, 17));
        expect_fail(m.data, m.size, PNEUMO_ERR_LIMIT, "wide.png");
        assert_true((double)(clock() - t0) / CLOCKS_PER_SEC < 1.0);
        free(m.data);
    }
    /* JPEG whose SOF says 60000 x 60000 (ours) and 65535 x 65535 (libjpeg's own cap) */
    {
        uint8_t px[16 * 16];
        membuf m;
        size_t sof = 0;
        memset(px, 128, sizeof px);
        m = jpeg_make(16, 16, 1, JCS_GRAYSCALE, JCS_UNKNOWN, 0, 90, px, NULL, 0);
        for (size_t i = 2; i + 9 < m.size; i++)
            if (m.data[i] == 0xFF && (m.data[i + 1] == 0xC0 || m.data[i + 1] == 0xC2)) {
                sof = i;
                break;
            }
        assert_true(sof > 0);
        /* FF C0 len(2) precision(1) height(2) width(2) */
        m.data[sof + 5] = 0xEA;
        m.data[sof + 6] = 0x60;
        m.data[sof + 7] = 0xEA;
        m.data[sof + 8] = 0x60;
        expect_fail(m.data, m.size, PNEUMO_ERR_LIMIT, "huge.jpg");
        m.data[sof + 5] = m.data[sof + 6] = m.data[sof + 7] = m.data[sof + 8] = 0xFF;
        expect_fail(m.data, m.size, PNEUMO_ERR_LIMIT, "huge2.jpg");
        free(m.data);
    }
    /* caller limits: max_pixels and max_side */
    {
        uint8_t px[20 * 20];
        pneumo_decode_limits lim;
        pneumo_image *img = NULL;
        membuf j, p;
        memset(px, 50, sizeof px);
        j = jpeg_make(20, 20, 1, JCS_GRAYSCALE, JCS_UNKNOWN, 0, 90, px, NULL, 0);
        p = png_make(20, 20, PNG_COLOR_TYPE_GRAY, 8, 0, px, 20, NULL, 0, NULL, 0);
        pneumo_decode_default_limits(&lim);
        lim.max_pixels = 399;
        assert_int_equal(pneumo_image_decode(j.data, j.size, "a.jpg", &lim, &img), PNEUMO_ERR_LIMIT);
        assert_int_equal(pneumo_image_decode(p.data, p.size, "a.png", &lim, &img), PNEUMO_ERR_LIMIT);
        lim.max_pixels = 400;
        assert_int_equal(pneumo_image_decode(p.data, p.size, "a.png", &lim, &img), PNEUMO_OK);
        pneumo_image_destroy(img);
        lim.max_side = 19;
        assert_int_equal(pneumo_image_decode(j.data, j.size, "a.jpg", &lim, &img), PNEUMO_ERR_LIMIT);
        assert_int_equal(pneumo_image_decode(p.data, p.size, "a.png", &lim, &img), PNEUMO_ERR_LIMIT);
        free(j.data);
        free(p.data);
    }
    quiet_end();
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_truncated_and_corrupt),
        cmocka_unit_test(test_hostile_dimensions),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
