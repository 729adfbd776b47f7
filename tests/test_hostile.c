/* Bounded memory and work on hostile input: crafted images, model
 * files, checkpoints and JSON documents are parsed in a forked child that
 * reports its peak resident memory growth (getrusage ru_maxrss before and
 * after) and its CPU time, and both are checked against the bounds that
 * docs/security.md states:
 *   image decode:  peak <= 5 (PNG) or 9 (JPEG) bytes per pixel of the image
 *                  the header declares (within pneumo_decode_limits) + 32 MiB;
 *                  CPU bounded by the file size and max_scans passes over it;
 *   model / checkpoint load: peak <= 2 x file + 128 MiB (the JSON tree of at
 *                  most PN_JSON_MAX_NODES values) + 32 MiB;
 *   JSON parse:    peak <= 2 x input + 128 MiB + 32 MiB.
 * The child also runs under an address-space limit so that a regression fails
 * with NOMEM instead of taking the machine's memory. */
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

static int bounds_checked(void)
{
    return !UNDER_ASAN && !getenv("PNEUMO_TEST_EMULATED");
}

#define MIB (1024.0 * 1024.0)
#define BASE_BYTES (32.0 * MIB)
#define JSON_TREE_BYTES (128.0 * MIB)

typedef struct {
    uint8_t *data;
    size_t size, cap;
} buf;

static void b_add(buf *b, const void *p, size_t n)
{
    if (b->size + n > b->cap) {
        b->cap = (b->size + n) * 2 + 64;
        b->data = realloc(b->data, b->cap);
        assert_non_null(b->data);
    }
    memcpy(b->data + b->size, p, n);
    b->size += n;
}

static void b_str(buf *b, const char *s) { b_add(b, s, strlen(s)); }

static void b_be32(buf *b, uint32_t v)
{
    uint8_t x[4] = {(uint8_t)(v >> 24), (uint8_t)(v >> 16), (uint8_t)(v >> 8), (uint8_t)v};
    b_add(b, x, 4);
}

/* ---- measuring a parse in a child process ---- */

typedef struct {
    int status;        /* pneumo_status of the work */
    double peak_bytes; /* growth of the peak resident set */
    double cpu_s;      /* user + system CPU seconds of the work */
} cost;

typedef pneumo_status (*work_fn)(const void *arg);

static double tv_s(struct timeval t) { return (double)t.tv_sec + (double)t.tv_usec / 1e6; }

static cost measure(work_fn fn, const void *arg)
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

static void report(const char *what, cost c, double bound_bytes, double bound_cpu)
{
    printf("  %-44s status %d, peak +%.1f MiB (bound %.1f), cpu %.3f s (bound %.2f)\n", what,
           c.status, c.peak_bytes / MIB, bound_bytes / MIB, c.cpu_s, bound_cpu);
    if (!bounds_checked())
        return;
    if (c.peak_bytes > bound_bytes || c.cpu_s > bound_cpu)
        fail_msg("%s: peak %.1f MiB / cpu %.3f s over the bounds %.1f MiB / %.2f s", what,
                 c.peak_bytes / MIB, c.cpu_s, bound_bytes / MIB, bound_cpu);
}

/* ---- images ---- */

typedef struct {
    const buf *file;
    const pneumo_decode_limits *lim;
} decode_arg;

static pneumo_status decode_work(const void *p)
{
    const decode_arg *a = p;
    pneumo_image *img = NULL;
    pneumo_status st = pneumo_image_decode(a->file->data, a->file->size, "crafted", a->lim, &img);
    pneumo_image_destroy(img);
    return st;
}

static cost decode_cost(const buf *file, const pneumo_decode_limits *lim)
{
    decode_arg a = {file, lim};
    return measure(decode_work, &a);
}

static void png_chunk(buf *b, const char *type, const void *data, uint32_t len, uint32_t claimed)
{
    uLong crc = crc32(0, (const Bytef *)type, 4);
    b_be32(b, claimed);
    b_add(b, type, 4);
    if (len) {
        b_add(b, data, len);
        crc = crc32(crc, (const Bytef *)data, len); /* crc32(crc, NULL, 0) is 0 */
    }
    b_be32(b, (uint32_t)crc);
}

static void png_head(buf *b, uint32_t w, uint32_t h, uint8_t color, uint8_t depth)
{
    static const uint8_t sig[8] = {0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n'};
    uint8_t ihdr[13] = {(uint8_t)(w >> 24), (uint8_t)(w >> 16), (uint8_t)(w >> 8), (uint8_t)w,
                        (uint8_t)(h >> 24), (uint8_t)(h >> 16), (uint8_t)(h >> 8), (uint8_t)h,
                        depth, color, 0, 0, 0};
    b_add(b, sig, sizeof sig);
    png_chunk(b, "IHDR", ihdr, 13, 13);
}

/* A 16x16 gray PNG whose only image data is valid, preceded by `extra`. */
static void png_tail_16(buf *b)
{
    uint8_t raw[16 * 17], z[512];
    uLongf zlen = sizeof z;
    memset(raw, 0x40, sizeof raw);
    for (int y = 0; y < 16; y++)
        raw[y * 17] = 0;
    assert_int_equal(compress(z, &zlen, raw, sizeof raw), Z_OK);
    png_chunk(b, "IDAT", z, (uint32_t)zlen, (uint32_t)zlen);
    png_chunk(b, "IEND", NULL, 0, 0);
}

static void test_png_chunk_lengths(void **state)
{
    static const char *types[] = {"tEXt", "zTXt", "iTXt", "iCCP", "sPLT", "eXIf", "pCAL",
                                  "sCAL", "abCd", "IDAT", "PLTE"};
    (void)state;
    printf("PNG chunks claiming 2 GiB (42-byte files):\n");
    for (size_t i = 0; i < sizeof types / sizeof types[0]; i++) {
        buf b = {0};
        cost c;
        png_head(&b, 16, 16, 0, 8);
        b_be32(&b, 0x7ffffff0u);
        b_add(&b, types[i], 4);
        b_add(&b, "x", 1);
        assert_int_equal(b.size, 42);
        c = decode_cost(&b, NULL);
        assert_true(c.status == PNEUMO_ERR_FORMAT || c.status == PNEUMO_ERR_LIMIT);
        report(types[i], c, BASE_BYTES, 0.5);
        free(b.data);
    }
}

/* Ancillary chunks that inflate to a lot (zTXt/iCCP bombs) and many of them. */
static void test_png_chunk_bombs(void **state)
{
    uint8_t *zeros = calloc(1, 16u << 20);
    uint8_t *z;
    uLongf zlen = compressBound(16u << 20);
    buf b = {0};
    pneumo_image *img = NULL;
    cost c;
    (void)state;
    assert_non_null(zeros);
    z = malloc(zlen + 8);
    assert_non_null(z);
    memcpy(z, "k\0\0", 3); /* keyword "k", NUL, compression method 0 */
    assert_int_equal(compress2(z + 3, &zlen, zeros, 16u << 20, 9), Z_OK);
    png_head(&b, 16, 16, 0, 8);
    for (int i = 0; i < 200; i++) {
        png_chunk(&b, "zTXt", z, (uint32_t)zlen + 3, (uint32_t)zlen + 3);
        png_chunk(&b, i % 2 ? "iCCP" : "tEXt", z, (uint32_t)zlen + 3, (uint32_t)zlen + 3);
    }
    png_tail_16(&b);
    printf("PNG with 400 text/iCCP chunks inflating to 16 MiB each (%zu bytes):\n", b.size);
    /* the image decodes to its pixels */
    if (pneumo_image_decode(b.data, b.size, "bombs", NULL, &img) != PNEUMO_OK)
        fail_msg("%s", pneumo_last_error());
    assert_int_equal(pneumo_image_width(img), 16);
    assert_int_equal(pneumo_image_pixels(img)[255], 0x40);
    pneumo_image_destroy(img);
    c = decode_cost(&b, NULL);
    assert_int_equal(c.status, PNEUMO_OK);
    report("zTXt/iCCP bombs", c, BASE_BYTES, 1.0);
    free(b.data);
    free(z);
    free(zeros);
}

/* Headers claiming the largest image the limits allow, with no data behind. */
static void test_huge_headers(void **state)
{
    buf b = {0};
    cost c;
    (void)state;
    printf("headers claiming 16384x8192 with no pixel data:\n");
    png_head(&b, 16384, 8192, 6, 16);
    png_chunk(&b, "IDAT", "x", 1, 1);
    c = decode_cost(&b, NULL);
    assert_int_equal(c.status, PNEUMO_ERR_FORMAT);
    report("PNG RGBA16 16384x8192", c, 5.0 * 16384 * 8192 + BASE_BYTES, 0.5);
    free(b.data);
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

enum { SCANS_BASELINE, SCANS_SIMPLE, SCANS_PER_COEFFICIENT };

/* Encode a w x h JPEG of `comps` (1 or 3) components; pattern 0 = flat gray,
 * 1 = noise. SCANS_PER_COEFFICIENT is a valid progression of 1 + 63 * comps
 * scans (one AC coefficient of one component per scan). */
static buf jpeg_encode(int w, int h, int comps, int arith, int scans, int pattern)
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

/* Offset just past the header of the first (last = 0) or last (last = 1) SOS. */
static size_t sos_data(const buf *b, int last)
{
    size_t found = 0;
    for (size_t i = 2; i + 4 < b->size; i++)
        if (b->data[i] == 0xFF && b->data[i + 1] == 0xDA) {
            found = i + 2 + (((size_t)b->data[i + 2] << 8) | b->data[i + 3]);
            if (!last)
                break;
        }
    assert_true(found > 0);
    return found;
}

/* Keep `keep` bytes of the file and append EOI: the entropy data ends early at
 * a marker, which libjpeg's arithmetic decoder takes without a warning. */
static buf cut_with_eoi(const buf *b, size_t keep)
{
    buf t = {0};
    static const uint8_t eoi[2] = {0xFF, 0xD9};
    b_add(&t, b->data, keep);
    b_add(&t, eoi, 2);
    return t;
}

static void test_jpeg_scan_limit(void **state)
{
    pneumo_decode_limits lim;
    buf b = jpeg_encode(256, 256, 3, 0, SCANS_PER_COEFFICIENT, 1);
    pneumo_image *img = NULL;
    cost c;
    (void)state;
    printf("JPEG with 190 progressive scans:\n");
    c = decode_cost(&b, NULL);
    assert_int_equal(c.status, PNEUMO_ERR_LIMIT);
    report("default limit (100 scans)", c, BASE_BYTES, 0.5);
    assert_int_equal(pneumo_image_decode(b.data, b.size, "scans", NULL, &img), PNEUMO_ERR_LIMIT);
    assert_non_null(strstr(pneumo_last_error(), "more than the limit of 100 scans"));
    pneumo_decode_default_limits(&lim);
    lim.max_scans = 190;
    assert_int_equal(pneumo_image_decode(b.data, b.size, "scans", &lim, &img), PNEUMO_OK);
    assert_int_equal(pneumo_image_width(img), 256);
    pneumo_image_destroy(img);
    lim.max_scans = 189;
    assert_int_equal(pneumo_image_decode(b.data, b.size, "scans", &lim, &img), PNEUMO_ERR_LIMIT);
    free(b.data);
}

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void test_jpeg_deadline(void **state)
{
    pneumo_decode_limits lim;
    buf b = jpeg_encode(1024, 1024, 3, 1, SCANS_PER_COEFFICIENT, 1);
    pneumo_image *img = NULL;
    double t0, full, cut;
    cost c;
    (void)state;
    pneumo_decode_default_limits(&lim);
    lim.max_scans = 1000;
    t0 = now_s();
    assert_int_equal(pneumo_image_decode(b.data, b.size, "slow", &lim, &img), PNEUMO_OK);
    full = now_s() - t0;
    pneumo_image_destroy(img);
    lim.deadline_ms = 10;
    t0 = now_s();
    assert_int_equal(pneumo_image_decode(b.data, b.size, "slow", &lim, &img), PNEUMO_ERR_LIMIT);
    cut = now_s() - t0;
    assert_null(img);
    assert_non_null(strstr(pneumo_last_error(), "longer than the 10 ms deadline"));
    printf("arithmetic progressive 1024x1024, 190 scans: %.3f s in full, %.3f s with a 10 ms "
           "deadline\n", full, cut);
    assert_true(full > 0.03); /* else the deadline case proves nothing */
    assert_true(cut < full);
    c = decode_cost(&b, &lim);
    assert_int_equal(c.status, PNEUMO_ERR_LIMIT);
    report("deadline 10 ms", c, 9.0 * 1024 * 1024 + BASE_BYTES, 0.5);
    free(b.data);
}

static void test_jpeg_arith_truncated(void **state)
{
    static const struct { int w, h, comps, scans; } shapes[] = {
        {512, 512, 1, SCANS_BASELINE}, {512, 512, 3, SCANS_BASELINE},
        {512, 512, 3, SCANS_SIMPLE}, {300, 700, 1, SCANS_SIMPLE},
    };
    (void)state;
    for (size_t i = 0; i < sizeof shapes / sizeof shapes[0]; i++) {
        buf b = jpeg_encode(shapes[i].w, shapes[i].h, shapes[i].comps, 1, shapes[i].scans, 1);
        size_t first = sos_data(&b, 0), last = sos_data(&b, 1);
        pneumo_image *img = NULL;
        const size_t keeps[] = {first + (b.size - first) / 3, last + (b.size - last) / 4};
        assert_int_equal(pneumo_image_decode(b.data, b.size, "whole", NULL, &img), PNEUMO_OK);
        pneumo_image_destroy(img);
        for (int k = 0; k < 2; k++) {
            buf t = cut_with_eoi(&b, keeps[k]);
            pneumo_status st = pneumo_image_decode(t.data, t.size, "cut", NULL, &img);
            if (st != PNEUMO_ERR_FORMAT)
                fail_msg("%dx%dx%d scans %d arithmetic, cut at %zu of %zu: status %d (%s)",
                         shapes[i].w, shapes[i].h, shapes[i].comps, shapes[i].scans, keeps[k],
                         b.size, st, pneumo_last_error());
            assert_null(img);
            assert_non_null(strstr(pneumo_last_error(), "truncated JPEG"));
            /* the Huffman-coded file cut the same way fails too */
            free(t.data);
        }
        free(b.data);
        b = jpeg_encode(shapes[i].w, shapes[i].h, shapes[i].comps, 0, shapes[i].scans, 1);
        {
            buf t = cut_with_eoi(&b, sos_data(&b, 0) + (b.size - sos_data(&b, 0)) / 3);
            assert_int_equal(pneumo_image_decode(t.data, t.size, "cut", NULL, &img),
                             PNEUMO_ERR_FORMAT);
            free(t.data);
        }
        free(b.data);
    }
}

/* Complete arithmetic-coded files whose rows cost almost no bits must not
 * look truncated (the decoder reaches EOI early there). */
static void test_jpeg_arith_flat_whole(void **state)
{
    static const struct { int w, h, comps; } shapes[] = {
        {8, 4096, 1}, {4096, 8, 1}, {1, 1, 1}, {16, 16, 3}, {64, 2048, 3}, {8, 8192, 3},
    };
    (void)state;
    for (size_t i = 0; i < sizeof shapes / sizeof shapes[0]; i++)
        for (int scans = SCANS_BASELINE; scans <= SCANS_SIMPLE; scans++) {
            buf b = jpeg_encode(shapes[i].w, shapes[i].h, shapes[i].comps, 1, scans, 0);
            pneumo_image *img = NULL;
            pneumo_status st = pneumo_image_decode(b.data, b.size, "flat", NULL, &img);
            if (st != PNEUMO_OK)
                fail_msg("flat %dx%dx%d scans %d: %s", shapes[i].w, shapes[i].h,
                         shapes[i].comps, scans, pneumo_last_error());
            assert_int_equal(pneumo_image_pixels(img)[0], 0x80);
            pneumo_image_destroy(img);
            free(b.data);
        }
}

static void test_jpeg_huge_progressive_header(void **state)
{
    buf b = jpeg_encode(64, 64, 3, 0, SCANS_SIMPLE, 1);
    cost c;
    (void)state;
    /* SOF2 claims 8192 x 8192: progressive decoding needs a coefficient buffer
     * for the whole image, which must only grow with the data present */
    for (size_t i = 2; i + 9 < b.size; i++)
        if (b.data[i] == 0xFF && b.data[i + 1] == 0xC2) {
            b.data[i + 5] = 0x20, b.data[i + 6] = 0x00;
            b.data[i + 7] = 0x20, b.data[i + 8] = 0x00;
            break;
        }
    c = decode_cost(&b, NULL);
    assert_int_equal(c.status, PNEUMO_ERR_FORMAT);
    report("progressive JPEG header claiming 8192x8192", c, 9.0 * 8192 * 8192 + BASE_BYTES, 1.0);
    free(b.data);
}

/* ---- model files, checkpoints, JSON ---- */

typedef struct {
    const buf *file;
} load_arg;

static pneumo_status load_work(const void *p)
{
    const load_arg *a = p;
    pneumo_model *m = NULL;
    pneumo_optimizer *o = NULL;
    pneumo_status st = pneumo_model_load_memory(a->file->data, a->file->size, &m, &o);
    pneumo_model_destroy(m);
    pneumo_optimizer_destroy(o);
    return st;
}

static pneumo_status json_work(const void *p)
{
    const buf *b = p;
    pn_json *j = NULL;
    pneumo_status st = pn_json_parse((const char *)b->data, b->size, "crafted", &j);
    pn_json_free(j);
    return st;
}

/* A safetensors file with the given header text (padded) and no tensors. */
static buf st_file(const char *header_json)
{
    buf b = {0};
    uint64_t n = strlen(header_json);
    uint8_t len[8];
    for (int i = 0; i < 8; i++)
        len[i] = (uint8_t)(n >> (8 * i));
    b_add(&b, len, 8);
    b_str(&b, header_json);
    return b;
}

static void check_load(const char *what, const buf *file)
{
    load_arg a = {file};
    cost c = measure(load_work, &a);
    assert_true(c.status == PNEUMO_ERR_FORMAT || c.status == PNEUMO_ERR_LIMIT);
    report(what, c, 2.0 * (double)file->size + JSON_TREE_BYTES + BASE_BYTES, 2.0);
}

static void test_model_files(void **state)
{
    buf b = {0}, f;
    (void)state;
    printf("model files:\n");
    /* a header length claiming 2^62 bytes */
    {
        uint8_t len[8] = {0, 0, 0, 0, 0, 0, 0, 0x40};
        b_add(&b, len, 8);
        b_str(&b, "{}");
        check_load("header length 2^62", &b);
        free(b.data);
        b = (buf){0};
    }
    /* 150000 tensors claiming 2^40 elements each */
    b_str(&b, "{\"__metadata__\":{\"format\":\"libpneumo\"}");
    for (int i = 0; i < 150000; i++) {
        char t[128];
        snprintf(t, sizeof t, ",\"t%d\":{\"dtype\":\"F32\",\"shape\":[1048576,1048576],"
                 "\"data_offsets\":[0,0]}", i);
        b_str(&b, t);
    }
    b_add(&b, "}", 2);
    f = st_file((const char *)b.data);
    check_load("150000 tensors of 2^40 elements", &f);
    free(f.data);
    free(b.data);
    b = (buf){0};
    /* an architecture asking for huge layers with no weights behind it */
    f = st_file("{\"__metadata__\":{\"format\":\"libpneumo\",\"seed\":\"1\",\"train_steps\":\"0\","
                "\"architecture\":\"{\\\"format_version\\\":1,\\\"input_shape\\\":[4096,4096,64],"
                "\\\"layers\\\":[{\\\"class\\\":\\\"Conv2D\\\",\\\"name\\\":\\\"c\\\","
                "\\\"filters\\\":65536,\\\"kernel_size\\\":[64,64],\\\"strides\\\":[1,1],"
                "\\\"padding\\\":\\\"same\\\",\\\"activation\\\":\\\"relu\\\","
                "\\\"use_bias\\\":true}]}\"}}");
    check_load("architecture with 2^40 parameters", &f);
    free(f.data);
    /* an architecture nested 100000 deep */
    b_str(&b, "{\"__metadata__\":{\"format\":\"libpneumo\",\"seed\":\"1\",\"train_steps\":\"0\","
              "\"architecture\":\"");
    for (int i = 0; i < 100000; i++)
        b_str(&b, "[");
    b_add(&b, "\"}}", 4);
    f = st_file((const char *)b.data);
    check_load("architecture nested 100000 deep", &f);
    free(f.data);
    free(b.data);
}

static void test_json_documents(void **state)
{
    buf b = {0};
    cost c;
    (void)state;
    printf("JSON documents:\n");
    for (int i = 0; i < 1000000; i++)
        b_str(&b, i % 2 ? "{\"a\":" : "[");
    c = measure(json_work, &b);
    assert_int_equal(c.status, PNEUMO_ERR_LIMIT);
    report("nested 10^6 deep", c, 2.0 * (double)b.size + JSON_TREE_BYTES + BASE_BYTES, 0.5);
    b.size = 0;
    b_str(&b, "[");
    for (int i = 0; i < 2000000; i++)
        b_str(&b, "0,");
    b_str(&b, "0]");
    c = measure(json_work, &b);
    assert_int_equal(c.status, PNEUMO_ERR_LIMIT);
    report("2*10^6 numbers (over the node limit)", c, 2.0 * (double)b.size + JSON_TREE_BYTES + BASE_BYTES, 1.0);
    b.size = 0;
    b_str(&b, "[");
    for (int i = 0; i < 999990; i++)
        b_str(&b, "[],");
    b_str(&b, "[]]");
    c = measure(json_work, &b);
    assert_int_equal(c.status, PNEUMO_OK);
    report("999991 empty arrays (at the node limit)", c, 2.0 * (double)b.size + JSON_TREE_BYTES + BASE_BYTES, 1.0);
    free(b.data);
}

/* A checkpoint whose fit_state holds a history of 10^6 rows. */
static pneumo_status checkpoint_work(const void *p)
{
    const char *path = p;
    pneumo_model *m = NULL;
    pneumo_optimizer *o = NULL;
    char *text = NULL;
    pn_json *j = NULL;
    pneumo_status st = pn_model_load_extra(path, &m, &o, "fit_state", &text);
    if (st == PNEUMO_OK)
        st = pn_json_parse(text, strlen(text), path, &j);
    pn_json_free(j);
    free(text);
    pneumo_model_destroy(m);
    pneumo_optimizer_destroy(o);
    return st;
}

static void test_checkpoint(void **state)
{
    pneumo_model *m = NULL;
    char *path = tu_join(tu_tmpdir(), "ck.safetensors");
    buf s = {0};
    cost c;
    (void)state;
    assert_int_equal(pneumo_model_create_article(96, 1, &m), PNEUMO_OK);
    b_str(&s, "{\"next_epoch\":1,\"history\":[");
    for (int i = 0; i < 200000; i++)
        b_str(&s, i ? ",[0,1,1,1,1,1,1]" : "[0,1,1,1,1,1,1]");
    b_add(&s, "]}", 3);
    assert_int_equal(pn_model_save_extra(m, NULL, path, "fit_state", (const char *)s.data),
                     PNEUMO_OK);
    pneumo_model_destroy(m);
    c = measure(checkpoint_work, path);
    printf("checkpoint with 200000 history rows (%zu bytes of state):\n", s.size);
    assert_int_equal(c.status, PNEUMO_ERR_LIMIT); /* 1.6 M values: over the node limit */
    report("fit_state over the node limit", c, 2.0 * (double)s.size + JSON_TREE_BYTES + BASE_BYTES, 2.0);
    unlink(path);
    free(path);
    free(s.data);
}

/* Messages that wrap an earlier message ("m.safetensors:
 * m.safetensors: eep more than ..."): the earlier text must survive intact. */
static void test_wrapped_messages(void **state)
{
    char want[1200];
    buf f;
    pneumo_model *m = NULL;
    (void)state;
    pn_error(PNEUMO_ERR_LIMIT, "inner message with some length to it");
    assert_int_equal(pn_error(PNEUMO_ERR_FORMAT, "%s: %s", "m.safetensors", pneumo_last_error()),
                     PNEUMO_ERR_FORMAT);
    assert_string_equal(pneumo_last_error(), "m.safetensors: inner message with some length to it");
    assert_int_equal(pn_error_prefix("%s", "outer"), PNEUMO_ERR_FORMAT);
    assert_string_equal(pneumo_last_error(),
                        "outer: m.safetensors: inner message with some length to it");
    /* a prefix taken from the message itself */
    assert_int_equal(pn_error_prefix("%.5s", pneumo_last_error()), PNEUMO_ERR_FORMAT);
    assert_string_equal(pneumo_last_error(),
                        "outer: outer: m.safetensors: inner message with some length to it");
    /* a message as long as the buffer keeps its head, prefixes cut the tail */
    memset(want, 'x', sizeof want);
    want[sizeof want - 1] = '\0';
    pn_error(PNEUMO_ERR_IO, "%s", want);
    assert_int_equal(strlen(pneumo_last_error()), 1023);
    pn_error(PNEUMO_ERR_IO, "%s: %s", "f", pneumo_last_error());
    assert_int_equal(strlen(pneumo_last_error()), 1023);
    assert_memory_equal(pneumo_last_error(), "f: xxx", 6);
    pn_error_prefix("g");
    assert_int_equal(strlen(pneumo_last_error()), 1023);
    assert_memory_equal(pneumo_last_error(), "g: f: xxx", 9);
    /* end to end: a model file whose input shape is over the limits */
    f = st_file("{\"__metadata__\":{\"format\":\"libpneumo\",\"seed\":\"1\",\"train_steps\":\"0\","
                "\"architecture\":\"{\\\"format_version\\\":1,\\\"input_shape\\\":"
                "[16384,16384,4096],\\\"layers\\\":[]}\"}}");
    assert_int_equal(pneumo_model_load_memory(f.data, f.size, &m, NULL), PNEUMO_ERR_FORMAT);
    assert_null(m);
    snprintf(want, sizeof want, "<memory>: pneumo_model_create: input shape (16384, 16384, 4096) "
             "exceeds the limits");
    assert_memory_equal(pneumo_last_error(), want, strlen(want));
    free(f.data);
}

/* A file that is not a safetensors file at all is named as such, not as a
 * truncated one whose first bytes claim an absurd header length. */
static void test_not_a_model_file(void **state)
{
    static const char text[] = "hello, this is a text file and not a model at all\n";
    buf jpeg = jpeg_encode(16, 16, 1, 0, SCANS_BASELINE, 1);
    pneumo_model *m = NULL;
    (void)state;
    assert_int_equal(pneumo_model_load_memory(text, sizeof text - 1, &m, NULL), PNEUMO_ERR_FORMAT);
    assert_string_equal(pneumo_last_error(),
                        "<memory>: not a libpneumo model file (its header is not JSON; a model "
                        "file is safetensors: an 8-byte header length, then a JSON header)");
    assert_int_equal(pneumo_model_load_memory(jpeg.data, jpeg.size, &m, NULL), PNEUMO_ERR_FORMAT);
    assert_non_null(strstr(pneumo_last_error(), "not a libpneumo model file (it is a JPEG image"));
    assert_null(m);
    free(jpeg.data);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_png_chunk_lengths),
        cmocka_unit_test(test_png_chunk_bombs),
        cmocka_unit_test(test_huge_headers),
        cmocka_unit_test(test_jpeg_scan_limit),
        cmocka_unit_test(test_jpeg_deadline),
        cmocka_unit_test(test_jpeg_arith_truncated),
        cmocka_unit_test(test_jpeg_arith_flat_whole),
        cmocka_unit_test(test_jpeg_huge_progressive_header),
        cmocka_unit_test(test_model_files),
        cmocka_unit_test(test_json_documents),
        cmocka_unit_test(test_checkpoint),
        cmocka_unit_test(test_wrapped_messages),
        cmocka_unit_test(test_not_a_model_file),
    };
    if (!bounds_checked())
        printf("AddressSanitizer build or emulator: memory and CPU bounds are printed, not "
               "checked\n");
    return cmocka_run_group_tests(tests, NULL, NULL);
}
