/* Fixtures shared by the image tests: PNG and JPEG files generated with
 * libpng and libjpeg (nothing is committed), an independent PIL-style
 * reference for the luma conversion, and decode checks. */
#ifndef PN_IMAGE_FIXTURES_H
#define PN_IMAGE_FIXTURES_H

#include "testutil.h"

#include <stdio.h>

#include <jpeglib.h>
#include <png.h>

/* helpers                                                             */
typedef struct membuf {
    uint8_t *data;
    size_t size;
    size_t cap;
} membuf;

/* PIL's L (Convert.c L24), written out independently of the library. */
uint8_t ref_luma(int r, int g, int b);

/* raw: h rows of `rowbytes` bytes in PNG's own sample layout. */
membuf png_make(int w, int h, int color_type, int bit_depth, int interlace, const uint8_t *raw,
                size_t rowbytes, const png_color *pal, int npal, const uint8_t *trns, int ntrns);

struct test_jerr {
    struct jpeg_error_mgr pub;
    jmp_buf jump;
};

void test_jerr_exit(j_common_ptr cinfo);

void test_jerr_silent(j_common_ptr cinfo, int level);

/* pixels: w*h*comps samples in in_cs; jpeg_cs JCS_UNKNOWN = libjpeg default. */
membuf jpeg_make(int w, int h, int comps, J_COLOR_SPACE in_cs, J_COLOR_SPACE jpeg_cs, int progressive,
                 int quality, const uint8_t *pixels, const uint8_t *app1, size_t app1_len);

pneumo_image *decode_ok(const membuf *m, const char *what);

void expect_pixels(const pneumo_image *img, const uint8_t *expected, int w, int h, int tol, const char *what);

void quiet_begin(void);

void quiet_end(void);

/* JPEG variants                                                       */
enum { JW = 64, JH = 40 };

void make_smooth(uint8_t *px, int w, int h, int comps, uint64_t seed);

#endif
