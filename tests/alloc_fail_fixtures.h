/* Harness shared by the allocation-failure programs, test_alloc_fail.c (the
 * library's operations) and test_alloc_fail_serve.c (pneumo-serve's request
 * path). As SQLite tests it: for N = 1, 2, ... the N-th allocation the library
 * makes during an operation fails (pn_alloc_fail_nth, internal), until the
 * operation runs without reaching N allocations. Every run must return NOMEM
 * or succeed, and leave the handles usable (checked by running the operation
 * again) or destroyable; leaks show under LSan in the sanitizer build. */
#ifndef PN_ALLOC_FAIL_FIXTURES_H
#define PN_ALLOC_FAIL_FIXTURES_H

#include "testutil.h"

/* side of the model's square input and of the fixture's batch */
#define AF_SIZE 96

typedef pneumo_status (*op_fn)(void *ctx);

/* Runs op with the N-th allocation failing for N = 1, 2, ...; `before` (may be
 * NULL) prepares each run without failures, `after` (may be NULL) checks the
 * state after it. Returns the number of allocation points the operation has. */
long run_prepared(const char *name, void (*before)(void *ctx), op_fn op, void (*after)(void *ctx, int failed),
                  void *ctx);

long run_until_success(const char *name, op_fn op, void (*after)(void *ctx, int failed), void *ctx);

typedef struct {
    char *dir; /* one temporary folder for everything below */
    pneumo_model *m, *loaded;
    pneumo_optimizer *loaded_opt;
    pneumo_optimizer *opt;
    pneumo_tensor *x, *y, *out;
    float ref[2];
    char *path;
    unsigned char *saved;
    size_t saved_size;
    pneumo_image *img;
    float ref_prob;
    char *img_path;
    char *ds_dir;
    int32_t ds_threads;
    void *png;
    size_t png_size;
} fixture;


/* A trained model with its optimizer, a batch and its reference prediction,
 * the model saved to f->path, an image (as a PNG file and as PNG bytes) with
 * its reference probability, and a dataset folder of two classes of three
 * images, all in one temporary folder. */
void make_fixture(fixture *f);

void free_fixture(fixture *f);

#endif
