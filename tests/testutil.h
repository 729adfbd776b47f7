/* Helpers shared by the cmocka test programs. */
#ifndef PN_TESTUTIL_H
#define PN_TESTUTIL_H

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "pneumo/pneumo.h"

/* Deterministic test RNG (splitmix64). */
uint64_t tu_next(uint64_t *state);
/* Uniform float in [lo, hi). */
float tu_uniform(uint64_t *state, float lo, float hi);
/* Fill n floats with U(lo, hi). */
void tu_fill(uint64_t *state, float *x, size_t n, float lo, float hi);

/* Directory of the shared chest X-ray data (../shared/data), or NULL after
 * printing a clear "skipped: ..." message when it is absent. */
const char *tu_shared_data(void);

/* A fresh temporary directory for this test (mkdtemp under $TMPDIR or /tmp);
 * the path is static storage. */
const char *tu_tmpdir(void);

/* "dir/name" in malloc'ed memory (fails the test on allocation failure). */
char *tu_join(const char *dir, const char *name);

/* The whole non-empty file at path in malloc'ed memory with a NUL after it
 * (so text can be read as a C string); its length in *size (may be NULL).
 * Fails the test when the file cannot be read. */
void *tu_read_all(const char *path, size_t *size);

/* Entries of dir other than . and .., or -1 if it cannot be opened; *has_tmp
 * tells whether any is an atomic save's leftover "*.tmp.*" file. */
int tu_count_entries(const char *dir, int *has_tmp);

/* Write root/split/{Normal,Opacity}/img_NNN.png: per_class side x side
 * grayscale PNGs of noise, class 1 (Opacity) with a bright 5x5 blob, drawn
 * from *rng (the same state gives the same images). */
void tu_write_blob_split(const char *root, const char *split, int side, int per_class, uint64_t *rng);

/* The library's strings (caller-buffer convention) as C strings for
 * assertions: each call fails the test unless the getter returns PNEUMO_OK,
 * and returns one of 8 rotating static buffers, so a few may be compared in
 * one assertion. */
const char *tu_ds_class(const pneumo_dataset *ds, int32_t c);
const char *tu_ds_path(const pneumo_dataset *ds, int64_t i);
const char *tu_ds_skipped(const pneumo_dataset *ds, int64_t i);
const char *tu_param_name(const pneumo_model *m, int32_t i);
const char *tu_class_name(const pneumo_model *m, int32_t i);
const char *tu_training_settings(const pneumo_model *m);

#endif
