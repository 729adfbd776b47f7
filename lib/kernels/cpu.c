#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "kernels/cpu.h"
#include "kernels/tiers.h"
#include "pneumo/common.h"

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

static unsigned detect(void)
{
    unsigned r[4], max_leaf, flags = 0;
    unsigned long long xcr0;
    int fma, avx, osxsave;
    __cpuid(0, max_leaf, r[1], r[2], r[3]);
    if (max_leaf < 7)
        return 0;
    cpuid_count(1, 0, r);
    fma = (r[2] >> 12) & 1;
    osxsave = (r[2] >> 27) & 1;
    avx = (r[2] >> 28) & 1;
    if (!osxsave || !avx || !fma)
        return 0;
    xcr0 = xgetbv0();
    if ((xcr0 & 0x6) != 0x6) /* SSE + YMM state */
        return 0;
    cpuid_count(7, 0, r);
    if ((r[1] >> 5) & 1) /* AVX2 */
        flags |= PN_CPU_FLAG_AVX2;
    /* AVX-512 F (16), DQ (17), BW (30), VL (31); OS must save opmask, ZMM_Hi256
     * and Hi16_ZMM (XCR0 bits 5, 6, 7). */
    if (((r[1] >> 16) & 1) && ((r[1] >> 17) & 1) && ((r[1] >> 30) & 1) && ((r[1] >> 31) & 1) &&
        (xcr0 & 0xe6) == 0xe6)
        flags |= PN_CPU_FLAG_AVX512;
    return flags;
}
#elif defined(__aarch64__) && defined(__linux__)
#include <sys/auxv.h>

static unsigned detect(void)
{
    /* HWCAP_ASIMD (bit 1); spelled out so older headers do not matter */
    return (getauxval(AT_HWCAP) & (1ul << 1)) ? PN_CPU_FLAG_NEON : 0;
}
#elif defined(__aarch64__)
/* Advanced SIMD is mandatory in AArch64 (Apple, BSDs). */
static unsigned detect(void) { return PN_CPU_FLAG_NEON; }
#else
static unsigned detect(void) { return 0; }
#endif

static const pn_kernel_tier tier_list[] = {
    {"scalar", 0, NULL},
#if defined(PNEUMO_HAVE_X86_KERNELS)
    {"avx2", PN_CPU_FLAG_AVX2, pn_kernels_init_avx2},
    {"avx512", PN_CPU_FLAG_AVX2 | PN_CPU_FLAG_AVX512, pn_kernels_init_avx512},
#endif
#if defined(PNEUMO_HAVE_NEON_KERNELS)
    {"neon", PN_CPU_FLAG_NEON, pn_kernels_init_neon},
#endif
};
#define NTIERS ((int)(sizeof tier_list / sizeof tier_list[0]))

static pthread_once_t cpu_once = PTHREAD_ONCE_INIT;
static unsigned cpu_flags, cpu_selected;
static pn_kernels tier_tables[NTIERS]; /* [0] unused: scalar is pn_kernels_ref */
static int tier_ok[NTIERS];
static const pn_kernels *selected_table = &pn_kernels_ref;

const pn_kernel_tier *pn_kernel_tiers(int *count)
{
    *count = NTIERS;
    return tier_list;
}

static int find_tier(const char *name)
{
    if (!name)
        return -1;
    for (int i = 0; i < NTIERS; i++)
        if (strcmp(name, tier_list[i].name) == 0)
            return i;
    return -1;
}

/* The reference, then every tier whose flags are all in `flags`, in order. */
static void build(pn_kernels *k, unsigned flags)
{
    *k = pn_kernels_ref;
    for (int i = 1; i < NTIERS; i++)
        if ((tier_list[i].flags & ~flags) == 0)
            tier_list[i].init(k);
}

static void cpu_init(void)
{
    unsigned compiled = 0;
    int cap;
    for (int i = 1; i < NTIERS; i++)
        compiled |= tier_list[i].flags;
    cpu_flags = detect() & compiled;
    cpu_selected = cpu_flags;
    cap = find_tier(getenv("PNEUMO_ISA"));
    if (cap >= 0)
        cpu_selected &= tier_list[cap].flags;
    for (int i = 1; i < NTIERS; i++) {
        tier_ok[i] = (tier_list[i].flags & ~cpu_flags) == 0;
        if (tier_ok[i])
            build(&tier_tables[i], tier_list[i].flags);
    }
    if (cpu_selected != 0) {
        static pn_kernels selected;
        build(&selected, cpu_selected);
        selected_table = &selected;
    }
}

unsigned pn_cpu_flags(void)
{
    pthread_once(&cpu_once, cpu_init);
    return cpu_flags;
}

const char *pn_cpu_flags_name(unsigned flags)
{
    const char *name = tier_list[0].name;
    for (int i = 1; i < NTIERS; i++)
        if ((tier_list[i].flags & ~flags) == 0)
            name = tier_list[i].name;
    return name;
}

const pn_kernels *pn_kernels_for_isa(const char *isa)
{
    const int i = find_tier(isa);
    pthread_once(&cpu_once, cpu_init);
    if (i < 0)
        return NULL;
    if (i == 0)
        return &pn_kernels_ref;
    return tier_ok[i] ? &tier_tables[i] : NULL;
}

const pn_kernels *pn_kernels_get(void)
{
    pthread_once(&cpu_once, cpu_init);
    return selected_table;
}

const char *pneumo_kernel_isa(void) { return pn_kernels_get()->isa; }
