/* libpneumo — writing images as PNG.
 *
 * The writer produces an 8-bit grayscale, non-interlaced PNG (colour type 0)
 * with zlib's default compression and no ancillary chunks. Decoding the result
 * with pneumo_image_decode()/pneumo_image_load() gives back exactly the same
 * pixels.
 *
 * Thread-safety: reentrant; distinct calls may run concurrently (an image may
 * be read by several threads at once). */
#ifndef PNEUMO_IMAGE_WRITE_H
#define PNEUMO_IMAGE_WRITE_H

#include "pneumo/common.h"
#include "pneumo/image.h"

#ifdef __cplusplus
extern "C" {
#endif

/** Write `img` to `path` as an 8-bit grayscale PNG, atomically: the bytes go
 *  to a temporary file created in the same directory, which is flushed to disk
 *  and renamed over `path` (then the directory is synced). Readers see either
 *  the previous file or the complete new one; on failure no temporary file is
 *  left and an existing `path` is untouched. The new file's permissions are
 *  0666 minus the process umask. Errors name `path`: INVALID_ARG (NULL image,
 *  NULL or empty path), IO (directory missing or not writable, disk full,
 *  rename failed), NOMEM. */
PNEUMO_API pneumo_status pneumo_image_save_png(const pneumo_image *img, const char *path);

/** Encode `img` as an 8-bit grayscale PNG in memory (e.g. for a data: URI).
 *  On success *data receives a buffer of *size bytes that the caller releases
 *  with pneumo_free(); on failure *data is NULL and *size 0.
 *  Errors: INVALID_ARG (NULL argument), NOMEM. */
PNEUMO_API pneumo_status pneumo_image_encode_png(const pneumo_image *img, void **data, size_t *size);

#ifdef __cplusplus
}
#endif

#endif /* PNEUMO_IMAGE_WRITE_H */
