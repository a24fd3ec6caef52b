// Reading a kcr image's header and re-checking every checksum in it, for
// `kcr catalog verify` and `kcr catalog rebuild`. Stands alone (uapi header
// and libxxhash only) so the catalog tools do not wait on libkcr's reader.
// Layout: kmod/uapi/kcr_uapi.h.
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

  bool ok() const { return header_ok && problem.empty(); }
};

// The 512-byte header and the file size only: cheap, for scanning directories.
ImageCheck read_image_header(const std::string& path);

// The header, then every section: each metadata payload's xxh64, each page
// chunk's xxh64 (seeded with its address), and an END section that ends
// exactly at the end of the file.
ImageCheck verify_image(const std::string& path);

// header.release / header.comm as strings (they need not be NUL-terminated).
std::string header_release(const kcr_image_header& h);
std::string header_comm(const kcr_image_header& h);

}  // namespace kcr::cli
