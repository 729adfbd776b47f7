/* Bounds on layer settings. They keep every size computation far from integer
 * overflow and stop a hostile model file from asking for absurd memory. */
#ifndef PN_LAYERS_LIMITS_H
#define PN_LAYERS_LIMITS_H

#define PN_MAX_SIDE 16384     /* input height / width */
#define PN_MAX_CHANNELS 65536 /* channels, filters, units */
#define PN_MAX_KERNEL 255     /* kernel side */
#define PN_MAX_STRIDE 1024
#define PN_MAX_POOL_WINDOW 256                  /* ph * pw: argmax fits a byte */
#define PN_MAX_SAMPLE_VALUES ((int64_t)1 << 28) /* activations per sample and layer */
#define PN_MAX_LAYER_PARAMS ((int64_t)1 << 30)
#define PN_MAX_LAYERS 1024

#endif
