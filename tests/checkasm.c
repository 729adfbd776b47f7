/* checkasm: every kernel slot of every ISA tier this CPU supports, against the
 * scalar reference (lib/kernels/ref), in the style of dav1d's tests/checkasm.
 *
 *   checkasm [--seed=N] [--isa=NAME] [--test=PATTERN] [--bench[=PATTERN]] [--quick] [--list]
 *            [--shapes]
 *
 * One file per op group (checkasm_conv.c, _pool.c, _dense.c, _eltwise.c; the
 * timings in checkasm_bench.c); main() below runs the groups whose name or
 * ops match --test, at every tier, skipping a group whose functions a lower
 * tier already tested (the same pointers), and prints per op and tier the
 * function in use, the checks and distinct shapes tested, how many of them the
 * SIMD kernel hands to the reference (kernels.h: coverage), failures and the
 * worst error; then the shapes that fell back, by name (--shapes: every shape
 * tested, each marked "shape" or "fallback").
 *
 * Correctness: random shapes including odd edges (channels 1, 3, 17, 32, 64,
 * 80; widths 1..40; strides 1 and 2; valid and same padding; kernels 1x1, 3x3,
 * 5x3 and random; batch 1-3). Every output buffer sits between guard zones
 * filled with a canary pattern that must survive the call. Backward kernels
 * accumulate, so dw/db start non-zero.
 *
 * Tolerance: kernels that sum many products (conv, dense) are compared with a
 * normalised error |got - ref| <= TOL_SUM * B, where B is the same kernel run
 * in the reference on |inputs| (the sum of the magnitudes of all terms, so the
 * bound is scale-free and robust to cancellation). Summing K terms in another
 * order moves the result by at most ~K * 2^-24 * B, typically sqrt(K) * 2^-24
 * * B; TOL_SUM = 2e-5 covers the observed worst case (printed per kernel) with
 * margin for K up to a few thousand. Pooling and ReLU must match bit for bit;
 * element-wise arithmetic (sigmoid/tanh backward, Adam, SGD) within TOL_ELT =
 * 1e-6 relative (they match exactly unless the reference is FMA-contracted).
 *
 * --bench: per-kernel timings at the article's layer shapes (500x500x1 input,
 * 5 x [conv 3x3 valid + ReLU, maxpool 2x2]), GFLOP/s and the share of the
 * single-core FP32 FMA peak measured here with an FMA loop. */
#include "checkasm.h"

/* ------------------------------------------------------------------ utilities */

uint64_t rng_state = 1;

uint64_t rnd(void)
{
    uint64_t z = (rng_state += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

int rnd_int(int lo, int hi) { return lo + (int)(rnd() % (uint64_t)(hi - lo + 1)); }
float rnd_f(void) { return (float)((double)(rnd() >> 11) / 9007199254740992.0) * 2.0f - 1.0f; }
int pick(const int *v, int n) { return v[rnd() % (uint64_t)n]; }

void *xmalloc(size_t n)
{
    void *p = malloc(n ? n : 1);
    if (!p) {
        fprintf(stderr, "checkasm: out of memory\n");
        exit(2);
    }
    return p;
}

static const uint32_t CANARY = 0x7fa5a5a5u; /* a NaN nobody computes */

gbuf gb_new(size_t n)
{
    gbuf g;
    g.n = n;
    g.base = xmalloc((n + 2 * GUARD) * sizeof(float));
    for (size_t i = 0; i < n + 2 * GUARD; i++)
        memcpy(&g.base[i], &CANARY, 4);
    g.p = g.base + GUARD;
    return g;
}

int gb_guard_ok(const gbuf *g)
{
    for (size_t i = 0; i < GUARD; i++)
        if (memcmp(&g->base[i], &CANARY, 4) || memcmp(&g->p[g->n + i], &CANARY, 4))
            return 0;
    return 1;
}

void gb_free(gbuf *g) { free(g->base); }

float *rand_buf(size_t n, float zero_frac)
{
    float *p = xmalloc(n * sizeof(float));
    for (size_t i = 0; i < n; i++)
        p[i] = (zero_frac > 0.0f && (float)(rnd() % 1000) < zero_frac * 1000.0f) ? 0.0f : rnd_f();
    return p;
}

float *abs_copy(const float *p, size_t n)
{
    float *q = xmalloc(n * sizeof(float));
    for (size_t i = 0; i < n; i++)
        q[i] = fabsf(p[i]);
    return q;
}

int total_fail;

void report_fail(stat *st, const char *isa, const char *what, const char *shape)
{
    st->fails++;
    total_fail++;
    if (st->fails <= 5)
        fprintf(stderr, "FAIL %-18s %-7s %s: %s\n", st->name, isa, what, shape);
}

/* Compare with the normalised bound (tol > 0) or exactly (tol == 0). */
int compare(stat *st, const float *got, const float *ref, const float *bound, size_t n, double tol,
            const char *isa, const char *shape)
{
    char what[160];
    for (size_t i = 0; i < n; i++) {
        double d = fabs((double)got[i] - (double)ref[i]);
        if (tol == 0.0) {
            if (memcmp(&got[i], &ref[i], 4) != 0) {
                snprintf(what, sizeof what, "[%zu] got %.9g want %.9g (exact)", i, got[i], ref[i]);
                report_fail(st, isa, what, shape);
                return 0;
            }
            continue;
        }
        {
            double b = bound ? (double)bound[i] : fabs((double)ref[i]);
            double r = d / (b > 1e-30 ? b : 1e-30);
            if (!(d <= tol * b + 1e-30)) {
                snprintf(what, sizeof what, "[%zu] got %.9g want %.9g (bound %.3g)", i, got[i], ref[i], b);
                report_fail(st, isa, what, shape);
                return 0;
            }
            if (r > st->worst)
                st->worst = r;
        }
    }
    return 1;
}

void check_guard(stat *st, const gbuf *g, const char *isa, const char *shape)
{
    if (!gb_guard_ok(g))
        report_fail(st, isa, "wrote outside its output (guard zone)", shape);
}

void note_call(stat *st, const char *shape, int fallback)
{
    int i = 0;
    st->calls++;
    st->fallbacks += fallback != 0;
    while (i < st->nshapes && strcmp(st->shapes[i], shape) != 0)
        i++;
    if (i < st->nshapes)
        return;
    if (st->nshapes == st->cap) {
        st->cap = st->cap ? 2 * st->cap : 64;
        st->shapes = realloc(st->shapes, (size_t)st->cap * sizeof *st->shapes);
        st->shape_fb = realloc(st->shape_fb, (size_t)st->cap);
        if (!st->shapes || !st->shape_fb) {
            fprintf(stderr, "checkasm: out of memory\n");
            exit(2);
        }
    }
    st->shapes[i] = strcpy(xmalloc(strlen(shape) + 1), shape);
    st->shape_fb[i] = fallback != 0;
    st->nshapes++;
}

static void stat_reset(stat *st)
{
    for (int i = 0; i < st->nshapes; i++)
        free(st->shapes[i]);
    st->calls = st->fails = st->fallbacks = st->nshapes = 0;
    st->worst = 0.0;
}

static void stat_free(stat *st)
{
    stat_reset(st);
    free(st->shapes);
    free(st->shape_fb);
    st->shapes = NULL;
    st->shape_fb = NULL;
    st->cap = 0;
}

static int stat_fallback_shapes(const stat *st)
{
    int n = 0;
    for (int i = 0; i < st->nshapes; i++)
        n += st->shape_fb[i];
    return n;
}

/* ------------------------------------------------------------------ main */

/* Which ops each test group checks (for --test and the same-pointer skip),
 * and the statistics of each op's checks (the Winograd checks cover both of
 * their ops at once). */
#define MAX_GROUP_OPS 8
typedef struct group {
    const char *name;
    void (*run)(const pn_kernels *k, int iters);
    int iters, quick_iters;
    pn_kernel_op ops[MAX_GROUP_OPS];
    stat *stats[MAX_GROUP_OPS];
    int nops;
} group;

static const group groups[] = {
    {"conv",
     test_conv,
     300,
     60,
     {PN_KOP_conv2d_fwd, PN_KOP_conv2d_bwd_data, PN_KOP_conv2d_bwd_filter},
     {&st_conv_fwd, &st_conv_bd, &st_conv_bf},
     3},
    {"pool", test_pool, 200, 60, {PN_KOP_maxpool_fwd, PN_KOP_maxpool_bwd}, {&st_pool_fwd, &st_pool_bwd}, 2},
    {"conv_pool",
     test_conv_pool,
     150,
     40,
     {PN_KOP_conv2d_pool2_fwd, PN_KOP_conv2d_pool2_bwd_filter, PN_KOP_conv2d_pool2_bwd_data},
     {&st_cpool, &st_cpool_bf, &st_cpool_bd},
     3},
    {"wino",
     test_wino,
     100,
     30,
     {PN_KOP_conv2d_pool2_wino_fwd, PN_KOP_wino_weights},
     {&st_wino, &st_wino},
     2},
    {"dense",
     test_dense,
     60,
     20,
     {PN_KOP_dense_fwd, PN_KOP_dense_bwd_data, PN_KOP_dense_bwd_weights},
     {&st_dense_fwd, &st_dense_bd, &st_dense_bw},
     3},
    {"eltwise",
     test_eltwise,
     60,
     20,
     {PN_KOP_act_fwd, PN_KOP_act_bwd, PN_KOP_bce_logits, PN_KOP_adam_update, PN_KOP_sgd_update,
      PN_KOP_accumulate},
     {&st_act_fwd, &st_act_bwd, &st_bce, &st_adam, &st_sgd, &st_accum},
     6},
    {"norm",
     test_norm,
     60,
     20,
     {PN_KOP_chan_sums, PN_KOP_chan_grad_sums, PN_KOP_chan_affine, PN_KOP_chan_affine2, PN_KOP_gap_fwd,
      PN_KOP_gap_bwd},
     {&st_chan_sums, &st_chan_grad, &st_chan_aff, &st_chan_aff2, &st_gap_fwd, &st_gap_bwd},
     6},
    {"augment",
     test_augment,
     300,
     60,
     {PN_KOP_warp_bilinear_row, PN_KOP_pil_brightness},
     {&st_warp, &st_bright},
     2},
};
#define NGROUPS (sizeof groups / sizeof groups[0])

/* A group matches PATTERN when the pattern is a substring of its name or of
 * one of its ops' names (NULL matches everything). */
static int group_matches(const group *g, const char *pattern)
{
    if (!pattern || strstr(g->name, pattern))
        return 1;
    for (int i = 0; i < g->nops; i++)
        if (strstr(pn_kernel_op_name(g->ops[i]), pattern))
            return 1;
    return 0;
}

/* Whether tier t has a function for an op of g that no lower tier (the
 * reference included) already has: dav1d skips re-testing a pointer. */
static int group_new_at(const group *g, const pn_kernels *const *tiers, int t)
{
    for (int i = 0; i < g->nops; i++) {
        int seen = 0;
        for (int u = 0; u < t && !seen; u++)
            seen = pn_kernel_fn(tiers[u], g->ops[i]) == pn_kernel_fn(tiers[t], g->ops[i]);
        if (!seen)
            return 1;
    }
    return 0;
}

static void list_kernels(const pn_kernels *const *tiers, int ntiers)
{
    printf("%-24s", "op");
    for (int t = 0; t < ntiers; t++)
        printf(" %-31s", tiers[t]->isa);
    printf("\n");
    for (int op = 0; op < PN_KOP_COUNT; op++) {
        printf("%-24s", pn_kernel_op_name((pn_kernel_op)op));
        for (int t = 0; t < ntiers; t++) {
            char fn[64];
            snprintf(fn, sizeof fn, "%s__%s", pn_kernel_op_name((pn_kernel_op)op),
                     strcmp(tiers[t]->impl[op], "scalar") == 0 ? "ref" : tiers[t]->impl[op]);
            printf(" %-31s", fn);
        }
        printf("\n");
    }
    printf("in use (PNEUMO_ISA applied): %s\n", pn_kernels_get()->isa);
}

static void usage(const char *prog)
{
    fprintf(stderr,
            "usage: %s [--seed=N] [--isa=NAME] [--test=PATTERN] [--bench[=PATTERN]] [--quick] [--list]\n"
            "       [--shapes]\n"
            "  --test=PATTERN  only the test groups (conv, pool, conv_pool, wino, dense, eltwise)\n"
            "                  whose name or one of whose ops' names contains PATTERN\n"
            "  --bench=PATTERN only the timings of the ops whose name contains PATTERN\n"
            "  --list          the function each tier uses per op, then exit\n"
            "  --shapes        list every shape tested per op and tier (default: those that\n"
            "                  the tier's kernel hands to the scalar reference)\n",
            prog);
}

int main(int argc, char **argv)
{
    const char *only = NULL, *test_pat = NULL, *bench_pat = NULL;
    int bench = 0, quick = 0, list = 0, shapes = 0, ntiers = 0, nall;
    uint64_t seed = 1;
    const pn_kernel_tier *all = pn_kernel_tiers(&nall);
    const pn_kernels *tiers[8];

    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--bench") == 0)
            bench = 1;
        else if (strncmp(argv[i], "--bench=", 8) == 0)
            bench = 1, bench_pat = argv[i] + 8;
        else if (strncmp(argv[i], "--test=", 7) == 0)
            test_pat = argv[i] + 7;
        else if (strcmp(argv[i], "--list") == 0)
            list = 1;
        else if (strcmp(argv[i], "--shapes") == 0)
            shapes = 1;
        else if (strcmp(argv[i], "--quick") == 0)
            quick = 1;
        else if (strncmp(argv[i], "--seed=", 7) == 0)
            seed = strtoull(argv[i] + 7, NULL, 10);
        else if (strncmp(argv[i], "--isa=", 6) == 0)
            only = argv[i] + 6;
        else {
            usage(argv[0]);
            return 2;
        }
    }
    printf("checkasm: seed %" PRIu64 ", CPU tier %s, selected %s\n", seed, pn_cpu_flags_name(pn_cpu_flags()),
           pn_kernels_get()->isa);
    for (int i = 0; i < nall && ntiers < 8; i++) {
        const pn_kernels *k = pn_kernels_for_isa(all[i].name);
        if (only && strcmp(only, all[i].name) != 0 && i > 0)
            continue;
        if (!k) {
            printf("  %-7s not supported by this CPU: skipped\n", all[i].name);
            continue;
        }
        tiers[ntiers++] = k;
    }
    if (pn_kernels_for_isa("scalar") != &pn_kernels_ref || pn_kernels_for_isa("bogus") != NULL) {
        fprintf(stderr, "FAIL pn_kernels_for_isa\n");
        return 1;
    }
    for (int op = 0; op < PN_KOP_COUNT; op++)
        if (!pn_kernel_fn(&pn_kernels_ref, (pn_kernel_op)op) || !pn_kernels_ref.impl[op]) {
            fprintf(stderr, "FAIL reference slot %d empty\n", op);
            return 1;
        }
    if (list) {
        list_kernels(tiers, ntiers);
        return 0;
    }

    for (int t = 1; t < ntiers; t++) {
        const pn_kernels *k = tiers[t];
        int tested[NGROUPS] = {0};
        rng_state = seed;
        for (size_t g = 0; g < NGROUPS; g++)
            for (int i = 0; i < groups[g].nops; i++)
                stat_reset(groups[g].stats[i]);
        for (size_t g = 0; g < NGROUPS; g++) {
            if (!group_matches(&groups[g], test_pat))
                continue;
            if (!group_new_at(&groups[g], tiers, t)) {
                printf("  %-7s %-10s same functions as a lower tier: not retested\n", k->isa, groups[g].name);
                continue;
            }
            groups[g].run(k, quick ? groups[g].quick_iters : groups[g].iters);
            tested[g] = 1;
        }
        printf("\n%-7s %-24s %-7s %7s %7s %9s %6s %12s\n", "isa", "kernel", "impl", "checks", "shapes",
               "fallback", "fails", "worst err/B");
        for (size_t g = 0; g < NGROUPS; g++)
            for (int i = 0; tested[g] && i < groups[g].nops; i++) {
                const stat *st = groups[g].stats[i];
                printf("%-7s %-24s %-7s %7d %7d %9d %6d %12.2e\n", k->isa,
                       pn_kernel_op_name(groups[g].ops[i]), k->impl[groups[g].ops[i]], st->calls, st->nshapes,
                       stat_fallback_shapes(st), st->fails, st->worst);
            }
        /* the shapes themselves: every one with --shapes, else those that fell back */
        for (size_t g = 0; g < NGROUPS; g++)
            for (int i = 0; tested[g] && i < groups[g].nops; i++) {
                const stat *st = groups[g].stats[i];
                const char *name = pn_kernel_op_name(groups[g].ops[i]);
                for (int j = 0; j < st->nshapes; j++)
                    if (shapes || st->shape_fb[j])
                        printf("%-7s %-24s %s %s\n", k->isa, name, st->shape_fb[j] ? "fallback" : "shape   ",
                               st->shapes[j]);
            }
    }
    if (ntiers <= 1 && group_matches(&groups[3], test_pat)) {
        /* the reference Winograd kernel against its definition still runs */
        rng_state = seed;
        test_wino(&pn_kernels_ref, quick ? 30 : 100);
        printf("\n%-7s %-18s %7s %6s %12s\n", "isa", "kernel", "checks", "fails", "worst err/B");
        printf("%-7s %-18s %7d %6d %12.2e\n", "scalar", st_wino.name, st_wino.calls, st_wino.fails,
               st_wino.worst);
        printf("only the scalar tier is available: nothing else to compare\n");
    }
    for (size_t g = 0; g < NGROUPS; g++)
        for (int i = 0; i < groups[g].nops; i++)
            stat_free(groups[g].stats[i]);
    printf("%s\n", total_fail ? "checkasm: FAILED" : "checkasm: all passed");
    if (bench && !total_fail)
        run_bench(tiers, ntiers, quick, bench_pat);
    return total_fail ? 1 : 0;
}
