/* DICOM input. Fixtures are made at run time: a small writer below
 * produces explicit VR little endian files from known source pixels, DCMTK's
 * command-line tools (dcmconv, dcmcjpeg, dcmcjpls, dcmcrle, dcmodify, img2dcm)
 * transcode them, and the expected 8-bit pixels are computed here from the
 * source pixels with the formulas of DICOM PS3.3 C.11 (an implementation
 * separate from lib/image/dicom.c). X-rays of ../shared/data are read in place.
 * A build without DICOM support checks the UNSUPPORTED answer only. */
#include "testutil.h"

#include "pneumo/dataset.h"
#include "pneumo/image.h"
#include "pneumo/model.h"
#include "pneumo/train.h"

#include <dirent.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

/* ---- a minimal DICOM writer ---- */

typedef struct dbuf {
    uint8_t *p;
    size_t n, cap;
} dbuf;

static void put(dbuf *b, const void *d, size_t n)
{
    if (b->n + n > b->cap) {
        size_t cap = (b->n + n) * 2 + 256;
        uint8_t *p = realloc(b->p, cap);
        assert_non_null(p);
        b->p = p;
        b->cap = cap;
    }
    memcpy(b->p + b->n, d, n);
    b->n += n;
}

static void put16(dbuf *b, uint16_t v)
{
    uint8_t x[2] = {(uint8_t)v, (uint8_t)(v >> 8)};
    put(b, x, 2);
}

static void put32(dbuf *b, uint32_t v)
{
    uint8_t x[4] = {(uint8_t)v, (uint8_t)(v >> 8), (uint8_t)(v >> 16), (uint8_t)(v >> 24)};
    put(b, x, 4);
}

static int is_long_vr(const char *vr)
{
    return strstr("OB OW SQ UN UT", vr) != NULL;
}

/* One explicit VR little endian element header. */
static void el_head(dbuf *b, uint16_t g, uint16_t e, const char *vr, uint32_t len)
{
    put16(b, g);
    put16(b, e);
    put(b, vr, 2);
    if (is_long_vr(vr)) {
        put16(b, 0);
        put32(b, len);
    } else {
        put16(b, (uint16_t)len);
    }
}

static void el_bytes(dbuf *b, uint16_t g, uint16_t e, const char *vr, const void *d, size_t n)
{
    el_head(b, g, e, vr, (uint32_t)(n + (n & 1)));
    put(b, d, n);
    if (n & 1)
        put(b, strcmp(vr, "UI") == 0 || strcmp(vr, "OB") == 0 ? "\0" : " ", 1);
}

static void el_str(dbuf *b, uint16_t g, uint16_t e, const char *vr, const char *s)
{
    el_bytes(b, g, e, vr, s, strlen(s));
}

static void el_us(dbuf *b, uint16_t g, uint16_t e, uint16_t v)
{
    el_head(b, g, e, "US", 2);
    put16(b, v);
}

#define SOP_SC "1.2.840.10008.5.1.4.1.1.7"
#define SOP_SR "1.2.840.10008.5.1.4.1.1.88.11"
#define TS_ELE "1.2.840.10008.1.2.1"

typedef struct fixture {
    int rows, cols, spp, bits_allocated, bits_stored, pixel_rep, planar;
    const char *photometric;
    const void *pixels;
    size_t pixel_bytes;  /* 0: rows*cols*spp*bits_allocated/8 */
    const char *center, *width, *function; /* DS/CS strings or NULL */
    const char *slope, *intercept;
    int lut_entries, lut_first, lut_bits;
    const uint16_t *lut;
    const char *frames;  /* Number of Frames, NULL: absent */
    const char *sop;     /* NULL: secondary capture */
    const char *ts;      /* NULL: explicit VR little endian */
    int no_pixels;       /* leave Pixel Data out (an SR) */
    const uint8_t *fragment; /* encapsulated Pixel Data: this one fragment */
    size_t fragment_len;
    int preamble;        /* 0: 128 bytes + DICM, 1: DICM only, 2: neither */
} fixture;

/* The dataset part of `fx` (without pixel data) into `b`. */
static void dataset_head(dbuf *b, const fixture *fx)
{
    el_str(b, 0x0008, 0x0016, "UI", fx->sop ? fx->sop : SOP_SC);
    el_str(b, 0x0008, 0x0018, "UI", "1.2.826.0.1.3680043.2.1143.1");
    el_str(b, 0x0008, 0x0060, "CS", "OT");
    el_str(b, 0x0010, 0x0010, "PN", "DOE^JANE");
    el_str(b, 0x0010, 0x0020, "LO", "PATIENT-ID-4711");
    if (fx->no_pixels)
        return;
    el_us(b, 0x0028, 0x0002, (uint16_t)fx->spp);
    el_str(b, 0x0028, 0x0004, "CS", fx->photometric);
    if (fx->spp == 3)
        el_us(b, 0x0028, 0x0006, (uint16_t)fx->planar);
    if (fx->frames)
        el_str(b, 0x0028, 0x0008, "IS", fx->frames);
    el_us(b, 0x0028, 0x0010, (uint16_t)fx->rows);
    el_us(b, 0x0028, 0x0011, (uint16_t)fx->cols);
    el_us(b, 0x0028, 0x0100, (uint16_t)fx->bits_allocated);
    el_us(b, 0x0028, 0x0101, (uint16_t)fx->bits_stored);
    el_us(b, 0x0028, 0x0102, (uint16_t)(fx->bits_stored - 1));
    el_us(b, 0x0028, 0x0103, (uint16_t)fx->pixel_rep);
    if (fx->center)
        el_str(b, 0x0028, 0x1050, "DS", fx->center);
    if (fx->width)
        el_str(b, 0x0028, 0x1051, "DS", fx->width);
    if (fx->intercept)
        el_str(b, 0x0028, 0x1052, "DS", fx->intercept);
    if (fx->slope)
        el_str(b, 0x0028, 0x1053, "DS", fx->slope);
    if (fx->function)
        el_str(b, 0x0028, 0x1056, "CS", fx->function);
    if (fx->lut_entries) {
        dbuf item = {0};
        el_head(&item, 0x0028, 0x3002, "US", 6);
        put16(&item, (uint16_t)(fx->lut_entries == 65536 ? 0 : fx->lut_entries));
        put16(&item, (uint16_t)fx->lut_first);
        put16(&item, (uint16_t)fx->lut_bits);
        el_head(&item, 0x0028, 0x3006, "OW", (uint32_t)fx->lut_entries * 2);
        for (int i = 0; i < fx->lut_entries; i++)
            put16(&item, fx->lut[i]);
        el_head(b, 0x0028, 0x3010, "SQ", (uint32_t)item.n + 8);
        put16(b, 0xFFFE);
        put16(b, 0xE000);
        put32(b, (uint32_t)item.n);
        put(b, item.p, item.n);
        free(item.p);
    }
}

static size_t fixture_pixel_bytes(const fixture *fx)
{
    return fx->pixel_bytes ? fx->pixel_bytes
                           : (size_t)fx->rows * fx->cols * fx->spp * (fx->bits_allocated / 8);
}

/* Whole Part 10 file for `fx` with dataset bytes `ds` into `out`. */
static void part10(dbuf *out, const fixture *fx, const dbuf *ds)
{
    dbuf meta = {0};
    static const uint8_t version[2] = {0, 1};
    el_bytes(&meta, 0x0002, 0x0001, "OB", version, 2);
    el_str(&meta, 0x0002, 0x0002, "UI", fx->sop ? fx->sop : SOP_SC);
    el_str(&meta, 0x0002, 0x0003, "UI", "1.2.826.0.1.3680043.2.1143.1");
    el_str(&meta, 0x0002, 0x0010, "UI", fx->ts ? fx->ts : TS_ELE);
    el_str(&meta, 0x0002, 0x0012, "UI", "1.2.826.0.1.3680043.2.1143.2");
    if (fx->preamble == 0) {
        uint8_t pre[128] = {0};
        put(out, pre, sizeof pre);
    }
    if (fx->preamble <= 1)
        put(out, "DICM", 4);
    el_head(out, 0x0002, 0x0000, "UL", 4);
    put32(out, (uint32_t)meta.n);
    put(out, meta.p, meta.n);
    put(out, ds->p, ds->n);
    free(meta.p);
}

static void build(dbuf *out, const fixture *fx)
{
    dbuf ds = {0};
    dataset_head(&ds, fx);
    if (fx->fragment) {
        el_head(&ds, 0x7FE0, 0x0010, "OB", 0xFFFFFFFFu);
        put16(&ds, 0xFFFE); /* empty basic offset table */
        put16(&ds, 0xE000);
        put32(&ds, 0);
        put16(&ds, 0xFFFE);
        put16(&ds, 0xE000);
        put32(&ds, (uint32_t)fx->fragment_len);
        put(&ds, fx->fragment, fx->fragment_len);
        put16(&ds, 0xFFFE);
        put16(&ds, 0xE0DD);
        put32(&ds, 0);
    } else if (!fx->no_pixels) {
        size_t n = fixture_pixel_bytes(fx);
        el_head(&ds, 0x7FE0, 0x0010, fx->bits_allocated == 8 ? "OB" : "OW",
                (uint32_t)(n + (n & 1)));
        put(&ds, fx->pixels, n);
        if (n & 1)
            put(&ds, "\0", 1);
    }
    part10(out, fx, &ds);
    free(ds.p);
}

#ifdef PNEUMO_HAVE_DICOM

static void write_file(const char *path, const void *d, size_t n)
{
    FILE *f = fopen(path, "wb");
    assert_non_null(f);
    assert_int_equal(fwrite(d, 1, n, f), n);
    assert_int_equal(fclose(f), 0);
}

static char *write_fixture(const fixture *fx, const char *name)
{
    dbuf b = {0};
    char *path = tu_join(tu_tmpdir(), name);
    build(&b, fx);
    write_file(path, b.p, b.n);
    free(b.p);
    return path;
}

/* ---- DCMTK tools ---- */

static int have_tools(void)
{
    static int have = -1;
    if (have < 0) {
        have = system("command -v dcmconv >/dev/null 2>&1 && command -v dcmcjpeg >/dev/null "
                      "2>&1 && command -v dcmcjpls >/dev/null 2>&1 && command -v dcmcrle "
                      ">/dev/null 2>&1 && command -v dcmodify >/dev/null 2>&1 && command -v "
                      "img2dcm >/dev/null 2>&1") == 0;
        if (!have)
            printf("skipped: DCMTK command-line tools (Debian package dcmtk) are not "
                   "installed; the transcoding tests need dcmconv, dcmcjpeg, dcmcjpls, "
                   "dcmcrle, dcmodify and img2dcm\n");
    }
    return have;
}

/* Run "tool args in out" and return out's path (malloc'ed). */
static char *transcode(const char *tool, const char *args, const char *in, const char *name)
{
    char cmd[2048];
    char *out = tu_join(tu_tmpdir(), name);
    snprintf(cmd, sizeof cmd, "%s %s '%s' '%s' >/dev/null 2>&1", tool, args, in, out);
    if (system(cmd) != 0)
        fail_msg("command failed: %s", cmd);
    return out;
}

/* ---- expected rendering (PS3.3 C.11.1 / C.11.2) ---- */

typedef struct render_ref {
    double slope, intercept;
    int window;
    double c, w;
    const char *function;
    int lut_entries, lut_first, lut_bits;
    const uint16_t *lut;
    int invert;
} render_ref;

static uint8_t to8(double y)
{
    if (y <= 0)
        return 0;
    if (y >= 255)
        return 255;
    return (uint8_t)floor(y + 0.5);
}

static void expected_mono(const int32_t *v, size_t n, const render_ref *r, uint8_t *out)
{
    double lo = INFINITY, hi = -INFINITY;
    for (size_t i = 0; i < n; i++) {
        double m = v[i] * r->slope + r->intercept;
        lo = m < lo ? m : lo;
        hi = m > hi ? m : hi;
    }
    for (size_t i = 0; i < n; i++) {
        double x = v[i] * r->slope + r->intercept, y;
        if (r->window && r->function && strcmp(r->function, "SIGMOID") == 0) {
            y = 255.0 / (1.0 + exp(-4.0 * (x - r->c) / r->w));
        } else if (r->window && r->function && strcmp(r->function, "LINEAR_EXACT") == 0) {
            y = ((x - r->c) / r->w + 0.5) * 255.0;
        } else if (r->window) {
            double c = r->c - 0.5, w = r->w - 1.0;
            y = x <= c - w / 2 ? 0.0 : x > c + w / 2 ? 255.0 : ((x - c) / w + 0.5) * 255.0;
        } else if (r->lut_entries) {
            long k = lround(x) - r->lut_first;
            k = k < 0 ? 0 : k >= r->lut_entries ? r->lut_entries - 1 : k;
            y = r->lut[k] * 255.0 / ((1 << r->lut_bits) - 1);
        } else {
            y = hi > lo ? (x - lo) * 255.0 / (hi - lo) : 0.0;
        }
        out[i] = r->invert ? (uint8_t)(255 - to8(y)) : to8(y);
    }
}

/* Pillow's luma (what a colour JPEG becomes). */
static uint8_t luma(int r, int g, int b)
{
    return (uint8_t)((r * 19595 + g * 38470 + b * 7471 + 0x8000) >> 16);
}

static int clampi(double v) { return v < 0 ? 0 : v > 255 ? 255 : (int)floor(v + 0.5); }

/* YCbCr (full range, JFIF / PS3.3 C.7.6.3.1.2) to luma in floating point. */
static uint8_t ycc_luma_ref(int y, int cb, int cr)
{
    return luma(clampi(y + 1.402 * (cr - 128)),
                clampi(y - 0.344136 * (cb - 128) - 0.714136 * (cr - 128)),
                clampi(y + 1.772 * (cb - 128)));
}

/* ---- helpers ---- */

static pneumo_image *load_ok(const char *path)
{
    pneumo_image *img = NULL;
    pneumo_status st = pneumo_image_load(path, NULL, &img);
    if (st != PNEUMO_OK)
        fail_msg("%s: %s", path, pneumo_last_error());
    return img;
}

/* Loading `path` fails with `status` and a message holding `needle` and no
 * patient-identifying value of the fixtures. */
static void load_fails(const char *path, const pneumo_decode_limits *lim,
                       pneumo_status status, const char *needle)
{
    pneumo_image *img = (pneumo_image *)(uintptr_t)1;
    pneumo_status st = pneumo_image_load(path, lim, &img);
    const char *msg = pneumo_last_error();
    if (st != status || !strstr(msg, needle))
        fail_msg("%s: status %d (want %d), message \"%s\" (want \"%s\")", path, (int)st,
                 (int)status, msg, needle);
    assert_null(img);
    assert_null(strstr(msg, "DOE"));
    assert_null(strstr(msg, "4711"));
}

static void decode_fails(const dbuf *b, pneumo_status status, const char *needle)
{
    pneumo_image *img = NULL;
    pneumo_status st = pneumo_image_decode(b->p, b->n, "fixture.dcm", NULL, &img);
    const char *msg = pneumo_last_error();
    if (st != status || !strstr(msg, needle))
        fail_msg("status %d (want %d), message \"%s\" (want \"%s\")", (int)st, (int)status,
                 msg, needle);
    assert_null(img);
}

static int max_diff(const uint8_t *a, const uint8_t *b, size_t n)
{
    int d = 0;
    for (size_t i = 0; i < n; i++) {
        int e = abs((int)a[i] - (int)b[i]);
        d = e > d ? e : d;
    }
    return d;
}

static void assert_pixels(const pneumo_image *img, int w, int h, const uint8_t *want,
                          int tolerance, const char *what)
{
    int d;
    assert_int_equal(pneumo_image_width(img), w);
    assert_int_equal(pneumo_image_height(img), h);
    d = max_diff(pneumo_image_pixels(img), want, (size_t)w * h);
    if (d > tolerance)
        fail_msg("%s: rendered pixels differ from the expected ones by up to %d (tolerance %d)",
                 what, d, tolerance);
}

/* A 12-bit test picture: a ramp across the full range, with a disc and a
 * checker so that compression and windowing both have edges to act on. */
#define W 64
#define H 48

static void picture12(uint16_t *px, int32_t *v)
{
    for (int y = 0; y < H; y++)
        for (int x = 0; x < W; x++) {
            int s = (x * 4095) / (W - 1);
            if ((x - 40) * (x - 40) + (y - 20) * (y - 20) < 100)
                s = 3000 + ((x + y) & 7) * 100;
            if (x < 8 && y < 8)
                s = ((x ^ y) & 1) ? 4095 : 0;
            px[y * W + x] = (uint16_t)s;
            v[y * W + x] = s;
        }
}

static void picture8(uint8_t *px, int32_t *v)
{
    for (int y = 0; y < H; y++)
        for (int x = 0; x < W; x++) {
            int s = 20 + (x * 200) / (W - 1) + ((x / 8 + y / 8) & 1) * 20;
            px[y * W + x] = (uint8_t)s;
            v[y * W + x] = s;
        }
}

/* ---- detection and the 8-bit path ---- */

static void test_preamble_variants(void **state)
{
    (void)state;
    uint8_t px[W * H];
    int32_t v[W * H];
    uint8_t want[W * H];
    render_ref r = {.slope = 1};
    picture8(px, v);
    expected_mono(v, W * H, &r, want); /* no window, no LUT: min/max of the pixel data */
    assert_int_equal(want[0], 0);      /* the fallback stretches 20..240 to 0..255 */
    for (int pre = 0; pre <= 2; pre++) {
        fixture fx = {.rows = H, .cols = W, .spp = 1, .bits_allocated = 8, .bits_stored = 8,
                      .photometric = "MONOCHROME2", .pixels = px, .preamble = pre};
        dbuf b = {0};
        pneumo_image *img = NULL;
        char name[32];
        snprintf(name, sizeof name, "pre%d.dcm", pre);
        char *path = write_fixture(&fx, name);
        img = load_ok(path);
        assert_pixels(img, W, H, want, 0, name);
        pneumo_image_destroy(img);
        build(&b, &fx);
        assert_int_equal(pneumo_image_decode(b.p, b.n, NULL, NULL, &img), PNEUMO_OK);
        assert_pixels(img, W, H, want, 0, name);
        pneumo_image_destroy(img);
        free(b.p);
        free(path);
    }
}

/* ---- rendering of 16-bit data ---- */

static void check_mono16(const char *name, const char *photometric, int pixel_rep,
                         const char *slope, const char *intercept, const char *center,
                         const char *width, const char *function)
{
    uint16_t px[W * H];
    int32_t v[W * H];
    uint8_t want[W * H];
    render_ref r = {.slope = slope ? atof(slope) : 1, .intercept = intercept ? atof(intercept) : 0,
                    .window = center != NULL, .c = center ? atof(center) : 0,
                    .w = width ? atof(width) : 0, .function = function,
                    .invert = strcmp(photometric, "MONOCHROME1") == 0};
    picture12(px, v);
    if (pixel_rep) /* signed 12-bit: shift the ramp to -2048..2047, stored in 12 bits */
        for (int i = 0; i < W * H; i++) {
            v[i] -= 2048;
            px[i] = (uint16_t)(v[i] & 0x0FFF);
        }
    fixture fx = {.rows = H, .cols = W, .spp = 1, .bits_allocated = 16, .bits_stored = 12,
                  .pixel_rep = pixel_rep, .photometric = photometric, .pixels = px,
                  .slope = slope, .intercept = intercept, .center = center, .width = width,
                  .function = function};
    char *path = write_fixture(&fx, name);
    pneumo_image *img = load_ok(path);
    expected_mono(v, W * H, &r, want);
    assert_pixels(img, W, H, want, 0, name);
    pneumo_image_destroy(img);
    free(path);
}

static void test_render16(void **state)
{
    (void)state;
    check_mono16("m2_window.dcm", "MONOCHROME2", 0, NULL, NULL, "2048", "1000", NULL);
    check_mono16("m1_window.dcm", "MONOCHROME1", 0, NULL, NULL, "2048", "1000", NULL);
    check_mono16("m2_minmax.dcm", "MONOCHROME2", 0, NULL, NULL, NULL, NULL, NULL);
    check_mono16("m1_minmax.dcm", "MONOCHROME1", 0, NULL, NULL, NULL, NULL, NULL);
    check_mono16("rescale.dcm", "MONOCHROME2", 0, "0.5", "-1024", "0", "1500", NULL);
    check_mono16("neg_slope.dcm", "MONOCHROME2", 0, "-1", "100", NULL, NULL, NULL);
    check_mono16("signed.dcm", "MONOCHROME2", 1, "1", "0", "-100", "2000", NULL);
    check_mono16("exact.dcm", "MONOCHROME2", 0, NULL, NULL, "1500", "3000", "LINEAR_EXACT");
    check_mono16("sigmoid.dcm", "MONOCHROME1", 0, NULL, NULL, "2000", "1200", "SIGMOID");
}

/* Window centre 2048, width 1000: stored 2048 maps to 128 (hand-computed:
 * ((2048 - 2047.5) / 999 + 0.5) * 255 = 127.63 -> 128), 1548 and below to 0,
 * 2548 and above to 255; MONOCHROME1 gives 255 - that. */
static void test_window_hand_values(void **state)
{
    (void)state;
    uint16_t px[4] = {2048, 1548, 2548, 1000};
    const uint8_t m2[4] = {128, 0, 255, 0}, m1[4] = {127, 255, 0, 255};
    for (int inv = 0; inv < 2; inv++) {
        fixture fx = {.rows = 1, .cols = 4, .spp = 1, .bits_allocated = 16, .bits_stored = 12,
                      .photometric = inv ? "MONOCHROME1" : "MONOCHROME2", .pixels = px,
                      .center = "2048", .width = "1000"};
        char *path = write_fixture(&fx, "hand.dcm");
        pneumo_image *img = load_ok(path);
        assert_memory_equal(pneumo_image_pixels(img), inv ? m1 : m2, 4);
        pneumo_image_destroy(img);
        free(path);
    }
}

/* ---- transfer syntaxes through DCMTK's tools ---- */

static void check_transcoded(const char *tool, const char *args, const char *src,
                             const char *name, const uint8_t *want, int tolerance)
{
    char *path = transcode(tool, args, src, name);
    pneumo_image *img = load_ok(path);
    assert_pixels(img, W, H, want, tolerance, name);
    pneumo_image_destroy(img);
    free(path);
}

static void test_voi_lut(void **state)
{
    (void)state;
    uint16_t px[W * H], lut[3000];
    int32_t v[W * H];
    uint8_t want[W * H];
    picture12(px, v);
    for (int i = 0; i < 3000; i++) /* a gamma-like curve over stored 500..3499 */
        lut[i] = (uint16_t)(65535.0 * sqrt(i / 2999.0));
    fixture fx = {.rows = H, .cols = W, .spp = 1, .bits_allocated = 16, .bits_stored = 12,
                  .photometric = "MONOCHROME2", .pixels = px, .lut_entries = 3000,
                  .lut_first = 500, .lut_bits = 16, .lut = lut};
    render_ref r = {.slope = 1, .lut_entries = 3000, .lut_first = 500, .lut_bits = 16,
                    .lut = lut};
    char *path = write_fixture(&fx, "voilut.dcm");
    pneumo_image *img = load_ok(path);
    expected_mono(v, W * H, &r, want);
    assert_pixels(img, W, H, want, 0, "VOI LUT");
    pneumo_image_destroy(img);
    if (have_tools()) { /* the LUT in implicit VR (US or OW by dictionary) and big endian */
        check_transcoded("dcmconv", "+ti", path, "voilut_implicit.dcm", want, 0);
        check_transcoded("dcmconv", "+tb", path, "voilut_big.dcm", want, 0);
    }
    free(path);
}

static void test_transfer_syntaxes16(void **state)
{
    (void)state;
    if (!have_tools())
        skip();
    uint16_t px[W * H];
    int32_t v[W * H];
    uint8_t want[W * H], want1[W * H];
    render_ref r = {.slope = 1, .window = 1, .c = 2048, .w = 1000};
    picture12(px, v);
    expected_mono(v, W * H, &r, want);
    r.invert = 1;
    expected_mono(v, W * H, &r, want1);
    fixture fx = {.rows = H, .cols = W, .spp = 1, .bits_allocated = 16, .bits_stored = 12,
                  .photometric = "MONOCHROME2", .pixels = px, .center = "2048",
                  .width = "1000"};
    char *src = write_fixture(&fx, "src16.dcm");
    check_transcoded("dcmconv", "+ti", src, "implicit.dcm", want, 0);
    check_transcoded("dcmconv", "+tb", src, "big.dcm", want, 0);
    check_transcoded("dcmconv", "+td", src, "deflate.dcm", want, 0);
    check_transcoded("dcmcjpeg", "+e1", src, "jpeg_sv1.dcm", want, 0);
    check_transcoded("dcmcjpeg", "+el", src, "jpeg_lossless.dcm", want, 0);
    check_transcoded("dcmcjpls", "+el", src, "jls.dcm", want, 0);
    check_transcoded("dcmcrle", "", src, "rle.dcm", want, 0);
    /* Lossy: 12-bit extended JPEG at quality 90 and JPEG-LS NEAR 2 (stored
     * units) stay within a few gray levels after the window of width 1000. */
    check_transcoded("dcmcjpeg", "+ee +q 90", src, "jpeg_ext.dcm", want, 24);
    check_transcoded("dcmcjpls", "+en", src, "jls_near.dcm", want, 1);
    /* Signed 12-bit samples (Pixel Representation 1) through the lossless codecs. */
    {
        uint16_t spx[W * H];
        int32_t sv[W * H];
        uint8_t swant[W * H];
        render_ref sr = {.slope = 1, .window = 1, .c = 0, .w = 3000};
        for (int i = 0; i < W * H; i++) {
            sv[i] = v[i] - 2048;
            spx[i] = (uint16_t)(sv[i] & 0x0FFF);
        }
        expected_mono(sv, W * H, &sr, swant);
        fixture sfx = fx;
        sfx.pixels = spx;
        sfx.pixel_rep = 1;
        sfx.center = "0";
        sfx.width = "3000";
        char *ssrc = write_fixture(&sfx, "src16s.dcm");
        check_transcoded("dcmcrle", "", ssrc, "rle_signed.dcm", swant, 0);
        check_transcoded("dcmcjpeg", "+e1", ssrc, "jpeg_signed.dcm", swant, 0);
        check_transcoded("dcmcjpls", "+el", ssrc, "jls_signed.dcm", swant, 0);
        free(ssrc);
    }
    fx.photometric = "MONOCHROME1";
    char *src1 = write_fixture(&fx, "src16m1.dcm");
    check_transcoded("dcmcjpls", "+el", src1, "jls_m1.dcm", want1, 0);
    check_transcoded("dcmcjpeg", "+e1", src1, "jpeg_m1.dcm", want1, 0);
    free(src);
    free(src1);
}

static void test_transfer_syntaxes8(void **state)
{
    (void)state;
    if (!have_tools())
        skip();
    uint8_t px[W * H];
    int32_t v[W * H];
    uint8_t want[W * H];
    render_ref r = {.slope = 1, .window = 1, .c = 128, .w = 256}; /* the identity */
    picture8(px, v);
    expected_mono(v, W * H, &r, want);
    for (int i = 0; i < W * H; i++)
        assert_int_equal(want[i], px[i]);
    fixture fx = {.rows = H, .cols = W, .spp = 1, .bits_allocated = 8, .bits_stored = 8,
                  .photometric = "MONOCHROME2", .pixels = px, .center = "128",
                  .width = "256"};
    char *src = write_fixture(&fx, "src8.dcm");
    check_transcoded("dcmconv", "+ti", src, "implicit8.dcm", want, 0);
    check_transcoded("dcmconv", "+tb", src, "big8.dcm", want, 0);
    check_transcoded("dcmconv", "+td", src, "deflate8.dcm", want, 0);
    check_transcoded("dcmcjpeg", "+e1", src, "sv1_8.dcm", want, 0);
    check_transcoded("dcmcjpls", "+el", src, "jls8.dcm", want, 0);
    check_transcoded("dcmcrle", "", src, "rle8.dcm", want, 0);
    /* Baseline JPEG at quality 95: lossy, a few levels on this picture. */
    check_transcoded("dcmcjpeg", "+eb +q 95", src, "baseline8.dcm", want, 6);
    free(src);
}

/* ---- colour ---- */

static void colour_picture(uint8_t *rgb)
{
    for (int y = 0; y < H; y++)
        for (int x = 0; x < W; x++) {
            uint8_t *p = rgb + 3 * (y * W + x);
            p[0] = (uint8_t)(x * 4);
            p[1] = (uint8_t)(y * 5);
            p[2] = (uint8_t)(((x / 4 + y / 4) & 1) ? 200 : 30);
        }
}

static void test_colour_native(void **state)
{
    (void)state;
    uint8_t rgb[W * H * 3], planar[W * H * 3], ybr[W * H * 3], ybr422[W * H * 2];
    uint8_t want[W * H], want_ybr[W * H], want_422[W * H];
    colour_picture(rgb);
    for (int i = 0; i < W * H; i++) {
        want[i] = luma(rgb[3 * i], rgb[3 * i + 1], rgb[3 * i + 2]);
        for (int c = 0; c < 3; c++)
            planar[c * W * H + i] = rgb[3 * i + c];
        /* Any Y, Cb, Cr triple: reuse the RGB bytes as YCbCr samples. */
        ybr[3 * i] = rgb[3 * i];
        ybr[3 * i + 1] = rgb[3 * i + 1];
        ybr[3 * i + 2] = rgb[3 * i + 2];
        want_ybr[i] = ycc_luma_ref(rgb[3 * i], rgb[3 * i + 1], rgb[3 * i + 2]);
    }
    for (int i = 0; i < W * H; i += 2) {
        ybr422[2 * i] = rgb[3 * i];
        ybr422[2 * i + 1] = rgb[3 * i + 3];
        ybr422[2 * i + 2] = rgb[3 * i + 1];
        ybr422[2 * i + 3] = rgb[3 * i + 2];
        want_422[i] = ycc_luma_ref(rgb[3 * i], rgb[3 * i + 1], rgb[3 * i + 2]);
        want_422[i + 1] = ycc_luma_ref(rgb[3 * i + 3], rgb[3 * i + 1], rgb[3 * i + 2]);
    }
    struct {
        const char *photometric;
        int planar;
        const void *px;
        size_t bytes;
        const uint8_t *want;
        int tol;
    } cases[] = {
        {"RGB", 0, rgb, 0, want, 0},
        {"RGB", 1, planar, 0, want, 0},
        {"YBR_FULL", 0, ybr, 0, want_ybr, 1},
        {"YBR_FULL_422", 0, ybr422, sizeof ybr422, want_422, 1},
    };
    for (size_t k = 0; k < sizeof cases / sizeof cases[0]; k++) {
        fixture fx = {.rows = H, .cols = W, .spp = 3, .bits_allocated = 8, .bits_stored = 8,
                      .planar = cases[k].planar, .photometric = cases[k].photometric,
                      .pixels = cases[k].px, .pixel_bytes = cases[k].bytes};
        char *path = write_fixture(&fx, "colour.dcm");
        pneumo_image *img = load_ok(path);
        assert_pixels(img, W, H, cases[k].want, cases[k].tol, cases[k].photometric);
        pneumo_image_destroy(img);
        free(path);
    }
}

/* The JPEG inside an encapsulated DICOM file (one fragment after an empty
 * offset table), as a malloc'ed copy. */
static uint8_t *read_all(const char *path, size_t *n)
{
    FILE *f = fopen(path, "rb");
    uint8_t *p;
    long len;
    assert_non_null(f);
    assert_int_equal(fseek(f, 0, SEEK_END), 0);
    len = ftell(f);
    assert_true(len > 0);
    rewind(f);
    p = malloc((size_t)len);
    assert_non_null(p);
    assert_int_equal(fread(p, 1, (size_t)len, f), (size_t)len);
    fclose(f);
    *n = (size_t)len;
    return p;
}

static uint8_t *embedded_jpeg(const char *path, size_t *len)
{
    size_t n;
    uint8_t *d = read_all(path, &n), *j;
    for (size_t i = 8; i + 3 < n; i++)
        if (d[i] == 0xFF && d[i + 1] == 0xD8 && d[i + 2] == 0xFF && d[i - 8] == 0xFE &&
            d[i - 7] == 0xFF && d[i - 6] == 0x00 && d[i - 5] == 0xE0) {
            size_t l = (size_t)d[i - 4] | (size_t)d[i - 3] << 8 | (size_t)d[i - 2] << 16 |
                       (size_t)d[i - 1] << 24;
            assert_true(i + l <= n);
            j = malloc(l);
            assert_non_null(j);
            memcpy(j, d + i, l);
            free(d);
            *len = l;
            return j;
        }
    fail_msg("%s: no JPEG fragment found", path);
    return NULL;
}

/* A colour JPEG and its DICOM wrapping give the same pixels. */
static void test_colour_jpeg(void **state)
{
    (void)state;
    if (!have_tools())
        skip();
    uint8_t rgb[W * H * 3];
    colour_picture(rgb);
    fixture fx = {.rows = H, .cols = W, .spp = 3, .bits_allocated = 8, .bits_stored = 8,
                  .photometric = "RGB", .pixels = rgb};
    char *src = write_fixture(&fx, "rgb.dcm");
    char *jp = transcode("dcmcjpeg", "+eb +q 90", src, "rgb_jpeg.dcm");
    size_t jlen = 0;
    uint8_t *jpeg = embedded_jpeg(jp, &jlen);
    pneumo_image *ref = NULL, *img = load_ok(jp);
    assert_int_equal(pneumo_image_decode(jpeg, jlen, "embedded.jpeg", NULL, &ref), PNEUMO_OK);
    assert_pixels(img, W, H, pneumo_image_pixels(ref), 0, "colour JPEG in DICOM");
    pneumo_image_destroy(ref);
    pneumo_image_destroy(img);
    free(jpeg);
    free(jp);
    free(src);
}

/* ---- the same X-ray as JPEG and as DICOM ---- */

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Components of a JPEG file (from its first SOF0..SOF2 marker), or 0. */
static int jpeg_components(const char *path)
{
    size_t n;
    uint8_t *d = read_all(path, &n);
    int c = 0;
    for (size_t i = 2; !c && i + 9 < n; i++)
        if (d[i] == 0xFF && d[i + 1] >= 0xC0 && d[i + 1] <= 0xC2)
            c = d[i + 9];
    free(d);
    return c;
}

/* The first .jpeg of data/sub in name order with `components` components, or
 * NULL. */
static char *pick_jpeg(const char *data, const char *sub, int components)
{
    char *dir = tu_join(data, sub), *names[4096], *path = NULL;
    DIR *d = opendir(dir);
    struct dirent *e;
    size_t n = 0;
    if (!d) {
        free(dir);
        return NULL;
    }
    while (n < 4096 && (e = readdir(d)))
        if (strstr(e->d_name, ".jpeg"))
            names[n++] = tu_join(dir, e->d_name);
    closedir(d);
    free(dir);
    qsort(names, n, sizeof names[0], cmp_str);
    for (size_t i = 0; i < n; i++) {
        if (!path && jpeg_components(names[i]) == components) {
            path = names[i];
            names[i] = NULL;
        }
        free(names[i]);
    }
    return path;
}

/* img2dcm wraps the JPEG unchanged (JPEG baseline transfer syntax): a gray one
 * as MONOCHROME2 without a window, a colour one as YBR_FULL_422. */
static void xray_case(const char *jpeg, int gray, const char *tag)
{
    char name[64], cmd[2048];
    snprintf(name, sizeof name, "%s.dcm", tag);
    char *dcm = transcode("img2dcm", "", jpeg, name);
    snprintf(name, sizeof name, "%s_win.dcm", tag);
    char *win = tu_join(tu_tmpdir(), name);
    snprintf(cmd, sizeof cmd, "cp '%s' '%s' && dcmodify -nb -i '(0028,1050)=128' -i "
             "'(0028,1051)=256' '%s' >/dev/null 2>&1", dcm, win, win);
    assert_int_equal(system(cmd), 0);

    pneumo_image *j = load_ok(jpeg), *d = load_ok(dcm), *dw = load_ok(win);
    int w = pneumo_image_width(j), h = pneumo_image_height(j);
    size_t n = (size_t)w * h;
    /* Colour: luma of the same decoded RGB. Gray with the identity window
     * (centre 128, width 256): the JPEG's samples. */
    assert_pixels(dw, w, h, pneumo_image_pixels(j), 0, tag);
    if (gray) { /* without a window: the min/max stretch of the same samples */
        int32_t *v = malloc(n * sizeof *v);
        uint8_t *want = malloc(n);
        render_ref r = {.slope = 1};
        assert_non_null(v);
        assert_non_null(want);
        for (size_t i = 0; i < n; i++)
            v[i] = pneumo_image_pixels(j)[i];
        expected_mono(v, n, &r, want);
        assert_pixels(d, w, h, want, 0, tag);
        free(v);
        free(want);
    } else {
        assert_pixels(d, w, h, pneumo_image_pixels(j), 0, tag);
    }

    /* The article's CNN at 96x96 with a fixed seed (untrained): the identity
     * window gives the JPEG's prediction exactly; without a window the min/max
     * stretch may move it (the shared X-rays span 0..255, where the stretch is
     * the identity too): at most 0.01 is accepted. */
    pneumo_model *m = NULL;
    float pj, pd, pw;
    assert_int_equal(pneumo_model_create_article(96, 1234, &m), PNEUMO_OK);
    assert_int_equal(pneumo_model_predict_file(m, jpeg, &pj), PNEUMO_OK);
    assert_int_equal(pneumo_model_predict_file(m, dcm, &pd), PNEUMO_OK);
    assert_int_equal(pneumo_model_predict_file(m, win, &pw), PNEUMO_OK);
    printf("%s (%s): P(JPEG) %.6f, P(DICOM) %.6f, P(DICOM, identity window) %.6f\n", tag,
           jpeg, (double)pj, (double)pd, (double)pw);
    assert_true(pw == pj);
    assert_true(fabsf(pd - pj) <= 0.01f);
    pneumo_model_destroy(m);
    pneumo_image_destroy(j);
    pneumo_image_destroy(d);
    pneumo_image_destroy(dw);
    free(win);
    free(dcm);
}

static void test_xray_jpeg_vs_dicom(void **state)
{
    (void)state;
    const char *data = tu_shared_data();
    if (!data)
        skip();
    if (!have_tools())
        skip();
    /* A gray (1-component) X-ray and a colour (3-component) one. */
    char *gray = pick_jpeg(data, "originals/Opacity", 1);
    char *colour = pick_jpeg(data, "chest_xray_224/test_dev/Opacity", 3);
    if (!gray || !colour) {
        printf("skipped: no gray .jpeg in %s/originals/Opacity or no colour .jpeg in "
               "chest_xray_224/test_dev/Opacity\n", data);
        free(gray);
        free(colour);
        skip();
    }
    xray_case(gray, 1, "xray_gray");
    xray_case(colour, 0, "xray_colour");
    free(gray);
    free(colour);
}

/* ---- datasets read .dcm files ---- */

static void test_dataset_dir(void **state)
{
    (void)state;
    uint8_t px[W * H];
    int32_t v[W * H];
    char *root = tu_join(tu_tmpdir(), "ds");
    const char *cls[2] = {"Normal", "Opacity"};
    picture8(px, v);
    assert_int_equal(mkdir(root, 0700), 0);
    for (int c = 0; c < 2; c++) {
        char *dir = tu_join(root, cls[c]);
        assert_int_equal(mkdir(dir, 0700), 0);
        for (int k = 0; k < 2; k++) {
            fixture fx = {.rows = H, .cols = W, .spp = 1, .bits_allocated = 8,
                          .bits_stored = 8, .photometric = "MONOCHROME2", .pixels = px};
            dbuf b = {0};
            char name[16];
            snprintf(name, sizeof name, "%d.dcm", k);
            char *path = tu_join(dir, name);
            build(&b, &fx);
            write_file(path, b.p, b.n);
            free(b.p);
            free(path);
        }
        free(dir);
    }
    pneumo_dataset *ds = NULL;
    pneumo_dataset_options o;
    pneumo_dataset_default_options(&o);
    o.strict = 1;
    o.height = 32;
    o.width = 32;
    if (pneumo_dataset_open_dir(root, &o, &ds) != PNEUMO_OK)
        fail_msg("%s", pneumo_last_error());
    assert_int_equal(pneumo_dataset_size(ds), 4);
    assert_int_equal(pneumo_dataset_class_count(ds, 1), 2);
    pneumo_dataset_destroy(ds);
    free(root);
}

/* ---- what is refused ---- */

static void test_refused(void **state)
{
    (void)state;
    uint16_t px[2 * W * H] = {0};
    fixture mf = {.rows = H, .cols = W, .spp = 1, .bits_allocated = 16, .bits_stored = 12,
                  .photometric = "MONOCHROME2", .pixels = px, .pixel_bytes = sizeof px,
                  .frames = "2"};
    char *p = write_fixture(&mf, "multiframe.dcm");
    load_fails(p, NULL, PNEUMO_ERR_UNSUPPORTED, "multi-frame object (2 frames, SOP class " SOP_SC);
    free(p);

    fixture sr = {.no_pixels = 1, .sop = SOP_SR};
    p = write_fixture(&sr, "sr.dcm");
    load_fails(p, NULL, PNEUMO_ERR_UNSUPPORTED, SOP_SR " (BasicTextSRStorage) has no pixel");
    free(p);

    fixture pal = {.rows = H, .cols = W, .spp = 1, .bits_allocated = 8, .bits_stored = 8,
                   .photometric = "PALETTE COLOR", .pixels = px};
    p = write_fixture(&pal, "palette.dcm");
    load_fails(p, NULL, PNEUMO_ERR_UNSUPPORTED, "PALETTE COLOR image");
    free(p);

    fixture j2k = {.rows = H, .cols = W, .spp = 1, .bits_allocated = 8, .bits_stored = 8,
                   .photometric = "MONOCHROME2", .pixels = px,
                   .ts = "1.2.840.10008.1.2.4.90"};
    p = write_fixture(&j2k, "j2k.dcm");
    load_fails(p, NULL, PNEUMO_ERR_UNSUPPORTED,
               "transfer syntax 1.2.840.10008.1.2.4.90 (JPEG 2000 (Lossless only)) is not "
               "supported");
    free(p);

    /* The transfer syntax is judged before the dataset: garbage after the
     * meta group of a JPEG 2000 file still names the syntax. */
    {
        dbuf b = {0}, garbage = {0};
        put(&garbage, "\xFF\xFF\xFF\xFF\x01\x02\x03\x04\x05\x06\x07\x08", 12);
        part10(&b, &j2k, &garbage);
        decode_fails(&b, PNEUMO_ERR_UNSUPPORTED, "transfer syntax 1.2.840.10008.1.2.4.90");
        free(b.p);
        free(garbage.p);
    }

    fixture big = {.rows = 600, .cols = 700, .spp = 1, .bits_allocated = 8, .bits_stored = 8,
                   .photometric = "MONOCHROME2", .pixels = px, .pixel_bytes = 16};
    pneumo_decode_limits lim;
    pneumo_decode_default_limits(&lim);
    lim.max_side = 512;
    p = write_fixture(&big, "big.dcm");
    load_fails(p, &lim, PNEUMO_ERR_LIMIT, "700x600 pixels, more than the limit of 512");
    free(p);
}

/* ---- hostile input ---- */

static void test_short_pixel_data(void **state)
{
    (void)state;
    uint16_t px[W * H] = {0};
    fixture fx = {.rows = H, .cols = W, .spp = 1, .bits_allocated = 16, .bits_stored = 12,
                  .photometric = "MONOCHROME2", .pixels = px, .pixel_bytes = sizeof px - 10};
    char *p = write_fixture(&fx, "short.dcm");
    load_fails(p, NULL, PNEUMO_ERR_FORMAT, "pixel data is 6134 bytes, 64x48 pixels with 1 "
                                           "samples of 16 bits need 6144");
    free(p);
    p = NULL;
    if (!have_tools())
        skip();
    /* Compressed: RLE of a full frame, then Rows raised so the frame is short. */
    fixture ok = fx;
    ok.pixel_bytes = 0;
    char *src = write_fixture(&ok, "full.dcm");
    char *rle = transcode("dcmcrle", "", src, "short_rle.dcm");
    char cmd[1024];
    snprintf(cmd, sizeof cmd, "dcmodify -nb -m '(0028,0010)=96' '%s' >/dev/null 2>&1", rle);
    assert_int_equal(system(cmd), 0);
    load_fails(rle, NULL, PNEUMO_ERR_FORMAT, "RLE Lossless pixel data cannot be decoded");
    free(rle);
    free(src);
}

static void test_huge_lengths(void **state)
{
    (void)state;
    uint8_t px[16] = {0};
    fixture fx = {.rows = 4, .cols = 4, .spp = 1, .bits_allocated = 8, .bits_stored = 8,
                  .photometric = "MONOCHROME2", .pixels = px};
    dbuf b = {0};
    build(&b, &fx);
    /* Every 32-bit length in the file (the long-VR ones and the meta group
     * length) in turn set to 0xFFFFFFF0 or 0x7FFFFFFF: an error, quickly. */
    clock_t t0 = clock();
    int tried = 0;
    for (size_t i = 132; i + 12 <= b.n; i++) {
        if (!(b.p[i + 4] == 'O' || b.p[i + 4] == 'S' || b.p[i + 4] == 'U') ||
            b.p[i + 6] != 0 || b.p[i + 7] != 0)
            continue;
        char vr[3] = {(char)b.p[i + 4], (char)b.p[i + 5], 0};
        if (!is_long_vr(vr))
            continue;
        for (int k = 0; k < 2; k++) {
            dbuf c = {0};
            uint32_t len = k ? 0x7FFFFFFFu : 0xFFFFFFF0u;
            pneumo_image *img = NULL;
            put(&c, b.p, b.n);
            memcpy(c.p + i + 8, &len, 4);
            assert_int_not_equal(pneumo_image_decode(c.p, c.n, "huge.dcm", NULL, &img),
                                 PNEUMO_OK);
            assert_null(img);
            free(c.p);
            tried++;
        }
    }
    assert_true(tried >= 4);
    /* A short-VR element (Rows) whose value claims more than the file holds. */
    dbuf ds = {0}, f = {0};
    dataset_head(&ds, &fx);
    el_head(&ds, 0x0028, 0x1055, "LO", 0xFFFF);
    put(&ds, "x", 1);
    fixture nopx = fx;
    part10(&f, &nopx, &ds);
    decode_fails(&f, PNEUMO_ERR_FORMAT, "has length 65535, more than the 1 bytes left");
    free(ds.p);
    free(f.p);
    assert_true((double)(clock() - t0) / CLOCKS_PER_SEC < 5.0);
    free(b.p);
}

/* Undefined-length sequences nested 100000 deep (1.6 MB): refused before
 * DCMTK's recursive parser sees them. */
static void test_deep_nesting(void **state)
{
    (void)state;
    fixture fx = {.no_pixels = 1};
    static const int depths[] = {8, 100000};
    for (size_t t = 0; t < 2; t++) {
        int depth = depths[t];
        dbuf ds = {0}, f = {0};
        dataset_head(&ds, &fx);
        for (int i = 0; i < depth; i++) {
            el_head(&ds, 0x0040, 0xA730, "SQ", 0xFFFFFFFFu); /* Content Sequence */
            put16(&ds, 0xFFFE);
            put16(&ds, 0xE000);
            put32(&ds, 0xFFFFFFFFu);
        }
        for (int i = 0; i < depth; i++) {
            put16(&ds, 0xFFFE);
            put16(&ds, 0xE00D);
            put32(&ds, 0);
            put16(&ds, 0xFFFE);
            put16(&ds, 0xE0DD);
            put32(&ds, 0);
        }
        part10(&f, &fx, &ds);
        if (depth == 100000)
            decode_fails(&f, PNEUMO_ERR_LIMIT, "sequences nested more than 16 deep");
        else /* shallow nesting passes the walk and reaches DCMTK: no pixel data */
            decode_fails(&f, PNEUMO_ERR_UNSUPPORTED, "has no pixel data");
        free(ds.p);
        free(f.p);
    }
}

/* A JPEG frame of 150 scans (each a pass over the image in the decoder) is
 * refused before decoding; a corrupt one of few scans fails in DCMTK. */
static void test_jpeg_scan_limit(void **state)
{
    (void)state;
    uint8_t frag[4 + 150 * 4];
    size_t n = 0;
    frag[n++] = 0xFF;
    frag[n++] = 0xD8;
    for (int i = 0; i < 150; i++) {
        frag[n++] = 0xFF;
        frag[n++] = 0xDA;
        frag[n++] = 0x00;
        frag[n++] = 0x02;
    }
    frag[n++] = 0xFF;
    frag[n++] = 0xD9;
    fixture fx = {.rows = 16, .cols = 16, .spp = 1, .bits_allocated = 8, .bits_stored = 8,
                  .photometric = "MONOCHROME2", .ts = "1.2.840.10008.1.2.4.50",
                  .fragment = frag, .fragment_len = n};
    dbuf b = {0};
    build(&b, &fx);
    decode_fails(&b, PNEUMO_ERR_LIMIT, "DICOM JPEG pixel data has more than 100 scans");
    free(b.p);
    fx.fragment_len = 4 + 10 * 4;
    frag[fx.fragment_len - 2] = 0xFF;
    frag[fx.fragment_len - 1] = 0xD9;
    memset(&b, 0, sizeof b);
    build(&b, &fx);
    decode_fails(&b, PNEUMO_ERR_FORMAT, "pixel data cannot be decoded");
    free(b.p);
}

/* A deflated dataset that inflates past max_file_bytes is cut off there. */
static void test_deflate_bomb(void **state)
{
    (void)state;
    if (!have_tools())
        skip();
    static uint8_t px[1024 * 1024];
    fixture fx = {.rows = 1024, .cols = 1024, .spp = 1, .bits_allocated = 8, .bits_stored = 8,
                  .photometric = "MONOCHROME2", .pixels = px};
    char *src = write_fixture(&fx, "zeros.dcm");
    char *def = transcode("dcmconv", "+td", src, "zeros_deflate.dcm");
    size_t n;
    uint8_t *d = read_all(def, &n);
    pneumo_decode_limits lim;
    pneumo_image *img = NULL;
    assert_true(n < 64 * 1024);
    pneumo_decode_default_limits(&lim);
    lim.max_file_bytes = 256 * 1024;
    assert_int_equal(pneumo_image_decode(d, n, "bomb.dcm", &lim, &img), PNEUMO_ERR_LIMIT);
    assert_non_null(strstr(pneumo_last_error(), "inflates to more than 262144 bytes"));
    lim.max_file_bytes = 4 * 1024 * 1024;
    assert_int_equal(pneumo_image_decode(d, n, "bomb.dcm", &lim, &img), PNEUMO_OK);
    pneumo_image_destroy(img);
    free(d);
    free(def);
    free(src);
}

/* Every truncation and single-byte corruption of a small file, compressed and
 * not: an error or an image, never a crash (ASan/UBSan runs check memory). */
static void mutate_all(const uint8_t *p, size_t n)
{
    uint8_t *c = malloc(n);
    assert_non_null(c);
    for (size_t len = 0; len < n; len++) {
        pneumo_image *img = NULL;
        if (pneumo_image_decode(p, len, "cut.dcm", NULL, &img) == PNEUMO_OK)
            pneumo_image_destroy(img);
    }
    for (size_t i = 0; i < n; i++) {
        static const uint8_t vals[] = {0x00, 0xFF, 0x80, 0x7F};
        for (size_t k = 0; k < sizeof vals; k++) {
            pneumo_image *img = NULL;
            memcpy(c, p, n);
            c[i] = vals[k];
            if (pneumo_image_decode(c, n, "flip.dcm", NULL, &img) == PNEUMO_OK)
                pneumo_image_destroy(img);
        }
    }
    free(c);
}

static void test_mutations(void **state)
{
    (void)state;
    uint16_t px[8 * 6];
    for (int i = 0; i < 48; i++)
        px[i] = (uint16_t)(i * 85);
    fixture fx = {.rows = 6, .cols = 8, .spp = 1, .bits_allocated = 16, .bits_stored = 12,
                  .photometric = "MONOCHROME1", .pixels = px, .center = "2000",
                  .width = "3000"};
    dbuf b = {0};
    build(&b, &fx);
    mutate_all(b.p, b.n);
    free(b.p);
    if (!have_tools())
        skip();
    char *src = write_fixture(&fx, "mut.dcm");
    const char *tools[][3] = {{"dcmcjpls", "+el", "mut_jls.dcm"},
                              {"dcmcjpeg", "+e1", "mut_jpeg.dcm"},
                              {"dcmcrle", "", "mut_rle.dcm"},
                              {"dcmconv", "+td", "mut_def.dcm"}};
    for (size_t t = 0; t < 4; t++) {
        char *out = transcode(tools[t][0], tools[t][1], src, tools[t][2]);
        size_t n;
        uint8_t *d = read_all(out, &n);
        mutate_all(d, n);
        free(d);
        free(out);
    }
    free(src);
}

#endif /* PNEUMO_HAVE_DICOM */

/* Both builds: DICOM is recognised by content; without DCMTK the answer says
 * so clearly, with it the image decodes. */
static void test_detection(void **state)
{
    (void)state;
    uint8_t px[16] = {0, 10, 20, 30};
    fixture fx = {.rows = 4, .cols = 4, .spp = 1, .bits_allocated = 8, .bits_stored = 8,
                  .photometric = "MONOCHROME2", .pixels = px};
    dbuf b = {0};
    pneumo_image *img = NULL;
    build(&b, &fx);
    pneumo_status st = pneumo_image_decode(b.p, b.n, "probe.dcm", NULL, &img);
#ifdef PNEUMO_HAVE_DICOM
    if (st != PNEUMO_OK)
        fail_msg("%s", pneumo_last_error());
    assert_int_equal(pneumo_image_width(img), 4);
    assert_int_equal(pneumo_image_pixels(img)[3], 255);
    pneumo_image_destroy(img);
#else
    assert_int_equal(st, PNEUMO_ERR_UNSUPPORTED);
    assert_null(img);
    assert_non_null(strstr(pneumo_last_error(), "probe.dcm: a DICOM file, but this build has "
                                                "no DICOM support"));
#endif
    free(b.p);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_detection),
#ifdef PNEUMO_HAVE_DICOM
        cmocka_unit_test(test_preamble_variants),
        cmocka_unit_test(test_render16),
        cmocka_unit_test(test_window_hand_values),
        cmocka_unit_test(test_voi_lut),
        cmocka_unit_test(test_transfer_syntaxes16),
        cmocka_unit_test(test_transfer_syntaxes8),
        cmocka_unit_test(test_colour_native),
        cmocka_unit_test(test_colour_jpeg),
        cmocka_unit_test(test_xray_jpeg_vs_dicom),
        cmocka_unit_test(test_dataset_dir),
        cmocka_unit_test(test_refused),
        cmocka_unit_test(test_short_pixel_data),
        cmocka_unit_test(test_huge_lengths),
        cmocka_unit_test(test_deep_nesting),
        cmocka_unit_test(test_jpeg_scan_limit),
        cmocka_unit_test(test_deflate_bomb),
        cmocka_unit_test(test_mutations),
#endif
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
