/* Fault injection for tests (see faults.h), linked only into the internal
 * static library in place of core/faults_off.c. */
#include "core/faults.h"

#include <stdatomic.h>

#include "core/alloc.h"

static atomic_long fail_countdown;
static atomic_int fail_fired;
static pn_io_fault_fn fault_hook;
static void *fault_user;

void pn_alloc_fail_nth(long n)
{
    atomic_store(&fail_fired, 0);
    atomic_store(&fail_countdown, n > 0 ? n : 0);
}

int pn_alloc_fail_fired(void) { return atomic_load(&fail_fired); }

/* One relaxed load on the common path; only an armed countdown costs more. */
int pn_fault_alloc(void)
{
    if (atomic_load_explicit(&fail_countdown, memory_order_relaxed) <= 0)
        return 0;
    if (atomic_fetch_sub(&fail_countdown, 1) != 1)
        return 0;
    atomic_store(&fail_fired, 1);
    return 1;
}

void pn_io_set_fault_hook(pn_io_fault_fn fn, void *user)
{
    fault_hook = fn;
    fault_user = user;
}

int pn_fault_io(pn_io_op op, size_t *len)
{
    size_t dummy = 0;
    return fault_hook ? fault_hook(op, len ? len : &dummy, fault_user) : 0;
}
