/* pneumo-diagnose: the article's single-image diagnosis.
 *
 *   pneumo-diagnose --model M [--model M...] [--tta none|flip] [--json] [--heatmap DIR] IMAGE...
 *
 * For each image: "I am 97.31% percent confirmed that this is a Pneumonia case"
 * (p >= the model's threshold, 0.5 unless the model file says otherwise) or
 * "... Normal case" with 1 - p, with the class names of the model card.
 * --json prints one object per line: {"file": ..., "probability_pneumonia": ...,
 * "threshold": ..., "label": "Pneumonia"|"Normal", "sentence": ...}.
 * --heatmap DIR writes DIR/<image name>.gradcam.png, the Grad-CAM overlay of the
 * predicted class (last Conv2D layer), and --json names it ("heatmap"); a base
 * name seen earlier in the run gets a counter (x.png.1.gradcam.png).
 * Unreadable images are reported per file ({"file": ..., "error": ...} in JSON)
 * and make the exit status 1; the others are still diagnosed. A model that was
 * never trained (train_steps 0 in its metadata) gives a warning on stderr:
 * its answers are those of random weights. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

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
    fprintf(f, "usage: pneumo-diagnose --model MODEL [--model MODEL...] [--tta none|flip] [--json]\n"
               "       [--heatmap DIR] IMAGE...\n"
               "  --model FILE   model saved by pneumo-train (required); given several times, the\n"
               "                 diagnosis is the ensemble's mean probability, with the first\n"
               "                 model's threshold and class names (default: one model)\n"
               "  --tta MODE     'flip': average each image and its left-right mirror;\n"
               "                 'none' (default)\n"
               "  --json         one JSON object per image (default: a sentence per image)\n"
               "  --heatmap DIR  write the Grad-CAM overlay of each image to DIR/<name>.gradcam.png\n"
               "                 (default: none)\n"
               "  --version      print the version and exit\n"
               "  --help         print this help and exit\n");
    return f == stdout ? 0 : 2;
}

/* DIR/<base name of path>.gradcam.png, or DIR/<base name>.<k>.gradcam.png when
 * an earlier image of this run had the same base name (a/x.png, b/x.png). */
static void heatmap_path(const char *dir, char **argv, int first, int i, char *out, size_t size)
{
    const char *base = strrchr(argv[i], '/');
    int same = 0;
    base = base ? base + 1 : argv[i];
    for (int k = first; k < i; k++) {
        const char *other = strrchr(argv[k], '/');
        same += strcmp(other ? other + 1 : argv[k], base) == 0;
    }
    if (same)
        snprintf(out, size, "%s/%s.%d.gradcam.png", dir, base, same);
    else
        snprintf(out, size, "%s/%s.gradcam.png", dir, base);
}

/* Grad-CAM overlay of the predicted class over the original image (the
 * ensemble's mean map). */
static pneumo_status write_heatmap(pneumo_model *const *ms, int32_t count, const pneumo_ensemble_options *eo,
                                   const pneumo_image *img, const char *out)
{
    pneumo_tensor *map = NULL;
    pneumo_status st = pneumo_ensemble_gradcam_image(ms, count, eo, NULL, img, &map, NULL);
    if (st == PNEUMO_OK)
        st = pneumo_gradcam_save_overlay(img, map, NULL, out);
    pneumo_tensor_destroy(map);
    return st;
}

int main(int argc, char **argv)
{
    const char *model_paths[PNEUMO_ENSEMBLE_MAX], *heatmap_dir = NULL;
    int json = 0, first_image = 0, failures = 0;
    int32_t nmodels = 0;
    pneumo_model *ms[PNEUMO_ENSEMBLE_MAX], *m = NULL;
    pneumo_ensemble_options eo;
    struct stat sb;
    pneumo_ensemble_default_options(&eo);
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--model") == 0 && i + 1 < argc) {
            if (nmodels == PNEUMO_ENSEMBLE_MAX) {
                fprintf(stderr, "pneumo-diagnose: --model: at most %d models\n", PNEUMO_ENSEMBLE_MAX);
                return 2;
            }
            model_paths[nmodels++] = argv[++i];
        } else if (strcmp(argv[i], "--tta") == 0 && i + 1 < argc) {
            const char *v = argv[++i];
            if (strcmp(v, "none") != 0 && strcmp(v, "flip") != 0) {
                fprintf(stderr,
                        "pneumo-diagnose: --tta: wants 'none' or 'flip' (see pneumo-diagnose --help)\n");
                return 2;
            }
            eo.tta = v[0] == 'f' ? PNEUMO_TTA_FLIP : PNEUMO_TTA_NONE;
        } else if (strcmp(argv[i], "--heatmap") == 0 && i + 1 < argc)
            heatmap_dir = argv[++i];
        else if (strcmp(argv[i], "--json") == 0)
            json = 1;
        else if (strcmp(argv[i], "--help") == 0)
            return usage(stdout);
        else if (strcmp(argv[i], "--version") == 0) {
            printf("pneumo-diagnose (libpneumo %s)\n", pneumo_version());
            return 0;
        } else if (strcmp(argv[i], "--model") == 0 || strcmp(argv[i], "--heatmap") == 0 ||
                   strcmp(argv[i], "--tta") == 0) {
            fprintf(stderr, "pneumo-diagnose: %s: needs a value (see pneumo-diagnose --help)\n", argv[i]);
            return 2;
        } else if (strcmp(argv[i], "--") == 0) {
            first_image = i + 1;
            break;
        } else if (argv[i][0] == '-') {
            fprintf(stderr, "pneumo-diagnose: %s: unknown option (see pneumo-diagnose --help)\n", argv[i]);
            return 2;
        } else {
            first_image = i;
            break;
        }
    }
    if (!nmodels || !first_image || first_image >= argc)
        return usage(stderr);
    if (heatmap_dir && (stat(heatmap_dir, &sb) != 0 || !S_ISDIR(sb.st_mode))) {
        fprintf(stderr, "pneumo-diagnose: --heatmap %s: not an existing directory\n", heatmap_dir);
        return 2;
    }
    for (int32_t k = 0; k < nmodels; k++) {
        if (pneumo_model_load(model_paths[k], &ms[k], NULL) != PNEUMO_OK) {
            fprintf(stderr, "pneumo-diagnose: %s\n", pneumo_last_error());
            while (k > 0)
                pneumo_model_destroy(ms[--k]);
            return 1;
        }
        if (never_trained(model_paths[k]))
            fprintf(stderr,
                    "pneumo-diagnose: warning: %s was never trained (train_steps 0): these "
                    "are the answers of random weights\n",
                    model_paths[k]);
    }
    m = ms[0]; /* threshold and class names */
    for (int i = first_image; i < argc; i++) {
        const char *path = argv[i];
        char sentence[256], label[PNEUMO_CLASS_NAME_MAX + 1], hm[4096];
        pneumo_image *img = NULL;
        int32_t cls = 0;
        float p = 0.0f;
        if (pneumo_image_load(path, NULL, &img) != PNEUMO_OK ||
            pneumo_ensemble_predict_image(ms, nmodels, &eo, img, &p) != PNEUMO_OK ||
            pneumo_model_diagnosis_sentence(m, p, sentence, sizeof sentence, NULL, &cls) != PNEUMO_OK ||
            (heatmap_dir && (heatmap_path(heatmap_dir, argv, first_image, i, hm, sizeof hm),
                             write_heatmap(ms, nmodels, &eo, img, hm) != PNEUMO_OK))) {
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
            pneumo_image_destroy(img);
            continue;
        }
        pneumo_image_destroy(img);
        pneumo_model_class_label(m, cls, label, sizeof label, NULL);
        if (json) {
            printf("{\"file\": ");
            json_string(path);
            printf(", \"probability_pneumonia\": %.6f, \"threshold\": %.6f, \"label\": ", (double)p,
                   (double)pneumo_model_threshold(m));
            json_string(label);
            printf(", \"sentence\": ");
            json_string(sentence);
            if (nmodels > 1 || eo.tta == PNEUMO_TTA_FLIP)
                printf(", \"models\": %d, \"tta\": \"%s\"", (int)nmodels, eo.tta ? "flip" : "none");
            if (heatmap_dir) {
                printf(", \"heatmap\": ");
                json_string(hm);
            }
            printf("}\n");
        } else {
            printf("%s: %s\n", path, sentence);
        }
        fflush(stdout);
    }
    for (int32_t k = 0; k < nmodels; k++)
        pneumo_model_destroy(ms[k]);
    return failures ? 1 : 0;
}
