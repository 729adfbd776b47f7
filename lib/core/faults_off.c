/* The shipped fault-injection points (see faults.h): nothing fails. */
#include "core/faults.h"

int pn_fault_alloc(void) { return 0; }

int pn_fault_io(pn_io_op op, size_t *len)
{
    (void)op;
    (void)len;
    return 0;
}
