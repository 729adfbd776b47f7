/* Conv2D kernels for AVX512 (see conv2d_tmpl.h). */
#define PN_SIMD_AVX512 1
#include "kernels/x86/conv2d_tmpl.h"
