// image_summary IMAGE: what a program outside kcr does with libkcr's C++ API.
// Built in CI against the installed headers and library only
// (examples/build-installed.sh), so the public API stays usable as shipped.
#include <kcr/image.h>
#include <kcr/status.h>

#include <cstdio>
#include <memory>

int main(int argc, char** argv) {
  if (argc != 2) {
    std::fprintf(stderr, "usage: image_summary IMAGE\n");
    return 64;
  }
  std::unique_ptr<kcr::Image> image;
  kcr::Status st = kcr::Image::Open(argv[1], &image);
  if (!st.ok()) {
    std::fprintf(stderr, "image_summary: %s\n", st.message().c_str());
    return 1;
  }
  st = image->VerifyPages();
  std::printf("%s: pid %d (%s), %zu mappings, %zu open files, %s\n", argv[1], image->header().pid,
              image->header().comm, image->vmas().size(), image->fds().size(),
              st.ok() ? "all checksums hold" : st.message().c_str());
  return st.ok() ? 0 : 1;
}
