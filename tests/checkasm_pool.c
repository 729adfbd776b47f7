/* Max-pooling kernels against the reference. */
#include "checkasm.h"

/* ------------------------------------------------------------------ pooling */

stat st_pool_fwd = {.name = "maxpool_fwd"}, st_pool_bwd = {.name = "maxpool_bwd"};

static void check_pool(const pn_kernels *k, const pn_pool2d_shape *s)
{
    const size_t nx = (size_t)s->n * s->ih * s->iw * s->c, ny = (size_t)s->n * s->oh * s->ow * s->c;
    char shape[160];
    float *x = rand_buf(nx, 0.3f), *dy = rand_buf(ny, 0.0f);
    float *ry = xmalloc(ny * sizeof(float)), *rdx = xmalloc(nx * sizeof(float));
    uint8_t *ram = xmalloc(ny);
    gbuf y = gb_new(ny), dx = gb_new(nx);
    uint8_t *am = xmalloc(ny + 2 * GUARD);
    snprintf(shape, sizeof shape, "n%d %dx%dx%d -> %dx%d win %dx%d s%dx%d pad %d,%d", s->n, s->ih, s->iw,
             s->c, s->oh, s->ow, s->ph, s->pw, s->sh, s->sw, s->pad_top, s->pad_left);
    /* ties: quantise some inputs so equal maxima occur */
    for (size_t i = 0; i < nx; i += 3)
        x[i] = roundf(x[i] * 2.0f) * 0.5f;
    memset(am, 0xa5, ny + 2 * GUARD);
    pn_kernels_ref.maxpool_fwd(s, x, ry, ram);
    k->maxpool_fwd(s, x, y.p, am + GUARD);
    note_call(&st_pool_fwd, shape, 0);
    compare(&st_pool_fwd, y.p, ry, NULL, ny, 0.0, k->isa, shape);
    if (memcmp(am + GUARD, ram, ny))
        report_fail(&st_pool_fwd, k->isa, "argmax differs", shape);
    for (size_t i = 0; i < GUARD; i++)
        if (am[i] != 0xa5 || am[GUARD + ny + i] != 0xa5) {
            report_fail(&st_pool_fwd, k->isa, "argmax guard zone", shape);
            break;
        }
    check_guard(&st_pool_fwd, &y, k->isa, shape);

    for (size_t i = 0; i < nx; i++)
        dx.p[i] = 1e30f;
    pn_kernels_ref.maxpool_bwd(s, dy, ram, rdx);
    k->maxpool_bwd(s, dy, ram, dx.p);
    note_call(&st_pool_bwd, shape, 0);
    compare(&st_pool_bwd, dx.p, rdx, NULL, nx, 0.0, k->isa, shape);
    check_guard(&st_pool_bwd, &dx, k->isa, shape);
    gb_free(&y);
    gb_free(&dx);
    free(x);
    free(dy);
    free(ry);
    free(rdx);
    free(ram);
    free(am);
}

void test_pool(const pn_kernels *k, int iters)
{
    static const int chans[] = {1, 3, 17, 32, 64, 8, 16};
    for (int it = 0; it < iters; it++) {
        pn_pool2d_shape s;
        const int same = (int)(rnd() & 1);
        s.n = rnd_int(1, 3);
        s.ih = rnd_int(1, 20);
        s.iw = rnd_int(1, 40);
        s.c = rnd() % 4 ? pick(chans, 7) : rnd_int(1, 70);
        if (rnd() % 2) {
            s.ph = s.pw = 2;
            s.sh = s.sw = 2;
        } else {
            s.ph = rnd_int(1, 3);
            s.pw = rnd_int(1, 3);
            s.sh = rnd_int(1, 3);
            s.sw = rnd_int(1, 3);
        }
        s.oh = pn_window_out(s.ih, s.ph, s.sh, same, &s.pad_top);
        s.ow = pn_window_out(s.iw, s.pw, s.sw, same, &s.pad_left);
        if (s.oh < 1 || s.ow < 1)
            continue;
        check_pool(k, &s);
    }
}
