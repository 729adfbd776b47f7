/* libpneumo — image decoding and resizing.
 *
 * A pneumo_image is an 8-bit grayscale picture: width x height bytes, row-major,
 * contiguous (row stride == width), 0 = black, 255 = white.
 *
 * Decoding reproduces what Keras' load_img(color_mode='grayscale') sees, i.e.
 * PIL's Image.open(f).convert('L'):
 *   - the format is detected from the content (JPEG: FF D8 FF, PNG: the 8-byte
 *     signature), never from the file name;
 *   - colour pixels become L = (R*19595 + G*38470 + B*7471 + 0x8000) >> 16,
 *     Pillow's fixed-point form of ITU-R 601-2 (R*299 + G*587 + B*114)/1000;
 *   - alpha is ignored (not composited), palette images go through their RGB
 *     palette entries, gray+alpha keeps the gray sample;
 *   - JPEG: 1 component is taken as is; 3 components are decoded to RGB by
 *     libjpeg (islow IDCT, fancy upsampling) and then converted; 4-component
 *     (CMYK/YCCK) files are inverted as Pillow does for every CMYK JPEG (Adobe
 *     convention: C = 255 - stored sample, same for M, Y, K), converted with
 *     Pillow's cmyk2rgb, R = clip(nk - MULDIV255(C, nk)) with nk = 255 - K and
 *     MULDIV255(a, b) = (t + (t >> 8)) >> 8, t = a*b + 128 (G, B alike), and
 *     then to L;
 *   - 16-bit PNG samples are reduced to their high byte (what Pillow does for
 *     16-bit RGB/RGBA/LA PNGs; see pneumo_image_decode for 16-bit gray);
 *   - EXIF orientation is ignored (PIL's Image.open does not rotate either).
 *
 * DICOM Part 10 files (detected by content too) are rendered as a viewer shows
 * them: rescale slope/intercept, the first window or VOI LUT (else the pixel
 * data's min/max), MONOCHROME1 inverted, colour by the luma above; in a build
 * with -Ddicom; otherwise UNSUPPORTED "this build has no DICOM support".
 * docs/dicom.md says what is read, how it is rendered and what is refused.
 *
 * Hostile input: every dimension is checked against pneumo_decode_limits before
 * any pixel memory is allocated; corrupt, truncated or oversized files fail with
 * an error naming the file and the reason. Decoding never prints.
 *
 * Thread-safety: all functions are reentrant; distinct images may be used from
 * different threads. An image may be read by several threads at once. */
#ifndef PNEUMO_IMAGE_H
#define PNEUMO_IMAGE_H

#include "pneumo/common.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct pneumo_image pneumo_image;

/** Safety limits applied while decoding. Fill with pneumo_decode_default_limits()
 *  and change what you need; leave `reserved` zero. For max_scans and
 *  deadline_ms, zero means the default (they were reserved zeros before, so
 *  older callers keep their meaning). What a decode may cost within these
 *  limits is stated in docs/security.md. */
typedef struct pneumo_decode_limits {
    uint32_t size;          /**< sizeof(pneumo_decode_limits); set by the default function */
    int32_t max_side;       /**< largest width or height accepted; default 16384 */
    int64_t max_pixels;     /**< largest width*height accepted; default 128*1024*1024 */
    int64_t max_file_bytes; /**< largest file pneumo_image_load() reads; default 256 MiB */
    uint32_t max_scans;     /**< most JPEG scans read (progressive files have several);
                                  0 = the default, 100 */
    uint32_t deadline_ms;   /**< wall-clock milliseconds one decode may take before it
                                  fails with LIMIT; 0 = the default, no deadline */
    uint32_t reserved[6];   /**< must be zero */
} pneumo_decode_limits;

/** Resampling filter for pneumo_image_resize(). */
typedef enum pneumo_resample {
    /** PIL's Image.NEAREST (Keras load_img's default): output pixel x takes
     *  source pixel floor((x + 0.5) * src_w / dst_w), evaluated exactly like
     *  Pillow (double step src_w/dst_w accumulated from step/2). */
    PNEUMO_RESAMPLE_NEAREST = 0,
    /** PIL's Image.BILINEAR: separable triangle filter whose support grows
     *  with the reduction factor when shrinking (antialiasing), Pillow's
     *  22-bit fixed-point coefficients and rounding. */
    PNEUMO_RESAMPLE_BILINEAR = 1
} pneumo_resample;

/** Fill `limits` with the defaults (16384 px per side, 128 Mpixel, 256 MiB
 *  files, 100 JPEG scans, no deadline, reserved zeroed). Does nothing when `limits` is NULL. */
PNEUMO_API void pneumo_decode_default_limits(pneumo_decode_limits *limits);

/** Create a black (zero-filled) width x height image (each >= 1, at most
 *  2^31 - 1 pixels in total). On success *out receives an image the caller owns
 *  and frees with pneumo_image_destroy(). Errors: INVALID_ARG (NULL `out`, bad
 *  size), LIMIT (too many pixels), NOMEM. */
PNEUMO_API pneumo_status pneumo_image_create(int32_t width, int32_t height, pneumo_image **out);

/** Free an image. NULL is a no-op. */
PNEUMO_API void pneumo_image_destroy(pneumo_image *img);

/** Width in pixels, or 0 for NULL. */
PNEUMO_API int32_t pneumo_image_width(const pneumo_image *img);

/** Height in pixels, or 0 for NULL. */
PNEUMO_API int32_t pneumo_image_height(const pneumo_image *img);

/** The width*height pixels, row-major, owned by the image and valid until it is
 *  destroyed. NULL for NULL. */
PNEUMO_API const uint8_t *pneumo_image_pixels(const pneumo_image *img);

/** Writable variant of pneumo_image_pixels(). */
PNEUMO_API uint8_t *pneumo_image_pixels_mut(pneumo_image *img);

/** Decode the JPEG, PNG or DICOM file at `path` to 8-bit grayscale (see the file
 *  comment for the exact conversion). `limits` may be NULL for the defaults.
 *  On success *out receives a new image owned by the caller; on failure *out
 *  is set to NULL and the message names `path`.
 *  Errors: INVALID_ARG (NULL argument, bad limits), IO (cannot open or read,
 *  a directory, a FIFO or other non-regular file), FORMAT (empty, not a JPEG or
 *  PNG, corrupt, truncated), UNSUPPORTED (e.g. a 2-component JPEG, a DICOM
 *  transfer syntax, SOP class or multi-frame object not read), LIMIT (file
 *  larger than max_file_bytes, dimensions over max_side/max_pixels, more JPEG
 *  scans than max_scans, decoding longer than deadline_ms), NOMEM. */
PNEUMO_API pneumo_status pneumo_image_load(const char *path, const pneumo_decode_limits *limits,
                                           pneumo_image **out);

/** Decode `size` bytes at `data` (caller keeps ownership; only read) like
 *  pneumo_image_load(). `label` names the data in error messages (NULL gives
 *  "<memory>"). A 16-bit grayscale PNG gives its high byte (v >> 8): Pillow
 *  opens it as mode I;16, whose convert('L') saturates every value above 255,
 *  and Keras keeps it unconverted as 16-bit, neither of which fits an 8-bit
 *  pipeline; the high byte is Pillow's own reduction for the other 16-bit
 *  PNG kinds. Errors: as pneumo_image_load() without IO. */
PNEUMO_API pneumo_status pneumo_image_decode(const void *data, size_t size, const char *label,
                                             const pneumo_decode_limits *limits, pneumo_image **out);

/** Resize `src` to width x height (each >= 1, at most 2^31 - 1 pixels in total)
 *  with `mode`, bit-exact with PIL's Image.resize for mode 'L'. On success *out
 *  receives a new image owned by the caller (a copy when the size is unchanged).
 *  Errors: INVALID_ARG (NULL, bad size or mode), LIMIT (too many pixels), NOMEM. */
PNEUMO_API pneumo_status pneumo_image_resize(const pneumo_image *src, int32_t width, int32_t height,
                                             pneumo_resample mode, pneumo_image **out);

#ifdef __cplusplus
}
#endif

#endif /* PNEUMO_IMAGE_H */
