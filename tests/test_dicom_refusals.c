/* DICOM refusals: unsupported and malformed files, short pixel data, huge
 * lengths, deep sequence nesting, JPEG scan limits, deflate bombs and random
 * mutations fail cleanly with a message. */
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
#define SOP_SR "1.2.840.10008.5.1.4.1.1.88.11"

/* Loading `path` fails with `status` and a message holding `needle` and no
 * patient-identifying value of the fixtures. */
static void load_fails(const char *path, const pneumo_decode_limits *lim, pneumo_status status,
                       const char *needle)
{
    pneumo_image *img = (pneumo_image *)(uintptr_t)1;
    pneumo_status st = pneumo_image_load(path, lim, &img);
    const char *msg = pneumo_last_error();
    if (st != status || !strstr(msg, needle))
        fail_msg("%s: status %d (want %d), message \"%s\" (want \"%s\")", path, (int)st, (int)status, msg,
                 needle);
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
        fail_msg("status %d (want %d), message \"%s\" (want \"%s\")", (int)st, (int)status, msg, needle);
    assert_null(img);
}

/* ---- what is refused ---- */

static void test_refused(void **state)
{
    (void)state;
    uint16_t px[2 * W * H] = {0};
    fixture mf = {.rows = H,
                  .cols = W,
                  .spp = 1,
                  .bits_allocated = 16,
                  .bits_stored = 12,
                  .photometric = "MONOCHROME2",
                  .pixels = px,
                  .pixel_bytes = sizeof px,
                  .frames = "2"};
    char *p = write_fixture(&mf, "multiframe.dcm");
    load_fails(p, NULL, PNEUMO_ERR_UNSUPPORTED, "multi-frame object (2 frames, SOP class " SOP_SC);
    free(p);

    fixture sr = {.no_pixels = 1, .sop = SOP_SR};
    p = write_fixture(&sr, "sr.dcm");
    load_fails(p, NULL, PNEUMO_ERR_UNSUPPORTED, SOP_SR " (BasicTextSRStorage) has no pixel");
    free(p);

    fixture pal = {.rows = H,
                   .cols = W,
                   .spp = 1,
                   .bits_allocated = 8,
                   .bits_stored = 8,
                   .photometric = "PALETTE COLOR",
                   .pixels = px};
    p = write_fixture(&pal, "palette.dcm");
    load_fails(p, NULL, PNEUMO_ERR_UNSUPPORTED, "PALETTE COLOR image");
    free(p);

    fixture j2k = {.rows = H,
                   .cols = W,
                   .spp = 1,
                   .bits_allocated = 8,
                   .bits_stored = 8,
                   .photometric = "MONOCHROME2",
                   .pixels = px,
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

    fixture big = {.rows = 600,
                   .cols = 700,
                   .spp = 1,
                   .bits_allocated = 8,
                   .bits_stored = 8,
                   .photometric = "MONOCHROME2",
                   .pixels = px,
                   .pixel_bytes = 16};
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
    fixture fx = {.rows = H,
                  .cols = W,
                  .spp = 1,
                  .bits_allocated = 16,
                  .bits_stored = 12,
                  .photometric = "MONOCHROME2",
                  .pixels = px,
                  .pixel_bytes = sizeof px - 10};
    char *p = write_fixture(&fx, "short.dcm");
    load_fails(p, NULL, PNEUMO_ERR_FORMAT,
               "pixel data is 6134 bytes, 64x48 pixels with 1 "
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
    fixture fx = {.rows = 4,
                  .cols = 4,
                  .spp = 1,
                  .bits_allocated = 8,
                  .bits_stored = 8,
                  .photometric = "MONOCHROME2",
                  .pixels = px};
    dbuf b = {0};
    build(&b, &fx);
    /* Every 32-bit length in the file (the long-VR ones and the meta group
     * length) in turn set to 0xFFFFFFF0 or 0x7FFFFFFF: an error, quickly. */
    clock_t t0 = clock();
    int tried = 0;
    for (size_t i = 132; i + 12 <= b.n; i++) {
        if (!(b.p[i + 4] == 'O' || b.p[i + 4] == 'S' || b.p[i + 4] == 'U') || b.p[i + 6] != 0 ||
            b.p[i + 7] != 0)
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
            assert_int_not_equal(pneumo_image_decode(c.p, c.n, "huge.dcm", NULL, &img), PNEUMO_OK);
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
    fixture fx = {.rows = 16,
                  .cols = 16,
                  .spp = 1,
                  .bits_allocated = 8,
                  .bits_stored = 8,
                  .photometric = "MONOCHROME2",
                  .ts = "1.2.840.10008.1.2.4.50",
                  .fragment = frag,
                  .fragment_len = n};
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
    fixture fx = {.rows = 1024,
                  .cols = 1024,
                  .spp = 1,
                  .bits_allocated = 8,
                  .bits_stored = 8,
                  .photometric = "MONOCHROME2",
                  .pixels = px};
    char *src = write_fixture(&fx, "zeros.dcm");
    char *def = transcode("dcmconv", "+td", src, "zeros_deflate.dcm");
    size_t n;
    uint8_t *d = tu_read_all(def, &n);
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
    fixture fx = {.rows = 6,
                  .cols = 8,
                  .spp = 1,
                  .bits_allocated = 16,
                  .bits_stored = 12,
                  .photometric = "MONOCHROME1",
                  .pixels = px,
                  .center = "2000",
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
        uint8_t *d = tu_read_all(out, &n);
        mutate_all(d, n);
        free(d);
        free(out);
    }
    free(src);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_refused),         cmocka_unit_test(test_short_pixel_data),
        cmocka_unit_test(test_huge_lengths),    cmocka_unit_test(test_deep_nesting),
        cmocka_unit_test(test_jpeg_scan_limit), cmocka_unit_test(test_deflate_bomb),
        cmocka_unit_test(test_mutations),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
