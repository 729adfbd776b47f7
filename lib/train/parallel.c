/* Data-parallel helpers: settings, collectives, agreeing on failures. */
#include <stdlib.h>
#include <string.h>

#include "core/alloc.h"
#include "core/error.h"
#include "train/parallel.h"

void pneumo_data_parallel_default(pneumo_data_parallel *p)
{
    if (!p)
        return;
    memset(p, 0, sizeof *p);
    p->size = sizeof *p;
    p->ranks = 1;
    p->parts = 1;
}

void pn_dp_rank_parts(const pneumo_data_parallel *dp, int32_t *first, int32_t *end)
{
    *first = (int32_t)((int64_t)dp->parts * dp->rank / dp->ranks);
    *end = (int32_t)((int64_t)dp->parts * (dp->rank + 1) / dp->ranks);
}

pneumo_status pn_dp_check(const pneumo_data_parallel *dp, int32_t batch_size, const char *fn)
{
    if (dp->size != sizeof *dp)
        return pn_error(
            PNEUMO_ERR_INVALID_ARG,
            "%s: pneumo_data_parallel.size is %u, expected %u (use pneumo_data_parallel_default())", fn,
            (unsigned)dp->size, (unsigned)sizeof *dp);
    for (size_t i = 0; i < sizeof dp->reserved / sizeof dp->reserved[0]; i++)
        if (dp->reserved[i])
            return pn_error(PNEUMO_ERR_INVALID_ARG, "%s: pneumo_data_parallel.reserved[%zu] is not zero", fn,
                            i);
    if (dp->exchange != PNEUMO_EXCHANGE_GATHER && dp->exchange != PNEUMO_EXCHANGE_SLICED)
        return pn_error(PNEUMO_ERR_INVALID_ARG,
                        "%s: pneumo_data_parallel.exchange is %d (PNEUMO_EXCHANGE_GATHER or _SLICED)", fn,
                        dp->exchange);
    if (!dp->collective)
        return pn_error(PNEUMO_ERR_INVALID_ARG, "%s: pneumo_data_parallel.collective is NULL", fn);
    if (dp->ranks < 1 || dp->rank < 0 || dp->rank >= dp->ranks || dp->parts < dp->ranks ||
        dp->parts > batch_size)
        return pn_error(PNEUMO_ERR_INVALID_ARG,
                        "%s: data-parallel rank %d of %d with %d parts per batch of %d: need "
                        "0 <= rank < ranks <= parts <= batch size",
                        fn, dp->rank, dp->ranks, dp->parts, batch_size);
    return PNEUMO_OK;
}

pneumo_status pn_dp_call(const pneumo_data_parallel *dp, int32_t op, int32_t peer, int32_t tag, float *f,
                         int64_t nf, double *d, int64_t nd, const char *fn)
{
    pneumo_collective c;
    pneumo_status st;
    memset(&c, 0, sizeof c);
    c.size = sizeof c;
    c.op = op;
    c.peer = peer;
    c.tag = tag;
    c.floats = f;
    c.nfloats = nf;
    c.doubles = d;
    c.ndoubles = nd;
    st = dp->collective(&c, dp->user);
    if (st != PNEUMO_OK)
        return pn_error_prefix("%s: rank %d: collective", fn, dp->rank);
    return PNEUMO_OK;
}

void pn_dp_set_flags(const pneumo_data_parallel *dp, double *flags, pneumo_status local, int cancelled)
{
    memset(flags, 0, ((size_t)dp->ranks + 1) * sizeof *flags);
    flags[dp->rank] = local != PNEUMO_OK;
    flags[dp->ranks] = cancelled != 0;
}

pneumo_status pn_dp_decide(const pneumo_data_parallel *dp, const double *flags, pneumo_status local,
                           const char *fn)
{
    if (local != PNEUMO_OK)
        return local;
    for (int32_t r = 0; r < dp->ranks; r++)
        if (flags[r] != 0.0)
            return pn_error(PNEUMO_ERR_CANCELLED,
                            "%s: stopped because rank %d failed (its error is reported there)", fn, r);
    if (flags[dp->ranks] != 0.0)
        return pn_error(PNEUMO_ERR_CANCELLED, "%s: cancelled by the callback", fn);
    return PNEUMO_OK;
}

pneumo_status pn_dp_agree(const pneumo_data_parallel *dp, pneumo_status local, int cancelled, const char *fn)
{
    double *flags = pn_malloc(((size_t)dp->ranks + 1) * sizeof *flags);
    pneumo_status st;
    if (!flags)
        return pn_error_nomem("data-parallel flags", ((size_t)dp->ranks + 1) * sizeof *flags);
    pn_dp_set_flags(dp, flags, local, cancelled);
    st = pn_dp_call(dp, PNEUMO_COLLECTIVE_SUM, 0, 0, NULL, 0, flags, dp->ranks + 1, fn);
    if (st == PNEUMO_OK)
        st = pn_dp_decide(dp, flags, local, fn);
    free(flags);
    return st;
}
