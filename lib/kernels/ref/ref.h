/* Scalar reference kernels: straightforward loops, the definition of correct
 * for every optimised tier. Names follow op__isa. */
#ifndef PN_KERNELS_REF_H
#define PN_KERNELS_REF_H

#include "kernels/kernels.h"

PN_KERNEL_PROTOS(ref)

#endif
