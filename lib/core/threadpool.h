/* A small fork-join thread pool: run(fn, ctx) calls fn(ctx, ith, nth) for
 * ith = 0..nth-1, ith 0 on the calling thread, and returns when all are done
 * (ggml's ith/nth split). One pool per model; no process-global state. */
#ifndef PN_CORE_THREADPOOL_H
#define PN_CORE_THREADPOOL_H

#include "pneumo/common.h"

typedef struct pn_threadpool pn_threadpool;
typedef void (*pn_threadpool_fn)(void *ctx, int ith, int nth);

/* nthreads >= 1; 1 creates no threads. */
pneumo_status pn_threadpool_create(int nthreads, pn_threadpool **out);
void pn_threadpool_destroy(pn_threadpool *p);
int pn_threadpool_size(const pn_threadpool *p);
void pn_threadpool_run(pn_threadpool *p, pn_threadpool_fn fn, void *ctx);

/* Online CPU cores (1 if unknown), at most 64: the default thread count of
 * models and datasets. */
int pn_online_cores(void);

#endif
