/* Fixtures shared by the hostile-input tests: a forked child that runs one
 * piece of work and reports its peak resident memory growth and CPU time, the
 * bounds of docs/security.md, and a byte buffer to craft inputs in. */
#ifndef PN_HOSTILE_FIXTURES_H
#define PN_HOSTILE_FIXTURES_H

#include "testutil.h"

int bounds_checked(void);

#define MIB (1024.0 * 1024.0)

#define BASE_BYTES (32.0 * MIB)

typedef struct {
    uint8_t *data;
    size_t size, cap;
} buf;

void b_add(buf *b, const void *p, size_t n);

typedef struct {
    int status;        /* pneumo_status of the work */
    double peak_bytes; /* growth of the peak resident set */
    double cpu_s;      /* user + system CPU seconds of the work */
} cost;

typedef pneumo_status (*work_fn)(const void *arg);

cost measure(work_fn fn, const void *arg);

void report(const char *what, cost c, double bound_bytes, double bound_cpu);

enum { SCANS_BASELINE, SCANS_SIMPLE, SCANS_PER_COEFFICIENT };

/* Encode a w x h JPEG of `comps` (1 or 3) components; pattern 0 = flat gray,
 * 1 = noise. SCANS_PER_COEFFICIENT is a valid progression of 1 + 63 * comps
 * scans (one AC coefficient of one component per scan). */
buf jpeg_encode(int w, int h, int comps, int arith, int scans, int pattern);

#endif
