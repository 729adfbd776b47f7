#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "kernels/cpu.h"

#if defined(PNEUMO_HAVE_X86_KERNELS)
#include "kernels/x86/x86.h"
#endif

#if defined(__x86_64__) || defined(__i386__)
#include <cpuid.h>

static void cpuid_count(unsigned leaf, unsigned sub, unsigned r[4])
{
    __cpuid_count(leaf, sub, r[0], r[1], r[2], r[3]);
}

/* XGETBV without needing -mxsave on this (generic) file. */
static unsigned long long xgetbv0(void)
{
    unsigned lo, hi;
    __asm__ volatile(".byte 0x0f, 0x01, 0xd0" : "=a"(lo), "=d"(hi) : "c"(0));
    return ((unsigned long long)hi << 32) | lo;
}

static pn_isa detect(void)
{
    unsigned r[4], max_leaf;
    unsigned long long xcr0;
    int fma, avx, osxsave;
    __cpuid(0, max_leaf, r[1], r[2], r[3]);
    if (max_leaf < 7)
        return PN_ISA_SCALAR;
    cpuid_count(1, 0, r);
    fma = (r[2] >> 12) & 1;
    osxsave = (r[2] >> 27) & 1;
    avx = (r[2] >> 28) & 1;
    if (!osxsave || !avx || !fma)
        return PN_ISA_SCALAR;
    xcr0 = xgetbv0();
    if ((xcr0 & 0x6) != 0x6) /* SSE + YMM state */
        return PN_ISA_SCALAR;
    cpuid_count(7, 0, r);
    if (!((r[1] >> 5) & 1)) /* AVX2 */
        return PN_ISA_SCALAR;
    /* AVX-512 F (16), DQ (17), BW (30), VL (31); OS must save opmask, ZMM_Hi256
     * and Hi16_ZMM (XCR0 bits 5, 6, 7). */
    if (((r[1] >> 16) & 1) && ((r[1] >> 17) & 1) && ((r[1] >> 30) & 1) && ((r[1] >> 31) & 1) &&
        (xcr0 & 0xe6) == 0xe6)
        return PN_ISA_AVX512;
    return PN_ISA_AVX2;
}
#else
static pn_isa detect(void) { return PN_ISA_SCALAR; }
#endif

static pthread_once_t cpu_once = PTHREAD_ONCE_INIT;
static pn_isa cpu_best = PN_ISA_SCALAR;
static pn_isa cpu_selected = PN_ISA_SCALAR;

static const char *const isa_names[PN_ISA_COUNT] = {"scalar", "avx2", "avx512"};

static int parse_isa(const char *s, pn_isa *out)
{
    if (!s)
        return 0;
    for (int i = 0; i < PN_ISA_COUNT; i++)
        if (strcmp(s, isa_names[i]) == 0) {
            *out = (pn_isa)i;
            return 1;
        }
    return 0;
}

/* Tiers compiled into this build. */
static pn_isa compiled_max(void)
{
#if defined(PNEUMO_HAVE_X86_KERNELS)
    return PN_ISA_AVX512;
#else
    return PN_ISA_SCALAR;
#endif
}

static void cpu_init(void)
{
    pn_isa cap;
    cpu_best = detect();
    if (cpu_best > compiled_max())
        cpu_best = compiled_max();
    cpu_selected = cpu_best;
    if (parse_isa(getenv("PNEUMO_ISA"), &cap) && cap < cpu_selected)
        cpu_selected = cap;
}

pn_isa pn_cpu_isa(void)
{
    pthread_once(&cpu_once, cpu_init);
    return cpu_best;
}

pn_isa pn_cpu_isa_selected(void)
{
    pthread_once(&cpu_once, cpu_init);
    return cpu_selected;
}

const char *pn_isa_name(pn_isa isa)
{
    if ((int)isa < 0 || isa >= PN_ISA_COUNT)
        return NULL;
    return isa_names[isa];
}

static const pn_kernels *table_of(pn_isa isa)
{
    switch (isa) {
#if defined(PNEUMO_HAVE_X86_KERNELS)
    case PN_ISA_AVX512:
        return &pn_kernels_avx512;
    case PN_ISA_AVX2:
        return &pn_kernels_avx2;
#endif
    case PN_ISA_SCALAR:
        return &pn_kernels_ref;
    default:
        return NULL;
    }
}

const pn_kernels *pn_kernels_for_isa(const char *isa)
{
    pn_isa want;
    if (!parse_isa(isa, &want) || want > pn_cpu_isa())
        return NULL;
    return table_of(want);
}

const pn_kernels *pn_kernels_get(void)
{
    return table_of(pn_cpu_isa_selected());
}
