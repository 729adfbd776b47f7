#include "core/error.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#define PN_ERRMSG_MAX 1024

static _Thread_local char tl_message[PN_ERRMSG_MAX];
static _Thread_local pneumo_status tl_status = PNEUMO_OK;

const char *pneumo_strerror(int status)
{
    switch (status) {
    case PNEUMO_OK: return "success";
    case PNEUMO_ERR_INVALID_ARG: return "invalid argument";
    case PNEUMO_ERR_SHAPE: return "shape mismatch";
    case PNEUMO_ERR_NOMEM: return "out of memory";
    case PNEUMO_ERR_IO: return "input/output error";
    case PNEUMO_ERR_FORMAT: return "corrupt or unsupported file format";
    case PNEUMO_ERR_STATE: return "call not valid in the current state";
    case PNEUMO_ERR_UNSUPPORTED: return "not supported";
    case PNEUMO_ERR_LIMIT: return "safety limit exceeded";
    case PNEUMO_ERR_CANCELLED: return "cancelled";
    default: return "unknown status";
    }
}

const char *pneumo_last_error(void) { return tl_message; }

pneumo_status pneumo_last_status(void) { return tl_status; }

void pneumo_clear_error(void)
{
    tl_message[0] = '\0';
    tl_status = PNEUMO_OK;
}

/* Messages are always formatted into a local buffer first: an argument may be
 * pneumo_last_error() itself (wrapping an earlier message), and formatting
 * into the buffer a %s argument is read from overwrites it while it is read. */
pneumo_status pn_error(pneumo_status status, const char *fmt, ...)
{
    char msg[PN_ERRMSG_MAX];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    memcpy(tl_message, msg, strlen(msg) + 1);
    tl_status = status;
    return status;
}

pneumo_status pn_error_prefix(const char *fmt, ...)
{
    char msg[PN_ERRMSG_MAX];
    size_t plen, mlen;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    plen = strlen(msg);
    if (plen + 3 >= sizeof msg)
        return tl_status;
    /* "prefix: " then as much of the current message as fits */
    msg[plen] = ':';
    msg[plen + 1] = ' ';
    mlen = strlen(tl_message);
    if (plen + 2 + mlen >= sizeof msg)
        mlen = sizeof msg - plen - 3;
    memcpy(msg + plen + 2, tl_message, mlen);
    msg[plen + 2 + mlen] = '\0';
    memcpy(tl_message, msg, plen + 2 + mlen + 1);
    return tl_status;
}

pneumo_status pn_error_nomem(const char *what, size_t bytes)
{
    return pn_error(PNEUMO_ERR_NOMEM, "%s: cannot allocate %zu bytes", what, bytes);
}

pneumo_status pn_check_struct(const char *fn, const char *type, uint32_t size, size_t expected,
                              const uint32_t *reserved, size_t nreserved)
{
    if (size != expected)
        return pn_error(PNEUMO_ERR_INVALID_ARG,
                        "%s: %s.size is %u, this library knows only %zu (initialise the struct "
                        "with its default function)",
                        fn, type, (unsigned)size, expected);
    for (size_t i = 0; i < nreserved; i++)
        if (reserved[i])
            return pn_error(PNEUMO_ERR_INVALID_ARG, "%s: %s.reserved[%zu] is not zero", fn, type, i);
    return PNEUMO_OK;
}

pneumo_status pn_check_buffer(const char *fn, const char *what, size_t have, size_t need)
{
    if (have < need)
        return pn_error(PNEUMO_ERR_INVALID_ARG, "%s: %s holds %zu values, %zu are needed", fn, what, have,
                        need);
    return PNEUMO_OK;
}

pneumo_status pn_string_out(const char *fn, const char *s, const char *missing, char *buf, size_t size,
                            size_t *needed)
{
    size_t len, n;
    if (!buf && size)
        return pn_error(PNEUMO_ERR_INVALID_ARG, "%s: buf is NULL but size is %zu", fn, size);
    if (!s)
        return pn_error(PNEUMO_ERR_INVALID_ARG, "%s: %s", fn, missing);
    len = strlen(s);
    if (needed)
        *needed = len;
    if (size) {
        n = len < size - 1 ? len : size - 1;
        memcpy(buf, s, n);
        buf[n] = '\0';
    }
    return PNEUMO_OK;
}
