/* The safetensors container (https://github.com/huggingface/safetensors):
 *
 *   8 bytes   little-endian u64 N, the header length
 *   N bytes   UTF-8 JSON object: name -> {"dtype","shape","data_offsets"},
 *             plus an optional "__metadata__" object of string values
 *   rest      the byte buffer; data_offsets are relative to its start
 *
 * We write only F32 little-endian tensors, pad the header with spaces so the
 * buffer starts 8-byte aligned, and lay tensors out contiguously in the order
 * given. The reader accepts only F32 and validates every field, so a file it
 * accepts is unambiguous and fully covered by its tensors. */
#ifndef PN_IO_SAFETENSORS_H
#define PN_IO_SAFETENSORS_H

#include <stddef.h>
#include <stdint.h>

#include "format/json.h"
#include "pneumo/common.h"

#define PN_ST_MAX_NDIM 4
/* Longest tensor name in bytes (the file format has no limit; ours keeps error
 * messages and lookups bounded). */
#define PN_ST_MAX_NAME 255
/* Largest header accepted, as in the reference implementation (~100 MB). */
#define PN_ST_MAX_HEADER ((uint64_t)100 * 1024 * 1024)

/* ---- Writing ---------------------------------------------------------------- */

typedef struct pn_st_tensor {
    const char *name; /* non-empty UTF-8, at most PN_ST_MAX_NAME bytes */
    int ndim;         /* 0..4; 0 means a scalar (one element) */
    int64_t shape[PN_ST_MAX_NDIM];
    const float *data; /* product(shape) floats, host byte order */
} pn_st_tensor;

typedef struct pn_st_meta {
    const char *key;
    const char *value;
} pn_st_meta;

/* Write the file atomically: the bytes go to a new "<path>.tmp.XXXXXX" in the
 * same directory, which is fsync'ed and renamed over `path`, then the directory
 * is fsync'ed. On failure the temporary file is removed and an existing `path`
 * is left untouched. Errors: PNEUMO_ERR_INVALID_ARG (bad names, shapes,
 * duplicates), PNEUMO_ERR_IO (message names the path and strerror),
 * PNEUMO_ERR_NOMEM. */
pneumo_status pn_safetensors_save(const char *path, const pn_st_meta *meta, size_t nmeta,
                                  const pn_st_tensor *tensors, size_t ntensors);

/* The same bytes pn_safetensors_save writes, appended to `out` (which the
 * caller initialised). `label` names the destination in error messages. */
pneumo_status pn_safetensors_serialize(const char *label, const pn_st_meta *meta, size_t nmeta,
                                       const pn_st_tensor *tensors, size_t ntensors, pn_buf *out);

/* ---- Reading ---------------------------------------------------------------- */

typedef struct pn_st_file pn_st_file;

/* Validate and decode a whole file image. Copies what it keeps (`data` may be
 * freed afterwards). Errors are PNEUMO_ERR_FORMAT, PNEUMO_ERR_LIMIT (header over
 * PN_ST_MAX_HEADER or JSON limits) or PNEUMO_ERR_NOMEM, with messages starting
 * with `label`. NaN/Inf values in the data are kept as they are. */
pneumo_status pn_safetensors_parse(const uint8_t *data, size_t size, const char *label, pn_st_file **out);

/* Accessors; i must be < pn_st_count (out-of-range gives NULL / 0). Tensors are
 * in header (document) order. */
size_t pn_st_count(const pn_st_file *f);
const char *pn_st_name(const pn_st_file *f, size_t i);
/* Index of the tensor called `name`, or -1. */
int pn_st_find(const pn_st_file *f, const char *name);
int pn_st_ndim(const pn_st_file *f, size_t i);
const int64_t *pn_st_shape(const pn_st_file *f, size_t i);
/* Number of floats in tensor i (1 for a scalar). */
size_t pn_st_numel(const pn_st_file *f, size_t i);
/* Values in host byte order; may be NULL when the tensor has no elements. */
const float *pn_st_data(const pn_st_file *f, size_t i);
/* Value of __metadata__ entry `key`, or NULL if absent. */
const char *pn_st_meta_get(const pn_st_file *f, const char *key);
size_t pn_st_meta_count(const pn_st_file *f);
/* NULL-safe. */
void pn_st_free(pn_st_file *f);

#endif
