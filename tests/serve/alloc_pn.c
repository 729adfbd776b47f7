/* The request path of pneumo-serve on the library's internal allocator, so
 * that pn_alloc_fail_nth() reaches it (the fuzz target and the
 * allocation-failure test link this instead of examples/serve/alloc.c). */
#include "alloc.h"

#include "core/alloc.h"

void *serve_malloc(size_t n) { return pn_malloc(n); }

void *serve_calloc(size_t count, size_t size) { return pn_calloc(count, size); }

void *serve_realloc(void *p, size_t n) { return pn_realloc(p, n); }

char *serve_strdup(const char *s) { return pn_strdup(s); }
