/* pneumo-serve: the request path's allocator is the C library's (see alloc.h). */
#include "alloc.h"

#include <stdlib.h>
#include <string.h>

void *serve_malloc(size_t n) { return malloc(n); }

void *serve_calloc(size_t count, size_t size) { return calloc(count, size); }

void *serve_realloc(void *p, size_t n) { return realloc(p, n); }

char *serve_strdup(const char *s) { return strdup(s); }
