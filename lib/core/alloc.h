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

/* Every allocation of the library goes through these (memory from them is
 * released with free()), so that tests can make one of them fail. */
void *pn_malloc(size_t bytes);
void *pn_calloc(size_t count, size_t size);
void *pn_realloc(void *p, size_t bytes);
char *pn_strdup(const char *s);

/* Allocation failure injection, for tests only (not exported): the n-th
 * allocation from now (n >= 1) through the functions above, pn_aligned_*,
 * libpng's allocator or a tensor returns NULL, once; n = 0 disarms.
 * Thread-safe (the count is shared by all threads). */
void pn_alloc_fail_nth(long n);
/* Whether the armed failure has happened since the last pn_alloc_fail_nth(). */
int pn_alloc_fail_fired(void);
/* An allocation a library makes with its own allocator (libjpeg's memory
 * manager): counts as one allocation of the injection; 1 if it is the one
 * that fails, and the caller then fails it the library's way. */
int pn_alloc_fault(void);

#endif
