/* DICOM detection, in every build: a DICOM file is recognised by content;
 * a build without DICOM support answers UNSUPPORTED with a clear message, one
 * with it decodes the image. */
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

/* Both builds: DICOM is recognised by content; without DCMTK the answer says
 * so clearly, with it the image decodes. */
static void test_detection(void **state)
{
    (void)state;
    uint8_t px[16] = {0, 10, 20, 30};
    fixture fx = {.rows = 4,
                  .cols = 4,
                  .spp = 1,
                  .bits_allocated = 8,
                  .bits_stored = 8,
                  .photometric = "MONOCHROME2",
                  .pixels = px};
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
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
