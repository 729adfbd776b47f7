/* Fault-injection points: the library asks here whether an allocation or a
 * file operation of an atomic save should fail. libpneumo.so links
 * core/faults_off.c, where nothing ever fails; the internal static library
 * that tests link has core/test_faults.c instead, driven by
 * pn_alloc_fail_nth() (alloc.h) and pn_io_set_fault_hook() (atomic_file.h). */
#ifndef PN_CORE_FAULTS_H
#define PN_CORE_FAULTS_H

#include <stddef.h>

#include "core/atomic_file.h"

/* 1 when this allocation must fail. */
int pn_fault_alloc(void);
/* The errno to inject into `op` (0: none); may shorten *len (NULL for ops
 * other than PN_IO_WRITE) to make a write short. */
int pn_fault_io(pn_io_op op, size_t *len);

#endif
