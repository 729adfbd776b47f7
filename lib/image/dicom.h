/* DICOM input, internal. dicom.c detects DICOM Part 10 files,
 * reads their file meta information, inflates deflated datasets and walks the
 * dataset once to bound its lengths and sequence nesting before DCMTK (through
 * the C++ shim dicom_dcmtk.cc, built with -Ddicom=enabled or a found "auto")
 * parses and decompresses it; the rendering to 8-bit gray is in dicom.c.
 * docs/dicom.md describes what is read, how it is rendered and what is refused. */
#ifndef PN_IO_DICOM_H
#define PN_IO_DICOM_H

#include "pneumo/image.h"

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Deepest sequence nesting accepted (real X-ray headers stay below 6). */
#define PN_DICOM_MAX_DEPTH 16

/* Most scans accepted in an encapsulated JPEG frame (a sequential JPEG has 1
 * to 4 scans, a progressive one about 10). */
#define PN_DICOM_MAX_JPEG_SCANS 100

/* Non-zero when `data` looks like a DICOM Part 10 file: "DICM" after the
 * 128-byte preamble, "DICM" at the start (preamble stripped), or the file meta
 * group (0002,xxxx) in explicit VR little endian at the start. */
int pn_dicom_sniff(const uint8_t *data, size_t size);

/* Decode a DICOM file (pn_dicom_sniff() said yes) to 8-bit gray. A build
 * without DICOM support returns UNSUPPORTED saying so. */
pneumo_status pn_decode_dicom(const uint8_t *data, size_t size, const char *label,
                              const pneumo_decode_limits *lim, pneumo_image **out);

/* What the shim hands to the renderer: one frame's decoded samples and the
 * attributes the rendering needs. Nothing patient-identifying is read. */
typedef struct pn_dicom_frame {
    uint32_t rows, columns;
    uint32_t samples;        /* 1 or 3 */
    uint32_t bits_allocated; /* 8 or 16 */
    uint32_t bits_stored;
    uint32_t high_bit;
    uint32_t signed_samples; /* Pixel Representation 1 */
    uint32_t planar;         /* Planar Configuration: 0 = RGBRGB..., 1 = RR..GG..BB.. */
    char photometric[20];    /* MONOCHROME1, MONOCHROME2, RGB, YBR_FULL, YBR_FULL_422 */
    double slope, intercept; /* 1, 0 when absent */
    int has_window;
    double center, width;  /* the first Window Center / Window Width */
    char voi_function[20]; /* VOI LUT Function, "" when absent (LINEAR) */
    uint32_t lut_entries;  /* first VOI LUT: 0 when absent */
    int32_t lut_first;     /* first mapped value */
    uint32_t lut_bits;     /* bits per LUT entry */
    const uint16_t *lut;   /* lut_entries values */
    const uint8_t *pixels; /* pixel_bytes bytes: 8-bit samples, or 16-bit
                              * samples in host byte order */
    size_t pixel_bytes;
    void *owner; /* DCMTK's dataset, which holds lut and pixels */
} pn_dicom_frame;

/* PNEUMO_OK when the transfer syntax `ts_uid` is one libpneumo reads,
 * else UNSUPPORTED naming the UID and DCMTK's name for it. */
pneumo_status pn_dcmtk_check_ts(const char *ts_uid, const char *label);

/* Parse the dataset `data` (size bytes, already inflated, already walked by
 * dicom.c) encoded with transfer syntax `ts_uid`, check it is a single-frame
 * image within `lim`, decompress it and fill *frame, whose pixels and LUT live
 * in DCMTK's dataset until pn_dicom_frame_free. Never throws; errors name
 * `label` (and leave *frame empty). */
pneumo_status pn_dcmtk_read_frame(const uint8_t *data, size_t size, const char *ts_uid, const char *label,
                                  const pneumo_decode_limits *lim, pn_dicom_frame *frame);

void pn_dicom_frame_free(pn_dicom_frame *frame);

#ifdef __cplusplus
}
#endif

#endif
