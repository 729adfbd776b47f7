/* Conv2D kernels for AVX2 (see conv2d_tmpl.h). */
#define PN_SIMD_AVX2 1
#include "kernels/x86/conv2d_tmpl.h"
