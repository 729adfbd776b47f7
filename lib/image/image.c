/* Image object, limits, format sniffing, file reading and gray conversion. */
#include "image/image_internal.h"

#include "core/alloc.h"
#include "core/error.h"
#include "core/file.h"
#include "image/dicom.h"

#include <stdlib.h>
#include <string.h>
#include <time.h>

#define PN_DEFAULT_MAX_SIDE 16384
#define PN_DEFAULT_MAX_PIXELS ((int64_t)128 * 1024 * 1024)
#define PN_DEFAULT_MAX_FILE ((int64_t)256 * 1024 * 1024)
#define PN_DEFAULT_MAX_SCANS 100u

static const uint8_t png_signature[8] = {0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n'};

void pneumo_decode_default_limits(pneumo_decode_limits *limits)
{
    if (!limits)
        return;
    memset(limits, 0, sizeof *limits);
    limits->size = sizeof *limits;
    limits->max_side = PN_DEFAULT_MAX_SIDE;
    limits->max_pixels = PN_DEFAULT_MAX_PIXELS;
    limits->max_file_bytes = PN_DEFAULT_MAX_FILE;
    limits->max_scans = PN_DEFAULT_MAX_SCANS;
}

pneumo_status pn_decode_limits_resolve(const pneumo_decode_limits *src, pneumo_decode_limits *dst)
{
    if (!src) {
        pneumo_decode_default_limits(dst);
        return PNEUMO_OK;
    }
    pneumo_status st;
    if ((st = PN_CHECK_STRUCT("decode limits", pneumo_decode_limits, src)) != PNEUMO_OK)
        return st;
    if (src->max_side < 1 || src->max_pixels < 1 || src->max_file_bytes < 1)
        return pn_error(PNEUMO_ERR_INVALID_ARG,
                        "decode limits: max_side %d, max_pixels %lld and max_file_bytes "
                        "%lld must all be positive",
                        (int)src->max_side, (long long)src->max_pixels, (long long)src->max_file_bytes);
    *dst = *src;
    if (dst->max_scans == 0)
        dst->max_scans = PN_DEFAULT_MAX_SCANS;
    return PNEUMO_OK;
}

int64_t pn_decode_deadline(const pneumo_decode_limits *lim)
{
    struct timespec ts;
    if (lim->deadline_ms == 0 || clock_gettime(CLOCK_MONOTONIC, &ts) != 0)
        return 0;
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec + (int64_t)lim->deadline_ms * 1000000;
}

int pn_decode_deadline_passed(int64_t deadline)
{
    struct timespec ts;
    if (deadline == 0 || clock_gettime(CLOCK_MONOTONIC, &ts) != 0)
        return 0;
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec > deadline;
}

pneumo_status pn_image_check_limits(const pneumo_decode_limits *lim, const char *label, uint64_t width,
                                    uint64_t height)
{
    if (width == 0 || height == 0)
        return pn_error(PNEUMO_ERR_FORMAT, "%s: image has zero size (%llux%llu)", label,
                        (unsigned long long)width, (unsigned long long)height);
    if (width > (uint64_t)lim->max_side || height > (uint64_t)lim->max_side)
        return pn_error(PNEUMO_ERR_LIMIT, "%s: image is %llux%llu pixels, more than the limit of %d per side",
                        label, (unsigned long long)width, (unsigned long long)height, (int)lim->max_side);
    if (width * height > (uint64_t)lim->max_pixels)
        return pn_error(PNEUMO_ERR_LIMIT, "%s: image is %llux%llu = %llu pixels, more than the limit of %lld",
                        label, (unsigned long long)width, (unsigned long long)height,
                        (unsigned long long)(width * height), (long long)lim->max_pixels);
    if (width * height > (uint64_t)INT32_MAX)
        return pn_error(PNEUMO_ERR_LIMIT, "%s: image is %llux%llu pixels, more than 2^31 - 1", label,
                        (unsigned long long)width, (unsigned long long)height);
    return PNEUMO_OK;
}

pneumo_status pn_image_alloc(int32_t width, int32_t height, const char *label, pneumo_image **out)
{
    pneumo_image *img;
    size_t n;
    if (width < 1 || height < 1)
        return pn_error(PNEUMO_ERR_INVALID_ARG, "%s: image size %dx%d is not positive", label, (int)width,
                        (int)height);
    if ((int64_t)width * height > INT32_MAX)
        return pn_error(PNEUMO_ERR_LIMIT, "%s: image size %dx%d exceeds 2^31 - 1 pixels", label, (int)width,
                        (int)height);
    n = (size_t)width * (size_t)height;
    img = pn_malloc(sizeof *img);
    if (!img)
        return pn_error_nomem(label, sizeof *img);
    img->pixels = pn_malloc(n);
    if (!img->pixels) {
        free(img);
        return pn_error_nomem(label, n);
    }
    img->width = width;
    img->height = height;
    *out = img;
    return PNEUMO_OK;
}

pneumo_status pneumo_image_create(int32_t width, int32_t height, pneumo_image **out)
{
    pneumo_status st;
    if (!out)
        return pn_error(PNEUMO_ERR_INVALID_ARG, "pneumo_image_create: out is NULL");
    *out = NULL;
    st = pn_image_alloc(width, height, "pneumo_image_create", out);
    if (st != PNEUMO_OK)
        return st;
    memset((*out)->pixels, 0, (size_t)width * (size_t)height);
    return PNEUMO_OK;
}

void pneumo_image_destroy(pneumo_image *img)
{
    if (!img)
        return;
    free(img->pixels);
    free(img);
}

int32_t pneumo_image_width(const pneumo_image *img) { return img ? img->width : 0; }

int32_t pneumo_image_height(const pneumo_image *img) { return img ? img->height : 0; }

const uint8_t *pneumo_image_pixels(const pneumo_image *img) { return img ? img->pixels : NULL; }

uint8_t *pneumo_image_pixels_mut(pneumo_image *img) { return img ? img->pixels : NULL; }

void pn_gray_from_samples(const uint8_t *in, int channels, size_t n, uint8_t *out)
{
    size_t i;
    switch (channels) {
    case 1: memcpy(out, in, n); break;
    case 2: /* Pillow la2l: keep L, drop alpha */
        for (i = 0; i < n; i++)
            out[i] = in[2 * i];
        break;
    case 3: /* Pillow rgb2l */
        for (i = 0; i < n; i++, in += 3)
            out[i] = pn_luma(in[0], in[1], in[2]);
        break;
    default: /* 4: RGBA -> L ignores alpha (Pillow rgb2l on RGBA) */
        for (i = 0; i < n; i++, in += 4)
            out[i] = pn_luma(in[0], in[1], in[2]);
        break;
    }
}

/* ---- decoding entry points ---- */

static pneumo_status decode_resolved(const uint8_t *data, size_t size, const char *label,
                                     const pneumo_decode_limits *lim, pneumo_image **out)
{
    if (size == 0)
        return pn_error(PNEUMO_ERR_FORMAT, "%s: empty file, not a JPEG or PNG image", label);
    if (size >= 3 && data[0] == 0xFF && data[1] == 0xD8 && data[2] == 0xFF)
        return pn_decode_jpeg(data, size, label, lim, out);
    if (size >= sizeof png_signature && memcmp(data, png_signature, sizeof png_signature) == 0)
        return pn_decode_png(data, size, label, lim, out);
    if (pn_dicom_sniff(data, size))
        return pn_decode_dicom(data, size, label, lim, out);
    return pn_error(PNEUMO_ERR_FORMAT, "%s: not a JPEG or PNG image", label);
}

pneumo_status pneumo_image_decode(const void *data, size_t size, const char *label,
                                  const pneumo_decode_limits *limits, pneumo_image **out)
{
    pneumo_decode_limits lim = {0};
    pneumo_status st;
    if (!label)
        label = PN_IMAGE_MEMORY_LABEL;
    if (!out)
        return pn_error(PNEUMO_ERR_INVALID_ARG, "%s: pneumo_image_decode: out is NULL", label);
    *out = NULL;
    if (!data && size > 0)
        return pn_error(PNEUMO_ERR_INVALID_ARG, "%s: pneumo_image_decode: data is NULL", label);
    st = pn_decode_limits_resolve(limits, &lim);
    if (st != PNEUMO_OK)
        return pn_error_prefix("%s", label);
    return decode_resolved(data, size, label, &lim, out);
}

/* A resolved max_file_bytes (>= 1) as the reader's size_t limit. */
static size_t file_limit(int64_t max_file_bytes)
{
#if SIZE_MAX < INT64_MAX
    if (max_file_bytes > (int64_t)SIZE_MAX)
        return SIZE_MAX;
#endif
    return (size_t)max_file_bytes;
}

pneumo_status pneumo_image_load(const char *path, const pneumo_decode_limits *limits, pneumo_image **out)
{
    pneumo_decode_limits lim = {0};
    pneumo_status st;
    uint8_t *data;
    size_t size;

    if (!out)
        return pn_error(PNEUMO_ERR_INVALID_ARG, "pneumo_image_load: out is NULL");
    *out = NULL;
    if (!path)
        return pn_error(PNEUMO_ERR_INVALID_ARG, "pneumo_image_load: path is NULL");
    st = pn_decode_limits_resolve(limits, &lim);
    if (st != PNEUMO_OK)
        return pn_error_prefix("%s", path);
    st = pn_read_file(path, file_limit(lim.max_file_bytes), &data, &size);
    if (st != PNEUMO_OK)
        return st;
    st = decode_resolved(data, size, path, &lim, out);
    free(data);
    return st;
}

pneumo_status pn_image_decode_resized(const void *data, size_t size, const char *label, int32_t w, int32_t h,
                                      pneumo_resample mode, const pneumo_decode_limits *limits, uint8_t *dst,
                                      int32_t *src_w, int32_t *src_h)
{
    pneumo_image *img = NULL;
    pneumo_status st;
    if (!label)
        label = PN_IMAGE_MEMORY_LABEL;
    if (!dst)
        return pn_error(PNEUMO_ERR_INVALID_ARG, "%s: destination buffer is NULL", label);
    st = pneumo_image_decode(data, size, label, limits, &img);
    if (st != PNEUMO_OK)
        return st;
    if (src_w)
        *src_w = img->width;
    if (src_h)
        *src_h = img->height;
    st = pn_resize_gray(img->pixels, img->width, img->height, dst, w, h, mode);
    pneumo_image_destroy(img);
    if (st != PNEUMO_OK)
        return pn_error_prefix("%s", label);
    return PNEUMO_OK;
}

pneumo_status pn_image_load_resized(const char *path, int32_t w, int32_t h, pneumo_resample mode,
                                    const pneumo_decode_limits *limits, uint8_t *dst, int32_t *src_w,
                                    int32_t *src_h)
{
    pneumo_decode_limits lim = {0};
    pneumo_status st;
    uint8_t *data;
    size_t size;

    if (!path)
        return pn_error(PNEUMO_ERR_INVALID_ARG, "pn_image_load_resized: path is NULL");
    st = pn_decode_limits_resolve(limits, &lim);
    if (st != PNEUMO_OK)
        return pn_error_prefix("%s", path);
    st = pn_read_file(path, file_limit(lim.max_file_bytes), &data, &size);
    if (st != PNEUMO_OK)
        return st;
    st = pn_image_decode_resized(data, size, path, w, h, mode, &lim, dst, src_w, src_h);
    free(data);
    return st;
}
