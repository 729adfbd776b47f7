/* Dense kernels against the reference, whole and split into output or row
 * ranges (a split must give the same bits and write only its range). */
#include "checkasm.h"

/* ------------------------------------------------------------------ dense */

stat st_dense_fwd = {.name = "dense_fwd"}, st_dense_bd = {.name = "dense_bwd_data"},
     st_dense_bw = {.name = "dense_bwd_weights"};

#define SENTINEL 12345.0f

/* A split point in [1, count - 1] (count >= 2): a 16-float boundary as the
 * layer uses, or any column. */
static int split_point(int count)
{
    const int groups = (count - 1) / 16;
    if (groups > 0 && rnd() % 2)
        return 16 * rnd_int(1, groups);
    return rnd_int(1, count - 1);
}

/* Columns [c0, c1) of every row of a rows x cols matrix still hold SENTINEL. */
static int untouched(const float *p, int rows, int cols, int c0, int c1)
{
    for (int r = 0; r < rows; r++)
        for (int c = c0; c < c1; c++)
            if (p[(size_t)r * cols + c] != SENTINEL)
                return 0;
    return 1;
}

static void fill(float *p, size_t n, float v)
{
    for (size_t i = 0; i < n; i++)
        p[i] = v;
}

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
    gbuf part = gb_new(nw > nx ? (nw > ny ? nw : ny) : (nx > ny ? nx : ny));
    const int with_bias = (int)(rnd() & 1);
    snprintf(shape, sizeof shape, "n%d in%d out%d", n, in, out);

    pn_kernels_ref.dense_fwd(n, in, out, 0, out, x, w, with_bias ? b : NULL, ref);
    pn_kernels_ref.dense_fwd(n, in, out, 0, out, ax, aw, with_bias ? ab : NULL, bnd);
    k->dense_fwd(n, in, out, 0, out, x, w, with_bias ? b : NULL, y.p);
    note_call(&st_dense_fwd, shape, 0);
    compare(&st_dense_fwd, y.p, ref, bnd, ny, TOL_SUM, k->isa, shape);
    check_guard(&st_dense_fwd, &y, k->isa, shape);
    if (out >= 2) { /* outputs [0, p) then [p, out) */
        const int p = split_point(out);
        fill(part.p, ny, SENTINEL);
        k->dense_fwd(n, in, out, 0, p, x, w, with_bias ? b : NULL, part.p);
        if (!untouched(part.p, n, out, p, out))
            report_fail(&st_dense_fwd, k->isa, "wrote outside its output range", shape);
        k->dense_fwd(n, in, out, p, out, x, w, with_bias ? b : NULL, part.p);
        if (memcmp(part.p, y.p, ny * sizeof(float)) != 0)
            report_fail(&st_dense_fwd, k->isa, "a split of the outputs changed the result", shape);
        check_guard(&st_dense_fwd, &part, k->isa, shape);
    }

    pn_kernels_ref.dense_bwd_data(n, in, out, 0, in, dy, w, ref);
    pn_kernels_ref.dense_bwd_data(n, in, out, 0, in, ady, aw, bnd);
    k->dense_bwd_data(n, in, out, 0, in, dy, w, dx.p);
    note_call(&st_dense_bd, shape, 0);
    compare(&st_dense_bd, dx.p, ref, bnd, nx, TOL_SUM, k->isa, shape);
    check_guard(&st_dense_bd, &dx, k->isa, shape);
    if (in >= 2) { /* input rows [0, p) then [p, in) */
        const int p = split_point(in);
        fill(part.p, nx, SENTINEL);
        k->dense_bwd_data(n, in, out, p, in, dy, w, part.p);
        if (!untouched(part.p, n, in, 0, p))
            report_fail(&st_dense_bd, k->isa, "wrote outside its row range", shape);
        k->dense_bwd_data(n, in, out, 0, p, dy, w, part.p);
        if (memcmp(part.p, dx.p, nx * sizeof(float)) != 0)
            report_fail(&st_dense_bd, k->isa, "a split of the rows changed the result", shape);
        check_guard(&st_dense_bd, &part, k->isa, shape);
    }

    {
        float *rdw = xmalloc(nw * sizeof(float)), *rdb = xmalloc((size_t)out * sizeof(float));
        float *bdw = xmalloc(nw * sizeof(float)), *bdb = xmalloc((size_t)out * sizeof(float));
        memcpy(rdw, dw0, nw * 4);
        memcpy(bdw, adw0, nw * 4);
        memcpy(dw.p, dw0, nw * 4);
        memcpy(rdb, db0, (size_t)out * 4);
        memcpy(bdb, adb0, (size_t)out * 4);
        memcpy(db.p, db0, (size_t)out * 4);
        pn_kernels_ref.dense_bwd_weights(n, in, out, 0, in, x, dy, rdw, with_bias ? rdb : NULL);
        pn_kernels_ref.dense_bwd_weights(n, in, out, 0, in, ax, ady, bdw, with_bias ? bdb : NULL);
        k->dense_bwd_weights(n, in, out, 0, in, x, dy, dw.p, with_bias ? db.p : NULL);
        note_call(&st_dense_bw, shape, 0);
        compare(&st_dense_bw, dw.p, rdw, bdw, nw, TOL_SUM, k->isa, shape);
        compare(&st_dense_bw, db.p, rdb, bdb, (size_t)out, TOL_SUM, k->isa, shape);
        check_guard(&st_dense_bw, &dw, k->isa, shape);
        check_guard(&st_dense_bw, &db, k->isa, shape);
        if (in >= 2) { /* rows [p, in) then [0, p), db with neither */
            const int p = split_point(in);
            memcpy(part.p, dw0, nw * 4);
            for (size_t i = 0; i < (size_t)p * out; i++)
                part.p[i] = SENTINEL;
            k->dense_bwd_weights(n, in, out, p, in, x, dy, part.p, NULL);
            if (!untouched(part.p, p, out, 0, out))
                report_fail(&st_dense_bw, k->isa, "wrote outside its row range", shape);
            memcpy(part.p, dw0, (size_t)p * out * 4);
            k->dense_bwd_weights(n, in, out, 0, p, x, dy, part.p, NULL);
            if (memcmp(part.p, dw.p, nw * sizeof(float)) != 0)
                report_fail(&st_dense_bw, k->isa, "a split of the rows changed the result", shape);
            check_guard(&st_dense_bw, &part, k->isa, shape);
        }
        free(rdw);
        free(rdb);
        free(bdw);
        free(bdb);
    }
    gb_free(&y);
    gb_free(&dx);
    gb_free(&dw);
    gb_free(&db);
    gb_free(&part);
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
    check_dense(k, 16, 10816, 128);
    check_dense(k, 1, 10816, 128); /* single-image inference */
    check_dense(k, 16, 128, 64);
    check_dense(k, 16, 64, 1);
    check_dense(k, 37, 299, 600); /* more samples, and outputs, than one block of the kernels */
    for (int it = 0; it < iters; it++)
        check_dense(k, rnd_int(1, 17), rnd() % 3 ? pick(sizes, 8) : rnd_int(1, 300),
                    rnd() % 3 ? pick(sizes, 8) : rnd_int(1, 150));
}
