/* Fixtures shared by the DICOM tests (dicom_fixtures.h). */
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

#include "dicom_fixtures.h"

void put(dbuf *b, const void *d, size_t n)
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

void put16(dbuf *b, uint16_t v)
{
    uint8_t x[2] = {(uint8_t)v, (uint8_t)(v >> 8)};
    put(b, x, 2);
}

void put32(dbuf *b, uint32_t v)
{
    uint8_t x[4] = {(uint8_t)v, (uint8_t)(v >> 8), (uint8_t)(v >> 16), (uint8_t)(v >> 24)};
    put(b, x, 4);
}

int is_long_vr(const char *vr) { return strstr("OB OW SQ UN UT", vr) != NULL; }

/* One explicit VR little endian element header. */
void el_head(dbuf *b, uint16_t g, uint16_t e, const char *vr, uint32_t len)
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
#define TS_ELE "1.2.840.10008.1.2.1"

/* The dataset part of `fx` (without pixel data) into `b`. */
void dataset_head(dbuf *b, const fixture *fx)
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
void part10(dbuf *out, const fixture *fx, const dbuf *ds)
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

void build(dbuf *out, const fixture *fx)
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
        el_head(&ds, 0x7FE0, 0x0010, fx->bits_allocated == 8 ? "OB" : "OW", (uint32_t)(n + (n & 1)));
        put(&ds, fx->pixels, n);
        if (n & 1)
            put(&ds, "\0", 1);
    }
    part10(out, fx, &ds);
    free(ds.p);
}

void write_file(const char *path, const void *d, size_t n)
{
    FILE *f = fopen(path, "wb");
    assert_non_null(f);
    assert_int_equal(fwrite(d, 1, n, f), n);
    assert_int_equal(fclose(f), 0);
}

char *write_fixture(const fixture *fx, const char *name)
{
    dbuf b = {0};
    char *path = tu_join(tu_tmpdir(), name);
    build(&b, fx);
    write_file(path, b.p, b.n);
    free(b.p);
    return path;
}

/* ---- DCMTK tools ---- */

int have_tools(void)
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
char *transcode(const char *tool, const char *args, const char *in, const char *name)
{
    char cmd[2048];
    char *out = tu_join(tu_tmpdir(), name);
    snprintf(cmd, sizeof cmd, "%s %s '%s' '%s' >/dev/null 2>&1", tool, args, in, out);
    if (system(cmd) != 0)
        fail_msg("command failed: %s", cmd);
    return out;
}

static uint8_t to8(double y)
{
    if (y <= 0)
        return 0;
    if (y >= 255)
        return 255;
    return (uint8_t)floor(y + 0.5);
}

void expected_mono(const int32_t *v, size_t n, const render_ref *r, uint8_t *out)
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

/* ---- helpers ---- */

pneumo_image *load_ok(const char *path)
{
    pneumo_image *img = NULL;
    pneumo_status st = pneumo_image_load(path, NULL, &img);
    if (st != PNEUMO_OK)
        fail_msg("%s: %s", path, pneumo_last_error());
    return img;
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

void assert_pixels(const pneumo_image *img, int w, int h, const uint8_t *want, int tolerance,
                   const char *what)
{
    int d;
    assert_int_equal(pneumo_image_width(img), w);
    assert_int_equal(pneumo_image_height(img), h);
    d = max_diff(pneumo_image_pixels(img), want, (size_t)w * h);
    if (d > tolerance)
        fail_msg("%s: rendered pixels differ from the expected ones by up to %d (tolerance %d)", what, d,
                 tolerance);
}

void picture12(uint16_t *px, int32_t *v)
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

void picture8(uint8_t *px, int32_t *v)
{
    for (int y = 0; y < H; y++)
        for (int x = 0; x < W; x++) {
            int s = 20 + (x * 200) / (W - 1) + ((x / 8 + y / 8) & 1) * 20;
            px[y * W + x] = (uint8_t)s;
            v[y * W + x] = s;
        }
}

/* ---- transfer syntaxes through DCMTK's tools ---- */

void check_transcoded(const char *tool, const char *args, const char *src, const char *name,
                      const uint8_t *want, int tolerance)
{
    char *path = transcode(tool, args, src, name);
    pneumo_image *img = load_ok(path);
    assert_pixels(img, W, H, want, tolerance, name);
    pneumo_image_destroy(img);
    free(path);
}
