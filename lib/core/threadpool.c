#include "core/threadpool.h"

#include <pthread.h>
#include <stdlib.h>
#include <unistd.h>

#include "core/error.h"

struct pn_pool {
    int n;
    pthread_t *threads;
    pthread_mutex_t mu;
    pthread_cond_t work, done;
    uint64_t generation;
    int pending;
    int quit;
    pn_pool_fn fn;
    void *ctx;
};

typedef struct worker_arg {
    pn_pool *pool;
    int ith;
} worker_arg;

static void *worker(void *arg)
{
    worker_arg *wa = arg;
    pn_pool *p = wa->pool;
    int ith = wa->ith;
    uint64_t seen = 0;
    free(wa);
    for (;;) {
        pn_pool_fn fn;
        void *ctx;
        pthread_mutex_lock(&p->mu);
        while (!p->quit && p->generation == seen)
            pthread_cond_wait(&p->work, &p->mu);
        if (p->quit) {
            pthread_mutex_unlock(&p->mu);
            return NULL;
        }
        seen = p->generation;
        fn = p->fn;
        ctx = p->ctx;
        pthread_mutex_unlock(&p->mu);
        fn(ctx, ith, p->n);
        pthread_mutex_lock(&p->mu);
        if (--p->pending == 0)
            pthread_cond_signal(&p->done);
        pthread_mutex_unlock(&p->mu);
    }
}

int pn_online_cores(void)
{
    long n = sysconf(_SC_NPROCESSORS_ONLN);
    return n < 1 ? 1 : n > 64 ? 64 : (int)n;
}

pneumo_status pn_pool_create(int nthreads, pn_pool **out)
{
    pn_pool *p = calloc(1, sizeof *p);
    *out = NULL;
    if (!p)
        return pn_error_nomem("thread pool", sizeof *p);
    p->n = nthreads < 1 ? 1 : nthreads;
    pthread_mutex_init(&p->mu, NULL);
    pthread_cond_init(&p->work, NULL);
    pthread_cond_init(&p->done, NULL);
    if (p->n > 1) {
        p->threads = calloc((size_t)p->n - 1, sizeof *p->threads);
        if (!p->threads) {
            size_t bytes = sizeof(pthread_t) * (size_t)p->n;
            pn_pool_destroy(p);
            return pn_error_nomem("thread pool", bytes);
        }
        for (int i = 1; i < p->n; i++) {
            worker_arg *wa = malloc(sizeof *wa);
            if (!wa || (wa->pool = p, wa->ith = i, pthread_create(&p->threads[i - 1], NULL, worker, wa)) != 0) {
                free(wa);
                p->n = i; /* only threads 1..i-1 exist; destroy joins them */
                pn_pool_destroy(p);
                return pn_error(PNEUMO_ERR_NOMEM, "thread pool: cannot start thread %d of %d", i + 1, nthreads);
            }
        }
    }
    *out = p;
    return PNEUMO_OK;
}

void pn_pool_destroy(pn_pool *p)
{
    if (!p)
        return;
    pthread_mutex_lock(&p->mu);
    p->quit = 1;
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

int pn_pool_size(const pn_pool *p) { return p ? p->n : 1; }

void pn_pool_run(pn_pool *p, pn_pool_fn fn, void *ctx)
{
    if (!p || p->n == 1) {
        fn(ctx, 0, 1);
        return;
    }
    pthread_mutex_lock(&p->mu);
    p->fn = fn;
    p->ctx = ctx;
    p->pending = p->n - 1;
    p->generation++;
    pthread_cond_broadcast(&p->work);
    pthread_mutex_unlock(&p->mu);
    fn(ctx, 0, p->n);
    pthread_mutex_lock(&p->mu);
    while (p->pending > 0)
        pthread_cond_wait(&p->done, &p->mu);
    pthread_mutex_unlock(&p->mu);
}
