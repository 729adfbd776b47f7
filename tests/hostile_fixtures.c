/* Fixtures shared by the hostile-input tests (hostile_fixtures.h). */
#include "testutil.h"
#include "pneumo/image.h"
#include "pneumo/model.h"
#include "core/error.h"
#include "format/json.h"
#include "model/model.h"
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <zlib.h>
#include <jpeglib.h>

#include "hostile_fixtures.h"

/* Under AddressSanitizer the memory and CPU figures mean nothing (shadow
 * memory, redzones, quarantine) and an address-space limit breaks it, and so
 * under an emulator (qemu-user's translation cache, 10-50x the CPU time; the
 * cross build's tests get PNEUMO_TEST_EMULATED): the inputs still run and must
 * still fail or succeed as stated, but the bounds are only checked natively
 * in ordinary builds. */
#if defined(__SANITIZE_ADDRESS__)
#define UNDER_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define UNDER_ASAN 1
#endif
#endif
#ifndef UNDER_ASAN
#define UNDER_ASAN 0
#endif

int bounds_checked(void) { return !UNDER_ASAN && !getenv("PNEUMO_TEST_EMULATED"); }

void b_add(buf *b, const void *p, size_t n)
{
    if (b->size + n > b->cap) {
        b->cap = (b->size + n) * 2 + 64;
        b->data = realloc(b->data, b->cap);
        assert_non_null(b->data);
    }
    memcpy(b->data + b->size, p, n);
    b->size += n;
}

static double tv_s(struct timeval t) { return (double)t.tv_sec + (double)t.tv_usec / 1e6; }

cost measure(work_fn fn, const void *arg)
{
    int fds[2];
    pid_t pid;
    cost c = {-1, 0, 0};
    int wst;
    assert_int_equal(pipe(fds), 0);
    pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        struct rusage a, z;
        struct rlimit rl = {(rlim_t)6 << 30, (rlim_t)6 << 30};
        close(fds[0]);
        if (bounds_checked())
            setrlimit(RLIMIT_AS, &rl);
        getrusage(RUSAGE_SELF, &a);
        c.status = fn(arg);
        getrusage(RUSAGE_SELF, &z);
        c.peak_bytes = (double)(z.ru_maxrss - a.ru_maxrss) * 1024.0;
        c.cpu_s = tv_s(z.ru_utime) + tv_s(z.ru_stime) - tv_s(a.ru_utime) - tv_s(a.ru_stime);
        if (write(fds[1], &c, sizeof c) != (ssize_t)sizeof c)
            _exit(2);
        _exit(0);
    }
    close(fds[1]);
    assert_int_equal(read(fds[0], &c, sizeof c), (int)sizeof c);
    close(fds[0]);
    assert_int_equal(waitpid(pid, &wst, 0), pid);
    assert_true(WIFEXITED(wst) && WEXITSTATUS(wst) == 0);
    return c;
}

void report(const char *what, cost c, double bound_bytes, double bound_cpu)
{
    printf("  %-44s status %d, peak +%.1f MiB (bound %.1f), cpu %.3f s (bound %.2f)\n", what, c.status,
           c.peak_bytes / MIB, bound_bytes / MIB, c.cpu_s, bound_cpu);
    if (!bounds_checked())
        return;
    if (c.peak_bytes > bound_bytes || c.cpu_s > bound_cpu)
        fail_msg("%s: peak %.1f MiB / cpu %.3f s over the bounds %.1f MiB / %.2f s", what, c.peak_bytes / MIB,
                 c.cpu_s, bound_bytes / MIB, bound_cpu);
}

/* ---- JPEG ---- */

struct tjerr {
    struct jpeg_error_mgr pub;
    jmp_buf jump;
};

static void tjerr_exit(j_common_ptr cinfo) { longjmp(((struct tjerr *)cinfo->err)->jump, 1); }

static void tjerr_silent(j_common_ptr cinfo, int level)
{
    (void)cinfo;
    (void)level;
}

/* Encode a w x h JPEG of `comps` (1 or 3) components; pattern 0 = flat gray,
 * 1 = noise. SCANS_PER_COEFFICIENT is a valid progression of 1 + 63 * comps
 * scans (one AC coefficient of one component per scan). */
buf jpeg_encode(int w, int h, int comps, int arith, int scans, int pattern)
{
    struct jpeg_compress_struct c;
    struct tjerr err;
    unsigned char *out = NULL;
    unsigned long out_size = 0;
    jpeg_scan_info *volatile script = NULL;
    JSAMPLE *row = malloc((size_t)w * (size_t)comps);
    uint64_t rng = 12;
    buf b = {0};
    assert_non_null(row);
    memset(&c, 0, sizeof c);
    c.err = jpeg_std_error(&err.pub);
    err.pub.error_exit = tjerr_exit;
    err.pub.emit_message = tjerr_silent;
    if (setjmp(err.jump))
        fail_msg("libjpeg encode failed");
    jpeg_create_compress(&c);
    jpeg_mem_dest(&c, &out, &out_size);
    c.image_width = (JDIMENSION)w;
    c.image_height = (JDIMENSION)h;
    c.input_components = comps;
    c.in_color_space = comps == 1 ? JCS_GRAYSCALE : JCS_RGB;
    jpeg_set_defaults(&c);
    jpeg_set_quality(&c, 90, TRUE);
    c.arith_code = arith ? TRUE : FALSE;
    if (scans == SCANS_SIMPLE)
        jpeg_simple_progression(&c);
    if (scans == SCANS_PER_COEFFICIENT) {
        int n = 0;
        script = calloc((size_t)(1 + 63 * comps), sizeof *script);
        assert_non_null(script);
        script[n].comps_in_scan = comps;
        for (int k = 0; k < comps; k++)
            script[n].component_index[k] = k;
        n++;
        for (int k = 0; k < comps; k++)
            for (int s = 1; s <= 63; s++, n++) {
                script[n].comps_in_scan = 1;
                script[n].component_index[0] = k;
                script[n].Ss = s;
                script[n].Se = s;
            }
        c.scan_info = script;
        c.num_scans = n;
    }
    jpeg_start_compress(&c, TRUE);
    while (c.next_scanline < c.image_height) {
        for (size_t i = 0; i < (size_t)w * (size_t)comps; i++)
            row[i] = (JSAMPLE)(pattern ? tu_next(&rng) : 0x80);
        jpeg_write_scanlines(&c, &row, 1);
    }
    jpeg_finish_compress(&c);
    jpeg_destroy_compress(&c);
    b_add(&b, out, out_size);
    free(out);
    free(row);
    free(script);
    return b;
}
