/* Deterministic random numbers: xoshiro256** seeded through splitmix64.
 * Independent streams come from (seed, stream) pairs, so a layer's weights
 * depend only on the model seed and the layer's position. */
#ifndef PN_CORE_RNG_H
#define PN_CORE_RNG_H

#include <stdint.h>

typedef struct pn_rng {
    uint64_t s[4];
} pn_rng;

/* Mix any number of 64-bit words into one (splitmix64 finaliser chain). */
uint64_t pn_hash64(uint64_t a, uint64_t b);

void pn_rng_init(pn_rng *r, uint64_t seed, uint64_t stream);
uint64_t pn_rng_next(pn_rng *r);
/* Uniform double in [0, 1) with 53 random bits. */
double pn_rng_uniform(pn_rng *r);

#endif
