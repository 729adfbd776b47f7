/* Fixtures shared by the augmentation tests: a test grid, the Keras
 * reference transform written from the Keras formulas, and option sets. */
#ifndef PN_AUGMENT_FIXTURES_H
#define PN_AUGMENT_FIXTURES_H

#include "testutil.h"

/* A grid whose value depends non-linearly on both axes, so a swapped axis or
 * a sign error shows. */
void make_grid(uint8_t *img, int w, int h);

void full_options(pneumo_augment_options *o);

#endif
