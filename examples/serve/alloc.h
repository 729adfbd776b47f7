/* pneumo-serve: the allocator of the request path (request.c, strbuf.c,
 * batcher.c). pneumo-serve links alloc.c (the C library's); the fuzz target
 * and the allocation-failure test link a version on the library's internal
 * pn_malloc family, whose failure injection then reaches the server's code.
 * Memory from these is released with free(). */
#ifndef PNEUMO_SERVE_ALLOC_H
#define PNEUMO_SERVE_ALLOC_H

#include <stddef.h>

void *serve_malloc(size_t n);
void *serve_calloc(size_t count, size_t size);
void *serve_realloc(void *p, size_t n);
char *serve_strdup(const char *s);

#endif
