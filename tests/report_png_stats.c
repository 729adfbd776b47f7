/* Prints "WIDTH HEIGHT LEVELS DRAWN_PERCENT" for a PNG or JPEG file: the
 * number of distinct gray levels (0..256) and the percentage of pixels darker
 * than 200 after the library's grayscale conversion: text, lines, heatmap cells
 * and images, not the white or light gray page and section backgrounds. Used by
 * check_report_chromium.sh to tell a rendered report from a blank page. */
#include <stdio.h>

#include <pneumo/pneumo.h>

int main(int argc, char **argv)
{
    pneumo_image *img = NULL;
    int seen[256] = {0}, levels = 0;
    long long dark = 0, total;
    const uint8_t *p;
    if (argc != 2) {
        fprintf(stderr, "usage: report_png_stats IMAGE\n");
        return 2;
    }
    if (pneumo_image_load(argv[1], NULL, &img) != PNEUMO_OK) {
        fprintf(stderr, "report_png_stats: %s\n", pneumo_last_error());
        return 1;
    }
    p = pneumo_image_pixels(img);
    total = (long long)pneumo_image_width(img) * pneumo_image_height(img);
    for (long long i = 0; i < total; i++) {
        if (!seen[p[i]]++)
            levels++;
        dark += p[i] < 200;
    }
    printf("%d %d %d %.2f\n", pneumo_image_width(img), pneumo_image_height(img), levels,
           100.0 * (double)dark / (double)total);
    pneumo_image_destroy(img);
    return 0;
}
