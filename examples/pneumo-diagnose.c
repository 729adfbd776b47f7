/* pneumo-diagnose: the article's single-image diagnosis.
 *
 *   pneumo-diagnose --model M [--json] IMAGE...
 *
 * For each image: "I am 97.31% percent confirmed that this is a Pneumonia case"
 * (p >= 0.5) or "... Normal case" with 1 - p. --json prints one object per line:
 * {"file": ..., "probability_pneumonia": ..., "label": "Pneumonia"|"Normal"}.
 * Unreadable images are reported per file ({"file": ..., "error": ...} in JSON)
 * and make the exit status 1; the others are still diagnosed. A model that was
 * never trained (train_steps 0 in its metadata) gives a warning on stderr:
 * its answers are those of random weights. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <pneumo/pneumo.h>

static void json_string(const char *s)
{
    putchar('"');
    for (; *s; s++) {
        unsigned char c = (unsigned char)*s;
        if (c == '"' || c == '\\')
            printf("\\%c", c);
        else if (c < 0x20)
            printf("\\u%04x", c);
        else
            putchar(c);
    }
    putchar('"');
}

/* Whether the model file's metadata says "train_steps":"0" (as pneumo_model_save
 * writes it). 0 when unsure. */
static int never_trained(const char *path)
{
    FILE *f = fopen(path, "rb");
    unsigned char len[8];
    uint64_t n = 0;
    char *header;
    int untrained = 0;
    if (!f)
        return 0;
    if (fread(len, 1, 8, f) == 8) {
        for (int i = 7; i >= 0; i--)
            n = n << 8 | len[i];
        if (n > 0 && n <= (16u << 20) && (header = malloc((size_t)n + 1)) != NULL) {
            if (fread(header, 1, (size_t)n, f) == (size_t)n) {
                header[n] = '\0';
                untrained = strstr(header, "\"train_steps\":\"0\"") != NULL;
            }
            free(header);
        }
    }
    fclose(f);
    return untrained;
}

static int usage(FILE *f)
{
    fprintf(f, "usage: pneumo-diagnose --model MODEL [--json] IMAGE...\n"
               "  --model FILE  model saved by pneumo-train (required)\n"
               "  --json        one JSON object per image (default: a sentence per image)\n"
               "  --version     print the version and exit\n"
               "  --help        print this help and exit\n");
    return f == stdout ? 0 : 2;
}

int main(int argc, char **argv)
{
    const char *model_path = NULL;
    int json = 0, first_image = 0, failures = 0;
    pneumo_model *m = NULL;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--model") == 0 && i + 1 < argc)
            model_path = argv[++i];
        else if (strcmp(argv[i], "--json") == 0)
            json = 1;
        else if (strcmp(argv[i], "--help") == 0)
            return usage(stdout);
        else if (strcmp(argv[i], "--version") == 0) {
            printf("pneumo-diagnose (libpneumo %s)\n", pneumo_version());
            return 0;
        } else if (strcmp(argv[i], "--model") == 0) {
            fprintf(stderr, "pneumo-diagnose: --model: needs a value (see pneumo-diagnose --help)\n");
            return 2;
        }
        else if (strcmp(argv[i], "--") == 0) {
            first_image = i + 1;
            break;
        } else if (argv[i][0] == '-') {
            fprintf(stderr, "pneumo-diagnose: %s: unknown option (see pneumo-diagnose --help)\n",
                    argv[i]);
            return 2;
        }
        else {
            first_image = i;
            break;
        }
    }
    if (!model_path || !first_image || first_image >= argc)
        return usage(stderr);
    if (pneumo_model_load(model_path, &m, NULL) != PNEUMO_OK) {
        fprintf(stderr, "pneumo-diagnose: %s\n", pneumo_last_error());
        return 1;
    }
    if (never_trained(model_path))
        fprintf(stderr, "pneumo-diagnose: warning: %s was never trained (train_steps 0): these "
                        "are the answers of random weights\n", model_path);
    for (int i = first_image; i < argc; i++) {
        const char *path = argv[i];
        float p = 0.0f;
        if (pneumo_model_predict_file(m, path, &p) != PNEUMO_OK) {
            failures++;
            if (json) {
                printf("{\"file\": ");
                json_string(path);
                printf(", \"error\": ");
                json_string(pneumo_last_error());
                printf("}\n");
            } else {
                fprintf(stderr, "pneumo-diagnose: %s\n", pneumo_last_error());
            }
            continue;
        }
        if (json) {
            printf("{\"file\": ");
            json_string(path);
            printf(", \"probability_pneumonia\": %.6f, \"label\": \"%s\"}\n", (double)p,
                   p >= 0.5f ? "Pneumonia" : "Normal");
        } else if (p >= 0.5f) {
            printf("%s: I am %.2f%% percent confirmed that this is a Pneumonia case\n", path,
                   (double)p * 100.0);
        } else {
            printf("%s: I am %.2f%% percent confirmed that this is a Normal case\n", path,
                   (1.0 - (double)p) * 100.0);
        }
        fflush(stdout);
    }
    pneumo_model_destroy(m);
    return failures ? 1 : 0;
}
