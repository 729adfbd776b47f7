/* pneumo-train --seeds N: one training run per seed, then the mean and
 * standard deviation of their results, so a user sees how much a figure
 * depends on the seed. */
#ifndef PNEUMO_EXAMPLES_TRAIN_SEEDS_H
#define PNEUMO_EXAMPLES_TRAIN_SEEDS_H

#include <stdint.h>
#include <stdio.h>

typedef struct seeds_job {
    int argc;
    char **argv; /* pneumo-train's command line (with --seeds, --runs-dir, maybe --seed) */
    long first_seed, count;
    const char *runs_dir; /* seed K trains into runs_dir/seed-K/ */
    const char *train_dir, *val_dir, *test_dir;
    double val_split;  /* > 0: validation carved out of train_dir (val_dir NULL) */
    int split_patient; /* the carve's grouping */
    int32_t size, batch, threads;
    int quiet;
    /* the training settings a run with this seed records in its model */
    void (*settings)(long seed, char *buf, size_t size, void *user);
    void *user;
} seeds_job;

/* Train every seed not yet finished in its folder (a folder holding a model
 * trained with other settings is an error, never overwritten; an interrupted
 * run is resumed from its checkpoint), by running this program once per seed,
 * then evaluate each seed's model on the validation and test folders and
 * write runs_dir/summary.txt and runs_dir/summary.json. Returns the exit
 * status (0, 1 after printing the error, 130 when interrupted). */
int train_seeds_run(const seeds_job *job);

/* 1 if `flag` is an output or resume flag --seeds sets per seed (so the
 * command line must not give it). */
int train_seeds_sets_flag(const char *flag);

#endif
