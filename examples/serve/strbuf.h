/* pneumo-serve: a growable byte string for JSON answers and metrics text. */
#ifndef PNEUMO_SERVE_STRBUF_H
#define PNEUMO_SERVE_STRBUF_H

#include <stddef.h>

typedef struct strbuf {
    char *data; /* NUL-terminated while not failed; owned */
    size_t len;
    size_t cap;
    int failed; /* an allocation failed: the content is incomplete */
} strbuf;

void sb_init(strbuf *b);
void sb_free(strbuf *b);
/* Hand the buffer over (the caller frees it with free()); b is empty afterwards.
 * NULL if an append failed. */
char *sb_take(strbuf *b, size_t *len);
void sb_append(strbuf *b, const char *s, size_t n);
void sb_puts(strbuf *b, const char *s);
void sb_printf(strbuf *b, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 2, 3)))
#endif
    ;
/* s as a JSON string literal, quotes included (invalid UTF-8 bytes become U+FFFD). */
void sb_json_string(strbuf *b, const char *s);
/* A float that reads back exactly ("%.9g"); null for NaN and infinities. */
void sb_json_float(strbuf *b, double v);
/* RFC 4648 base64 of n bytes. */
void sb_base64(strbuf *b, const unsigned char *data, size_t n);

/* The server's error body: {"status": 400, "error": "Bad Request", "message": "..."}. */
void sb_json_error(strbuf *b, int status, const char *message);
/* The reason phrase of an HTTP status ("Bad Request"), "Error" for unknown ones. */
const char *http_reason(int status);

#endif
