/* pneumo-serve: requests without the transport (see request.h). */
#define _GNU_SOURCE /* memmem */
#include "request.h"

#include <ctype.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "alloc.h"

void budget_init(upload_budget *b, size_t max)
{
    pthread_mutex_init(&b->lock, NULL);
    b->max = max;
    b->used = 0;
}

void budget_destroy(upload_budget *b) { pthread_mutex_destroy(&b->lock); }

size_t budget_used(upload_budget *b)
{
    pthread_mutex_lock(&b->lock);
    size_t n = b->used;
    pthread_mutex_unlock(&b->lock);
    return n;
}

/* Take n bytes from the budget; 0 on success, -1 when it would overflow. */
static int budget_take(upload_budget *b, size_t n)
{
    pthread_mutex_lock(&b->lock);
    int ok = n <= b->max - b->used;
    if (ok)
        b->used += n;
    pthread_mutex_unlock(&b->lock);
    return ok ? 0 : -1;
}

static void budget_give(upload_budget *b, size_t n)
{
    pthread_mutex_lock(&b->lock);
    b->used -= n;
    pthread_mutex_unlock(&b->lock);
}

static enum sreq_next answer(sreq *r, int status, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 3, 4)))
#endif
    ;

static enum sreq_next answer(sreq *r, int status, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(r->msg, sizeof r->msg, fmt, ap);
    va_end(ap);
    r->status = status;
    return SREQ_ANSWER;
}

static void reject(sreq *r, int status, const char *msg)
{
    if (r->reject)
        return;
    r->reject = status;
    snprintf(r->reject_msg, sizeof r->reject_msg, "%s", msg);
}

void sreq_free(sreq *r)
{
    free(r->body);
    r->body = NULL;
    if (r->budget && r->cap)
        budget_give(r->budget, r->cap);
    r->len = r->cap = 0;
}

static void reject_busy(sreq *r)
{
    char msg[160];
    snprintf(msg, sizeof msg, "too many uploads in progress (%zu MiB buffered); retry later",
             r->budget->max >> 20);
    reject(r, 503, msg);
}

/* Make room for `cap` bytes of body; 0, or -1 after rejecting the request. */
static int body_reserve(sreq *r, size_t cap)
{
    if (budget_take(r->budget, cap - r->cap) != 0) {
        reject_busy(r);
        sreq_free(r);
        return -1;
    }
    unsigned char *b = serve_realloc(r->body, cap);
    if (!b) {
        budget_give(r->budget, cap - r->cap);
        reject(r, 503, "out of memory for the upload");
        sreq_free(r);
        return -1;
    }
    r->body = b;
    r->cap = cap;
    return 0;
}

void sreq_body(sreq *r, const void *data, size_t n)
{
    if (r->reject || n == 0)
        return;
    if (n > r->max_upload - r->len) {
        char msg[160];
        snprintf(msg, sizeof msg, "the body exceeds the upload limit of %zu bytes", r->max_upload);
        reject(r, 413, msg);
        sreq_free(r);
        return;
    }
    if (r->len + n > r->cap) {
        size_t cap = r->cap ? r->cap : 65536;
        while (cap < r->len + n)
            cap *= 2;
        if (cap > r->max_upload)
            cap = r->max_upload;
        if (body_reserve(r, cap) != 0)
            return;
    }
    memcpy(r->body + r->len, data, n);
    r->len += n;
}

void sreq_media_type(const char *v, char *buf, size_t size)
{
    size_t n = 0;
    while (v && (*v == ' ' || *v == '\t'))
        v++;
    for (; v && *v && *v != ';' && *v != ' ' && *v != '\t' && n + 1 < size; v++)
        buf[n++] = (char)tolower((unsigned char)*v);
    buf[n] = '\0';
}

/* Media types of an upload; the decoder then tells the format by content
 * (a DICOM file needs a build with -Ddicom, else it is a 415). */
static int image_type(const char *type)
{
    return strcmp(type, "image/jpeg") == 0 || strcmp(type, "image/png") == 0 ||
           strcmp(type, "application/dicom") == 0;
}

static enum sreq_route find_route(const char *url)
{
    if (strcmp(url, "/") == 0 || strcmp(url, "/index.html") == 0)
        return ROUTE_PAGE;
    if (strcmp(url, "/healthz") == 0)
        return ROUTE_HEALTH;
    if (strcmp(url, "/api/v1/model") == 0)
        return ROUTE_MODEL;
    if (strcmp(url, "/metrics") == 0)
        return ROUTE_METRICS;
    if (strcmp(url, "/api/v1/diagnose") == 0)
        return ROUTE_DIAGNOSE;
    return ROUTE_NONE;
}

/* ---- header parameters (RFC 7231 3.1.1.1, RFC 6266): name=token or name="quoted" ---- */

typedef struct param_iter {
    const char *p, *end;
} param_iter;

static int is_ws(int c) { return c == ' ' || c == '\t'; }

/* The next parameter after a ';' of a header value: its name and value (the
 * quoted string's content, escapes kept: callers only compare or copy
 * escape-free values). 0 once there is none. */
static int next_param(param_iter *it, const char **name, size_t *name_len, const char **val, size_t *val_len)
{
    const char *p = it->p, *end = it->end;
    for (;;) {
        /* skip to the next ';' outside a quoted string */
        int quoted = 0;
        while (p < end && (quoted || *p != ';')) {
            if (quoted && *p == '\\' && p + 1 < end)
                p++;
            else if (*p == '"')
                quoted = !quoted;
            p++;
        }
        if (p >= end) {
            it->p = end;
            return 0;
        }
        p++;
        while (p < end && is_ws((unsigned char)*p))
            p++;
        const char *n0 = p;
        while (p < end && *p != '=' && *p != ';' && !is_ws((unsigned char)*p))
            p++;
        *name = n0;
        *name_len = (size_t)(p - n0);
        while (p < end && is_ws((unsigned char)*p))
            p++;
        if (p >= end || *p != '=') {
            it->p = p;
            if (*name_len == 0)
                continue;
            *val = p;
            *val_len = 0;
            return 1;
        }
        p++;
        while (p < end && is_ws((unsigned char)*p))
            p++;
        if (p < end && *p == '"') {
            const char *v0 = ++p;
            while (p < end && *p != '"') {
                if (*p == '\\' && p + 1 < end)
                    p++;
                p++;
            }
            *val = v0;
            *val_len = (size_t)(p - v0);
            if (p < end)
                p++;
        } else {
            const char *v0 = p;
            while (p < end && *p != ';' && !is_ws((unsigned char)*p))
                p++;
            *val = v0;
            *val_len = (size_t)(p - v0);
        }
        it->p = p;
        return 1;
    }
}

static int name_is(const char *name, size_t len, const char *want)
{
    return strlen(want) == len && strncasecmp(name, want, len) == 0;
}

/* The boundary parameter of a multipart Content-Type into r->boundary; 0, or -1 if absent or invalid. */
static int find_boundary(sreq *r, const char *ct)
{
    param_iter it = {ct, ct + strlen(ct)};
    const char *name, *val;
    size_t nl, vl;
    while (next_param(&it, &name, &nl, &val, &vl))
        if (name_is(name, nl, "boundary")) {
            if (vl == 0 || vl > SREQ_BOUNDARY_MAX || memchr(val, '\\', vl))
                return -1;
            memcpy(r->boundary, val, vl);
            r->boundary[vl] = '\0';
            return 0;
        }
    return -1;
}

enum sreq_next sreq_begin(sreq *r, upload_budget *budget, size_t max_upload, const char *method,
                          const char *path, const char *content_type, const char *content_length,
                          const char *heatmap, int draining)
{
    memset(r, 0, sizeof *r);
    r->budget = budget;
    r->max_upload = max_upload;
    r->route = find_route(path);
    if (r->route != ROUTE_DIAGNOSE) {
        int is_get = strcmp(method, "GET") == 0 || strcmp(method, "HEAD") == 0;
        if (r->route != ROUTE_NONE && !is_get)
            return answer(r, 405, "%s takes GET", path);
        if (r->route == ROUTE_NONE)
            return answer(r, 404, "no such resource: %s", path);
        return SREQ_GET;
    }
    if (strcmp(method, "POST") != 0)
        return answer(r, 405, "%s takes POST", path);
    if (draining)
        return answer(r, 503, "the server is shutting down");
    size_t declared = 0;
    if (content_length) {
        char *end;
        unsigned long long n = strtoull(content_length, &end, 10);
        if (end != content_length && n > max_upload)
            return answer(r, 413, "the body of %llu bytes exceeds the upload limit of %zu bytes", n,
                          max_upload);
        if (end != content_length)
            declared = (size_t)n;
    }
    char type[64];
    sreq_media_type(content_type, type, sizeof type);
    if (image_type(type)) {
        r->kind = BODY_RAW;
    } else if (strcmp(type, "multipart/form-data") == 0) {
        r->kind = BODY_MULTIPART;
        if (find_boundary(r, content_type) != 0)
            return answer(r, 400, "malformed multipart/form-data (no boundary?)");
    } else {
        return answer(r, 415,
                      "unsupported Content-Type '%s': send image/jpeg, image/png, "
                      "application/dicom or multipart/form-data",
                      content_type ? content_type : "(none)");
    }
    r->heatmap = heatmap && (strcmp(heatmap, "1") == 0 || strcmp(heatmap, "true") == 0);
    /* a body of declared length is buffered in one piece, taken from the budget now */
    if (declared > 0 && body_reserve(r, declared) != 0)
        return answer(r, r->reject, "%s", r->reject_msg);
    return SREQ_BODY;
}

/* ---- multipart/form-data (RFC 7578 on RFC 2046 5.1.1), parsed in place once the body is complete ---- */

typedef struct part {
    size_t start, len; /* the content */
    int is_file;       /* Content-Disposition names a filename */
    char type[64];     /* its Content-Type's media type, "" if none */
} part;

static const unsigned char *find(const unsigned char *hay, size_t n, const char *needle, size_t m)
{
    return memmem(hay, n, needle, m);
}

/* The headers of one part, bytes [h, e) ending in CRLF. */
static void part_headers(const unsigned char *h, const unsigned char *e, part *pt)
{
    while (h < e) {
        const unsigned char *eol = find(h, (size_t)(e - h), "\r\n", 2);
        if (!eol)
            eol = e;
        const unsigned char *colon = memchr(h, ':', (size_t)(eol - h));
        if (colon) {
            char value[512];
            const unsigned char *v = colon + 1;
            size_t vl = (size_t)(eol - v);
            if (vl >= sizeof value)
                vl = sizeof value - 1;
            memcpy(value, v, vl);
            value[vl] = '\0';
            if (memchr(value, '\0', vl))
                vl = strlen(value);
            size_t nl = (size_t)(colon - h);
            if (name_is((const char *)h, nl, "content-type")) {
                sreq_media_type(value, pt->type, sizeof pt->type);
            } else if (name_is((const char *)h, nl, "content-disposition")) {
                param_iter it = {value, value + vl};
                const char *name, *val;
                size_t pnl, pvl;
                while (next_param(&it, &name, &pnl, &val, &pvl))
                    if (name_is(name, pnl, "filename") || name_is(name, pnl, "filename*"))
                        pt->is_file = 1;
            }
        }
        h = eol + 2;
    }
}

/* Keep the one file part of the form in r->body[0, r->len). */
static enum sreq_next multipart_end(sreq *r)
{
    char delim[SREQ_BOUNDARY_MAX + 5];
    size_t dl = (size_t)snprintf(delim, sizeof delim, "\r\n--%s", r->boundary);
    const unsigned char *b = r->body, *end = r->body + r->len;
    /* the first delimiter: at the very start, or after a preamble */
    const unsigned char *p;
    if (r->len >= dl - 2 && memcmp(b, delim + 2, dl - 2) == 0)
        p = b + dl - 2;
    else if ((p = find(b, r->len, delim, dl)) != NULL)
        p += dl;
    else
        return answer(r, 400, "malformed multipart/form-data body: no boundary delimiter");
    int files = 0;
    part file = {0, 0, 0, ""};
    for (;;) {
        /* after a delimiter: "--" closes the form, else padding and CRLF open a part */
        if (end - p >= 2 && p[0] == '-' && p[1] == '-')
            break;
        while (p < end && is_ws(*p))
            p++;
        if (end - p < 2 || p[0] != '\r' || p[1] != '\n')
            return answer(r, 400, "malformed multipart/form-data body: a delimiter is not followed by CRLF");
        p += 2;
        part pt = {0, 0, 0, ""};
        const unsigned char *content;
        if (end - p >= 2 && p[0] == '\r' && p[1] == '\n') {
            content = p + 2; /* no headers */
        } else {
            const unsigned char *hend = find(p, (size_t)(end - p), "\r\n\r\n", 4);
            if (!hend)
                return answer(r, 400, "malformed multipart/form-data body: a part's headers do not end");
            part_headers(p, hend + 2, &pt);
            content = hend + 4;
        }
        const unsigned char *next = find(content, (size_t)(end - content), delim, dl);
        if (!next)
            return answer(r, 400, "malformed multipart/form-data body: the form is not closed (truncated?)");
        pt.start = (size_t)(content - b);
        pt.len = (size_t)(next - content);
        if (pt.is_file) {
            if (++files > 1)
                return answer(r, 400, "one image per request: the form holds more than one file");
            if (pt.type[0] && !image_type(pt.type) && strcmp(pt.type, "application/octet-stream") != 0)
                return answer(r, 415,
                              "unsupported file type '%s' (send image/jpeg, image/png or application/dicom)",
                              pt.type);
            file = pt;
        }
        p = next + dl;
    }
    if (files == 0)
        return answer(r, 400, "the form holds no file (send the image as a file field)");
    memmove(r->body, r->body + file.start, file.len);
    r->len = file.len;
    return SREQ_JOB;
}

enum sreq_next sreq_end(sreq *r)
{
    if (r->reject)
        return answer(r, r->reject, "%s", r->reject_msg);
    if (r->len == 0)
        return answer(r, 400,
                      r->kind == BODY_MULTIPART ? "malformed multipart/form-data body: it is empty"
                                                : "empty body: send a JPEG or PNG image");
    if (r->kind == BODY_MULTIPART) {
        enum sreq_next next = multipart_end(r);
        if (next != SREQ_JOB)
            return next;
        if (r->len == 0)
            return answer(r, 400, "empty body: send a JPEG or PNG image");
    }
    return SREQ_JOB;
}
