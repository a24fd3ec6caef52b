#include "catalog_record.h"

#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <optional>
#include <sstream>

#include <fmt/format.h>
#include <kcr/util/host.h>

namespace kcr::cli {

namespace {

void warn(std::string_view /*doing*/, std::string_view error) {
  fmt::print(stderr,
             "kcr: warning: not recorded in the catalog: {} (use --no-catalog to skip the "
             "catalog)\n",
             error);
}

// The real uid of a process, from /proc (the owner of its image).
std::optional<uid_t> process_uid(pid_t pid) {
  std::ifstream status(fmt::format("/proc/{}/status", pid));
  std::string line;
  while (std::getline(status, line)) {
    if (line.rfind("Uid:", 0) == 0) {
      std::istringstream fields(line.substr(4));
      uid_t uid = 0;
      if (fields >> uid) {
        return uid;
      }
    }
  }
  return std::nullopt;
}

std::string absolute(const std::string& path) {
  return std::filesystem::absolute(path).lexically_normal().string();
}

std::shared_ptr<catalog::Catalog> open_catalog(const std::string& path) {
  return std::make_shared<catalog::Catalog>(catalog::Catalog::open(path));
}

}  // namespace

catalog::CheckpointRecord record_manual_checkpoint(const std::string& catalog_path,
                                                   const ManualCheckpoint& what) {
  catalog::CheckpointInfo info;
  info.job_id = catalog::kManualJob;
  info.node = util::NodeName();
  info.pid = what.pid;
  info.uid = process_uid(what.pid).value_or(::getuid());
  info.user = util::UserName(info.uid);
  info.image_path = absolute(what.image_path);
  info.trigger = catalog::Trigger::kManual;
  info.kernel_release = util::KernelRelease();
  std::shared_ptr<catalog::Catalog> catalog;
  try {
    catalog = open_catalog(catalog_path);
  } catch (const std::exception& e) {
    warn("opening the catalog", e.what());
  }
  return catalog::CheckpointRecord::begin(std::move(catalog), info, warn);
}

catalog::RestoreRecord record_restore(const std::string& catalog_path,
                                      const std::string& image_path) {
  return catalog::RestoreRecord::start([catalog_path] { return open_catalog(catalog_path); },
                                       {std::nullopt, absolute(image_path), util::NodeName(),
                                        static_cast<std::uint32_t>(::getuid())},
                                       warn);
}

}  // namespace kcr::cli
