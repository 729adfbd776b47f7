/* Internal side of pneumo/image.h: the image struct, the per-format decoders
 * and helpers shared by image.c, jpeg.c, png.c and resize.c, plus the fast path
 * the dataset uses (decode + resize straight into a caller buffer). */
#ifndef PN_IO_IMAGE_INTERNAL_H
#define PN_IO_IMAGE_INTERNAL_H

#include "pneumo/image.h"

struct pneumo_image {
    int32_t width;
    int32_t height;
    uint8_t *pixels; /* width * height bytes, row-major */
};

/* Label used in messages for a buffer without a name. */
#define PN_IMAGE_MEMORY_LABEL "<memory>"

/* Pillow's fixed-point ITU-R 601-2 luma (Convert.c L24 / rgb2l). */
static inline uint8_t pn_luma(unsigned r, unsigned g, unsigned b)
{
    return (uint8_t)((r * 19595u + g * 38470u + b * 7471u + 0x8000u) >> 16);
}

/* Allocate an uninitialised w x h image (w, h >= 1; w*h < 2^31). */
pneumo_status pn_image_alloc(int32_t width, int32_t height, const char *label, pneumo_image **out);

/* Check decoded dimensions against `lim` before allocating; LIMIT naming
 * `label` and the size when exceeded, FORMAT for a zero dimension. */
pneumo_status pn_image_check_limits(const pneumo_decode_limits *lim, const char *label, uint64_t width,
                                    uint64_t height);

/* Validate caller limits (NULL -> defaults) into *dst. */
pneumo_status pn_decode_limits_resolve(const pneumo_decode_limits *src, pneumo_decode_limits *dst);

/* The CLOCK_MONOTONIC nanosecond at which a decode starting now must stop
 * (lim->deadline_ms from now), or 0 for no deadline. */
int64_t pn_decode_deadline(const pneumo_decode_limits *lim);
/* Whether `deadline` (from pn_decode_deadline) has passed; 0 never passes. */
int pn_decode_deadline_passed(int64_t deadline);

/* Convert n pixels of `channels` (1..4: L, LA, RGB, RGBA) 8-bit samples to L. */
void pn_gray_from_samples(const uint8_t *in, int channels, size_t n, uint8_t *out);

/* Per-format decoders. `data` starts with the format's signature; `label` is
 * never NULL; `lim` is resolved. */
pneumo_status pn_decode_jpeg(const uint8_t *data, size_t size, const char *label,
                             const pneumo_decode_limits *lim, pneumo_image **out);
pneumo_status pn_decode_png(const uint8_t *data, size_t size, const char *label,
                            const pneumo_decode_limits *lim, pneumo_image **out);

/* Resize a gray buffer `src` (sw x sh) into `dst` (dw x dh), PIL-exact. */
pneumo_status pn_resize_gray(const uint8_t *src, int32_t sw, int32_t sh, uint8_t *dst, int32_t dw, int32_t dh,
                             pneumo_resample mode);

/* Decode the file at `path` (limits may be NULL) and resize it to w x h into
 * `dst` (w*h bytes, caller-owned): what Keras' load_img(grayscale,
 * target_size=(h, w), interpolation=nearest|bilinear) returns. Optionally
 * reports the original size through src_w/src_h (may be NULL). */
pneumo_status pn_image_load_resized(const char *path, int32_t w, int32_t h, pneumo_resample mode,
                                    const pneumo_decode_limits *limits, uint8_t *dst, int32_t *src_w,
                                    int32_t *src_h);

/* Same from a memory buffer. */
pneumo_status pn_image_decode_resized(const void *data, size_t size, const char *label, int32_t w, int32_t h,
                                      pneumo_resample mode, const pneumo_decode_limits *limits, uint8_t *dst,
                                      int32_t *src_w, int32_t *src_h);

/* Encode width x height RGB pixels (3 bytes each) as a PNG in memory;
 * *data is malloc'ed (pneumo_free). Errors name `label`. */
pneumo_status pn_png_encode_rgb(const uint8_t *rgb, int32_t width, int32_t height, const char *label,
                                void **data, size_t *size);

#endif
