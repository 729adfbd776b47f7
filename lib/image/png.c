/* PNG decoding with libpng to 8-bit gray, as PIL's convert('L').
 *
 * - libpng errors longjmp back here, warnings are silent; CRC errors in any
 *   chunk are errors (png_set_crc_action ERROR_QUIT), running out of data is an
 *   error ("truncated"), and the file must reach IEND.
 * - width/height are checked from the IHDR bytes before libpng starts, and
 *   again by libpng itself (png_set_user_limits) and after png_read_info.
 * - memory is bounded by the output, whatever the chunks claim: every chunk but
 *   IHDR, PLTE, tRNS, IDAT and IEND (text, iCCP, sPLT, eXIf, unknown ones) is
 *   skipped unread, so its length never becomes an allocation, and the chunk
 *   allocation cap bounds what is left. Work is bounded by the file size and the
 *   output size; limits->deadline_ms stops a decode after every row.
 * - conversions (what Pillow does on open + convert('L')):
 *   gray 1/2/4 bit -> scaled to 0..255 by bit replication (Pillow "1", "L;2",
 *   "L;4" unpackers give the same values); palette -> RGB entries -> L24 (Pillow
 *   p2l), tRNS ignored; RGB/RGBA -> L24, alpha ignored (rgb2l); gray+alpha ->
 *   gray (la2l); 16-bit samples -> high byte (png_set_strip_16: Pillow's
 *   "RGB;16B"/"RGBA;16B"/"LA;16B" unpackers keep the high byte; for 16-bit gray
 *   see pneumo/image.h); no gamma or colour management (Pillow applies none). */
#include "image/image_internal.h"

#include "core/alloc.h"
#include "core/error.h"

#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <png.h>

#include "image/png_jmp.h"

/* Largest ancillary chunk libpng may allocate (iCCP, text, ...). */
#define PN_PNG_CHUNK_MALLOC_MAX (16u * 1024u * 1024u)

struct pn_png_ctx {
    pn_png_jmp err;
    const uint8_t *data;
    size_t size;
    size_t pos;
    int64_t deadline;
    int truncated;
    int late;
};

void pn_png_jmp_error(png_structp png, png_const_charp msg)
{
    pn_png_jmp *e = (pn_png_jmp *)png_get_error_ptr(png);
    snprintf(e->message, sizeof e->message, "%s", msg ? msg : "unknown libpng error");
    longjmp(e->jump, 1);
}

png_voidp pn_png_malloc(png_structp png, png_alloc_size_t bytes)
{
    void *p = pn_malloc(bytes);
    if (!p)
        ((pn_png_jmp *)png_get_mem_ptr(png))->nomem = 1;
    return p;
}

void pn_png_free(png_structp png, png_voidp p)
{
    (void)png;
    free(p);
}

void pn_png_jmp_warning(png_structp png, png_const_charp msg)
{
    (void)png; /* the library never prints */
    (void)msg;
}

static void pn_png_read_fn(png_structp png, png_bytep out, size_t n)
{
    struct pn_png_ctx *ctx = (struct pn_png_ctx *)png_get_io_ptr(png);
    if (n > ctx->size - ctx->pos) {
        ctx->truncated = 1;
        png_error(png, "unexpected end of file");
    }
    memcpy(out, ctx->data + ctx->pos, n);
    ctx->pos += n;
}

/* Called by libpng after every row (of every interlace pass). */
static void pn_png_row_done(png_structp png, png_uint_32 row, int pass)
{
    struct pn_png_ctx *ctx = (struct pn_png_ctx *)png_get_io_ptr(png);
    (void)row;
    (void)pass;
    if (pn_decode_deadline_passed(ctx->deadline)) {
        ctx->late = 1;
        png_error(png, "decoding deadline passed");
    }
}

static uint32_t pn_be32(const uint8_t *p)
{
    return ((uint32_t)p[0] << 24) | ((uint32_t)p[1] << 16) | ((uint32_t)p[2] << 8) | p[3];
}

pneumo_status pn_decode_png(const uint8_t *data, size_t size, const char *label,
                            const pneumo_decode_limits *lim, pneumo_image **out)
{
    struct pn_png_ctx ctx;
    png_structp png;
    png_infop info;
    pneumo_image *volatile img = NULL;
    uint8_t *volatile buf = NULL;
    png_bytep *volatile rows = NULL;
    pneumo_image *tmp_img = NULL;
    pneumo_status st;
    png_uint_32 w, h;
    int bit_depth, color_type, interlace, passes, channels;
    size_t rowbytes;

    *out = NULL;
    /* IHDR must be the first chunk: check its size before libpng allocates. */
    if (size >= 24 && memcmp(data + 12, "IHDR", 4) == 0) {
        st = pn_image_check_limits(lim, label, pn_be32(data + 16), pn_be32(data + 20));
        if (st != PNEUMO_OK)
            return st;
    }

    memset(&ctx, 0, sizeof ctx);
    ctx.data = data;
    ctx.size = size;
    ctx.deadline = pn_decode_deadline(lim);
    png = png_create_read_struct_2(PNG_LIBPNG_VER_STRING, &ctx.err, pn_png_jmp_error, pn_png_jmp_warning,
                                   &ctx.err, pn_png_malloc, pn_png_free);
    if (!png)
        return pn_error(PNEUMO_ERR_NOMEM, "%s: cannot create the PNG decoder", label);
    info = png_create_info_struct(png);
    if (!info) {
        png_destroy_read_struct(&png, NULL, NULL);
        return pn_error(PNEUMO_ERR_NOMEM, "%s: cannot create the PNG decoder", label);
    }
    if (setjmp(ctx.err.jump)) {
        png_destroy_read_struct(&png, &info, NULL);
        free(rows);
        free(buf);
        pneumo_image_destroy(img);
        if (ctx.err.nomem)
            return pn_error(PNEUMO_ERR_NOMEM, "%s: PNG decoder out of memory", label);
        if (ctx.late)
            return pn_error(PNEUMO_ERR_LIMIT, "%s: PNG decoding took longer than the %u ms deadline", label,
                            (unsigned)lim->deadline_ms);
        if (ctx.truncated)
            return pn_error(PNEUMO_ERR_FORMAT, "%s: truncated PNG: %s", label, ctx.err.message);
        if (strstr(ctx.err.message, "user limit") || strstr(ctx.err.message, "too large"))
            return pn_error(PNEUMO_ERR_LIMIT, "%s: PNG too large: %s", label, ctx.err.message);
        return pn_error(PNEUMO_ERR_FORMAT, "%s: corrupt PNG: %s", label, ctx.err.message);
    }

    png_set_user_limits(png, (png_uint_32)lim->max_side, (png_uint_32)lim->max_side);
    png_set_chunk_malloc_max(png, PN_PNG_CHUNK_MALLOC_MAX);
    png_set_keep_unknown_chunks(png, PNG_HANDLE_CHUNK_NEVER, NULL, -1);
    png_set_read_status_fn(png, pn_png_row_done);
    png_set_crc_action(png, PNG_CRC_ERROR_QUIT, PNG_CRC_ERROR_QUIT);
    png_set_read_fn(png, &ctx, pn_png_read_fn);
    png_read_info(png, info);
    png_get_IHDR(png, info, &w, &h, &bit_depth, &color_type, &interlace, NULL, NULL);
    st = pn_image_check_limits(lim, label, w, h);
    if (st != PNEUMO_OK)
        goto fail;

    if (color_type == PNG_COLOR_TYPE_PALETTE)
        png_set_palette_to_rgb(png);
    if (color_type == PNG_COLOR_TYPE_GRAY && bit_depth < 8)
        png_set_expand_gray_1_2_4_to_8(png);
    if (bit_depth == 16)
        png_set_strip_16(png);
    passes = png_set_interlace_handling(png);
    png_read_update_info(png, info);
    channels = png_get_channels(png, info);
    rowbytes = png_get_rowbytes(png, info);
    if (png_get_bit_depth(png, info) != 8 || channels < 1 || channels > 4 ||
        rowbytes != (size_t)w * (size_t)channels) {
        st = pn_error(PNEUMO_ERR_FORMAT, "%s: unexpected PNG decoder output (%d bits, %d channels)", label,
                      png_get_bit_depth(png, info), channels);
        goto fail;
    }
    st = pn_image_alloc((int32_t)w, (int32_t)h, label, &tmp_img);
    if (st != PNEUMO_OK)
        goto fail;
    img = tmp_img;

    if (passes == 1 || channels == 1) {
        if (channels != 1) {
            buf = pn_malloc(rowbytes);
            if (!buf) {
                st = pn_error_nomem(label, rowbytes);
                goto fail;
            }
        }
        for (int pass = 0; pass < passes; pass++) {
            for (png_uint_32 y = 0; y < h; y++) {
                uint8_t *dst = img->pixels + (size_t)y * w;
                if (channels == 1) {
                    png_read_row(png, dst, NULL);
                } else {
                    png_read_row(png, buf, NULL);
                    pn_gray_from_samples(buf, channels, w, dst);
                }
            }
        }
    } else {
        /* interlaced colour: libpng needs the whole expanded image */
        size_t total = rowbytes * (size_t)h;
        buf = pn_malloc(total);
        rows = pn_malloc((size_t)h * sizeof *rows);
        if (!buf || !rows) {
            st = pn_error_nomem(label, total);
            goto fail;
        }
        for (png_uint_32 y = 0; y < h; y++)
            rows[y] = buf + (size_t)y * rowbytes;
        png_read_image(png, rows);
        for (png_uint_32 y = 0; y < h; y++)
            pn_gray_from_samples(rows[y], channels, w, img->pixels + (size_t)y * w);
    }
    png_read_end(png, NULL);
    png_destroy_read_struct(&png, &info, NULL);
    free(rows);
    free(buf);
    *out = img;
    return PNEUMO_OK;

fail:
    png_destroy_read_struct(&png, &info, NULL);
    free(rows);
    free(buf);
    pneumo_image_destroy(img);
    return st;
}
