/* Internal helpers of the augmentation code (lib/data/augment.c), shared with
 * the dataset pipeline and the tests. Public API: include/pneumo/augment.h. */
#ifndef PN_DATA_AUGMENT_H
#define PN_DATA_AUGMENT_H

#include "pneumo/augment.h"

/* Largest accepted image side; keeps every coordinate and index far from
 * integer overflow. */
#define PN_AUGMENT_MAX_SIDE 65536

/* Per-image random stream: a splitmix64 sequence whose starting state is a hash
 * of (seed, epoch, index) alone, so the numbers for one image never depend on
 * which thread draws them or in which order. */
typedef struct pn_augment_rng {
    uint64_t state;
} pn_augment_rng;

/* Start the stream of image `index` in epoch `epoch` under `seed`. */
void pn_augment_rng_init(pn_augment_rng *r, uint64_t seed, uint64_t epoch, uint64_t index);

/* Next 64 random bits of the stream. */
uint64_t pn_augment_rng_next(pn_augment_rng *r);

/* Uniform double in [0, 1) with 53 random bits (numpy's random() form). */
double pn_augment_rng_uniform(pn_augment_rng *r);

/* 1 if `p` has no rotation, shift, shear or zoom (Keras then builds no matrix
 * and skips scipy's affine_transform entirely). */
int pn_augment_is_affine_identity(const pneumo_augment_params *p);

/* The final 2x3 map used for resampling, exactly as Keras hands it to
 * scipy.ndimage.affine_transform: for output pixel (r, c)
 *   input_row = a[0] * r + a[1] * c + a[2]
 *   input_col = a[3] * r + a[4] * c + a[5]
 * (transform_matrix_offset_center applied, (row, col) axes). */
void pn_augment_matrix(const pneumo_augment_params *p, int32_t width, int32_t height, double a[6]);

/* The 256-entry table of p's contrast (mean taken over the n bytes of src)
 * followed by its gamma; the identity when both are 0. */
void pn_augment_intensity_lut(const pneumo_augment_params *p, const uint8_t *src, size_t n, uint8_t lut[256]);

/* dst[i] = lut[src[i]] for i < n. */
void pn_augment_map_u8(const uint8_t *src, uint8_t *dst, size_t n, const uint8_t lut[256]);

#endif
