/* Growable memory: arrays that double as they fill (pn_array_reserve) and the
 * text buffer pn_buf that JSON, the summary, metrics and the report are written
 * into. Both allocate through pn_realloc, so the allocation-failure test
 * reaches every caller. */
#ifndef PN_CORE_BUF_H
#define PN_CORE_BUF_H

#include <stdarg.h>
#include <stddef.h>

#include "core/error.h"
#include "pneumo/common.h"

/* Make room for `need` elements of `elem` bytes (elem >= 1) in the array that
 * `arrayp` points to (a `T **`, passed as void *; *cap counts elements). Below
 * `need` the capacity doubles (from 4 elements), but never beyond `max`
 * elements (SIZE_MAX: no bound but size_t). Returns 1
 * when the array holds at least `need` elements; 0 when `need` is above `max`,
 * the byte size overflows size_t or the allocation fails, leaving the array
 * and *cap as they were. Elements past the old capacity are uninitialised. */
int pn_array_reserve(void *arrayp, size_t *cap, size_t need, size_t elem, size_t max);

/* Values of pn_buf.failed. */
#define PN_BUF_OK 0
#define PN_BUF_NOMEM 1 /* an allocation failed */
#define PN_BUF_BADINPUT \
    2 /* a string was not valid UTF-8, or a number was not
                            * finite (JSON cannot represent NaN/Inf) */

/* Growable byte buffer. `data` is always NUL-terminated once anything has been
 * appended. After the first failure `failed` is set and every later append is a
 * no-op, so a writer can emit a whole document and check `failed` once. */
typedef struct pn_buf {
    char *data;
    size_t len, cap;
    int failed;
} pn_buf;

void pn_buf_init(pn_buf *b);
/* Release the storage and reset to the initial empty state. */
void pn_buf_free(pn_buf *b);
void pn_buf_append(pn_buf *b, const char *s, size_t n);
/* Append printf-formatted text. Uses the process locale like printf: format
 * floating point with pn_buf_json_number (format/json.h), not %g. */
void pn_buf_printf(pn_buf *b, const char *fmt, ...) PN_PRINTF(2, 3);
void pn_buf_vprintf(pn_buf *b, const char *fmt, va_list ap) PN_PRINTF(2, 0);

/* Hand a finished buffer to a public "string into caller buffer" call: copies
 * like snprintf into buf (NUL-terminated, truncated; buf may be NULL when size
 * is 0), sets *needed (may be NULL) to the full length, frees the buffer.
 * Returns NOMEM naming `what` if the buffer failed to build. */
pneumo_status pn_buf_export(pn_buf *b, char *buf, size_t size, size_t *needed, const char *what);

#endif
