/* Named training recipes of pneumo-train: the article's, and the better one
 * documented in docs/recipes.md. A recipe is a set of defaults; a flag given
 * on the command line overrides its value. */
#ifndef PNEUMO_EXAMPLES_TRAIN_RECIPE_H
#define PNEUMO_EXAMPLES_TRAIN_RECIPE_H

#include <pneumo/pneumo.h>

typedef struct train_recipe {
    const char *name;
    const char *model;   /* a train_model_create() architecture */
    const char *augment; /* a train_augment_options() set */
    long size, epochs, batch, patience, warmup_epochs;
    double lr, weight_decay, label_smoothing;
    int cosine;            /* 1: cosine decay after the warm-up, else constant */
    const char *threshold; /* pneumo-train --threshold value */
    int calibrate;         /* 1: temperature scaling on the validation set */
    /* on top of the recipe's own augmentation set (0 = off): contrast LO, HI,
     * gamma LO, HI, crop side LO, as --contrast / --gamma / --crop take them */
    float intensity[5];
} train_recipe;

/* The recipe called `name` ("article" or "best"), or NULL. */
const train_recipe *train_recipe_find(const char *name);

/* 1 if `name` is an architecture train_model_create() builds. */
int train_model_known(const char *name);

/* The architecture `name` for size x size grayscale images, weights from
 * `seed`: "article" (pneumo_model_create_article) or "compact" (five
 * Conv -> BatchNormalization -> ReLU -> MaxPooling blocks, global average
 * pooling, dropout, one sigmoid unit). Returns the library's status. */
pneumo_status train_model_create(const char *name, int32_t size, uint64_t seed, pneumo_model **out);

/* 1 if `name` is an augmentation set: "none", "article" (the article's
 * ImageDataGenerator) or "strong" (the best recipe's). */
int train_augment_known(const char *name);

/* The options of the augmentation set `name` (a train_augment_known() one). */
void train_augment_options(const char *name, pneumo_augment_options *o);

/* One line saying what the set does, for reports. */
const char *train_augment_description(const char *name);

/* The training folder `dir` split into a training and a validation side with
 * pneumo_dataset_open_split(): val_fraction of each class's patients
 * (by_patient 1) or images (0) on the validation side, split seed 0, so every
 * run and seed of a command sees the same split. Returns 0, or 1 after
 * printing the error. */
int train_open_split(const char *dir, double val_fraction, int by_patient,
                     const pneumo_dataset_options *train_o, const pneumo_dataset_options *val_o,
                     pneumo_dataset **train, pneumo_dataset **val);

#endif
