/* pneumo-summary: print the Keras-style summary of the article's CNN.
 *
 *   pneumo-summary [--size N]      (default 500) */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <pneumo/pneumo.h>

static int usage(FILE *f)
{
    fprintf(f, "usage: pneumo-summary [--size N]\n"
               "Print the summary of the article's CNN for N x N grayscale input.\n"
               "  --size N    image side (default 500)\n"
               "  --version   print the version and exit\n");
    return f == stdout ? 0 : 2;
}

/* The library writes through a callback; this one prints to a FILE *. */
static pneumo_status write_stream(void *stream, const void *data, size_t size)
{
    return fwrite(data, 1, size, stream) == size ? PNEUMO_OK : PNEUMO_ERR_IO;
}

int main(int argc, char **argv)
{
    long size = 500;
    pneumo_model *m = NULL;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--size") == 0 && i + 1 < argc) {
            char *end;
            size = strtol(argv[++i], &end, 10);
            if (*end || size < 1 || size > 16384) {
                fprintf(stderr, "pneumo-summary: --size must be an integer in 1..16384\n");
                return 2;
            }
        } else if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
            return usage(stdout);
        } else if (strcmp(argv[i], "--version") == 0) {
            printf("pneumo-summary (libpneumo %s)\n", pneumo_version());
            return 0;
        } else {
            fprintf(stderr, "pneumo-summary: %s: %s\n", argv[i],
                    strcmp(argv[i], "--size") == 0 ? "needs a value" : "unknown option");
            return usage(stderr);
        }
    }
    if (pneumo_model_create_article((int32_t)size, 0, &m) != PNEUMO_OK) {
        fprintf(stderr, "pneumo-summary: %s\n", pneumo_last_error());
        return 1;
    }
    if (pneumo_model_summary(m, write_stream, stdout) != PNEUMO_OK) {
        fprintf(stderr, "pneumo-summary: %s\n", pneumo_last_error());
        pneumo_model_destroy(m);
        return 1;
    }
    pneumo_model_destroy(m);
    return 0;
}
