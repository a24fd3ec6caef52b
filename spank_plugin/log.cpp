#include "log.h"

#include <atomic>
#include <cstdio>

extern "C" {
#include <slurm/spank.h>
}

namespace kcr::spank {

namespace {
std::atomic<std::uint32_t> g_job{0};
}  // namespace

void SetLogJob(std::uint32_t job_id) {
  g_job = job_id;
}

void Log(Level level, const std::string& message) {
  std::uint32_t job = g_job;
  std::string line = job ? fmt::format("spank_kcr: job {}: {}", job, message)
                         : fmt::format("spank_kcr: {}", message);
  // Slurm's loggers are printf-like: the text goes through "%s", never as the format.
  switch (level) {
    case Level::kError:
      slurm_error("%s", line.c_str());
      break;
    case Level::kInfo:
      slurm_info("%s", line.c_str());
      break;
    case Level::kVerbose:
      slurm_verbose("%s", line.c_str());
      break;
    case Level::kDebug:
      slurm_debug("%s", line.c_str());
      break;
  }
}

}  // namespace kcr::spank
