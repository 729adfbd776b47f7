/* Fixtures shared by the safetensors tests (safetensors_fixtures.h). */
#include "testutil.h"

#include <dirent.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/file.h"
#include "format/json.h"
#include "format/safetensors.h"

#include "safetensors_fixtures.h"

void make_sample(sample *s)
{
    uint64_t rng = 7;
    tu_fill(&rng, s->kernel, 36, -1.0f, 1.0f);
    tu_fill(&rng, s->bias, 4, -0.1f, 0.1f);
    s->scalar[0] = 0.5f;
    tu_fill(&rng, s->dense, 10, -2.0f, 2.0f);
    s->dense[3] = NAN;
    s->dense[4] = -INFINITY;
    s->dense[5] = -0.0f;
    s->dense[6] = 1.4e-45f; /* subnormal */
    s->tensors[0] = (pn_st_tensor){"conv2d/kernel", 4, {3, 3, 1, 4}, s->kernel};
    s->tensors[1] = (pn_st_tensor){"conv2d/bias", 1, {4, 0, 0, 0}, s->bias};
    s->tensors[2] = (pn_st_tensor){"optimizer/step", 0, {0, 0, 0, 0}, s->scalar};
    s->tensors[3] = (pn_st_tensor){"empty", 2, {0, 7, 0, 0}, NULL};
    s->tensors[4] = (pn_st_tensor){"dense/kernel", 2, {5, 2, 0, 0}, s->dense};
    s->meta[0] = (pn_st_meta){"format", "pneumo"};
    s->meta[1] = (pn_st_meta){"config", "{\"layers\": [\"conv2d\"], \"q\": \"\\\"\"}"};
    s->meta[2] = (pn_st_meta){"unicode", "caf\xc3\xa9 \xf0\x9f\x98\x80\n"};
}

/* A valid in-memory image of the sample. */
void sample_image(pn_buf *img)
{
    sample s;
    make_sample(&s);
    pn_buf_init(img);
    assert_int_equal(pn_safetensors_serialize("mem", s.meta, 3, s.tensors, 5, img), PNEUMO_OK);
}
