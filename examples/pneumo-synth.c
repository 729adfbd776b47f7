/* pneumo-synth: write a small labelled SYNTHETIC X-ray-like dataset (PNG files)
 * in the article's folder layout, so the training programs can run anywhere.
 *
 *   pneumo-synth DIR [--count N] [--size S] [--seed K]
 *
 * Creates DIR/{train,val,test}/{Normal,Opacity}/synth_NNNNN.png with N images per
 * class in train (N/4 in val and test). The images are not X-rays. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <pneumo/pneumo.h>

#include "synth_xray.h"

static long arg_long(const char *flag, const char *v, long lo, long hi)
{
    char *end;
    long x = strtol(v, &end, 10);
    if (*end || x < lo || x > hi) {
        fprintf(stderr, "pneumo-synth: %s must be an integer in %ld..%ld\n", flag, lo, hi);
        exit(2);
    }
    return x;
}

static int make_dir(const char *path)
{
    if (mkdir(path, 0755) != 0 && errno != EEXIST) {
        fprintf(stderr, "pneumo-synth: cannot create %s: %s\n", path, strerror(errno));
        return 0;
    }
    return 1;
}

int main(int argc, char **argv)
{
    static const char *splits[3] = {"train", "val", "test"};
    static const char *classes[2] = {"Normal", "Opacity"};
    const char *dir = NULL;
    long count = 200, size = 128, seed = 1;
    pneumo_image *img = NULL;
    float *buf;
    char path[4096];
    uint64_t rng;

    for (int i = 1; i < argc; i++) {
        if (i + 1 < argc && strcmp(argv[i], "--count") == 0)
            count = arg_long("--count", argv[++i], 4, 100000);
        else if (i + 1 < argc && strcmp(argv[i], "--size") == 0)
            size = arg_long("--size", argv[++i], 16, 4096);
        else if (i + 1 < argc && strcmp(argv[i], "--seed") == 0)
            seed = arg_long("--seed", argv[++i], 0, 1L << 30);
        else if (argv[i][0] != '-' && !dir)
            dir = argv[i];
        else if (strcmp(argv[i], "--version") == 0) {
            printf("pneumo-synth (libpneumo %s)\n", pneumo_version());
            return 0;
        } else {
            int help = strcmp(argv[i], "--help") == 0;
            if (!help)
                fprintf(stderr, "pneumo-synth: %s: %s\n", argv[i],
                        argv[i][0] != '-' ? "a second folder"
                        : i + 1 < argc    ? "unknown option"
                                          : "unknown option or missing value");
            fprintf(help ? stdout : stderr,
                    "usage: pneumo-synth DIR [--count N] [--size S] [--seed K]\n"
                    "  DIR        folder to create with train/, val/ and test/ (required)\n"
                    "  --count N  images per class and split (default 200)\n"
                    "  --size S   image side (default 128)\n"
                    "  --seed K   (default 1)\n"
                    "  --version  print the version and exit\n");
            return help ? 0 : 2;
        }
    }
    if (!dir) {
        fprintf(stderr, "usage: pneumo-synth DIR [--count N] [--size S] [--seed K]\n");
        return 2;
    }
    rng = (uint64_t)seed * 1000003u + 7u;
    buf = malloc((size_t)size * (size_t)size * sizeof *buf);
    if (!buf || pneumo_image_create((int32_t)size, (int32_t)size, &img) != PNEUMO_OK) {
        fprintf(stderr, "pneumo-synth: out of memory\n");
        return 1;
    }
    if (!make_dir(dir))
        return 1;
    for (int s = 0; s < 3; s++) {
        long n = s == 0 ? count : count / 4;
        snprintf(path, sizeof path, "%s/%s", dir, splits[s]);
        if (!make_dir(path))
            return 1;
        for (int c = 0; c < 2; c++) {
            snprintf(path, sizeof path, "%s/%s/%s", dir, splits[s], classes[c]);
            if (!make_dir(path))
                return 1;
            for (long k = 0; k < n; k++) {
                uint8_t *px = pneumo_image_pixels_mut(img);
                synth_xray(buf, (int)size, c, &rng);
                for (long p = 0; p < size * size; p++)
                    px[p] = (uint8_t)(buf[p] * 255.0f + 0.5f);
                snprintf(path, sizeof path, "%s/%s/%s/synth_%05ld.png", dir, splits[s], classes[c], k);
                if (pneumo_image_save_png(img, path) != PNEUMO_OK) {
                    fprintf(stderr, "pneumo-synth: %s\n", pneumo_last_error());
                    return 1;
                }
            }
        }
        printf("%s: %ld Normal + %ld Opacity synthetic images\n", splits[s], n, n);
    }
    printf("wrote a SYNTHETIC dataset (not X-rays) of %ldx%ld PNGs under %s\n", size, size, dir);
    pneumo_image_destroy(img);
    free(buf);
    return 0;
}
