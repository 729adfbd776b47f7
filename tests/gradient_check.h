/* The finite-difference gradient checker shared by the gradient tests.
 *
 * Layer checks use L = sum(R * y) for a fixed random R, so dL/dy = R, and
 * compare the layer's dL/dx, dL/dw, dL/db with central differences
 * (sum R * (y(p + h) - y(p - h))) / (p+ - p-), accumulated in double from the
 * float32 outputs; p+ - p- is the perturbation actually stored in float.
 * Points where the perturbation flips a ReLU or moves a max-pool argmax are
 * detected exactly (the activation pattern / argmax array changes) and skipped,
 * so kinks never produce false failures and can never hide a real error. */
#ifndef PN_GRADIENT_CHECK_H
#define PN_GRADIENT_CHECK_H

#include "testutil.h"

#include "kernels/kernels.h"
#include "layers/layer.h"

typedef struct cmp_result {
    double max_elem; /* worst normalised element error */
    double rel_l2;   /* relative L2 error */
    size_t worst;    /* index of the worst element */
} cmp_result;

int grads_close(const double *a, const double *b, size_t n, cmp_result *r);

/* Stand-alone layers: the test owns the parameters. */
void attach_params(pn_layer *l, uint64_t *rng, float wscale);

void release_layer(pn_layer *l);

typedef struct fd_report {
    cmp_result x, w, b;
    int ok_x, ok_w, ok_b;
    size_t points, skipped;
} fd_report;

/* Run forward/backward of a set-up layer on x (n samples) with kernels `k`,
 * then compare dL/dx, dL/dw, dL/db with finite differences of step h. */
void fd_check_layer(pn_layer *l, const pn_kernels *k, int training, int32_t n, float *x, double h,
                    uint64_t rseed, fd_report *rep);

int report_ok(const fd_report *r);

void expect_pass(const char *what, const fd_report *r);

/* The kernel tables to check: the dispatched one and, if different, the reference. */
int kernel_tables(const pn_kernels **tables);

extern const char *const act_label[];

#endif
