/* The avx512 tier: every op has a SIMD kernel (the kernels themselves fall
 * back to the scalar reference for shapes they do not handle). */
#include "kernels/tiers.h"

PN_KERNEL_PROTOS(avx512)

#define SET_(isa, name, params) PN_KERNEL_SET(k, isa, name);

void pn_kernels_init_avx512(pn_kernels *k)
{
    k->isa = "avx512";
    PN_KERNEL_OPS(SET_, avx512)
}
