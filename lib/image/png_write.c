/* PNG encoding with libpng into a growing memory buffer, and the atomic save
 * built on it (see pneumo/image_write.h).
 *
 * libpng reports errors by calling the error function, which must not return:
 * it longjmps back to pn_png_encode. Everything that must survive the jump
 * lives in the context struct (not in locals modified after setjmp). */
#include "pneumo/image_write.h"

#include "core/alloc.h"
#include "core/buf.h"
#include "core/error.h"
#include "core/atomic_file.h"
#include "image/image_internal.h"

#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <png.h>

#include "image/png_jmp.h"

struct pn_png_wctx {
    pn_png_jmp err;
    uint8_t *data;
    size_t size;
    size_t cap;
    int nomem;
};

static void pn_png_write_fn(png_structp png, png_bytep in, size_t n)
{
    struct pn_png_wctx *ctx = (struct pn_png_wctx *)png_get_io_ptr(png);
    if (n > SIZE_MAX - ctx->size) {
        ctx->nomem = 1;
        png_error(png, "PNG output too large");
    }
    if (!pn_array_reserve(&ctx->data, &ctx->cap, ctx->size + n, 1, SIZE_MAX)) {
        ctx->nomem = 1;
        png_error(png, "out of memory for the PNG output");
    }
    memcpy(ctx->data + ctx->size, in, n);
    ctx->size += n;
}

static void pn_png_flush_fn(png_structp png) { (void)png; /* memory output: nothing to flush */ }

/* Encode width x height pixels of `channels` bytes (1: gray, 3: RGB) to
 * ctx->data/ctx->size (malloc'ed, caller frees). `label` names the
 * destination in messages. */
static pneumo_status pn_png_encode(const uint8_t *pixels, int32_t width, int32_t height, int channels,
                                   const char *label, struct pn_png_wctx *ctx)
{
    png_structp png;
    png_infop info;

    memset(ctx, 0, sizeof *ctx);
    png = png_create_write_struct_2(PNG_LIBPNG_VER_STRING, &ctx->err, pn_png_jmp_error, pn_png_jmp_warning,
                                    &ctx->err, pn_png_malloc, pn_png_free);
    if (!png)
        return pn_error(PNEUMO_ERR_NOMEM, "%s: cannot create the PNG encoder", label);
    info = png_create_info_struct(png);
    if (!info) {
        png_destroy_write_struct(&png, NULL);
        return pn_error(PNEUMO_ERR_NOMEM, "%s: cannot create the PNG encoder", label);
    }
    if (setjmp(ctx->err.jump)) {
        png_destroy_write_struct(&png, &info);
        free(ctx->data);
        ctx->data = NULL;
        ctx->size = 0;
        if (ctx->nomem || ctx->err.nomem)
            return pn_error(PNEUMO_ERR_NOMEM, "%s: cannot encode PNG: %s", label, ctx->err.message);
        return pn_error(PNEUMO_ERR_FORMAT, "%s: cannot encode PNG: %s", label, ctx->err.message);
    }
    /* libpng's default 1,000,000 px cap per side also applies when writing;
     * any image pneumo_image_create accepts fits in PNG's 31-bit sizes. */
    png_set_user_limits(png, PNG_UINT_31_MAX, PNG_UINT_31_MAX);
    png_set_write_fn(png, ctx, pn_png_write_fn, pn_png_flush_fn);
    png_set_IHDR(png, info, (png_uint_32)width, (png_uint_32)height, 8,
                 channels == 3 ? PNG_COLOR_TYPE_RGB : PNG_COLOR_TYPE_GRAY, PNG_INTERLACE_NONE,
                 PNG_COMPRESSION_TYPE_DEFAULT, PNG_FILTER_TYPE_DEFAULT);
    png_write_info(png, info);
    for (int32_t y = 0; y < height; y++)
        png_write_row(png, pixels + (size_t)y * (size_t)width * (size_t)channels);
    png_write_end(png, NULL);
    png_destroy_write_struct(&png, &info);
    return PNEUMO_OK;
}

static pneumo_status check_image(const pneumo_image *img, const char *label)
{
    if (!img)
        return pn_error(PNEUMO_ERR_INVALID_ARG, "%s: image is NULL", label);
    if (img->width < 1 || img->height < 1 || !img->pixels)
        return pn_error(PNEUMO_ERR_INVALID_ARG, "%s: image is empty (%dx%d)", label, (int)img->width,
                        (int)img->height);
    return PNEUMO_OK;
}

pneumo_status pneumo_image_encode_png(const pneumo_image *img, void **data, size_t *size)
{
    static const char label[] = "pneumo_image_encode_png";
    if (data)
        *data = NULL;
    if (size)
        *size = 0;
    if (!data || !size)
        return pn_error(PNEUMO_ERR_INVALID_ARG, "%s: output pointer is NULL", label);
    pneumo_status st = check_image(img, label);
    if (st != PNEUMO_OK)
        return st;
    struct pn_png_wctx ctx;
    st = pn_png_encode(img->pixels, img->width, img->height, 1, label, &ctx);
    if (st != PNEUMO_OK)
        return st;
    *data = ctx.data;
    *size = ctx.size;
    return PNEUMO_OK;
}

pneumo_status pneumo_image_save_png(const pneumo_image *img, const char *path)
{
    if (!path || !path[0])
        return pn_error(PNEUMO_ERR_INVALID_ARG, "pneumo_image_save_png: path is NULL or empty");
    pneumo_status st = check_image(img, path);
    if (st != PNEUMO_OK)
        return st;
    struct pn_png_wctx ctx;
    st = pn_png_encode(img->pixels, img->width, img->height, 1, path, &ctx);
    if (st != PNEUMO_OK)
        return st;
    st = pn_atomic_write(path, ctx.data, ctx.size);
    free(ctx.data);
    return st;
}

pneumo_status pn_png_encode_rgb(const uint8_t *rgb, int32_t width, int32_t height, const char *label,
                                void **data, size_t *size)
{
    struct pn_png_wctx ctx;
    pneumo_status st = pn_png_encode(rgb, width, height, 3, label, &ctx);
    *data = st == PNEUMO_OK ? ctx.data : NULL;
    *size = st == PNEUMO_OK ? ctx.size : 0;
    return st;
}

void pneumo_free(void *p) { free(p); }
