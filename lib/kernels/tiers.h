/* The per-tier init functions (dav1d's *_dsp_init_<arch>): each overrides
 * the slots its tier implements and records, in k->impl, which tier fills
 * them. They live in the per-ISA static libraries (built with that ISA's
 * flags); call one only after lib/kernels/cpu.c found the CPU features its
 * tier needs. */
#ifndef PN_KERNELS_TIERS_H
#define PN_KERNELS_TIERS_H

#include "kernels/kernels.h"

void pn_kernels_init_avx2(pn_kernels *k);
void pn_kernels_init_avx512(pn_kernels *k);
void pn_kernels_init_neon(pn_kernels *k);

/* k->op = pn_f32_<op>__<isa>, and record the tier */
#define PN_KERNEL_SET(k, isa, op) ((k)->op = pn_f32_##op##__##isa, (k)->impl[PN_KOP_##op] = #isa)

#endif
