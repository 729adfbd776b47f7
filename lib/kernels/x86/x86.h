/* x86 kernel tables. Each is a complete table: slots without a SIMD version
 * point at the scalar reference. The tables live in the per-ISA static
 * libraries (built with their own -m flags); only call through them after the
 * CPU check in lib/kernels/cpu.c. */
#ifndef PN_KERNELS_X86_H
#define PN_KERNELS_X86_H

#include "kernels/kernels.h"

extern const pn_kernels pn_kernels_avx2;
extern const pn_kernels pn_kernels_avx512;

#endif
