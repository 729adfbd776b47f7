/* Fixtures shared by the dataset tests: PNG/JPEG files written with
 * libpng/libjpeg into temporary class folders, dataset options, and whole
 * epochs read into memory for comparison. */
#ifndef PN_DATASET_FIXTURES_H
#define PN_DATASET_FIXTURES_H

#include "testutil.h"

/* Fixtures.                                                                 */
void pjoin(char *out, const char *a, const char *b);

void mkdir_ok(const char *path);

/* Gray 8-bit PNG of w x h with pattern k. */
void write_png(const char *path, int w, int h, int k);

void write_bytes(const char *path, const void *data, size_t n);

void rm_rf(const char *path);

void new_tmp(char *out);

pneumo_dataset_options small_opts(int w, int h, int threads);

/* A two-class folder of n images per class with different sizes, PNG and JPEG. */
void make_dataset(const char *root, int per_class);

void expect_error(pneumo_status got, pneumo_status want, const char *needle);

#endif
