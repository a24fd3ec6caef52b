// Prefill: the memory half of a restart done before the point of no return,
// on every core.
//
// The restorer maps each writable private anonymous mapping of the image at
// the image's address (only where it has nothing mapped itself), copies the
// mapping's pages into place and checks each chunk's checksum where it
// landed; chunks it cannot place are checked from the image file. The module
// keeps the filled mappings instead of filling them itself, one core at a
// time, after the point of no return. Until Release(), destruction unmaps
// them, so a restart refused later leaves the caller as it was.
//
// While it lives, transparent huge pages are off for the caller
// (PR_SET_THP_DISABLE): with init_on_alloc, Debian's default, a huge page is
// cleared once when allocated and again when faulted in, so filling small
// pages costs half as much. The module sets the image's own setting; a
// refused restart gets the caller's back.
#pragma once

#include <kcr_uapi.h>

#include <memory>
#include <vector>

#include <kcr/image.h>
#include <kcr/status.h>

namespace kcr {

class Prefill {
 public:
  struct Options {
    bool verify = true;  // check every chunk's checksum
    bool fill = true;    // false: only verify, the module fills all memory
    Image::Progress progress;
  };

  // Fails, with nothing left mapped, when a checksum does not hold.
  static Status Run(const Image& image, const Options& options, std::unique_ptr<Prefill>* out);
  ~Prefill();
  Prefill(const Prefill&) = delete;
  Prefill& operator=(const Prefill&) = delete;

  // The mappings filled, for kcr_restore_args.prefilled.
  const std::vector<kcr_range>& ranges() const { return ranges_; }
  uint64_t filled_bytes() const { return filled_bytes_; }
  // The restore owns the mappings now; do not unmap them.
  void Release() {
    ranges_.clear();
    caller_thp_disabled_ = -1;
  }

 private:
  Prefill() = default;
  // Maps what it can; a mapping it cannot place is left to the module.
  void MapEligible(const Image& image);
  Status FillAndVerify(const Image& image, const Options& options);

  std::vector<kcr_range> ranges_;
  uint64_t filled_bytes_ = 0;
  int caller_thp_disabled_ = -1;  // PR_GET_THP_DISABLE before the fill
};

}  // namespace kcr
