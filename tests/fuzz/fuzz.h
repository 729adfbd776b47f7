/* libFuzzer entry points (tests/fuzz/fuzz_*.c). Each target is built twice:
 * with -Dfuzz=true against libFuzzer (clang, sanitizers), and always as a
 * replay program (replay.c) that runs it over the regression corpus. */
#ifndef PN_TESTS_FUZZ_H
#define PN_TESTS_FUZZ_H

#include <stddef.h>
#include <stdint.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Temporary directory of this process (created on first use under $TMPDIR,
 * /dev/shm or /tmp), for the targets whose API takes paths. */
const char *fz_tmpdir(void);
/* Write `size` bytes to `path`; 0 on success. */
int fz_write_file(const char *path, const void *data, size_t size);
/* Remove `path` and everything under it without following links. */
void fz_remove_tree(const char *path);

#endif
