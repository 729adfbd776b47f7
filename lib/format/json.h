/* A small, strict JSON (RFC 8259) parser for untrusted input, and helpers that
 * write JSON into a pn_buf (core/buf.h).
 *
 * The parser is deliberately stricter than the RFC where leniency would make a
 * hostile file ambiguous or expensive: duplicate object keys, "\u0000" escapes
 * (which would truncate C strings), nesting deeper than PN_JSON_MAX_DEPTH and
 * documents of more than PN_JSON_MAX_NODES values are all rejected. Numbers are
 * converted independently of the process locale. */
#ifndef PN_IO_JSON_H
#define PN_IO_JSON_H

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include "core/buf.h"
#include "core/error.h"
#include "pneumo/common.h"

/* Deepest array/object nesting accepted (a top-level array is depth 1). Bounds
 * the parser's recursion. */
#define PN_JSON_MAX_DEPTH 64
/* Most values (of any type, containers included) in one document. Bounds memory
 * to roughly this many nodes whatever the input size. */
#define PN_JSON_MAX_NODES 1000000

typedef enum {
    PN_JSON_NULL,
    PN_JSON_BOOL,
    PN_JSON_NUMBER,
    PN_JSON_STRING,
    PN_JSON_ARRAY,
    PN_JSON_OBJECT
} pn_json_type;

typedef struct pn_json pn_json;

/* One parsed value. Fields not belonging to `type` are zero. */
struct pn_json {
    pn_json_type type;
    int boolean;     /* PN_JSON_BOOL: 0 or 1 */
    double number;   /* PN_JSON_NUMBER: correctly rounded value */
    int is_integer;  /* PN_JSON_NUMBER written as an integer literal (no
                           * fraction, no exponent) that fits in int64_t ... */
    int64_t integer; /* ... whose exact value is this */
    char *string;    /* PN_JSON_STRING: decoded UTF-8, NUL-terminated, never
                           * contains NUL */
    size_t length;   /* PN_JSON_STRING: bytes in `string` before the NUL */
    size_t count;    /* PN_JSON_ARRAY / PN_JSON_OBJECT: number of members */
    pn_json *items;  /* array elements, or object values, in document order */
    char **keys;     /* PN_JSON_OBJECT: keys[i] names items[i] */
};

/* Parse exactly `len` bytes of `text` (need not be NUL-terminated) as one JSON
 * value surrounded by optional whitespace. On success *out owns a tree to free
 * with pn_json_free. On failure *out is NULL and the status is
 * PNEUMO_ERR_FORMAT ("<label>: JSON error at byte N: <reason>", N counted from 0),
 * PNEUMO_ERR_LIMIT (depth or node limit) or PNEUMO_ERR_NOMEM. */
pneumo_status pn_json_parse(const char *text, size_t len, const char *label, pn_json **out);

/* Free a tree returned by pn_json_parse. NULL is a no-op. */
void pn_json_free(pn_json *j);

/* Member `key` of object `obj`, or NULL if obj is NULL, not an object, or has no
 * such key. Linear in the number of members. */
const pn_json *pn_json_get(const pn_json *obj, const char *key);

/* Element i of an array (or value i of an object); NULL if out of range. */
const pn_json *pn_json_item(const pn_json *arr, size_t i);

/* 1 and *out set if `node` is a number with an exact integral int64 value: an
 * integer literal in range, or a fraction/exponent form such as 1e3 whose value
 * is integral and at most 2^53 in magnitude (where doubles are exact). Else 0. */
int pn_json_int64(const pn_json *node, int64_t *out);

/* The helpers below look up `key` in `obj` and return 1 with *out set when the
 * member exists and has the right type (and, for int64, pn_json_int64 holds);
 * otherwise 0 with *out untouched. */
int pn_json_get_int64(const pn_json *obj, const char *key, int64_t *out);
int pn_json_get_number(const pn_json *obj, const char *key, double *out);
int pn_json_get_bool(const pn_json *obj, const char *key, int *out);

/* String value of member `key`, or NULL if absent or not a string. */
const char *pn_json_get_string(const pn_json *obj, const char *key);

/* ---- Writer ---------------------------------------------------------------- */

/* Append `s` (NUL-terminated UTF-8) as a quoted JSON string, escaping quotes,
 * backslashes and control characters. Invalid UTF-8 or NULL sets
 * PN_BUF_BADINPUT. */
void pn_buf_json_string(pn_buf *b, const char *s);
/* Shortest decimal text that parses back to exactly `x` ("0.1", "1e-07", "-0").
 * Always uses '.', whatever LC_NUMERIC says. Non-finite x sets
 * PN_BUF_BADINPUT. */
void pn_buf_json_number(pn_buf *b, double x);
/* Shortest text that parses back (as float) to exactly `x`: for float32
 * parameters, "0.1" rather than the double expansion "0.10000000149011612". */
void pn_buf_json_float(pn_buf *b, float x);

#endif
