/* Writes the seed corpora of the fuzz targets into OUTDIR/<target>/: small
 * fixtures made here (no image is copied from the shared data), one file per
 * case. Usage: make_seeds OUTDIR */
#include <errno.h>
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <jpeglib.h>
#include <png.h>

#include "pneumo/image.h"
#include "pneumo/model.h"
#include "pneumo/optim.h"
#include "model/model.h"

static const char *outdir;

_Noreturn static void die(const char *what)
{
    fprintf(stderr, "make_seeds: %s\n", what);
    exit(1);
}

static void put(const char *target, const char *name, const void *data, size_t size)
{
    char path[1024];
    FILE *f;
    snprintf(path, sizeof path, "%s/%s", outdir, target);
    if (mkdir(path, 0755) != 0 && errno != EEXIST)
        die(path);
    snprintf(path, sizeof path, "%s/%s/%s", outdir, target, name);
    f = fopen(path, "wb");
    if (!f || fwrite(data, 1, size, f) != size || fclose(f) != 0)
        die(path);
}

static void put_str(const char *target, const char *name, const char *s) { put(target, name, s, strlen(s)); }

/* ---- PNG ---- */

struct mem {
    unsigned char *p;
    size_t n;
};

static void png_mem_write(png_structp png, png_bytep d, size_t n)
{
    struct mem *m = png_get_io_ptr(png);
    m->p = realloc(m->p, m->n + n);
    if (!m->p)
        die("out of memory");
    memcpy(m->p + m->n, d, n);
    m->n += n;
}

static void png_mem_flush(png_structp png) { (void)png; }

static void seed_png(const char *name, int w, int h, int color, int depth, int interlace, int text)
{
    png_structp png = png_create_write_struct(PNG_LIBPNG_VER_STRING, NULL, NULL, NULL);
    png_infop info = png_create_info_struct(png);
    struct mem m = {NULL, 0};
    int channels = color == PNG_COLOR_TYPE_RGB          ? 3
                   : color == PNG_COLOR_TYPE_RGBA       ? 4
                   : color == PNG_COLOR_TYPE_GRAY_ALPHA ? 2
                                                        : 1;
    size_t rowbytes = ((size_t)w * (size_t)channels * (size_t)depth + 7) / 8;
    unsigned char *row = malloc(rowbytes);
    if (!png || !info || !row || setjmp(png_jmpbuf(png)))
        die("libpng write failed");
    png_set_write_fn(png, &m, png_mem_write, png_mem_flush);
    png_set_IHDR(png, info, (png_uint_32)w, (png_uint_32)h, depth, color,
                 interlace ? PNG_INTERLACE_ADAM7 : PNG_INTERLACE_NONE, PNG_COMPRESSION_TYPE_DEFAULT,
                 PNG_FILTER_TYPE_DEFAULT);
    if (color == PNG_COLOR_TYPE_PALETTE) {
        png_color pal[4] = {{0, 0, 0}, {255, 0, 0}, {0, 255, 0}, {10, 20, 250}};
        png_byte trns[1] = {128};
        png_set_PLTE(png, info, pal, 4);
        png_set_tRNS(png, info, trns, 1, NULL);
    }
    if (text) {
        png_text t;
        memset(&t, 0, sizeof t);
        t.compression = PNG_TEXT_COMPRESSION_zTXt;
        t.key = "Comment";
        t.text = "made by make_seeds";
        png_set_text(png, info, &t, 1);
    }
    png_write_info(png, info);
    for (int pass = 0; pass < (interlace ? 7 : 1); pass++)
        for (int y = 0; y < h; y++) {
            for (size_t i = 0; i < rowbytes; i++)
                row[i] = (unsigned char)(i * 37 + (size_t)y * 11);
            if (color == PNG_COLOR_TYPE_PALETTE)
                for (size_t i = 0; i < rowbytes; i++)
                    row[i] &= depth == 8 ? 3 : 0x55;
            png_write_row(png, row);
        }
    png_write_end(png, info);
    png_destroy_write_struct(&png, &info);
    put("image", name, m.p, m.n);
    free(m.p);
    free(row);
}

/* ---- JPEG ---- */

struct jerr {
    struct jpeg_error_mgr pub;
    jmp_buf jump;
};

static void jerr_exit(j_common_ptr c) { longjmp(((struct jerr *)c->err)->jump, 1); }

static void seed_jpeg(const char *name, int w, int h, int comps, int progressive, int arith, int restart)
{
    struct jpeg_compress_struct c;
    struct jerr err;
    unsigned char *out = NULL;
    unsigned long out_size = 0;
    JSAMPLE *row = malloc((size_t)w * (size_t)comps);
    if (!row)
        die("out of memory");
    memset(&c, 0, sizeof c);
    c.err = jpeg_std_error(&err.pub);
    err.pub.error_exit = jerr_exit;
    if (setjmp(err.jump))
        die("libjpeg write failed");
    jpeg_create_compress(&c);
    jpeg_mem_dest(&c, &out, &out_size);
    c.image_width = (JDIMENSION)w;
    c.image_height = (JDIMENSION)h;
    c.input_components = comps;
    c.in_color_space = comps == 1 ? JCS_GRAYSCALE : comps == 3 ? JCS_RGB : JCS_CMYK;
    jpeg_set_defaults(&c);
    jpeg_set_quality(&c, 75, TRUE);
    c.arith_code = arith ? TRUE : FALSE;
    c.restart_interval = (unsigned)restart;
    if (progressive)
        jpeg_simple_progression(&c);
    jpeg_start_compress(&c, TRUE);
    jpeg_write_marker(&c, JPEG_COM, (const JOCTET *)"seed", 4);
    while (c.next_scanline < c.image_height) {
        for (size_t i = 0; i < (size_t)w * (size_t)comps; i++)
            row[i] = (JSAMPLE)(i * 13 + c.next_scanline * 7);
        jpeg_write_scanlines(&c, &row, 1);
    }
    jpeg_finish_compress(&c);
    jpeg_destroy_compress(&c);
    put("image", name, out, out_size);
    free(out);
    free(row);
}

/* ---- models, checkpoints, JSON ---- */


/* ---- DICOM ---- */

/* Explicit VR little endian element writer into a fixed buffer. */
typedef struct dcm {
    unsigned char b[4096];
    size_t n;
} dcm;

static void dput(dcm *d, const void *p, size_t n)
{
    if (d->n + n > sizeof d->b)
        die("DICOM seed too large");
    memcpy(d->b + d->n, p, n);
    d->n += n;
}

static void dput16(dcm *d, unsigned v)
{
    unsigned char x[2] = {(unsigned char)v, (unsigned char)(v >> 8)};
    dput(d, x, 2);
}

static void dput32(dcm *d, unsigned long v)
{
    unsigned char x[4] = {(unsigned char)v, (unsigned char)(v >> 8), (unsigned char)(v >> 16),
                          (unsigned char)(v >> 24)};
    dput(d, x, 4);
}

static void del(dcm *d, unsigned g, unsigned e, const char *vr, const void *v, size_t n)
{
    const int pad = (int)(n & 1);
    dput16(d, g);
    dput16(d, e);
    dput(d, vr, 2);
    if (strstr("OB OW SQ UN UT", vr)) {
        dput16(d, 0);
        dput32(d, (unsigned long)(n + (size_t)pad));
    } else {
        dput16(d, (unsigned)(n + (size_t)pad));
    }
    dput(d, v, n);
    if (pad)
        dput(d, strcmp(vr, "UI") == 0 || strcmp(vr, "OB") == 0 ? "" : " ", 1);
}

static void del_str(dcm *d, unsigned g, unsigned e, const char *vr, const char *v)
{
    del(d, g, e, vr, v, strlen(v));
}

static void del_us(dcm *d, unsigned g, unsigned e, unsigned v)
{
    unsigned char x[2] = {(unsigned char)v, (unsigned char)(v >> 8)};
    del(d, g, e, "US", x, 2);
}

/* A Part 10 secondary-capture file of rows x cols samples (8 or 16 bits),
 * MONOCHROME1 or 2, with or without a window: the DICOM path of the image
 * decoder (lib/image/dicom*.c, where the build has DCMTK). */
static void seed_dicom(const char *name, int rows, int cols, int bits, const char *photometric, int window)
{
    static const unsigned char version[2] = {0, 1};
    const char *sop = "1.2.840.10008.5.1.4.1.1.7";
    dcm meta = {{0}, 0}, ds = {{0}, 0}, out = {{0}, 0};
    unsigned char px[512];
    const size_t npx = (size_t)rows * (size_t)cols * (size_t)(bits / 8);
    if (npx > sizeof px)
        die("DICOM seed pixels");
    for (size_t i = 0; i < npx; i++)
        px[i] = (unsigned char)(i * 37 + 11);
    del(&meta, 0x0002, 0x0001, "OB", version, 2);
    del_str(&meta, 0x0002, 0x0002, "UI", sop);
    del_str(&meta, 0x0002, 0x0003, "UI", "1.2.826.0.1.3680043.2.1143.1");
    del_str(&meta, 0x0002, 0x0010, "UI", "1.2.840.10008.1.2.1");
    del_str(&ds, 0x0008, 0x0016, "UI", sop);
    del_str(&ds, 0x0008, 0x0018, "UI", "1.2.826.0.1.3680043.2.1143.1");
    del_us(&ds, 0x0028, 0x0002, 1);
    del_str(&ds, 0x0028, 0x0004, "CS", photometric);
    del_us(&ds, 0x0028, 0x0010, (unsigned)rows);
    del_us(&ds, 0x0028, 0x0011, (unsigned)cols);
    del_us(&ds, 0x0028, 0x0100, (unsigned)bits);
    del_us(&ds, 0x0028, 0x0101, (unsigned)(bits == 16 ? 12 : 8));
    del_us(&ds, 0x0028, 0x0102, (unsigned)(bits == 16 ? 11 : 7));
    del_us(&ds, 0x0028, 0x0103, 0);
    if (window) {
        del_str(&ds, 0x0028, 0x1050, "DS", "2048");
        del_str(&ds, 0x0028, 0x1051, "DS", "4096");
        del_str(&ds, 0x0028, 0x1052, "DS", "-1024");
        del_str(&ds, 0x0028, 0x1053, "DS", "1");
    }
    del(&ds, 0x7FE0, 0x0010, bits == 16 ? "OW" : "OB", px, npx);
    {
        unsigned char pre[128] = {0};
        dput(&out, pre, sizeof pre);
    }
    dput(&out, "DICM", 4);
    dput16(&out, 0x0002);
    dput16(&out, 0x0000);
    dput(&out, "UL", 2);
    dput16(&out, 4);
    dput32(&out, (unsigned long)meta.n);
    dput(&out, meta.b, meta.n);
    dput(&out, ds.b, ds.n);
    put("image", name, out.b, out.n);
}

static void read_back(const char *path, unsigned char **data, size_t *size)
{
    FILE *f = fopen(path, "rb");
    long n;
    if (!f || fseek(f, 0, SEEK_END) != 0 || (n = ftell(f)) < 0 || fseek(f, 0, SEEK_SET) != 0)
        die(path);
    *data = malloc((size_t)n + 1);
    if (!*data || fread(*data, 1, (size_t)n, f) != (size_t)n)
        die(path);
    fclose(f);
    *size = (size_t)n;
}

static pneumo_model *tiny_model(void)
{
    pneumo_model *m = NULL;
    pneumo_conv2d_params cp;
    pneumo_maxpool2d_params mp;
    pneumo_conv2d_default_params(&cp);
    cp.filters = 2;
    cp.activation = PNEUMO_ACT_RELU;
    pneumo_maxpool2d_default_params(&mp);
    if (pneumo_model_create(6, 6, 1, 7, &m) != PNEUMO_OK || pneumo_model_add_conv2d(m, &cp) != PNEUMO_OK ||
        pneumo_model_add_maxpool2d(m, &mp) != PNEUMO_OK || pneumo_model_add_flatten(m) != PNEUMO_OK ||
        pneumo_model_add_dense(m, 3, PNEUMO_ACT_RELU) != PNEUMO_OK ||
        pneumo_model_add_dropout(m, 0.5f) != PNEUMO_OK ||
        pneumo_model_add_dense(m, 1, PNEUMO_ACT_SIGMOID) != PNEUMO_OK)
        die(pneumo_last_error());
    return m;
}

static void seed_models(void)
{
    char path[1024];
    pneumo_model *m = tiny_model();
    pneumo_optimizer *adam = NULL, *sgd = NULL;
    pneumo_adam_params ap;
    pneumo_sgd_params sp;
    unsigned char *data;
    size_t size;
    uint32_t hlen;
    const char *state = "{\"next_epoch\":2,\"stopped\":0,\"es\":{\"best\":0.5,\"wait\":1,"
                        "\"best_epoch\":0},\"rl\":{\"best\":null,\"wait\":0,\"cooldown_counter\":0},"
                        "\"ckpt_best\":\"inf\",\"history\":[[0,0.7,0.5,0.69,0.5,0.001,1.5],"
                        "[1,0.6,0.6,\"-inf\",0.5,0.001,1.25]]}";
    pneumo_adam_default_params(&ap);
    pneumo_sgd_default_params(&sp);
    sp.momentum = 0.9f;
    if (pneumo_optimizer_create_adam(&ap, &adam) != PNEUMO_OK ||
        pneumo_optimizer_create_sgd(&sp, &sgd) != PNEUMO_OK)
        die(pneumo_last_error());
    snprintf(path, sizeof path, "%s/tmp-model.safetensors", outdir);

    if (pneumo_model_save(m, NULL, path) != PNEUMO_OK)
        die(pneumo_last_error());
    read_back(path, &data, &size);
    put("model", "tiny.safetensors", data, size);
    /* the header's JSON alone and the architecture string seed the JSON target */
    hlen = (uint32_t)data[0] | (uint32_t)data[1] << 8 | (uint32_t)data[2] << 16;
    if (8 + (size_t)hlen <= size)
        put("json", "safetensors-header.json", data + 8, hlen);
    free(data);

    if (pneumo_model_save(m, sgd, path) != PNEUMO_OK)
        die(pneumo_last_error());
    read_back(path, &data, &size);
    put("model", "tiny-sgd.safetensors", data, size);
    free(data);

    /* Adam state exists only after a step */
    {
        int64_t xs[4] = {2, 6, 6, 1}, ys[1] = {2};
        pneumo_tensor *x = NULL, *y = NULL;
        pneumo_step_result r;
        if (pneumo_tensor_create(4, xs, &x) != PNEUMO_OK || pneumo_tensor_create(1, ys, &y) != PNEUMO_OK)
            die(pneumo_last_error());
        pneumo_tensor_data(y)[1] = 1.0f;
        if (pneumo_model_train_step(m, adam, x, y, NULL, &r) != PNEUMO_OK)
            die(pneumo_last_error());
        pneumo_tensor_destroy(x);
        pneumo_tensor_destroy(y);
    }
    if (pneumo_model_save(m, adam, path) != PNEUMO_OK)
        die(pneumo_last_error());
    read_back(path, &data, &size);
    put("model", "tiny-adam.safetensors", data, size);
    free(data);

    if (pn_model_save_extra(m, adam, path, "fit_state", state) != PNEUMO_OK)
        die(pneumo_last_error());
    read_back(path, &data, &size);
    put("checkpoint", "tiny-adam.ckpt", data, size);
    free(data);
    /* cancelled inside an epoch: the steps done in it and their metric sums */
    if (pn_model_save_extra(
            m, adam, path, "fit_state",
            "{\"next_epoch\":1,\"stopped\":0,\"es\":{\"best\":null,\"wait\":0,\"best_epoch\":0},"
            "\"rl\":{\"best\":\"inf\",\"wait\":0,\"cooldown_counter\":0},\"ckpt_best\":\"inf\","
            "\"step\":3,\"step_seen\":6,\"step_loss_sum\":4.25,\"step_acc_sum\":3,"
            "\"history\":[[0,0.7,0.5,0.69,0.5,0.001,0.1]]}") != PNEUMO_OK)
        die(pneumo_last_error());
    read_back(path, &data, &size);
    put("checkpoint", "tiny-adam-mid-epoch.ckpt", data, size);
    free(data);
    put_str("json", "fit-state.json", state);
    remove(path);
    pneumo_optimizer_destroy(adam);
    pneumo_optimizer_destroy(sgd);
    pneumo_model_destroy(m);
}

static void seed_json(void)
{
    put_str("json", "scalars.json",
            "[0,-0,1e308,-1.5e-308,123456789012345678,\"\\u00e9\\ud83d\\ude00\",true,false,null]");
    put_str("json", "nested.json", "{\"a\":{\"b\":[[[{\"c\":\"d\"}]]]},\"e\":[],\"f\":{}}");
    put_str("json", "escapes.json", "\"\\\"\\\\\\/\\b\\f\\n\\r\\t\\u0001\"");
    put_str("json", "numbers.json", "[9007199254740993,1E3,-0.0e-0,0.1,2.5e+10,-9223372036854775808]");
}

/* Records of fuzz_dataset.c: op, name length, name, content length, content. */
static void rec(unsigned char *buf, size_t *n, int kind, int parent, int ext, const char *name,
                const unsigned char *content, size_t clen)
{
    size_t nl = strlen(name);
    buf[(*n)++] = (unsigned char)(kind | parent << 2 | ext << 5);
    buf[(*n)++] = (unsigned char)nl;
    for (size_t i = 0; i < nl; i++)
        buf[(*n)++] = (unsigned char)(name[i] >= 'a' && name[i] <= 'z' ? name[i] - 'a' : 26);
    buf[(*n)++] = (unsigned char)clen;
    if (clen)
        memcpy(buf + *n, content, clen);
    *n += clen;
}

static void seed_dataset(void)
{
    unsigned char b[512];
    size_t n = 0;
    static const unsigned char junk[] = {0x89, 'P', 'N', 'G', 0, 1};
    static const unsigned char up_a[] = {2, 2, 3, 0}; /* "../a" */
    b[n++] = 0;
    rec(b, &n, 0, 0, 0, "normal", NULL, 0);
    rec(b, &n, 0, 0, 0, "opacity", NULL, 0);
    rec(b, &n, 3, 1, 0, "a", NULL, 0);
    rec(b, &n, 3, 1, 0, "b", NULL, 0);
    rec(b, &n, 3, 2, 0, "c", NULL, 0);
    rec(b, &n, 1, 2, 0, "junk", junk, sizeof junk);
    rec(b, &n, 2, 2, 0, "link", up_a, sizeof up_a);
    put("dataset", "two-classes", b, n);
    n = 0;
    b[n++] = 3;
    rec(b, &n, 0, 0, 0, "x", NULL, 0);
    rec(b, &n, 0, 0, 0, "y", NULL, 0);
    rec(b, &n, 0, 1, 0, "sub", NULL, 0);
    rec(b, &n, 3, 3, 0, "deep", NULL, 0);
    rec(b, &n, 3, 2, 0, "img", NULL, 0);
    rec(b, &n, 2, 1, 4, "loop", (const unsigned char[]){2}, 1); /* "." */
    put("dataset", "nested-and-loop", b, n);
}

/* ---- HTTP requests of fuzz_http.c: raw requests, headers then body ---- */

static void put_mp(const char *name, const char *head, const char *boundary, const char *parts)
{
    char buf[2048];
    snprintf(buf, sizeof buf, "%sContent-Type: multipart/form-data; boundary=%s\r\n\r\n%s", head, boundary,
             parts);
    put_str("http", name, buf);
}

static void seed_http(void)
{
    static const char post[] = "POST /api/v1/diagnose HTTP/1.1\r\nHost: t\r\n";
    static const char png_head[] = "\x89PNG\r\n\x1a\n\0\0\0\rIHDR";
    char buf[2048];
    put_str("http", "get-page", "GET / HTTP/1.1\r\nHost: t\r\n\r\n");
    put_str("http", "get-health", "HEAD /healthz HTTP/1.1\r\n\r\n");
    put_str("http", "get-metrics", "GET /metrics HTTP/1.1\r\n\r\n");
    put_str("http", "get-model-query", "GET /api/v1/model?x=1&heatmap=true HTTP/1.1\r\n\r\n");
    put_str("http", "not-found", "GET /api/v2/\"<x>\xff HTTP/1.1\r\n\r\n");
    put_str("http", "post-to-get-route", "POST /metrics HTTP/1.1\r\n\r\n");
    put_str("http", "get-diagnose", "GET /api/v1/diagnose HTTP/1.1\r\n\r\n");
    put_str("http", "draining",
            "POST /api/v1/diagnose HTTP/1.1\r\nX-Draining: 1\r\n"
            "Content-Type: image/png\r\n\r\nx");
    snprintf(buf, sizeof buf, "%sContent-Type: image/png\r\nContent-Length: 16\r\n\r\n", post);
    memcpy(buf + strlen(buf), png_head, 16);
    put("http", "raw-png", buf, strlen(buf) + 16);
    snprintf(buf, sizeof buf,
             "POST /api/v1/diagnose?heatmap=1 HTTP/1.1\r\nContent-Type: IMAGE/JPEG; q=1\r\n\r\n"
             "\xff\xd8\xff\xe0");
    put_str("http", "raw-jpeg-heatmap", buf);
    snprintf(buf, sizeof buf, "%sContent-Type: application/dicom\r\nContent-Length: 3000\r\n\r\nDICM", post);
    put_str("http", "over-budget", buf);
    snprintf(buf, sizeof buf, "%sContent-Type: image/png\r\nContent-Length: 99999999999999999999\r\n\r\n",
             post);
    put_str("http", "huge-length", buf);
    snprintf(buf, sizeof buf, "%sContent-Type: image/png\r\n\r\n", post);
    put_str("http", "empty-body", buf);
    snprintf(buf, sizeof buf, "%sContent-Type: text/plain\r\n\r\nhello", post);
    put_str("http", "text-plain", buf);
    snprintf(buf, sizeof buf, "%sContent-Type: multipart/form-data\r\n\r\n--x\r\n", post);
    put_str("http", "multipart-no-boundary", buf);
    put_mp("multipart-one-file", post, "pneumoB0",
           "--pneumoB0\r\nContent-Disposition: form-data; name=\"note\"\r\n\r\nignored\r\n"
           "--pneumoB0\r\nContent-Disposition: form-data; name=\"image\"; filename=\"x.png\"\r\n"
           "Content-Type: image/png\r\n\r\n\x89PNG\r\n\x1a\n\r\n--pneumoB0--\r\n");
    put_mp("multipart-two-files", post, "\"q;b\"",
           "preamble\r\n--q;b\r\nContent-Disposition: form-data; name=\"a\"; filename=\"a.png\"\r\n\r\nA\r\n"
           "--q;b  \r\nContent-Disposition: form-data; name=b; filename*=UTF-8''b.png\r\n\r\nB\r\n--q;b--");
    put_mp("multipart-text-file", post, "zz",
           "--zz\r\ncontent-disposition: form-data; name=\"f\"; filename=\"x.txt\"\r\n"
           "content-type: text/plain\r\n\r\nhi\r\n--zz--\r\n");
    put_mp("multipart-no-file", post, "zz",
           "--zz\r\nContent-Disposition: form-data; name=\"comment\"\r\n\r\nno file here\r\n--zz--\r\n");
    put_mp("multipart-truncated", post, "zz",
           "--zz\r\nContent-Disposition: form-data; name=\"i\"; filename=\"i\"\r\n\r\n\xff\xd8\xff");
    put_mp("multipart-no-headers", post, "zz", "--zz\r\n\r\nbody\r\n--zz--");
    put_mp("multipart-quoted-name", post, "zz",
           "--zz\r\nContent-Disposition: form-data; name=\"x; filename=y\"\r\n"
           "Content-Type: application/octet-stream\r\n\r\nnot a file\r\n--zz--\r\n");
}

int main(int argc, char **argv)
{
    if (argc != 2)
        die("usage: make_seeds OUTDIR");
    outdir = argv[1];
    if (mkdir(outdir, 0755) != 0 && errno != EEXIST)
        die(outdir);
    seed_png("gray8.png", 5, 3, PNG_COLOR_TYPE_GRAY, 8, 0, 0);
    seed_png("gray1.png", 9, 2, PNG_COLOR_TYPE_GRAY, 1, 0, 0);
    seed_png("gray16-text.png", 3, 3, PNG_COLOR_TYPE_GRAY, 16, 0, 1);
    seed_png("palette-trns.png", 4, 4, PNG_COLOR_TYPE_PALETTE, 8, 0, 0);
    seed_png("palette2-interlaced.png", 6, 5, PNG_COLOR_TYPE_PALETTE, 2, 1, 0);
    seed_png("rgb8.png", 3, 2, PNG_COLOR_TYPE_RGB, 8, 0, 0);
    seed_png("rgba16-interlaced.png", 9, 9, PNG_COLOR_TYPE_RGBA, 16, 1, 1);
    seed_png("graya8.png", 2, 7, PNG_COLOR_TYPE_GRAY_ALPHA, 8, 1, 0);
    seed_jpeg("gray.jpg", 16, 8, 1, 0, 0, 0);
    seed_jpeg("rgb-progressive.jpg", 17, 9, 3, 1, 0, 0);
    seed_jpeg("rgb-arith.jpg", 24, 16, 3, 0, 1, 0);
    seed_jpeg("gray-arith-progressive.jpg", 16, 16, 1, 1, 1, 0);
    seed_jpeg("rgb-restart.jpg", 32, 16, 3, 0, 0, 1);
    seed_jpeg("cmyk.jpg", 8, 8, 4, 0, 0, 0);
    seed_dicom("mono2-8bit.dcm", 4, 6, 8, "MONOCHROME2", 0);
    seed_dicom("mono1-16bit-window.dcm", 5, 3, 16, "MONOCHROME1", 1);
    seed_models();
    seed_json();
    seed_dataset();
    seed_http();
    return 0;
}
