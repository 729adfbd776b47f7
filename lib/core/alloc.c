#include "core/alloc.h"
#include "core/faults.h"

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

void *pn_malloc(size_t bytes) { return pn_fault_alloc() ? NULL : malloc(bytes); }

void *pn_calloc(size_t count, size_t size) { return pn_fault_alloc() ? NULL : calloc(count, size); }

void *pn_realloc(void *p, size_t bytes) { return pn_fault_alloc() ? NULL : realloc(p, bytes); }

char *pn_strdup(const char *s)
{
    size_t n = strlen(s) + 1;
    char *d = pn_malloc(n);
    if (d)
        memcpy(d, s, n);
    return d;
}

void *pn_aligned_alloc(size_t bytes)
{
    void *p = NULL;
    if (pn_fault_alloc())
        return NULL;
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
