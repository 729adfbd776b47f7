/* Protocol Buffers wire-format writer: just enough to emit ONNX files
 * (lib/interop/onnx_export.c). A message is written into a pn_pb buffer;
 * a nested message is built in its own buffer and appended with
 * pn_pb_message(), which writes its tag and length first.
 *
 * Wire format (protobuf.dev/programming-guides/encoding): each field is a
 * varint key (field_number << 3 | wire_type) followed by a varint (type 0),
 * 4 little-endian bytes (type 5) or a varint length and that many bytes
 * (type 2: strings, bytes, nested messages, packed repeated scalars).
 *
 * As pn_buf, the first failure (out of memory, or a message beyond
 * PN_PB_MAX_SIZE) is remembered in `failed` and makes every later call a
 * no-op, so a writer checks once at the end. */
#ifndef PN_IO_PROTOBUF_H
#define PN_IO_PROTOBUF_H

#include <stddef.h>
#include <stdint.h>

/* protobuf's own hard limit for one serialised message is 2 GiB - 1 */
#define PN_PB_MAX_SIZE ((size_t)0x7fffffff)

#define PN_PB_OK 0
#define PN_PB_NOMEM 1
#define PN_PB_TOO_BIG 2

typedef struct pn_pb {
    uint8_t *data;
    size_t len, cap;
    int failed;
} pn_pb;

void pn_pb_init(pn_pb *b);
void pn_pb_free(pn_pb *b);

/* Raw pieces. */
void pn_pb_raw(pn_pb *b, const void *data, size_t n);
void pn_pb_varint(pn_pb *b, uint64_t v);
void pn_pb_key(pn_pb *b, uint32_t field, uint32_t wire_type);

/* Fields. Negative int64 values take 10 bytes (two's complement), as protobuf's
 * int64 does. */
void pn_pb_int64(pn_pb *b, uint32_t field, int64_t v);
void pn_pb_float(pn_pb *b, uint32_t field, float v);
void pn_pb_bytes(pn_pb *b, uint32_t field, const void *data, size_t n);
void pn_pb_string(pn_pb *b, uint32_t field, const char *s);
/* Floats as a bytes field of little-endian IEEE 754 values (ONNX raw_data). */
void pn_pb_float_bytes(pn_pb *b, uint32_t field, const float *v, size_t n);
/* Append `sub` as embedded message `field`; the failure of `sub` carries over. */
void pn_pb_message(pn_pb *b, uint32_t field, const pn_pb *sub);

#endif
