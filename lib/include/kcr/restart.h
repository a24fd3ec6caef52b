// Restarting: the calling process becomes the one in the image.
#pragma once

#include <kcr/export.h>

#include <functional>
#include <string>

#include <kcr/image.h>
#include <kcr/status.h>

namespace kcr {

struct RestartOptions {
  bool rollback_files = false;  // truncate grown output files to their checkpoint size
  bool skip_verify = false;     // skip re-reading page checksums
  // Fill the writable anonymous memory on every core before the point of no
  // return (prefill.h); false leaves all of it to the module (diagnosis).
  bool prefill = true;
  std::function<void(uint64_t done, uint64_t total)> verify_progress;
  std::function<void()> verify_done;  // called once verification is over
  // Called as each phase ends, with its wall-clock duration (for --timings).
  std::function<void(const char* phase, double ms)> phase_done;
};

// The cheap checks that need no pass over the memory: kernel build, the
// files the program had open, and the kernel's own validation of the image
// (a dry run). Restart() runs these first, then verifies every checksum
// while it fills memory (prefill.h).
KCR_EXPORT Status CheckRestartable(const Image& image, const RestartOptions& options);

// Does not return on success.
KCR_EXPORT Status Restart(const std::string& path, const RestartOptions& options);

}  // namespace kcr
