/* checkasm's shared parts: random inputs, guarded buffers, comparison with
 * the reference and per-kernel statistics (checkasm.c), and each op group's
 * tests (checkasm_<group>.c). See checkasm.c for the whole description. */
#ifndef PN_CHECKASM_H
#define PN_CHECKASM_H

#include <float.h>
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "kernels/cpu.h"
#include "kernels/kernels.h"

#define TOL_SUM 2e-5
#define TOL_ELT 1e-6
#define GUARD 64 /* floats (or bytes) of canary either side of an output */

/* A float buffer of n values with GUARD canary floats either side. */
typedef struct gbuf {
    float *base, *p;
    size_t n;
} gbuf;

/* Per-kernel statistics of one tier's run. */
typedef struct stat {
    const char *name;
    int calls, fails;
    double worst;  /* max |got - ref| / bound */
    int fallbacks; /* checks whose shape the tier's kernel hands to the reference */
    /* the distinct shapes checked, and per shape whether it fell back */
    char **shapes;
    unsigned char *shape_fb;
    int nshapes, cap;
} stat;

extern uint64_t rng_state;
extern int total_fail;

uint64_t rnd(void);
int rnd_int(int lo, int hi);
float rnd_f(void);
int pick(const int *v, int n);
void *xmalloc(size_t n);
gbuf gb_new(size_t n);
int gb_guard_ok(const gbuf *g);
void gb_free(gbuf *g);
float *rand_buf(size_t n, float zero_frac);
float *abs_copy(const float *p, size_t n);
void report_fail(stat *st, const char *isa, const char *what, const char *shape);
int compare(stat *st, const float *got, const float *ref, const float *bound, size_t n, double tol,
            const char *isa, const char *shape);
void check_guard(stat *st, const gbuf *g, const char *isa, const char *shape);
/* One check of st's kernel on shape (fallback: the tier's kernel hands that
 * shape to the reference, pn_kernel_falls_back()). */
void note_call(stat *st, const char *shape, int fallback);

/* checkasm_conv.c: conv, fused conv + pool, Winograd */
int conv_make_shape(pn_conv2d_shape *s, int n, int ih, int iw, int ic, int oc, int kh, int kw, int sh, int sw,
                    int same);
extern stat st_conv_fwd, st_conv_bd, st_conv_bf, st_cpool, st_cpool_bf, st_cpool_bd, st_wino;
void test_conv(const pn_kernels *k, int iters);
void test_conv_pool(const pn_kernels *k, int iters);
void test_wino(const pn_kernels *k, int iters);
/* checkasm_pool.c */
extern stat st_pool_fwd, st_pool_bwd;
void test_pool(const pn_kernels *k, int iters);
/* checkasm_dense.c */
extern stat st_dense_fwd, st_dense_bd, st_dense_bw;
void test_dense(const pn_kernels *k, int iters);
/* checkasm_eltwise.c: activations, loss, optimizers, gradient sums */
extern stat st_act_fwd, st_act_bwd, st_adam, st_sgd, st_bce, st_accum;
void test_eltwise(const pn_kernels *k, int iters);

/* checkasm_norm.c: batch normalisation and global average pooling */
extern stat st_chan_sums, st_chan_grad, st_chan_aff, st_chan_aff2, st_gap_fwd, st_gap_bwd;
void test_norm(const pn_kernels *k, int iters);

/* checkasm_augment.c: the augmentation kernels (warp, brightness) */
extern stat st_warp, st_bright;
void test_augment(const pn_kernels *k, int iters);
/* checkasm_bench.c: --bench */
void run_bench(const pn_kernels *const *tiers, int ntiers, int quick, const char *pattern);

#endif
