/* pneumo-serve's request handling (examples/serve/request.c) up to the job
 * it hands to the batcher: routing, the Content-Type, Content-Length and
 * ?heatmap values, the upload body within its limits and budget, and the
 * multipart/form-data parser; then the JSON error body of every refusal
 * (strbuf.c). The input is a raw HTTP/1.1 request; this harness splits it
 * into request line, headers and body the way libmicrohttpd hands them over
 * (libmicrohttpd's own parsing is not the target), and feeds the body in
 * pieces of input-dependent sizes, as the network delivers them. */
#include "fuzz.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "request.h"
#include "strbuf.h"

#define MAX_UPLOAD 4096
#define MAX_BUFFERED 3072 /* below MAX_UPLOAD: a declared body can exceed the budget */

/* Next line of [*p, end) without its CRLF or LF into buf (NUL-terminated,
 * cut at a NUL byte or the buffer's size); 0 at the end of the input. */
static int line(const uint8_t **p, const uint8_t *end, char *buf, size_t size)
{
    const uint8_t *s = *p, *e = s;
    if (s >= end)
        return 0;
    while (e < end && *e != '\n')
        e++;
    *p = e < end ? e + 1 : e;
    if (e > s && e[-1] == '\r')
        e--;
    size_t n = (size_t)(e - s);
    if (n >= size)
        n = size - 1;
    memcpy(buf, s, n);
    buf[n] = '\0';
    return 1;
}

static const char *trim(char *s)
{
    while (*s == ' ' || *s == '\t')
        s++;
    size_t n = strlen(s);
    while (n && (s[n - 1] == ' ' || s[n - 1] == '\t'))
        s[--n] = '\0';
    return s;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const uint8_t *p = data, *end = data + size;
    char reqline[512], method[16] = "", path[256] = "", heatmap[32];
    char ct[512], cl[64], hdr[1024];
    int have_ct = 0, have_cl = 0, have_hm = 0, draining = 0;
    if (!line(&p, end, reqline, sizeof reqline))
        return 0;
    /* METHOD SP target [SP version] */
    char *sp = strchr(reqline, ' ');
    if (!sp)
        return 0;
    *sp = '\0';
    snprintf(method, sizeof method, "%.15s", reqline);
    char *target = sp + 1, *sp2 = strchr(target, ' ');
    if (sp2)
        *sp2 = '\0';
    char *q = strchr(target, '?');
    if (q) {
        *q++ = '\0';
        /* libmicrohttpd's GET arguments: the first heatmap=... of the query */
        for (char *a = strtok(q, "&"); a; a = strtok(NULL, "&"))
            if (strncmp(a, "heatmap=", 8) == 0 && !have_hm) {
                snprintf(heatmap, sizeof heatmap, "%.31s", a + 8);
                have_hm = 1;
            }
    }
    snprintf(path, sizeof path, "%.255s", target);
    /* headers up to the empty line; the first of each name counts */
    while (line(&p, end, hdr, sizeof hdr) && hdr[0]) {
        char *colon = strchr(hdr, ':');
        if (!colon)
            continue;
        *colon = '\0';
        const char *v = trim(colon + 1);
        if (strcasecmp(hdr, "Content-Type") == 0 && !have_ct) {
            snprintf(ct, sizeof ct, "%.511s", v);
            have_ct = 1;
        } else if (strcasecmp(hdr, "Content-Length") == 0 && !have_cl) {
            snprintf(cl, sizeof cl, "%.63s", v);
            have_cl = 1;
        } else if (strcasecmp(hdr, "X-Draining") == 0) {
            draining = 1;
        }
    }
    upload_budget budget;
    budget_init(&budget, MAX_BUFFERED);
    sreq r;
    enum sreq_next next = sreq_begin(&r, &budget, MAX_UPLOAD, method, path, have_ct ? ct : NULL,
                                     have_cl ? cl : NULL, have_hm ? heatmap : NULL, draining);
    if (next == SREQ_BODY) {
        /* the body in pieces of 1 to 1024 bytes, sizes from the bytes themselves */
        while (p < end) {
            size_t n = ((size_t)*p * 7 + (size_t)(end - p)) % 1024 + 1;
            if (n > (size_t)(end - p))
                n = (size_t)(end - p);
            sreq_body(&r, p, n);
            p += n;
        }
        next = sreq_end(&r);
    }
    if (next == SREQ_ANSWER) {
        /* what the server promises: a 4xx/503 status and a JSON error body naming it */
        if (!(r.status == 400 || r.status == 404 || r.status == 405 || r.status == 413 || r.status == 415 ||
              r.status == 503))
            __builtin_trap();
        strbuf sb;
        sb_init(&sb);
        sb_json_error(&sb, r.status, r.msg);
        size_t len;
        char *body = sb_take(&sb, &len);
        char want[32];
        snprintf(want, sizeof want, "{\"status\": %d,", r.status);
        if (body && strncmp(body, want, strlen(want)) != 0)
            __builtin_trap();
        free(body);
    } else if (next == SREQ_JOB) {
        if (r.route != ROUTE_DIAGNOSE || r.len == 0 || r.len > MAX_UPLOAD || r.cap > MAX_BUFFERED || !r.body)
            __builtin_trap();
    } else if (next == SREQ_GET) {
        if (r.route == ROUTE_NONE || r.route == ROUTE_DIAGNOSE)
            __builtin_trap();
    } else {
        __builtin_trap();
    }
    if (budget_used(&budget) != r.cap)
        __builtin_trap();
    sreq_free(&r);
    if (budget_used(&budget) != 0)
        __builtin_trap();
    budget_destroy(&budget);
    return 0;
}
