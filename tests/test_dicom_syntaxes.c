/* DICOM transfer syntaxes: 16- and 8-bit pictures transcoded by DCMTK's
 * tools (dicom_fixtures.h) decode to the expected pixels, X-rays of
 * ../shared/data wrapped as DICOM match their JPEG originals, and a dataset
 * folder of DICOM files loads. */
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
    fixture fx = {.rows = H,
                  .cols = W,
                  .spp = 1,
                  .bits_allocated = 16,
                  .bits_stored = 12,
                  .photometric = "MONOCHROME2",
                  .pixels = px,
                  .center = "2048",
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
    fixture fx = {.rows = H,
                  .cols = W,
                  .spp = 1,
                  .bits_allocated = 8,
                  .bits_stored = 8,
                  .photometric = "MONOCHROME2",
                  .pixels = px,
                  .center = "128",
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

/* ---- the same X-ray as JPEG and as DICOM ---- */

static int cmp_str(const void *a, const void *b) { return strcmp(*(char *const *)a, *(char *const *)b); }

/* Components of a JPEG file (from its first SOF0..SOF2 marker), or 0. */
static int jpeg_components(const char *path)
{
    size_t n;
    uint8_t *d = tu_read_all(path, &n);
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
    snprintf(cmd, sizeof cmd,
             "cp '%s' '%s' && dcmodify -nb -i '(0028,1050)=128' -i "
             "'(0028,1051)=256' '%s' >/dev/null 2>&1",
             dcm, win, win);
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
    printf("%s (%s): P(JPEG) %.6f, P(DICOM) %.6f, P(DICOM, identity window) %.6f\n", tag, jpeg, (double)pj,
           (double)pd, (double)pw);
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
               "chest_xray_224/test_dev/Opacity\n",
               data);
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
            fixture fx = {.rows = H,
                          .cols = W,
                          .spp = 1,
                          .bits_allocated = 8,
                          .bits_stored = 8,
                          .photometric = "MONOCHROME2",
                          .pixels = px};
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

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_transfer_syntaxes16),
        cmocka_unit_test(test_transfer_syntaxes8),
        cmocka_unit_test(test_xray_jpeg_vs_dicom),
        cmocka_unit_test(test_dataset_dir),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
