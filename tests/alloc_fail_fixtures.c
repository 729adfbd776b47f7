/* Harness shared by the allocation-failure programs (alloc_fail_fixtures.h). */
#include "testutil.h"
#include "core/alloc.h"
#include "pneumo/image.h"
#include "pneumo/image_write.h"
#include "pneumo/model.h"
#include "pneumo/optim.h"
#include "pneumo/train.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "alloc_fail_fixtures.h"

long run_prepared(const char *name, void (*before)(void *ctx), op_fn op, void (*after)(void *ctx, int failed),
                  void *ctx)
{
    for (long n = 1; n < 200000; n++) {
        pneumo_status st;
        int fired;
        if (before)
            before(ctx);
        pneumo_clear_error();
        pn_alloc_fail_nth(n);
        st = op(ctx);
        fired = pn_alloc_fail_fired();
        pn_alloc_fail_nth(0);
        if (!fired) {
            if (st != PNEUMO_OK)
                fail_msg("%s: fails without an injected failure (N = %ld): %s", name, n, pneumo_last_error());
            printf("  %-28s %5ld allocation points, each failure gave NOMEM or success\n", name, n - 1);
            if (after)
                after(ctx, 0);
            return n - 1;
        }
        if (st != PNEUMO_OK && st != PNEUMO_ERR_NOMEM)
            fail_msg("%s: allocation %ld failed: status %d (%s), not NOMEM", name, n, st,
                     pneumo_last_error());
        if (st == PNEUMO_ERR_NOMEM && pneumo_last_error()[0] == '\0')
            fail_msg("%s: allocation %ld failed without a message", name, n);
        if (after)
            after(ctx, st != PNEUMO_OK);
    }
    fail_msg("%s: never succeeded", name);
    return -1;
}

long run_until_success(const char *name, op_fn op, void (*after)(void *ctx, int failed), void *ctx)
{
    return run_prepared(name, NULL, op, after, ctx);
}

void make_fixture(fixture *f)
{
    int64_t xs[4] = {2, AF_SIZE, AF_SIZE, 1}, ys[1] = {2}, os[2] = {2, 1};
    pneumo_adam_params ap;
    uint64_t rng = 5;
    pneumo_step_result r;
    memset(f, 0, sizeof *f);
    f->dir = strdup(tu_tmpdir());
    assert_non_null(f->dir);
    assert_int_equal(pneumo_model_create_article(AF_SIZE, 3, &f->m), PNEUMO_OK);
    assert_int_equal(pneumo_model_set_threads(f->m, 2), PNEUMO_OK);
    pneumo_adam_default_params(&ap);
    assert_int_equal(pneumo_optimizer_create_adam(&ap, &f->opt), PNEUMO_OK);
    assert_int_equal(pneumo_tensor_create(4, xs, &f->x), PNEUMO_OK);
    assert_int_equal(pneumo_tensor_create(1, ys, &f->y), PNEUMO_OK);
    assert_int_equal(pneumo_tensor_create(2, os, &f->out), PNEUMO_OK);
    tu_fill(&rng, pneumo_tensor_data(f->x), (size_t)2 * AF_SIZE * AF_SIZE, 0, 1);
    pneumo_tensor_data(f->y)[1] = 1;
    assert_int_equal(pneumo_model_train_step(f->m, f->opt, f->x, f->y, NULL, &r), PNEUMO_OK);
    assert_int_equal(pneumo_model_predict(f->m, f->x, f->out), PNEUMO_OK);
    memcpy(f->ref, pneumo_tensor_data(f->out), sizeof f->ref);
    f->path = tu_join(f->dir, "m.safetensors");
    assert_int_equal(pneumo_model_save(f->m, f->opt, f->path), PNEUMO_OK);
    f->saved = tu_read_all(f->path, &f->saved_size);
    /* an image, as a PNG file and as PNG bytes */
    assert_int_equal(pneumo_image_create(120, 100, &f->img), PNEUMO_OK);
    for (size_t i = 0; i < 120 * 100; i++)
        pneumo_image_pixels_mut(f->img)[i] = (uint8_t)(i * 7 % 251);
    assert_int_equal(pneumo_model_predict_image(f->m, f->img, &f->ref_prob), PNEUMO_OK);
    f->img_path = tu_join(f->dir, "x.png");
    assert_int_equal(pneumo_image_save_png(f->img, f->img_path), PNEUMO_OK);
    assert_int_equal(pneumo_image_encode_png(f->img, &f->png, &f->png_size), PNEUMO_OK);
    /* a dataset: two classes of three images */
    f->ds_dir = tu_join(f->dir, "ds");
    assert_int_equal(mkdir(f->ds_dir, 0700), 0);
    for (int c = 0; c < 2; c++) {
        char sub[64];
        char *dir;
        snprintf(sub, sizeof sub, "ds/%s", c ? "opacity" : "normal");
        dir = tu_join(f->dir, sub);
        assert_int_equal(mkdir(dir, 0700), 0);
        for (int i = 0; i < 3; i++) {
            char name[32];
            char *p;
            snprintf(name, sizeof name, "%d.png", i);
            p = tu_join(dir, name);
            pneumo_image_pixels_mut(f->img)[0] = (uint8_t)(c * 3 + i);
            assert_int_equal(pneumo_image_save_png(f->img, p), PNEUMO_OK);
            free(p);
        }
        free(dir);
    }
}

void free_fixture(fixture *f)
{
    pneumo_model_destroy(f->m);
    pneumo_optimizer_destroy(f->opt);
    pneumo_tensor_destroy(f->x);
    pneumo_tensor_destroy(f->y);
    pneumo_tensor_destroy(f->out);
    pneumo_image_destroy(f->img);
    pneumo_free(f->png);
    free(f->saved);
    free(f->path);
    free(f->img_path);
    free(f->ds_dir);
    free(f->dir);
}
