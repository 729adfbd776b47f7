/* pneumo-preview: show what the input pipeline feeds the network.
 *
 *   pneumo-preview DIR [--size N] [--augment] [--count K] [--seed S] [--out FILE]
 *
 * Opens DIR (one sub-folder per class, as Keras' flow_from_directory) and prints
 *   - Keras' "Found N images belonging to K classes." line,
 *   - each class with its label and image count,
 *   - the balanced class weights as the article prints the Python dict
 *     ({0: 1.9371534195933457, 1: 0.6739549839228296}),
 *   - every file the pipeline skipped ("skipped: path: reason"),
 * then takes the first batch of K shuffled images (augmented with the article's
 * training settings under --augment: shear 0.2 deg, zoom 0.8..1.2, horizontal
 * flips) and writes them as a PNG grid, each tile labelled with its class: the
 * article's preview of augmented training images.
 *
 * Options: --size N   target size N x N the pipeline resizes to (default 500)
 *          --augment  apply the article's random augmentation
 *          --count K  number of images in the grid (default 9; 0: no grid)
 *          --seed S   shuffle/augmentation seed (default 0)
 *          --out FILE the grid (default grid.png)
 * Exit status: 0 success, 1 error, 2 usage. */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <pneumo/pneumo.h>
#include <pneumo/dataset.h>
#include <pneumo/image_write.h>

/* The library's internal 5x7 font, compiled into this program (see
 * examples/meson.build): it needs only the public image API. */
#include "cli_common.h"
#include "font5x7.h"

#define PROG "pneumo-preview"

enum {
    MAX_TILE = 200, /* displayed tile side in pixels (smaller images are shown 1:1) */
    GAP = 8,        /* space between tiles and around the grid */
    BACKGROUND = 24,
    TEXT = 255,
};

static int usage(FILE *f)
{
    fprintf(f, "usage: " PROG " DIR [--size N] [--augment] [--count K] [--seed S] [--out FILE]\n"
               "Print what the input pipeline sees in DIR (one sub-folder per class) and write\n"
               "a PNG grid of K samples labelled with their class.\n"
               "  --size N   target size N x N (default 500)\n"
               "  --augment  apply the article's augmentation (shear 0.2, zoom 0.2, flips;\n"
               "             default: off)\n"
               "  --count K  images in the grid, 0..1024 (default 9; 0 writes no grid)\n"
               "  --seed S   shuffle and augmentation seed (default 0)\n"
               "  --out FILE where to write the grid (default grid.png)\n"
               "  --version  print the version and exit\n");
    return f == stdout ? 0 : 2;
}

static int fail(const char *what)
{
    fprintf(stderr, PROG ": %s%s%s\n", what ? what : "", what ? ": " : "", pneumo_last_error());
    return 1;
}

/* Sample `i` of the batch (size x size floats, rescaled by `rescale`) as an
 * 8-bit image shown at tile x tile pixels. */
static pneumo_status make_tile(const float *x, int32_t size, float rescale, int32_t tile, pneumo_image **out)
{
    pneumo_image *img = NULL;
    pneumo_status st = pneumo_image_create(size, size, &img);
    if (st != PNEUMO_OK)
        return st;
    uint8_t *px = pneumo_image_pixels_mut(img);
    float inv = rescale != 0.0f ? 1.0f / rescale : 1.0f;
    for (size_t i = 0; i < (size_t)size * (size_t)size; i++) {
        float v = x[i] * inv;
        px[i] = (uint8_t)(v <= 0.0f ? 0 : v >= 255.0f ? 255 : lrintf(v));
    }
    if (tile == size) {
        *out = img;
        return PNEUMO_OK;
    }
    st = pneumo_image_resize(img, tile, tile, PNEUMO_RESAMPLE_BILINEAR, out);
    pneumo_image_destroy(img);
    return st;
}

/* Largest font scale (3, 2 or 1) at which every label line fits in `tile`. */
static int32_t label_scale(const pneumo_dataset *ds, int augmented, int32_t tile)
{
    for (int32_t s = 3; s > 1; s--) {
        int fits = !augmented || pn_font5x7_text_width("augmented", s) <= tile;
        for (int32_t c = 0; c < pneumo_dataset_num_classes(ds) && fits; c++) {
            char name[256];
            fits = pn_font5x7_text_width(cli_class_name(ds, c, name, sizeof name), s) <= tile;
        }
        if (fits)
            return s;
    }
    return 1;
}

static void paste(pneumo_image *dst, const pneumo_image *src, int32_t x0, int32_t y0)
{
    int32_t dw = pneumo_image_width(dst), sw = pneumo_image_width(src);
    int32_t sh = pneumo_image_height(src);
    uint8_t *d = pneumo_image_pixels_mut(dst);
    const uint8_t *s = pneumo_image_pixels(src);
    for (int32_t y = 0; y < sh; y++)
        memcpy(d + (size_t)(y0 + y) * (size_t)dw + (size_t)x0, s + (size_t)y * (size_t)sw, (size_t)sw);
}

/* Take the first batch of `count` images of epoch 0 and write the grid. */
static int write_grid(pneumo_dataset *ds, int32_t size, int32_t count, int augmented, float rescale,
                      const char *out_path)
{
    int64_t n_avail = pneumo_dataset_size(ds);
    if (count > n_avail)
        count = (int32_t)n_avail;
    if (pneumo_dataset_begin_epoch(ds, 0, count) != PNEUMO_OK)
        return fail("begin epoch");
    pneumo_tensor *x = NULL, *y = NULL;
    const int64_t *indices = NULL;
    if (pneumo_dataset_next_batch(ds, &x, &y, &indices) != PNEUMO_OK)
        return fail("first batch");
    if (!x) {
        fprintf(stderr, PROG ": the dataset gave no batch\n");
        return 1;
    }
    int32_t n = (int32_t)pneumo_tensor_dim(x, 0);

    int32_t tile = size < MAX_TILE ? size : MAX_TILE;
    int32_t scale = label_scale(ds, augmented, tile);
    int32_t lines = augmented ? 2 : 1;
    int32_t strip = 3 * scale + lines * PN_FONT5X7_LINE * scale; /* label strip height */
    int32_t cols = (int32_t)ceil(sqrt((double)n));
    while (cols * cols < n) /* guard against sqrt rounding */
        cols++;
    int32_t rows = (n + cols - 1) / cols;
    int64_t gw = (int64_t)cols * tile + (int64_t)(cols + 1) * GAP;
    int64_t gh = (int64_t)rows * (tile + strip) + (int64_t)(rows + 1) * GAP;
    if (gw > 65535 || gh > 65535 || gw * gh > 256ll * 1024 * 1024) {
        fprintf(stderr, PROG ": the grid would be %lldx%lld pixels; use a smaller --count\n", (long long)gw,
                (long long)gh);
        return 1;
    }
    pneumo_image *grid = NULL;
    if (pneumo_image_create((int32_t)gw, (int32_t)gh, &grid) != PNEUMO_OK)
        return fail("grid");
    memset(pneumo_image_pixels_mut(grid), BACKGROUND, (size_t)gw * (size_t)gh);

    const float *xd = pneumo_tensor_data_const(x);
    const float *yd = pneumo_tensor_data_const(y);
    printf("grid: %d images, %d x %d tiles of %d px -> %s\n", (int)n, (int)cols, (int)rows, (int)tile,
           out_path);
    for (int32_t i = 0; i < n; i++) {
        int32_t label = (int32_t)yd[i];
        char name[256], path[4200];
        printf("  %d: %s  %s\n", (int)i, cli_class_name(ds, label, name, sizeof name),
               cli_path(ds, indices[i], path, sizeof path));
        pneumo_image *t = NULL;
        if (make_tile(xd + (size_t)i * (size_t)size * (size_t)size, size, rescale, tile, &t) != PNEUMO_OK) {
            pneumo_image_destroy(grid);
            return fail("tile");
        }
        int32_t x0 = GAP + (i % cols) * (tile + GAP);
        int32_t y0 = GAP + (i / cols) * (tile + strip + GAP);
        paste(grid, t, x0, y0);
        pneumo_image_destroy(t);
        int32_t ty = y0 + tile + 2 * scale;
        pn_font5x7_draw(grid, x0, ty, name, scale, TEXT);
        if (augmented)
            pn_font5x7_draw(grid, x0, ty + PN_FONT5X7_LINE * scale, "augmented", scale, 160);
    }
    pneumo_status st = pneumo_image_save_png(grid, out_path);
    pneumo_image_destroy(grid);
    if (st != PNEUMO_OK)
        return fail(NULL);
    return 0;
}

int main(int argc, char **argv)
{
    const char *dir = NULL, *out_path = "grid.png";
    long size = 500, count = 9;
    unsigned long long seed = 0;
    int augment = 0;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0) {
            return usage(stdout);
        } else if (strcmp(a, "--version") == 0) {
            return cli_version(PROG);
        } else if (strcmp(a, "--augment") == 0) {
            augment = 1;
        } else if (strcmp(a, "--size") == 0 && i + 1 < argc) {
            size = cli_long(PROG, "--size", argv[++i], 1, 16384);
        } else if (strcmp(a, "--count") == 0 && i + 1 < argc) {
            count = cli_long(PROG, "--count", argv[++i], 0, 1024);
        } else if (strcmp(a, "--seed") == 0 && i + 1 < argc) {
            const char *s = argv[++i];
            char *end;
            errno = 0;
            seed = strtoull(s, &end, 10);
            if (errno || end == s || *end || s[0] == '-') {
                fprintf(stderr, PROG ": --seed must be a non-negative integer\n");
                return 2;
            }
        } else if (strcmp(a, "--out") == 0 && i + 1 < argc) {
            out_path = argv[++i];
            if (!out_path[0]) {
                fprintf(stderr, PROG ": --out needs a file name\n");
                return 2;
            }
        } else if (a[0] == '-' || dir) {
            return cli_bad_option(PROG, a,
                                  a[0] != '-'    ? "a second folder"
                                  : i + 1 < argc ? "unknown option"
                                                 : "unknown option or missing value");
        } else {
            dir = a;
        }
    }
    if (!dir)
        return usage(stderr);

    pneumo_dataset_options o;
    pneumo_augment_options aug;
    pneumo_dataset_default_options(&o);
    pneumo_augment_default_options(&aug);
    o.width = o.height = (int32_t)size;
    o.seed = seed;
    o.shuffle = 1;     /* a random selection, as the article's preview */
    o.cache_bytes = 0; /* one batch is read: nothing to cache */
    o.prefetch_batches = 0;
    if (augment) {
        o.augment = 1;
        pneumo_augment_article_options(&aug);
        o.augment_options = &aug;
    }
    pneumo_dataset *ds = NULL;
    if (pneumo_dataset_open_dir(dir, &o, &ds) != PNEUMO_OK)
        return fail(NULL);
    int rc = cli_print_dataset(stdout, PROG, ds, 1);
    if (rc == 0 && count > 0)
        rc = write_grid(ds, (int32_t)size, (int32_t)count, augment, aug.rescale, out_path);
    pneumo_dataset_destroy(ds);
    return rc;
}
