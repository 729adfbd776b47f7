#include "testutil.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <dirent.h>

#include "pneumo/pneumo.h"

uint64_t tu_next(uint64_t *state)
{
    uint64_t z = (*state += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

float tu_uniform(uint64_t *state, float lo, float hi)
{
    double u = (double)(tu_next(state) >> 11) * (1.0 / 9007199254740992.0);
    return (float)(lo + (hi - lo) * u);
}

void tu_fill(uint64_t *state, float *x, size_t n, float lo, float hi)
{
    for (size_t i = 0; i < n; i++)
        x[i] = tu_uniform(state, lo, hi);
}

const char *tu_shared_data(void)
{
    static char path[4096];
    const char *env = getenv("PNEUMO_SHARED_DATA");
    struct stat st;
    if (!env || !*env)
        env = "../shared/data";
    snprintf(path, sizeof path, "%s", env);
    if (stat(path, &st) != 0 || !S_ISDIR(st.st_mode)) {
        printf("skipped: shared X-ray data not found at %s (set PNEUMO_SHARED_DATA)\n", path);
        return NULL;
    }
    return path;
}

const char *tu_tmpdir(void)
{
    static char path[4096];
    const char *base = getenv("TMPDIR");
    if (!base || !*base)
        base = "/tmp";
    snprintf(path, sizeof path, "%s/pneumo-test-XXXXXX", base);
    if (!mkdtemp(path))
        return NULL;
    return path;
}

char *tu_join(const char *dir, const char *name)
{
    size_t n = strlen(dir) + strlen(name) + 2;
    char *p = malloc(n);
    assert_non_null(p);
    snprintf(p, n, "%s/%s", dir, name);
    return p;
}

int tu_count_entries(const char *dir, int *has_tmp)
{
    DIR *d = opendir(dir);
    struct dirent *e;
    int n = 0;
    *has_tmp = 0;
    if (!d)
        return -1;
    while ((e = readdir(d)) != NULL) {
        if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
            continue;
        if (strstr(e->d_name, ".tmp."))
            *has_tmp = 1;
        n++;
    }
    closedir(d);
    return n;
}

void tu_write_blob_split(const char *root, const char *split, int side, int per_class, uint64_t *rng)
{
    static const char *classes[2] = {"Normal", "Opacity"};
    char path[4400];
    pneumo_image *img = NULL;
    snprintf(path, sizeof path, "%s/%s", root, split);
    assert_int_equal(mkdir(path, 0755), 0);
    assert_int_equal(pneumo_image_create(side, side, &img), PNEUMO_OK);
    for (int c = 0; c < 2; c++) {
        snprintf(path, sizeof path, "%s/%s/%s", root, split, classes[c]);
        assert_int_equal(mkdir(path, 0755), 0);
        for (int k = 0; k < per_class; k++) {
            uint8_t *px = pneumo_image_pixels_mut(img);
            int bx = 4 + (int)(tu_next(rng) % (uint64_t)(side - 8)),
                by = 4 + (int)(tu_next(rng) % (uint64_t)(side - 8));
            for (int i = 0; i < side * side; i++)
                px[i] = (uint8_t)(40 + tu_next(rng) % 80);
            if (c)
                for (int y = -2; y <= 2; y++)
                    for (int x = -2; x <= 2; x++)
                        px[(by + y) * side + bx + x] = 250;
            snprintf(path, sizeof path, "%s/%s/%s/img_%03d.png", root, split, classes[c], k);
            assert_int_equal(pneumo_image_save_png(img, path), PNEUMO_OK);
        }
    }
    pneumo_image_destroy(img);
}

static char *tu_next_string(void)
{
    static char bufs[8][4608];
    static unsigned next;
    return bufs[next++ % 8];
}

#define TU_STRING(call)                                     \
    do {                                                    \
        char *b = tu_next_string();                         \
        size_t needed = 0;                                  \
        pneumo_status st = (call);                          \
        if (st != PNEUMO_OK)                                \
            fail_msg("%s: %s", #call, pneumo_last_error()); \
        assert_true(needed < 4608);                         \
        return b;                                           \
    } while (0)

const char *tu_ds_class(const pneumo_dataset *ds, int32_t c)
{
    TU_STRING(pneumo_dataset_class_name(ds, c, b, 4608, &needed));
}

const char *tu_ds_path(const pneumo_dataset *ds, int64_t i)
{
    TU_STRING(pneumo_dataset_path(ds, i, b, 4608, &needed));
}

const char *tu_ds_skipped(const pneumo_dataset *ds, int64_t i)
{
    TU_STRING(pneumo_dataset_skipped(ds, i, b, 4608, &needed));
}

const char *tu_param_name(const pneumo_model *m, int32_t i)
{
    TU_STRING(pneumo_model_param_name(m, i, b, 4608, &needed));
}

const char *tu_class_name(const pneumo_model *m, int32_t i)
{
    TU_STRING(pneumo_model_class_name(m, i, b, 4608, &needed));
}

const char *tu_training_settings(const pneumo_model *m)
{
    TU_STRING(pneumo_model_training_settings(m, b, 4608, &needed));
}

void *tu_read_all(const char *path, size_t *size)
{
    FILE *f = fopen(path, "rb");
    char *d;
    long n;
    assert_non_null(f);
    assert_int_equal(fseek(f, 0, SEEK_END), 0);
    n = ftell(f);
    assert_true(n > 0);
    rewind(f);
    d = malloc((size_t)n + 1);
    assert_non_null(d);
    assert_int_equal(fread(d, 1, (size_t)n, f), (size_t)n);
    d[n] = '\0';
    fclose(f);
    if (size)
        *size = (size_t)n;
    return d;
}
