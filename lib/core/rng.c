#include "core/rng.h"

static uint64_t splitmix64(uint64_t *x)
{
    uint64_t z = (*x += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

uint64_t pn_hash64(uint64_t a, uint64_t b)
{
    uint64_t x = a;
    uint64_t h = splitmix64(&x);
    x = h ^ b;
    return splitmix64(&x);
}

void pn_rng_init(pn_rng *r, uint64_t seed, uint64_t stream)
{
    uint64_t x = pn_hash64(seed, stream);
    for (int i = 0; i < 4; i++)
        r->s[i] = splitmix64(&x);
}

static uint64_t rotl(uint64_t x, int k) { return (x << k) | (x >> (64 - k)); }

uint64_t pn_rng_next(pn_rng *r)
{
    uint64_t *s = r->s;
    uint64_t result = rotl(s[1] * 5, 7) * 9;
    uint64_t t = s[1] << 17;
    s[2] ^= s[0];
    s[3] ^= s[1];
    s[1] ^= s[2];
    s[0] ^= s[3];
    s[2] ^= t;
    s[3] = rotl(s[3], 45);
    return result;
}

double pn_rng_uniform(pn_rng *r) { return (double)(pn_rng_next(r) >> 11) * 0x1.0p-53; }
