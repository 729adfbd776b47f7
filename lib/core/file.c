/* Whole-file reading; see file.h for the contract. */
#include "core/file.h"

#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/alloc.h"
#include "core/error.h"

/* read() until n bytes or end of file; returns bytes read or -1 (errno set). */
static ssize_t read_fully(int fd, uint8_t *p, size_t n)
{
    size_t got = 0;
    while (got < n) {
        ssize_t r = read(fd, p + got, n - got);
        if (r < 0) {
            if (errno == EINTR)
                continue;
            return -1;
        }
        if (r == 0)
            break;
        got += (size_t)r;
    }
    return (ssize_t)got;
}

pneumo_status pn_read_file(const char *path, size_t max_bytes, uint8_t **data, size_t *size)
{
    if (!path || !data || !size)
        return pn_error(PNEUMO_ERR_INVALID_ARG, "pn_read_file: %s is NULL",
                        !path   ? "path"
                        : !data ? "data"
                                : "size");
    *data = NULL;
    *size = 0;
    /* O_NONBLOCK: opening a FIFO must not wait for a writer; it has no effect
     * on the regular files read afterwards. */
    int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
    if (fd < 0)
        return pn_error(PNEUMO_ERR_IO, "%s: cannot open: %s", path, strerror(errno));
    struct stat sb;
    pneumo_status st = PNEUMO_OK;
    uint8_t *buf = NULL;
    ssize_t got = 0;
    if (fstat(fd, &sb) != 0) {
        st = pn_error(PNEUMO_ERR_IO, "%s: cannot stat: %s", path, strerror(errno));
    } else if (S_ISDIR(sb.st_mode)) {
        st = pn_error(PNEUMO_ERR_IO, "%s: is a directory, not a regular file", path);
    } else if (!S_ISREG(sb.st_mode)) {
        st = pn_error(PNEUMO_ERR_IO, "%s: not a regular file (FIFO, socket or device)", path);
    } else if (sb.st_size < 0 || (uintmax_t)sb.st_size > (uintmax_t)max_bytes) {
        st = pn_error(PNEUMO_ERR_LIMIT, "%s: file is %jd bytes, more than the limit of %zu", path,
                      (intmax_t)sb.st_size, max_bytes);
    } else {
        size_t expect = (size_t)sb.st_size;
        buf = pn_malloc(expect ? expect : 1);
        if (!buf)
            st = pn_error_nomem(path, expect);
        else if ((got = read_fully(fd, buf, expect)) < 0)
            st = pn_error(PNEUMO_ERR_IO, "%s: read failed: %s", path, strerror(errno));
        else if ((size_t)got == expect) {
            /* a file that grew since fstat would be silently cut short */
            uint8_t extra;
            ssize_t more = read_fully(fd, &extra, 1);
            if (more < 0)
                st = pn_error(PNEUMO_ERR_IO, "%s: read failed: %s", path, strerror(errno));
            else if (more > 0)
                st = pn_error(PNEUMO_ERR_IO, "%s: file grew while being read", path);
        }
    }
    close(fd);
    if (st != PNEUMO_OK) {
        free(buf);
        return st;
    }
    *data = buf;
    *size = (size_t)got;
    return PNEUMO_OK;
}
