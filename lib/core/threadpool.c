#include "core/threadpool.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <unistd.h>

#include "core/alloc.h"
#include "core/error.h"

#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>
#define cpu_relax() _mm_pause()
#elif defined(__aarch64__)
/* ISB rather than YIELD: YIELD is a no-op on Arm cores without SMT (most of
 * them), so the spin below would last a fraction of its x86 time; an ISB
 * waits some tens of cycles, like PAUSE (Rust's spin_loop hint, MySQL). */
#define cpu_relax() __asm__ __volatile__("isb sy" ::: "memory")
#else
#define cpu_relax() ((void)0)
#endif

/* Before blocking on a condition variable, a worker waiting for the next
 * job and the caller waiting for the workers poll for this many pauses
 * (~0.1-0.3 ms): a single-image prediction dispatches a job per conv block
 * every ~1 ms, and waking a sleeping thread costs tens of microseconds or
 * more on a virtual machine. Idle pools sleep. */
#define POOL_SPIN 2000

struct pn_threadpool {
    int n;
    pthread_t *threads;
    pthread_mutex_t mu;
    pthread_cond_t work, done;
    atomic_uint_fast64_t generation; /* written under mu, polled without */
    atomic_int pending;
    atomic_int quit;
    pn_threadpool_fn fn; /* published by the generation's release store */
    void *ctx;
};

typedef struct worker_arg {
    pn_threadpool *pool;
    int ith;
} worker_arg;

static void *worker(void *arg)
{
    worker_arg *wa = arg;
    pn_threadpool *p = wa->pool;
    int ith = wa->ith;
    uint64_t seen = 0;
    free(wa);
    for (;;) {
        for (int i = 0; i < POOL_SPIN && !atomic_load_explicit(&p->quit, memory_order_relaxed) &&
                        atomic_load_explicit(&p->generation, memory_order_acquire) == seen;
             i++)
            cpu_relax();
        if (atomic_load_explicit(&p->generation, memory_order_acquire) == seen) {
            pthread_mutex_lock(&p->mu);
            while (!atomic_load(&p->quit) && atomic_load(&p->generation) == seen)
                pthread_cond_wait(&p->work, &p->mu);
            pthread_mutex_unlock(&p->mu);
        }
        if (atomic_load(&p->quit))
            return NULL;
        seen = atomic_load_explicit(&p->generation, memory_order_acquire);
        p->fn(p->ctx, ith, p->n);
        if (atomic_fetch_sub_explicit(&p->pending, 1, memory_order_acq_rel) == 1) {
            /* under mu: a caller that saw pending > 0 under mu is waiting */
            pthread_mutex_lock(&p->mu);
            pthread_cond_signal(&p->done);
            pthread_mutex_unlock(&p->mu);
        }
    }
}

int pn_online_cores(void)
{
    long n = sysconf(_SC_NPROCESSORS_ONLN);
    return n < 1 ? 1 : n > 64 ? 64 : (int)n;
}

pneumo_status pn_threadpool_create(int nthreads, pn_threadpool **out)
{
    pn_threadpool *p = pn_calloc(1, sizeof *p);
    *out = NULL;
    if (!p)
        return pn_error_nomem("thread pool", sizeof *p);
    p->n = nthreads < 1 ? 1 : nthreads;
    pthread_mutex_init(&p->mu, NULL);
    pthread_cond_init(&p->work, NULL);
    pthread_cond_init(&p->done, NULL);
    if (p->n > 1) {
        p->threads = pn_calloc((size_t)p->n - 1, sizeof *p->threads);
        if (!p->threads) {
            size_t bytes = sizeof(pthread_t) * (size_t)p->n;
            pn_threadpool_destroy(p);
            return pn_error_nomem("thread pool", bytes);
        }
        for (int i = 1; i < p->n; i++) {
            worker_arg *wa = pn_malloc(sizeof *wa);
            if (!wa ||
                (wa->pool = p, wa->ith = i, pthread_create(&p->threads[i - 1], NULL, worker, wa)) != 0) {
                free(wa);
                p->n = i; /* only threads 1..i-1 exist; destroy joins them */
                pn_threadpool_destroy(p);
                return pn_error(PNEUMO_ERR_NOMEM, "thread pool: cannot start thread %d of %d", i + 1,
                                nthreads);
            }
        }
    }
    *out = p;
    return PNEUMO_OK;
}

void pn_threadpool_destroy(pn_threadpool *p)
{
    if (!p)
        return;
    pthread_mutex_lock(&p->mu);
    atomic_store(&p->quit, 1);
    pthread_cond_broadcast(&p->work);
    pthread_mutex_unlock(&p->mu);
    if (p->threads)
        for (int i = 1; i < p->n; i++)
            pthread_join(p->threads[i - 1], NULL);
    free(p->threads);
    pthread_mutex_destroy(&p->mu);
    pthread_cond_destroy(&p->work);
    pthread_cond_destroy(&p->done);
    free(p);
}

int pn_threadpool_size(const pn_threadpool *p) { return p ? p->n : 1; }

void pn_threadpool_run(pn_threadpool *p, pn_threadpool_fn fn, void *ctx)
{
    if (!p || p->n == 1) {
        fn(ctx, 0, 1);
        return;
    }
    pthread_mutex_lock(&p->mu);
    p->fn = fn;
    p->ctx = ctx;
    atomic_store_explicit(&p->pending, p->n - 1, memory_order_relaxed);
    atomic_fetch_add_explicit(&p->generation, 1, memory_order_release);
    pthread_cond_broadcast(&p->work);
    pthread_mutex_unlock(&p->mu);
    fn(ctx, 0, p->n);
    for (int i = 0; i < POOL_SPIN && atomic_load_explicit(&p->pending, memory_order_acquire) > 0; i++)
        cpu_relax();
    if (atomic_load_explicit(&p->pending, memory_order_acquire) > 0) {
        pthread_mutex_lock(&p->mu);
        while (atomic_load(&p->pending) > 0)
            pthread_cond_wait(&p->done, &p->mu);
        pthread_mutex_unlock(&p->mu);
    }
}
