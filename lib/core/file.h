/* Whole-file reading: the one reader behind model files, safetensors and
 * image files. */
#ifndef PN_CORE_FILE_H
#define PN_CORE_FILE_H

#include <stddef.h>
#include <stdint.h>

#include "pneumo/common.h"

/* Read the regular file `path` of at most `max_bytes` bytes into a buffer from
 * pn_malloc (release with free(); never NULL on success, even for an empty
 * file, which is read as size 0: the caller's format decides whether empty is
 * valid). Refused, with a message naming the path: a missing or unreadable
 * file (PNEUMO_ERR_IO with strerror), a directory, FIFO, socket or device
 * (PNEUMO_ERR_IO; opening never blocks), a file over `max_bytes`
 * (PNEUMO_ERR_LIMIT, before anything is allocated), a read error or a file
 * that grew while being read (PNEUMO_ERR_IO). A file that shrank is returned
 * as read, so a decoder reports it as truncated. */
pneumo_status pn_read_file(const char *path, size_t max_bytes, uint8_t **data, size_t *size);

#endif
