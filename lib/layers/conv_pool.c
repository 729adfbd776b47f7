/* Conv2D + MaxPooling2D as one block (see fused.h): strip geometry, the
 * one-pass and Winograd forward paths and the backward from the pooled
 * gradient. */
#include <string.h>

#include "layers/fused.h"

#define CP_STRIP_FLOATS 16384 /* conv-output floats per strip, roughly */

typedef struct cp_geom {
    int32_t ps;      /* conv rows per pool row (pool window height = row stride) */
    int32_t poh;     /* pool output rows */
    int32_t prows;   /* pool rows per forward / backward-filter strip */
    int32_t dx_rows; /* input rows per backward-data strip */
    size_t row;      /* floats per conv output row */
    size_t prow;     /* floats per pool output row */
} cp_geom;

static int32_t min_i32(int32_t a, int32_t b) { return a < b ? a : b; }
static int32_t max_i32(int32_t a, int32_t b) { return a > b ? a : b; }

int pn_conv_pool_fusable(const pn_layer *c, const pn_layer *p)
{
    return c->kind == PN_LAYER_CONV2D && p->kind == PN_LAYER_MAXPOOL2D &&
           (c->act == PN_ACT_RELU || c->act == PN_ACT_LINEAR) && p->kh == p->sh && p->kw == p->sw &&
           p->pad_top == 0 && p->pad_left == 0 && p->in.h == c->out.h && p->in.w == c->out.w &&
           p->in.c == c->out.c;
}

static void cp_geometry(const pn_layer *c, const pn_layer *p, cp_geom *g)
{
    /* The x86 conv2d_bwd_filter sums a sample in strips of max(1, 256 / ow)
     * output rows: strips here start and end on those boundaries so the
     * parameter gradients are summed exactly as in the unfused layer. */
    const int32_t kstrip = max_i32(1, 256 / max_i32(1, c->out.w));
    size_t unit, mult;
    g->ps = p->kh;
    g->poh = p->out.h;
    g->row = (size_t)c->out.w * (size_t)c->out.c;
    g->prow = (size_t)p->out.w * (size_t)p->out.c;
    unit = (size_t)g->ps * (size_t)kstrip * g->row;
    mult = unit < CP_STRIP_FLOATS ? CP_STRIP_FLOATS / unit : 1;
    g->prows = (int32_t)((size_t)kstrip * mult);
    g->dx_rows = (int32_t)max_i32(1, (int32_t)(CP_STRIP_FLOATS / ((size_t)c->in.w * (size_t)c->in.c)));
}

/* Backward-data strip for input rows [i0, i1): the conv output rows [oya, oyb)
 * that reach them, and the rows [m0, m1) to rebuild: the pool rows [pa, pb)
 * whose windows cover [oya, oyb), plus rows no window covers (zero gradient). */
typedef struct cp_range {
    int32_t oya, oyb, pa, pb, m0, m1;
} cp_range;

static void cp_bd_range(const pn_layer *c, const cp_geom *g, int32_t i0, int32_t i1, cp_range *r)
{
    const int32_t top = i0 + c->pad_top - c->kh + 1;
    /* rounding down may take one row that reaches no input row of the strip:
     * the kernel clips its taps, and the strip's top padding stays >= 0 */
    r->oya = max_i32(0, top) / c->sh;
    r->oyb = min_i32(c->out.h, (i1 - 1 + c->pad_top) / c->sh + 1);
    if (r->oya > r->oyb)
        r->oya = r->oyb;
    r->pa = min_i32(r->oya / g->ps, g->poh);
    r->pb = max_i32(r->pa, min_i32(g->poh, (r->oyb + g->ps - 1) / g->ps));
    r->m0 = r->pa * g->ps;
    r->m1 = max_i32(r->oyb, min_i32(r->pb * g->ps, c->out.h));
}

/* Whole 2x2 windows over a 'valid' conv: the block runs through the
 * conv2d_pool2 kernels, which never write the conv output anywhere. */
static int one_pass(const pn_layer *c, const pn_layer *p)
{
    return p->kh == 2 && p->kw == 2 && c->pad_top == 0 && c->pad_left == 0 && p->out.h * 2 <= c->out.h &&
           p->out.w * 2 <= c->out.w;
}

/* A 3x3 stride-1 one-pass block the Winograd F(4x4, 3x3) kernel can run;
 * inference (no backward will follow) of such a block goes through it. */
static int wino_block(const pn_layer *c, const pn_layer *p)
{
    pn_conv2d_shape s;
    pn_conv2d_shape_of(c, 1, &s);
    return one_pass(c, p) && pn_wino_ok(&s);
}

/* floats of the transformed kernel at the start of the Winograd path's
 * scratch, rounded up to a 64-byte boundary for the kernel's own part */
static size_t wino_weights_floats(const pn_layer *c)
{
    pn_conv2d_shape s;
    pn_conv2d_shape_of(c, 1, &s);
    return (pn_wino_weights_size(&s) + 15) & ~(size_t)15;
}

size_t pn_conv_pool_scratch(const pn_layer *c, const pn_layer *p)
{
    cp_geom g;
    int32_t rows;
    cp_geometry(c, p, &g);
    /* forward and backward-filter strips; the last also holds rows no pool
     * window covers */
    rows = g.prows * g.ps + g.ps;
    for (int32_t i0 = 0; i0 < c->in.h; i0 += g.dx_rows) {
        cp_range r;
        cp_bd_range(c, &g, i0, min_i32(c->in.h, i0 + g.dx_rows), &r);
        rows = max_i32(rows, r.m1 - r.m0);
    }
    {
        pn_conv2d_shape whole;
        const size_t need = (size_t)rows * g.row;
        size_t most = need;
        pn_conv2d_shape_of(c, 1, &whole);
        if (one_pass(c, p) && pn_pool2_bwd_fast(&whole) && pn_pool2_bwd_scratch(&whole) > most)
            most = pn_pool2_bwd_scratch(&whole);
        if (wino_block(c, p) && wino_weights_floats(c) + pn_wino_scratch(&whole) > most)
            most = wino_weights_floats(c) + pn_wino_scratch(&whole);
        return most;
    }
}

/* Rows [r0, r1) of the conv as a problem of its own (one sample): returns
 * where its input starts. */
static const float *conv_rows(const pn_layer *l, int32_t r0, int32_t r1, const float *x, pn_conv2d_shape *s)
{
    const int32_t iy0 = r0 * l->sh - l->pad_top;
    pn_conv2d_shape_of(l, 1, s);
    s->oh = r1 - r0;
    if (iy0 <= 0) {
        s->pad_top = -iy0;
        return x;
    }
    s->pad_top = 0;
    s->ih = l->in.h - iy0;
    return x + (size_t)iy0 * (size_t)l->in.w * (size_t)l->in.c;
}

/* Pool rows [pa, pb) over `rows` conv rows starting at row pa * ps. */
static void pool_rows(const pn_layer *p, int32_t pa, int32_t pb, int32_t rows, pn_pool2d_shape *s)
{
    s->n = 1;
    s->ih = rows;
    s->iw = p->in.w;
    s->c = p->in.c;
    s->oh = pb - pa;
    s->ow = p->out.w;
    s->ph = p->kh;
    s->pw = p->kw;
    s->sh = p->sh;
    s->sw = p->sw;
    s->pad_top = 0;
    s->pad_left = 0;
}

/* dL/d(conv output) rows [r0, r1) of one sample into buf: pool rows [pa, pb)
 * (covering rows r0 = pa * ps up to min(pb * ps, oh)) scattered, zeros after. */
static void cp_rebuild(const pn_layer *c, const pn_layer *p, const pn_run *run, const cp_geom *g,
                       const float *dz, const uint8_t *am, int32_t pa, int32_t pb, int32_t r0, int32_t r1,
                       float *buf)
{
    int32_t rp = r0;
    if (pb > pa) {
        pn_pool2d_shape s;
        rp = min_i32(pb * g->ps, c->out.h);
        pool_rows(p, pa, pb, rp - r0, &s);
        run->k->maxpool_bwd(&s, dz + (size_t)pa * g->prow, am + (size_t)pa * g->prow, buf);
    }
    if (r1 > rp)
        memset(buf + (size_t)(rp - r0) * g->row, 0, (size_t)(r1 - rp) * g->row * sizeof(float));
}

/* This thread's share [*b0, *b1) of the `count` independent row strips of a
 * sample: a contiguous band each (all of them without a split), so the rows a
 * band reads were mostly written by the same thread's band in the layer
 * before (its caches). */
static void run_band(const pn_run *run, int32_t count, int32_t *b0, int32_t *b1)
{
    const int64_t nparts = run->nparts > 1 ? run->nparts : 1, part = nparts > 1 ? run->part : 0;
    *b0 = (int32_t)((int64_t)count * part / nparts);
    *b1 = (int32_t)((int64_t)count * (part + 1) / nparts);
}

/* The Winograd inference forward: strips are rows of patches (2 pooled rows
 * each), so a pooled value does not depend on how threads share a sample;
 * each thread transforms the kernel into its own scratch (the article's four
 * blocks: ~0.05 ms, in parallel). */
static void wino_forward(const pn_layer *c, const pn_layer *p, const pn_run *run, int32_t n, const float *x,
                         float *z, float *scratch)
{
    const size_t in_size = (size_t)pn_dims_size(&c->in), out_size = (size_t)pn_dims_size(&p->out);
    const size_t prow = (size_t)p->out.w * (size_t)p->out.c;
    const int32_t trows = (p->out.h + 1) / 2;
    float *v = scratch, *ks = scratch + wino_weights_floats(c);
    int32_t t0, t1;
    run->k->wino_weights(c->in.c, c->out.c, c->w, v);
    run_band(run, trows, &t0, &t1);
    for (int32_t i = 0; i < n; i++)
        for (int32_t t = t0; t < t1; t++) {
            const int32_t pa = 2 * t, pb = min_i32(p->out.h, pa + 2);
            pn_conv2d_shape cs;
            const float *xs = conv_rows(c, 2 * pa, min_i32(2 * pb, c->out.h), x + (size_t)i * in_size, &cs);
            run->k->conv2d_pool2_wino_fwd(&cs, c->act, pb - pa, p->out.w, xs, v, c->use_bias ? c->b : NULL,
                                          z + (size_t)i * out_size + (size_t)pa * prow, ks);
        }
}

pneumo_status pn_conv_pool_forward(pn_layer *c, pn_layer *p, const pn_run *run, int32_t n, const float *x,
                                   float *z, float *scratch)
{
    const size_t in_size = (size_t)pn_dims_size(&c->in), out_size = (size_t)pn_dims_size(&p->out);
    uint8_t *am = p->argmax + (size_t)run->sample0 * out_size;
    const int single = one_pass(c, p);
    cp_geom g;
    int32_t s0, s1;
    if (!run->training && wino_block(c, p)) {
        wino_forward(c, p, run, n, x, z, scratch);
        return PNEUMO_OK;
    }
    cp_geometry(c, p, &g);
    run_band(run, (g.poh + g.prows - 1) / g.prows, &s0, &s1);
    for (int32_t i = 0; i < n; i++) {
        const float *xi = x + (size_t)i * in_size;
        float *zi = z + (size_t)i * out_size;
        uint8_t *ai = am + (size_t)i * out_size;
        for (int32_t si = s0; si < s1; si++) {
            const int32_t pa = si * g.prows, pb = min_i32(g.poh, pa + g.prows);
            const int32_t r0 = pa * g.ps, r1 = min_i32(pb * g.ps, c->out.h);
            pn_conv2d_shape cs;
            pn_pool2d_shape ps;
            const float *xs = conv_rows(c, r0, r1, xi, &cs);
            if (single) { /* inference (no backward follows) stores no argmax */
                run->k->conv2d_pool2_fwd(&cs, c->act, pb - pa, p->out.w, xs, c->w, c->use_bias ? c->b : NULL,
                                         zi + (size_t)pa * g.prow,
                                         run->training ? ai + (size_t)pa * g.prow : NULL);
                continue;
            }
            run->k->conv2d_fwd(&cs, xs, c->w, c->use_bias ? c->b : NULL, scratch);
            run->k->act_fwd(c->act, (size_t)(r1 - r0) * g.row, scratch);
            pool_rows(p, pa, pb, r1 - r0, &ps);
            run->k->maxpool_fwd(&ps, scratch, zi + (size_t)pa * g.prow, ai + (size_t)pa * g.prow);
        }
    }
    return PNEUMO_OK;
}

pneumo_status pn_conv_pool_backward(pn_layer *c, pn_layer *p, const pn_run *run, int32_t n, const float *x,
                                    const float *z, float *dz, float *dx, float *scratch)
{
    const size_t in_size = (size_t)pn_dims_size(&c->in), out_size = (size_t)pn_dims_size(&p->out);
    const size_t in_row = (size_t)c->in.w * (size_t)c->in.c;
    const uint8_t *am = p->argmax + (size_t)run->sample0 * out_size;
    float *dw = run->dw ? run->dw : c->dw;
    float *db = c->use_bias ? (run->db ? run->db : c->db) : NULL;
    pn_conv2d_shape whole;
    cp_geom g;
    cp_geometry(c, p, &g);
    pn_conv2d_shape_of(c, n, &whole);
    /* ReLU'(conv output) at each window's maximum is (pooled output > 0) */
    if (c->act == PN_ACT_RELU)
        run->k->act_bwd(PN_ACT_RELU, (size_t)n * out_size, z, dz);
    /* 3x3 stride-1 blocks: gradients straight from the pooled gradient,
     * skipping the 3/4 of the rebuilt conv gradient that is structurally zero
     * (another summation order) */
    if (one_pass(c, p) && pn_pool2_bwd_fast(&whole)) {
        run->k->conv2d_pool2_bwd_filter(&whole, p->out.h, p->out.w, x, dz, am, dw, db, scratch);
        if (dx)
            run->k->conv2d_pool2_bwd_data(&whole, p->out.h, p->out.w, dz, am, c->w, dx, scratch);
        return PNEUMO_OK;
    }
    for (int32_t i = 0; i < n; i++) {
        const float *xi = x + (size_t)i * in_size, *dzi = dz + (size_t)i * out_size;
        const uint8_t *ai = am + (size_t)i * out_size;
        for (int32_t pa = 0; pa < g.poh; pa += g.prows) {
            const int32_t pb = min_i32(g.poh, pa + g.prows);
            const int32_t r0 = pa * g.ps, r1 = pb == g.poh ? c->out.h : pb * g.ps;
            pn_conv2d_shape cs;
            const float *xs;
            cp_rebuild(c, p, run, &g, dzi, ai, pa, pb, r0, r1, scratch);
            xs = conv_rows(c, r0, r1, xi, &cs);
            run->k->conv2d_bwd_filter(&cs, xs, scratch, dw, db);
        }
        if (!dx)
            continue;
        for (int32_t i0 = 0; i0 < c->in.h; i0 += g.dx_rows) {
            const int32_t i1 = min_i32(c->in.h, i0 + g.dx_rows);
            float *dxs = dx + (size_t)i * in_size + (size_t)i0 * in_row;
            pn_conv2d_shape cs;
            cp_range r;
            cp_bd_range(c, &g, i0, i1, &r);
            if (r.oyb <= r.oya) {
                memset(dxs, 0, (size_t)(i1 - i0) * in_row * sizeof(float));
                continue;
            }
            cp_rebuild(c, p, run, &g, dzi, ai, r.pa, r.pb, r.m0, r.m1, scratch);
            pn_conv2d_shape_of(c, 1, &cs);
            cs.ih = i1 - i0;
            cs.oh = r.oyb - r.oya;
            cs.pad_top = i0 + c->pad_top - r.oya * c->sh;
            run->k->conv2d_bwd_data(&cs, scratch + (size_t)(r.oya - r.m0) * g.row, c->w, dxs);
        }
    }
    return PNEUMO_OK;
}
