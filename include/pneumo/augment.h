/* libpneumo — random image augmentation with Keras ImageDataGenerator semantics.
 *
 * Reproduces keras_preprocessing.image.ImageDataGenerator (1.1.x, the version
 * behind tf.keras.preprocessing.image until TF 2.8): get_random_transform()
 * draws the parameters, apply_transform() applies them, standardize() rescales:
 *
 *   1. affine transform (rotation, shift, shear, zoom) about the image centre,
 *      resampled like scipy.ndimage.affine_transform(order=1, mode=fill_mode):
 *      bilinear, the matrix maps OUTPUT (row, col) to INPUT (row, col);
 *   2. horizontal flip (columns reversed), then vertical flip (rows reversed);
 *   3. brightness (PIL ImageEnhance.Brightness on an 8-bit copy);
 *   4. rescale (x *= rescale in float32).
 *
 * Three options beyond Keras act before step 1, on the 8-bit input:
 *   a. contrast: PIL ImageEnhance.Contrast(img).enhance(c): blend with a grey
 *      image of m = int(mean + 0.5) (mean of the whole input):
 *      out = trunc(m + c (x - m)) in C float, clipped to 0..255 when c > 1;
 *   b. gamma: out = trunc(255.999 * (x / 255)^g) in double, torchvision's
 *      adjust_gamma on a PIL image (gain 1); a and b are one 256-entry table;
 *   c. crop: a window of s (h - 1) x s (w - 1) pixels between sample centres
 *      whose first sample is input (crop_row, crop_col), resized to h x w by
 *      bilinear sampling (input = crop + s * output, align_corners=True); it is
 *      composed with the matrix below (input = C(M(output))), so there is one
 *      resampling, and a crop alone never reads outside the image.
 *
 * The transform matrix, in Keras' order and in (row, col) axes, is
 *   M = R(theta) . T(tx, ty) . S(shear) . Z(zx, zy)
 *   R = [[cos t, -sin t, 0], [sin t, cos t, 0], [0, 0, 1]]      (t in radians)
 *   T = [[1, 0, tx], [0, 1, ty], [0, 0, 1]]
 *   S = [[1, -sin s, 0], [0, cos s, 0], [0, 0, 1]]                (s in radians)
 *   Z = [[zx, 0, 0], [0, zy, 0], [0, 0, 1]]
 * centred as O . M . O^-1 with O a translation by (height/2 + 0.5, width/2 + 0.5)
 * (transform_matrix_offset_center). So, faithfully to Keras: tx shifts ROWS (it
 * is drawn from height_shift_range), ty shifts COLUMNS (width_shift_range), zx
 * scales ROWS and zy COLUMNS, and z > 1 zooms out (the output samples a larger
 * input area).
 *
 * Random parameters come from a small counter-based generator keyed by
 * (seed, epoch, index) only, so the result for an image never depends on the
 * thread count or the order images are processed in. It is not numpy's RNG:
 * the same seed does not give the same numbers as Keras, only the same
 * distributions, drawn in Keras' order (theta, tx, ty, shear, zx, zy,
 * flip_h, flip_v, brightness), then contrast, gamma, crop (s, row, column).
 *
 * Thread-safety: every function here is reentrant and keeps no global state. */
#ifndef PNEUMO_AUGMENT_H
#define PNEUMO_AUGMENT_H

#include "pneumo/common.h"

#ifdef __cplusplus
extern "C" {
#endif

/** How points outside the input are filled (scipy.ndimage modes). */
typedef enum pneumo_fill_mode {
    PNEUMO_FILL_NEAREST = 0,  /**< aaaa|abcd|dddd: edge pixels repeat (Keras default) */
    PNEUMO_FILL_CONSTANT = 1, /**< kkkk|abcd|kkkk with k = cval; any point outside
                                   [0, n-1] on either axis takes cval (no blending) */
    PNEUMO_FILL_REFLECT = 2,  /**< dcba|abcd|dcba: half-sample symmetric (scipy >= 1.6) */
    PNEUMO_FILL_WRAP = 3      /**< scipy's 'wrap': coordinates reduced modulo n - 1
                                   exactly as scipy.ndimage does (first and last
                                   samples overlap; abcd|bcd|bcd at whole pixels) */
} pneumo_fill_mode;

/** Augmentation settings, the ImageDataGenerator arguments. Fill with
 *  pneumo_augment_default_options() (no augmentation, rescale 1/255) or
 *  pneumo_augment_article_options() (the article's training generator). */
typedef struct pneumo_augment_options {
    uint32_t size;              /**< sizeof(pneumo_augment_options); set by the default functions */
    double rotation_range;      /**< degrees; theta ~ U(-r, r); default 0 (off); 0..360 */
    double width_shift_range;   /**< fraction of the width in [0, 1) (only Keras' float
                                     form); ty = U(-r, r) * width pixels; default 0 */
    double height_shift_range;  /**< fraction of the height in [0, 1); tx = U(-r, r) *
                                     height pixels; default 0 */
    double shear_range;         /**< DEGREES as Keras passes it (0.2 means +-0.2 deg);
                                     shear ~ U(-r, r); default 0; 0..360 */
    double zoom_lo;             /**< zx, zy ~ U(zoom_lo, zoom_hi) drawn independently;
                                     Keras zoom_range=z is [1 - z, 1 + z]; default 1 */
    double zoom_hi;             /**< default 1 (zoom off when both are 1); 0 <= lo <= hi <= 1000 */
    int32_t horizontal_flip;    /**< 0/1: reverse columns with probability 0.5; default 0 */
    int32_t vertical_flip;      /**< 0/1: reverse rows with probability 0.5; default 0 */
    double brightness_lo;       /**< factor ~ U(lo, hi) (Keras brightness_range); both 0 =
                                     off; else 0 < lo <= hi <= 1000; default 0 */
    double brightness_hi;       /**< default 0 */
    int32_t brightness_stretch; /**< 1: keras_preprocessing (scale=True): stretch the image
                                     to min..max = 0..255 before the 8-bit enhance; 0: Keras
                                     >= 2.9 (scale=False): no stretch; default 1 */
    int32_t fill_mode;          /**< pneumo_fill_mode; default PNEUMO_FILL_NEAREST */
    float cval;                 /**< value for PNEUMO_FILL_CONSTANT, in 0..255 units; default 0 */
    float rescale;              /**< multiplies every output value last (float32); 0 = no
                                     rescale, as Keras' rescale=None; default 1/255 */
    float contrast_lo;          /**< PIL ImageEnhance.Contrast factor ~ U(lo, hi) (torchvision
                                     ColorJitter contrast); both 0 = off; else
                                     0 < lo <= hi <= 1000; default 0 */
    float contrast_hi;          /**< default 0 */
    float gamma_lo;             /**< gamma ~ U(lo, hi), out = 255 (x / 255)^gamma
                                     (torchvision adjust_gamma, gain 1); both 0 = off;
                                     else 0 < lo <= hi <= 1000; default 0 */
    float gamma_hi;             /**< default 0 */
    float crop_lo;              /**< random crop: side fraction s ~ U(crop_lo, 1) of both
                                     axes, resized back to the full size; 0 or 1 = off;
                                     else 0 < crop_lo < 1; default 0 */
    uint32_t reserved[3];       /**< zero */
} pneumo_augment_options;

/** One image's drawn transformation (Keras' transform_parameters dict). */
typedef struct pneumo_augment_params {
    uint32_t size;        /**< sizeof(pneumo_augment_params); set by pneumo_augment_identity_params()
                              and by pneumo_augment_draw() */
    double theta_deg;     /**< rotation in degrees (0 = none) */
    double tx;            /**< shift along ROWS in pixels (from height_shift_range) */
    double ty;            /**< shift along COLUMNS in pixels (from width_shift_range) */
    double shear_deg;     /**< shear angle in degrees (0 = none) */
    double zx;            /**< zoom of the ROW axis (1 = none) */
    double zy;            /**< zoom of the COLUMN axis (1 = none) */
    int32_t flip_h;       /**< 1: reverse columns after the affine transform */
    int32_t flip_v;       /**< 1: reverse rows after the affine transform */
    double brightness;    /**< PIL brightness factor; 0 = no brightness step */
    float contrast;       /**< PIL contrast factor; 0 = no contrast step */
    float gamma;          /**< gamma exponent; 0 = no gamma step */
    float crop_scale;     /**< crop side fraction in (0, 1]; 0 or 1 = no crop */
    float crop_row;       /**< input row of the window's first sample (pixels, >= 0) */
    float crop_col;       /**< input column of the window's first sample (pixels, >= 0) */
    uint32_t reserved[3]; /**< zero */
} pneumo_augment_params;

/** Fill `o` with "no augmentation": every range off, fill nearest, cval 0,
 *  rescale 1/255, brightness_stretch 1 (see the field comments). This is the
 *  article's validation/test generator. NULL is a no-op. */
PNEUMO_API void pneumo_augment_default_options(pneumo_augment_options *o);

/** Fill `o` with the article's training generator: ImageDataGenerator(
 *  rescale=1/255, shear_range=0.2, zoom_range=0.2, horizontal_flip=True), i.e.
 *  the defaults plus shear_range 0.2 (degrees), zoom 0.8..1.2 and
 *  horizontal_flip 1. NULL is a no-op. */
PNEUMO_API void pneumo_augment_article_options(pneumo_augment_options *o);

/** Check every field of `o` against the ranges in the field comments.
 *  Returns PNEUMO_OK or INVALID_ARG with a message naming the field. */
PNEUMO_API pneumo_status pneumo_augment_validate_options(const pneumo_augment_options *o);

/** Set `p` to the identity transformation (no rotation, shift, shear, zoom,
 *  flip or brightness): applying it only converts and rescales. NULL is a no-op. */
PNEUMO_API void pneumo_augment_identity_params(pneumo_augment_params *p);

/** Draw the parameters for image `index` of epoch `epoch` under `seed`, for an
 *  image of `width` x `height` pixels (the size only scales the shifts). The
 *  result is a pure function of (options, seed, epoch, index, size). Disabled
 *  options take their neutral value without consuming random numbers, except the
 *  two flips which, as in Keras, always consume one draw each.
 *  Errors: INVALID_ARG (NULL, invalid options, width or height < 1),
 *  LIMIT (a side above 65536). */
PNEUMO_API pneumo_status pneumo_augment_draw(const pneumo_augment_options *o, uint64_t seed, uint64_t epoch,
                                             uint64_t index, int32_t width, int32_t height,
                                             pneumo_augment_params *out);

/** Apply `p` to the 8-bit grayscale image `src` (src_size bytes, of which the
 *  first height rows of width bytes are read, row-major, no padding) and write
 *  height * width floats to `dst`, a buffer of dst_count floats (row-major;
 *  one channels-last sample of an (N, H, W, 1) batch). Uses o->fill_mode,
 *  o->cval, o->rescale and o->brightness_stretch; the ranges in `o` are not
 *  consulted. When `p` has no rotation, shift, shear, zoom or crop the affine
 *  pass is skipped, so the result is exactly (float)src * (float)rescale
 *  (flipped; src after its contrast and gamma table).
 *  `src` and `dst` must not overlap; both stay owned by the caller.
 *  Errors: INVALID_ARG (NULL, invalid options, size < 1, a non-finite or
 *  out-of-range parameter: |tx|,|ty| <= 1e7, |zx|,|zy| <= 1e4, |theta|,|shear|
 *  <= 1e4 degrees, 0 <= brightness, contrast, gamma <= 1000, flips 0/1, a crop
 *  scale in [0, 1] with the window inside the image (offsets 0 without crop), src_size or dst_count
 *  below width * height, naming the buffer and the length needed), LIMIT (a
 *  side above 65536). On error `dst` is left untouched. */
PNEUMO_API pneumo_status pneumo_augment_apply(const pneumo_augment_options *o, const pneumo_augment_params *p,
                                              const uint8_t *src, size_t src_size, int32_t width,
                                              int32_t height, float *dst, size_t dst_count);

/** pneumo_augment_draw() followed by pneumo_augment_apply(); `params_out` may
 *  be NULL, else it receives the drawn parameters. Same errors. */
PNEUMO_API pneumo_status pneumo_augment_image(const pneumo_augment_options *o, uint64_t seed, uint64_t epoch,
                                              uint64_t index, const uint8_t *src, size_t src_size,
                                              int32_t width, int32_t height, float *dst, size_t dst_count,
                                              pneumo_augment_params *params_out);

#ifdef __cplusplus
}
#endif

#endif /* PNEUMO_AUGMENT_H */
