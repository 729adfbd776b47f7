/* Growable arrays and the pn_buf text buffer; see buf.h for the contract. */
#include "core/buf.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/alloc.h"

int pn_array_reserve(void *arrayp, size_t *cap, size_t need, size_t elem, size_t max)
{
    void *items, *grown;
    size_t c, bytes;
    if (need <= *cap)
        return 1;
    if (elem == 0 || need > max)
        return 0;
    c = *cap ? *cap : 4;
    if (c > max)
        c = max;
    while (c < need)
        c = c > max / 2 ? max : c * 2;
    /* doubling overflowed the byte size while `need` alone does not */
    if (!pn_mul_size(c, elem, &bytes)) {
        c = need;
        if (!pn_mul_size(c, elem, &bytes))
            return 0;
    }
    memcpy(&items, arrayp, sizeof items);
    grown = pn_realloc(items, bytes);
    if (!grown)
        return 0;
    memcpy(arrayp, &grown, sizeof grown);
    *cap = c;
    return 1;
}

void pn_buf_init(pn_buf *b)
{
    b->data = NULL;
    b->len = 0;
    b->cap = 0;
    b->failed = PN_BUF_OK;
}

void pn_buf_free(pn_buf *b)
{
    free(b->data);
    pn_buf_init(b);
}

/* Ensure room for `extra` more bytes plus the terminating NUL. */
static int buf_reserve(pn_buf *b, size_t extra)
{
    if (b->failed)
        return 0;
    if (extra > SIZE_MAX - b->len - 1 ||
        !pn_array_reserve(&b->data, &b->cap, b->len + extra + 1, 1, SIZE_MAX)) {
        b->failed = PN_BUF_NOMEM;
        return 0;
    }
    return 1;
}

void pn_buf_append(pn_buf *b, const char *s, size_t n)
{
    if (!buf_reserve(b, n))
        return;
    if (n)
        memcpy(b->data + b->len, s, n);
    b->len += n;
    b->data[b->len] = '\0';
}

void pn_buf_vprintf(pn_buf *b, const char *fmt, va_list ap)
{
    if (b->failed)
        return;
    va_list ap2;
    va_copy(ap2, ap);
    int n = vsnprintf(NULL, 0, fmt, ap2);
    va_end(ap2);
    if (n < 0) {
        b->failed = PN_BUF_BADINPUT;
        return;
    }
    if (!buf_reserve(b, (size_t)n))
        return;
    vsnprintf(b->data + b->len, (size_t)n + 1, fmt, ap);
    b->len += (size_t)n;
}

void pn_buf_printf(pn_buf *b, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    pn_buf_vprintf(b, fmt, ap);
    va_end(ap);
}

pneumo_status pn_buf_export(pn_buf *b, char *buf, size_t size, size_t *needed, const char *what)
{
    if (b->failed) {
        pn_buf_free(b);
        return pn_error_nomem(what, 0);
    }
    if (needed)
        *needed = b->len;
    if (size) {
        size_t n = b->len < size - 1 ? b->len : size - 1;
        if (n)
            memcpy(buf, b->data, n);
        buf[n] = '\0';
    }
    pn_buf_free(b);
    return PNEUMO_OK;
}
