/* The tier init of one SIMD ISA (compiled once per ISA, as every file in this
 * folder): every op has a kernel in the templates here; each kernel falls back
 * to the scalar reference for the shapes it does not handle (see its file). */
#include "kernels/simd/vec.h"
#include "kernels/tiers.h"

#define SET_(isa, name, params) PN_KERNEL_SET(k, isa, name);
#define INIT_FN PN_CAT(pn_kernels_init_, PN_SFX)
#define STR_(x) #x
#define STR(x) STR_(x)

void INIT_FN(pn_kernels *k)
{
    k->isa = STR(PN_SFX);
    k->lanes = VL;
    PN_KERNEL_OPS(SET_, PN_SFX)
}
