#include <kcr/image_check.h>

#include <cerrno>
#include <cstring>
#include <memory>

#include <kcr/image.h>
#include <kcr/tree.h>
#include <kcr/util/image_files.h>

namespace kcr {

namespace {

// A tree image (a directory) is described by its root process's image, and
// its size is all its files'.
ImageCheck ReadTreeImageHeader(const std::string& path) {
  ImageCheck c;
  std::string root;
  Status st = TreeRootImage(path, &root);
  if (!st.ok()) {
    c.problem = st.message();
    c.unsupported = st.code() == -EPROTONOSUPPORT;
    return c;
  }
  c = ReadImageHeader(root);
  c.file_bytes = 0;
  util::ImageBytes(path, &c.file_bytes);
  return c;
}

}  // namespace

ImageCheck ReadImageHeader(const std::string& path) {
  if (IsTreeImage(path))
    return ReadTreeImageHeader(path);
  ImageCheck c;
  Image::HeaderCheck h = Image::ReadHeader(path, &c.header, &c.file_bytes);
  c.is_image = h.is_image;
  c.header_ok = h.header_ok;
  if (!h.status.ok())
    c.problem = h.status.message();
  c.unsupported = h.status.code() == -EPROTONOSUPPORT;
  return c;
}

ImageCheck VerifyImage(const std::string& path) {
  ImageCheck c = ReadImageHeader(path);
  if (!c.ok())
    return c;
  Status st;
  if (IsTreeImage(path)) {
    size_t processes = 0;
    st = VerifyTreeImage(path, &processes);
  } else {
    std::unique_ptr<Image> image;
    st = Image::Open(path, &image);
    if (st.ok())
      st = image->VerifyPages();
  }
  if (!st.ok())
    c.problem = st.message();
  c.unsupported = st.code() == -EPROTONOSUPPORT;
  return c;
}

std::string HeaderRelease(const kcr_image_header& h) {
  return std::string(h.release, strnlen(h.release, sizeof h.release));
}

std::string HeaderComm(const kcr_image_header& h) {
  return std::string(h.comm, strnlen(h.comm, sizeof h.comm));
}

}  // namespace kcr
