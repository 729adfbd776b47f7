/* Aligned allocation for tensors and kernel buffers (64 bytes: one AVX-512
 * register, one cache line). */
#ifndef PN_CORE_ALLOC_H
#define PN_CORE_ALLOC_H

#include <stddef.h>

#define PN_ALIGN 64

/* Aligned, uninitialised; NULL on failure or size overflow. */
void *pn_aligned_alloc(size_t bytes);
/* Aligned, zero-filled; NULL on failure or if count * size overflows. */
void *pn_aligned_calloc(size_t count, size_t size);
void pn_aligned_free(void *p);

/* Multiply two sizes; returns 0 and leaves *out untouched on overflow. */
int pn_mul_size(size_t a, size_t b, size_t *out);

#endif
