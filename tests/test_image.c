/* Image decoding and resizing: every fixture is generated here with libpng and
 * libjpeg (nothing is committed), decoded with pneumo_image_*, and compared with
 * PIL's convert('L') / resize semantics computed independently in the test. */
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

/* ------------------------------------------------------------------ */
/* helpers                                                             */

typedef struct membuf {
    uint8_t *data;
    size_t size;
    size_t cap;
} membuf;

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
static uint8_t ref_luma(int r, int g, int b)
{
    return (uint8_t)((r * 19595 + g * 38470 + b * 7471 + 0x8000) >> 16);
}

/* PIL: CMYK JPEG samples are inverted ("CMYK;I"), then cmyk2rgb, then L. */
static uint8_t ref_cmyk_jpeg_luma(const uint8_t *s)
{
    int k = 255 - s[3];
    int nk = 255 - k;
    int rgb[3];
    for (int c = 0; c < 3; c++) {
        int ink = 255 - s[c];
        int t = ink * nk + 128;
        int v = nk - (((t >> 8) + t) >> 8);
        rgb[c] = v < 0 ? 0 : v > 255 ? 255 : v;
    }
    return ref_luma(rgb[0], rgb[1], rgb[2]);
}

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

/* Deterministic, smooth-ish test pattern value for (x, y, channel). */
static uint8_t pattern(int x, int y, int c, uint64_t *rng)
{
    int v = (x * 7 + y * 3 + c * 60) % 256;
    v += (int)(tu_next(rng) % 9) - 4;
    return (uint8_t)(v < 0 ? 0 : v > 255 ? 255 : v);
}

/* ---- PNG writer (into memory) ---- */

static void png_mem_write(png_structp png, png_bytep d, size_t n)
{
    mb_append((membuf *)png_get_io_ptr(png), d, n);
}

static void png_mem_flush(png_structp png) { (void)png; }

/* raw: h rows of `rowbytes` bytes in PNG's own sample layout. */
static membuf png_make(int w, int h, int color_type, int bit_depth, int interlace,
                       const uint8_t *raw, size_t rowbytes, const png_color *pal, int npal,
                       const uint8_t *trns, int ntrns)
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
                 interlace ? PNG_INTERLACE_ADAM7 : PNG_INTERLACE_NONE,
                 PNG_COMPRESSION_TYPE_DEFAULT, PNG_FILTER_TYPE_DEFAULT);
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

/* ---- JPEG writer / reference reader ---- */

struct test_jerr {
    struct jpeg_error_mgr pub;
    jmp_buf jump;
};

static void test_jerr_exit(j_common_ptr cinfo)
{
    longjmp(((struct test_jerr *)cinfo->err)->jump, 1);
}

static void test_jerr_silent(j_common_ptr cinfo, int level)
{
    (void)cinfo;
    (void)level;
}

/* pixels: w*h*comps samples in in_cs; jpeg_cs JCS_UNKNOWN = libjpeg default. */
static membuf jpeg_make(int w, int h, int comps, J_COLOR_SPACE in_cs, J_COLOR_SPACE jpeg_cs,
                        int progressive, int quality, const uint8_t *pixels,
                        const uint8_t *app1, size_t app1_len)
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

/* Decode with plain libjpeg (the reference) into out_cs samples. */
static uint8_t *jpeg_ref_decode(const membuf *m, J_COLOR_SPACE out_cs, int *w, int *h,
                                int *comps)
{
    struct jpeg_decompress_struct d;
    struct test_jerr err;
    uint8_t *volatile px = NULL;
    memset(&d, 0, sizeof d);
    d.err = jpeg_std_error(&err.pub);
    err.pub.error_exit = test_jerr_exit;
    err.pub.emit_message = test_jerr_silent;
    if (setjmp(err.jump))
        fail_msg("reference libjpeg decode failed");
    jpeg_create_decompress(&d);
    jpeg_mem_src(&d, m->data, (unsigned long)m->size);
    jpeg_read_header(&d, TRUE);
    d.out_color_space = out_cs;
    jpeg_start_decompress(&d);
    *w = (int)d.output_width;
    *h = (int)d.output_height;
    *comps = d.output_components;
    px = malloc((size_t)*w * (size_t)*h * (size_t)*comps);
    assert_non_null(px);
    while (d.output_scanline < d.output_height) {
        JSAMPROW row = (JSAMPROW)(px + (size_t)d.output_scanline * (size_t)*w * (size_t)*comps);
        jpeg_read_scanlines(&d, &row, 1);
    }
    jpeg_finish_decompress(&d);
    jpeg_destroy_decompress(&d);
    return px;
}

static pneumo_image *decode_ok(const membuf *m, const char *what)
{
    pneumo_image *img = NULL;
    pneumo_status st = pneumo_image_decode(m->data, m->size, what, NULL, &img);
    if (st != PNEUMO_OK)
        fail_msg("%s: decode failed: %s", what, pneumo_last_error());
    assert_non_null(img);
    return img;
}

static void expect_pixels(const pneumo_image *img, const uint8_t *expected, int w, int h,
                          int tol, const char *what)
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
            fail_msg("%s: pixel %zu (x=%zu, y=%zu) is %d, expected %d (tolerance %d)", what, i,
                     i % (size_t)w, i / (size_t)w, px[i], expected[i], tol);
    }
}

/* Run fn with stderr redirected to a file; assert nothing was written. */
static int stderr_saved = -1;
static char stderr_path[4200];

static void quiet_begin(void)
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

static void quiet_end(void)
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

/* ------------------------------------------------------------------ */
/* luma and basics                                                     */

static void test_luma_weights(void **state)
{
    (void)state;
    /* Hand-computed with Pillow's L24: (r*19595 + g*38470 + b*7471 + 0x8000) >> 16 */
    assert_int_equal(pn_luma(255, 0, 0), 76);   /* 76.245 */
    assert_int_equal(pn_luma(0, 255, 0), 150);  /* 149.685: rounds, unlike G*587/1000 */
    assert_int_equal(pn_luma(0, 0, 255), 29);   /* 29.07 */
    assert_int_equal(pn_luma(255, 255, 255), 255);
    assert_int_equal(pn_luma(0, 0, 0), 0);
    assert_int_equal(pn_luma(10, 200, 30), 124);  /* 123.81 */
    assert_int_equal(pn_luma(128, 128, 128), 128);
    for (int v = 0; v < 256; v++)
        assert_int_equal(pn_luma((unsigned)v, (unsigned)v, (unsigned)v), v);

    /* Same through an RGB PNG: R, G, B, white, black, mixed */
    {
        const uint8_t raw[] = {255, 0, 0, 0, 255, 0, 0, 0, 255, 255, 255, 255, 0, 0, 0, 10, 200, 30};
        const uint8_t want[] = {76, 150, 29, 255, 0, 124};
        membuf m = png_make(6, 1, PNG_COLOR_TYPE_RGB, 8, 0, raw, sizeof raw, NULL, 0, NULL, 0);
        pneumo_image *img = decode_ok(&m, "rgb-luma.png");
        expect_pixels(img, want, 6, 1, 0, "rgb luma");
        pneumo_image_destroy(img);
        free(m.data);
    }
}

static void test_image_object(void **state)
{
    pneumo_image *img = NULL;
    pneumo_decode_limits lim;
    (void)state;
    assert_int_equal(pneumo_image_create(3, 2, &img), PNEUMO_OK);
    assert_int_equal(pneumo_image_width(img), 3);
    assert_int_equal(pneumo_image_height(img), 2);
    for (int i = 0; i < 6; i++)
        assert_int_equal(pneumo_image_pixels(img)[i], 0);
    pneumo_image_pixels_mut(img)[5] = 9;
    assert_int_equal(pneumo_image_pixels(img)[5], 9);
    pneumo_image_destroy(img);
    pneumo_image_destroy(NULL);
    assert_int_equal(pneumo_image_width(NULL), 0);
    assert_null(pneumo_image_pixels(NULL));
    assert_int_equal(pneumo_image_create(0, 2, &img), PNEUMO_ERR_INVALID_ARG);
    assert_null(img);
    assert_int_equal(pneumo_image_create(65536, 65536, &img), PNEUMO_ERR_LIMIT);
    assert_int_equal(pneumo_image_create(1, 1, NULL), PNEUMO_ERR_INVALID_ARG);

    pneumo_decode_default_limits(&lim);
    assert_int_equal(lim.max_side, 16384);
    assert_true(lim.max_pixels == (int64_t)128 * 1024 * 1024);
    assert_true(lim.max_file_bytes == (int64_t)256 * 1024 * 1024);
    lim.reserved[3] = 1;
    {
        const uint8_t raw[] = {1, 2, 3, 4};
        membuf m = png_make(2, 2, PNG_COLOR_TYPE_GRAY, 8, 0, raw, 2, NULL, 0, NULL, 0);
        assert_int_equal(pneumo_image_decode(m.data, m.size, "x.png", &lim, &img),
                         PNEUMO_ERR_INVALID_ARG);
        pneumo_decode_default_limits(&lim);
        lim.max_side = 0;
        assert_int_equal(pneumo_image_decode(m.data, m.size, "x.png", &lim, &img),
                         PNEUMO_ERR_INVALID_ARG);
        assert_int_equal(pneumo_image_decode(m.data, m.size, "x.png", NULL, NULL),
                         PNEUMO_ERR_INVALID_ARG);
        free(m.data);
    }
}

/* ------------------------------------------------------------------ */
/* PNG variants                                                        */

static void test_png_gray8_rgb_rgba_ga(void **state)
{
    enum { W = 37, H = 23 };
    uint64_t rng = 1;
    uint8_t src[W * H * 4];
    uint8_t want[W * H];
    (void)state;
    for (int y = 0; y < H; y++)
        for (int x = 0; x < W; x++)
            for (int c = 0; c < 4; c++)
                src[(y * W + x) * 4 + c] = pattern(x, y, c, &rng);

    for (int ch = 1; ch <= 4; ch++) {
        static const int types[5] = {0, PNG_COLOR_TYPE_GRAY, PNG_COLOR_TYPE_GRAY_ALPHA,
                                     PNG_COLOR_TYPE_RGB, PNG_COLOR_TYPE_RGB_ALPHA};
        uint8_t raw[W * H * 4];
        for (int i = 0; i < W * H; i++) {
            const uint8_t *p = &src[i * 4];
            memcpy(&raw[i * ch], p, (size_t)ch);
            want[i] = ch <= 2 ? p[0] : ref_luma(p[0], p[1], p[2]);
        }
        for (int interlace = 0; interlace <= 1; interlace++) {
            char what[64];
            membuf m = png_make(W, H, types[ch], 8, interlace, raw, (size_t)W * ch, NULL, 0, NULL, 0);
            pneumo_image *img;
            snprintf(what, sizeof what, "png %d channels%s", ch, interlace ? " interlaced" : "");
            img = decode_ok(&m, what);
            expect_pixels(img, want, W, H, 0, what);
            pneumo_image_destroy(img);
            free(m.data);
        }
    }
}

static void test_png_palette(void **state)
{
    enum { W = 19, H = 11 };
    png_color pal[16];
    uint8_t trns[16];
    uint8_t raw8[W * H], raw4[H * ((W + 1) / 2)];
    uint8_t want[W * H];
    (void)state;
    for (int i = 0; i < 16; i++) {
        pal[i].red = (png_byte)(i * 17);
        pal[i].green = (png_byte)(255 - i * 13);
        pal[i].blue = (png_byte)((i * 101) % 256);
        trns[i] = (uint8_t)(i * 16); /* varying alpha: must be ignored */
    }
    memset(raw4, 0, sizeof raw4);
    for (int y = 0; y < H; y++)
        for (int x = 0; x < W; x++) {
            int idx = (x * 3 + y * 5) % 16;
            raw8[y * W + x] = (uint8_t)idx;
            raw4[y * ((W + 1) / 2) + x / 2] |= (uint8_t)(x % 2 ? idx : idx << 4);
            want[y * W + x] = ref_luma(pal[idx].red, pal[idx].green, pal[idx].blue);
        }
    for (int variant = 0; variant < 6; variant++) {
        int with_trns = variant & 1, depth4 = (variant >> 1) & 1, interlace = variant >> 2;
        char what[64];
        membuf m = png_make(W, H, PNG_COLOR_TYPE_PALETTE, depth4 ? 4 : 8, interlace,
                            depth4 ? raw4 : raw8, depth4 ? (W + 1) / 2 : W, pal, 16,
                            with_trns ? trns : NULL, with_trns ? 16 : 0);
        pneumo_image *img;
        snprintf(what, sizeof what, "palette %d-bit%s%s", depth4 ? 4 : 8,
                 with_trns ? " tRNS" : "", interlace ? " interlaced" : "");
        img = decode_ok(&m, what);
        expect_pixels(img, want, W, H, 0, what);
        pneumo_image_destroy(img);
        free(m.data);
    }
}

static void test_png_16bit_and_low_depth(void **state)
{
    enum { W = 13, H = 7 };
    uint8_t raw16g[W * H * 2], raw16rgb[W * H * 6], raw16rgba[W * H * 8];
    uint8_t want_g[W * H], want_rgb[W * H];
    uint64_t rng = 7;
    (void)state;
    for (int i = 0; i < W * H; i++) {
        uint16_t v[4];
        for (int c = 0; c < 4; c++)
            v[c] = (uint16_t)(tu_next(&rng) & 0xFFFF);
        v[0] = (uint16_t)(i == 0 ? 0x00FF : i == 1 ? 0xFF80 : v[0]); /* edge cases */
        raw16g[i * 2] = (uint8_t)(v[0] >> 8);
        raw16g[i * 2 + 1] = (uint8_t)v[0];
        want_g[i] = (uint8_t)(v[0] >> 8);
        for (int c = 0; c < 4; c++) {
            if (c < 3) {
                raw16rgb[i * 6 + c * 2] = (uint8_t)(v[c] >> 8);
                raw16rgb[i * 6 + c * 2 + 1] = (uint8_t)v[c];
            }
            raw16rgba[i * 8 + c * 2] = (uint8_t)(v[c] >> 8);
            raw16rgba[i * 8 + c * 2 + 1] = (uint8_t)v[c];
        }
        want_rgb[i] = ref_luma(v[0] >> 8, v[1] >> 8, v[2] >> 8);
    }
    {
        membuf m = png_make(W, H, PNG_COLOR_TYPE_GRAY, 16, 0, raw16g, W * 2, NULL, 0, NULL, 0);
        pneumo_image *img = decode_ok(&m, "gray16.png");
        expect_pixels(img, want_g, W, H, 0, "16-bit gray (high byte)");
        assert_int_equal(pneumo_image_pixels(img)[0], 0);
        assert_int_equal(pneumo_image_pixels(img)[1], 255);
        pneumo_image_destroy(img);
        free(m.data);
    }
    for (int interlace = 0; interlace <= 1; interlace++) {
        membuf m = png_make(W, H, PNG_COLOR_TYPE_RGB, 16, interlace, raw16rgb, W * 6, NULL, 0,
                            NULL, 0);
        membuf m2 = png_make(W, H, PNG_COLOR_TYPE_RGB_ALPHA, 16, interlace, raw16rgba, W * 8,
                             NULL, 0, NULL, 0);
        pneumo_image *img = decode_ok(&m, "rgb16.png");
        pneumo_image *img2 = decode_ok(&m2, "rgba16.png");
        expect_pixels(img, want_rgb, W, H, 0, "16-bit RGB");
        expect_pixels(img2, want_rgb, W, H, 0, "16-bit RGBA");
        pneumo_image_destroy(img);
        pneumo_image_destroy(img2);
        free(m.data);
        free(m2.data);
    }
    /* 1, 2, 4-bit gray: values scale by bit replication (PIL "1", "L;2", "L;4") */
    {
        static const int depths[3] = {1, 2, 4};
        for (int d = 0; d < 3; d++) {
            int bits = depths[d], maxv = (1 << bits) - 1;
            size_t rowbytes = ((size_t)W * (size_t)bits + 7) / 8;
            uint8_t raw[H * 8];
            uint8_t want[W * H];
            memset(raw, 0, sizeof raw);
            for (int y = 0; y < H; y++)
                for (int x = 0; x < W; x++) {
                    int v = (x + y) % (maxv + 1);
                    int bitpos = x * bits;
                    raw[(size_t)y * rowbytes + (size_t)(bitpos / 8)] |=
                        (uint8_t)(v << (8 - bits - bitpos % 8));
                    want[y * W + x] = (uint8_t)(v * 255 / maxv);
                }
            for (int interlace = 0; interlace <= 1; interlace++) {
                membuf m = png_make(W, H, PNG_COLOR_TYPE_GRAY, bits, interlace, raw, rowbytes,
                                    NULL, 0, NULL, 0);
                pneumo_image *img = decode_ok(&m, "lowbit.png");
                expect_pixels(img, want, W, H, 0, "low bit depth gray");
                pneumo_image_destroy(img);
                free(m.data);
            }
        }
    }
}

/* ------------------------------------------------------------------ */
/* JPEG variants                                                       */

enum { JW = 64, JH = 40 };

static void make_smooth(uint8_t *px, int w, int h, int comps, uint64_t seed)
{
    uint64_t rng = seed;
    for (int y = 0; y < h; y++)
        for (int x = 0; x < w; x++)
            for (int c = 0; c < comps; c++) {
                int v = 40 + (x * 150) / w + (y * 50) / h + c * 10 + (int)(tu_next(&rng) % 3);
                px[((size_t)y * w + x) * comps + c] = (uint8_t)(v > 255 ? 255 : v);
            }
}

/* Number of components in the JPEG's frame header. */
static int jpeg_components(const membuf *m)
{
    struct jpeg_decompress_struct d;
    struct test_jerr err;
    int n;
    memset(&d, 0, sizeof d);
    d.err = jpeg_std_error(&err.pub);
    err.pub.error_exit = test_jerr_exit;
    err.pub.emit_message = test_jerr_silent;
    if (setjmp(err.jump))
        fail_msg("probe failed");
    jpeg_create_decompress(&d);
    jpeg_mem_src(&d, m->data, (unsigned long)m->size);
    jpeg_read_header(&d, TRUE);
    n = d.num_components;
    jpeg_destroy_decompress(&d);
    return n;
}

/* Our gray output must equal PIL's path computed from a plain libjpeg decode:
 * 1 component as is, 3 -> RGB -> L24, 4 -> CMYK -> inverted -> cmyk2rgb -> L24. */
static void check_jpeg_against_reference(const membuf *m, const char *what)
{
    int w, h, comps, n = jpeg_components(m);
    pneumo_image *img = decode_ok(m, what);
    uint8_t *want = malloc((size_t)JW * JH), *ref;
    assert_non_null(want);
    if (n == 1) {
        ref = jpeg_ref_decode(m, JCS_GRAYSCALE, &w, &h, &comps);
        memcpy(want, ref, (size_t)JW * JH);
    } else if (n == 3) {
        ref = jpeg_ref_decode(m, JCS_RGB, &w, &h, &comps);
        for (int i = 0; i < JW * JH; i++)
            want[i] = ref_luma(ref[i * 3], ref[i * 3 + 1], ref[i * 3 + 2]);
    } else {
        assert_int_equal(n, 4);
        ref = jpeg_ref_decode(m, JCS_CMYK, &w, &h, &comps);
        for (int i = 0; i < JW * JH; i++)
            want[i] = ref_cmyk_jpeg_luma(&ref[i * 4]);
    }
    assert_int_equal(w, JW);
    assert_int_equal(h, JH);
    expect_pixels(img, want, w, h, 0, what);
    free(ref);
    free(want);
    pneumo_image_destroy(img);
}

static void test_jpeg_gray_baseline(void **state)
{
    uint8_t px[JW * JH];
    pneumo_image *img;
    (void)state;
    make_smooth(px, JW, JH, 1, 3);
    {
        membuf m = jpeg_make(JW, JH, 1, JCS_GRAYSCALE, JCS_UNKNOWN, 0, 100, px, NULL, 0);
        check_jpeg_against_reference(&m, "gray baseline");
        img = decode_ok(&m, "gray q100");
        expect_pixels(img, px, JW, JH, 3, "gray q100 vs source");
        pneumo_image_destroy(img);
        free(m.data);
    }
}

static void test_jpeg_ycbcr_and_progressive(void **state)
{
    uint8_t px[JW * JH * 3];
    uint8_t src_l[JW * JH];
    (void)state;
    make_smooth(px, JW, JH, 3, 5);
    for (int i = 0; i < JW * JH; i++)
        src_l[i] = ref_luma(px[i * 3], px[i * 3 + 1], px[i * 3 + 2]);
    for (int prog = 0; prog <= 1; prog++) {
        membuf m = jpeg_make(JW, JH, 3, JCS_RGB, JCS_UNKNOWN, prog, 95, px, NULL, 0);
        pneumo_image *img;
        check_jpeg_against_reference(&m, prog ? "ycbcr progressive" : "ycbcr baseline");
        img = decode_ok(&m, "ycbcr");
        expect_pixels(img, src_l, JW, JH, 6, "ycbcr vs source luma");
        pneumo_image_destroy(img);
        free(m.data);
    }
    /* RGB-coded (Adobe transform 0) JPEG */
    {
        membuf m = jpeg_make(JW, JH, 3, JCS_RGB, JCS_RGB, 0, 95, px, NULL, 0);
        check_jpeg_against_reference(&m, "rgb-coded jpeg");
        free(m.data);
    }
    /* progressive gray */
    {
        uint8_t g[JW * JH];
        membuf m;
        make_smooth(g, JW, JH, 1, 9);
        m = jpeg_make(JW, JH, 1, JCS_GRAYSCALE, JCS_UNKNOWN, 1, 90, g, NULL, 0);
        check_jpeg_against_reference(&m, "gray progressive");
        free(m.data);
    }
}

static void test_jpeg_cmyk_ycck(void **state)
{
    uint8_t px[JW * JH * 4];
    (void)state;
    make_smooth(px, JW, JH, 4, 11);
    {
        membuf m = jpeg_make(JW, JH, 4, JCS_CMYK, JCS_CMYK, 0, 95, px, NULL, 0);
        check_jpeg_against_reference(&m, "cmyk");
        free(m.data);
    }
    {
        membuf m = jpeg_make(JW, JH, 4, JCS_CMYK, JCS_YCCK, 0, 95, px, NULL, 0);
        check_jpeg_against_reference(&m, "ycck");
        free(m.data);
    }
    /* hand-checked corner: stored (0,0,0,255) -> PIL CMYK (255,255,255,0)
     * -> RGB (0,0,0); stored (255,255,255,255) -> CMYK 0 -> white. */
    {
        uint8_t s1[4] = {0, 0, 0, 255}, s2[4] = {255, 255, 255, 255}, s3[4] = {255, 255, 255, 0};
        assert_int_equal(ref_cmyk_jpeg_luma(s1), 0);
        assert_int_equal(ref_cmyk_jpeg_luma(s2), 255);
        assert_int_equal(ref_cmyk_jpeg_luma(s3), 0);
    }
}

static void test_jpeg_exif_not_rotated(void **state)
{
    /* "Exif\0\0" + big-endian TIFF, one IFD entry: Orientation (0x0112) = 6 */
    static const uint8_t exif[] = {'E', 'x', 'i', 'f', 0, 0, 'M', 'M', 0, 42, 0, 0, 0, 8,
                                   0, 1, 0x01, 0x12, 0, 3, 0, 0, 0, 1, 0, 6, 0, 0,
                                   0, 0, 0, 0};
    uint8_t px[JW * JH * 3];
    membuf plain, rotated;
    pneumo_image *a, *b;
    (void)state;
    make_smooth(px, JW, JH, 3, 13);
    plain = jpeg_make(JW, JH, 3, JCS_RGB, JCS_UNKNOWN, 0, 90, px, NULL, 0);
    rotated = jpeg_make(JW, JH, 3, JCS_RGB, JCS_UNKNOWN, 0, 90, px, exif, sizeof exif);
    assert_true(rotated.size > plain.size);
    a = decode_ok(&plain, "plain.jpg");
    b = decode_ok(&rotated, "exif6.jpg");
    assert_int_equal(pneumo_image_width(b), JW); /* not swapped */
    assert_int_equal(pneumo_image_height(b), JH);
    expect_pixels(b, pneumo_image_pixels(a), JW, JH, 0, "EXIF orientation ignored");
    pneumo_image_destroy(a);
    pneumo_image_destroy(b);
    free(plain.data);
    free(rotated.data);
}

/* ------------------------------------------------------------------ */
/* resize                                                              */

static pneumo_image *image_from(const uint8_t *px, int w, int h)
{
    pneumo_image *img = NULL;
    assert_int_equal(pneumo_image_create(w, h, &img), PNEUMO_OK);
    memcpy(pneumo_image_pixels_mut(img), px, (size_t)w * h);
    return img;
}

static void resize_expect(const uint8_t *src, int sw, int sh, int dw, int dh,
                          pneumo_resample mode, const uint8_t *want, const char *what)
{
    pneumo_image *in = image_from(src, sw, sh), *out = NULL;
    assert_int_equal(pneumo_image_resize(in, dw, dh, mode, &out), PNEUMO_OK);
    expect_pixels(out, want, dw, dh, 0, what);
    pneumo_image_destroy(in);
    pneumo_image_destroy(out);
}

static void test_resize_nearest(void **state)
{
    (void)state;
    {   /* 3 -> 5: centres 0.3 0.9 1.5 2.1 2.7 */
        const uint8_t s[3] = {10, 20, 30}, w[5] = {10, 10, 20, 30, 30};
        resize_expect(s, 3, 1, 5, 1, PNEUMO_RESAMPLE_NEAREST, w, "nearest 3->5");
    }
    {   /* 5 -> 2: centres 1.25 3.75 */
        const uint8_t s[5] = {1, 2, 3, 4, 5}, w[2] = {2, 4};
        resize_expect(s, 5, 1, 2, 1, PNEUMO_RESAMPLE_NEAREST, w, "nearest 5->2");
    }
    {   /* 3 -> 7 (PIL: 0 0 1 1 1 2 2), vertical too */
        const uint8_t s[3] = {1, 2, 3}, w[7] = {1, 1, 2, 2, 2, 3, 3};
        resize_expect(s, 3, 1, 7, 1, PNEUMO_RESAMPLE_NEAREST, w, "nearest 3->7");
        resize_expect(s, 1, 3, 1, 7, PNEUMO_RESAMPLE_NEAREST, w, "nearest 3->7 vertical");
    }
    {   /* 2x2 -> 4x4 block replication */
        const uint8_t s[4] = {1, 2, 3, 4};
        const uint8_t w[16] = {1, 1, 2, 2, 1, 1, 2, 2, 3, 3, 4, 4, 3, 3, 4, 4};
        resize_expect(s, 2, 2, 4, 4, PNEUMO_RESAMPLE_NEAREST, w, "nearest 2x2->4x4");
    }
    /* 224 -> 500 and 2000 -> 500 index tables (source row = index) */
    {
        static uint8_t s[2000];
        uint8_t out[500];
        for (int i = 0; i < 224; i++)
            s[i] = (uint8_t)i;
        assert_int_equal(pn_resize_gray(s, 224, 1, out, 500, 1, PNEUMO_RESAMPLE_NEAREST),
                         PNEUMO_OK);
        assert_int_equal(out[0], 0);
        assert_int_equal(out[499], 223);
        /* exact (x+0.5)*224/500 is an integer at x = 187 and 312 (84, 140); Pillow's
         * accumulated double step lands just below and picks 83 and 139 */
        assert_int_equal(out[187], 83);
        assert_int_equal(out[312], 139);
        for (int x = 0; x < 500; x++) {
            long exact = ((2L * x + 1) * 224) / 1000;
            if (x != 187 && x != 312)
                assert_int_equal(out[x], exact);
        }
        for (int i = 0; i < 2000; i++)
            s[i] = (uint8_t)(i / 8);
        assert_int_equal(pn_resize_gray(s, 2000, 1, out, 500, 1, PNEUMO_RESAMPLE_NEAREST),
                         PNEUMO_OK);
        for (int x = 0; x < 500; x++) /* source index 4x + 2 */
            assert_int_equal(out[x], (4 * x + 2) / 8);
    }
    /* same size: copy */
    {
        const uint8_t s[6] = {1, 2, 3, 4, 5, 6};
        resize_expect(s, 3, 2, 3, 2, PNEUMO_RESAMPLE_NEAREST, s, "nearest identity");
        resize_expect(s, 3, 2, 3, 2, PNEUMO_RESAMPLE_BILINEAR, s, "bilinear identity");
    }
}

/* Bilinear reference in plain double (Pillow's filter, no fixed point). */
static void ref_bilinear_1d(const double *in, int n, double *out, int m)
{
    double scale = (double)n / m, fs = scale < 1.0 ? 1.0 : scale, support = fs;
    for (int i = 0; i < m; i++) {
        double center = (i + 0.5) * scale, sum = 0, ww = 0;
        int lo = (int)(center - support + 0.5), hi = (int)(center + support + 0.5);
        if (lo < 0)
            lo = 0;
        if (hi > n)
            hi = n;
        for (int x = lo; x < hi; x++) {
            double t = fabs((x - center + 0.5) / fs);
            double wgt = t < 1.0 ? 1.0 - t : 0.0;
            sum += wgt * in[x];
            ww += wgt;
        }
        out[i] = sum / ww;
    }
}

static void test_resize_bilinear(void **state)
{
    (void)state;
    {   /* upsample 2 -> 4: weights (1), (.75,.25), (.25,.75), (1) */
        const uint8_t s[2] = {0, 255}, w[4] = {0, 64, 191, 255};
        resize_expect(s, 2, 1, 4, 1, PNEUMO_RESAMPLE_BILINEAR, w, "bilinear 2->4");
        resize_expect(s, 1, 2, 1, 4, PNEUMO_RESAMPLE_BILINEAR, w, "bilinear 2->4 vertical");
    }
    {   /* downsample 4 -> 2 with support 2: weights 3/7 3/7 1/7 -> 71.4, 209.3 */
        const uint8_t s[4] = {0, 100, 200, 255}, w[2] = {71, 209};
        resize_expect(s, 4, 1, 2, 1, PNEUMO_RESAMPLE_BILINEAR, w, "bilinear 4->2");
    }
    {   /* 2x2 -> 4x4 separable: rows of [0,64,191,255]-like interpolation */
        const uint8_t s[4] = {0, 200, 100, 40};
        uint8_t w[16];
        const double wy[4][2] = {{1, 0}, {.75, .25}, {.25, .75}, {0, 1}};
        for (int y = 0; y < 4; y++)
            for (int x = 0; x < 4; x++) {
                /* horizontal pass is rounded to 8 bits first, like Pillow */
                double r0 = s[0] * wy[x][0] + s[1] * wy[x][1];
                double r1 = s[2] * wy[x][0] + s[3] * wy[x][1];
                int h0 = (int)(r0 + 0.5), h1 = (int)(r1 + 0.5);
                w[y * 4 + x] = (uint8_t)(int)(h0 * wy[y][0] + h1 * wy[y][1] + 0.5);
            }
        resize_expect(s, 2, 2, 4, 4, PNEUMO_RESAMPLE_BILINEAR, w, "bilinear 2x2->4x4");
    }
    /* larger random cases against a double reference: within 1 (fixed point) */
    {
        static const int sizes[][4] = {{50, 30, 17, 11}, {17, 11, 50, 30}, {100, 1, 33, 1},
                                       {33, 20, 500, 7}, {640, 480, 500, 500}};
        uint64_t rng = 99;
        for (size_t t = 0; t < sizeof sizes / sizeof sizes[0]; t++) {
            int sw = sizes[t][0], sh = sizes[t][1], dw = sizes[t][2], dh = sizes[t][3];
            uint8_t *s = malloc((size_t)sw * sh), *o = malloc((size_t)dw * dh);
            double *row = malloc(sizeof(double) * (size_t)(sw > sh ? sw : sh));
            double *tmp = malloc(sizeof(double) * (size_t)dw * sh);
            double *col = malloc(sizeof(double) * (size_t)sh), *colo = malloc(sizeof(double) * (size_t)dh);
            assert_true(s && o && row && tmp && col && colo);
            for (int i = 0; i < sw * sh; i++)
                s[i] = (uint8_t)(tu_next(&rng) & 255);
            assert_int_equal(pn_resize_gray(s, sw, sh, o, dw, dh, PNEUMO_RESAMPLE_BILINEAR),
                             PNEUMO_OK);
            for (int y = 0; y < sh; y++) {
                for (int x = 0; x < sw; x++)
                    row[x] = s[y * sw + x];
                if (dw != sw) {
                    ref_bilinear_1d(row, sw, tmp + (size_t)y * dw, dw);
                    for (int x = 0; x < dw; x++) /* Pillow stores the pass in 8 bits */
                        tmp[(size_t)y * dw + x] = (int)(tmp[(size_t)y * dw + x] + 0.5);
                } else {
                    memcpy(tmp + (size_t)y * dw, row, sizeof(double) * (size_t)sw);
                }
            }
            for (int x = 0; x < dw; x++) {
                for (int y = 0; y < sh; y++)
                    col[y] = tmp[(size_t)y * dw + x];
                if (dh != sh)
                    ref_bilinear_1d(col, sh, colo, dh);
                else
                    memcpy(colo, col, sizeof(double) * (size_t)sh);
                for (int y = 0; y < dh; y++) {
                    int want = (int)(colo[y] + 0.5);
                    int got = o[(size_t)y * dw + x];
                    if (abs(got - want) > 1)
                        fail_msg("bilinear %dx%d->%dx%d at (%d,%d): %d vs reference %d", sw, sh,
                                 dw, dh, x, y, got, want);
                }
            }
            free(s);
            free(o);
            free(row);
            free(tmp);
            free(col);
            free(colo);
        }
    }
    /* argument checks */
    {
        pneumo_image *in = NULL, *out = NULL;
        assert_int_equal(pneumo_image_create(4, 4, &in), PNEUMO_OK);
        assert_int_equal(pneumo_image_resize(in, 0, 4, PNEUMO_RESAMPLE_NEAREST, &out),
                         PNEUMO_ERR_INVALID_ARG);
        assert_int_equal(pneumo_image_resize(in, 4, 4, (pneumo_resample)7, &out),
                         PNEUMO_ERR_INVALID_ARG);
        assert_int_equal(pneumo_image_resize(NULL, 4, 4, PNEUMO_RESAMPLE_NEAREST, &out),
                         PNEUMO_ERR_INVALID_ARG);
        assert_null(out);
        pneumo_image_destroy(in);
    }
}

/* ------------------------------------------------------------------ */
/* rejections                                                          */

static void expect_fail(const void *data, size_t size, pneumo_status want, const char *label)
{
    pneumo_image *img = (pneumo_image *)(uintptr_t)1;
    pneumo_status st = pneumo_image_decode(data, size, label, NULL, &img);
    if (st != want)
        fail_msg("%s: status %d (%s), expected %d; message: %s", label, st, pneumo_strerror(st),
                 want, pneumo_last_error());
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
    char p_png_as_jpg[4200], p_empty[4200], p_text[4200], p_sub[4200], p_fifo[4200],
        p_missing[4200], p_big[4200], dirbuf[4096];
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
        assert_int_equal(pn_image_load_resized(p_png_as_jpg, 60, 10, PNEUMO_RESAMPLE_NEAREST,
                                               NULL, dst, &sw, &sh),
                         PNEUMO_OK);
        assert_int_equal(sw, 30);
        assert_int_equal(sh, 20);
        assert_int_equal(pn_resize_gray(px, 30, 20, want, 60, 10, PNEUMO_RESAMPLE_NEAREST),
                         PNEUMO_OK);
        assert_memory_equal(dst, want, sizeof dst);
        assert_int_equal(pn_image_load_resized(p_text, 60, 10, PNEUMO_RESAMPLE_NEAREST, NULL,
                                               dst, NULL, NULL),
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
                if (pn_image_load_resized(path, 500, 500, PNEUMO_RESAMPLE_NEAREST, NULL, dst, &sw,
                                          &sh) != PNEUMO_OK)
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
           "%.3f s (%.1f images/s)\n", count, t_decode, 1000.0 * t_decode / count, t_resized,
           count / t_resized);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_luma_weights),
        cmocka_unit_test(test_image_object),
        cmocka_unit_test(test_png_gray8_rgb_rgba_ga),
        cmocka_unit_test(test_png_palette),
        cmocka_unit_test(test_png_16bit_and_low_depth),
        cmocka_unit_test(test_jpeg_gray_baseline),
        cmocka_unit_test(test_jpeg_ycbcr_and_progressive),
        cmocka_unit_test(test_jpeg_cmyk_ycck),
        cmocka_unit_test(test_jpeg_exif_not_rotated),
        cmocka_unit_test(test_resize_nearest),
        cmocka_unit_test(test_resize_bilinear),
        cmocka_unit_test(test_truncated_and_corrupt),
        cmocka_unit_test(test_hostile_dimensions),
        cmocka_unit_test(test_files),
        cmocka_unit_test(test_real_originals),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
