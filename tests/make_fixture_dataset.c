/* Test helper (not installed): writes small image datasets with the library's
 * PNG writer, and checks PNG files with its decoder.
 *
 *   make_fixture_dataset DIR N0 N1 [--size W H] [--broken]
 *       DIR/Normal/n_0000.png ... (N0 files) and DIR/Opacity/o_0000.png ...
 *       (N1 files), gray W x H images (default 40 x 30) with a per-file pattern
 *       (Normal: horizontal gradient, Opacity: vertical gradient, plus a square
 *       whose position depends on the file number); --broken adds
 *       DIR/Opacity/broken.png, which is not a PNG (the pipeline must skip it).
 *   make_fixture_dataset --check-png PATH
 *       decodes PATH with pneumo_image_load and prints "WIDTH HEIGHT".
 * Exit status: 0 success, 1 error, 2 usage. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <pneumo/pneumo.h>
#include <pneumo/image_write.h>

static int usage(void)
{
    fprintf(stderr, "usage: make_fixture_dataset DIR N0 N1 [--size W H] [--broken]\n"
                    "       make_fixture_dataset --check-png PATH\n");
    return 2;
}

static int make_dir(const char *path)
{
    if (mkdir(path, 0777) != 0 && errno != EEXIST) {
        fprintf(stderr, "make_fixture_dataset: mkdir %s: %s\n", path, strerror(errno));
        return 0;
    }
    return 1;
}

static int write_class(const char *dir, const char *cls, char prefix, long n, int32_t w, int32_t h,
                       int vertical)
{
    char path[4096];
    snprintf(path, sizeof path, "%s/%s", dir, cls);
    if (!make_dir(path))
        return 0;
    pneumo_image *img = NULL;
    if (pneumo_image_create(w, h, &img) != PNEUMO_OK) {
        fprintf(stderr, "make_fixture_dataset: %s\n", pneumo_last_error());
        return 0;
    }
    uint8_t *px = pneumo_image_pixels_mut(img);
    for (long i = 0; i < n; i++) {
        for (int32_t y = 0; y < h; y++)
            for (int32_t x = 0; x < w; x++) {
                int32_t t = vertical ? y * 255 / (h > 1 ? h - 1 : 1) : x * 255 / (w > 1 ? w - 1 : 1);
                px[(size_t)y * (size_t)w + (size_t)x] = (uint8_t)t;
            }
        /* a bright square whose place depends on the file number */
        int32_t s = (w < h ? w : h) / 4, sx = (int32_t)(i * 7 % (w - s + 1)),
                sy = (int32_t)(i * 5 % (h - s + 1));
        for (int32_t y = sy; y < sy + s; y++)
            memset(px + (size_t)y * (size_t)w + (size_t)sx, 255, (size_t)s);
        snprintf(path, sizeof path, "%s/%s/%c_%04ld.png", dir, cls, prefix, i);
        if (pneumo_image_save_png(img, path) != PNEUMO_OK) {
            fprintf(stderr, "make_fixture_dataset: %s\n", pneumo_last_error());
            pneumo_image_destroy(img);
            return 0;
        }
    }
    pneumo_image_destroy(img);
    return 1;
}

static int parse(const char *s, long lo, long hi, long *out)
{
    char *end;
    errno = 0;
    long v = strtol(s, &end, 10);
    if (errno || end == s || *end || v < lo || v > hi)
        return 0;
    *out = v;
    return 1;
}

int main(int argc, char **argv)
{
    if (argc == 3 && strcmp(argv[1], "--check-png") == 0) {
        pneumo_image *img = NULL;
        if (pneumo_image_load(argv[2], NULL, &img) != PNEUMO_OK) {
            fprintf(stderr, "make_fixture_dataset: %s\n", pneumo_last_error());
            return 1;
        }
        printf("%d %d\n", (int)pneumo_image_width(img), (int)pneumo_image_height(img));
        pneumo_image_destroy(img);
        return 0;
    }
    long n0, n1, w = 40, h = 30;
    int broken = 0;
    if (argc < 4 || !parse(argv[2], 0, 100000, &n0) || !parse(argv[3], 0, 100000, &n1))
        return usage();
    for (int i = 4; i < argc; i++) {
        if (strcmp(argv[i], "--broken") == 0) {
            broken = 1;
        } else if (strcmp(argv[i], "--size") == 0 && i + 2 < argc) {
            if (!parse(argv[i + 1], 1, 4096, &w) || !parse(argv[i + 2], 1, 4096, &h))
                return usage();
            i += 2;
        } else {
            return usage();
        }
    }
    const char *dir = argv[1];
    if (!make_dir(dir) || !write_class(dir, "Normal", 'n', n0, (int32_t)w, (int32_t)h, 0) ||
        !write_class(dir, "Opacity", 'o', n1, (int32_t)w, (int32_t)h, 1))
        return 1;
    if (broken) {
        char path[4096];
        snprintf(path, sizeof path, "%s/Opacity/broken.png", dir);
        FILE *f = fopen(path, "wb");
        int ok = f && fputs("this is not a PNG file\n", f) != EOF;
        if (f && fclose(f) != 0)
            ok = 0;
        if (!ok) {
            fprintf(stderr, "make_fixture_dataset: cannot write %s\n", path);
            return 1;
        }
    }
    return 0;
}
