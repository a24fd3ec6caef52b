#include <kcr/image_check.h>

#include <cerrno>
#include <cstring>
#include <memory>

#include <kcr/image.h>

namespace kcr {

ImageCheck ReadImageHeader(const std::string& path) {
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
  std::unique_ptr<Image> image;
  Status st = Image::Open(path, &image);
  if (st.ok())
    st = image->VerifyPages();
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
