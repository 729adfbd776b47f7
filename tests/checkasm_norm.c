/* checkasm: the per-channel kernels of BatchNormalization and
 * GlobalAveragePooling2D. Every tier keeps the reference's summation order,
 * so all six must match it bit for bit. Channel counts cover the tails
 * around 4, 8 and 16 lanes, row counts the partial blocks of PN_CHAN_BLOCK. */
#include "checkasm.h"

stat st_chan_sums = {.name = "chan_sums"}, st_chan_grad = {.name = "chan_grad_sums"},
     st_chan_aff = {.name = "chan_affine"}, st_chan_aff2 = {.name = "chan_affine2"},
     st_gap_fwd = {.name = "gap_fwd"}, st_gap_bwd = {.name = "gap_bwd"};

static const int chans[] = {1, 2, 3, 4, 5, 7, 8, 9, 15, 16, 17, 31, 32, 33, 64, 65};
#define NCHANS ((int)(sizeof chans / sizeof chans[0]))

/* Doubles as floats for compare(): equal doubles give equal floats, and a
 * difference in the sums shows up in all but the last 29 bits. */
static float *to_float(const double *d, size_t n)
{
    float *f = xmalloc((n ? n : 1) * sizeof(float));
    for (size_t i = 0; i < n; i++)
        f[i] = (float)d[i];
    return f;
}

static void check_sums(stat *st, const double *got, const double *ref, size_t n, const char *isa,
                       const char *shape)
{
    float *g = to_float(got, n), *r = to_float(ref, n);
    int same = memcmp(got, ref, n * sizeof(double)) == 0;
    compare(st, g, r, NULL, n, 0.0, isa, shape);
    if (!same)
        report_fail(st, isa, "double sums differ from the reference", shape);
    free(g);
    free(r);
}

static void test_chan(const pn_kernels *k, int iters)
{
    for (int it = 0; it < iters; it++) {
        const int c = it < NCHANS ? chans[it] : chans[rnd_int(0, NCHANS - 1)];
        const size_t rows = (size_t)(rnd() % 3 ? rnd_int(1, 40) : rnd_int(41, 700));
        const size_t count = rows * (size_t)c;
        float *x = rand_buf(count, 0.05f), *dy = rand_buf(count, 0.05f), *shift = rand_buf((size_t)c, 0.0f);
        float *a = rand_buf((size_t)c, 0.0f), *b = rand_buf((size_t)c, 0.0f), *d = rand_buf((size_t)c, 0.0f);
        double *s1 = xmalloc((size_t)c * 8), *s2 = xmalloc((size_t)c * 8), *r1 = xmalloc((size_t)c * 8),
               *r2 = xmalloc((size_t)c * 8);
        float *r = xmalloc((count ? count : 1) * 4);
        gbuf y = gb_new(count);
        char shape[64];
        for (size_t i = 0; i < count; i++)
            x[i] = x[i] * 3.0f + 5.0f; /* an offset, as activations have */
        snprintf(shape, sizeof shape, "rows %zu c %d", rows, c);
        for (int with_shift = 0; with_shift < 2; with_shift++) {
            for (int i = 0; i < c; i++)
                s1[i] = r1[i] = 0.25 * i, s2[i] = r2[i] = 1.0;
            pn_kernels_ref.chan_sums(rows, c, x, with_shift ? shift : NULL, r1, r2);
            k->chan_sums(rows, c, x, with_shift ? shift : NULL, s1, s2);
            note_call(&st_chan_sums, shape, 0);
            check_sums(&st_chan_sums, s1, r1, (size_t)c, k->isa, shape);
            check_sums(&st_chan_sums, s2, r2, (size_t)c, k->isa, shape);
        }
        memset(s1, 0, (size_t)c * 8);
        memset(s2, 0, (size_t)c * 8);
        memset(r1, 0, (size_t)c * 8);
        memset(r2, 0, (size_t)c * 8);
        pn_kernels_ref.chan_grad_sums(rows, c, x, dy, shift, r1, r2);
        k->chan_grad_sums(rows, c, x, dy, shift, s1, s2);
        note_call(&st_chan_grad, shape, 0);
        check_sums(&st_chan_grad, s1, r1, (size_t)c, k->isa, shape);
        check_sums(&st_chan_grad, s2, r2, (size_t)c, k->isa, shape);

        pn_kernels_ref.chan_affine(rows, c, x, a, b, r);
        k->chan_affine(rows, c, x, a, b, y.p);
        note_call(&st_chan_aff, shape, 0);
        compare(&st_chan_aff, y.p, r, NULL, count, 0.0, k->isa, shape);
        check_guard(&st_chan_aff, &y, k->isa, shape);

        pn_kernels_ref.chan_affine2(rows, c, dy, x, shift, a, b, d, r);
        k->chan_affine2(rows, c, dy, x, shift, a, b, d, y.p);
        note_call(&st_chan_aff2, shape, 0);
        compare(&st_chan_aff2, y.p, r, NULL, count, 0.0, k->isa, shape);
        check_guard(&st_chan_aff2, &y, k->isa, shape);

        gb_free(&y);
        free(x);
        free(dy);
        free(shift);
        free(a);
        free(b);
        free(d);
        free(s1);
        free(s2);
        free(r1);
        free(r2);
        free(r);
    }
}

static void test_gap(const pn_kernels *k, int iters)
{
    for (int it = 0; it < iters; it++) {
        const int c = it < NCHANS ? chans[it] : chans[rnd_int(0, NCHANS - 1)];
        const int n = rnd_int(1, 4), hw = rnd() % 3 ? rnd_int(1, 50) : rnd_int(51, 900);
        const size_t in = (size_t)n * (size_t)hw * (size_t)c, out = (size_t)n * (size_t)c;
        float *x = rand_buf(in, 0.05f), *dy = rand_buf(out, 0.0f), *r = xmalloc(in * 4);
        gbuf y = gb_new(out), dx = gb_new(in);
        char shape[64];
        snprintf(shape, sizeof shape, "n %d hw %d c %d", n, hw, c);
        pn_kernels_ref.gap_fwd(n, hw, c, x, r);
        k->gap_fwd(n, hw, c, x, y.p);
        note_call(&st_gap_fwd, shape, 0);
        compare(&st_gap_fwd, y.p, r, NULL, out, 0.0, k->isa, shape);
        check_guard(&st_gap_fwd, &y, k->isa, shape);
        pn_kernels_ref.gap_bwd(n, hw, c, dy, r);
        k->gap_bwd(n, hw, c, dy, dx.p);
        note_call(&st_gap_bwd, shape, 0);
        compare(&st_gap_bwd, dx.p, r, NULL, in, 0.0, k->isa, shape);
        check_guard(&st_gap_bwd, &dx, k->isa, shape);
        gb_free(&y);
        gb_free(&dx);
        free(x);
        free(dy);
        free(r);
    }
}

void test_norm(const pn_kernels *k, int iters)
{
    test_chan(k, iters);
    test_gap(k, iters);
}
