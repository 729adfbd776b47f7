/* Fixtures shared by the safetensors tests: a sample tensor set, its
 * comparison with what a load returns, and file writing. */
#ifndef PN_SAFETENSORS_FIXTURES_H
#define PN_SAFETENSORS_FIXTURES_H

#include "testutil.h"

#include "core/buf.h"
#include "format/safetensors.h"

/* Several tensors of different ranks, including a scalar, an empty tensor and
 * non-finite values (which must be carried, not rejected). */
typedef struct sample {
    float kernel[3 * 3 * 1 * 4];
    float bias[4];
    float scalar[1];
    float dense[5 * 2];
    pn_st_tensor tensors[5];
    pn_st_meta meta[3];
} sample;

void make_sample(sample *s);

/* A valid in-memory image of the sample. */
void sample_image(pn_buf *img);

#endif
