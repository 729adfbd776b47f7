/* CPU feature detection and kernel-table initialisation (dav1d style).
 *
 * Detection gives a set of feature flags (x86: CPUID + XGETBV; AArch64:
 * HWCAP). A table starts as the scalar reference and each tier whose flags
 * are all present overrides the slots it implements, in the order of
 * pn_kernel_tiers (avx2 then avx512 on x86, neon on AArch64). PNEUMO_ISA caps
 * the tiers applied. Detection and the tables are built once per process
 * (pthread_once); everything here is thread-safe and read-only afterwards. */
#ifndef PN_KERNELS_CPU_H
#define PN_KERNELS_CPU_H

#include "kernels/kernels.h"

enum {
    PN_CPU_FLAG_AVX2 = 1u << 0,   /* AVX2 + FMA3, OS saves YMM state */
    PN_CPU_FLAG_AVX512 = 1u << 1, /* AVX-512 F/BW/VL/DQ, OS saves ZMM + opmask state */
    PN_CPU_FLAG_NEON = 1u << 2    /* AArch64 Advanced SIMD (with FMA, part of ASIMD) */
};

/* One SIMD tier: its name, the flags it needs (all of them) and the function
 * that overrides the slots it implements. */
typedef struct pn_kernel_tier {
    const char *name;
    unsigned flags;
    void (*init)(pn_kernels *k);
} pn_kernel_tier;

/* The tiers compiled into this build, scalar first (flags 0, init NULL),
 * then in the order they are applied; *count receives their number. */
const pn_kernel_tier *pn_kernel_tiers(int *count);

/* The features this CPU and OS have among those of the compiled tiers
 * (ignores PNEUMO_ISA). pn_kernels_get() applies them capped by the
 * PNEUMO_ISA environment variable (a tier name: only that tier's flags are
 * kept; "scalar" keeps none; names not compiled into this build are
 * ignored), read once. */
unsigned pn_cpu_flags(void);

/* Name of the best tier the flags enable ("scalar" for none). */
const char *pn_cpu_flags_name(unsigned flags);

/* The table for an explicit tier by name (the reference overridden by every
 * tier whose flags are a subset of that tier's, as pn_kernels_get() would
 * build it on a CPU with exactly those features), or NULL if the name is
 * unknown, the tier is not compiled in or this CPU cannot run it. Ignores
 * PNEUMO_ISA. "scalar" gives &pn_kernels_ref. Used by the kernel checker. */
const pn_kernels *pn_kernels_for_isa(const char *isa);

#endif
