/* Tests for the PNG writer (lib/image/png_write.c), the atomic file helper
 * (lib/core/atomic_file.c) and the built-in 5x7 font (examples/font5x7.c). */
#include "testutil.h"

#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "pneumo/image_write.h"

#include "core/atomic_file.h"
#include "core/file.h"
#include "font5x7.h"
#include "image/image_internal.h"

/* ---- helpers ------------------------------------------------------------------ */


/* A w x h image of pseudo-random pixels (all 256 values occur in larger ones). */
static pneumo_image *random_image(int32_t w, int32_t h, uint64_t seed)
{
    pneumo_image *img = NULL;
    assert_int_equal(pneumo_image_create(w, h, &img), PNEUMO_OK);
    uint8_t *px = pneumo_image_pixels_mut(img);
    for (size_t i = 0; i < (size_t)w * (size_t)h; i++)
        px[i] = (uint8_t)(tu_next(&seed) >> 56);
    return img;
}

static void assert_same_image(const pneumo_image *a, const pneumo_image *b)
{
    assert_int_equal(pneumo_image_width(a), pneumo_image_width(b));
    assert_int_equal(pneumo_image_height(a), pneumo_image_height(b));
    size_t n = (size_t)pneumo_image_width(a) * (size_t)pneumo_image_height(a);
    assert_memory_equal(pneumo_image_pixels(a), pneumo_image_pixels(b), n);
}

/* ---- encode ------------------------------------------------------------------- */

static void test_encode_decode_round_trip(void **state)
{
    (void)state;
    static const int32_t sizes[][2] = {{1, 1}, {3, 5}, {500, 7}, {7, 500}, {64, 64}};
    for (size_t k = 0; k < sizeof sizes / sizeof sizes[0]; k++) {
        pneumo_image *img = random_image(sizes[k][0], sizes[k][1], 1000 + k);
        void *data = NULL;
        size_t size = 0;
        assert_int_equal(pneumo_image_encode_png(img, &data, &size), PNEUMO_OK);
        assert_non_null(data);
        assert_true(size > 8 + 25 + 12 + 12);
        assert_memory_equal(data, "\x89PNG\r\n\x1a\n", 8);
        /* IHDR: 8-bit, colour type 0 (gray), not interlaced */
        const uint8_t *b = data;
        assert_memory_equal(b + 12, "IHDR", 4);
        assert_int_equal(b[24], 8);
        assert_int_equal(b[25], 0);
        assert_int_equal(b[28], 0);
        pneumo_image *back = NULL;
        assert_int_equal(pneumo_image_decode(data, size, "rt", NULL, &back), PNEUMO_OK);
        assert_same_image(img, back);
        pneumo_image_destroy(back);
        pneumo_free(data);
        pneumo_image_destroy(img);
    }
}

/* Wider than libpng's default 1,000,000 px write limit: still encodes. */
static void test_encode_very_wide_image(void **state)
{
    (void)state;
    pneumo_image *img = random_image(1100000, 1, 99);
    void *data = NULL;
    size_t size = 0;
    assert_int_equal(pneumo_image_encode_png(img, &data, &size), PNEUMO_OK);
    pneumo_decode_limits lim;
    pneumo_decode_default_limits(&lim);
    lim.max_side = 2000000;
    pneumo_image *back = NULL;
    assert_int_equal(pneumo_image_decode(data, size, "wide", &lim, &back), PNEUMO_OK);
    assert_same_image(img, back);
    pneumo_image_destroy(back);
    pneumo_free(data);
    pneumo_image_destroy(img);
}

/* Extreme values and a constant image (compresses to almost nothing). */
static void test_encode_constant_images(void **state)
{
    (void)state;
    for (int v = 0; v < 256; v += 255) {
        pneumo_image *img = NULL;
        assert_int_equal(pneumo_image_create(300, 200, &img), PNEUMO_OK);
        memset(pneumo_image_pixels_mut(img), v, 300 * 200);
        void *data = NULL;
        size_t size = 0;
        assert_int_equal(pneumo_image_encode_png(img, &data, &size), PNEUMO_OK);
        assert_true(size < 2000);
        pneumo_image *back = NULL;
        assert_int_equal(pneumo_image_decode(data, size, NULL, NULL, &back), PNEUMO_OK);
        assert_same_image(img, back);
        pneumo_image_destroy(back);
        pneumo_free(data);
        pneumo_image_destroy(img);
    }
}

static void test_encode_rejects_bad_arguments(void **state)
{
    (void)state;
    pneumo_image *img = random_image(4, 4, 7);
    void *data = (void *)&data; /* must be reset to NULL on failure */
    size_t size = 123;
    assert_int_equal(pneumo_image_encode_png(NULL, &data, &size), PNEUMO_ERR_INVALID_ARG);
    assert_null(data);
    assert_int_equal(size, 0);
    assert_non_null(strstr(pneumo_last_error(), "NULL"));
    assert_int_equal(pneumo_image_encode_png(img, NULL, &size), PNEUMO_ERR_INVALID_ARG);
    assert_int_equal(pneumo_image_encode_png(img, &data, NULL), PNEUMO_ERR_INVALID_ARG);
    assert_null(data);

    /* an empty image (not constructible through the API, but a zeroed struct) */
    struct pneumo_image empty = {0, 0, NULL};
    assert_int_equal(pneumo_image_encode_png(&empty, &data, &size), PNEUMO_ERR_INVALID_ARG);
    assert_non_null(strstr(pneumo_last_error(), "empty"));
    assert_null(data);
    pneumo_free(NULL); /* no-op */
    pneumo_image_destroy(img);
}

/* ---- save --------------------------------------------------------------------- */

static void test_save_load_round_trip(void **state)
{
    (void)state;
    const char *dir = tu_tmpdir();
    assert_non_null(dir);
    char *path = tu_join(dir, "img.png");
    pneumo_image *img = random_image(37, 23, 11);
    assert_int_equal(pneumo_image_save_png(img, path), PNEUMO_OK);
    pneumo_image *back = NULL;
    assert_int_equal(pneumo_image_load(path, NULL, &back), PNEUMO_OK);
    assert_same_image(img, back);
    pneumo_image_destroy(back);
    int has_tmp;
    assert_int_equal(tu_count_entries(dir, &has_tmp), 1);
    assert_false(has_tmp);

    /* the saved bytes are exactly what encode gives */
    void *data = NULL;
    size_t size = 0;
    assert_int_equal(pneumo_image_encode_png(img, &data, &size), PNEUMO_OK);
    uint8_t *file = NULL;
    size_t fsize = 0;
    assert_int_equal(pn_read_file(path, 1 << 20, &file, &fsize), PNEUMO_OK);
    assert_int_equal(fsize, size);
    assert_memory_equal(file, data, size);
    free(file);
    pneumo_free(data);

    /* saving again replaces the file */
    pneumo_image *other = random_image(5, 9, 12);
    assert_int_equal(pneumo_image_save_png(other, path), PNEUMO_OK);
    assert_int_equal(pneumo_image_load(path, NULL, &back), PNEUMO_OK);
    assert_same_image(other, back);
    pneumo_image_destroy(back);
    assert_int_equal(tu_count_entries(dir, &has_tmp), 1);
    assert_false(has_tmp);

    pneumo_image_destroy(other);
    pneumo_image_destroy(img);
    unlink(path);
    free(path);
    rmdir(dir);
}

static void test_save_into_missing_directory(void **state)
{
    (void)state;
    const char *dir = tu_tmpdir();
    assert_non_null(dir);
    char *sub = tu_join(dir, "does-not-exist");
    char *path = tu_join(sub, "grid.png");
    pneumo_image *img = random_image(3, 3, 5);
    assert_int_equal(pneumo_image_save_png(img, path), PNEUMO_ERR_IO);
    assert_int_equal(pneumo_last_status(), PNEUMO_ERR_IO);
    assert_non_null(strstr(pneumo_last_error(), path));
    assert_non_null(strstr(pneumo_last_error(), strerror(ENOENT)));
    struct stat sb;
    assert_int_equal(stat(sub, &sb), -1);
    int has_tmp;
    assert_int_equal(tu_count_entries(dir, &has_tmp), 0);
    pneumo_image_destroy(img);
    free(path);
    free(sub);
    rmdir(dir);
}

/* The final rename fails (the destination is a non-empty directory): no
 * temporary file is left and the destination is untouched. */
static void test_failed_rename_leaves_destination(void **state)
{
    (void)state;
    const char *dir = tu_tmpdir();
    assert_non_null(dir);
    char *target = tu_join(dir, "grid.png");
    assert_int_equal(mkdir(target, 0700), 0);
    char *inner = tu_join(target, "keep");
    FILE *fp = fopen(inner, "wb");
    assert_non_null(fp);
    fclose(fp);
    pneumo_image *img = random_image(3, 3, 6);
    assert_int_equal(pneumo_image_save_png(img, target), PNEUMO_ERR_IO);
    assert_non_null(strstr(pneumo_last_error(), target));
    int has_tmp;
    assert_int_equal(tu_count_entries(dir, &has_tmp), 1);
    assert_false(has_tmp);
    assert_int_equal(tu_count_entries(target, &has_tmp), 1);
    pneumo_image_destroy(img);
    unlink(inner);
    rmdir(target);
    free(inner);
    free(target);
    rmdir(dir);
}

static void test_save_rejects_bad_arguments(void **state)
{
    (void)state;
    const char *dir = tu_tmpdir();
    assert_non_null(dir);
    char *path = tu_join(dir, "x.png");
    pneumo_image *img = random_image(2, 2, 3);
    assert_int_equal(pneumo_image_save_png(img, NULL), PNEUMO_ERR_INVALID_ARG);
    assert_int_equal(pneumo_image_save_png(img, ""), PNEUMO_ERR_INVALID_ARG);
    assert_int_equal(pneumo_image_save_png(NULL, path), PNEUMO_ERR_INVALID_ARG);
    assert_non_null(strstr(pneumo_last_error(), path));
    struct pneumo_image empty = {0, 0, NULL};
    assert_int_equal(pneumo_image_save_png(&empty, path), PNEUMO_ERR_INVALID_ARG);
    assert_non_null(strstr(pneumo_last_error(), path));
    int has_tmp;
    assert_int_equal(tu_count_entries(dir, &has_tmp), 0); /* nothing was created */
    pneumo_image_destroy(img);
    free(path);
    rmdir(dir);
}

/* The raw helper: a chunked write commits; an aborted one leaves nothing. */
static void test_atomic_helper(void **state)
{
    (void)state;
    const char *dir = tu_tmpdir();
    assert_non_null(dir);
    char *path = tu_join(dir, "out.bin");
    pn_atomic_file af;
    assert_int_equal(pn_atomic_open(&af, path), PNEUMO_OK);
    assert_int_equal(pn_atomic_write_chunk(&af, "abc", 3), PNEUMO_OK);
    assert_int_equal(pn_atomic_write_chunk(&af, "def", 3), PNEUMO_OK);
    int has_tmp;
    assert_int_equal(tu_count_entries(dir, &has_tmp), 1);
    assert_true(has_tmp); /* only the temporary exists before commit */
    assert_int_equal(pn_atomic_commit(&af), PNEUMO_OK);
    uint8_t *data = NULL;
    size_t size = 0;
    assert_int_equal(pn_read_file(path, 100, &data, &size), PNEUMO_OK);
    assert_int_equal(size, 6);
    assert_memory_equal(data, "abcdef", 6);
    free(data);

    assert_int_equal(pn_atomic_open(&af, path), PNEUMO_OK);
    assert_int_equal(pn_atomic_write_chunk(&af, "zzz", 3), PNEUMO_OK);
    pn_atomic_abort(&af);
    assert_int_equal(tu_count_entries(dir, &has_tmp), 1);
    assert_false(has_tmp);
    assert_int_equal(pn_read_file(path, 100, &data, &size), PNEUMO_OK);
    assert_memory_equal(data, "abcdef", 6); /* untouched */
    free(data);

    assert_int_equal(pn_atomic_write(path, "", 0), PNEUMO_OK); /* empty file is fine */
    struct stat sb;
    assert_int_equal(stat(path, &sb), 0);
    assert_int_equal(sb.st_size, 0);
    assert_int_equal(pn_atomic_write(path, NULL, 1), PNEUMO_ERR_INVALID_ARG);
    assert_int_equal(pn_atomic_write(NULL, "x", 1), PNEUMO_ERR_INVALID_ARG);
    unlink(path);
    free(path);
    rmdir(dir);
}

/* ---- font --------------------------------------------------------------------- */

/* The 'A' glyph, written out independently of the font's table. */
static const char *const glyph_A[7] = {
    ".###.", "#...#", "#...#", "#...#", "#####", "#...#", "#...#",
};

/* An image whose pixels live inside a larger buffer with guard bytes on every
 * side, to catch writes outside the image. */
typedef struct guarded {
    struct pneumo_image img;
    uint8_t *buf;
    size_t total;
} guarded;

enum { GUARD = 64 };

static void guarded_init(guarded *g, int32_t w, int32_t h)
{
    g->total = (size_t)w * (size_t)h + 2 * GUARD;
    g->buf = malloc(g->total);
    assert_non_null(g->buf);
    memset(g->buf, 0xA5, g->total);
    memset(g->buf + GUARD, 0, (size_t)w * (size_t)h);
    g->img.width = w;
    g->img.height = h;
    g->img.pixels = g->buf + GUARD;
}

static void guarded_check_and_free(guarded *g)
{
    size_t n = (size_t)g->img.width * (size_t)g->img.height;
    for (size_t i = 0; i < GUARD; i++) {
        assert_int_equal(g->buf[i], 0xA5);
        assert_int_equal(g->buf[GUARD + n + i], 0xA5);
    }
    free(g->buf);
}

static void test_font_draws_A_exactly(void **state)
{
    (void)state;
    for (int32_t scale = 1; scale <= 3; scale++) {
        guarded g;
        guarded_init(&g, 24, 30);
        const int32_t x0 = 3, y0 = 4;
        pn_font5x7_draw(&g.img, x0, y0, "A", scale, 200);
        for (int32_t y = 0; y < 30; y++) {
            for (int32_t x = 0; x < 24; x++) {
                int on = 0;
                int32_t gx = x - x0, gy = y - y0;
                if (gx >= 0 && gy >= 0 && gx < 5 * scale && gy < 7 * scale)
                    on = glyph_A[gy / scale][gx / scale] == '#';
                assert_int_equal(g.img.pixels[y * 24 + x], on ? 200 : 0);
            }
        }
        guarded_check_and_free(&g);
    }
}

/* Every supported glyph is non-empty except space; unsupported ones are '?'. */
static void test_font_coverage(void **state)
{
    (void)state;
    const char *need = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789.,:%()-/";
    for (const char *p = need; *p; p++) {
        const uint8_t *gl = pn_font5x7_glyph(*p);
        int bits = 0;
        for (int r = 0; r < 7; r++) {
            assert_int_equal(gl[r] & ~0x1Fu, 0);
            bits |= gl[r];
        }
        assert_true(bits != 0);
        assert_true(gl != pn_font5x7_glyph('?') || *p == '?');
    }
    const uint8_t *sp = pn_font5x7_glyph(' ');
    for (int r = 0; r < 7; r++)
        assert_int_equal(sp[r], 0);
    assert_ptr_equal(pn_font5x7_glyph('~'), pn_font5x7_glyph('?'));
    assert_ptr_equal(pn_font5x7_glyph('\t'), pn_font5x7_glyph('?'));
    assert_ptr_equal(pn_font5x7_glyph((char)0xC3), pn_font5x7_glyph('?'));
    /* distinct shapes for letters that are easy to confuse */
    assert_memory_not_equal(pn_font5x7_glyph('O'), pn_font5x7_glyph('0'), 7);
    assert_memory_not_equal(pn_font5x7_glyph('l'), pn_font5x7_glyph('1'), 7);
}

static void test_font_metrics(void **state)
{
    (void)state;
    assert_int_equal(pn_font5x7_text_width("A", 1), 5);
    assert_int_equal(pn_font5x7_text_width("AB", 1), 11);
    assert_int_equal(pn_font5x7_text_width("AB", 2), 22);
    assert_int_equal(pn_font5x7_text_width("ABC\nA", 1), 17);
    assert_int_equal(pn_font5x7_text_width("", 1), 0);
    assert_int_equal(pn_font5x7_text_width(NULL, 1), 0);
    assert_int_equal(pn_font5x7_text_width("A", 0), 0);
    assert_int_equal(pn_font5x7_text_height("A", 1), 7);
    assert_int_equal(pn_font5x7_text_height("A\nB", 2), 30);
}

/* Text hanging over every border: in-image pixels match the unclipped drawing
 * and nothing outside the image is written. */
static void test_font_clipping(void **state)
{
    (void)state;
    const char *text = "Opacity 97.3%\n(aug)-x/y:,";
    const int32_t W = 20, H = 12, S = 2;
    /* reference: the same text on a big canvas, offset by (PAD, PAD) */
    const int32_t PAD = 200;
    pneumo_image *big = NULL;
    assert_int_equal(pneumo_image_create(W + 2 * PAD, H + 2 * PAD, &big), PNEUMO_OK);
    static const int32_t pos[][2] = {{-7, -5}, {-200, 3},    {15, 8}, {-3, -30},
                                     {19, 11}, {-100, -100}, {25, 0}, {0, 13}};
    for (size_t k = 0; k < sizeof pos / sizeof pos[0]; k++) {
        guarded g;
        guarded_init(&g, W, H);
        pn_font5x7_draw(&g.img, pos[k][0], pos[k][1], text, S, 255);
        memset(pneumo_image_pixels_mut(big), 0, (size_t)(W + 2 * PAD) * (size_t)(H + 2 * PAD));
        pn_font5x7_draw(big, pos[k][0] + PAD, pos[k][1] + PAD, text, S, 255);
        const uint8_t *ref = pneumo_image_pixels(big);
        for (int32_t y = 0; y < H; y++)
            for (int32_t x = 0; x < W; x++)
                assert_int_equal(g.img.pixels[y * W + x],
                                 ref[(size_t)(y + PAD) * (size_t)(W + 2 * PAD) + (size_t)(x + PAD)]);
        guarded_check_and_free(&g);
    }
    /* huge coordinates and scales do not overflow */
    guarded g;
    guarded_init(&g, W, H);
    pn_font5x7_draw(&g.img, INT32_MAX - 3, INT32_MAX - 3, text, 1000, 255);
    pn_font5x7_draw(&g.img, INT32_MIN, INT32_MIN, text, INT32_MAX, 255);
    pn_font5x7_draw(&g.img, 0, 0, text, 0, 255); /* no-op */
    pn_font5x7_draw(&g.img, 0, 0, NULL, 1, 255); /* no-op */
    pn_font5x7_draw(NULL, 0, 0, text, 1, 255);   /* no-op */
    for (int32_t i = 0; i < W * H; i++)
        assert_true(g.img.pixels[i] == 0 || g.img.pixels[i] == 255);
    guarded_check_and_free(&g);
    pneumo_image_destroy(big);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_encode_decode_round_trip),
        cmocka_unit_test(test_encode_very_wide_image),
        cmocka_unit_test(test_encode_constant_images),
        cmocka_unit_test(test_encode_rejects_bad_arguments),
        cmocka_unit_test(test_save_load_round_trip),
        cmocka_unit_test(test_save_into_missing_directory),
        cmocka_unit_test(test_failed_rename_leaves_destination),
        cmocka_unit_test(test_save_rejects_bad_arguments),
        cmocka_unit_test(test_atomic_helper),
        cmocka_unit_test(test_font_draws_A_exactly),
        cmocka_unit_test(test_font_coverage),
        cmocka_unit_test(test_font_metrics),
        cmocka_unit_test(test_font_clipping),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
