// Classifying an image file as whole, damaged or from a newer kcr: what
// `kcr catalog verify` and `rebuild` and the Slurm agent's verify-after-write
// need to know, in the catalog's terms, from the one image reader (image.h).
#pragma once

#include <kcr/export.h>

#include <kcr/kcr_uapi.h>

#include <cstdint>
#include <string>

namespace kcr {

enum class ImageVerdict {
  kOk,           // whole: a restart would accept it
  kCorrupt,      // damaged, truncated, or not an image at all
  kUnsupported,  // written by a newer kcr (format version, flags): not
                 // checkable here, but not damaged either, so never CORRUPT
};

struct ImageCheck {
  bool is_image = false;      // the file starts with KCR_IMAGE_MAGIC
  bool header_ok = false;     // ... and its header's version, size and checksum hold
  kcr_image_header header{};  // meaningful when header_ok
  std::uint64_t file_bytes = 0;
  std::string problem;  // what is wrong, naming the offset; empty when all holds
  bool unsupported = false;

  bool ok() const { return header_ok && problem.empty(); }
  ImageVerdict verdict() const {
    return ok()          ? ImageVerdict::kOk
           : unsupported ? ImageVerdict::kUnsupported
                         : ImageVerdict::kCorrupt;
  }
};

// The 512-byte header and the file size only: cheap, for scanning directories.
KCR_EXPORT ImageCheck ReadImageHeader(const std::string& path);

// The whole image as a restart would read it: the header, every section's
// structure and checksum, and every page chunk's checksum (on all cores).
KCR_EXPORT ImageCheck VerifyImage(const std::string& path);

// header.release / header.comm as strings (they need not be NUL-terminated).
KCR_EXPORT std::string HeaderRelease(const kcr_image_header& h);
KCR_EXPORT std::string HeaderComm(const kcr_image_header& h);

}  // namespace kcr
