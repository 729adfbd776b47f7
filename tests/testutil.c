#include "testutil.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <dirent.h>

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
