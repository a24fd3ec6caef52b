#include "progress.h"

#include <fmt/format.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>

#include <kcr/util/units.h>

namespace kcr::cli {

ProgressBar::ProgressBar(std::string label, uint64_t total_bytes)
    : label_(std::move(label)),
      enabled_(total_bytes >= kThresholdBytes && ::isatty(STDERR_FILENO)) {}

ProgressBar::~ProgressBar() {
  Finish();
}

void ProgressBar::Finish() {
  if (drawn_)
    std::fputs("\n", stderr);
  drawn_ = false;
  enabled_ = false;
}

void ProgressBar::Update(uint64_t done, uint64_t total) {
  if (!enabled_ || total == 0)
    return;
  constexpr int kWidth = 30;
  double frac = std::min(1.0, static_cast<double>(done) / static_cast<double>(total));
  int percent = static_cast<int>(frac * 100);
  if (percent == last_percent_)
    return;  // a terminal line per percent is plenty
  last_percent_ = percent;
  int filled = static_cast<int>(frac * kWidth);
  std::string bar(static_cast<size_t>(filled), '#');
  bar.resize(kWidth, '.');
  std::fprintf(stderr, "\r%s [%s] %3d%% %s / %s", label_.c_str(), bar.c_str(), percent,
               util::HumanBytes(done).c_str(), util::HumanBytes(total).c_str());
  std::fflush(stderr);
  drawn_ = true;
}

}  // namespace kcr::cli
