/* Fixtures shared by the DICOM tests: a minimal writer of explicit VR little
 * endian files from known source pixels, DCMTK's command-line tools
 * (dcmconv, dcmcjpeg, dcmcjpls, dcmcrle, dcmodify, img2dcm) to transcode them,
 * and the expected 8-bit pixels computed from the source pixels with the
 * formulas of DICOM PS3.3 C.11 (an implementation separate from
 * lib/image/dicom.c). */
#ifndef PN_DICOM_FIXTURES_H
#define PN_DICOM_FIXTURES_H

#include "testutil.h"

typedef struct dbuf {
    uint8_t *p;
    size_t n, cap;
} dbuf;

void put(dbuf *b, const void *d, size_t n);

void put16(dbuf *b, uint16_t v);

void put32(dbuf *b, uint32_t v);

int is_long_vr(const char *vr);

/* One explicit VR little endian element header. */
void el_head(dbuf *b, uint16_t g, uint16_t e, const char *vr, uint32_t len);

#define SOP_SC "1.2.840.10008.5.1.4.1.1.7"

typedef struct fixture {
    int rows, cols, spp, bits_allocated, bits_stored, pixel_rep, planar;
    const char *photometric;
    const void *pixels;
    size_t pixel_bytes;                    /* 0: rows*cols*spp*bits_allocated/8 */
    const char *center, *width, *function; /* DS/CS strings or NULL */
    const char *slope, *intercept;
    int lut_entries, lut_first, lut_bits;
    const uint16_t *lut;
    const char *frames;      /* Number of Frames, NULL: absent */
    const char *sop;         /* NULL: secondary capture */
    const char *ts;          /* NULL: explicit VR little endian */
    int no_pixels;           /* leave Pixel Data out (an SR) */
    const uint8_t *fragment; /* encapsulated Pixel Data: this one fragment */
    size_t fragment_len;
    int preamble; /* 0: 128 bytes + DICM, 1: DICM only, 2: neither */
} fixture;

/* The dataset part of `fx` (without pixel data) into `b`. */
void dataset_head(dbuf *b, const fixture *fx);

/* Whole Part 10 file for `fx` with dataset bytes `ds` into `out`. */
void part10(dbuf *out, const fixture *fx, const dbuf *ds);

void build(dbuf *out, const fixture *fx);

void write_file(const char *path, const void *d, size_t n);

char *write_fixture(const fixture *fx, const char *name);

int have_tools(void);

/* Run "tool args in out" and return out's path (malloc'ed). */
char *transcode(const char *tool, const char *args, const char *in, const char *name);

typedef struct render_ref {
    double slope, intercept;
    int window;
    double c, w;
    const char *function;
    int lut_entries, lut_first, lut_bits;
    const uint16_t *lut;
    int invert;
} render_ref;

void expected_mono(const int32_t *v, size_t n, const render_ref *r, uint8_t *out);

pneumo_image *load_ok(const char *path);

void assert_pixels(const pneumo_image *img, int w, int h, const uint8_t *want, int tolerance,
                   const char *what);

/* The test pictures' size. */
#define W 64
#define H 48

/* A 12-bit test picture: a ramp across the full range, with a disc and a
 * checker so that compression and windowing both have edges to act on. */
void picture12(uint16_t *px, int32_t *v);

void picture8(uint8_t *px, int32_t *v);

void check_transcoded(const char *tool, const char *args, const char *src, const char *name,
                      const uint8_t *want, int tolerance);


#endif
