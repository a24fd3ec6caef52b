#include "catalog_record.h"

#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <optional>
#include <sstream>

#include <fmt/format.h>
#include <kcr/util/host.h>
#include <kcr/util/status_format.h>

namespace kcr::cli {

namespace {

void Warn(std::string_view /*doing*/, std::string_view error) {
  fmt::print(stderr,
             "kcr: warning: not recorded in the catalog: {} (use --no-catalog to skip the "
             "catalog)\n",
             error);
}

// The real uid of a process, from /proc (the owner of its image).
std::optional<uid_t> ProcessUid(pid_t pid) {
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

std::string Absolute(const std::string& path) {
  return std::filesystem::absolute(path).lexically_normal().string();
}

Status OpenCatalog(const std::string& path, std::shared_ptr<catalog::Catalog>* catalog) {
  std::unique_ptr<catalog::Catalog> opened;
  KCR_RETURN_IF_ERROR(catalog::Catalog::Open(path, {}, &opened));
  *catalog = std::move(opened);
  return Status::Ok();
}

}  // namespace

catalog::CheckpointRecord RecordManualCheckpoint(const std::string& catalog_path,
                                                 const ManualCheckpoint& what) {
  catalog::CheckpointInfo info;
  info.job_id = catalog::kManualJob;
  info.node = util::NodeName();
  info.pid = what.pid;
  info.uid = ProcessUid(what.pid).value_or(::getuid());
  info.user = util::UserName(info.uid);
  info.image_path = Absolute(what.image_path);
  info.trigger = catalog::Trigger::kManual;
  info.kernel_release = util::KernelRelease();
  std::shared_ptr<catalog::Catalog> catalog;
  if (Status st = OpenCatalog(catalog_path, &catalog); !st.ok()) {
    Warn("opening the catalog", st.message());
  }
  return catalog::CheckpointRecord::Begin(std::move(catalog), info, Warn);
}

catalog::RestoreRecord RecordRestore(const std::string& catalog_path,
                                     const std::string& image_path) {
  return catalog::RestoreRecord::Start(
      [catalog_path](std::shared_ptr<catalog::Catalog>* catalog) {
        return OpenCatalog(catalog_path, catalog);
      },
      {std::nullopt, Absolute(image_path), util::NodeName(),
       static_cast<std::uint32_t>(::getuid())},
      Warn);
}

}  // namespace kcr::cli
