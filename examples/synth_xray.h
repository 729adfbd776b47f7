/* SYNTHETIC X-ray-like images for demos and tests: two dark lung fields on a
 * brighter body; class 1 ("Opacity") adds bright hazy patches inside the lungs.
 * They are not real X-rays. */
#ifndef PNEUMO_EXAMPLES_SYNTH_XRAY_H
#define PNEUMO_EXAMPLES_SYNTH_XRAY_H

#include <stdint.h>

/* splitmix64 step and a uniform float in [0, 1) */
uint64_t synth_next(uint64_t *state);
float synth_uniform(uint64_t *state);

/* Fill an n x n row-major image with values in [0, 1]. */
void synth_xray(float *img, int n, int label, uint64_t *state);

#endif
