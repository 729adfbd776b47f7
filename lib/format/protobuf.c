/* Protocol Buffers wire-format writer (see protobuf.h). */
#include "core/buf.h"
#include "format/protobuf.h"

#include <stdlib.h>
#include <string.h>

void pn_pb_init(pn_pb *b)
{
    b->data = NULL;
    b->len = b->cap = 0;
    b->failed = PN_PB_OK;
}

void pn_pb_free(pn_pb *b)
{
    free(b->data);
    pn_pb_init(b);
}

/* Make room for n more bytes; 0 on failure (recorded in b->failed). */
static int reserve(pn_pb *b, size_t n)
{
    if (b->failed)
        return 0;
    if (n > PN_PB_MAX_SIZE - b->len) {
        b->failed = PN_PB_TOO_BIG;
        return 0;
    }
    if (!pn_array_reserve(&b->data, &b->cap, b->len + n, 1, PN_PB_MAX_SIZE)) {
        b->failed = PN_PB_NOMEM;
        return 0;
    }
    return 1;
}

void pn_pb_raw(pn_pb *b, const void *data, size_t n)
{
    if (n == 0 || !reserve(b, n))
        return;
    memcpy(b->data + b->len, data, n);
    b->len += n;
}

void pn_pb_varint(pn_pb *b, uint64_t v)
{
    uint8_t tmp[10];
    size_t n = 0;
    do {
        uint8_t byte = (uint8_t)(v & 0x7f);
        v >>= 7;
        tmp[n++] = (uint8_t)(byte | (v ? 0x80 : 0));
    } while (v);
    pn_pb_raw(b, tmp, n);
}

void pn_pb_key(pn_pb *b, uint32_t field, uint32_t wire_type)
{
    pn_pb_varint(b, ((uint64_t)field << 3) | wire_type);
}

void pn_pb_int64(pn_pb *b, uint32_t field, int64_t v)
{
    pn_pb_key(b, field, 0);
    pn_pb_varint(b, (uint64_t)v);
}

static void put_le32(uint8_t *p, uint32_t u)
{
    p[0] = (uint8_t)u;
    p[1] = (uint8_t)(u >> 8);
    p[2] = (uint8_t)(u >> 16);
    p[3] = (uint8_t)(u >> 24);
}

void pn_pb_float(pn_pb *b, uint32_t field, float v)
{
    uint8_t le[4];
    uint32_t u;
    memcpy(&u, &v, 4);
    put_le32(le, u);
    pn_pb_key(b, field, 5);
    pn_pb_raw(b, le, 4);
}

void pn_pb_bytes(pn_pb *b, uint32_t field, const void *data, size_t n)
{
    pn_pb_key(b, field, 2);
    pn_pb_varint(b, n);
    pn_pb_raw(b, data, n);
}

void pn_pb_string(pn_pb *b, uint32_t field, const char *s) { pn_pb_bytes(b, field, s, strlen(s)); }

void pn_pb_float_bytes(pn_pb *b, uint32_t field, const float *v, size_t n)
{
    if (n > PN_PB_MAX_SIZE / 4) {
        if (!b->failed)
            b->failed = PN_PB_TOO_BIG;
        return;
    }
    pn_pb_key(b, field, 2);
    pn_pb_varint(b, n * 4);
    if (!reserve(b, n * 4))
        return;
    for (size_t i = 0; i < n; i++) {
        uint32_t u;
        memcpy(&u, &v[i], 4);
        put_le32(b->data + b->len + 4 * i, u);
    }
    b->len += n * 4;
}

void pn_pb_message(pn_pb *b, uint32_t field, const pn_pb *sub)
{
    if (sub->failed) {
        if (!b->failed)
            b->failed = sub->failed;
        return;
    }
    pn_pb_bytes(b, field, sub->data, sub->len);
}
