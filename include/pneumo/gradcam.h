/* libpneumo — Grad-CAM explanations (Selvaraju et al. 2017).
 *
 * For one image and a Conv2D layer with post-ReLU output A (h x w x K), the
 * class activation map is
 *     w_k = mean over (i, j) of d(score)/dA[i, j, k]
 *     map = ReLU(sum_k w_k A[., ., k])        (h x w floats)
 * where score is the logit z of the single sigmoid output (class 1, e.g.
 * Pneumonia) or -z (class 0, Normal). The map is computed exactly: the layer's
 * output is materialised for this pass even where inference normally fuses
 * Conv2D + MaxPooling2D and never stores it, and the forward pass runs the
 * direct convolution of a training step (no Winograd), in inference mode
 * (dropout off). An all-zero map stays zero (no NaN).
 *
 * Thread-safety: pneumo_model_gradcam*() use the model's buffers like
 * pneumo_model_predict(): one call per model at a time; use one inference
 * clone per thread (pneumo_model_clone_inference()). The rendering helpers are
 * reentrant. */
#ifndef PNEUMO_GRADCAM_H
#define PNEUMO_GRADCAM_H

#include "pneumo/common.h"
#include "pneumo/image.h"
#include "pneumo/model.h"
#include "pneumo/tensor.h"

#ifdef __cplusplus
extern "C" {
#endif

/** Grad-CAM settings; fill with pneumo_gradcam_default_options(). */
typedef struct pneumo_gradcam_options {
    uint32_t size;        /**< sizeof(pneumo_gradcam_options); set by the default function */
    int32_t layer;        /**< index of a Conv2D layer (0-based, as pneumo_model_summary lists
                               them); default -1 = the last Conv2D */
    int32_t target;       /**< class to explain: 1 (logit z), 0 (-z), or -1 = the predicted class
                               (p >= the model's threshold gives 1); default -1 */
    uint32_t reserved[8]; /**< zero */
} pneumo_gradcam_options;

/** What a Grad-CAM call explained. */
typedef struct pneumo_gradcam_info {
    uint32_t size;        /**< set by the caller to sizeof(pneumo_gradcam_info) */
    int32_t layer;        /**< the Conv2D layer used */
    int32_t target;       /**< the class explained (0 or 1) */
    int32_t height;       /**< map height = the layer's output height */
    int32_t width;        /**< map width */
    float probability;    /**< probability of class 1 from this pass */
    float max;            /**< largest map value (0 for an all-zero map) */
    uint32_t reserved[8]; /**< zero on return */
} pneumo_gradcam_info;

/** Overlay rendering settings; fill with pneumo_overlay_default_options(). */
typedef struct pneumo_overlay_options {
    uint32_t size;        /**< sizeof(pneumo_overlay_options); set by the default function */
    float alpha;          /**< heat map opacity where the map is at its maximum, 0..1; default 0.5
                               (the opacity scales with the normalised map value) */
    int32_t max_side;     /**< the overlay is the X-ray's size, scaled down (bilinear) so that
                               no side exceeds this; 0 = no limit; default 1024 */
    uint32_t reserved[8]; /**< zero */
} pneumo_overlay_options;

/** Fill `o` with the defaults stated on its fields. NULL is a no-op. */
PNEUMO_API void pneumo_gradcam_default_options(pneumo_gradcam_options *o);

/** Fill `o` with the defaults stated on its fields. NULL is a no-op. */
PNEUMO_API void pneumo_overlay_default_options(pneumo_overlay_options *o);

/** Grad-CAM of one input sample x (1, H, W, C) (preprocessed like the model's
 *  input). `o` may be NULL for the defaults. On success *map receives a new
 *  (height, width) tensor owned by the caller (pneumo_tensor_destroy) and
 *  *info (may be NULL; its size field set) what was explained. The model must
 *  end in one sigmoid unit. Errors: INVALID_ARG (NULL, bad options), SHAPE (x
 *  is not one sample of the input shape), STATE (no Conv2D layer, `layer` is
 *  not a Conv2D, not a single sigmoid output), NOMEM. */
PNEUMO_API pneumo_status pneumo_model_gradcam(pneumo_model *m, const pneumo_tensor *x,
                                              const pneumo_gradcam_options *o, pneumo_tensor **map,
                                              pneumo_gradcam_info *info);

/** As pneumo_model_gradcam() for a decoded image, preprocessed with the
 *  model's preprocessing (pneumo_model_predict_image()). */
PNEUMO_API pneumo_status pneumo_model_gradcam_image(pneumo_model *m, const pneumo_image *img,
                                                    const pneumo_gradcam_options *o, pneumo_tensor **map,
                                                    pneumo_gradcam_info *info);

/** Bilinear upsampling of a (h, w) map to (height, width), pixel centres
 *  aligned (OpenCV's INTER_LINEAR / PyTorch align_corners=False, edges
 *  clamped). *out receives a new tensor owned by the caller.
 *  Errors: INVALID_ARG (not a 2-D map, bad size), LIMIT, NOMEM. */
PNEUMO_API pneumo_status pneumo_gradcam_upsample(const pneumo_tensor *map, int32_t height, int32_t width,
                                                 pneumo_tensor **out);

/** Render `map` over the grayscale X-ray `img` as an RGB PNG in memory: the map
 *  is upsampled bilinearly to the output size, divided by its maximum, coloured
 *  with the perceptual "inferno" colour map and alpha-blended over the image
 *  (opacity alpha * value). *png receives a buffer of *png_size bytes freed
 *  with pneumo_free(). `o` may be NULL for the defaults.
 *  Errors: INVALID_ARG, LIMIT, NOMEM. */
PNEUMO_API pneumo_status pneumo_gradcam_overlay_png(const pneumo_image *img, const pneumo_tensor *map,
                                                    const pneumo_overlay_options *o, void **png,
                                                    size_t *png_size);

/** As pneumo_gradcam_overlay_png(), written atomically to `path`.
 *  Errors: as pneumo_image_save_png(). */
PNEUMO_API pneumo_status pneumo_gradcam_save_overlay(const pneumo_image *img, const pneumo_tensor *map,
                                                     const pneumo_overlay_options *o, const char *path);

#ifdef __cplusplus
}
#endif

#endif /* PNEUMO_GRADCAM_H */
