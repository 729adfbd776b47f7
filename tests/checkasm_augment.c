/* The augmentation kernels against the reference, bit for bit. */
#include "checkasm.h"

stat st_warp = {.name = "warp_bilinear_row"}, st_bright = {.name = "pil_brightness"};

/* A random position in [0, lim) in 32.32 fixed point and a step that keeps
 * n positions from it inside [0, lim): the steps cover zero, tiny, negative,
 * sub-pixel and several-pixel strides, as rotations, zooms and crops give. */
static void rnd_track(int64_t lim, int32_t n, int64_t *p0, int64_t *d)
{
    const int64_t one = (int64_t)1 << 32;
    const int kind = rnd_int(0, 5);
    int64_t step;
    switch (kind) {
    case 0: step = 0; break;
    case 1: step = (int64_t)rnd_int(-3, 3); break;
    case 2: step = one; break;
    default: step = (int64_t)((double)(rnd_f() * 2.0f) * (double)one * (kind == 5 ? 3.0 : 1.0)); break;
    }
    const int64_t span = step * (int64_t)(n - 1);
    const int64_t aspan = span < 0 ? -span : span;
    if (aspan >= lim) /* the row would not fit: shrink the step */
        step = n > 1 ? (lim - 1) / (int64_t)(n - 1) * (step < 0 ? -1 : 1) : 0;
    const int64_t used = (step < 0 ? -step : step) * (int64_t)(n - 1);
    const int64_t room = lim - used; /* >= 1 */
    int64_t start = (int64_t)((double)(rnd() >> 11) * (1.0 / 9007199254740992.0) * (double)room);
    if (start >= room)
        start = room - 1;
    *p0 = step < 0 ? start + used : start;
    *d = step;
}

static void test_warp(const pn_kernels *k, int iters)
{
    static const int lengths[] = {0,  1,  2,  3,  4,  5,  7,  8,  9,   15, 16,
                                  17, 31, 32, 33, 47, 63, 64, 65, 224, 500};
    const int nfixed = (int)(sizeof lengths / sizeof lengths[0]);
    for (int it = 0; it < 2 * nfixed + iters; it++) {
        const int32_t w = rnd_int(2, 90), h = rnd_int(2, 90);
        const int32_t stride = w + (rnd() % 3 ? 0 : rnd_int(1, 5));
        const int32_t n = it < 2 * nfixed ? lengths[it % nfixed] : rnd_int(0, 700);
        const int32_t step = it % 2 ? -1 : 1;
        /* the image exactly as large as the reads need: the last row is w bytes,
         * so a read past it shows under ASan and valgrind */
        const size_t bytes = (size_t)(h - 1) * (size_t)stride + (size_t)w;
        uint8_t *img = xmalloc(bytes);
        int64_t y, x, dy, dx;
        char shape[96];
        for (size_t i = 0; i < bytes; i++)
            img[i] = (uint8_t)rnd();
        rnd_track((int64_t)(h - 1) << 32, n > 0 ? n : 1, &y, &dy);
        rnd_track((int64_t)(w - 1) << 32, n > 0 ? n : 1, &x, &dx);
        const float scale = rnd() % 2 ? 1.0f : (float)(1.0 / 255.0);
        gbuf got = gb_new((size_t)(n > 0 ? n : 0));
        float *ref = xmalloc((size_t)(n > 0 ? n : 1) * 4);
        float *const g0 = step > 0 ? got.p : got.p + (n > 0 ? n - 1 : 0);
        float *const r0 = step > 0 ? ref : ref + (n > 0 ? n - 1 : 0);
        snprintf(shape, sizeof shape, "n %d step %d image %dx%d stride %d", (int)n, (int)step, (int)w, (int)h,
                 (int)stride);
        pn_kernels_ref.warp_bilinear_row(img, stride, y, x, dy, dx, n, scale, r0, step);
        k->warp_bilinear_row(img, stride, y, x, dy, dx, n, scale, g0, step);
        note_call(&st_warp, shape, n > 0 && n < k->lanes);
        compare(&st_warp, got.p, ref, NULL, (size_t)(n > 0 ? n : 0), 0.0, k->isa, shape);
        check_guard(&st_warp, &got, k->isa, shape);
        gb_free(&got);
        free(ref);
        free(img);
    }
}

/* pil_brightness: warped values (0..255 with fractions, some exact integers),
 * sometimes beyond 0..255 (Keras then stretches and maps back), sometimes
 * constant (no division); factors below and above 1, both stretch settings,
 * tails around 4, 8 and 16 lanes. */
static void test_brightness(const pn_kernels *k, int iters)
{
    static const size_t lengths[] = {0, 1, 2, 3, 4, 5, 7, 8, 9, 15, 16, 17, 31, 32, 33, 63, 64, 65, 1001};
    const int nfixed = (int)(sizeof lengths / sizeof lengths[0]);
    for (int it = 0; it < 4 * nfixed + iters; it++) {
        const size_t n = it < 4 * nfixed ? lengths[it % nfixed] : (size_t)rnd_int(0, 5000);
        const int kind = rnd_int(0, 3), stretch = it % 2;
        const float factor = it % 7 == 0 ? 1.0f : rnd_f() * 1.5f + 1.5f;
        const float rs = rnd() % 2 ? 1.0f : (float)(1.0 / 255.0);
        float *x0 = xmalloc((n ? n : 1) * 4), *ref = xmalloc((n ? n : 1) * 4);
        gbuf got = gb_new(n);
        char shape[96];
        for (size_t i = 0; i < n; i++) {
            const float f = (rnd_f() + 1.0f) * 0.5f; /* [0, 1) */
            x0[i] = kind == 0   ? (float)rnd_int(0, 255)
                    : kind == 1 ? f * 255.0f
                    : kind == 2 ? f * 400.0f - 60.0f
                                : 77.25f;
        }
        snprintf(shape, sizeof shape, "count %zu values %d stretch %d", n, kind, stretch);
        memcpy(ref, x0, n * 4);
        memcpy(got.p, x0, n * 4);
        pn_kernels_ref.pil_brightness(n, ref, factor, stretch, rs);
        k->pil_brightness(n, got.p, factor, stretch, rs);
        note_call(&st_bright, shape, n > 0 && n < (size_t)k->lanes);
        compare(&st_bright, got.p, ref, NULL, n, 0.0, k->isa, shape);
        check_guard(&st_bright, &got, k->isa, shape);
        gb_free(&got);
        free(x0);
        free(ref);
    }
}

void test_augment(const pn_kernels *k, int iters)
{
    test_warp(k, iters);
    test_brightness(k, iters);
}
