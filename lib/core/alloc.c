#include "core/alloc.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int pn_mul_size(size_t a, size_t b, size_t *out)
{
    if (a != 0 && b > SIZE_MAX / a)
        return 0;
    *out = a * b;
    return 1;
}

void *pn_aligned_alloc(size_t bytes)
{
    void *p = NULL;
    if (bytes == 0)
        bytes = PN_ALIGN;
    if (posix_memalign(&p, PN_ALIGN, bytes) != 0)
        return NULL;
    return p;
}

void *pn_aligned_calloc(size_t count, size_t size)
{
    size_t bytes;
    void *p;
    if (!pn_mul_size(count, size, &bytes))
        return NULL;
    p = pn_aligned_alloc(bytes);
    if (p)
        memset(p, 0, bytes);
    return p;
}

void pn_aligned_free(void *p) { free(p); }
