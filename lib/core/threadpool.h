/* A small fork-join thread pool: run(fn, ctx) calls fn(ctx, ith, nth) for
 * ith = 0..nth-1, ith 0 on the calling thread, and returns when all are done
 * (ggml's ith/nth split). One pool per model; no process-global state. */
#ifndef PN_CORE_THREADPOOL_H
#define PN_CORE_THREADPOOL_H

#include "pneumo/common.h"

typedef struct pn_pool pn_pool;
typedef void (*pn_pool_fn)(void *ctx, int ith, int nth);

/* nthreads >= 1; 1 creates no threads. */
pneumo_status pn_pool_create(int nthreads, pn_pool **out);
void pn_pool_destroy(pn_pool *p);
int pn_pool_size(const pn_pool *p);
void pn_pool_run(pn_pool *p, pn_pool_fn fn, void *ctx);

/* Online CPU cores (1 if unknown), at most 64. */
int pn_online_cores(void);

#endif
