/* Atomic file replacement (temporary file, fsync, rename, fsync directory);
 * see atomic_file.h. */
#include "core/atomic_file.h"

#include "core/alloc.h"
#include "core/error.h"
#include "core/faults.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>


/* Create "<path>.tmp.<pid>-XXXXXX" exclusively. Unlike mkstemp (always mode
 * 0600) this opens with 0666 so the process umask decides the final file's
 * permissions, as for any ordinary file the application creates. */
static pneumo_status create_temp_file(const char *path, char **tmp_out, int *fd_out)
{
    static const char alphabet[] = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789";
    size_t cap = strlen(path) + sizeof ".tmp.-XXXXXX" + 24, n;
    char *tmp = pn_malloc(cap);
    if (!tmp)
        return pn_error_nomem(path, cap);
    snprintf(tmp, cap, "%s.tmp.%ld-", path, (long)getpid());
    n = strlen(tmp);
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    /* Distinct per process, thread (stack address), call and attempt; a clash
     * only costs a retry because of O_EXCL. */
    uint64_t seed = (uint64_t)getpid() * 0x9E3779B97F4A7C15ull ^ (uint64_t)ts.tv_nsec ^
                    ((uint64_t)ts.tv_sec << 20) ^ (uint64_t)(uintptr_t)&ts;
    for (int attempt = 0; attempt < 100; attempt++) {
        uint64_t z = (seed += 0x9E3779B97F4A7C15ull);
        z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
        z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
        z ^= z >> 31;
        for (int i = 0; i < 6; i++) {
            tmp[n + (size_t)i] = alphabet[z % (sizeof alphabet - 1)];
            z /= (sizeof alphabet - 1);
        }
        tmp[n + 6] = '\0';
        int fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOCTTY, 0666);
        if (fd >= 0) {
            *tmp_out = tmp;
            *fd_out = fd;
            return PNEUMO_OK;
        }
        if (errno != EEXIST) {
            pneumo_status st = pn_error(PNEUMO_ERR_IO, "%s: cannot create temporary file %s: %s", path, tmp,
                                        strerror(errno));
            free(tmp);
            return st;
        }
    }
    free(tmp);
    return pn_error(PNEUMO_ERR_IO, "%s: cannot create a unique temporary file", path);
}

/* Remove "<path>.tmp.<pid>-XXXXXX" files left by a process that no longer
 * exists (killed during a save), so that they do not pile up next to the
 * destination. Best effort: errors are ignored. */
static void remove_stale_temps(const char *path)
{
    const char *slash = strrchr(path, '/');
    const char *base = slash ? slash + 1 : path;
    size_t blen = strlen(base);
    char *dir = slash ? pn_malloc((size_t)(slash - path) + 2) : pn_strdup(".");
    DIR *d;
    struct dirent *e;
    if (!dir)
        return;
    if (slash) {
        size_t n = slash == path ? 1 : (size_t)(slash - path);
        memcpy(dir, path, n);
        dir[n] = '\0';
    }
    d = opendir(dir);
    free(dir);
    if (!d)
        return;
    while ((e = readdir(d)) != NULL) {
        const char *rest;
        char *end;
        long pid;
        if (strncmp(e->d_name, base, blen) != 0 || strncmp(e->d_name + blen, ".tmp.", 5) != 0)
            continue;
        rest = e->d_name + blen + 5;
        errno = 0;
        pid = strtol(rest, &end, 10);
        if (errno != 0 || end == rest || pid <= 0 || *end != '-' || strlen(end + 1) != 6 ||
            pid == (long)getpid())
            continue;
        if (kill((pid_t)pid, 0) != 0 && errno == ESRCH)
            unlinkat(dirfd(d), e->d_name, 0);
    }
    closedir(d);
}

/* fsync the directory holding `path` so the rename itself survives a crash.
 * Filesystems that cannot sync directories (EINVAL) are tolerated. */
static pneumo_status sync_parent_dir(const char *path)
{
    const char *slash = strrchr(path, '/');
    char *dir;
    if (!slash) {
        dir = pn_strdup(".");
    } else {
        size_t n = (slash == path) ? 1 : (size_t)(slash - path);
        dir = pn_malloc(n + 1);
        if (dir) {
            memcpy(dir, path, n);
            dir[n] = '\0';
        }
    }
    if (!dir)
        return pn_error_nomem(path, strlen(path) + 1);
    pneumo_status st = PNEUMO_OK;
    int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0) {
        st = pn_error(PNEUMO_ERR_IO, "%s: saved, but cannot open directory %s to sync it: %s", path, dir,
                      strerror(errno));
    } else {
        if (fsync(fd) != 0 && errno != EINVAL && errno != ENOTSUP)
            st = pn_error(PNEUMO_ERR_IO, "%s: saved, but fsync of directory %s failed: %s", path, dir,
                          strerror(errno));
        close(fd);
    }
    free(dir);
    return st;
}

pneumo_status pn_atomic_open(pn_atomic_file *af, const char *path)
{
    if (!af)
        return pn_error(PNEUMO_ERR_INVALID_ARG, "pn_atomic_open: handle is NULL");
    af->fd = -1;
    af->tmp = NULL;
    af->path = path;
    if (!path || !path[0])
        return pn_error(PNEUMO_ERR_INVALID_ARG, "pn_atomic_open: path is NULL or empty");
    remove_stale_temps(path);
    return create_temp_file(path, &af->tmp, &af->fd);
}

pneumo_status pn_atomic_write_chunk(pn_atomic_file *af, const void *data, size_t n)
{
    const uint8_t *p = data;
    while (n > 0) {
        size_t len = n;
        int fault = pn_fault_io(PN_IO_WRITE, &len);
        ssize_t w = fault ? (errno = fault, -1) : write(af->fd, p, len < n ? len : n);
        if (w < 0) {
            if (errno == EINTR)
                continue;
            return pn_error(PNEUMO_ERR_IO, "%s: cannot write %s: %s", af->path, af->tmp, strerror(errno));
        }
        if (w == 0)
            return pn_error(PNEUMO_ERR_IO, "%s: cannot write %s: no progress", af->path, af->tmp);
        p += w;
        n -= (size_t)w;
    }
    return PNEUMO_OK;
}

void pn_atomic_abort(pn_atomic_file *af)
{
    if (!af)
        return;
    if (af->fd >= 0)
        close(af->fd);
    if (af->tmp)
        unlink(af->tmp); /* the destination is untouched; drop the partial copy */
    free(af->tmp);
    af->fd = -1;
    af->tmp = NULL;
}

pneumo_status pn_atomic_commit(pn_atomic_file *af)
{
    pneumo_status st = PNEUMO_OK;
    int fault;
    if ((fault = pn_fault_io(PN_IO_FSYNC, NULL)) != 0 ? (errno = fault, 1) : fsync(af->fd) != 0)
        st = pn_error(PNEUMO_ERR_IO, "%s: fsync of %s failed: %s", af->path, af->tmp, strerror(errno));
    /* close() can report a deferred write error (e.g. NFS quota), so check it. */
    fault = pn_fault_io(PN_IO_CLOSE, NULL);
    if ((close(af->fd) != 0 || (fault && (errno = fault, 1))) && st == PNEUMO_OK)
        st = pn_error(PNEUMO_ERR_IO, "%s: closing %s failed: %s", af->path, af->tmp, strerror(errno));
    af->fd = -1;
    if (st == PNEUMO_OK && ((fault = pn_fault_io(PN_IO_RENAME, NULL)) != 0 ? (errno = fault, 1)
                                                                           : rename(af->tmp, af->path) != 0))
        st = pn_error(PNEUMO_ERR_IO, "%s: cannot rename %s over it: %s", af->path, af->tmp, strerror(errno));
    if (st != PNEUMO_OK) {
        pn_atomic_abort(af);
        return st;
    }
    free(af->tmp);
    af->tmp = NULL;
    return sync_parent_dir(af->path);
}

pneumo_status pn_atomic_write(const char *path, const void *data, size_t size)
{
    if (!data && size > 0)
        return pn_error(PNEUMO_ERR_INVALID_ARG, "%s: data is NULL", path ? path : "(null)");
    pn_atomic_file af;
    pneumo_status st = pn_atomic_open(&af, path);
    if (st != PNEUMO_OK)
        return st;
    st = pn_atomic_write_chunk(&af, data, size);
    if (st != PNEUMO_OK) {
        pn_atomic_abort(&af);
        return st;
    }
    return pn_atomic_commit(&af);
}
