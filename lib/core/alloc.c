#include "core/alloc.h"

#include <stdatomic.h>
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

static atomic_long fail_countdown;
static atomic_int fail_fired;

void pn_alloc_fail_nth(long n)
{
    atomic_store(&fail_fired, 0);
    atomic_store(&fail_countdown, n > 0 ? n : 0);
}

int pn_alloc_fail_fired(void) { return atomic_load(&fail_fired); }

/* One relaxed load on the common path; only an armed countdown costs more. */
static int should_fail(void)
{
    if (atomic_load_explicit(&fail_countdown, memory_order_relaxed) <= 0)
        return 0;
    if (atomic_fetch_sub(&fail_countdown, 1) != 1)
        return 0;
    atomic_store(&fail_fired, 1);
    return 1;
}

int pn_alloc_fault(void) { return should_fail(); }

void *pn_malloc(size_t bytes) { return should_fail() ? NULL : malloc(bytes); }

void *pn_calloc(size_t count, size_t size) { return should_fail() ? NULL : calloc(count, size); }

void *pn_realloc(void *p, size_t bytes) { return should_fail() ? NULL : realloc(p, bytes); }

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
    if (should_fail())
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
