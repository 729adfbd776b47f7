/* pneumo-quickstart: build the article's CNN, train it for a few steps on
 * SYNTHETIC X-ray-like images generated in memory, save, reload and diagnose.
 *
 *   pneumo-quickstart [--size N] [--steps S] [--batch B] [--seed K] [--out FILE]
 *
 * The images are not real X-rays: a "chest" of two dark lung fields on a
 * brighter body, where class 1 ("Pneumonia") adds bright hazy patches inside
 * the lungs. They exist so the whole flow runs anywhere in a minute. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <pneumo/pneumo.h>

#include "synth_xray.h"

static void synth_batch(pneumo_tensor *x, pneumo_tensor *y, int n, uint64_t *rng)
{
    int64_t count = pneumo_tensor_dim(x, 0);
    for (int64_t i = 0; i < count; i++) {
        int label = (int)(synth_next(rng) & 1);
        synth_xray(pneumo_tensor_data(x) + i * n * n, n, label, rng);
        pneumo_tensor_data(y)[i] = (float)label;
    }
}

static int fail(const char *what)
{
    fprintf(stderr, "pneumo-quickstart: %s: %s\n", what, pneumo_last_error());
    return 1;
}

static long arg_long(const char *flag, const char *v, long lo, long hi)
{
    char *end;
    long x = strtol(v, &end, 10);
    if (*end || x < lo || x > hi) {
        fprintf(stderr, "pneumo-quickstart: %s must be an integer in %ld..%ld\n", flag, lo, hi);
        exit(2);
    }
    return x;
}

/* The library writes through a callback; this one prints to a FILE *. */
static pneumo_status write_stream(void *stream, const void *data, size_t size)
{
    return fwrite(data, 1, size, stream) == size ? PNEUMO_OK : PNEUMO_ERR_IO;
}

int main(int argc, char **argv)
{
    long size = 128, steps = 30, batch = 8, seed = 1;
    const char *out = "quickstart.safetensors";
    pneumo_model *m = NULL, *loaded = NULL;
    pneumo_optimizer *opt = NULL;
    pneumo_tensor *x = NULL, *y = NULL, *p = NULL, *p2 = NULL;
    pneumo_step_result r;
    uint64_t rng;
    int64_t xs[4], ys[1], ps[2];
    struct timespec t0, t1;
    int rc = 1;

    for (int i = 1; i < argc; i++) {
        if (i + 1 < argc && strcmp(argv[i], "--size") == 0)
            size = arg_long("--size", argv[++i], 94, 1024);
        else if (i + 1 < argc && strcmp(argv[i], "--steps") == 0)
            steps = arg_long("--steps", argv[++i], 1, 100000);
        else if (i + 1 < argc && strcmp(argv[i], "--batch") == 0)
            batch = arg_long("--batch", argv[++i], 1, 256);
        else if (i + 1 < argc && strcmp(argv[i], "--seed") == 0)
            seed = arg_long("--seed", argv[++i], 0, 1L << 30);
        else if (i + 1 < argc && strcmp(argv[i], "--out") == 0)
            out = argv[++i];
        else if (strcmp(argv[i], "--version") == 0) {
            printf("pneumo-quickstart (libpneumo %s)\n", pneumo_version());
            return 0;
        } else {
            int help = strcmp(argv[i], "--help") == 0;
            if (!help)
                fprintf(stderr, "pneumo-quickstart: %s: %s\n", argv[i],
                        i + 1 < argc ? "unknown option" : "unknown option or missing value");
            fprintf(help ? stdout : stderr,
                    "usage: pneumo-quickstart [--size N] [--steps S] [--batch B] [--seed K] "
                    "[--out FILE]\n"
                    "  --size N    image side (default 128)\n"
                    "  --steps S   training steps (default 30)\n"
                    "  --batch B   (default 8)\n"
                    "  --seed K    (default 1)\n"
                    "  --out FILE  model file (default quickstart.safetensors)\n"
                    "  --version   print the version and exit\n");
            return help ? 0 : 2;
        }
    }
    rng = (uint64_t)seed * 7919u + 17u;
    printf("libpneumo %s: the article's CNN on SYNTHETIC %ldx%ld images (not real X-rays)\n\n",
           pneumo_version(), size, size);
    if (pneumo_model_create_article((int32_t)size, (uint64_t)seed, &m) != PNEUMO_OK)
        return fail("model");
    pneumo_model_summary(m, write_stream, stdout);
    if (pneumo_optimizer_create_adam(NULL, &opt) != PNEUMO_OK)
        return fail("optimizer");
    xs[0] = batch, xs[1] = size, xs[2] = size, xs[3] = 1;
    ys[0] = batch;
    ps[0] = batch, ps[1] = 1;
    if (pneumo_tensor_create(4, xs, &x) || pneumo_tensor_create(1, ys, &y) ||
        pneumo_tensor_create(2, ps, &p) || pneumo_tensor_create(2, ps, &p2)) {
        fail("tensors");
        goto done;
    }
    printf("\nTraining %ld steps of batch %ld (Adam, lr 1e-3, binary cross-entropy)\n", steps, batch);
    clock_gettime(CLOCK_MONOTONIC, &t0);
    for (long s = 1; s <= steps; s++) {
        synth_batch(x, y, (int)size, &rng);
        if (pneumo_model_train_step(m, opt, x, y, NULL, &r) != PNEUMO_OK) {
            fail("train step");
            goto done;
        }
        if (s == 1 || s % 5 == 0 || s == steps)
            printf("step %4ld  loss %.4f  accuracy %.4f\n", s, r.loss, r.accuracy);
    }
    clock_gettime(CLOCK_MONOTONIC, &t1);
    printf("%.2f s per step (%.1f images/s, %s kernels, %d threads)\n",
           ((t1.tv_sec - t0.tv_sec) + (t1.tv_nsec - t0.tv_nsec) * 1e-9) / steps,
           steps * batch / ((t1.tv_sec - t0.tv_sec) + (t1.tv_nsec - t0.tv_nsec) * 1e-9), pneumo_kernel_isa(),
           pneumo_model_threads(m));

    synth_batch(x, y, (int)size, &rng);
    if (pneumo_model_evaluate_batch(m, x, y, NULL, &r) != PNEUMO_OK) {
        fail("evaluate");
        goto done;
    }
    printf("held-out synthetic batch: loss %.4f  accuracy %.4f\n", r.loss, r.accuracy);

    if (pneumo_model_save(m, opt, out) != PNEUMO_OK || pneumo_model_load(out, &loaded, NULL) != PNEUMO_OK) {
        fail(out);
        goto done;
    }
    if (pneumo_model_predict(m, x, p) || pneumo_model_predict(loaded, x, p2)) {
        fail("predict");
        goto done;
    }
    if (memcmp(pneumo_tensor_data(p), pneumo_tensor_data(p2), (size_t)batch * sizeof(float)) != 0) {
        fprintf(stderr, "pneumo-quickstart: reloaded model predicts differently\n");
        goto done;
    }
    printf("saved %s and reloaded it: identical predictions\n\n", out);
    for (int i = 0; i < 3 && i < batch; i++) {
        float prob = pneumo_tensor_data(p)[i];
        printf("synthetic image %d (actual: %s): ", i,
               pneumo_tensor_data(y)[i] > 0.5f ? "Pneumonia" : "Normal");
        if (prob >= 0.5f)
            printf("I am %.2f%% percent confirmed that this is a Pneumonia case\n", prob * 100.0);
        else
            printf("I am %.2f%% percent confirmed that this is a Normal case\n", (1.0f - prob) * 100.0);
    }
    rc = 0;
done:
    pneumo_tensor_destroy(x);
    pneumo_tensor_destroy(y);
    pneumo_tensor_destroy(p);
    pneumo_tensor_destroy(p2);
    pneumo_optimizer_destroy(opt);
    pneumo_model_destroy(m);
    pneumo_model_destroy(loaded);
    return rc;
}
