/* CPU feature detection and kernel-tier selection (x86: CPUID + XGETBV).
 *
 * Detection runs once per process (pthread_once); everything here is
 * thread-safe and read-only afterwards. */
#ifndef PN_KERNELS_CPU_H
#define PN_KERNELS_CPU_H

#include "kernels/kernels.h"

typedef enum pn_isa {
    PN_ISA_SCALAR = 0,
    PN_ISA_AVX2 = 1,   /* AVX2 + FMA3, OS saves YMM state */
    PN_ISA_AVX512 = 2, /* AVX-512 F/BW/VL/DQ, OS saves ZMM + opmask state */
    PN_ISA_COUNT
} pn_isa;

/* The best tier this CPU and OS can run (ignores PNEUMO_ISA). */
pn_isa pn_cpu_isa(void);

/* The tier pn_kernels_get() uses: pn_cpu_isa() capped by the PNEUMO_ISA
 * environment variable (scalar | avx2 | avx512; unknown values are ignored),
 * read once. */
pn_isa pn_cpu_isa_selected(void);

/* Name of a tier ("scalar", "avx2", "avx512"); NULL for an invalid value. */
const char *pn_isa_name(pn_isa isa);

/* The table for an explicit tier by name ("scalar", "avx2", "avx512"), or NULL
 * if the name is unknown, the tier is not compiled in (non-x86 builds) or this
 * CPU cannot run it. Ignores PNEUMO_ISA. Used by the kernel checker. */
const pn_kernels *pn_kernels_for_isa(const char *isa);

#endif
