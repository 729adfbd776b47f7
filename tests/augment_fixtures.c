/* Fixtures shared by the augmentation tests (augment_fixtures.h). */
#include "testutil.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "pneumo/augment.h"
#include "data/augment.h"

#include "augment_fixtures.h"

/* A grid whose value depends non-linearly on both axes, so a swapped axis or
 * a sign error shows. */
void make_grid(uint8_t *img, int w, int h)
{
    for (int r = 0; r < h; r++)
        for (int c = 0; c < w; c++)
            img[r * w + c] = (uint8_t)((r * 29 + c * c * 5 + r * c * 3) % 256);
}

/* ---- random draws ---------------------------------------------------------- */

void full_options(pneumo_augment_options *o)
{
    pneumo_augment_article_options(o);
    o->rotation_range = 20;
    o->width_shift_range = 0.1;
    o->height_shift_range = 0.15;
    o->vertical_flip = 1;
    o->brightness_lo = 0.7;
    o->brightness_hi = 1.3;
}
