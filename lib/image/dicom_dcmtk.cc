// DCMTK shim for DICOM input: parses a dataset that dicom.c has
// already walked and bounded, checks that it is one single-frame image,
// decompresses it with DCMTK's decoders and hands the samples (inside the
// dataset, kept alive) and the rendering attributes over in a pn_dicom_frame.
// C interface only (dicom.h); every DCMTK call runs inside a try block, so no
// exception leaves this file.
// Only the attributes listed in pn_dicom_frame are read: nothing that
// identifies a patient.
#include "image/dicom.h"

extern "C" {
#include "core/error.h"
#include "image/image_internal.h"
}

#include <dcmtk/config/osconfig.h>
#include <dcmtk/dcmdata/dcdatset.h>
#include <dcmtk/dcmdata/dcdeftag.h>
#include <dcmtk/dcmdata/dcdict.h>
#include <dcmtk/dcmdata/dcelem.h>
#include <dcmtk/dcmdata/dcistrmb.h>
#include <dcmtk/dcmdata/dcrledrg.h>
#include <dcmtk/dcmdata/dcuid.h>
#include <dcmtk/dcmdata/dcxfer.h>
#include <dcmtk/dcmjpeg/djdecode.h>
#include <dcmtk/dcmjpls/djdecode.h>
#include <dcmtk/oflog/oflog.h>

#include <cstring>
#include <memory>
#include <new>

namespace {

// Transfer syntaxes whose decoders Debian's DCMTK 3.6.7 has and the tests
// exercise; dicom.c inflates deflate itself and hands over explicit VR LE.
const char *const supported_ts[] = {
    UID_LittleEndianImplicitTransferSyntax, UID_LittleEndianExplicitTransferSyntax,
    UID_BigEndianExplicitTransferSyntax,    UID_DeflatedExplicitVRLittleEndianTransferSyntax,
    UID_JPEGProcess1TransferSyntax,         UID_JPEGProcess2_4TransferSyntax,
    UID_JPEGProcess14TransferSyntax,        UID_JPEGProcess14SV1TransferSyntax,
    UID_JPEGLSLosslessTransferSyntax,       UID_JPEGLSLossyTransferSyntax,
    UID_RLELosslessTransferSyntax,
};

// Runs once (C++11 guarantees a thread-safe static initialisation): DCMTK
// logs warnings to stderr by default and the library never prints, and the
// decoders must be registered before any chooseRepresentation().
bool dcmtk_init()
{
    OFLog::getLogger("dcmtk").setLogLevel(OFLogger::OFF_LOG_LEVEL);
    DJDecoderRegistration::registerCodecs();
    DJLSDecoderRegistration::registerCodecs();
    DcmRLEDecoderRegistration::registerCodecs();
    return true;
}

const char *sop_name(const OFString &uid) { return dcmFindNameOfUID(uid.c_str(), "unknown SOP class"); }

pneumo_status read_frame(const uint8_t *data, size_t size, const char *ts_uid, const char *label,
                         const pneumo_decode_limits *lim, pn_dicom_frame *f)
{
    static const bool ready = dcmtk_init();
    (void)ready;
    if (!dcmDataDict.isDictionaryLoaded())
        return pn_error(PNEUMO_ERR_UNSUPPORTED,
                        "%s: DCMTK's data dictionary is not loaded (dicom.dic of the libdcmtk "
                        "package, or DCMDICTPATH)",
                        label);
    E_TransferSyntax xfer = DcmXfer(ts_uid).getXfer();

    // The dataset outlives this call: the frame points into its pixel data
    // and VOI LUT (pn_dicom_frame_free deletes it), which saves a copy.
    std::unique_ptr<DcmDataset> owner(new DcmDataset);
    DcmDataset &ds = *owner;
    DcmInputBufferStream in;
    in.setBuffer(data, static_cast<offile_off_t>(size));
    in.setEos();
    ds.transferInit();
    OFCondition cond = ds.read(in, xfer, EGL_noChange, DCM_MaxReadLength);
    ds.transferEnd();
    if (cond.bad())
        return pn_error(PNEUMO_ERR_FORMAT, "%s: DICOM dataset cannot be parsed: %s", label, cond.text());

    OFString sop;
    ds.findAndGetOFString(DCM_SOPClassUID, sop);
    DcmElement *pixel_data = nullptr;
    if (ds.findAndGetElement(DCM_PixelData, pixel_data).bad() || !pixel_data)
        return pn_error(PNEUMO_ERR_UNSUPPORTED,
                        "%s: DICOM object of SOP class %s (%s) has no pixel data, not an image", label,
                        sop.c_str(), sop_name(sop));
    Sint32 frames = 1;
    if (ds.findAndGetSint32(DCM_NumberOfFrames, frames).good() && frames != 1)
        return pn_error(PNEUMO_ERR_UNSUPPORTED,
                        "%s: DICOM multi-frame object (%ld frames, SOP class %s, %s): only "
                        "single-frame images are read",
                        label, static_cast<long>(frames), sop.c_str(), sop_name(sop));

    Uint16 rows = 0, cols = 0, spp = 1, ba = 0, bs = 0, hb = 0, pr = 0, pc = 0;
    if (ds.findAndGetUint16(DCM_Rows, rows).bad() || ds.findAndGetUint16(DCM_Columns, cols).bad() ||
        ds.findAndGetUint16(DCM_BitsAllocated, ba).bad())
        return pn_error(PNEUMO_ERR_FORMAT, "%s: DICOM image without Rows, Columns or Bits Allocated", label);
    ds.findAndGetUint16(DCM_SamplesPerPixel, spp);
    if (ds.findAndGetUint16(DCM_BitsStored, bs).bad())
        bs = ba;
    if (ds.findAndGetUint16(DCM_HighBit, hb).bad())
        hb = static_cast<Uint16>(bs - 1);
    ds.findAndGetUint16(DCM_PixelRepresentation, pr);
    pneumo_status st = pn_image_check_limits(lim, label, cols, rows);
    if (st != PNEUMO_OK)
        return st;
    if (ds.tagExists(DCM_ModalityLUTSequence))
        return pn_error(PNEUMO_ERR_UNSUPPORTED,
                        "%s: DICOM Modality LUT Sequence is not supported (only rescale slope "
                        "and intercept)",
                        label);
    OFString photometric;
    ds.findAndGetOFString(DCM_PhotometricInterpretation, photometric);
    bool mono = photometric == "MONOCHROME1" || photometric == "MONOCHROME2";
    bool colour = photometric == "RGB" || photometric == "YBR_FULL" || photometric == "YBR_FULL_422";
    if (!((mono && spp == 1 && (ba == 8 || ba == 16)) || (colour && spp == 3 && ba == 8)))
        return pn_error(PNEUMO_ERR_UNSUPPORTED,
                        "%s: DICOM %s image with %u samples of %u bits allocated is not "
                        "supported (MONOCHROME1/2 with 8 or 16 bits, RGB/YBR_FULL/YBR_FULL_422 "
                        "with 8)",
                        label, photometric.empty() ? "(no photometric)" : photometric.c_str(), spp, ba);
    if (bs < 1 || bs > ba || hb >= ba || hb + 1 < bs)
        return pn_error(PNEUMO_ERR_FORMAT,
                        "%s: DICOM Bits Stored %u / High Bit %u do not fit Bits Allocated %u", label, bs, hb,
                        ba);

    if (DcmXfer(xfer).isEncapsulated()) {
        cond = ds.chooseRepresentation(EXS_LittleEndianExplicit, nullptr);
        if (cond.bad() || !ds.canWriteXfer(EXS_LittleEndianExplicit))
            return pn_error(PNEUMO_ERR_FORMAT, "%s: DICOM %s pixel data cannot be decoded: %s", label,
                            DcmXfer(xfer).getXferName(), cond.bad() ? cond.text() : "no decoder accepted it");
        // The JPEG decoder converts YBR to RGB and may change the planar
        // configuration: render what it produced.
        photometric.clear();
        ds.findAndGetOFString(DCM_PhotometricInterpretation, photometric);
        if (ds.findAndGetElement(DCM_PixelData, pixel_data).bad() || !pixel_data)
            return pn_error(PNEUMO_ERR_FORMAT, "%s: DICOM pixel data lost in decoding", label);
    }
    ds.findAndGetUint16(DCM_PlanarConfiguration, pc);

    size_t pixels = static_cast<size_t>(rows) * cols;
    size_t need = photometric == "YBR_FULL_422" ? pixels * 2 : pixels * spp * (ba / 8);
    const void *src = nullptr;
    if (ba == 8) {
        Uint8 *p = nullptr;
        cond = pixel_data->getUint8Array(p);
        src = p;
    } else {
        Uint16 *p = nullptr;
        cond = pixel_data->getUint16Array(p);
        src = p;
    }
    size_t have = pixel_data->getLength();
    if (cond.bad() || !src || have < need)
        return pn_error(PNEUMO_ERR_FORMAT,
                        "%s: DICOM pixel data is %zu bytes, %ux%u pixels with %u samples of %u "
                        "bits need %zu",
                        label, cond.bad() || !src ? static_cast<size_t>(0) : have, cols, rows, spp, ba, need);

    f->rows = rows;
    f->columns = cols;
    f->samples = spp;
    f->bits_allocated = ba;
    f->bits_stored = bs;
    f->high_bit = hb;
    f->signed_samples = pr == 1;
    f->planar = pc;
    std::strncpy(f->photometric, photometric.c_str(), sizeof f->photometric - 1);
    f->slope = 1.0;
    f->intercept = 0.0;
    Float64 v;
    if (ds.findAndGetFloat64(DCM_RescaleSlope, v).good() && v != 0.0)
        f->slope = v;
    if (ds.findAndGetFloat64(DCM_RescaleIntercept, v).good())
        f->intercept = v;
    Float64 wc, ww;
    if (ds.findAndGetFloat64(DCM_WindowCenter, wc, 0).good() &&
        ds.findAndGetFloat64(DCM_WindowWidth, ww, 0).good()) {
        f->has_window = 1;
        f->center = wc;
        f->width = ww;
        OFString fn;
        if (ds.findAndGetOFString(DCM_VOILUTFunction, fn).good())
            std::strncpy(f->voi_function, fn.c_str(), sizeof f->voi_function - 1);
    }
    DcmItem *voi = nullptr;
    if (mono && ds.findAndGetSequenceItem(DCM_VOILUTSequence, voi, 0).good() && voi) {
        DcmElement *desc = nullptr;
        Uint16 d0 = 0, d1 = 0, d2 = 0;
        const Uint16 *lut = nullptr;
        unsigned long count = 0;
        if (voi->findAndGetElement(DCM_LUTDescriptor, desc).bad() || !desc || desc->getUint16(d0, 0).bad() ||
            desc->getUint16(d1, 1).bad() || desc->getUint16(d2, 2).bad() ||
            voi->findAndGetUint16Array(DCM_LUTData, lut, &count).bad() || !lut)
            return pn_error(PNEUMO_ERR_FORMAT,
                            "%s: DICOM VOI LUT without a readable LUT Descriptor and LUT Data", label);
        uint32_t entries = d0 == 0 ? 65536u : d0;
        if (d2 < 8 || d2 > 16 || count < entries)
            return pn_error(PNEUMO_ERR_FORMAT, "%s: DICOM VOI LUT of %u entries of %u bits has %lu values",
                            label, entries, d2, count);
        f->lut = lut;
        f->lut_entries = entries;
        // First value mapped: SS when the pixel data is signed (PS3.3 C.11.2.1.1).
        f->lut_first = (pr == 1 || desc->getVR() == EVR_SS) ? static_cast<Sint16>(d1) : d1;
        f->lut_bits = d2;
    }
    f->pixels = static_cast<const uint8_t *>(src);
    f->pixel_bytes = need;
    f->owner = owner.release();
    return PNEUMO_OK;
}

} // namespace

extern "C" pneumo_status pn_dcmtk_check_ts(const char *ts_uid, const char *label)
{
    try {
        for (const char *uid : supported_ts)
            if (std::strcmp(uid, ts_uid) == 0)
                return PNEUMO_OK;
        return pn_error(PNEUMO_ERR_UNSUPPORTED, "%s: DICOM transfer syntax %s (%s) is not supported", label,
                        ts_uid, DcmXfer(ts_uid).getXferName());
    } catch (...) {
        return pn_error(PNEUMO_ERR_UNSUPPORTED, "%s: DICOM transfer syntax %s is not supported", label,
                        ts_uid);
    }
}

extern "C" pneumo_status pn_dcmtk_read_frame(const uint8_t *data, size_t size, const char *ts_uid,
                                             const char *label, const pneumo_decode_limits *lim,
                                             pn_dicom_frame *frame)
{
    std::memset(frame, 0, sizeof *frame);
    pneumo_status st;
    try {
        st = read_frame(data, size, ts_uid, label, lim, frame);
    } catch (const std::bad_alloc &) {
        st = pn_error(PNEUMO_ERR_NOMEM, "%s: out of memory while DCMTK decoded the DICOM file", label);
    } catch (...) {
        st = pn_error(PNEUMO_ERR_FORMAT, "%s: DCMTK failed on the DICOM file", label);
    }
    if (st != PNEUMO_OK)
        pn_dicom_frame_free(frame);
    return st;
}

extern "C" void pn_dicom_frame_free(pn_dicom_frame *frame)
{
    delete static_cast<DcmDataset *>(frame->owner);
    std::memset(frame, 0, sizeof *frame);
}
