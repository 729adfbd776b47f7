/* Internal error reporting: every failing entry point records a status and a
 * formatted message in thread-local storage and returns the status. */
#ifndef PN_CORE_ERROR_H
#define PN_CORE_ERROR_H

#include "pneumo/common.h"

#if defined(__GNUC__)
#define PN_PRINTF(f, a) __attribute__((format(printf, f, a)))
#else
#define PN_PRINTF(f, a)
#endif

/* Record `status` with a printf-style message; returns `status` so callers can
 * write `return pn_error(PNEUMO_ERR_SHAPE, "...", ...);`. */
pneumo_status pn_error(pneumo_status status, const char *fmt, ...) PN_PRINTF(2, 3);

/* Prefix the current message with "prefix: " (used to add the file or layer name
 * as an error travels up). Returns the current status. */
pneumo_status pn_error_prefix(const char *fmt, ...) PN_PRINTF(1, 2);

/* Shorthand for an allocation failure naming what was being allocated. */
pneumo_status pn_error_nomem(const char *what, size_t bytes);

/* The public-struct rule (docs/abi.md): `size` must be the sizeof the library
 * was built with (set by the struct's default function) and every reserved
 * word must be zero. INVALID_ARG naming `fn` and the struct `type` otherwise. */
pneumo_status pn_check_struct(const char *fn, const char *type, uint32_t size, size_t expected,
                              const uint32_t *reserved, size_t nreserved);
#define PN_CHECK_STRUCT(fn, type, p)                                     \
    pn_check_struct((fn), #type, (p)->size, sizeof(type), (p)->reserved, \
                    sizeof(p)->reserved / sizeof(p)->reserved[0])

/* The string convention of every public function returning text: copy `s`
 * into buf like snprintf (at most size - 1 bytes and a NUL when size > 0; buf
 * may be NULL only when size is 0) and store strlen(s) in *needed (may be
 * NULL). A NULL `s` is INVALID_ARG with `missing` as the message after "fn: ". */
pneumo_status pn_string_out(const char *fn, const char *s, const char *missing, char *buf, size_t size,
                            size_t *needed);

/* A caller buffer of `have` elements where `need` are written: SHAPE naming
 * `fn` and the buffer otherwise. */
pneumo_status pn_check_buffer(const char *fn, const char *what, size_t have, size_t need);

#endif
