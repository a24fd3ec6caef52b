// Helpers shared by the catalog tests: a temporary directory that cleans up
// after itself, image files of a given size, and a typical checkpoint.
#pragma once

#include <fcntl.h>
#include <stdlib.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <string>

#include "kcr/catalog/catalog.h"
#include "kcr/util/clock.h"

namespace kcr::catalog::testing {

class TempDir {
 public:
  TempDir() {
    std::string tmpl = (std::filesystem::temp_directory_path() / "kcr-test-XXXXXX").string();
    if (::mkdtemp(tmpl.data()) == nullptr) {
      throw std::runtime_error("mkdtemp failed");
    }
    path_ = tmpl;
  }
  ~TempDir() {
    std::error_code ec;
    std::filesystem::remove_all(path_, ec);
  }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;

  const std::filesystem::path& path() const { return path_; }
  std::filesystem::path operator/(const std::string& name) const { return path_ / name; }

 private:
  std::filesystem::path path_;
};

// A file of `bytes` bytes standing in for an image.
inline void write_file(const std::filesystem::path& p, std::size_t bytes) {
  std::ofstream out(p, std::ios::binary | std::ios::trunc);
  std::string block(4096, 'k');
  for (std::size_t left = bytes; left > 0;) {
    std::size_t n = std::min(left, block.size());
    out.write(block.data(), static_cast<std::streamsize>(n));
    left -= n;
  }
}

using util::NowNs;

inline constexpr std::int64_t kHourNs = 3600LL * 1'000'000'000;

inline CheckpointInfo slurm_checkpoint(std::uint32_t job, std::uint32_t step, std::uint32_t task,
                                       const std::string& image_path) {
  CheckpointInfo info;
  info.job_id = job;
  info.step_id = step;
  info.task = task;
  info.node = "node01";
  info.pid = 4242;
  info.uid = 1000;
  info.user = "alice";
  info.partition = "batch";
  info.image_path = image_path;
  info.trigger = Trigger::kPeriodic;
  info.kernel_release = "6.1.0-test";
  return info;
}

}  // namespace kcr::catalog::testing
