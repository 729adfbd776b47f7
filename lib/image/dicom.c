/* DICOM input: detection, file meta information, bounded
 * inflation of deflated datasets, a structural walk that bounds lengths and
 * sequence nesting before DCMTK sees the bytes, and the rendering of a decoded
 * frame to 8-bit gray (Modality LUT, VOI, MONOCHROME1 inversion, colour luma).
 * Parsing proper and decompression are DCMTK's, behind dicom_dcmtk.cc. */
#include "image/dicom.h"

#include "core/alloc.h"
#include "core/error.h"
#include "image/image_internal.h"

#include <string.h>

static const uint8_t dicm[4] = {'D', 'I', 'C', 'M'};

/* The file meta group starts with an explicit VR little endian element of
 * group 0002: two group bytes, two element bytes, two upper-case VR letters. */
static int meta_group_at(const uint8_t *p, size_t avail)
{
    return avail >= 8 && p[0] == 0x02 && p[1] == 0x00 && p[4] >= 'A' && p[4] <= 'Z' && p[5] >= 'A' &&
           p[5] <= 'Z';
}

int pn_dicom_sniff(const uint8_t *data, size_t size)
{
    if (size >= 132 && memcmp(data + 128, dicm, 4) == 0)
        return 1;
    if (size >= 12 && memcmp(data, dicm, 4) == 0 && meta_group_at(data + 4, size - 4))
        return 1;
    return meta_group_at(data, size);
}

#ifndef PNEUMO_HAVE_DICOM

pneumo_status pn_decode_dicom(const uint8_t *data, size_t size, const char *label,
                              const pneumo_decode_limits *lim, pneumo_image **out)
{
    (void)data;
    (void)size;
    (void)lim;
    (void)out;
    return pn_error(PNEUMO_ERR_UNSUPPORTED,
                    "%s: a DICOM file, but this build has no DICOM support (configure "
                    "libpneumo with -Ddicom=enabled and DCMTK installed)",
                    label);
}

#else

#include <math.h>
#include <stdlib.h>
#include <zlib.h>

#define TS_EXPLICIT_LE "1.2.840.10008.1.2.1"
#define TS_EXPLICIT_BE "1.2.840.10008.1.2.2"
#define TS_IMPLICIT_LE "1.2.840.10008.1.2"
#define TS_DEFLATED "1.2.840.10008.1.2.1.99"
#define UNDEFINED_LENGTH 0xFFFFFFFFu

/* ---- byte-level helpers ---- */

static uint16_t rd16(const uint8_t *p, int big)
{
    return big ? (uint16_t)(p[0] << 8 | p[1]) : (uint16_t)(p[1] << 8 | p[0]);
}

static uint32_t rd32(const uint8_t *p, int big)
{
    return big ? (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3]
               : (uint32_t)p[3] << 24 | (uint32_t)p[2] << 16 | (uint32_t)p[1] << 8 | p[0];
}

/* VRs with a 2-byte reserved field and a 4-byte length in explicit VR. */
static int long_vr(const uint8_t *vr)
{
    static const char *const vrs[] = {"OB", "OD", "OF", "OL", "OV", "OW", "SQ",
                                      "SV", "UC", "UN", "UR", "UT", "UV"};
    for (size_t i = 0; i < sizeof vrs / sizeof vrs[0]; i++)
        if (vr[0] == (uint8_t)vrs[i][0] && vr[1] == (uint8_t)vrs[i][1])
            return 1;
    return 0;
}

/* One of the standard's VRs (PS3.5 6.2). An unknown code is refused: DCMTK
 * would read it with another header layout than the walk below assumes, and
 * so a length the walk never checked. */
static int known_vr(const uint8_t *vr)
{
    static const char vrs[] = "AEASATCSDADSDTFDFLISLOLTOBODOFOLOVOWPNSHSLSQSSSTSVTMUCUIULUNURUSUTUV";
    for (size_t i = 0; i + 1 < sizeof vrs; i += 2)
        if (vr[0] == (uint8_t)vrs[i] && vr[1] == (uint8_t)vrs[i + 1])
            return 1;
    return 0;
}

/* ---- file meta information ---- */

typedef struct dicom_meta {
    char ts_uid[65];
    size_t dataset_offset;
} dicom_meta;

static pneumo_status read_meta(const uint8_t *data, size_t size, const char *label, dicom_meta *meta)
{
    size_t pos;
    int have_ts = 0;

    if (size >= 132 && memcmp(data + 128, dicm, 4) == 0)
        pos = 132;
    else if (memcmp(data, dicm, 4) == 0)
        pos = 4;
    else
        pos = 0;
    memset(meta, 0, sizeof *meta);
    while (pos + 8 <= size && rd16(data + pos, 0) == 0x0002) {
        uint16_t element = rd16(data + pos + 2, 0);
        const uint8_t *vr = data + pos + 4;
        uint32_t len;
        if (!known_vr(vr))
            return pn_error(PNEUMO_ERR_FORMAT,
                            "%s: DICOM file meta element (0002,%04X) at byte %zu has no "
                            "explicit VR",
                            label, element, pos);
        if (long_vr(vr)) {
            if (pos + 12 > size)
                break;
            len = rd32(data + pos + 8, 0);
            pos += 12;
        } else {
            len = rd16(data + pos + 6, 0);
            pos += 8;
        }
        if (len == UNDEFINED_LENGTH || len > size - pos)
            return pn_error(PNEUMO_ERR_FORMAT,
                            "%s: DICOM file meta element (0002,%04X) has length %u, past the "
                            "end of the file (%zu bytes)",
                            label, element, len, size);
        if (element == 0x0010) {
            size_t n = len;
            while (n > 0 && (data[pos + n - 1] == 0 || data[pos + n - 1] == ' '))
                n--;
            if (n == 0 || n >= sizeof meta->ts_uid)
                return pn_error(PNEUMO_ERR_FORMAT,
                                "%s: DICOM Transfer Syntax UID (0002,0010) is %u bytes long", label, len);
            memcpy(meta->ts_uid, data + pos, n);
            for (size_t i = 0; i < n; i++)
                if (!(meta->ts_uid[i] == '.' || (meta->ts_uid[i] >= '0' && meta->ts_uid[i] <= '9')))
                    return pn_error(PNEUMO_ERR_FORMAT,
                                    "%s: DICOM Transfer Syntax UID (0002,0010) is not a UID", label);
            have_ts = 1;
        }
        pos += len;
    }
    if (!have_ts)
        return pn_error(PNEUMO_ERR_FORMAT,
                        "%s: DICOM file without a Transfer Syntax UID (0002,0010) in its file "
                        "meta information",
                        label);
    meta->dataset_offset = pos;
    return PNEUMO_OK;
}

/* ---- deflate: inflate into a buffer of at most `cap` bytes ---- */

static pneumo_status inflate_dataset(const uint8_t *src, size_t n, const char *label, int64_t cap,
                                     uint8_t **out, size_t *out_size)
{
    z_stream z;
    size_t alloc = n < 65536 ? 65536 : n * 4, len = 0;
    uint8_t *buf;
    int r;

    if ((int64_t)alloc > cap)
        alloc = (size_t)cap;
    buf = pn_malloc(alloc);
    if (!buf)
        return pn_error_nomem(label, alloc);
    memset(&z, 0, sizeof z);
    if (inflateInit2(&z, -MAX_WBITS) != Z_OK) {
        free(buf);
        return pn_error_nomem(label, sizeof z);
    }
    z.next_in = (Bytef *)(uintptr_t)src;
    for (;;) {
        size_t in_chunk = n > UINT32_MAX ? UINT32_MAX : n;
        size_t room = alloc - len;
        if (room == 0) {
            size_t grow;
            uint8_t *nb;
            if ((int64_t)alloc >= cap) {
                inflateEnd(&z);
                free(buf);
                return pn_error(PNEUMO_ERR_LIMIT,
                                "%s: deflated DICOM dataset inflates to more than %lld bytes "
                                "(max_file_bytes)",
                                label, (long long)cap);
            }
            grow = alloc > (size_t)cap - alloc ? (size_t)cap : alloc * 2;
            nb = pn_realloc(buf, grow);
            if (!nb) {
                inflateEnd(&z);
                free(buf);
                return pn_error_nomem(label, grow);
            }
            buf = nb;
            alloc = grow;
            room = alloc - len;
        }
        z.avail_in = (uInt)in_chunk;
        z.next_out = buf + len;
        z.avail_out = room > UINT32_MAX ? UINT32_MAX : (uInt)room;
        r = inflate(&z, Z_NO_FLUSH);
        len = (size_t)(z.next_out - buf);
        n -= in_chunk - z.avail_in;
        if (r == Z_STREAM_END)
            break;
        if (r == Z_BUF_ERROR && z.avail_out > 0) {
            inflateEnd(&z);
            free(buf);
            return pn_error(PNEUMO_ERR_FORMAT, "%s: deflated DICOM dataset is truncated", label);
        }
        if (r != Z_OK && r != Z_BUF_ERROR) {
            inflateEnd(&z);
            free(buf);
            return pn_error(PNEUMO_ERR_FORMAT, "%s: deflated DICOM dataset is corrupt (%s)", label,
                            z.msg ? z.msg : "zlib error");
        }
    }
    inflateEnd(&z);
    *out = buf;
    *out_size = len;
    return PNEUMO_OK;
}

/* ---- structural walk ----
 * One pass over the dataset checks that every length fits its container,
 * that undefined lengths appear only on sequences and encapsulated pixel data,
 * and that sequences nest at most PN_DICOM_MAX_DEPTH deep. DCMTK parses
 * recursively and trusts lengths for allocation, so this bounds both its stack
 * and its memory by the file size. */

typedef struct walk {
    const uint8_t *data;
    const char *label;
    int jpeg;       /* encapsulated JPEG: count the scans of its fragments */
    uint32_t scans; /* SOS markers seen */
} walk;

typedef struct coding {
    int implicit;
    int big;
} coding;

static pneumo_status walk_elements(walk *w, coding c, size_t pos, size_t end, int depth, int until_delimiter,
                                   size_t *next);

static pneumo_status walk_bad(const walk *w, size_t pos, const char *what)
{
    return pn_error(PNEUMO_ERR_FORMAT, "%s: DICOM dataset is malformed at byte %zu: %s", w->label, pos, what);
}

/* Items of a sequence from `pos`: up to `end` (defined length) or to the
 * sequence delimiter (undefined). Items are coded like their elements. */
static pneumo_status walk_sequence(walk *w, coding c, size_t pos, size_t end, int depth, int undefined,
                                   size_t *next)
{
    if (depth >= PN_DICOM_MAX_DEPTH)
        return pn_error(PNEUMO_ERR_LIMIT, "%s: DICOM sequences nested more than %d deep at byte %zu",
                        w->label, PN_DICOM_MAX_DEPTH, pos);
    while (undefined || pos < end) {
        uint16_t g, e;
        uint32_t len;
        pneumo_status st;
        if (end - pos < 8)
            return walk_bad(w, pos, "sequence item header past the end");
        g = rd16(w->data + pos, c.big);
        e = rd16(w->data + pos + 2, c.big);
        len = rd32(w->data + pos + 4, c.big);
        pos += 8;
        if (g == 0xFFFE && e == 0xE0DD) {
            if (!undefined)
                return walk_bad(w, pos - 8, "sequence delimiter in a defined-length sequence");
            *next = pos;
            return PNEUMO_OK;
        }
        if (g != 0xFFFE || e != 0xE000)
            return walk_bad(w, pos - 8, "expected a sequence item");
        if (len == UNDEFINED_LENGTH) {
            st = walk_elements(w, c, pos, end, depth + 1, 1, &pos);
        } else {
            if (len > end - pos)
                return walk_bad(w, pos - 8, "sequence item longer than its container");
            st = walk_elements(w, c, pos, pos + len, depth + 1, 0, &pos);
        }
        if (st != PNEUMO_OK)
            return st;
    }
    *next = pos;
    return PNEUMO_OK;
}

/* SOS markers (FF DA) in a JPEG fragment. Entropy-coded data never holds FF
 * followed by DA (an FF there is stuffed with 00 or starts RSTn), so this counts
 * the scans, at worst overcounting a table byte pair. */
static uint32_t jpeg_scans(const uint8_t *p, size_t n)
{
    uint32_t k = 0;
    for (size_t i = 0; i + 1 < n; i++)
        k += p[i] == 0xFF && p[i + 1] == 0xDA;
    return k;
}

/* Fragments of encapsulated pixel data: defined-length items up to the
 * sequence delimiter, never nested. A progressive-style stream of many scans
 * costs a full pass over the image per scan inside DCMTK's IJG decoder, so
 * JPEG fragments may hold at most PN_DICOM_MAX_JPEG_SCANS scans. */
static pneumo_status walk_fragments(walk *w, coding c, size_t pos, size_t end, size_t *next)
{
    for (;;) {
        uint16_t g, e;
        uint32_t len;
        if (end - pos < 8)
            return walk_bad(w, pos, "encapsulated pixel data without a sequence delimiter");
        g = rd16(w->data + pos, c.big);
        e = rd16(w->data + pos + 2, c.big);
        len = rd32(w->data + pos + 4, c.big);
        pos += 8;
        if (g == 0xFFFE && e == 0xE0DD) {
            *next = pos;
            return PNEUMO_OK;
        }
        if (g != 0xFFFE || e != 0xE000 || len == UNDEFINED_LENGTH || len > end - pos)
            return walk_bad(w, pos - 8, "bad encapsulated pixel data fragment");
        if (w->jpeg) {
            w->scans += jpeg_scans(w->data + pos, len);
            if (w->scans > PN_DICOM_MAX_JPEG_SCANS)
                return pn_error(PNEUMO_ERR_LIMIT, "%s: DICOM JPEG pixel data has more than %d scans",
                                w->label, PN_DICOM_MAX_JPEG_SCANS);
        }
        pos += len;
    }
}

static int starts_with_item(const walk *w, coding c, size_t pos, size_t end)
{
    return end - pos >= 8 && rd16(w->data + pos, c.big) == 0xFFFE && rd16(w->data + pos + 2, c.big) == 0xE000;
}

static pneumo_status walk_elements(walk *w, coding c, size_t pos, size_t end, int depth, int until_delimiter,
                                   size_t *next)
{
    while (until_delimiter || pos < end) {
        uint16_t g, e;
        uint32_t len;
        int sq = 0, un = 0;
        size_t start = pos;
        pneumo_status st;
        if (end - pos < 8)
            return walk_bad(w, pos,
                            until_delimiter ? "item without an item delimiter"
                                            : "element header past the end");
        g = rd16(w->data + pos, c.big);
        e = rd16(w->data + pos + 2, c.big);
        if (g == 0xFFFE) {
            if (until_delimiter && e == 0xE00D) {
                *next = pos + 8;
                return PNEUMO_OK;
            }
            return walk_bad(w, pos, "item tag outside a sequence");
        }
        if (c.implicit) {
            len = rd32(w->data + pos + 4, c.big);
            pos += 8;
        } else {
            const uint8_t *vr = w->data + pos + 4;
            if (!known_vr(vr))
                return walk_bad(w, pos, "unknown value representation");
            sq = vr[0] == 'S' && vr[1] == 'Q';
            un = vr[0] == 'U' && vr[1] == 'N';
            if (long_vr(vr)) {
                if (end - pos < 12)
                    return walk_bad(w, pos, "element header past the end");
                len = rd32(w->data + pos + 8, c.big);
                pos += 12;
            } else {
                len = rd16(w->data + pos + 6, c.big);
                pos += 8;
            }
        }
        if (len == UNDEFINED_LENGTH) {
            if (g == 0x7FE0 && e == 0x0010)
                st = walk_fragments(w, c, pos, end, &pos);
            else if (sq || c.implicit)
                st = walk_sequence(w, c, pos, end, depth, 1, &pos);
            else if (un) /* CP-246: an unknown sequence, coded implicit VR little endian */
                st = walk_sequence(w, (coding){1, 0}, pos, end, depth, 1, &pos);
            else
                return walk_bad(w, start,
                                "undefined length on an element that is not a "
                                "sequence");
            if (st != PNEUMO_OK)
                return st;
            continue;
        }
        if (len > end - pos)
            return pn_error(PNEUMO_ERR_FORMAT,
                            "%s: DICOM element (%04X,%04X) at byte %zu has length %u, more "
                            "than the %zu bytes left",
                            w->label, g, e, start, len, end - pos);
        /* Implicit VR gives no VR: a value that starts like an item is walked
         * as the sequence DCMTK's dictionary may take it for. */
        if (sq || (c.implicit && starts_with_item(w, c, pos, pos + len))) {
            size_t after;
            st = walk_sequence(w, c, pos, pos + len, depth, 0, &after);
            if (st != PNEUMO_OK)
                return st;
        }
        pos += len;
    }
    *next = pos;
    return PNEUMO_OK;
}

/* ---- rendering ---- */

/* libjpeg's YCbCr -> RGB (jdcolor.c, 16-bit fixed point), so a YBR_FULL
 * object gives the RGB a JPEG decoder would. */
#define YCC_FIX(x) ((int32_t)((x)*65536.0 + 0.5))

/* floor(v / 65536): libjpeg's RIGHT_SHIFT, without relying on the
 * implementation-defined >> of a negative value. */
static int32_t asr16(int32_t v) { return v >= 0 ? v >> 16 : -(int32_t)((-(int64_t)v + 65535) >> 16); }

static uint8_t clamp255(int32_t v) { return (uint8_t)(v < 0 ? 0 : v > 255 ? 255 : v); }

static uint8_t ycc_luma(int y, int cb, int cr)
{
    int32_t x_cb = cb - 128, x_cr = cr - 128;
    uint8_t r = clamp255(y + asr16(YCC_FIX(1.40200) * x_cr + 32768));
    uint8_t g = clamp255(y + asr16(-YCC_FIX(0.34414) * x_cb + 32768 - YCC_FIX(0.71414) * x_cr));
    uint8_t b = clamp255(y + asr16(YCC_FIX(1.77200) * x_cb + 32768));
    return pn_luma(r, g, b);
}

static pneumo_status render_colour(const pn_dicom_frame *f, const char *label, uint8_t *out)
{
    size_t n = (size_t)f->rows * f->columns;
    const uint8_t *p = f->pixels;
    if (strcmp(f->photometric, "YBR_FULL_422") == 0) {
        /* Two pixels share one chroma pair: Y0 Y1 Cb Cr (PS3.3 C.7.6.3.1.2). */
        if (f->columns % 2 != 0 || f->planar != 0)
            return pn_error(PNEUMO_ERR_FORMAT,
                            "%s: DICOM YBR_FULL_422 with %u columns and planar configuration "
                            "%u",
                            label, f->columns, f->planar);
        for (size_t i = 0; i < n; i += 2, p += 4) {
            out[i] = ycc_luma(p[0], p[2], p[3]);
            out[i + 1] = ycc_luma(p[1], p[2], p[3]);
        }
        return PNEUMO_OK;
    }
    int ycc = strcmp(f->photometric, "YBR_FULL") == 0;
    size_t step = f->planar ? 1 : 3, plane = f->planar ? n : 1;
    for (size_t i = 0; i < n; i++) {
        const uint8_t *q = p + i * step;
        out[i] = ycc ? ycc_luma(q[0], q[plane], q[2 * plane]) : pn_luma(q[0], q[plane], q[2 * plane]);
    }
    return PNEUMO_OK;
}

/* Stored samples as table indices 0 .. 2^bits_stored - 1: the Bits Stored
 * below High Bit, with the sign bit flipped for signed data, which maps the
 * two's complement range -2^(b-1) .. 2^(b-1) - 1 onto 0 .. 2^b - 1 in order. */
typedef struct sample_index {
    uint32_t shift, mask, flip;
} sample_index;

static sample_index index_of(const pn_dicom_frame *f)
{
    sample_index x;
    x.shift = f->high_bit + 1 - f->bits_stored;
    x.mask = (uint32_t)((1ull << f->bits_stored) - 1u);
    x.flip = f->signed_samples ? 1u << (f->bits_stored - 1) : 0;
    return x;
}

static void index_range(const pn_dicom_frame *f, sample_index x, size_t n, uint32_t *lo, uint32_t *hi)
{
    uint32_t a = UINT32_MAX, b = 0;
    if (f->bits_allocated == 8) {
        for (size_t i = 0; i < n; i++) {
            uint32_t k = (((uint32_t)f->pixels[i] >> x.shift) & x.mask) ^ x.flip;
            a = k < a ? k : a;
            b = k > b ? k : b;
        }
    } else {
        const uint16_t *p = (const uint16_t *)(const void *)f->pixels;
        for (size_t i = 0; i < n; i++) {
            uint32_t k = (((uint32_t)p[i] >> x.shift) & x.mask) ^ x.flip;
            a = k < a ? k : a;
            b = k > b ? k : b;
        }
    }
    *lo = a;
    *hi = b;
}

static void map_samples(const pn_dicom_frame *f, sample_index x, size_t n, const uint8_t *table, uint8_t *out)
{
    if (f->bits_allocated == 8) {
        for (size_t i = 0; i < n; i++)
            out[i] = table[(((uint32_t)f->pixels[i] >> x.shift) & x.mask) ^ x.flip];
    } else {
        const uint16_t *p = (const uint16_t *)(const void *)f->pixels;
        for (size_t i = 0; i < n; i++)
            out[i] = table[(((uint32_t)p[i] >> x.shift) & x.mask) ^ x.flip];
    }
}

static uint8_t round255(double y)
{
    if (!(y > 0.0))
        return 0;
    if (y >= 255.0)
        return 255;
    return (uint8_t)floor(y + 0.5);
}

enum voi_kind { VOI_LINEAR, VOI_LINEAR_EXACT, VOI_SIGMOID, VOI_LUT, VOI_MINMAX };

static pneumo_status render_mono(const pn_dicom_frame *f, const char *label, uint8_t *out)
{
    size_t n = (size_t)f->rows * f->columns;
    int32_t lo = f->signed_samples ? -(int32_t)(1u << (f->bits_stored - 1)) : 0;
    size_t range = (size_t)1 << f->bits_stored;
    sample_index sx = index_of(f);
    double mmin = 0, mmax = 0, c = f->center, w = f->width;
    enum voi_kind kind = VOI_MINMAX;
    int invert = strcmp(f->photometric, "MONOCHROME1") == 0;
    uint8_t *table;

    if (f->has_window) {
        if (strcmp(f->voi_function, "SIGMOID") == 0)
            kind = w > 0 ? VOI_SIGMOID : VOI_MINMAX;
        else if (strcmp(f->voi_function, "LINEAR_EXACT") == 0)
            kind = w > 0 ? VOI_LINEAR_EXACT : VOI_MINMAX;
        else
            kind = w >= 1 ? VOI_LINEAR : VOI_MINMAX;
    }
    if (kind == VOI_MINMAX && f->lut_entries > 0)
        kind = VOI_LUT;
    if (kind == VOI_MINMAX) {
        uint32_t kmin, kmax;
        index_range(f, sx, n, &kmin, &kmax);
        int32_t smin = (int32_t)kmin + lo, smax = (int32_t)kmax + lo;
        mmin = fmin(smin * f->slope + f->intercept, smax * f->slope + f->intercept);
        mmax = fmax(smin * f->slope + f->intercept, smax * f->slope + f->intercept);
    }
    /* One output value per possible stored value (at most 2^16). */
    table = pn_malloc(range);
    if (!table)
        return pn_error_nomem(label, range);
    for (size_t k = 0; k < range; k++) {
        double x = ((int32_t)k + lo) * f->slope + f->intercept, y;
        switch (kind) {
        case VOI_LINEAR:
            if (x <= c - 0.5 - (w - 1) / 2)
                y = 0;
            else if (x > c - 0.5 + (w - 1) / 2)
                y = 255;
            else
                y = ((x - (c - 0.5)) / (w - 1) + 0.5) * 255;
            break;
        case VOI_LINEAR_EXACT: y = ((x - c) / w + 0.5) * 255; break;
        case VOI_SIGMOID: y = 255 / (1 + exp(-4 * (x - c) / w)); break;
        case VOI_LUT: {
            double idx = floor(x + 0.5) - f->lut_first;
            uint32_t v = idx <= 0                    ? f->lut[0]
                         : idx >= f->lut_entries - 1 ? f->lut[f->lut_entries - 1]
                                                     : f->lut[(size_t)idx];
            y = v * 255.0 / (double)((1u << f->lut_bits) - 1u);
            break;
        }
        default: y = mmax > mmin ? (x - mmin) * 255 / (mmax - mmin) : 0; break;
        }
        table[k] = invert ? (uint8_t)(255 - round255(y)) : round255(y);
    }
    map_samples(f, sx, n, table, out);
    free(table);
    return PNEUMO_OK;
}

/* The JPEG transfer syntaxes DCMTK's IJG codec decodes for us. */
static int is_jpeg_ts(const char *ts)
{
    return strcmp(ts, "1.2.840.10008.1.2.4.50") == 0 || strcmp(ts, "1.2.840.10008.1.2.4.51") == 0 ||
           strcmp(ts, "1.2.840.10008.1.2.4.57") == 0 || strcmp(ts, "1.2.840.10008.1.2.4.70") == 0;
}

pneumo_status pn_decode_dicom(const uint8_t *data, size_t size, const char *label,
                              const pneumo_decode_limits *lim, pneumo_image **out)
{
    dicom_meta meta;
    uint8_t *inflated = NULL;
    const uint8_t *ds;
    size_t ds_size, end;
    const char *ts;
    coding c = {0, 0};
    pn_dicom_frame frame;
    pneumo_status st;

    st = read_meta(data, size, label, &meta);
    if (st != PNEUMO_OK)
        return st;
    /* Before the walk: an unknown syntax may code its dataset in a way the
     * walk would misread, and its name is the useful message. */
    st = pn_dcmtk_check_ts(meta.ts_uid, label);
    if (st != PNEUMO_OK)
        return st;
    ds = data + meta.dataset_offset;
    ds_size = size - meta.dataset_offset;
    ts = meta.ts_uid;
    if (strcmp(ts, TS_DEFLATED) == 0) {
        st = inflate_dataset(ds, ds_size, label, lim->max_file_bytes, &inflated, &ds_size);
        if (st != PNEUMO_OK)
            return st;
        ds = inflated;
        ts = TS_EXPLICIT_LE;
    }
    c.implicit = strcmp(ts, TS_IMPLICIT_LE) == 0;
    c.big = strcmp(ts, TS_EXPLICIT_BE) == 0;
    walk w = {ds, label, is_jpeg_ts(ts), 0};
    st = walk_elements(&w, c, 0, ds_size, 0, 0, &end);
    if (st == PNEUMO_OK)
        st = pn_dcmtk_read_frame(ds, ds_size, ts, label, lim, &frame);
    free(inflated);
    if (st != PNEUMO_OK)
        return st;
    st = pn_image_alloc((int32_t)frame.columns, (int32_t)frame.rows, label, out);
    if (st == PNEUMO_OK) {
        st = frame.samples == 3 ? render_colour(&frame, label, (*out)->pixels)
                                : render_mono(&frame, label, (*out)->pixels);
        if (st != PNEUMO_OK) {
            pneumo_image_destroy(*out);
            *out = NULL;
        }
    }
    pn_dicom_frame_free(&frame);
    return st;
}

#endif
