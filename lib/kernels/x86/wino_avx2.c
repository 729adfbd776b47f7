/* Winograd F(4x4, 3x3) conv + pool inference kernel for AVX2 (see wino_tmpl.h). */
#define PN_SIMD_AVX2 1
#include "kernels/x86/wino_tmpl.h"
