// Logging for spank_kcr: every line starts "spank_kcr: job N: " so an admin
// can grep slurmd.log for one job. In slurmstepd the lines go to slurmd's log;
// in sbatch/srun they go to the user's terminal, so only errors are shown
// there at the default verbosity.
#pragma once

#include <fmt/format.h>

#include <cstdint>
#include <string>
#include <utility>

namespace kcr::spank {

enum class Level { kError, kInfo, kVerbose, kDebug };

// The job the process works for; 0 (unknown) leaves the job out of lines.
void SetLogJob(std::uint32_t job_id);
// Hands one finished line to Slurm's logger (or stderr outside Slurm).
void Log(Level level, const std::string& message);

template <typename... Args>
void Error(fmt::format_string<Args...> f, Args&&... args) {
  Log(Level::kError, fmt::format(f, std::forward<Args>(args)...));
}
template <typename... Args>
void Info(fmt::format_string<Args...> f, Args&&... args) {
  Log(Level::kInfo, fmt::format(f, std::forward<Args>(args)...));
}
template <typename... Args>
void Verbose(fmt::format_string<Args...> f, Args&&... args) {
  Log(Level::kVerbose, fmt::format(f, std::forward<Args>(args)...));
}
template <typename... Args>
void Debug(fmt::format_string<Args...> f, Args&&... args) {
  Log(Level::kDebug, fmt::format(f, std::forward<Args>(args)...));
}

}  // namespace kcr::spank
