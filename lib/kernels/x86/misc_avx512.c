/* Pooling, dense, activation and optimizer kernels for AVX512 (see misc_tmpl.h). */
#define PN_SIMD_AVX512 1
#include "kernels/x86/misc_tmpl.h"
