// What `kcr catalog verify` and `kcr catalog rebuild` need to know of an
// image, in the catalog's terms, from libkcr's one image reader (image.h).
#pragma once

#include <kcr_uapi.h>

#include <cstdint>
#include <string>

namespace kcr::cli {

struct ImageCheck {
  bool is_image = false;      // the file starts with KCR_IMAGE_MAGIC
  bool header_ok = false;     // ... and its header's version, size and checksum hold
  kcr_image_header header{};  // meaningful when header_ok
  std::uint64_t file_bytes = 0;
  std::string problem;  // what is wrong, naming the offset; empty when all holds
  // Written by a newer kcr (format version, flags): not checkable here, but
  // not damaged either, so never to be marked CORRUPT.
  bool unsupported = false;

  bool ok() const { return header_ok && problem.empty(); }
};

// The 512-byte header and the file size only: cheap, for scanning directories.
ImageCheck read_image_header(const std::string& path);

// The whole image as a restart would read it: the header, every section's
// structure and checksum, and every page chunk's checksum (on all cores).
ImageCheck verify_image(const std::string& path);

// header.release / header.comm as strings (they need not be NUL-terminated).
std::string header_release(const kcr_image_header& h);
std::string header_comm(const kcr_image_header& h);

}  // namespace kcr::cli
