/* Pooling, dense, activation and optimizer kernels for AVX2 (see misc_tmpl.h). */
#define PN_SIMD_AVX2 1
#include "kernels/x86/misc_tmpl.h"
