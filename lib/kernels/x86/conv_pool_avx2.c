/* Fused Conv2D + pool kernels for AVX2 (see conv_pool_tmpl.h). */
#define PN_SIMD_AVX2 1
#include "kernels/x86/conv_pool_tmpl.h"
