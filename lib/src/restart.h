// Restarting: the calling process becomes the one in the image.
#pragma once

#include <functional>
#include <string>

#include "image.h"
#include "status.h"

namespace kcr {

struct RestartOptions {
  bool rollback_files = false;  // truncate grown output files to their checkpoint size
  bool skip_verify = false;     // skip re-reading page checksums
  std::function<void(uint64_t done, uint64_t total)> verify_progress;
  std::function<void()> verify_done;  // called once verification is over
};

// Checks everything that can be checked without changing the caller: the
// image's checksums, the kernel's own validation (dry run), and the files
// the program had open. Restart() runs this first.
Status CheckRestartable(const Image& image, const RestartOptions& options);

// Does not return on success.
Status Restart(const std::string& path, const RestartOptions& options);

}  // namespace kcr
