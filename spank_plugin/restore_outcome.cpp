#include "restore_outcome.h"

#include <fmt/format.h>
#include <sys/wait.h>

#include <utility>

namespace kcr::spank {

void RestoreWatch::Planned(std::string name) {
  restorer_name_ = std::move(name);
}

std::optional<RestoreVerdict> RestoreWatch::Tried() {
  std::optional<RestoreVerdict> earlier;
  if (open_) {
    earlier = RestoreVerdict{false, "the task tried another image without reporting on this one"};
  }
  open_ = true;
  return earlier;
}

std::optional<RestoreVerdict> RestoreWatch::FailureReported(std::string reason,
                                                            bool image_corrupt) {
  if (!open_)
    return std::nullopt;
  open_ = false;
  return RestoreVerdict{false, std::move(reason), image_corrupt};
}

std::optional<RestoreVerdict> RestoreWatch::NameSeen(std::string_view name) {
  if (!open_ || restorer_name_.empty() || name.empty() || name == restorer_name_)
    return std::nullopt;
  open_ = false;
  return RestoreVerdict{true, ""};
}

std::optional<RestoreVerdict> RestoreWatch::Restored(pid_t program) {
  if (!open_ || program <= 0)
    return std::nullopt;
  open_ = false;
  return RestoreVerdict{true, ""};
}

std::optional<RestoreVerdict> RestoreWatch::Exited(int wait_status) {
  if (!open_)
    return std::nullopt;
  open_ = false;
  if (WIFEXITED(wait_status) && WEXITSTATUS(wait_status) == kBrokenRestoreExit)
    return RestoreVerdict{false, "the restore failed after the task process had been changed"};
  if (WIFSIGNALED(wait_status)) {
    return RestoreVerdict{false, fmt::format("the task was killed by signal {} during the restore",
                                             WTERMSIG(wait_status))};
  }
  return RestoreVerdict{true, ""};
}

}  // namespace kcr::spank
