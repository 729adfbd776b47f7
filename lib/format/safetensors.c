/* safetensors reader and atomic writer; see safetensors.h for the layout. */
#include "format/safetensors.h"
#include "core/alloc.h"

#include "core/atomic_file.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define METADATA_KEY "__metadata__"

/* ---- Byte order ------------------------------------------------------------- */

/* Compilers fold this to a constant; a runtime test avoids relying on
 * non-standard predefined macros. */
static int host_is_little_endian(void)
{
    const uint16_t one = 1;
    unsigned char first;
    memcpy(&first, &one, 1);
    return first == 1;
}

static void store_le64(uint8_t out[8], uint64_t v)
{
    for (int i = 0; i < 8; i++)
        out[i] = (uint8_t)(v >> (8 * i));
}

static uint64_t load_le64(const uint8_t in[8])
{
    uint64_t v = 0;
    for (int i = 7; i >= 0; i--)
        v = (v << 8) | in[i];
    return v;
}

/* Reverse the bytes of each 4-byte word in place (F32 <-> host on big-endian). */
static void swap_words(uint8_t *p, size_t nwords)
{
    for (size_t i = 0; i < nwords; i++, p += 4) {
        uint8_t t0 = p[0], t1 = p[1];
        p[0] = p[3];
        p[1] = p[2];
        p[2] = t1;
        p[3] = t0;
    }
}

/* ---- Writer: argument checks and header ------------------------------------ */

/* Elements of a tensor to write, or 0 with an error if its shape is invalid. */
static pneumo_status tensor_numel(const char *label, const pn_st_tensor *t, uint64_t *numel)
{
    if (t->ndim < 0 || t->ndim > PN_ST_MAX_NDIM)
        return pn_error(PNEUMO_ERR_INVALID_ARG, "%s: tensor '%s': ndim %d is outside 0..%d", label, t->name,
                        t->ndim, PN_ST_MAX_NDIM);
    uint64_t n = 1;
    for (int d = 0; d < t->ndim; d++) {
        if (t->shape[d] < 0)
            return pn_error(PNEUMO_ERR_INVALID_ARG, "%s: tensor '%s': dimension %d is negative (%" PRId64 ")",
                            label, t->name, d, t->shape[d]);
        uint64_t dim = (uint64_t)t->shape[d];
        if (dim != 0 && n > (UINT64_MAX / 4) / dim)
            return pn_error(PNEUMO_ERR_INVALID_ARG, "%s: tensor '%s': shape is too large", label, t->name);
        n *= dim;
    }
    *numel = n;
    return PNEUMO_OK;
}

static int compare_strings(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* Fail with INVALID_ARG naming the first string that occurs twice among n.
 * Sorting copies of the pointers keeps this O(n log n). */
static pneumo_status find_duplicate(const char *label, const char **names, size_t n, const char *what)
{
    if (n < 2)
        return PNEUMO_OK;
    const char **sorted = pn_malloc(n * sizeof *sorted);
    if (!sorted)
        return pn_error_nomem(label, n * sizeof *sorted);
    memcpy(sorted, names, n * sizeof *sorted);
    qsort(sorted, n, sizeof *sorted, compare_strings);
    pneumo_status st = PNEUMO_OK;
    for (size_t i = 1; i < n; i++) {
        if (strcmp(sorted[i - 1], sorted[i]) == 0) {
            st = pn_error(PNEUMO_ERR_INVALID_ARG, "%s: duplicate %s '%s'", label, what, sorted[i]);
            break;
        }
    }
    free(sorted);
    return st;
}

static pneumo_status check_tensor_args(const char *label, const pn_st_tensor *tensors, size_t ntensors)
{
    if (ntensors > 0 && !tensors)
        return pn_error(PNEUMO_ERR_INVALID_ARG, "%s: tensors is NULL", label);
    for (size_t i = 0; i < ntensors; i++) {
        const pn_st_tensor *t = &tensors[i];
        if (!t->name || !t->name[0])
            return pn_error(PNEUMO_ERR_INVALID_ARG, "%s: tensor %zu has no name", label, i);
        if (strlen(t->name) > PN_ST_MAX_NAME)
            return pn_error(PNEUMO_ERR_INVALID_ARG, "%s: tensor name '%.40s...' is longer than %d bytes",
                            label, t->name, PN_ST_MAX_NAME);
        if (strcmp(t->name, METADATA_KEY) == 0)
            return pn_error(PNEUMO_ERR_INVALID_ARG,
                            "%s: '" METADATA_KEY "' is reserved and cannot name a tensor", label);
        uint64_t numel;
        pneumo_status st = tensor_numel(label, t, &numel);
        if (st != PNEUMO_OK)
            return st;
        if (numel > 0 && !t->data)
            return pn_error(PNEUMO_ERR_INVALID_ARG, "%s: tensor '%s': data is NULL", label, t->name);
    }
    const char **names = pn_malloc((ntensors ? ntensors : 1) * sizeof *names);
    if (!names)
        return pn_error_nomem(label, ntensors * sizeof *names);
    for (size_t i = 0; i < ntensors; i++)
        names[i] = tensors[i].name;
    pneumo_status st = find_duplicate(label, names, ntensors, "tensor name");
    free(names);
    return st;
}

static pneumo_status check_meta_args(const char *label, const pn_st_meta *meta, size_t nmeta)
{
    if (nmeta > 0 && !meta)
        return pn_error(PNEUMO_ERR_INVALID_ARG, "%s: metadata is NULL", label);
    for (size_t i = 0; i < nmeta; i++)
        if (!meta[i].key || !meta[i].value)
            return pn_error(PNEUMO_ERR_INVALID_ARG, "%s: metadata entry %zu has a NULL %s", label, i,
                            meta[i].key ? "value" : "key");
    const char **keys = pn_malloc((nmeta ? nmeta : 1) * sizeof *keys);
    if (!keys)
        return pn_error_nomem(label, nmeta * sizeof *keys);
    for (size_t i = 0; i < nmeta; i++)
        keys[i] = meta[i].key;
    pneumo_status st = find_duplicate(label, keys, nmeta, "metadata key");
    free(keys);
    return st;
}

/* Header JSON, space-padded to a multiple of 8 bytes so that the data (after
 * the 8-byte length) starts 8-byte aligned. Tensors are laid out back to back
 * in the given order. Arguments must have passed the checks above. */
static pneumo_status build_header(const char *label, const pn_st_meta *meta, size_t nmeta,
                                  const pn_st_tensor *tensors, size_t ntensors, pn_buf *hdr)
{
    pn_buf_append(hdr, "{", 1);
    int first = 1;
    if (nmeta > 0) {
        pn_buf_printf(hdr, "\"" METADATA_KEY "\":{");
        for (size_t i = 0; i < nmeta; i++) {
            if (i)
                pn_buf_append(hdr, ",", 1);
            pn_buf_json_string(hdr, meta[i].key);
            pn_buf_append(hdr, ":", 1);
            pn_buf_json_string(hdr, meta[i].value);
        }
        pn_buf_append(hdr, "}", 1);
        first = 0;
    }
    uint64_t offset = 0;
    for (size_t i = 0; i < ntensors; i++) {
        const pn_st_tensor *t = &tensors[i];
        uint64_t numel = 0;
        (void)tensor_numel(label, t, &numel); /* validated already */
        if (!first)
            pn_buf_append(hdr, ",", 1);
        first = 0;
        pn_buf_json_string(hdr, t->name);
        pn_buf_printf(hdr, ":{\"dtype\":\"F32\",\"shape\":[");
        for (int d = 0; d < t->ndim; d++)
            pn_buf_printf(hdr, "%s%" PRId64, d ? "," : "", t->shape[d]);
        pn_buf_printf(hdr, "],\"data_offsets\":[%" PRIu64 ",%" PRIu64 "]}", offset, offset + numel * 4);
        offset += numel * 4;
    }
    pn_buf_append(hdr, "}", 1);
    while (!hdr->failed && hdr->len % 8 != 0)
        pn_buf_append(hdr, " ", 1);
    if (hdr->failed == PN_BUF_BADINPUT)
        return pn_error(PNEUMO_ERR_INVALID_ARG, "%s: a tensor name or metadata string is not valid UTF-8",
                        label);
    if (hdr->failed)
        return pn_error(PNEUMO_ERR_NOMEM, "%s: cannot allocate the safetensors header", label);
    return PNEUMO_OK;
}

/* ---- Writer: output ---------------------------------------------------------- */

/* Where serialized bytes go: a file descriptor or a memory buffer. */
typedef struct st_sink {
    pn_atomic_file *file; /* used when buf is NULL */
    pn_buf *buf;
    const char *label; /* destination path for messages */
} st_sink;

static pneumo_status sink_write(const st_sink *s, const void *data, size_t n)
{
    if (!s->buf)
        return pn_atomic_write_chunk(s->file, data, n);
    pn_buf_append(s->buf, data, n);
    if (s->buf->failed)
        return pn_error(PNEUMO_ERR_NOMEM, "%s: cannot allocate %zu bytes for the file image", s->label, n);
    return PNEUMO_OK;
}

/* Tensor values as little-endian F32. On big-endian hosts the words are swapped
 * through a bounded scratch buffer so the caller's data is never modified. */
static pneumo_status sink_write_floats(const st_sink *s, const float *data, size_t numel)
{
    if (numel == 0)
        return PNEUMO_OK;
    if (host_is_little_endian())
        return sink_write(s, data, numel * 4);
    enum { CHUNK_WORDS = 1024 };
    uint8_t scratch[CHUNK_WORDS * 4];
    const uint8_t *src = (const uint8_t *)data;
    while (numel > 0) {
        size_t n = numel < CHUNK_WORDS ? numel : CHUNK_WORDS;
        memcpy(scratch, src, n * 4);
        swap_words(scratch, n);
        pneumo_status st = sink_write(s, scratch, n * 4);
        if (st != PNEUMO_OK)
            return st;
        src += n * 4;
        numel -= n;
    }
    return PNEUMO_OK;
}

/* Everything after argument checks: length prefix, header, tensor bytes. */
static pneumo_status write_image(const st_sink *s, const pn_buf *hdr, const pn_st_tensor *tensors,
                                 size_t ntensors)
{
    uint8_t prefix[8];
    store_le64(prefix, (uint64_t)hdr->len);
    pneumo_status st = sink_write(s, prefix, sizeof prefix);
    if (st == PNEUMO_OK)
        st = sink_write(s, hdr->data, hdr->len);
    for (size_t i = 0; i < ntensors && st == PNEUMO_OK; i++) {
        uint64_t numel = 0;
        (void)tensor_numel(s->label, &tensors[i], &numel);
        st = sink_write_floats(s, tensors[i].data, (size_t)numel);
    }
    return st;
}

/* Checks shared by save and serialize, then the header. */
static pneumo_status prepare_header(const char *label, const pn_st_meta *meta, size_t nmeta,
                                    const pn_st_tensor *tensors, size_t ntensors, pn_buf *hdr)
{
    pneumo_status st = check_tensor_args(label, tensors, ntensors);
    if (st == PNEUMO_OK)
        st = check_meta_args(label, meta, nmeta);
    if (st == PNEUMO_OK)
        st = build_header(label, meta, nmeta, tensors, ntensors, hdr);
    return st;
}

pneumo_status pn_safetensors_serialize(const char *label, const pn_st_meta *meta, size_t nmeta,
                                       const pn_st_tensor *tensors, size_t ntensors, pn_buf *out)
{
    if (!label)
        label = "safetensors";
    if (!out)
        return pn_error(PNEUMO_ERR_INVALID_ARG, "%s: output buffer is NULL", label);
    pn_buf hdr;
    pn_buf_init(&hdr);
    pneumo_status st = prepare_header(label, meta, nmeta, tensors, ntensors, &hdr);
    if (st == PNEUMO_OK) {
        st_sink sink = {NULL, out, label};
        st = write_image(&sink, &hdr, tensors, ntensors);
    }
    pn_buf_free(&hdr);
    return st;
}

pneumo_status pn_safetensors_save(const char *path, const pn_st_meta *meta, size_t nmeta,
                                  const pn_st_tensor *tensors, size_t ntensors)
{
    if (!path || !path[0])
        return pn_error(PNEUMO_ERR_INVALID_ARG, "pn_safetensors_save: path is NULL or empty");
    pn_buf hdr;
    pn_buf_init(&hdr);
    pneumo_status st = prepare_header(path, meta, nmeta, tensors, ntensors, &hdr);
    pn_atomic_file file;
    if (st == PNEUMO_OK)
        st = pn_atomic_open(&file, path);
    if (st == PNEUMO_OK) {
        st_sink sink = {&file, NULL, path};
        st = write_image(&sink, &hdr, tensors, ntensors);
        if (st == PNEUMO_OK)
            st = pn_atomic_commit(&file); /* removes the temporary file on failure */
        else
            pn_atomic_abort(&file); /* the destination is untouched */
    }
    pn_buf_free(&hdr);
    return st;
}

/* ---- Reader ------------------------------------------------------------------ */

typedef struct st_entry {
    char *name;
    int ndim;
    int64_t shape[PN_ST_MAX_NDIM];
    uint64_t numel;
    uint64_t begin, end; /* byte offsets in the buffer */
    const float *data;   /* into pn_st_file.storage */
} st_entry;

struct pn_st_file {
    size_t count;
    st_entry *tensors;
    size_t nmeta;
    char **meta_keys;
    char **meta_values;
    float *storage; /* the whole byte buffer, decoded to host order */
};

void pn_st_free(pn_st_file *f)
{
    if (!f)
        return;
    for (size_t i = 0; i < f->count; i++)
        free(f->tensors[i].name);
    for (size_t i = 0; i < f->nmeta; i++) {
        free(f->meta_keys[i]);
        free(f->meta_values[i]);
    }
    free(f->tensors);
    free(f->meta_keys);
    free(f->meta_values);
    free(f->storage);
    free(f);
}

/* "(3, 4)", "(3,)" or "()" like Python, for messages. */
static void format_shape(char *out, size_t cap, const int64_t *shape, int ndim)
{
    size_t n = (size_t)snprintf(out, cap, "(");
    for (int d = 0; d < ndim && n < cap; d++)
        n += (size_t)snprintf(out + n, cap - n, "%s%" PRId64, d ? ", " : "", shape[d]);
    if (n < cap)
        snprintf(out + n, cap - n, ndim == 1 ? ",)" : ")");
}

static pneumo_status tensor_error(const char *label, const char *name, const char *what)
{
    return pn_error(PNEUMO_ERR_FORMAT, "%s: tensor '%s': %s", label, name, what);
}

/* Read a JSON integer that must be a plain non-negative integer literal:
 * fractions, exponents and negative values are not valid sizes or offsets. */
static int nonneg_integer(const pn_json *v, uint64_t *out)
{
    if (!v || v->type != PN_JSON_NUMBER || !v->is_integer || v->integer < 0)
        return 0;
    *out = (uint64_t)v->integer;
    return 1;
}

static pneumo_status parse_shape(const char *label, const char *name, const pn_json *shape, st_entry *e)
{
    if (!shape || shape->type != PN_JSON_ARRAY)
        return tensor_error(label, name, "\"shape\" is missing or not an array");
    if (shape->count > PN_ST_MAX_NDIM)
        return pn_error(PNEUMO_ERR_FORMAT, "%s: tensor '%s': %zu dimensions (at most %d)", label, name,
                        shape->count, PN_ST_MAX_NDIM);
    uint64_t numel = 1;
    for (size_t d = 0; d < shape->count; d++) {
        uint64_t dim;
        if (!nonneg_integer(&shape->items[d], &dim))
            return tensor_error(label, name, "shape entries must be non-negative integers");
        /* Keep numel * 4 (the byte size) representable. */
        if (dim != 0 && numel > (UINT64_MAX / 4) / dim)
            return tensor_error(label, name, "shape is too large");
        numel *= dim;
        e->shape[d] = (int64_t)dim;
    }
    e->ndim = (int)shape->count;
    e->numel = numel;
    return PNEUMO_OK;
}

static pneumo_status parse_offsets(const char *label, const char *name, const pn_json *offs,
                                   uint64_t buffer_size, st_entry *e)
{
    if (!offs || offs->type != PN_JSON_ARRAY || offs->count != 2 ||
        !nonneg_integer(&offs->items[0], &e->begin) || !nonneg_integer(&offs->items[1], &e->end))
        return tensor_error(label, name, "\"data_offsets\" must be two non-negative integers [begin, end]");
    if (e->begin > e->end)
        return pn_error(PNEUMO_ERR_FORMAT,
                        "%s: tensor '%s': data_offsets [%" PRIu64 ", %" PRIu64 "] end before they begin",
                        label, name, e->begin, e->end);
    if (e->end > buffer_size)
        return pn_error(PNEUMO_ERR_FORMAT,
                        "%s: tensor '%s': data_offsets [%" PRIu64 ", %" PRIu64
                        "] run past the end of the %" PRIu64 "-byte buffer",
                        label, name, e->begin, e->end, buffer_size);
    if (e->end - e->begin != e->numel * 4) {
        char shape[128];
        format_shape(shape, sizeof shape, e->shape, e->ndim);
        return pn_error(PNEUMO_ERR_FORMAT,
                        "%s: tensor '%s': data_offsets [%" PRIu64 ", %" PRIu64
                        "] do not match shape %s of F32",
                        label, name, e->begin, e->end, shape);
    }
    return PNEUMO_OK;
}

/* Validate one "name": {"dtype","shape","data_offsets"} entry into *e. */
static pneumo_status parse_tensor_entry(const char *label, const char *name, const pn_json *info,
                                        uint64_t buffer_size, st_entry *e)
{
    size_t name_len = strlen(name);
    if (name_len == 0)
        return pn_error(PNEUMO_ERR_FORMAT, "%s: a tensor has an empty name", label);
    if (name_len > PN_ST_MAX_NAME)
        return pn_error(PNEUMO_ERR_FORMAT, "%s: tensor name '%.40s...' is longer than %d bytes", label, name,
                        PN_ST_MAX_NAME);
    if (info->type != PN_JSON_OBJECT)
        return tensor_error(label, name, "entry is not a JSON object");
    for (size_t k = 0; k < info->count; k++) {
        const char *field = info->keys[k];
        if (strcmp(field, "dtype") != 0 && strcmp(field, "shape") != 0 && strcmp(field, "data_offsets") != 0)
            return pn_error(PNEUMO_ERR_FORMAT, "%s: tensor '%s': unexpected field \"%.64s\"", label, name,
                            field);
    }
    const char *dtype = pn_json_get_string(info, "dtype");
    if (!dtype)
        return tensor_error(label, name, "\"dtype\" is missing or not a string");
    if (strcmp(dtype, "F32") != 0)
        return pn_error(PNEUMO_ERR_FORMAT,
                        "%s: tensor '%s': unsupported dtype \"%.32s\" "
                        "(only F32 is supported)",
                        label, name, dtype);
    pneumo_status st = parse_shape(label, name, pn_json_get(info, "shape"), e);
    if (st == PNEUMO_OK)
        st = parse_offsets(label, name, pn_json_get(info, "data_offsets"), buffer_size, e);
    if (st != PNEUMO_OK)
        return st;
    e->name = pn_strdup(name);
    if (!e->name)
        return pn_error_nomem(label, name_len + 1);
    return PNEUMO_OK;
}

static pneumo_status parse_metadata(const char *label, const pn_json *meta, pn_st_file *f)
{
    if (meta->type != PN_JSON_OBJECT)
        return pn_error(PNEUMO_ERR_FORMAT, "%s: \"" METADATA_KEY "\" is not a JSON object", label);
    if (meta->count == 0)
        return PNEUMO_OK;
    f->meta_keys = pn_calloc(meta->count, sizeof *f->meta_keys);
    f->meta_values = pn_calloc(meta->count, sizeof *f->meta_values);
    if (!f->meta_keys || !f->meta_values)
        return pn_error_nomem(label, meta->count * sizeof(char *));
    for (size_t i = 0; i < meta->count; i++) {
        if (meta->items[i].type != PN_JSON_STRING)
            return pn_error(PNEUMO_ERR_FORMAT, "%s: \"" METADATA_KEY "\" value for \"%.64s\" is not a string",
                            label, meta->keys[i]);
        f->meta_keys[i] = pn_strdup(meta->keys[i]);
        f->meta_values[i] = pn_strdup(meta->items[i].string);
        f->nmeta = i + 1; /* both slots are freed by pn_st_free from here on */
        if (!f->meta_keys[i] || !f->meta_values[i])
            return pn_error_nomem(label, strlen(meta->keys[i]) + meta->items[i].length + 2);
    }
    return PNEUMO_OK;
}

static int compare_entries_by_offset(const void *a, const void *b)
{
    const st_entry *x = *(const st_entry *const *)a;
    const st_entry *y = *(const st_entry *const *)b;
    if (x->begin != y->begin)
        return x->begin < y->begin ? -1 : 1;
    if (x->end != y->end)
        return x->end < y->end ? -1 : 1;
    return 0;
}

/* Tensors must tile the buffer exactly: sorted by offset, each begins where the
 * previous one ended, and the last ends at the buffer's end. This rejects
 * overlaps (two names aliasing bytes), holes and trailing bytes (data nobody
 * accounts for), as the reference implementation does. */
static pneumo_status check_coverage(const char *label, const pn_st_file *f, uint64_t buffer_size)
{
    const st_entry **order = pn_malloc((f->count ? f->count : 1) * sizeof *order);
    if (!order)
        return pn_error_nomem(label, f->count * sizeof *order);
    for (size_t i = 0; i < f->count; i++)
        order[i] = &f->tensors[i];
    qsort(order, f->count, sizeof *order, compare_entries_by_offset);
    pneumo_status st = PNEUMO_OK;
    uint64_t expected = 0;
    const char *previous = NULL;
    for (size_t i = 0; i < f->count && st == PNEUMO_OK; i++) {
        const st_entry *e = order[i];
        if (e->begin < expected)
            st = pn_error(PNEUMO_ERR_FORMAT,
                          "%s: tensor '%s' (bytes %" PRIu64 "..%" PRIu64 ") overlaps tensor '%s'", label,
                          e->name, e->begin, e->end, previous);
        else if (e->begin > expected)
            st = pn_error(PNEUMO_ERR_FORMAT,
                          "%s: bytes %" PRIu64 "..%" PRIu64 " of the "
                          "buffer belong to no tensor (hole before tensor '%s')",
                          label, expected, e->begin, e->name);
        expected = e->end;
        previous = e->name;
    }
    if (st == PNEUMO_OK && expected != buffer_size)
        st = pn_error(PNEUMO_ERR_FORMAT,
                      "%s: tensors cover %" PRIu64 " bytes but the buffer "
                      "has %" PRIu64 " (incomplete buffer or trailing data)",
                      label, expected, buffer_size);
    free(order);
    return st;
}

/* Copy the whole byte buffer once, in host order, and point tensors into it.
 * After check_coverage every offset is a multiple of 4. */
static pneumo_status copy_data(const char *label, const uint8_t *buffer, size_t size, pn_st_file *f)
{
    if (size == 0)
        return PNEUMO_OK;
    f->storage = pn_malloc(size);
    if (!f->storage)
        return pn_error_nomem(label, size);
    memcpy(f->storage, buffer, size);
    if (!host_is_little_endian())
        swap_words((uint8_t *)f->storage, size / 4);
    for (size_t i = 0; i < f->count; i++)
        f->tensors[i].data = f->storage + f->tensors[i].begin / 4;
    return PNEUMO_OK;
}

/* Validate the parsed header object and fill f (everything but the data). */
static pneumo_status parse_header_object(const char *label, const pn_json *root, uint64_t buffer_size,
                                         pn_st_file *f)
{
    if (root->type != PN_JSON_OBJECT)
        return pn_error(PNEUMO_ERR_FORMAT, "%s: header is not a JSON object", label);
    const pn_json *meta = pn_json_get(root, METADATA_KEY);
    size_t ntensors = root->count - (meta ? 1 : 0);
    f->tensors = pn_calloc(ntensors ? ntensors : 1, sizeof *f->tensors);
    if (!f->tensors)
        return pn_error_nomem(label, ntensors * sizeof *f->tensors);
    if (meta) {
        pneumo_status st = parse_metadata(label, meta, f);
        if (st != PNEUMO_OK)
            return st;
    }
    for (size_t i = 0; i < root->count; i++) {
        if (&root->items[i] == meta)
            continue;
        st_entry *e = &f->tensors[f->count];
        pneumo_status st = parse_tensor_entry(label, root->keys[i], &root->items[i], buffer_size, e);
        if (st != PNEUMO_OK) {
            free(e->name);
            return st;
        }
        f->count++;
    }
    return check_coverage(label, f, buffer_size);
}

pneumo_status pn_safetensors_parse(const uint8_t *data, size_t size, const char *label, pn_st_file **out)
{
    if (!label)
        label = "safetensors";
    if (!out)
        return pn_error(PNEUMO_ERR_INVALID_ARG, "%s: pn_safetensors_parse: out is NULL", label);
    *out = NULL;
    if (!data && size > 0)
        return pn_error(PNEUMO_ERR_INVALID_ARG, "%s: pn_safetensors_parse: data is NULL", label);
    if (size < 8)
        return pn_error(PNEUMO_ERR_FORMAT, "%s: truncated: %zu bytes, too short for the 8-byte header length",
                        label, size);
    uint64_t header_len = load_le64(data);
    /* A length that does not fit with no JSON after it: not a safetensors file
     * at all (an image, a text file), rather than a truncated one. */
    if (header_len > (uint64_t)(size - 8) && size > 8 && data[8] != '{')
        return pn_error(PNEUMO_ERR_FORMAT,
                        "%s: not a libpneumo model file (%s; a model file is safetensors: an "
                        "8-byte header length, then a JSON header)",
                        label,
                        data[0] == 0xFF && data[1] == 0xD8                    ? "it is a JPEG image"
                        : data[0] == 0x89 && data[1] == 'P' && data[2] == 'N' ? "it is a PNG image"
                                                                              : "its header is not JSON");
    if (header_len > (uint64_t)(size - 8))
        return pn_error(PNEUMO_ERR_FORMAT,
                        "%s: truncated: header claims %" PRIu64 " bytes but only %zu follow", label,
                        header_len, size - 8);
    if (header_len > PN_ST_MAX_HEADER)
        return pn_error(PNEUMO_ERR_LIMIT,
                        "%s: header of %" PRIu64 " bytes exceeds the "
                        "%" PRIu64 "-byte limit",
                        label, header_len, PN_ST_MAX_HEADER);

    char header_label[512];
    snprintf(header_label, sizeof header_label, "%s: header", label);
    pn_json *root = NULL;
    pneumo_status st = pn_json_parse((const char *)data + 8, (size_t)header_len, header_label, &root);
    if (st != PNEUMO_OK)
        return st;

    size_t buffer_size = size - 8 - (size_t)header_len;
    pn_st_file *f = pn_calloc(1, sizeof *f);
    if (!f)
        st = pn_error_nomem(label, sizeof *f);
    if (st == PNEUMO_OK)
        st = parse_header_object(label, root, buffer_size, f);
    if (st == PNEUMO_OK)
        st = copy_data(label, data + 8 + header_len, buffer_size, f);
    pn_json_free(root);
    if (st != PNEUMO_OK) {
        pn_st_free(f);
        return st;
    }
    *out = f;
    return PNEUMO_OK;
}

/* ---- Reader accessors -------------------------------------------------------- */

static const st_entry *entry_at(const pn_st_file *f, size_t i)
{
    return (f && i < f->count) ? &f->tensors[i] : NULL;
}

size_t pn_st_count(const pn_st_file *f) { return f ? f->count : 0; }

const char *pn_st_name(const pn_st_file *f, size_t i)
{
    const st_entry *e = entry_at(f, i);
    return e ? e->name : NULL;
}

int pn_st_find(const pn_st_file *f, const char *name)
{
    if (!f || !name)
        return -1;
    for (size_t i = 0; i < f->count; i++)
        if (strcmp(f->tensors[i].name, name) == 0)
            return (int)i;
    return -1;
}

int pn_st_ndim(const pn_st_file *f, size_t i)
{
    const st_entry *e = entry_at(f, i);
    return e ? e->ndim : 0;
}

const int64_t *pn_st_shape(const pn_st_file *f, size_t i)
{
    const st_entry *e = entry_at(f, i);
    return e ? e->shape : NULL;
}

size_t pn_st_numel(const pn_st_file *f, size_t i)
{
    const st_entry *e = entry_at(f, i);
    return e ? (size_t)e->numel : 0;
}

const float *pn_st_data(const pn_st_file *f, size_t i)
{
    const st_entry *e = entry_at(f, i);
    return (e && e->numel > 0) ? e->data : NULL;
}

const char *pn_st_meta_get(const pn_st_file *f, const char *key)
{
    if (!f || !key)
        return NULL;
    for (size_t i = 0; i < f->nmeta; i++)
        if (strcmp(f->meta_keys[i], key) == 0)
            return f->meta_values[i];
    return NULL;
}

size_t pn_st_meta_count(const pn_st_file *f) { return f ? f->nmeta : 0; }
