/* Dense kernels against the reference. */
#include "checkasm.h"

/* ------------------------------------------------------------------ dense */

stat st_dense_fwd = {.name = "dense_fwd"}, st_dense_bd = {.name = "dense_bwd_data"},
     st_dense_bw = {.name = "dense_bwd_weights"};

static void check_dense(const pn_kernels *k, int n, int in, int out)
{
    const size_t nx = (size_t)n * in, ny = (size_t)n * out, nw = (size_t)in * out;
    char shape[96];
    float *x = rand_buf(nx, 0.4f), *w = rand_buf(nw, 0.0f), *b = rand_buf((size_t)out, 0.0f);
    float *dy = rand_buf(ny, 0.0f), *dw0 = rand_buf(nw, 0.0f), *db0 = rand_buf((size_t)out, 0.0f);
    float *ax = abs_copy(x, nx), *aw = abs_copy(w, nw), *ab = abs_copy(b, (size_t)out);
    float *ady = abs_copy(dy, ny), *adw0 = abs_copy(dw0, nw), *adb0 = abs_copy(db0, (size_t)out);
    float *ref = xmalloc((nx > ny ? nx : ny) * sizeof(float)),
          *bnd = xmalloc((nx > ny ? nx : ny) * sizeof(float));
    gbuf y = gb_new(ny), dx = gb_new(nx), dw = gb_new(nw), db = gb_new((size_t)out);
    const int with_bias = (int)(rnd() & 1);
    snprintf(shape, sizeof shape, "n%d in%d out%d", n, in, out);

    pn_kernels_ref.dense_fwd(n, in, out, x, w, with_bias ? b : NULL, ref);
    pn_kernels_ref.dense_fwd(n, in, out, ax, aw, with_bias ? ab : NULL, bnd);
    k->dense_fwd(n, in, out, x, w, with_bias ? b : NULL, y.p);
    note_call(&st_dense_fwd, shape, 0);
    compare(&st_dense_fwd, y.p, ref, bnd, ny, TOL_SUM, k->isa, shape);
    check_guard(&st_dense_fwd, &y, k->isa, shape);

    pn_kernels_ref.dense_bwd_data(n, in, out, dy, w, ref);
    pn_kernels_ref.dense_bwd_data(n, in, out, ady, aw, bnd);
    k->dense_bwd_data(n, in, out, dy, w, dx.p);
    note_call(&st_dense_bd, shape, 0);
    compare(&st_dense_bd, dx.p, ref, bnd, nx, TOL_SUM, k->isa, shape);
    check_guard(&st_dense_bd, &dx, k->isa, shape);

    {
        float *rdw = xmalloc(nw * sizeof(float)), *rdb = xmalloc((size_t)out * sizeof(float));
        float *bdw = xmalloc(nw * sizeof(float)), *bdb = xmalloc((size_t)out * sizeof(float));
        memcpy(rdw, dw0, nw * 4);
        memcpy(bdw, adw0, nw * 4);
        memcpy(dw.p, dw0, nw * 4);
        memcpy(rdb, db0, (size_t)out * 4);
        memcpy(bdb, adb0, (size_t)out * 4);
        memcpy(db.p, db0, (size_t)out * 4);
        pn_kernels_ref.dense_bwd_weights(n, in, out, x, dy, rdw, with_bias ? rdb : NULL);
        pn_kernels_ref.dense_bwd_weights(n, in, out, ax, ady, bdw, with_bias ? bdb : NULL);
        k->dense_bwd_weights(n, in, out, x, dy, dw.p, with_bias ? db.p : NULL);
        note_call(&st_dense_bw, shape, 0);
        compare(&st_dense_bw, dw.p, rdw, bdw, nw, TOL_SUM, k->isa, shape);
        compare(&st_dense_bw, db.p, rdb, bdb, (size_t)out, TOL_SUM, k->isa, shape);
        check_guard(&st_dense_bw, &dw, k->isa, shape);
        check_guard(&st_dense_bw, &db, k->isa, shape);
        free(rdw);
        free(rdb);
        free(bdw);
        free(bdb);
    }
    gb_free(&y);
    gb_free(&dx);
    gb_free(&dw);
    gb_free(&db);
    free(x);
    free(w);
    free(b);
    free(dy);
    free(dw0);
    free(db0);
    free(ax);
    free(aw);
    free(ab);
    free(ady);
    free(adw0);
    free(adb0);
    free(ref);
    free(bnd);
}

void test_dense(const pn_kernels *k, int iters)
{
    static const int sizes[] = {1, 3, 17, 32, 64, 128, 10, 100};
    check_dense(k, 3, 10816, 128); /* the article's first dense layer */
    check_dense(k, 16, 128, 64);
    check_dense(k, 16, 64, 1);
    for (int it = 0; it < iters; it++)
        check_dense(k, rnd_int(1, 17), rnd() % 3 ? pick(sizes, 8) : rnd_int(1, 300),
                    rnd() % 3 ? pick(sizes, 8) : rnd_int(1, 150));
}
