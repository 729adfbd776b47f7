/* JPEG / PNG decoding from memory, then both resampling filters. Limits are
 * lowered (4096 per side, 256 Kpixel, 64 scans) so that one input stays fast:
 * with 4 Mpixel the corpus soon fills with small files that inflate to the
 * largest image allowed, and the target slows to tens of runs a second. */
#include "fuzz.h"

#include "pneumo/image.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    pneumo_decode_limits lim;
    pneumo_image *img = NULL, *small = NULL;
    pneumo_decode_default_limits(&lim);
    lim.max_side = 4096;
    lim.max_pixels = 1 << 18;
    lim.max_scans = 64;
    if (pneumo_image_decode(data, size, "fuzz", &lim, &img) != PNEUMO_OK)
        return 0;
    if (pneumo_image_resize(img, 7, 5, PNEUMO_RESAMPLE_BILINEAR, &small) == PNEUMO_OK)
        pneumo_image_destroy(small);
    if (pneumo_image_resize(img, 13, 3, PNEUMO_RESAMPLE_NEAREST, &small) == PNEUMO_OK)
        pneumo_image_destroy(small);
    pneumo_image_destroy(img);
    return 0;
}
