/* Data-parallel helpers shared by fit and evaluate (pneumo_data_parallel). */
#ifndef PN_TRAIN_PARALLEL_H
#define PN_TRAIN_PARALLEL_H

#include "pneumo/train.h"

/* Start of part k of a global batch of n samples cut into `parts`. */
static inline int64_t pn_part_start(int64_t n, int32_t parts, int32_t k) { return n * k / parts; }

/* Start of slice j (0..ranks) of an arena of n floats in the sliced exchange
 * (pneumo_exchange): a multiple of 16 floats, n for j == ranks. */
static inline int64_t pn_dp_slice_start(int64_t n, int32_t ranks, int32_t j)
{
    return j == ranks ? n : 16 * (n / 16 * j / ranks);
}

/* The parts rank r computes: [first, end). */
void pn_dp_rank_parts(const pneumo_data_parallel *dp, int32_t *first, int32_t *end);

/* Validate the settings for global batches of batch_size; errors name fn. */
pneumo_status pn_dp_check(const pneumo_data_parallel *dp, int32_t batch_size, const char *fn);

/* One collective; a driver error is prefixed with fn. */
pneumo_status pn_dp_call(const pneumo_data_parallel *dp, int32_t op, int32_t peer, int32_t tag, float *f,
                         int64_t nf, double *d, int64_t nd, const char *fn);

/* Agree on failures and cancels: every rank passes its status `local` and
 * whether its callback asked to stop; returns PNEUMO_OK if no rank failed or
 * cancelled, `local` on a failed rank (its message kept), else CANCELLED with
 * a message naming the first failed rank (one SUM of ranks + 1 doubles). */
pneumo_status pn_dp_agree(const pneumo_data_parallel *dp, pneumo_status local, int cancelled, const char *fn);

/* The same decision from flags summed by the caller: flags[r] is 1 where rank
 * r failed, flags[ranks] counts cancels. */
void pn_dp_set_flags(const pneumo_data_parallel *dp, double *flags, pneumo_status local, int cancelled);
pneumo_status pn_dp_decide(const pneumo_data_parallel *dp, const double *flags, pneumo_status local,
                           const char *fn);

#endif
