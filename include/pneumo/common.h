/* libpneumo — status codes, error messages, version and the export macro.
 *
 * Every public function either returns a pneumo_status (PNEUMO_OK on success) or
 * a pointer that is NULL on failure. After a failure, pneumo_last_error() gives a
 * message naming what was wrong (the file, layer or shape). Messages are kept per
 * thread, so concurrent callers do not overwrite each other's. */
#ifndef PNEUMO_COMMON_H
#define PNEUMO_COMMON_H

#include <stddef.h>
#include <stdint.h>

#include "pneumo/version.h"

#if defined(_WIN32) && !defined(PNEUMO_STATIC)
#ifdef PNEUMO_BUILDING_LIBRARY
#define PNEUMO_API __declspec(dllexport)
#else
#define PNEUMO_API __declspec(dllimport)
#endif
#elif defined(__GNUC__)
#define PNEUMO_API __attribute__((visibility("default")))
#else
#define PNEUMO_API
#endif

#ifdef __cplusplus
extern "C" {
#endif

/** Result of every fallible call. Values are stable across releases. */
typedef enum pneumo_status {
    PNEUMO_OK = 0,              /**< success */
    PNEUMO_ERR_INVALID_ARG = 1, /**< NULL pointer or a value out of range */
    PNEUMO_ERR_SHAPE = 2,       /**< tensor or layer shapes do not fit together */
    PNEUMO_ERR_NOMEM = 3,       /**< an allocation failed or would exceed a limit */
    PNEUMO_ERR_IO = 4,          /**< reading or writing a file failed */
    PNEUMO_ERR_FORMAT = 5,      /**< a file is corrupt, truncated or not of the expected kind */
    PNEUMO_ERR_STATE = 6,       /**< call made in the wrong order or on an unsuitable object */
    PNEUMO_ERR_UNSUPPORTED = 7, /**< valid request this build does not implement */
    PNEUMO_ERR_LIMIT = 8,       /**< input exceeds a configured safety limit */
    PNEUMO_ERR_CANCELLED = 9    /**< the caller's callback asked to stop */
} pneumo_status;

/** Where the library writes a stream of bytes (a model summary, progress
 *  text): called with `size` bytes at `data`, valid during the call only, and
 *  `user` as the caller gave it. Return PNEUMO_OK to go on; any other status
 *  stops the writing function, which returns that status. The library never
 *  writes to a FILE itself; wrap fwrite() for that. */
typedef pneumo_status (*pneumo_write_fn)(void *user, const void *data, size_t size);

/* Strings. Every function that returns text writes it into a caller buffer
 * the way snprintf does: (char *buf, size_t size, size_t *needed) writes at
 * most size - 1 bytes and a NUL (nothing when size is 0; buf may then be
 * NULL), and *needed (may be NULL) receives the full length without the NUL,
 * so a first call with size 0 sizes the buffer. Truncation is not an error.
 * The only strings returned as pointers are static or per-thread text:
 * pneumo_strerror(), pneumo_last_error(), pneumo_version(),
 * pneumo_kernel_isa(). Binary data the library allocates (an encoded PNG) is
 * released with pneumo_free(). */

/** Release a buffer the library allocated for the caller (such as the output of
 *  pneumo_image_encode_png()). Use this instead of free(): the library and the
 *  application may use different C runtimes (e.g. on Windows). NULL is a no-op. */
PNEUMO_API void pneumo_free(void *p);

/** Fixed English text for a status code ("invalid argument", ...). Never NULL;
 *  unknown codes give "unknown status". The string is static: do not free it. */
PNEUMO_API const char *pneumo_strerror(int status);

/** Message describing the last failure on the calling thread, e.g.
 *  "conv2d_1: input shape (None, 10, 10, 3) does not match ...". Empty string if
 *  no call has failed on this thread. Valid until the next libpneumo call on this
 *  thread; do not free it. Thread-safe. */
PNEUMO_API const char *pneumo_last_error(void);

/** Status code of the last failure on the calling thread (PNEUMO_OK if none). */
PNEUMO_API pneumo_status pneumo_last_status(void);

/** Forget the calling thread's last error. */
PNEUMO_API void pneumo_clear_error(void);

/** Library version at run time as "MAJOR.MINOR.PATCH"; static string. Compare with
 *  PNEUMO_VERSION_STRING to detect a header/library mismatch. */
PNEUMO_API const char *pneumo_version(void);

/** Library version at run time as PNEUMO_VERSION_NUMBER would encode it
 *  (major * 10000 + minor * 100 + patch). */
PNEUMO_API int pneumo_version_number(void);

/** Instruction set of the compute kernels in use: "avx512", "avx2", "neon" or
 *  "scalar" (the best the CPU and OS support, capped by the PNEUMO_ISA
 *  environment variable, read once). Static string. */
PNEUMO_API const char *pneumo_kernel_isa(void);

#ifdef __cplusplus
}
#endif

#endif /* PNEUMO_COMMON_H */
