/* Fixtures shared by the image tests (image_fixtures.h). */
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

static void mb_append(membuf *m, const void *p, size_t n)
{
    if (m->size + n > m->cap) {
        size_t cap = m->cap ? m->cap * 2 : 4096;
        while (cap < m->size + n)
            cap *= 2;
        m->data = realloc(m->data, cap);
        assert_non_null(m->data);
        m->cap = cap;
    }
    memcpy(m->data + m->size, p, n);
    m->size += n;
}

/* PIL's L (Convert.c L24), written out independently of the library. */
uint8_t ref_luma(int r, int g, int b) { return (uint8_t)((r * 19595 + g * 38470 + b * 7471 + 0x8000) >> 16); }

/* ---- PNG writer (into memory) ---- */

static void png_mem_write(png_structp png, png_bytep d, size_t n)
{
    mb_append((membuf *)png_get_io_ptr(png), d, n);
}

static void png_mem_flush(png_structp png) { (void)png; }

/* raw: h rows of `rowbytes` bytes in PNG's own sample layout. */
membuf png_make(int w, int h, int color_type, int bit_depth, int interlace, const uint8_t *raw,
                size_t rowbytes, const png_color *pal, int npal, const uint8_t *trns, int ntrns)
{
    membuf m = {0};
    png_structp png = png_create_write_struct(PNG_LIBPNG_VER_STRING, NULL, NULL, NULL);
    png_infop info;
    assert_non_null(png);
    info = png_create_info_struct(png);
    assert_non_null(info);
    if (setjmp(png_jmpbuf(png)))
        fail_msg("libpng write failed");
    png_set_write_fn(png, &m, png_mem_write, png_mem_flush);
    png_set_IHDR(png, info, (png_uint_32)w, (png_uint_32)h, bit_depth, color_type,
                 interlace ? PNG_INTERLACE_ADAM7 : PNG_INTERLACE_NONE, PNG_COMPRESSION_TYPE_DEFAULT,
                 PNG_FILTER_TYPE_DEFAULT);
    if (pal)
        png_set_PLTE(png, info, pal, npal);
    if (trns)
        png_set_tRNS(png, info, trns, ntrns, NULL);
    png_write_info(png, info);
    {
        png_bytep *rows = malloc((size_t)h * sizeof *rows);
        assert_non_null(rows);
        for (int y = 0; y < h; y++)
            rows[y] = (png_bytep)(raw + (size_t)y * rowbytes);
        png_write_image(png, rows);
        free(rows);
    }
    png_write_end(png, NULL);
    png_destroy_write_struct(&png, &info);
    return m;
}

void test_jerr_exit(j_common_ptr cinfo) { longjmp(((struct test_jerr *)cinfo->err)->jump, 1); }

void test_jerr_silent(j_common_ptr cinfo, int level)
{
    (void)cinfo;
    (void)level;
}

/* pixels: w*h*comps samples in in_cs; jpeg_cs JCS_UNKNOWN = libjpeg default. */
membuf jpeg_make(int w, int h, int comps, J_COLOR_SPACE in_cs, J_COLOR_SPACE jpeg_cs, int progressive,
                 int quality, const uint8_t *pixels, const uint8_t *app1, size_t app1_len)
{
    struct jpeg_compress_struct c;
    struct test_jerr err;
    unsigned char *out = NULL;
    unsigned long out_size = 0;
    membuf m = {0};

    memset(&c, 0, sizeof c);
    c.err = jpeg_std_error(&err.pub);
    err.pub.error_exit = test_jerr_exit;
    err.pub.emit_message = test_jerr_silent;
    if (setjmp(err.jump))
        fail_msg("libjpeg write failed");
    jpeg_create_compress(&c);
    jpeg_mem_dest(&c, &out, &out_size);
    c.image_width = (JDIMENSION)w;
    c.image_height = (JDIMENSION)h;
    c.input_components = comps;
    c.in_color_space = in_cs;
    jpeg_set_defaults(&c);
    if (jpeg_cs != JCS_UNKNOWN)
        jpeg_set_colorspace(&c, jpeg_cs);
    jpeg_set_quality(&c, quality, TRUE);
    if (progressive)
        jpeg_simple_progression(&c);
    jpeg_start_compress(&c, TRUE);
    if (app1)
        jpeg_write_marker(&c, JPEG_APP0 + 1, app1, (unsigned)app1_len);
    while (c.next_scanline < c.image_height) {
        JSAMPROW row = (JSAMPROW)(pixels + (size_t)c.next_scanline * (size_t)w * (size_t)comps);
        jpeg_write_scanlines(&c, &row, 1);
    }
    jpeg_finish_compress(&c);
    jpeg_destroy_compress(&c);
    mb_append(&m, out, out_size);
    free(out);
    return m;
}

pneumo_image *decode_ok(const membuf *m, const char *what)
{
    pneumo_image *img = NULL;
    pneumo_status st = pneumo_image_decode(m->data, m->size, what, NULL, &img);
    if (st != PNEUMO_OK)
        fail_msg("%s: decode failed: %s", what, pneumo_last_error());
    assert_non_null(img);
    return img;
}

void expect_pixels(const pneumo_image *img, const uint8_t *expected, int w, int h, int tol, const char *what)
{
    const uint8_t *px = pneumo_image_pixels(img);
    int worst = 0;
    assert_int_equal(pneumo_image_width(img), w);
    assert_int_equal(pneumo_image_height(img), h);
    for (size_t i = 0; i < (size_t)w * (size_t)h; i++) {
        int d = abs((int)px[i] - (int)expected[i]);
        if (d > worst)
            worst = d;
        if (d > tol)
            fail_msg("%s: pixel %zu (x=%zu, y=%zu) is %d, expected %d (tolerance %d)", what, i, i % (size_t)w,
                     i / (size_t)w, px[i], expected[i], tol);
    }
}

/* Run fn with stderr redirected to a file; assert nothing was written. */
static int stderr_saved = -1;
static char stderr_path[4200];

void quiet_begin(void)
{
    const char *dir = tu_tmpdir();
    int fd;
    assert_non_null(dir);
    snprintf(stderr_path, sizeof stderr_path, "%s/stderr.txt", dir);
    fflush(stderr);
    stderr_saved = dup(2);
    fd = open(stderr_path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    assert_true(fd >= 0);
    dup2(fd, 2);
    close(fd);
}

void quiet_end(void)
{
    struct stat st;
    char dir[4200];
    fflush(stderr);
    dup2(stderr_saved, 2);
    close(stderr_saved);
    assert_int_equal(stat(stderr_path, &st), 0);
    unlink(stderr_path);
    snprintf(dir, sizeof dir, "%s", stderr_path);
    *strrchr(dir, '/') = '\0';
    rmdir(dir);
    if (st.st_size != 0)
        fail_msg("the library wrote %lld bytes to stderr", (long long)st.st_size);
}

void make_smooth(uint8_t *px, int w, int h, int comps, uint64_t seed)
{
    uint64_t rng = seed;
    for (int y = 0; y < h; y++)
        for (int x = 0; x < w; x++)
            for (int c = 0; c < comps; c++) {
                int v = 40 + (x * 150) / w + (y * 50) / h + c * 10 + (int)(tu_next(&rng) % 3);
                px[((size_t)y * w + x) * comps + c] = (uint8_t)(v > 255 ? 255 : v);
            }
}
