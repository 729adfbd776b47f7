/* Named training recipes, architectures and augmentation sets of pneumo-train.
 * Why the best recipe is what it is: docs/recipes.md. */
#include "train_recipe.h"

#include <stdio.h>
#include <string.h>

static const train_recipe recipes[] = {
    /* the article, exactly: pneumo-train's defaults */
    {.name = "article",
     .model = "article",
     .augment = "article",
     .size = 500,
     .epochs = 25,
     .batch = 16,
     .patience = 3,
     .warmup_epochs = 0,
     .lr = 1e-3,
     .weight_decay = 0.0,
     .label_smoothing = 0.0,
     .cosine = 0,
     .threshold = "0.5",
     .calibrate = 0},
    {.name = "best",
     .model = "compact",
     .augment = "strong",
     .size = 224,
     .epochs = 15,
     .batch = 32,
     .patience = 0,
     .warmup_epochs = 1,
     .lr = 2e-3,
     .weight_decay = 0.02,
     .label_smoothing = 0.1,
     .cosine = 1,
     .threshold = "0.5",
     .calibrate = 1,
     .intensity = {0.75f, 1.25f, 0.8f, 1.25f, 0.85f}},
};

const train_recipe *train_recipe_find(const char *name)
{
    for (size_t i = 0; i < sizeof recipes / sizeof recipes[0]; i++)
        if (strcmp(name, recipes[i].name) == 0)
            return &recipes[i];
    return NULL;
}

int train_model_known(const char *name)
{
    return strcmp(name, "article") == 0 || strcmp(name, "compact") == 0;
}

/* Filters of the compact network's five blocks. */
static const int32_t compact_filters[] = {32, 64, 96, 128, 192};

static pneumo_status create_compact(int32_t size, uint64_t seed, pneumo_model **out)
{
    pneumo_model *m = NULL;
    pneumo_status st = pneumo_model_create(size, size, 1, seed, &m);
    for (size_t i = 0; st == PNEUMO_OK && i < sizeof compact_filters / sizeof compact_filters[0]; i++) {
        pneumo_conv2d_params conv;
        pneumo_batchnorm_params bn;
        pneumo_conv2d_default_params(&conv);
        pneumo_batchnorm_default_params(&bn);
        /* PyTorch's default: moving statistics that follow the weights within
         * ~10 steps; Keras' 0.99 lags an epoch behind at this data size */
        bn.momentum = 0.9f;
        conv.filters = compact_filters[i];
        conv.activation = PNEUMO_ACT_RELU;
        /* Conv2D + ReLU + MaxPooling run as one fused kernel; normalising the
         * pooled map costs a quarter of normalising the convolution's */
        st = pneumo_model_add_conv2d(m, &conv);
        if (st == PNEUMO_OK)
            st = pneumo_model_add_maxpool2d(m, NULL);
        if (st == PNEUMO_OK)
            st = pneumo_model_add_batchnorm(m, &bn);
    }
    if (st == PNEUMO_OK)
        st = pneumo_model_add_global_avgpool2d(m);
    if (st == PNEUMO_OK)
        st = pneumo_model_add_dropout(m, 0.3f);
    if (st == PNEUMO_OK)
        st = pneumo_model_add_dense(m, 1, PNEUMO_ACT_SIGMOID);
    if (st != PNEUMO_OK) {
        pneumo_model_destroy(m);
        m = NULL;
    }
    *out = m;
    return st;
}

pneumo_status train_model_create(const char *name, int32_t size, uint64_t seed, pneumo_model **out)
{
    if (strcmp(name, "compact") == 0)
        return create_compact(size, seed, out);
    return pneumo_model_create_article(size, seed, out);
}

int train_augment_known(const char *name)
{
    return strcmp(name, "none") == 0 || strcmp(name, "article") == 0 || strcmp(name, "strong") == 0;
}

void train_augment_options(const char *name, pneumo_augment_options *o)
{
    if (strcmp(name, "article") == 0) {
        pneumo_augment_article_options(o);
        return;
    }
    pneumo_augment_default_options(o);
    if (strcmp(name, "strong") == 0) {
        o->rotation_range = 10.0;
        o->width_shift_range = 0.05;
        o->height_shift_range = 0.05;
        o->zoom_lo = 0.85;
        o->zoom_hi = 1.15;
        o->horizontal_flip = 1;
        o->brightness_lo = 0.75;
        o->brightness_hi = 1.25;
        o->brightness_stretch = 0;
    }
}

const char *train_augment_description(const char *name)
{
    if (strcmp(name, "article") == 0)
        return "shear 0.2, zoom 0.2, horizontal flip";
    if (strcmp(name, "strong") == 0)
        return "rotation 10 deg, shift 0.05, zoom 0.85..1.15, horizontal flip, brightness 0.75..1.25";
    return "off";
}

int train_open_split(const char *dir, double val_fraction, int by_patient,
                     const pneumo_dataset_options *train_o, const pneumo_dataset_options *val_o,
                     pneumo_dataset **train, pneumo_dataset **val)
{
    pneumo_split_options s;
    pneumo_split_default_options(&s);
    s.val_fraction = val_fraction;
    s.group = by_patient ? PNEUMO_SPLIT_GROUP_PATIENT : PNEUMO_SPLIT_GROUP_NONE;
    s.seed = 0;
    if (pneumo_dataset_open_split(dir, &s, train_o, val_o, train, val) != PNEUMO_OK) {
        fprintf(stderr, "pneumo-train: %s\n", pneumo_last_error());
        return 1;
    }
    return 0;
}
