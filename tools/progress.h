// A one-line progress bar on stderr, shown only on a terminal and only for
// operations big enough to be worth watching.
#pragma once

#include <cstdint>
#include <string>

namespace kcr::cli {

class ProgressBar {
 public:
  static constexpr uint64_t kThresholdBytes = 256ULL << 20;

  ProgressBar(std::string label, uint64_t total_bytes);
  ~ProgressBar();
  ProgressBar(const ProgressBar&) = delete;
  ProgressBar& operator=(const ProgressBar&) = delete;

  void Update(uint64_t done, uint64_t total);
  // Ends the bar's line now (the destructor does it otherwise).
  void Finish();
  bool enabled() const { return enabled_; }

 private:
  std::string label_;
  bool enabled_;
  bool drawn_ = false;
  int last_percent_ = -1;
};

}  // namespace kcr::cli
