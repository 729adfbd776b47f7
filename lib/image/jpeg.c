/* JPEG decoding with libjpeg(-turbo) to 8-bit gray, as PIL's convert('L').
 *
 * - libjpeg never exits or prints: error_exit longjmps back here, output_message
 *   is silent, and emit_message turns the warnings that mean "the pixels are
 *   wrong" (premature end of file, corrupt entropy-coded data) into errors: a
 *   half-gray or garbled X-ray must not enter training silently. Harmless
 *   warnings (unknown JFIF revision, bad ICC marker, ...) are ignored.
 * - dimensions are checked against the limits right after jpeg_read_header,
 *   before any pixel memory is allocated. A progress monitor, called by libjpeg
 *   for every iMCU row and output row, caps the number of scans (limits->
 *   max_scans: a tiny file can otherwise hold thousands, each a pass over the
 *   whole image), enforces limits->deadline_ms and fails arithmetic-coded data
 *   that ends early at a marker (see pn_jpeg_arith_ended_early): libjpeg's
 *   arithmetic decoder then silently decodes zeros, where the Huffman decoder
 *   warns (JWRN_HIT_MARKER).
 * - memory: libjpeg's own tables plus, for multi-scan (progressive) files, one
 *   16-bit coefficient per sample of every component (at most 4 components,
 *   i.e. 8 bytes per output pixel before chroma subsampling), plus one output
 *   row and the output image. libjpeg's memory manager is held to that
 *   (mem->max_memory_to_use, see pn_jpeg_memory_bound): a coefficient buffer
 *   beyond it fails with LIMIT instead of being allocated. Markers (APPn,
 *   COM, ICC profiles) are skipped, never saved (no jpeg_save_markers), so no
 *   marker length claimed by a file is ever allocated.
 * - 1 component: gray as stored. 3 components: libjpeg's RGB output (islow IDCT,
 *   fancy upsampling, the defaults PIL uses) then Pillow's L24 luma.
 *   4 components (CMYK, or YCCK which libjpeg turns into CMYK): Pillow unpacks
 *   every CMYK JPEG as "CMYK;I" (inverted, Adobe convention), then converts
 *   CMYK -> RGB with cmyk2rgb and RGB -> L; reproduced below exactly. */
#include "image/image_internal.h"

#include "core/alloc.h"
#include "core/error.h"
#include "core/faults.h"

#include <limits.h>
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jpeglib.h>
#include <jerror.h>

enum {
    PN_JPEG_FAIL_NONE = 0,
    PN_JPEG_FAIL_LIBJPEG,
    PN_JPEG_FAIL_SCANS,
    PN_JPEG_FAIL_DEADLINE,
    PN_JPEG_FAIL_ARITH_EOD
};

struct pn_jpeg_err {
    struct jpeg_error_mgr pub;
    jmp_buf jump;
    int fail;
    int code;
    long max_memory; /* the bound given to libjpeg's memory manager */
    char message[JMSG_LENGTH_MAX];
    /* libjpeg's memory manager methods, wrapped by pn_jpeg_route_memory */
    void *(*alloc_small)(j_common_ptr, int, size_t);
    void *(*alloc_large)(j_common_ptr, int, size_t);
    JSAMPARRAY (*alloc_sarray)(j_common_ptr, int, JDIMENSION, JDIMENSION);
    JBLOCKARRAY (*alloc_barray)(j_common_ptr, int, JDIMENSION, JDIMENSION);
    void (*realize_virt_arrays)(j_common_ptr);
};

static void pn_jpeg_error_exit(j_common_ptr cinfo)
{
    struct pn_jpeg_err *err = (struct pn_jpeg_err *)cinfo->err;
    err->fail = PN_JPEG_FAIL_LIBJPEG;
    err->code = err->pub.msg_code;
    err->pub.format_message(cinfo, err->message);
    longjmp(err->jump, 1);
}

/* libjpeg allocates with malloc in its own memory manager. Its methods are
 * wrapped so that every request made through them after
 * jpeg_create_decompress is one allocation of the failure injection
 * (pn_fault_alloc), failed as libjpeg fails an allocation itself:
 * JERR_OUT_OF_MEMORY through error_exit. */
static void pn_jpeg_oom(j_common_ptr c)
{
    c->err->msg_code = JERR_OUT_OF_MEMORY;
    c->err->msg_parm.i[0] = 0;
    (*c->err->error_exit)(c);
}

static void *pn_jpeg_alloc_small(j_common_ptr c, int pool, size_t n)
{
    if (pn_fault_alloc())
        pn_jpeg_oom(c);
    return ((struct pn_jpeg_err *)c->err)->alloc_small(c, pool, n);
}

static void *pn_jpeg_alloc_large(j_common_ptr c, int pool, size_t n)
{
    if (pn_fault_alloc())
        pn_jpeg_oom(c);
    return ((struct pn_jpeg_err *)c->err)->alloc_large(c, pool, n);
}

static JSAMPARRAY pn_jpeg_alloc_sarray(j_common_ptr c, int pool, JDIMENSION w, JDIMENSION rows)
{
    if (pn_fault_alloc())
        pn_jpeg_oom(c);
    return ((struct pn_jpeg_err *)c->err)->alloc_sarray(c, pool, w, rows);
}

static JBLOCKARRAY pn_jpeg_alloc_barray(j_common_ptr c, int pool, JDIMENSION w, JDIMENSION rows)
{
    if (pn_fault_alloc())
        pn_jpeg_oom(c);
    return ((struct pn_jpeg_err *)c->err)->alloc_barray(c, pool, w, rows);
}

static void pn_jpeg_realize_virt_arrays(j_common_ptr c)
{
    if (pn_fault_alloc())
        pn_jpeg_oom(c);
    ((struct pn_jpeg_err *)c->err)->realize_virt_arrays(c);
}

static void pn_jpeg_route_memory(j_common_ptr c, struct pn_jpeg_err *err)
{
    struct jpeg_memory_mgr *mem = c->mem;
    err->alloc_small = mem->alloc_small;
    err->alloc_large = mem->alloc_large;
    err->alloc_sarray = mem->alloc_sarray;
    err->alloc_barray = mem->alloc_barray;
    err->realize_virt_arrays = mem->realize_virt_arrays;
    mem->alloc_small = pn_jpeg_alloc_small;
    mem->alloc_large = pn_jpeg_alloc_large;
    mem->alloc_sarray = pn_jpeg_alloc_sarray;
    mem->alloc_barray = pn_jpeg_alloc_barray;
    mem->realize_virt_arrays = pn_jpeg_realize_virt_arrays;
}

static void pn_jpeg_output_message(j_common_ptr cinfo) { (void)cinfo; /* the library never prints */ }

static int pn_jpeg_warning_is_fatal(int code)
{
    switch (code) {
    case JWRN_JPEG_EOF:          /* Premature end of JPEG file */
    case JWRN_HIT_MARKER:        /* premature end of data segment */
    case JWRN_HUFF_BAD_CODE:     /* bad Huffman code */
    case JWRN_ARITH_BAD_CODE:    /* bad arithmetic code */
    case JWRN_MUST_RESYNC:       /* marker found where data expected */
    case JWRN_NOT_SEQUENTIAL:    /* invalid SOS parameters */
    case JWRN_BOGUS_PROGRESSION: /* inconsistent progression sequence */
    case JWRN_EXTRANEOUS_DATA: /* junk bytes inside the entropy-coded data */ return 1;
    default: return 0;
    }
}

static void pn_jpeg_emit_message(j_common_ptr cinfo, int msg_level)
{
    struct pn_jpeg_err *err = (struct pn_jpeg_err *)cinfo->err;
    if (msg_level >= 0)
        return; /* trace messages: ignore */
    err->pub.num_warnings++;
    if (pn_jpeg_warning_is_fatal(err->pub.msg_code)) {
        err->fail = PN_JPEG_FAIL_LIBJPEG;
        err->code = err->pub.msg_code;
        err->pub.format_message(cinfo, err->message);
        longjmp(err->jump, 1);
    }
}

struct pn_jpeg_progress {
    struct jpeg_progress_mgr pub;
    struct pn_jpeg_err *err;
    int64_t deadline;
    uint32_t max_scans;
    const uint8_t *data; /* the whole file (jpeg_mem_src) */
    int scan;            /* input scan whose data starts at scan_start */
    size_t scan_start;
};

/* Has the arithmetic-coded data of the current scan ended at a marker (other
 * than RSTn) while much of the scan is still to decode? libjpeg then decodes
 * zeros without a warning. A complete stream may legitimately end early the
 * same way (the encoder drops trailing zero bytes, so a flat tail costs no
 * bytes): the two cannot be told apart from the bits, so this only fails a
 * scan whose data stopped with at least a quarter of its iMCU rows left and
 * whose data so far (at least 64 bytes) says those rows would need 256 bytes
 * or more. */
static int pn_jpeg_arith_ended_early(j_decompress_ptr d, struct pn_jpeg_progress *prog)
{
    size_t pos = (size_t)(d->src->next_input_byte - prog->data);
    size_t used, left;
    if (d->input_scan_number != prog->scan) {
        prog->scan = d->input_scan_number;
        prog->scan_start = pos;
    }
    if (d->unread_marker == 0 || (d->unread_marker >= JPEG_RST0 && d->unread_marker <= JPEG_RST0 + 7) ||
        d->input_iMCU_row == 0 || d->input_iMCU_row >= d->total_iMCU_rows)
        return 0;
    left = (size_t)(d->total_iMCU_rows - d->input_iMCU_row);
    used = pos > prog->scan_start ? pos - prog->scan_start : 0;
    return left * 4 >= d->total_iMCU_rows && used >= 64 && used * left / d->input_iMCU_row >= 256;
}

static void pn_jpeg_progress_monitor(j_common_ptr cinfo)
{
    struct pn_jpeg_progress *prog = (struct pn_jpeg_progress *)cinfo->progress;
    j_decompress_ptr d = (j_decompress_ptr)cinfo;
    int fail = PN_JPEG_FAIL_NONE;
    if (!cinfo->is_decompressor)
        return;
    if (d->input_scan_number > 0 && (uint32_t)d->input_scan_number > prog->max_scans)
        fail = PN_JPEG_FAIL_SCANS;
    else if (pn_decode_deadline_passed(prog->deadline))
        fail = PN_JPEG_FAIL_DEADLINE;
    else if (d->arith_code && pn_jpeg_arith_ended_early(d, prog))
        fail = PN_JPEG_FAIL_ARITH_EOD;
    if (fail != PN_JPEG_FAIL_NONE) {
        prog->err->fail = fail;
        longjmp(prog->err->jump, 1);
    }
}

/* Pillow: unpack "CMYK;I" (c = 255 - stored) then cmyk2rgb then rgb2l. */
static void pn_cmyk_inverted_to_gray(const uint8_t *in, size_t n, uint8_t *out)
{
    for (size_t i = 0; i < n; i++, in += 4) {
        int nk = in[3]; /* 255 - K with K = 255 - stored */
        int rgb[3];
        for (int c = 0; c < 3; c++) {
            int ink = 255 - in[c];
            int tmp = ink * nk + 128;
            int v = nk - (((tmp >> 8) + tmp) >> 8); /* nk - MULDIV255(ink, nk) */
            rgb[c] = v < 0 ? 0 : v > 255 ? 255 : v;
        }
        out[i] = pn_luma((unsigned)rgb[0], (unsigned)rgb[1], (unsigned)rgb[2]);
    }
}

static pneumo_status pn_jpeg_failure(const struct pn_jpeg_err *err, const char *label,
                                     const pneumo_decode_limits *lim)
{
    if (err->fail == PN_JPEG_FAIL_SCANS)
        return pn_error(PNEUMO_ERR_LIMIT, "%s: JPEG has more than the limit of %u scans", label,
                        (unsigned)lim->max_scans);
    if (err->fail == PN_JPEG_FAIL_DEADLINE)
        return pn_error(PNEUMO_ERR_LIMIT, "%s: JPEG decoding took longer than the %u ms deadline", label,
                        (unsigned)lim->deadline_ms);
    if (err->fail == PN_JPEG_FAIL_ARITH_EOD)
        return pn_error(PNEUMO_ERR_FORMAT,
                        "%s: truncated JPEG: arithmetic-coded data ends before the scan does", label);
    switch (err->code) {
    case JERR_NO_BACKING_STORE:
        return pn_error(PNEUMO_ERR_LIMIT, "%s: JPEG decoder would need more than its bound of %ld bytes",
                        label, err->max_memory);
    case JERR_IMAGE_TOO_BIG: return pn_error(PNEUMO_ERR_LIMIT, "%s: JPEG too large: %s", label, err->message);
    case JERR_OUT_OF_MEMORY:
        return pn_error(PNEUMO_ERR_NOMEM, "%s: JPEG decoder out of memory: %s", label, err->message);
    case JWRN_JPEG_EOF:
    case JERR_INPUT_EMPTY:
    case JERR_INPUT_EOF: return pn_error(PNEUMO_ERR_FORMAT, "%s: truncated JPEG: %s", label, err->message);
    default: return pn_error(PNEUMO_ERR_FORMAT, "%s: corrupt JPEG: %s", label, err->message);
    }
}

/* What libjpeg may hold for an image of the header's size: 2 bytes per
 * coefficient of every component, each padded to whole iMCUs (sampling
 * factors up to 4: 32 samples), plus row buffers of up to 128 rows of every
 * component and 2 MiB of tables. */
static long pn_jpeg_memory_bound(const struct jpeg_decompress_struct *c)
{
    const double w = (double)c->image_width + 32.0, h = (double)c->image_height + 32.0;
    const double comps = (double)c->num_components;
    const double bound = 2.0 * comps * w * h + 128.0 * comps * w + 2.0 * 1024 * 1024;
    return bound < (double)LONG_MAX ? (long)bound : LONG_MAX;
}

pneumo_status pn_decode_jpeg(const uint8_t *data, size_t size, const char *label,
                             const pneumo_decode_limits *lim, pneumo_image **out)
{
    struct jpeg_decompress_struct cinfo;
    struct pn_jpeg_err err;
    struct pn_jpeg_progress prog;
    pneumo_image *volatile img = NULL;
    uint8_t *volatile row = NULL;
    pneumo_image *tmp_img = NULL;
    pneumo_status st;
    int comps;
    size_t width;

    *out = NULL;
    if (size > ULONG_MAX)
        return pn_error(PNEUMO_ERR_LIMIT, "%s: JPEG data too large", label);

    memset(&cinfo, 0, sizeof cinfo);
    memset(&err, 0, sizeof err);
    memset(&prog, 0, sizeof prog);
    cinfo.err = jpeg_std_error(&err.pub);
    err.pub.error_exit = pn_jpeg_error_exit;
    err.pub.output_message = pn_jpeg_output_message;
    err.pub.emit_message = pn_jpeg_emit_message;
    prog.pub.progress_monitor = pn_jpeg_progress_monitor;
    prog.err = &err;
    prog.deadline = pn_decode_deadline(lim);
    prog.max_scans = lim->max_scans;
    prog.data = data;

    if (setjmp(err.jump)) {
        st = pn_jpeg_failure(&err, label, lim);
        jpeg_destroy_decompress(&cinfo);
        free(row);
        pneumo_image_destroy(img);
        return st;
    }

    jpeg_create_decompress(&cinfo);
    pn_jpeg_route_memory((j_common_ptr)&cinfo, &err);
    cinfo.progress = &prog.pub;
    jpeg_mem_src(&cinfo, data, (unsigned long)size);
    jpeg_read_header(&cinfo, TRUE);

    st = pn_image_check_limits(lim, label, cinfo.image_width, cinfo.image_height);
    if (st != PNEUMO_OK) {
        jpeg_destroy_decompress(&cinfo);
        return st;
    }
    switch (cinfo.num_components) {
    case 1: cinfo.out_color_space = JCS_GRAYSCALE; break;
    case 3: cinfo.out_color_space = JCS_RGB; break;
    case 4: cinfo.out_color_space = JCS_CMYK; break;
    default:
        jpeg_destroy_decompress(&cinfo);
        return pn_error(PNEUMO_ERR_UNSUPPORTED, "%s: JPEG with %d colour components is not supported", label,
                        cinfo.num_components);
    }
    err.max_memory = pn_jpeg_memory_bound(&cinfo);
    cinfo.mem->max_memory_to_use = err.max_memory;
    cinfo.dct_method = JDCT_ISLOW;
    cinfo.do_fancy_upsampling = TRUE;
    cinfo.scale_num = 1;
    cinfo.scale_denom = 1;

    jpeg_start_decompress(&cinfo);
    comps = cinfo.output_components;
    width = cinfo.output_width;
    if (cinfo.output_width != cinfo.image_width || cinfo.output_height != cinfo.image_height ||
        (comps != 1 && comps != 3 && comps != 4)) {
        jpeg_destroy_decompress(&cinfo);
        return pn_error(PNEUMO_ERR_FORMAT, "%s: unexpected JPEG decoder output %ux%ux%d", label,
                        (unsigned)cinfo.output_width, (unsigned)cinfo.output_height, comps);
    }
    row = pn_malloc(width * (size_t)comps);
    if (!row) {
        jpeg_destroy_decompress(&cinfo);
        return pn_error_nomem(label, width * (size_t)comps);
    }
    st = pn_image_alloc((int32_t)cinfo.output_width, (int32_t)cinfo.output_height, label, &tmp_img);
    if (st != PNEUMO_OK) {
        jpeg_destroy_decompress(&cinfo);
        free(row);
        return st;
    }
    img = tmp_img;

    while (cinfo.output_scanline < cinfo.output_height) {
        JSAMPROW rows[1];
        uint8_t *dst = img->pixels + (size_t)cinfo.output_scanline * width;
        rows[0] = comps == 1 ? dst : row;
        if (jpeg_read_scanlines(&cinfo, rows, 1) != 1) {
            /* only with a suspending source, which jpeg_mem_src is not */
            jpeg_destroy_decompress(&cinfo);
            free(row);
            pneumo_image_destroy(img);
            return pn_error(PNEUMO_ERR_FORMAT, "%s: truncated JPEG", label);
        }
        if (comps == 3)
            pn_gray_from_samples(row, 3, width, dst);
        else if (comps == 4)
            pn_cmyk_inverted_to_gray(row, width, dst);
    }
    jpeg_finish_decompress(&cinfo);
    jpeg_destroy_decompress(&cinfo);
    free(row);
    *out = img;
    return PNEUMO_OK;
}
