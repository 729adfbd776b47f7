/* Bounded memory and work on hostile images: crafted PNG chunks and headers
 * and JPEG scans are decoded in a forked child (hostile_fixtures.h) whose peak
 * resident memory growth and CPU time are checked against docs/security.md:
 *   image decode:  peak <= 5 (PNG) or 9 (JPEG) bytes per pixel of the image
 *                  the header declares (within pneumo_decode_limits) + 32 MiB;
 *                  CPU bounded by the file size and max_scans passes over it.
 * The child also runs under an address-space limit so that a regression fails
 * with NOMEM instead of taking the machine's memory. */
#include "testutil.h"
#include "pneumo/image.h"
#include "pneumo/model.h"
#include "core/error.h"
#include "format/json.h"
#include "model/model.h"
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <zlib.h>
#include <jpeglib.h>

#include "hostile_fixtures.h"

static void b_be32(buf *b, uint32_t v)
{
    uint8_t x[4] = {(uint8_t)(v >> 24), (uint8_t)(v >> 16), (uint8_t)(v >> 8), (uint8_t)v};
    b_add(b, x, 4);
}

/* ---- images ---- */

typedef struct {
    const buf *file;
    const pneumo_decode_limits *lim;
} decode_arg;

static pneumo_status decode_work(const void *p)
{
    const decode_arg *a = p;
    pneumo_image *img = NULL;
    pneumo_status st = pneumo_image_decode(a->file->data, a->file->size, "crafted", a->lim, &img);
    pneumo_image_destroy(img);
    return st;
}

static cost decode_cost(const buf *file, const pneumo_decode_limits *lim)
{
    decode_arg a = {file, lim};
    return measure(decode_work, &a);
}

static void png_chunk(buf *b, const char *type, const void *data, uint32_t len, uint32_t claimed)
{
    uLong crc = crc32(0, (const Bytef *)type, 4);
    b_be32(b, claimed);
    b_add(b, type, 4);
    if (len) {
        b_add(b, data, len);
        crc = crc32(crc, (const Bytef *)data, len); /* crc32(crc, NULL, 0) is 0 */
    }
    b_be32(b, (uint32_t)crc);
}

static void png_head(buf *b, uint32_t w, uint32_t h, uint8_t color, uint8_t depth)
{
    static const uint8_t sig[8] = {0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n'};
    uint8_t ihdr[13] = {(uint8_t)(w >> 24),
                        (uint8_t)(w >> 16),
                        (uint8_t)(w >> 8),
                        (uint8_t)w,
                        (uint8_t)(h >> 24),
                        (uint8_t)(h >> 16),
                        (uint8_t)(h >> 8),
                        (uint8_t)h,
                        depth,
                        color,
                        0,
                        0,
                        0};
    b_add(b, sig, sizeof sig);
    png_chunk(b, "IHDR", ihdr, 13, 13);
}

/* A 16x16 gray PNG whose only image data is valid, preceded by `extra`. */
static void png_tail_16(buf *b)
{
    uint8_t raw[16 * 17], z[512];
    uLongf zlen = sizeof z;
    memset(raw, 0x40, sizeof raw);
    for (int y = 0; y < 16; y++)
        raw[y * 17] = 0;
    assert_int_equal(compress(z, &zlen, raw, sizeof raw), Z_OK);
    png_chunk(b, "IDAT", z, (uint32_t)zlen, (uint32_t)zlen);
    png_chunk(b, "IEND", NULL, 0, 0);
}

static void test_png_chunk_lengths(void **state)
{
    static const char *types[] = {"tEXt", "zTXt", "iTXt", "iCCP", "sPLT", "eXIf",
                                  "pCAL", "sCAL", "abCd", "IDAT", "PLTE"};
    (void)state;
    printf("PNG chunks claiming 2 GiB (42-byte files):\n");
    for (size_t i = 0; i < sizeof types / sizeof types[0]; i++) {
        buf b = {0};
        cost c;
        png_head(&b, 16, 16, 0, 8);
        b_be32(&b, 0x7ffffff0u);
        b_add(&b, types[i], 4);
        b_add(&b, "x", 1);
        assert_int_equal(b.size, 42);
        c = decode_cost(&b, NULL);
        assert_true(c.status == PNEUMO_ERR_FORMAT || c.status == PNEUMO_ERR_LIMIT);
        report(types[i], c, BASE_BYTES, 0.5);
        free(b.data);
    }
}

/* Ancillary chunks that inflate to a lot (zTXt/iCCP bombs) and many of them. */
static void test_png_chunk_bombs(void **state)
{
    uint8_t *zeros = calloc(1, 16u << 20);
    uint8_t *z;
    uLongf zlen = compressBound(16u << 20);
    buf b = {0};
    pneumo_image *img = NULL;
    cost c;
    (void)state;
    assert_non_null(zeros);
    z = malloc(zlen + 8);
    assert_non_null(z);
    memcpy(z, "k\0\0", 3); /* keyword "k", NUL, compression method 0 */
    assert_int_equal(compress2(z + 3, &zlen, zeros, 16u << 20, 9), Z_OK);
    png_head(&b, 16, 16, 0, 8);
    for (int i = 0; i < 200; i++) {
        png_chunk(&b, "zTXt", z, (uint32_t)zlen + 3, (uint32_t)zlen + 3);
        png_chunk(&b, i % 2 ? "iCCP" : "tEXt", z, (uint32_t)zlen + 3, (uint32_t)zlen + 3);
    }
    png_tail_16(&b);
    printf("PNG with 400 text/iCCP chunks inflating to 16 MiB each (%zu bytes):\n", b.size);
    /* the image decodes to its pixels */
    if (pneumo_image_decode(b.data, b.size, "bombs", NULL, &img) != PNEUMO_OK)
        fail_msg("%s", pneumo_last_error());
    assert_int_equal(pneumo_image_width(img), 16);
    assert_int_equal(pneumo_image_pixels(img)[255], 0x40);
    pneumo_image_destroy(img);
    c = decode_cost(&b, NULL);
    assert_int_equal(c.status, PNEUMO_OK);
    report("zTXt/iCCP bombs", c, BASE_BYTES, 1.0);
    free(b.data);
    free(z);
    free(zeros);
}

/* Headers claiming the largest image the limits allow, with no data behind. */
static void test_huge_headers(void **state)
{
    buf b = {0};
    cost c;
    (void)state;
    printf("headers claiming 16384x8192 with no pixel data:\n");
    png_head(&b, 16384, 8192, 6, 16);
    png_chunk(&b, "IDAT", "x", 1, 1);
    c = decode_cost(&b, NULL);
    assert_int_equal(c.status, PNEUMO_ERR_FORMAT);
    /* the 128 MiB output exists before the first row fails; meson's
     * MALLOC_PERTURB_ fills it, and its page faults took 0.51 s of CPU in a
     * CI run on 2 loaded cores: the same 1 s as the JPEG header below, still
     * far from a hang */
    report("PNG RGBA16 16384x8192", c, 5.0 * 16384 * 8192 + BASE_BYTES, 1.0);
    free(b.data);
}

/* Offset just past the header of the first (last = 0) or last (last = 1) SOS. */
static size_t sos_data(const buf *b, int last)
{
    size_t found = 0;
    for (size_t i = 2; i + 4 < b->size; i++)
        if (b->data[i] == 0xFF && b->data[i + 1] == 0xDA) {
            found = i + 2 + (((size_t)b->data[i + 2] << 8) | b->data[i + 3]);
            if (!last)
                break;
        }
    assert_true(found > 0);
    return found;
}

/* Keep `keep` bytes of the file and append EOI: the entropy data ends early at
 * a marker, which libjpeg's arithmetic decoder takes without a warning. */
static buf cut_with_eoi(const buf *b, size_t keep)
{
    buf t = {0};
    static const uint8_t eoi[2] = {0xFF, 0xD9};
    b_add(&t, b->data, keep);
    b_add(&t, eoi, 2);
    return t;
}

static void test_jpeg_scan_limit(void **state)
{
    pneumo_decode_limits lim;
    buf b = jpeg_encode(256, 256, 3, 0, SCANS_PER_COEFFICIENT, 1);
    pneumo_image *img = NULL;
    cost c;
    (void)state;
    printf("JPEG with 190 progressive scans:\n");
    c = decode_cost(&b, NULL);
    assert_int_equal(c.status, PNEUMO_ERR_LIMIT);
    report("default limit (100 scans)", c, BASE_BYTES, 0.5);
    assert_int_equal(pneumo_image_decode(b.data, b.size, "scans", NULL, &img), PNEUMO_ERR_LIMIT);
    assert_non_null(strstr(pneumo_last_error(), "more than the limit of 100 scans"));
    pneumo_decode_default_limits(&lim);
    lim.max_scans = 190;
    assert_int_equal(pneumo_image_decode(b.data, b.size, "scans", &lim, &img), PNEUMO_OK);
    assert_int_equal(pneumo_image_width(img), 256);
    pneumo_image_destroy(img);
    lim.max_scans = 189;
    assert_int_equal(pneumo_image_decode(b.data, b.size, "scans", &lim, &img), PNEUMO_ERR_LIMIT);
    free(b.data);
}

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void test_jpeg_deadline(void **state)
{
    pneumo_decode_limits lim;
    buf b = jpeg_encode(1024, 1024, 3, 1, SCANS_PER_COEFFICIENT, 1);
    pneumo_image *img = NULL;
    double t0, full, cut;
    cost c;
    (void)state;
    pneumo_decode_default_limits(&lim);
    lim.max_scans = 1000;
    t0 = now_s();
    assert_int_equal(pneumo_image_decode(b.data, b.size, "slow", &lim, &img), PNEUMO_OK);
    full = now_s() - t0;
    pneumo_image_destroy(img);
    lim.deadline_ms = 10;
    t0 = now_s();
    assert_int_equal(pneumo_image_decode(b.data, b.size, "slow", &lim, &img), PNEUMO_ERR_LIMIT);
    cut = now_s() - t0;
    assert_null(img);
    assert_non_null(strstr(pneumo_last_error(), "longer than the 10 ms deadline"));
    printf("arithmetic progressive 1024x1024, 190 scans: %.3f s in full, %.3f s with a 10 ms "
           "deadline\n",
           full, cut);
    assert_true(full > 0.03); /* else the deadline case proves nothing */
    assert_true(cut < full);
    c = decode_cost(&b, &lim);
    assert_int_equal(c.status, PNEUMO_ERR_LIMIT);
    report("deadline 10 ms", c, 9.0 * 1024 * 1024 + BASE_BYTES, 0.5);
    free(b.data);
}

static void test_jpeg_arith_truncated(void **state)
{
    static const struct {
        int w, h, comps, scans;
    } shapes[] = {
        {512, 512, 1, SCANS_BASELINE},
        {512, 512, 3, SCANS_BASELINE},
        {512, 512, 3, SCANS_SIMPLE},
        {300, 700, 1, SCANS_SIMPLE},
    };
    (void)state;
    for (size_t i = 0; i < sizeof shapes / sizeof shapes[0]; i++) {
        buf b = jpeg_encode(shapes[i].w, shapes[i].h, shapes[i].comps, 1, shapes[i].scans, 1);
        size_t first = sos_data(&b, 0), last = sos_data(&b, 1);
        pneumo_image *img = NULL;
        const size_t keeps[] = {first + (b.size - first) / 3, last + (b.size - last) / 4};
        assert_int_equal(pneumo_image_decode(b.data, b.size, "whole", NULL, &img), PNEUMO_OK);
        pneumo_image_destroy(img);
        for (int k = 0; k < 2; k++) {
            buf t = cut_with_eoi(&b, keeps[k]);
            pneumo_status st = pneumo_image_decode(t.data, t.size, "cut", NULL, &img);
            if (st != PNEUMO_ERR_FORMAT)
                fail_msg("%dx%dx%d scans %d arithmetic, cut at %zu of %zu: status %d (%s)", shapes[i].w,
                         shapes[i].h, shapes[i].comps, shapes[i].scans, keeps[k], b.size, st,
                         pneumo_last_error());
            assert_null(img);
            assert_non_null(strstr(pneumo_last_error(), "truncated JPEG"));
            /* the Huffman-coded file cut the same way fails too */
            free(t.data);
        }
        free(b.data);
        b = jpeg_encode(shapes[i].w, shapes[i].h, shapes[i].comps, 0, shapes[i].scans, 1);
        {
            buf t = cut_with_eoi(&b, sos_data(&b, 0) + (b.size - sos_data(&b, 0)) / 3);
            assert_int_equal(pneumo_image_decode(t.data, t.size, "cut", NULL, &img), PNEUMO_ERR_FORMAT);
            free(t.data);
        }
        free(b.data);
    }
}

/* Complete arithmetic-coded files whose rows cost almost no bits must not
 * look truncated (the decoder reaches EOI early there). */
static void test_jpeg_arith_flat_whole(void **state)
{
    static const struct {
        int w, h, comps;
    } shapes[] = {
        {8, 4096, 1}, {4096, 8, 1}, {1, 1, 1}, {16, 16, 3}, {64, 2048, 3}, {8, 8192, 3},
    };
    (void)state;
    for (size_t i = 0; i < sizeof shapes / sizeof shapes[0]; i++)
        for (int scans = SCANS_BASELINE; scans <= SCANS_SIMPLE; scans++) {
            buf b = jpeg_encode(shapes[i].w, shapes[i].h, shapes[i].comps, 1, scans, 0);
            pneumo_image *img = NULL;
            pneumo_status st = pneumo_image_decode(b.data, b.size, "flat", NULL, &img);
            if (st != PNEUMO_OK)
                fail_msg("flat %dx%dx%d scans %d: %s", shapes[i].w, shapes[i].h, shapes[i].comps, scans,
                         pneumo_last_error());
            assert_int_equal(pneumo_image_pixels(img)[0], 0x80);
            pneumo_image_destroy(img);
            free(b.data);
        }
}

static void test_jpeg_huge_progressive_header(void **state)
{
    buf b = jpeg_encode(64, 64, 3, 0, SCANS_SIMPLE, 1);
    cost c;
    (void)state;
    /* SOF2 claims 8192 x 8192: progressive decoding needs a coefficient buffer
     * for the whole image, which must only grow with the data present */
    for (size_t i = 2; i + 9 < b.size; i++)
        if (b.data[i] == 0xFF && b.data[i + 1] == 0xC2) {
            b.data[i + 5] = 0x20, b.data[i + 6] = 0x00;
            b.data[i + 7] = 0x20, b.data[i + 8] = 0x00;
            break;
        }
    c = decode_cost(&b, NULL);
    assert_int_equal(c.status, PNEUMO_ERR_FORMAT);
    report("progressive JPEG header claiming 8192x8192", c, 9.0 * 8192 * 8192 + BASE_BYTES, 1.0);
    free(b.data);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_png_chunk_lengths),     cmocka_unit_test(test_png_chunk_bombs),
        cmocka_unit_test(test_huge_headers),          cmocka_unit_test(test_jpeg_scan_limit),
        cmocka_unit_test(test_jpeg_deadline),         cmocka_unit_test(test_jpeg_arith_truncated),
        cmocka_unit_test(test_jpeg_arith_flat_whole), cmocka_unit_test(test_jpeg_huge_progressive_header),
    };
    if (!bounds_checked())
        printf("AddressSanitizer build or emulator: memory and CPU bounds are printed, not "
               "checked\n");
    return cmocka_run_group_tests(tests, NULL, NULL);
}
