/* Atomic file replacement: write to "<path>.tmp.<pid>-XXXXXX" (created
 * exclusively in the destination's directory), fsync, rename over `path`, fsync
 * the directory. Readers see either the old file or the complete new one; on
 * any failure the temporary file is removed and the destination is untouched.
 * A process killed during a save leaves its temporary file; the next save of
 * the same path removes those whose process no longer exists.
 *
 *   pn_atomic_file af;
 *   st = pn_atomic_open(&af, path);            // then any number of
 *   st = pn_atomic_write_chunk(&af, p, n);     // writes, and finally
 *   st = ok ? pn_atomic_commit(&af) : (pn_atomic_abort(&af), st);
 *
 * Every message names `path` (and the temporary file where it matters).
 * After pn_atomic_open succeeds exactly one of commit/abort must be called;
 * both release everything, whatever the outcome. */
#ifndef PN_IO_ATOMIC_FILE_H
#define PN_IO_ATOMIC_FILE_H

#include "pneumo/common.h"

typedef struct pn_atomic_file {
    int fd;           /* the temporary file, open for writing */
    char *tmp;        /* its name (malloc'ed) */
    const char *path; /* the destination (borrowed from the caller) */
} pn_atomic_file;

/* Create the temporary file next to `path` (mode 0666 & ~umask). */
pneumo_status pn_atomic_open(pn_atomic_file *af, const char *path);

/* Append n bytes (retries short writes and EINTR). On failure the file stays
 * open: call pn_atomic_abort. */
pneumo_status pn_atomic_write_chunk(pn_atomic_file *af, const void *data, size_t n);

/* fsync + close the temporary file, rename it over the destination, fsync the
 * directory. On failure before the rename the temporary file is removed. */
pneumo_status pn_atomic_commit(pn_atomic_file *af);

/* Close and remove the temporary file; the destination is untouched. */
void pn_atomic_abort(pn_atomic_file *af);

/* The whole sequence for a buffer already in memory. */
pneumo_status pn_atomic_write(const char *path, const void *data, size_t size);

/* I/O fault injection, for tests only: pn_io_set_fault_hook exists only in
 * the internal static library (core/test_faults.c). When a hook is set, it
 * is called before every write(), fsync(), close() and rename() of the
 * temporary file; returning an errno value (ENOSPC, EIO, ...) makes that call
 * fail with it instead, and for PN_IO_WRITE it may also lower *len to make the
 * write short. NULL removes the hook. Not thread-safe: set it while no save
 * runs. */
typedef enum pn_io_op { PN_IO_WRITE, PN_IO_FSYNC, PN_IO_CLOSE, PN_IO_RENAME } pn_io_op;
typedef int (*pn_io_fault_fn)(pn_io_op op, size_t *len, void *user);
void pn_io_set_fault_hook(pn_io_fault_fn fn, void *user);

#endif
